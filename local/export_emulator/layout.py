"""Where the export puts things: S3 path names, table folders, which tables it skips, part files and their Parquet
encoding (docs/aws-facts.md "The export in S3", from
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.html: FileNames, skipped tables,
path character replacement).

This module changes when a fact about the export's layout changes; the JSON metadata files are `metadata`'s, the
values inside the part files `conversion`'s.

Fidelity limits:
- Files are written by pyarrow (footer `created_by` "parquet-cpp-arrow ..."), not by RDS's own writer; no Spark row
  metadata in the footer; files are tiny instead of ~20-200 GB, and cut into row groups by row count
  (DEFAULT_ROW_GROUPS_PER_FILE per file, or `row_group_rows`), not by byte size.
- Rows are spread evenly over part files in input order, not by ranges of a numeric key; which files exist (gaps) is
  chosen by `partition_indexes`, not by where the data falls.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from local.export_emulator.source import POSTGRESQL, SourceTable, normalize_engine

LAYOUTS = ("batched", "flat", "cluster")

# docs/aws-facts.md "The export in S3": these characters in names become "_" in the S3 path.
_PATH_REPLACED = str.maketrans({"\\": "_", "`": "_", '"': "_", " ": "_"})
# docs/aws-facts.md "The export in S3": a column name with any of these makes the export skip the table.
_BAD_COLUMN_CHARS = frozenset(",;{}()\n\t= ")


def path_name(name: str) -> str:
    """A database/schema/table name as it appears in the S3 path (docs/aws-facts.md: \\ ` " and space -> _)."""
    return name.translate(_PATH_REPLACED)


def table_folder(engine: str, table: SourceTable) -> str:
    """`<database>/<schema>.<table>` (PostgreSQL) or `<database>/<database>.<table>` (MySQL), no slashes."""
    middle = table.schema if normalize_engine(engine) == POSTGRESQL else table.database
    if middle is None:
        raise ValueError(f"PostgreSQL table {table.name!r} needs a schema")
    return f"{path_name(table.database)}/{path_name(middle)}.{path_name(table.name)}"


def skip_reason(engine: str, table: SourceTable) -> str | None:
    """Why the export skips this table (docs/aws-facts.md "The export in S3"), or None when it is exported."""
    if "/" in table.name:
        return "TABLE_NAME_CONTAINS_SLASH"
    for column in table.columns:
        if _BAD_COLUMN_CHARS.intersection(column.name):
            return "UNSUPPORTED_CHARACTERS_IN_COLUMN_NAME"
    if normalize_engine(engine) == POSTGRESQL and table.persistence in {"temporary", "unlogged"}:
        return f"{table.persistence.upper()}_TABLE"
    return None


def export_root(s3_prefix: str, export_id: str) -> str:
    """The key prefix of the export: `<S3Prefix>/<export id>/` (no prefix -> `<export id>/`)."""
    prefix = s3_prefix.strip("/")
    return f"{prefix}/{export_id}/" if prefix else f"{export_id}/"


_CLUSTER_FOLDERS = "1abcdefghijklmnopqrstuvwxyz"


def _deterministic_uuid(seed: int, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def default_partition_indexes(count: int) -> tuple[int, ...]:
    """0, 1, 3, 4, 6, 7, ...: starts at 00000 and has gaps, as AWS documents for ranged partitions."""
    return tuple(i + i // 2 for i in range(count))


# Real part files are ~20-200 GB, so they hold many row groups; the fixtures are tiny, so by default each file is cut
# into this many row groups (fewer when it has fewer rows), which lets readers that stream by row group be tested.
DEFAULT_ROW_GROUPS_PER_FILE = 3


def row_group_rows_for(rows: int, row_group_rows: int | None = None) -> int:
    """Rows per row group of a part file of `rows` rows: `row_group_rows`, else DEFAULT_ROW_GROUPS_PER_FILE groups."""
    if row_group_rows is not None:
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows must be >= 1, got {row_group_rows}")
        return row_group_rows
    return max(1, -(-rows // DEFAULT_ROW_GROUPS_PER_FILE))


def parquet_bytes(table: pa.Table, row_group_rows: int | None = None) -> bytes:
    """One part file: gzip (the ".gz.parquet" names), decimals on INT32/INT64/FLBA by precision, timestamps as
    INT64 micros adjusted to UTC, no Arrow schema blob (Spark, which writes these files, stores none), row groups
    of `row_group_rows_for(rows, row_group_rows)` rows. Same input, same bytes."""
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        row_group_size=row_group_rows_for(table.num_rows, row_group_rows),
        compression="gzip",
        store_decimal_as_integer=True,
        coerce_timestamps="us",
        allow_truncated_timestamps=False,
        store_schema=False,
    )
    return sink.getvalue()


@dataclass(frozen=True)
class PartFile:
    """One part file of a table: its folder below the table folder, its name, and the converted rows it holds."""

    folder: str  # "" for the flat layout
    name: str
    rows: pa.Table


def _split(table: pa.Table, pieces: int) -> list[pa.Table]:
    size, extra = divmod(table.num_rows, pieces)
    out, start = [], 0
    for i in range(pieces):
        length = size + (1 if i < extra else 0)
        out.append(table.slice(start, length))
        start += length
    return out


def part_files(
    engine: str, table: SourceTable, data: pa.Table, seed: int, export_id: str, empty_file: bool
) -> list[PartFile]:
    """The part files `table` writes (every one, as if COMPLETE), `data` being its converted rows (`exported_table`);
    names are deterministic in `seed`, `export_id` and the table folder. `empty_file`: an empty table writes one
    schema-only file rather than none."""
    if table.layout not in LAYOUTS:
        raise ValueError(f"table {table.name!r}: unknown layout {table.layout!r}; expected one of {LAYOUTS}")
    if table.batches < 1 or table.files_per_batch < 1:
        raise ValueError(f"table {table.name!r}: batches and files_per_batch must be >= 1")
    folder_of_table = table_folder(engine, table)

    def uid(*parts: str) -> str:
        return _deterministic_uuid(seed, export_id, folder_of_table, *parts)

    if table.layout == "flat":
        count = table.batches * table.files_per_batch
        return [
            PartFile("", f"part-{i:05d}-{uid(str(i))}-c000.gz.parquet", piece)
            for i, piece in enumerate(_split(data, count))
            if piece.num_rows or (i == 0 and data.num_rows == 0 and empty_file)
        ]
    if table.layout == "cluster" and table.batches > len(_CLUSTER_FOLDERS):
        raise ValueError(f"table {table.name!r}: at most {len(_CLUSTER_FOLDERS)} cluster partition folders")
    indexes = table.partition_indexes or default_partition_indexes(table.files_per_batch)
    if len(indexes) != table.files_per_batch or len(set(indexes)) != len(indexes) or min(indexes) < 0:
        raise ValueError(f"table {table.name!r}: partition_indexes must be {table.files_per_batch} distinct ints >= 0")
    parts = []
    if table.batch_rows is not None:
        if sum(table.batch_rows) != data.num_rows or table.layout != "batched":
            raise ValueError(f"table {table.name!r}: batch_rows must add up to its rows, in the batched layout")
        pieces, start = [], 0
        for rows in table.batch_rows:  # one batch per partition, each split over files_per_batch files
            pieces += _split(data.slice(start, rows), table.files_per_batch)
            start += rows
    else:
        pieces = _split(data, table.batches * table.files_per_batch)
    batches = len(table.batch_rows) if table.batch_rows is not None else table.batches
    for b in range(batches):
        folder = str(b + 1) if table.layout == "batched" else _CLUSTER_FOLDERS[b]
        for f, index in enumerate(indexes):
            piece = pieces[b * table.files_per_batch + f]
            first = b == 0 and f == 0
            if piece.num_rows or (first and data.num_rows == 0 and empty_file):
                parts.append(PartFile(folder, f"part-{index:05d}-{uid(folder, str(index))}.gz.parquet", piece))
    return parts
