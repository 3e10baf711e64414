"""Retyping history: earlier string-typed partitions of a table rewritten in place (--retype_history true)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sor_job.catalog_definitions import catalog_column, storage_descriptor
from sor_job.column_types import is_text
from sor_job.config import JobConfig
from sor_job.context import RunContext
from sor_job.errors import TableError
from sor_job.plan import S3Object, is_hidden
from sor_job.restore import Restoration
from sor_job.restore_transform import REJECTS_CATALOG_TYPE, REJECTS_COLUMN, restoration_spec, restored_schema
from sor_job.rewrite import (
    COUNTERS_KEY,
    PLAN_DIGEST_META,
    REWRITE_FORMAT,
    RewriteUnit,
    SparkJobFailed,
    Transform,
    TransformedBatch,
    TransformFactory,
    abort_unfinished_uploads,
    rewrite_plan_digest,
    run_rewrites,
    schema_ipc,
    verify_rewrites,
)
from sor_job.s3_reads import RangeReader, list_objects
from sor_job.typed_table import REJECTS_COMMENT, broken_formats, rejected_by_column, restoration_factory, sum_counters

log = logging.getLogger(__name__)


# A deployment that ran before typed columns holds string-typed days; the catalog's type-change rule keeps such a table
# string (TextReason.CATALOG_STRING) until a run with --retype_history true retypes it. That run rewrites every other
# partition's data objects in place through the same engine (rewrite.py) and transform (restore_transform.py) as a
# night's rewrite: the source of a unit is the object's current (string) version in the SOR bucket, its destination the
# same key, so the versioned bucket keeps the string version as a noncurrent version (README "Turn on typed columns on
# an existing deployment"). The rewritten object carries the engine's metadata: the plan digest, and as source ETag the
# ETag of the string version it was made from. An object whose footer already has `sor_rejects` and whose digest is the
# one this plan gives its columns is done: a re-run reads its footer only (for its counters).
#
# Order, for one table (publish_table): tonight's day is rewritten first (its format check fails the table before
# any earlier day is touched); then the earlier partitions, oldest first, each one's objects rewritten then its
# partition's columns updated at once; then the table (typed columns + sor_rejects); then tonight's partition.
# What Athena shows meanwhile (docs/sor-job.md "Retyping history"): Parquet columns are matched by name, so a
# partition schema that differs from the table's raises no HIVE_PARTITION_SCHEMA_MISMATCH
# (https://docs.aws.amazon.com/athena/latest/ug/updates-and-partitions.html); queries that do not read a retyped
# column are unaffected throughout. A retyped column of a day already rewritten is typed in its partition while the
# table still says string until the table is updated (seconds after the last day): Trino's Hive connector coerces a
# partition's date/decimal/timestamp to the table's varchar (https://github.com/trinodb/trino/pull/19500 and its
# siblings); whether Athena's engine does so is not documented, so such a read may fail (HIVE_BAD_DATA) until the
# table update. Days still to be rewritten read as before. An interrupted run leaves a mix; running the same
# command again converges.
@dataclass(frozen=True)
class HistoryFile:
    """One data object of an earlier partition, as its HeadObject and footer describe it."""

    obj: S3Object
    schema: pa.Schema
    rows: int
    plan_digest: str | None  # PLAN_DIGEST_META, on an object this engine wrote
    counters: Mapping[str, int]  # COUNTERS_KEY of its footer, on an object this engine wrote


class HistoryStep(Enum):
    REWRITE = "rewrite"  # string-typed: rewritten in place
    NULL_RETYPE = "null_retype"  # already typed (sor_rejects) but a retyped column is string: all NULL, swapped
    DONE = "done"  # already rewritten under this plan: footer read only
    UNTOUCHED = "untouched"  # holds none of the retyped columns (written before they existed): nothing to do


@dataclass(frozen=True)
class HistoryPlan:
    """An earlier partition's objects: the units to rewrite, and the counters of those already rewritten."""

    units: tuple[RewriteUnit, ...]
    steps: Mapping[str, HistoryStep]  # key -> step
    done_counters: Mapping[str, int]
    null_retypes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # key -> its all-NULL text columns


@dataclass
class RetypeReport:
    """What the retype did to a table's earlier partitions (manifest key `retyped_history`)."""

    partitions: int = 0
    partitions_updated: list[str] = field(default_factory=list)
    files_rewritten: int = 0
    files_done: int = 0
    files_untouched: int = 0
    rejected_values: dict[str, int] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def retyped_rules(
    rules: Mapping[str, Restoration], catalog_columns: Sequence[Mapping[str, str]]
) -> dict[str, Restoration]:
    """The rules on columns the catalog holds as string: what a retype rewrites in the table's earlier days."""
    catalog = {c["Name"]: c["Type"] for c in catalog_columns}
    return {name: rule for name, rule in rules.items() if catalog.get(name.lower()) == "string"}


def retyped_columns(
    columns: Sequence[Mapping[str, str]], rules: Mapping[str, Restoration], has_rejects: bool = True
) -> list[dict[str, str]]:
    """A table's or partition's columns once retyped: each retyped column in its restored type (with the comment
    the rule gives), then `sor_rejects` when not there yet."""
    by_name = {name.lower(): rule for name, rule in rules.items()}
    retyped = [
        catalog_column(c["Name"], by_name[c["Name"]].catalog_type, by_name[c["Name"]].comment())
        if c["Name"] in by_name
        else dict(c)
        for c in columns
    ]
    if has_rejects and REJECTS_COLUMN not in {c["Name"] for c in retyped}:
        retyped.append(catalog_column(REJECTS_COLUMN, REJECTS_CATALOG_TYPE, REJECTS_COMMENT))
    return retyped


def plan_history_partition(files: Sequence[HistoryFile], rules: Mapping[str, Restoration]) -> HistoryPlan:
    """Pure: which objects of an earlier partition to rewrite in place. Raises TableError for an object that holds
    `sor_rejects` under another plan (its string version is no longer current: it cannot be redone from here)."""
    units, steps, done, swaps = [], {}, defaultdict(int), {}
    for item in files:
        names = set(item.schema.names)
        file_rules = {name: rule for name, rule in rules.items() if name in names}
        still_text = [n for n in file_rules if is_text(item.schema.field(n).type)]
        if REJECTS_COLUMN in names and still_text:
            # A day already typed (its other columns restored) where a retyped column is still text: a numeric
            # column that was TYPE_PENDING. Its values are all NULL (null_retype_transform checks each batch and
            # fails the unit otherwise), so the column's type is swapped and nothing else in the file changes.
            output = pa.schema(
                [pa.field(f.name, file_rules[f.name].arrow_type) if f.name in still_text else f for f in item.schema]
            )
            digest = null_retype_digest({n: file_rules[n].arrow_type for n in still_text})
            units.append(RewriteUnit(item.obj, item.obj.key, schema_ipc(output), digest, item.rows))
            steps[item.obj.key] = HistoryStep.NULL_RETYPE
            swaps[item.obj.key] = tuple(still_text)
        elif (item.plan_digest or "").startswith(NULL_RETYPE_DIGEST) and all(
            item.schema.field(n).type == r.arrow_type for n, r in file_rules.items()
        ):
            # a null retype already swapped its columns' types (a re-run after an interrupted retype)
            steps[item.obj.key] = HistoryStep.DONE
            for key, value in item.counters.items():
                done[key] += value
        elif REJECTS_COLUMN in names:
            # The string schema it was made from: its retyped columns as text, without sor_rejects.
            string_schema = pa.schema(
                [pa.field(f.name, pa.string()) if f.name in file_rules else f for f in item.schema
                 if f.name != REJECTS_COLUMN]
            )  # fmt: skip
            digest = rewrite_plan_digest(restored_schema(string_schema, file_rules), restoration_spec(file_rules))
            if item.plan_digest != digest:
                raise TableError(
                    f"{item.obj.key} already holds {REJECTS_COLUMN} but was not written by this retype plan "
                    f"(digest {item.plan_digest}, expected {digest}): retyping a day that already has typed columns "
                    "is not supported"
                )
            steps[item.obj.key] = HistoryStep.DONE
            for key, value in item.counters.items():
                done[key] += value
        elif not file_rules:
            steps[item.obj.key] = HistoryStep.UNTOUCHED
        else:
            output = restored_schema(item.schema, file_rules)
            digest = rewrite_plan_digest(output, restoration_spec(file_rules))
            units.append(RewriteUnit(item.obj, item.obj.key, schema_ipc(output), digest, item.rows))
            steps[item.obj.key] = HistoryStep.REWRITE
    return HistoryPlan(tuple(units), steps, dict(done), swaps)


NULL_RETYPE_DIGEST = "null-retype-"  # the plan digest of an object a null retype wrote starts with this


def null_retype_digest(columns: Mapping[str, pa.DataType]) -> str:
    """The plan digest of a null retype of `columns` (column -> new type), told apart from a rewrite's by its prefix:
    the object's own schema is typed by then, so it cannot be recomputed from it as plan_history_partition does."""
    spec = json.dumps({"format": REWRITE_FORMAT, "columns": {k: str(v) for k, v in sorted(columns.items())}})
    return NULL_RETYPE_DIGEST + hashlib.sha256(spec.encode()).hexdigest()[:20]


def null_retype_transform(output_schema: pa.Schema, columns: Collection[str]) -> Transform:
    """The rewrite transform of a typed object whose `columns` are text holding only NULLs: the same batch with
    those columns as NULLs of their output type. A value in one of them fails the unit (TableError): retyping text
    that holds values in a day already typed is the operator's retype, not this one."""

    def transform(batch: pa.RecordBatch, first_row_index: int) -> TransformedBatch:
        arrays = []
        for target in output_schema:
            column = batch.column(target.name)
            if target.name in columns:
                if column.null_count != len(column):
                    raise TableError(
                        f"column {target.name!r} holds values from row {first_row_index} on, in a day whose other "
                        "columns are already typed: only a column with no value is retyped here"
                    )
                column = pa.nulls(len(column), target.type)
            arrays.append(column)
        return TransformedBatch(pa.RecordBatch.from_arrays(arrays, schema=output_schema))

    return transform


def history_factory(
    rules: Mapping[str, Restoration], bucket: str, null_retypes: Mapping[str, Sequence[str]]
) -> TransformFactory:
    """The transform of each unit of an earlier partition: a null retype of its columns for the keys in
    `null_retypes` (HistoryPlan.null_retypes), else the restoration."""
    restoring = restoration_factory(rules, bucket)
    swapped = {key: tuple(columns) for key, columns in null_retypes.items()}

    def factory(unit: RewriteUnit) -> Transform:
        if unit.destination in swapped:
            return null_retype_transform(unit.output_schema, swapped[unit.destination])
        return restoring(unit)

    return factory


def read_history_file(s3: Any, bucket: str, obj: S3Object, prefetch: int) -> HistoryFile:
    """HeadObject and footer (one ranged GET, pinned to the listed version by IfMatch) of an earlier day's object."""
    head = s3.head_object(Bucket=bucket, Key=obj.key)
    if str(head["ETag"]).strip('"') != obj.etag:
        raise TableError(f"{obj.key} changed while the retype read it: run again")
    try:
        metadata = pq.ParquetFile(RangeReader(s3, bucket, obj, prefetch)).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableError(f"{obj.key} is not a readable Parquet file: {exc}") from exc
    stored = (metadata.metadata or {}).get(COUNTERS_KEY.encode())
    return HistoryFile(
        obj,
        metadata.schema.to_arrow_schema(),
        metadata.num_rows,
        head.get("Metadata", {}).get(PLAN_DIGEST_META),
        json.loads(stored) if stored else {},
    )


def earlier_partitions(glue: Any, config: JobConfig, name: str) -> list[dict[str, Any]]:
    """The table's registered partitions other than tonight's, oldest first."""
    partitions = []
    for page in glue.get_paginator("get_partitions").paginate(DatabaseName=config.catalog_database, TableName=name):
        partitions += [p for p in page["Partitions"] if p["Values"] != [config.ingestion_date]]
    return sorted(partitions, key=lambda p: p["Values"][0])


def retyped_partition_input(partition: Mapping[str, Any], rules: Mapping[str, Restoration]) -> dict[str, Any]:
    """The PartitionInput of an earlier partition once retyped: same location, parameters and values."""
    storage = partition["StorageDescriptor"]
    return {
        "Values": list(partition["Values"]),
        "StorageDescriptor": storage_descriptor(storage["Location"], retyped_columns(storage["Columns"], rules)),
        "Parameters": dict(partition.get("Parameters", {})),
    }


def retype_history(run: RunContext, name: str, rules: Mapping[str, Restoration]) -> RetypeReport:
    """Rewrites the table's earlier partitions in place, oldest first, and updates each one's columns right after
    its objects. Raises TableError when a unit fails or a day's text breaks the format assumption: that day's
    partition keeps its string columns (its objects rewritten so far hold every value, typed or in sor_rejects, and
    their string versions stay noncurrent), the table stays string, and the same command run again converges."""
    config, s3, glue = run.config, run.clients.s3, run.clients.glue
    # The engine reads a unit's source from config.export_bucket: here the source is the SOR object itself.
    in_place = dataclasses.replace(config, export_bucket=config.sor_bucket)
    report = RetypeReport()
    counters: dict[str, int] = defaultdict(int)
    for partition in earlier_partitions(glue, config, name):
        report.partitions += 1
        day = partition["Values"][0]
        _, prefix = partition["StorageDescriptor"]["Location"].split("://", 1)[1].split("/", 1)
        prefix = prefix if prefix.endswith("/") else prefix + "/"
        listed = [o for o in list_objects(s3, config.sor_bucket, prefix) if not is_hidden(o.key[len(prefix) :])]
        files = [read_history_file(s3, config.sor_bucket, o, config.footer_read_size) for o in listed]
        plan = plan_history_partition(files, rules)
        try:
            factory = history_factory(rules, config.sor_bucket, plan.null_retypes)
            results = run_rewrites(list(plan.units), factory, in_place)
        except SparkJobFailed:
            abort_unfinished_uploads(s3, config.sor_bucket, prefix)
            raise
        fresh = sum_counters(r for r in results if r.error is None)
        day_counters = {k: fresh.get(k, 0) + plan.done_counters.get(k, 0) for k in {*fresh, *plan.done_counters}}
        problems = [r.error for r in results if r.error] + broken_formats(day_counters, results, rules)
        if problems:
            raise TableError(
                f"retype of {day} failed (its partition stays string; run the same command again once fixed): "
                + "; ".join(str(p) for p in problems[:5])
            )
        verify_rewrites(s3, in_place, plan.units)
        wanted = retyped_partition_input(partition, rules)
        if partition["StorageDescriptor"]["Columns"] != wanted["StorageDescriptor"]["Columns"]:
            glue.update_partition(
                DatabaseName=config.catalog_database, TableName=name, PartitionValueList=[day], PartitionInput=wanted
            )
            report.partitions_updated.append(day)
        steps = list(plan.steps.values())
        report.files_rewritten += sum(1 for r in results if not r.skipped)
        report.files_done += steps.count(HistoryStep.DONE) + sum(1 for r in results if r.skipped)
        report.files_untouched += steps.count(HistoryStep.UNTOUCHED)
        for key, value in day_counters.items():
            counters[key] += value
        log.info("%s: retyped %s (%d objects rewritten, %d already done)", name, day, len(plan.units),
                 steps.count(HistoryStep.DONE))  # fmt: skip
    report.rejected_values = rejected_by_column(counters, rules)
    return report
