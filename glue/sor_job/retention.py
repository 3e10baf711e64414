"""Retention: which day partitions the keep rules remove, and removing them safely."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sor_job.catalog_writes import catalog_tables
from sor_job.clients import JobClients
from sor_job.config import RETENTION_RULES, JobConfig, RetentionPolicy
from sor_job.errors import TableError
from sor_job.latest import latest_days
from sor_job.layout import MANAGED_BY, PARTITION_KEY
from sor_job.s3_reads import list_objects

log = logging.getLogger(__name__)


# BatchDeletePartition takes at most 25 partitions a request
# (https://docs.aws.amazon.com/glue/latest/webapi/API_BatchDeletePartition.html, PartitionsToDelete).
PARTITIONS_PER_DELETE = 25
_DAY_FOLDER = re.compile(rf"^{PARTITION_KEY}=(\d{{4}}-\d{{2}}-\d{{2}})/$")


def kept_dates(dates: Iterable[dt.date], policy: RetentionPolicy) -> set[dt.date]:
    """The dates the keep rules keep among `dates` (restic semantics; one partition per table and day)."""
    newest_first = sorted(set(dates), reverse=True)
    kept: set[dt.date] = set()
    for rule, bucket_of in RETENTION_RULES:
        count = getattr(policy, rule)
        buckets: list[object] = []
        for day in newest_first:
            if len(buckets) >= count:
                break
            bucket = bucket_of(day)
            if not buckets or buckets[-1] != bucket:  # newest first: the first date of a bucket is its newest
                buckets.append(bucket)
                kept.add(day)
    return kept


@dataclass(frozen=True)
class TableDays:
    """What one managed table holds: the dates of its catalog partitions and of its day folders in S3."""

    name: str
    partitions: frozenset[dt.date]
    folders: frozenset[dt.date] = frozenset()
    pinned: frozenset[dt.date] = frozenset()  # partitions this job does not own (another location): never removed
    latest: dt.date | None = None  # the day the table's latest table reads (latest.py): never removed


@dataclass(frozen=True, order=True)
class Removal:
    table: str
    day: dt.date
    in_catalog: bool  # False: an orphaned day folder, its partition removed by an earlier, interrupted run


def plan_retention(
    policy: RetentionPolicy, tables: Sequence[TableDays], eligible: Iterable[str], protected: dt.date
) -> list[Removal]:
    """What to remove, from what the managed tables hold (pure). `tables` is every managed table, so the shared
    calendar counts tables that are not `eligible` (a table failed tonight: it removes nothing, but its days
    still count); `protected` is the run's own ingestion date."""
    if not policy.enabled:
        return []
    calendar = kept_dates((day for table in tables for day in table.partitions), policy)
    allowed = set(eligible)
    removals = []
    for table in sorted(tables, key=lambda t: t.name):
        if table.name not in allowed:
            continue
        kept = calendar | kept_dates(table.partitions, policy) | table.pinned | {protected}
        if table.latest is not None:
            kept.add(table.latest)
        removals += [
            Removal(table.name, day, day in table.partitions) for day in (table.partitions | table.folders) - kept
        ]
    return sorted(removals)


class RemovalOutcome(Enum):
    REMOVED = "removed"
    WOULD_REMOVE = "would remove (dry run)"
    FAILED = "failed"


@dataclass
class RemovedDay:
    table: str
    ingestion_date: str
    catalog_partition: bool  # the day had a catalog partition (False: an orphaned day folder)
    objects: int
    outcome: RemovalOutcome
    error: str | None = None


@dataclass
class RetentionReport:
    policy: RetentionPolicy
    dry_run: bool
    tables: int = 0  # managed tables the rules were applied to
    days: list[RemovedDay] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None  # the pass stopped early (the next run picks up where it stopped)

    def count(self, outcome: RemovalOutcome) -> int:
        return sum(1 for d in self.days if d.outcome is outcome)

    def summary(self) -> dict[str, Any]:
        return {
            "enabled": self.policy.enabled,
            "dry_run": self.dry_run,
            "removed_days": self.count(RemovalOutcome.REMOVED),
            "removed_objects": sum(d.objects for d in self.days if d.outcome is RemovalOutcome.REMOVED),
            "would_remove_days": self.count(RemovalOutcome.WOULD_REMOVE),
            "failed_days": self.count(RemovalOutcome.FAILED) + (1 if self.error else 0),
        }

    def manifest(self) -> dict[str, Any]:
        return {
            **self.policy.as_dict(),
            **self.summary(),
            "tables": self.tables,
            "days": [dataclasses.asdict(d) | {"outcome": d.outcome.value} for d in self.days],
            "warnings": list(self.warnings),
            "error": self.error,
        }


def list_day_folders(s3: Any, bucket: str, prefix: str) -> tuple[set[dt.date], list[str]]:
    """The `ingestion_date=YYYY-MM-DD/` folders right under a table prefix (one request per 1000 folders), and the
    names of anything else found there, which is left alone."""
    days: set[dt.date] = set()
    other: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"][len(prefix) :]
            match = _DAY_FOLDER.match(name)
            day = _day_of(match.group(1)) if match else None
            if day is None:
                other.append(name)
            else:
                days.add(day)
    return days, other


def _day_of(text: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return day if day.isoformat() == text else None


def table_days(
    clients: JobClients, config: JobConfig, name: str, warnings: list[str], latest: str | None = None
) -> TableDays:
    location = config.table_location(name)
    partitions: set[dt.date] = set()
    pinned: set[dt.date] = set()
    for page in clients.glue.get_paginator("get_partitions").paginate(
        DatabaseName=config.catalog_database, TableName=name
    ):
        for partition in page["Partitions"]:
            values = partition.get("Values", [])
            day = _day_of(values[0]) if len(values) == 1 else None
            if day is None:
                warnings.append(f"{name}: partition {values} is not a date; left alone")
                continue
            partitions.add(day)
            where = partition.get("StorageDescriptor", {}).get("Location", "")
            if where.rstrip("/") + "/" != f"{location}{PARTITION_KEY}={day.isoformat()}/":
                pinned.add(day)
                warnings.append(f"{name}: partition {day} points at {where!r}, not this job's folder; left alone")
    folders, other = list_day_folders(clients.s3, config.sor_bucket, f"{config.catalog_database}/{name}/")
    if other:
        warnings.append(f"{name}: {len(other)} folders that are not day folders are left alone: {sorted(other)[:3]}")
    latest_date = _day_of(latest) if latest else None
    return TableDays(name, frozenset(partitions), frozenset(folders), frozenset(pinned), latest_date)


def managed_tables(catalog: Mapping[str, Mapping[str, Any]], config: JobConfig) -> tuple[list[str], list[str]]:
    """Tables this job manages and lays out (retention may act on them), and why others are left alone."""
    names, warnings = [], []
    for name, table in sorted(catalog.items()):
        if table.get("Parameters", {}).get("sor.managed_by") != MANAGED_BY:
            continue  # not ours: never looked at
        location = table.get("StorageDescriptor", {}).get("Location", "")
        keys = [(k.get("Name"), k.get("Type")) for k in table.get("PartitionKeys", [])]
        if location.rstrip("/") + "/" != config.table_location(name) or keys != [(PARTITION_KEY, "date")]:
            warnings.append(f"{name}: managed but at {location!r} partitioned by {keys}; retention leaves it alone")
            continue
        names.append(name)
    return names, warnings


def remove_days(
    clients: JobClients,
    config: JobConfig,
    removals: Sequence[Removal],
    delete: Callable[[Sequence[str]], None],
    dry_run: bool,
) -> list[RemovedDay]:
    """Catalog partitions first, then their day folders; a day whose partition could not be removed keeps its
    files. Partitions already gone (EntityNotFoundException) count as removed: a re-run converges."""
    done: list[RemovedDay] = []
    by_table: dict[str, list[Removal]] = defaultdict(list)
    for removal in removals:
        by_table[removal.table].append(removal)
    for table, items in sorted(by_table.items()):
        failed: dict[dt.date, str] = {}
        listed = [r for r in items if r.in_catalog]
        for start in range(0, 0 if dry_run else len(listed), PARTITIONS_PER_DELETE):
            chunk = listed[start : start + PARTITIONS_PER_DELETE]
            try:
                response = clients.glue.batch_delete_partition(
                    DatabaseName=config.catalog_database,
                    TableName=table,
                    PartitionsToDelete=[{"Values": [r.day.isoformat()]} for r in chunk],
                )
            except (ClientError, BotoCoreError) as exc:
                failed.update({r.day: f"BatchDeletePartition: {exc}" for r in chunk})
                continue
            for error in response.get("Errors", []):
                detail = error.get("ErrorDetail", {})
                if detail.get("ErrorCode") == "EntityNotFoundException":
                    continue
                day = _day_of((error.get("PartitionValues") or [""])[0])
                message = f"BatchDeletePartition: {detail.get('ErrorCode')}: {detail.get('ErrorMessage')}"
                failed.update({day: message} if day else {r.day: message for r in chunk})
        for removal in items:
            day = removal.day.isoformat()
            entry = RemovedDay(table, day, removal.in_catalog, 0, RemovalOutcome.FAILED, failed.get(removal.day))
            if entry.error is None:
                try:
                    prefix = f"{config.catalog_database}/{table}/{PARTITION_KEY}={day}/"
                    keys = [o.key for o in list_objects(clients.s3, config.sor_bucket, prefix)]
                    entry.objects = len(keys)
                    if not dry_run:
                        delete(keys)
                    entry.outcome = RemovalOutcome.WOULD_REMOVE if dry_run else RemovalOutcome.REMOVED
                except (TableError, ClientError, BotoCoreError) as exc:
                    entry.error = f"removing the day folder: {exc}"
            level = logging.ERROR if entry.outcome is RemovalOutcome.FAILED else logging.INFO
            log.log(
                level, "retention: %s %s: %s (%s, %d objects)%s", table, day, entry.outcome.value,
                "catalog partition and day folder" if removal.in_catalog else "orphaned day folder", entry.objects,
                f" - {entry.error}" if entry.error else "",
            )  # fmt: skip
            done.append(entry)
    return done


def apply_retention(
    clients: JobClients, config: JobConfig, failed_tables: Iterable[str], delete: Callable[[Sequence[str]], None]
) -> RetentionReport:
    """The retention pass of a run, after publication. Never raises: the night's tables are published whatever
    happens here, and whatever is left is removed by the next run."""
    report = RetentionReport(config.retention, config.retention_dry_run)
    if not config.retention.enabled:
        return report
    try:
        names, report.warnings = managed_tables(catalog_tables(clients.glue, config.catalog_database), config)
        latest = latest_days(clients.glue, config.latest_database) if config.latest_database else {}
        held = [table_days(clients, config, name, report.warnings, latest.get(name)) for name in names]
        eligible = set(names) - set(failed_tables)
        report.tables = len(eligible)
        protected = dt.date.fromisoformat(config.ingestion_date)
        removals = plan_retention(config.retention, held, eligible, protected)
        log.info(
            "retention %s: %d managed tables (%d not eligible tonight), %d days to remove%s",
            config.retention.as_dict(), len(names), len(names) - len(eligible), len(removals),
            " (dry run: nothing is removed)" if config.retention_dry_run else "",
        )  # fmt: skip
        report.days = remove_days(clients, config, removals, delete, config.retention_dry_run)
    except Exception as exc:  # a bug or a lost service must not turn a published night into a failure
        log.exception("retention stopped")
        report.error = f"{type(exc).__name__}: {exc}"
    for warning in report.warnings:
        log.warning("retention: %s", warning)
    return report
