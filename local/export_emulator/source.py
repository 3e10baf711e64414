"""The source model: a table of the SOURCE DATABASE as the export sees it, and the engines the export knows.

`SourceTable` / `SourceColumn` are what callers hand the export emulator: tables declared the way the source database
declares them (local/postgres/sample_database.py, tests/exports.py) or read from a real PostgreSQL
(local/postgres/pg_source.py). This
module changes when the description of a source table gains a knob; how values convert lives in `conversion`, how the
export lays them out in `layout`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

POSTGRESQL = "postgresql"
MYSQL = "mysql"
_ENGINE_ALIASES = {
    "postgresql": POSTGRESQL,
    "postgres": POSTGRESQL,
    "aurora-postgresql": POSTGRESQL,
    "mysql": MYSQL,
    "aurora-mysql": MYSQL,
    "aurora": MYSQL,
}


def normalize_engine(engine: str) -> str:
    """Maps an RDS engine name ("aurora-postgresql", "aurora-mysql", ...) to POSTGRESQL or MYSQL."""
    try:
        return _ENGINE_ALIASES[engine.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(_ENGINE_ALIASES)}") from None


@dataclass(frozen=True)
class SourceColumn:
    """A column as the source database declares it (type text as information_schema/SHOW COLUMNS spell it)."""

    name: str
    source_type: str
    not_null: bool = False  # written as a REQUIRED Parquet field (UNVERIFIED that RDS does; Spark would)


@dataclass
class SourceTable:
    """One source table and how the export lays it out.

    rows hold Python values as the DB driver returns them. `layout`:
    - "batched": `<batch>/part-<partition index>-<uuid>.gz.parquet` (current convention)
    - "flat": `part-<i>-<uuid>-c000.gz.parquet` directly in the table folder (older exports)
    - "cluster": alphanumeric partition folders `1/`, `a/`, `b/` ... (live cluster exports)
    `partition_indexes`, when given, are the part numbers used in every batch folder; by default they have
    gaps (0, 1, 3, 4, 6, ...) because AWS documents gaps as normal (empty ranges write no file).
    `status` other than COMPLETE lists the table with that status in export_tables_info; such a table writes
    only its first `failed_files_written` part files (0 = no data at all).
    `persistence` "temporary"/"unlogged" (PostgreSQL) makes the export skip the table (docs/aws-facts.md).
    `empty_part_file` overrides render_export's `empty_table_part_file` for this table.
    `schema_metadata` False leaves `schemaMetadata` out of the table's export_tables_info entry, as some entries
    of real exports do (docs/aws-facts.md "Export metadata files"): readers must cope without the original types.
    `batch_rows` lays a partitioned parent out as the export does: one batch folder per partition.
    """

    database: str
    schema: str | None
    name: str
    columns: list[SourceColumn]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    batches: int = 1
    files_per_batch: int = 1
    layout: str = "batched"
    status: str = "COMPLETE"
    partition_indexes: tuple[int, ...] | None = None
    failed_files_written: int = 0
    persistence: str = "permanent"
    empty_part_file: bool | None = None
    schema_metadata: bool = True
    # A partitioned parent: the rows of each partition, in order, as one batch each (`batches` is then their count);
    # a partition with no row writes no batch. UNVERIFIED beyond AWS's "multiple batch indexes, one for each of the
    # table partitions of your main table" (docs/aws-facts.md "Partitioned tables").
    batch_rows: tuple[int, ...] | None = None
