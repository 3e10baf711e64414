"""Latest tables: in the database `--latest_database`, one table per SOR table, of the same name, reading exactly the
newest day that table published (docs/sor-job.md "Latest tables").

A latest table is an ordinary unpartitioned Parquet table whose location is that day's partition folder, so every
engine that reads the Glue catalog reads it (Athena, Spark, Redshift Spectrum) and no data is copied. Its columns
are the day's partition columns, its SerDe and formats the SOR table's, and the day is in the parameter
`sor.ingestion_date` and in the Description.

How it moves, and why each rule:
- only after the table's day published (an EMPTY day too: the table is empty now), in one CreateTable or UpdateTable;
- never backwards: a backfill or re-run of an older day leaves it;
- a move never archives a table version (UpdateTable SkipArchive=True, "does not create the archived version",
  botocore glue model): one move a table a night would otherwise reach Glue's version quotas;
- before a run rewrites or removes anything in the very folder the latest table reads (a re-run of that day), the
  table is first moved back to the newest other day the SOR table holds, or removed when there is none: a reader
  never sees two runs' files mixed, nor a half-written day if the re-run fails. The run then moves it forward again
  once the day is published; a failed re-run leaves it on that other day.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from sor_job.catalog_definitions import as_table_input, same_definition
from sor_job.catalog_writes import catalog_tables, created_unless_exists
from sor_job.layout import PARTITION_KEY

log = logging.getLogger(__name__)

LATEST_DAY = "sor.ingestion_date"  # the parameter that names the day a latest table reads


class LatestAction(Enum):
    """What a night did to one table's latest table."""

    CREATED = "created"
    MOVED = "moved"
    UNCHANGED = "unchanged"  # it already read this very day, with this definition
    KEPT_NEWER = "kept newer"  # it reads a later day than this run's: never moved backwards
    PARKED = "parked"  # moved to the newest other day before this run rewrote the day it read
    REMOVED = "removed"  # the same, with no other day to read: dropped until the day publishes


def latest_day(table: Mapping[str, Any] | None) -> str | None:
    """The day a latest table reads (None: no latest table, or not one this project wrote)."""
    if table is None:
        return None
    return table.get("Parameters", {}).get(LATEST_DAY)


def latest_table_input(sor_table: Mapping[str, Any], partition: Mapping[str, Any], sor_database: str) -> dict[str, Any]:
    """The latest table that reads `partition` (a PartitionInput or GetPartition result) of `sor_table` (a TableInput
    or GetTable result): the partition's columns and folder, the SOR table's SerDe, formats and parameters."""
    day = partition["Values"][0]
    name = sor_table["Name"]
    sor_storage = sor_table["StorageDescriptor"]
    storage = {
        "Columns": [dict(c) for c in partition["StorageDescriptor"]["Columns"]],
        "Location": partition["StorageDescriptor"]["Location"],
        **{k: sor_storage[k] for k in ("InputFormat", "OutputFormat", "Compressed", "SerdeInfo") if k in sor_storage},
        "StoredAsSubDirectories": False,
    }
    parameters = {k: v for k, v in sor_table.get("Parameters", {}).items() if k != "EXTERNAL"}
    parameters.update({"EXTERNAL": "TRUE", LATEST_DAY: day, "sor.table": f"{sor_database}.{name}"})
    description = (
        f"LATEST: the day {day} of {sor_database}.{name} ({PARTITION_KEY}), moved after each night that publishes "
        f"it. {sor_table.get('Description', '')}"
    ).strip()
    return {
        "Name": name,
        "Description": description[:2048],  # Glue's limit for a Description
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": storage,
        "PartitionKeys": [],
    }


def _update(glue: Any, database: str, wanted: dict[str, Any]) -> None:
    glue.update_table(DatabaseName=database, TableInput=wanted, SkipArchive=True)


def move_latest(glue: Any, database: str, current: Mapping[str, Any] | None, wanted: dict[str, Any]) -> LatestAction:
    """Points the latest table at the day `wanted` reads, unless it reads a later day already (never backwards)."""
    day, now = wanted["Parameters"][LATEST_DAY], latest_day(current)
    if now is not None and now > day:
        return LatestAction.KEPT_NEWER
    if current is None:
        create = lambda: glue.create_table(DatabaseName=database, TableInput=wanted)  # noqa: E731
        if created_unless_exists(create):
            return LatestAction.CREATED
        current = glue.get_table(DatabaseName=database, Name=wanted["Name"])["Table"]
        if (latest_day(current) or "") > day:  # another run moved it past this day meanwhile
            return LatestAction.KEPT_NEWER
    if same_definition(as_table_input(current), wanted):
        return LatestAction.UNCHANGED
    _update(glue, database, wanted)
    return LatestAction.MOVED


def park_latest(
    glue: Any,
    database: str,
    current: Mapping[str, Any],
    sor_table: Mapping[str, Any],
    partitions: Sequence[Mapping[str, Any]],
    sor_database: str,
) -> tuple[LatestAction, dict[str, Any] | None]:
    """Before the day `current` reads is rewritten: point it at the newest other published day of the SOR table
    (`partitions`: GetPartitions results), or remove it when there is none. Returns what it did and the latest
    table's definition now (None: removed)."""
    day = latest_day(current)
    others = [p for p in partitions if p["Values"][0] != day]
    if others:
        newest = max(others, key=lambda p: p["Values"][0])
        parked = latest_table_input(sor_table, newest, sor_database)
        _update(glue, database, parked)
        log.info("latest %s.%s: reads %s while %s is rewritten", database, current["Name"], newest["Values"][0], day)
        return LatestAction.PARKED, parked
    try:
        glue.delete_table(DatabaseName=database, Name=current["Name"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityNotFoundException":
            raise
    log.info("latest %s.%s: removed while %s, its only day, is rewritten", database, current["Name"], day)
    return LatestAction.REMOVED, None


def latest_days(glue: Any, database: str) -> dict[str, str]:
    """Table -> the day its latest table reads, for every latest table of `database` (retention keeps those days)."""
    tables = catalog_tables(glue, database)
    return {name: day for name, table in tables.items() if (day := latest_day(table)) is not None}


def sor_partitions(glue: Any, database: str, name: str) -> list[dict[str, Any]]:
    """Every partition of a SOR table (the days it holds), for parking its latest table."""
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=name)
    return [p for page in pages for p in page.get("Partitions", [])]


@dataclass
class LatestTable:
    """One SOR table's latest table through one publication: parked at most once, before the first change to the
    day's folder it reads, then moved once the day is published. `current` is its definition as last seen."""

    glue: Any
    database: str
    sor_database: str
    name: str
    day: str  # the day this run publishes
    current: Mapping[str, Any] | None
    actions: list[LatestAction] = field(default_factory=list)

    @property
    def reads_the_day(self) -> bool:
        """It reads the folder this run publishes (a re-run of its day): the run must park it before changing it."""
        return latest_day(self.current) == self.day

    def before_change(self, sor_table: Mapping[str, Any] | None) -> None:
        """Called before the run writes or removes anything in the day's folder: parks the latest table when it
        reads that very folder (a re-run of its day)."""
        # once parked (or removed) it no longer reads the day, so a second call does nothing
        if not self.reads_the_day or self.current is None or sor_table is None:
            return
        partitions = sor_partitions(self.glue, self.sor_database, self.name)
        action, self.current = park_latest(
            self.glue, self.database, self.current, sor_table, partitions, self.sor_database
        )
        self.actions.append(action)

    def after_publish(self, sor_table: Mapping[str, Any], partition: Mapping[str, Any]) -> LatestAction:
        """Moves it to the day just published (never backwards)."""
        wanted = latest_table_input(sor_table, partition, self.sor_database)
        action = move_latest(self.glue, self.database, self.current, wanted)
        if action is not LatestAction.KEPT_NEWER:
            self.current = wanted
        self.actions.append(action)
        return action
