"""aurora-sor Glue job: publish an RDS/Aurora snapshot export as dated SOR tables in the Glue Data Catalog.

One self-contained script (plain `sam deploy` uploads only Command.ScriptLocation, docs/aws-facts.md "SAM packaging"),
depending only on boto3 and pyarrow, which the Glue 5.x runtime provides. The same command line runs in Glue
and on a laptop; AWS_ENDPOINT_URL points every client at an emulator (the job reads S3 through boto3 only, so
that one variable covers Parquet footers too).

    python glue/sor_job.py --export_uri s3://<bucket>/<prefix>/<export id>/ \
        --sor_bucket <bucket> --catalog_database <db> --ingestion_date YYYY-MM-DD [options]

Data flows one way: arguments -> plan (export listing + metadata) -> per table (publish_table): footers -> types
and columns -> copy or rewrite -> verify -> catalog table and partition -> manifest + metrics -> one JSON summary
line on stdout. Contracts: docs/contracts.md. Facts about AWS: docs/aws-facts.md (cited as [FACTS <section>]).

Sections:
  1. Arguments and configuration
  2. Names: export path -> catalog table name (pure)
  3. Types: Parquet column -> Athena/Glue type (pure)
  3b. Restored types: export text -> exact typed values (pure)
  4. Plan: what the export holds (pure, from a listing and the metadata files)
  5. Catalog definitions: table, columns, partition (pure)
  6. S3 reads: listing, metadata files, footers by range reads
  7. Copy, clean and verify a day's partition
  7b. Rewrite (Spark tasks): one export file -> one typed Parquet object, streamed
  7c. Restoration transform: restored columns + sor_rejects (pure)
  8. Catalog writes
  8b. Retention: which day partitions the keep rules remove, and removing them safely
  9. One table's publication, stage by stage (publish_table)
  9b. Typed tables: the rewrite of a table's day through the restoration transform
  9c. Retyping history: earlier string-typed partitions rewritten in place (--retype_history true)
  10. The run: every table, retention, summary, manifest, metrics, exit code (run_job, main)
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import functools
import hashlib
import io
import json
import logging
import re
import sys
import threading
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum, IntEnum, StrEnum
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

log = logging.getLogger("sor_job")

PARTITION_KEY = "ingestion_date"
MANIFEST_ROOT = "_manifests"
MANAGED_BY = "aurora-sor"
MAX_TABLE_NAME = 128  # well under Glue's 255, short enough to type in Athena
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
SOURCE_ETAG_META = "sor-source-etag"  # on every copied object: lets a re-run skip what is already there


class ExportError(Exception):
    """The run cannot start or cannot continue at all (exit code 2)."""


class TableError(Exception):
    """One table cannot be published; the others go on (exit code 1 at the end). `transient` says a later run may
    publish it unchanged (FailureKind)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


# ==================================================================================================
# 1. Arguments and configuration
# ==================================================================================================
_DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class JobConfig:
    export_bucket: str
    export_prefix: str  # key prefix of the export root, ending with "/"
    export_id: str
    sor_bucket: str
    catalog_database: str
    ingestion_date: str
    sor_kms_key_arn: str | None = None
    copy_concurrency: int = 32
    table_concurrency: int = 8
    multipart_threshold: int = 1024 * 1024**2
    multipart_chunksize: int = 512 * 1024**2
    footer_read_size: int = 64 * 1024
    metrics_namespace: str | None = "aurora-sor"
    job_run_id: str | None = None
    progress_seconds: float = 60.0
    retention: RetentionPolicy = field(default_factory=lambda: RetentionPolicy())
    retention_dry_run: bool = False
    restore_types: bool = True  # rewrite tables with restorable text columns into typed Parquet (section 9b)
    retype_history: bool = False  # also retype earlier string-typed partitions of those tables, in place
    # The source's RDS engine as DescribeDBClusters reports it (aurora-postgresql, aurora-mysql, ...): the export's
    # files do not say it, and type words cannot tell it (a PostgreSQL bit(3) is "bit" in both engines).
    source_engine: str = ""

    @property
    def export_uri(self) -> str:
        return f"s3://{self.export_bucket}/{self.export_prefix}"

    def table_location(self, name: str) -> str:
        return f"s3://{self.sor_bucket}/{self.catalog_database}/{name}/"

    def partition_prefix(self, name: str) -> str:
        return f"{self.catalog_database}/{name}/{PARTITION_KEY}={self.ingestion_date}/"

    @property
    def manifest_key(self) -> str:
        return f"{MANIFEST_ROOT}/{self.catalog_database}/{PARTITION_KEY}={self.ingestion_date}/manifest.json"


def _count(text: str) -> int:
    """A whole number >= 0 written as digits only: "-1", "1.5", "1e3" and "" are refused, never rounded."""
    if not re.fullmatch(r"[0-9]{1,6}", text):
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0 (0 turns the rule off), got {text!r}")
    return int(text)


def _flag(text: str) -> bool:
    if text not in {"true", "false"}:
        raise argparse.ArgumentTypeError(f"must be true or false, got {text!r}")
    return text == "true"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit without the JSON summary line
        raise ExportError(f"{message} (usage: {self.format_usage().strip()})")


def parse_args(argv: Sequence[str]) -> JobConfig:
    """Parses our `--key value` pairs; Glue's own arguments (--JOB_ID, --TempDir, ...) are ignored."""
    parser = _Parser(prog="sor_job.py", allow_abbrev=False, description="Publish an RDS export as SOR tables")
    parser.add_argument("--export_uri", required=True)
    parser.add_argument("--sor_bucket", required=True)
    parser.add_argument("--catalog_database", required=True)
    parser.add_argument("--ingestion_date", required=True)
    parser.add_argument("--sor_kms_key_arn", default="")
    parser.add_argument("--copy_concurrency", type=_positive_int, default=32)
    parser.add_argument("--table_concurrency", type=_positive_int, default=8)
    parser.add_argument("--multipart_threshold_mb", type=_positive_int, default=1024)
    parser.add_argument("--multipart_chunksize_mb", type=_positive_int, default=512)
    parser.add_argument("--footer_read_kb", type=_positive_int, default=64)
    parser.add_argument("--metrics_namespace", default="aurora-sor")
    parser.add_argument("--progress_seconds", type=_positive_int, default=60)
    # Retention (section 8b): restic-style keep rules; none given (or all 0) leaves every partition in place.
    parser.add_argument("--keep_daily", type=_count, default=0)
    parser.add_argument("--keep_monthly", type=_count, default=0)
    parser.add_argument("--keep_yearly", type=_count, default=0)
    parser.add_argument("--retention_dry_run", type=_flag, default=False)
    # Typed columns (sections 3b, 7b, 7c, 9b): every option takes a value, as Glue passes `--KEY value` pairs.
    parser.add_argument("--restore_types", type=_flag, default=True)
    parser.add_argument("--retype_history", type=_flag, default=False)
    parser.add_argument("--source_engine", default="")
    parser.add_argument("--JOB_RUN_ID", dest="job_run_id", default=None)
    args, _glue_owned = parser.parse_known_args(list(argv))

    match = re.fullmatch(r"s3://([^/]+)/(.+?)/?", args.export_uri)
    if not match:
        raise ExportError(f"--export_uri must look like s3://<bucket>/<prefix>/<export id>/, got {args.export_uri!r}")
    bucket, prefix = match.group(1), match.group(2).strip("/") + "/"
    export_id = prefix.rstrip("/").rsplit("/", 1)[-1]
    if not _BUCKET_NAME.match(args.sor_bucket):
        raise ExportError(f"--sor_bucket is not a valid bucket name: {args.sor_bucket!r}")
    if not _DATABASE_NAME.match(args.catalog_database):
        raise ExportError(
            f"--catalog_database must match {_DATABASE_NAME.pattern} (Athena: lower case, letter first), "
            f"got {args.catalog_database!r}"
        )
    try:
        day = dt.date.fromisoformat(args.ingestion_date)
    except ValueError:
        day = None
    if day is None or day.isoformat() != args.ingestion_date:
        raise ExportError(f"--ingestion_date must be YYYY-MM-DD, got {args.ingestion_date!r}")
    if args.multipart_chunksize_mb < 5:
        raise ExportError("--multipart_chunksize_mb must be >= 5 (S3's minimum part size)")
    if args.restore_types and _engine(args.source_engine) is None:
        raise ExportError(
            f"--source_engine must name the source's RDS engine, as DescribeDBClusters reports it (aurora-postgresql, "
            f"aurora-mysql, postgres, mysql), got {args.source_engine!r}: the export does not say which engine wrote "
            "it, and the restored types depend on it. on_export_event passes it; pass it by hand as README Operations "
            "shows, or run with --restore_types false"
        )
    mib = 1024**2
    return JobConfig(
        export_bucket=bucket,
        export_prefix=prefix,
        export_id=export_id,
        sor_bucket=args.sor_bucket,
        catalog_database=args.catalog_database,
        ingestion_date=args.ingestion_date,
        sor_kms_key_arn=args.sor_kms_key_arn or None,
        copy_concurrency=args.copy_concurrency,
        table_concurrency=args.table_concurrency,
        multipart_threshold=args.multipart_threshold_mb * mib,
        multipart_chunksize=args.multipart_chunksize_mb * mib,
        footer_read_size=args.footer_read_kb * 1024,
        metrics_namespace=args.metrics_namespace or None,
        job_run_id=args.job_run_id,
        progress_seconds=args.progress_seconds,
        retention=RetentionPolicy(args.keep_daily, args.keep_monthly, args.keep_yearly),
        retention_dry_run=args.retention_dry_run,
        restore_types=args.restore_types,
        retype_history=args.retype_history,
        source_engine=args.source_engine,
    )


# ==================================================================================================
# 2. Names: export path -> catalog table name (pure)
# ==================================================================================================
# Rule (documented in README "Naming"): the table folder of the export is "<schema>.<table>" (PostgreSQL) or
# "<database>.<table>" (MySQL) [FACTS "The export in S3"]. Its catalog name is that folder, accents stripped,
# lower-cased, every character outside [a-z0-9_] replaced by "_", prefixed with "t_" unless it starts with a
# letter, cut to 128 characters with a hash of the full path when cut, or only "t_" + hash when nothing readable
# is left. Two sources that land on the same name are told apart with a short hash of their full source path;
# the one that already owns the catalog table (its `sor.source` parameter) keeps the plain name, so a published
# table is never renamed nor taken over.


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def base_table_name(folder: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", folder).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9_]", "_", ascii_text.lower())
    if not re.search(r"[a-z0-9]", name):  # nothing readable survived (e.g. a name in CJK): the hash alone
        return f"t_{_digest(folder)}"
    if not name[:1].isalpha():
        name = "t_" + name
    if len(name) > MAX_TABLE_NAME:
        name = f"{name[: MAX_TABLE_NAME - 9]}_{_digest(folder)}"
    return name


def _suffixed(base: str, source: str) -> str:
    return f"{base[: MAX_TABLE_NAME - 9]}_{_digest(source)}"


@dataclass(frozen=True)
class NameAssignment:
    names: dict[str, str]  # source -> catalog table name
    errors: dict[str, str]  # source -> why it gets no name
    warnings: tuple[str, ...]


def assign_table_names(folders: Mapping[str, str], existing: Mapping[str, str | None]) -> NameAssignment:
    """Maps each source ("db.schema.table") to a unique catalog table name.

    folders: source -> export folder name ("schema.table"). existing: catalog table name -> its `sor.source`
    parameter (None for a table aurora-sor does not manage). Deterministic for the same inputs.
    """
    by_base: dict[str, list[str]] = defaultdict(list)
    for source, folder in folders.items():
        by_base[base_table_name(folder)].append(source)
    names: dict[str, str] = {}
    warnings: list[str] = []
    for base, sources in sorted(by_base.items()):
        keeper = (existing.get(base) if existing.get(base) in sources else None) if base in existing else min(sources)
        for source in sorted(sources):
            if source == keeper:
                names[source] = base
                continue
            names[source] = _suffixed(base, source)
            owner = existing.get(base, "")
            why = (
                f"catalog table {base!r} belongs to {owner!r}"
                if base in existing
                else f"{len(sources)} sources share the name {base!r}: {', '.join(sorted(sources))}"
            )
            warnings.append(f"{source} is published as {names[source]!r} because {why}")
    errors: dict[str, str] = {}
    taken: dict[str, str] = {}
    for source, name in sorted(names.items()):
        if name in existing and existing[name] != source:
            errors[source] = f"catalog table {name!r} already exists and belongs to {existing[name]!r}"
        elif name in taken:
            errors[source] = f"catalog table name {name!r} collides with {taken[name]!r}"
        else:
            taken[name] = source
    return NameAssignment({s: n for s, n in names.items() if s not in errors}, errors, tuple(warnings))


# ==================================================================================================
# 3. Types: Parquet column -> Athena/Glue type (pure)
# ==================================================================================================
# What the export writes [FACTS "Type conversion done by the export"] and what Athena reads for it. The type
# is derived from the file, never guessed: a Parquet column whose physical/logical type Athena cannot read
# under any catalog type fails its table (HIVE_BAD_DATA otherwise, [FACTS "Athena and the Glue Data Catalog"]).


@dataclass(frozen=True)
class ParquetColumn:
    """The parts of a Parquet column descriptor that decide its catalog type."""

    name: str
    physical: str  # BOOLEAN INT32 INT64 INT96 FLOAT DOUBLE BYTE_ARRAY FIXED_LEN_BYTE_ARRAY
    logical: Mapping[str, Any]  # pyarrow LogicalType.to_json(), {"Type": "None"} when absent
    converted: str = "NONE"  # legacy ConvertedType (UTF8, DECIMAL, INT_16, TIMESTAMP_MICROS, ...)
    precision: int = -1
    scale: int = -1
    nested: bool = False  # repeated or inside a group: not something the export writes
    path: str = ""  # the dotted ColumnPath, for messages about nested fields (name is the leaf's own name)

    @classmethod
    def from_arrow(cls, column: Any) -> ParquetColumn:
        """From a pyarrow.parquet.ColumnSchema.

        `column.name` is the leaf field's own name; `column.path` is its ColumnPath joined with "." (Parquet C++
        `ColumnPath::ToDotString`). A top-level column's path is its name alone, so a flat column named "a.b" has
        path == name, while a field "b" inside a group "a" has path "a.b" and name "b". Comparing the two, not
        looking for a ".", is what tells nested from flat; the catalog column takes the field's name.
        """
        logical = json.loads(column.logical_type.to_json())
        return cls(
            name=column.name,
            physical=str(column.physical_type),
            logical=logical,
            converted=str(column.converted_type),
            precision=column.precision,
            scale=column.scale,
            nested=column.max_repetition_level > 0 or column.path != column.name,
            path=column.path,
        )


class UnsupportedType(TableError):
    pass


_INT_TYPES = {(8, True): "tinyint", (16, True): "smallint", (32, True): "int", (64, True): "bigint"}
# Unsigned integers widen to the next signed type Athena can read from the same physical type.
_UINT_TYPES = {(8, False): "smallint", (16, False): "int", (32, False): "bigint"}
_CONVERTED_INT = {
    f"{'U' if not signed else ''}INT_{width}": (width, signed) for width in (8, 16, 32, 64) for signed in (True, False)
}
_STRING_LOGICAL = {"String", "Enum", "Json"}
_STRING_CONVERTED = {"UTF8", "ENUM", "JSON"}


def athena_type(column: ParquetColumn) -> str:
    """The Glue/Athena type that reads this Parquet column correctly; UnsupportedType otherwise."""
    kind = str(column.logical.get("Type", "None"))
    physical = column.physical

    def unsupported(why: str) -> UnsupportedType:
        return UnsupportedType(
            f"column {column.path or column.name!r}: {physical} {kind if kind != 'None' else column.converted} {why}"
        )

    if column.nested:
        raise unsupported("is nested (repeated or in a group); the export writes flat columns only")
    if kind == "Decimal" or column.converted == "DECIMAL":
        precision = int(column.logical.get("precision", column.precision))
        scale = int(column.logical.get("scale", column.scale))
        if physical not in {"INT32", "INT64", "FIXED_LEN_BYTE_ARRAY", "BYTE_ARRAY"}:
            raise unsupported("is a decimal on a physical type Athena does not read as decimal")
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise unsupported(f"is decimal({precision},{scale}); Athena decimals stop at precision 38")
        return f"decimal({precision},{scale})"
    if kind == "Int" or column.converted in _CONVERTED_INT:
        if kind == "Int":
            width, signed = int(column.logical["bitWidth"]), bool(column.logical["isSigned"])
        else:
            width, signed = _CONVERTED_INT[column.converted]
        mapped = _INT_TYPES.get((width, signed)) or _UINT_TYPES.get((width, signed))
        expected_physical = "INT64" if width == 64 else "INT32"
        if mapped is None or physical != expected_physical:
            raise unsupported("has no Athena integer type that holds every value")
        return mapped
    if kind in _STRING_LOGICAL or column.converted in _STRING_CONVERTED:
        if physical != "BYTE_ARRAY":
            raise unsupported("is a string annotation on a non-BYTE_ARRAY column")
        return "string"
    if kind == "Date" or column.converted == "DATE":
        if physical != "INT32":
            raise unsupported("is a date on a physical type other than INT32")
        return "date"
    if kind == "Timestamp" or column.converted in {"TIMESTAMP_MILLIS", "TIMESTAMP_MICROS"}:
        unit = str(column.logical.get("timeUnit", column.converted.rsplit("_", 1)[-1].lower()))
        if physical != "INT64" or unit not in {"milliseconds", "microseconds", "millis", "micros"}:
            raise unsupported(f"is a timestamp in {unit}; Athena reads INT64 millis or micros")
        return "timestamp"
    if kind != "None" or column.converted not in {"NONE", "None"}:
        # Time, UUID, Interval, Map, List, Float16, Bson, Unknown ...: nothing in the export writes them, and no
        # catalog type is known to read them correctly.
        raise unsupported("has no known Athena type")
    plain = {
        "BOOLEAN": "boolean",
        "INT32": "int",
        "INT64": "bigint",
        "INT96": "timestamp",  # legacy Impala/Spark timestamps, read by Athena as timestamp
        "FLOAT": "float",
        "DOUBLE": "double",
        "BYTE_ARRAY": "binary",
        "FIXED_LEN_BYTE_ARRAY": "binary",
    }
    if physical not in plain:
        raise unsupported("is an unknown physical type")
    return plain[physical]


def _is_text(type_: pa.DataType) -> bool:
    """An Arrow string column (the export's BYTE_ARRAY UTF8, read as string or large_string)."""
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


@dataclass(frozen=True)
class FileSchema:
    """What the footer of one Parquet file says."""

    key: str
    columns: tuple[tuple[str, str], ...]  # (original name, athena type), in file order
    rows: int
    arrow_schema: pa.Schema | None = field(default=None, compare=False)  # what pyarrow reads (restored_schema)
    # min/max of every string column in the row groups' statistics: scale evidence read with the footer
    text_samples: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # string columns whose statistics hold a value that is not UTF-8: their values are counted (count_invalid_text)
    invalid_text: tuple[str, ...] = field(default=(), compare=False)
    # per column (name, nulls, min, max) over the row groups' statistics, None where a statistic is missing: with the
    # row count, the fingerprint that tells a partition's rows inside its parent's export (partition_relations)
    summary: tuple[tuple[str, int | None, Any, Any], ...] = field(default=(), compare=False)


def table_columns(files: Sequence[FileSchema]) -> list[tuple[str, str]]:
    """The table's columns (catalog name, type) once every file agrees; TableError naming what differs."""
    if not files:
        raise TableError("no Parquet files to take a schema from")
    reference = files[0]
    for other in files[1:]:
        if other.columns != reference.columns:
            ref, oth = dict(reference.columns), dict(other.columns)
            diffs = [
                f"{name}: {ref.get(name, '(absent)')} vs {oth.get(name, '(absent)')}"
                for name in sorted(set(ref) | set(oth))
                if ref.get(name) != oth.get(name)
            ] or ["same columns in a different order"]
            raise TableError(f"files disagree on the schema: {reference.key} vs {other.key}: {'; '.join(diffs)}")
    seen: dict[str, str] = {}
    columns = []
    for name, type_ in reference.columns:
        lowered = name.lower()
        if lowered in seen:
            raise TableError(
                f"columns {seen[lowered]!r} and {name!r} are equal but for case; Athena cannot tell them apart"
            )
        if lowered == PARTITION_KEY:
            raise TableError(f"column {name!r} clashes with the partition key {PARTITION_KEY!r}")
        seen[lowered] = name
        columns.append((lowered, type_))
    return columns


# ==================================================================================================
# 3b. Restored types (pure): export text -> exact typed values
# ==================================================================================================
# The export writes PostgreSQL date/time and numeric values (and MySQL DATE) as strings [FACTS "Type conversion
# done by the export"], LIKELY in PostgreSQL's own text output [FACTS "PostgreSQL values inside the export's
# string columns"]. These functions decide, per column, which catalog type restores the source type exactly
# (docs/sor-job.md "Restored types"), and turn a column's strings into that type with pyarrow.compute only (no
# Python loop per value). A value the target type cannot hold exactly, or that Athena would show differently
# from PostgreSQL, is never NULLed silently nor replaced by a sentinel: it is flagged in `Restored.rejected`, and
# the caller keeps it as text elsewhere.
#
# Calendar: PostgreSQL's is the proleptic Gregorian one, and so are Parquet DATE/TIMESTAMP (days/microseconds since
# 1970-01-01) and Trino's java.time. The day count is computed here with integer arithmetic (Hinnant's
# days_from_civil), never through a library that rebases to the Julian calendar before 1582.
#
# Accepted range: years 0001..9999 AD (for timestamptz: after conversion to UTC). Parquet and Trino hold more, but
# Athena shows a year outside it differently from PostgreSQL: Trino prints java.time's ISO-8601 proleptic years,
# so PostgreSQL's "0001-12-31 BC" shows as "0000-12-31" and year 10000 as "+10000-01-01"
# (https://github.com/trinodb/trino/issues/23853, run on Athena), and Hive documents DATE as 0000-01-01 to
# 9999-12-31 (https://hive.apache.org/docs/latest/languagemanual-types_27838462). A literal an analyst copies from
# PostgreSQL would then not find its row, so such values are rejected (kept as text), not shifted.
#
# Timestamp type: Arrow timestamp("us") with no zone, i.e. Parquet TIMESTAMP(isAdjustedToUTC=false, MICROS). That
# is Parquet's "local semantics" timestamp, the representation of a SQL `timestamp` (Trino writes its own Hive
# timestamps that way: https://github.com/trinodb/trino/issues/9438, https://github.com/trinodb/trino/pull/9465),
# so no reader shifts it by a zone; isAdjustedToUTC=true marks an instant that Trino's Hive connector may convert
# to hive.parquet.time-zone on read (https://github.com/trinodb/trino/pull/22577). timestamptz values are
# converted to UTC here and written the same way; the column comment says UTC.
POSTGRESQL = "postgresql"
MYSQL = "mysql"
MAX_DECIMAL_PRECISION = 38  # Athena/Trino decimal(p,s): 1 <= p <= 38 (docs/aws-facts.md "Athena ... and types")
MIN_YEAR, MAX_YEAR = 1, 9999  # see "Accepted range" above
# When more than this share of a column's non-NULL values does not even have the expected shape, the format
# assumption is wrong (not the data): the caller fails the table with sample values.
MALFORMED_SHARE_LIMIT = 0.5
_MICROS_PER_DAY = 86_400_000_000
_MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01 00:00:00 UTC
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31 23:59:59.999999 UTC
# Athena's view is the rule for sub-millisecond digits (docs/sor-job.md "Restored types", "Athena's millisecond
# view"): Athena reads and shows Hive timestamps at millisecond precision ("Currently, Amazon Athena and Glue can
# handle only millisecond precision for TIMESTAMP values", AWS DMS S3Settings.ParquetTimestampInMillisecond), and
# Trino turns epoch microseconds into milliseconds with Timestamps.epochMicrosToMillisWithRounding, i.e. roundDiv:
# (v + 500) / 1000 for v >= 0 and (v + 1 - 500) / 1000 below, half up towards the future on both sides of 1970.
# A value from hh:mm:59.9995 on is shown as the next millisecond, and at 23:59:59.9995 as the next day (on
# 9999-12-31, as year +10000): only those are rejected; every other value keeps its microseconds in the file.
_LAST_MICRO_SHOWN_SAME_DAY = _MICROS_PER_DAY - 500  # time-of-day micros from here on round into the next day
_WHOLE_CYCLES = 5 * 146_097 * _MICROS_PER_DAY  # 2000 Gregorian years of whole days: lifts year 1 above 1970


class Restore(StrEnum):
    """How a string column is restored."""

    DATE = "date"  # YYYY-MM-DD[ BC] -> date
    TIMESTAMP = "timestamp"  # YYYY-MM-DD HH:MM:SS[.f] [BC] -> timestamp (wall time, as PostgreSQL stores it)
    TIMESTAMP_FROM_UTC_OFFSET = "timestamp_from_utc_offset"  # ... ±HH[:MM[:SS]] -> timestamp in UTC (converted)
    DECIMAL = "decimal"  # [-]digits[.digits] -> decimal(p,s)


@dataclass(frozen=True)
class Restoration:
    """One string column to restore: its catalog type and the Arrow type written to Parquet."""

    column: str
    restore: Restore
    catalog_type: str  # "date" | "timestamp" | "decimal(p,s)"
    arrow_type: pa.DataType
    source_type: str  # originalType as the export metadata spells it (modifiers included when present)
    precision: int | None = None  # decimal only: the catalog precision
    scale: int | None = None  # decimal only: None until decided (from the metadata or the data: numeric_scale)

    def comment(self) -> str:
        if self.restore is Restore.TIMESTAMP_FROM_UTC_OFFSET:
            restored = "timestamp in UTC (converted from the source's offset)"
        else:
            restored = self.catalog_type
        return f"source type: {self.source_type}, restored as {restored}"


@dataclass(frozen=True)
class KeptAsText:
    """One string column that stays a string, and why."""

    column: str
    source_type: str
    reason: str


_STAYS_TEXT = {
    "time without time zone": "no catalog time type: Athena has no time column type for Hive tables",
    "time with time zone": "no catalog time type; an offset without a date cannot be converted to UTC",
    "interval": "no Athena column type holds a PostgreSQL interval (months, days and microseconds together)",
    "uuid": "Athena's uuid type is not a Hive column type; the text is the canonical form already",
    "json": "json is text in the catalog (query it with json_extract)",
    "jsonb": "json is text in the catalog (query it with json_extract)",
    "ARRAY": "the export writes arrays as PostgreSQL array text {...}, not Parquet lists",
    "money": "money text depends on the source's lc_monetary (currency symbol, separators)",
    "USER-DEFINED": "enums, composites and extension types have no fixed catalog type",
    "xml": "no Athena xml type",
}
_TEXT_WORDS = {"time": "time without time zone", "timetz": "time with time zone"}


def _engine(engine: str) -> str | None:
    lowered = engine.lower()
    if "postgres" in lowered:
        return POSTGRESQL
    if "mysql" in lowered or "mariadb" in lowered:
        return MYSQL
    return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _split_type(original: str) -> tuple[str, list[int]]:
    """("numeric", [12, 2]) from "numeric(12,2)"; ("timestamp with time zone", [3]) from
    "timestamp(3) with time zone"; modifiers are what the older emulator shape carried."""
    text = " ".join(original.strip().split())
    params = [int(p) for p in re.findall(r"-?\d+", " ".join(re.findall(r"\(([^)]*)\)", text)))]
    base = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    return base, params


def _pg_rule(column: str, original: str, entry: Mapping[str, Any]) -> Restoration | KeptAsText:
    base, params = _split_type(original)
    lowered = base.lower()
    if lowered.endswith("[]") or lowered.startswith("_") or base == "ARRAY":
        return KeptAsText(column, original, _STAYS_TEXT["ARRAY"])
    if lowered in {"date"}:
        return Restoration(column, Restore.DATE, "date", pa.date32(), original)
    if lowered in {"timestamp", "timestamp without time zone"}:
        return Restoration(column, Restore.TIMESTAMP, "timestamp", pa.timestamp("us"), original)
    if lowered in {"timestamptz", "timestamp with time zone"}:
        return Restoration(column, Restore.TIMESTAMP_FROM_UTC_OFFSET, "timestamp", pa.timestamp("us"), original)
    if lowered in {"numeric", "decimal"}:
        precision = params[0] if params else _int_or_none(entry.get("originalNumPrecision"))
        if not precision or precision <= 0:
            return KeptAsText(column, original, "unconstrained numeric: any scale, up to 131072 digits")
        scale = params[1] if len(params) > 1 else (0 if len(params) == 1 else None)  # numeric(p) means scale 0
        if scale is not None and scale < 0:
            # numeric(p,-k) (PostgreSQL 15+) rounds to 10^k and prints an integer of up to p+k digits
            precision, scale = precision - scale, 0
        elif scale is not None and scale > precision:
            precision = scale  # numeric(p,s) with s > p holds |v| < 10^(p-s) < 1: decimal(s,s) holds it exactly
        if precision > MAX_DECIMAL_PRECISION:
            return KeptAsText(column, original, f"precision {precision} exceeds Athena's decimal limit of 38")
        rule = Restoration(column, Restore.DECIMAL, "decimal", pa.string(), original, precision, None)
        return rule if scale is None else with_scale(rule, scale)
    word = _TEXT_WORDS.get(lowered, lowered)
    for known, reason in _STAYS_TEXT.items():
        if word == known.lower():
            return KeptAsText(column, original, reason)
    if lowered.endswith("range") or lowered.endswith("multirange"):
        return KeptAsText(column, original, "no Athena range type")
    return KeptAsText(column, original, "no exact catalog type known for this source type: kept as the export's text")


def _mysql_rule(column: str, original: str) -> Restoration | KeptAsText:
    base, _ = _split_type(original)
    if base.lower() == "date":
        return Restoration(column, Restore.DATE, "date", pa.date32(), original)
    reasons = {
        "time": "MySQL TIME is a duration up to ±838:59:59: no Athena column type holds it",
        "decimal": "decimal above precision 38 (the export writes the others as Parquet DECIMAL)",
        "json": "json is text in the catalog (query it with json_extract)",
    }
    return KeptAsText(column, original, reasons.get(base.lower(), "text in the source (or no exact catalog type)"))


def restoration_rules(
    engine: str, mappings: Sequence[Mapping[str, Any]] | None, parquet_string_columns: Collection[str]
) -> dict[str, Restoration | KeptAsText]:
    """For every Parquet string column: how it is restored, or why it stays text.

    `mappings` is the table's originalTypeMappings (None when the entry, its schemaMetadata or the metadata file is
    missing). Both shapes are read: information_schema words with originalNumPrecision (the real export; no scale
    key) and the older modifiers form (`numeric(12,2)`, `timestamp(3) with time zone`). A decimal whose scale is
    not in the metadata comes back with scale None: decide it with numeric_scale and with_scale before restoring.
    Columns that are not strings in Parquet are never restored (a MySQL DATETIME is already a TIMESTAMP).
    """
    kind = _engine(engine)
    by_name: dict[str, Mapping[str, Any]] = {}
    by_lower: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in mappings or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("columnName"), str):
            by_name[entry["columnName"]] = entry
            by_lower[entry["columnName"].lower()].append(entry)
    rules: dict[str, Restoration | KeptAsText] = {}
    for column in parquet_string_columns:
        entry = by_name.get(column) or (by_lower[column.lower()][0] if len(by_lower[column.lower()]) == 1 else None)
        original = str(entry.get("originalType") or "") if entry else ""
        if kind is None:
            rules[column] = KeptAsText(column, original, f"unknown source engine {engine!r}")
        elif mappings is None:
            rules[column] = KeptAsText(column, original, "no export metadata for this table: source type unknown")
        elif not original:
            rules[column] = KeptAsText(column, original, "the export metadata gives no source type for this column")
        elif kind == POSTGRESQL:
            rules[column] = _pg_rule(column, original, entry or {})
        else:
            rules[column] = _mysql_rule(column, original)
    return rules


_NUMERIC_TEXT = re.compile(r"^-?(\d+)(?:\.(\d+))?$")


def numeric_scale(samples: Iterable[str | None]) -> int | None:
    """The scale of a numeric column from some of its values as text; None when no sample is a number.

    PostgreSQL prints numeric(p,s) with exactly s digits after the point (tests/data/pg_text.json), so one value
    decides; NULL, NaN, ±Infinity and text that is not a plain decimal say nothing. If samples disagree, the largest
    count wins: every value is then exact at that scale (a shorter fraction pads with zeros), none is rounded.
    Samples are a handful (footer statistics min/max, or the first values of the column): a loop is fine here.
    """
    scales = [len(m.group(2) or "") for s in samples if s is not None and (m := _NUMERIC_TEXT.match(s.strip()))]
    return max(scales) if scales else None


def statistics_samples(metadata: pq.FileMetaData, column: str) -> tuple[list[str], bool]:
    """The min and max of a string column in every row group's footer statistics (no data read), and whether one
    of them is not UTF-8. The raw bytes are decoded here: pyarrow's own `min`/`max` raise UnicodeDecodeError on such
    a value (a SQL_ASCII database's Latin-1 text), which says nothing about a scale and must not stop the run."""
    names = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if column not in names:
        return [], False
    index = names.index(column)
    samples: list[str] = []
    invalid = False
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            continue
        for raw in (stats.min_raw, stats.max_raw):
            try:
                samples.append(raw.decode() if isinstance(raw, bytes) else str(raw))
            except UnicodeDecodeError:
                invalid = True
    return samples, invalid


def with_scale(rule: Restoration, scale: int) -> Restoration:
    """The decimal rule with its scale decided; precision grows to the scale when s > p (see _pg_rule)."""
    if rule.restore is not Restore.DECIMAL or rule.precision is None:
        raise ValueError(f"column {rule.column!r} is not a decimal restoration")
    if scale < 0:
        raise ValueError(f"column {rule.column!r}: negative scale {scale}")
    precision = max(rule.precision, scale)
    if precision > MAX_DECIMAL_PRECISION:
        raise ValueError(f"column {rule.column!r}: scale {scale} needs decimal({precision},{scale}), above 38")
    return dataclasses.replace(
        rule, catalog_type=f"decimal({precision},{scale})", arrow_type=pa.decimal128(precision, scale),
        precision=precision, scale=scale,
    )  # fmt: skip


@dataclass(frozen=True)
class RestoreCounts:
    """Counts of one column's values; add those of several row groups to judge a whole column."""

    non_null: int = 0
    rejected: int = 0
    malformed: int = 0

    def __add__(self, other: RestoreCounts) -> RestoreCounts:
        return RestoreCounts(
            self.non_null + other.non_null, self.rejected + other.rejected, self.malformed + other.malformed
        )


@dataclass(frozen=True)
class Restored:
    """The restored values of one column (or row group) and what could not be restored."""

    values: pa.Array  # the rule's arrow_type; NULL where the source is NULL or the value was rejected
    rejected: pa.Array  # bool, never null: True where a non-NULL source value could not be held exactly
    malformed: pa.Array  # bool, never null: True where the text does not have the expected shape (subset of rejected)
    non_null: int = 0  # non-NULL source values

    def counts(self) -> RestoreCounts:
        return RestoreCounts(self.non_null, _true_count(self.rejected), _true_count(self.malformed))


def _true_count(mask: pa.Array) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def format_assumption_broken(result: Restored | RestoreCounts) -> bool:
    """True when more than MALFORMED_SHARE_LIMIT of the non-NULL values do not have the expected shape at all:
    the text is not what this code assumes PostgreSQL prints, so the caller fails the table with sample values
    instead of publishing a column of rejects. Well-formed values that are only out of range (infinity, BC, NaN,
    digits beyond the precision) never count here."""
    counts = result.counts() if isinstance(result, Restored) else result
    return counts.non_null > 0 and counts.malformed > MALFORMED_SHARE_LIMIT * counts.non_null


_DATE_SHAPE = r"(?P<y>\d{4,7})-(?P<m>\d\d)-(?P<d>\d\d)"
_TIME_SHAPE = r" (?P<hh>\d\d):(?P<mi>\d\d):(?P<ss>\d\d)(?:\.(?P<f>\d{1,6}))?"
_OFFSET_SHAPE = r"(?P<sign>[+-])(?P<oh>\d\d)(?::(?P<om>\d\d))?(?::(?P<os>\d\d))?"
_SHAPES = {
    Restore.DATE: f"^{_DATE_SHAPE}(?P<bc> BC)?$",
    Restore.TIMESTAMP: f"^{_DATE_SHAPE}{_TIME_SHAPE}(?P<bc> BC)?$",
    Restore.TIMESTAMP_FROM_UTC_OFFSET: f"^{_DATE_SHAPE}{_TIME_SHAPE}{_OFFSET_SHAPE}(?P<bc> BC)?$",
    Restore.DECIMAL: r"^(?P<neg>-)?(?P<int>\d+)(?:\.(?P<frac>\d+))?$",
}
# Well-formed values that no target type holds: PostgreSQL's special values (numeric Infinity since PG 14).
_SPECIAL = {
    Restore.DATE: ["infinity", "-infinity"],
    Restore.TIMESTAMP: ["infinity", "-infinity"],
    Restore.TIMESTAMP_FROM_UTC_OFFSET: ["infinity", "-infinity"],
    Restore.DECIMAL: ["NaN", "Infinity", "-Infinity"],
}


def _field_int(parts: pa.StructArray, name: str, default: str = "0") -> pa.Array:
    """A regex group as int64; an empty group (optional, or a row that did not match) reads `default`."""
    text = parts.field(name)
    return pc.cast(pc.if_else(pc.equal(text, ""), default, text), pa.int64())


def _and(*masks: pa.Array) -> pa.Array:
    out = masks[0]
    for mask in masks[1:]:
        out = pc.and_(out, mask)
    return out


def _between(values: pa.Array, low: int, high: int) -> pa.Array:
    return pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))


def _days_from_civil(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.Array:
    """Days since 1970-01-01 of proleptic Gregorian (astronomical year, month, day), Hinnant's days_from_civil.
    Years are shifted by 12 x 400 years (a whole number of Gregorian cycles of 146097 days) so every quotient is of
    non-negative numbers, where pyarrow's truncating integer division is floor division."""
    shift = 12
    y = pc.subtract(pc.add(year, 400 * shift), pc.cast(pc.less_equal(month, 2), pa.int64()))
    era = pc.divide(y, 400)
    yoe = pc.subtract(y, pc.multiply(era, 400))
    mp = pc.subtract(pc.add(month, 9), pc.multiply(pc.cast(pc.greater(month, 2), pa.int64()), 12))
    doy = pc.add(pc.divide(pc.add(pc.multiply(mp, 153), 2), 5), pc.subtract(day, 1))
    doe = pc.add(
        pc.subtract(pc.add(pc.multiply(yoe, 365), pc.divide(yoe, 4)), pc.divide(yoe, 100)),
        doy,
    )
    return pc.subtract(pc.add(pc.multiply(era, 146097), doe), 719468 + 146097 * shift)


def _days_in_month(year: pa.Array, month: pa.Array) -> pa.Array:
    leap = pc.and_(
        pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 4), 4)), 0),
        pc.or_(
            pc.not_equal(pc.subtract(year, pc.multiply(pc.divide(year, 100), 100)), 0),
            pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 400), 400)), 0),
        ),
    )
    lengths = pa.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
    base = pc.take(lengths, pc.subtract(pc.min_element_wise(pc.max_element_wise(month, 1), 12), 1))
    return pc.add(base, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int64()))


def _datetime_micros(parts: pa.StructArray, rule: Restore) -> tuple[pa.Array, pa.Array]:
    """(microseconds since 1970-01-01 UTC, every field in range) of matched rows; other rows compute garbage."""
    year_of_era = _field_int(parts, "y", "1970")
    bc = pc.equal(parts.field("bc"), " BC")
    # PostgreSQL's BC years have no year 0: 1 BC is astronomical year 0 (a leap year, as the calendar says)
    year = pc.if_else(bc, pc.subtract(1, year_of_era), year_of_era)
    year_shifted = pc.add(year, 400 * 12)  # non-negative for _days_in_month's truncating divisions
    month, day = _field_int(parts, "m", "1"), _field_int(parts, "d", "1")
    valid = _and(
        pc.greater_equal(year_of_era, 1),
        _between(month, 1, 12),
        pc.greater_equal(day, 1),
        pc.less_equal(day, _days_in_month(year_shifted, month)),
    )
    # PostgreSQL dates reach 5874897 AD, where int64 microseconds overflow; past 9999 everything is rejected anyway,
    # so such rows compute from a placeholder year and cannot wrap around into the accepted range
    valid = pc.and_(valid, _between(year, -4712, MAX_YEAR + 1))
    safe_year = pc.if_else(valid, year, 1970)
    days = _days_from_civil(safe_year, pc.if_else(valid, month, 1), pc.if_else(valid, day, 1))
    if rule is Restore.DATE:
        return days, valid
    hh, mi, ss = _field_int(parts, "hh"), _field_int(parts, "mi"), _field_int(parts, "ss")
    fraction = pc.cast(pc.utf8_rpad(parts.field("f"), width=6, padding="0"), pa.int64())
    valid = _and(valid, _between(hh, 0, 23), _between(mi, 0, 59), _between(ss, 0, 59))
    seconds = pc.add(pc.add(pc.multiply(hh, 3600), pc.multiply(mi, 60)), ss)
    if rule is Restore.TIMESTAMP_FROM_UTC_OFFSET:
        oh, om, os_ = _field_int(parts, "oh"), _field_int(parts, "om"), _field_int(parts, "os")
        valid = _and(valid, _between(oh, 0, 15), _between(om, 0, 59), _between(os_, 0, 59))
        offset = pc.add(pc.add(pc.multiply(oh, 3600), pc.multiply(om, 60)), os_)
        # local = UTC + offset, so UTC = local - offset
        seconds = pc.subtract(seconds, pc.if_else(pc.equal(parts.field("sign"), "-"), pc.negate(offset), offset))
    micros = pc.add(pc.multiply(pc.add(pc.multiply(days, 86_400), seconds), 1_000_000), fraction)
    return micros, valid


def _decimal_values(parts: pa.StructArray, matched: pa.Array, rule: Restoration) -> tuple[pa.Array, pa.Array]:
    precision, scale = rule.precision or 0, rule.scale or 0
    integer = pc.utf8_ltrim(parts.field("int"), characters="0")
    fraction = parts.field("frac")
    significant = pc.utf8_rtrim(fraction, characters="0")
    fits = _and(
        pc.less_equal(pc.utf8_length(integer), precision - scale),
        pc.less_equal(pc.utf8_length(significant), scale),  # extra zeros after the scale lose nothing
    )
    ok = pc.and_(matched, fits)
    # Only rows that fit reach the cast (which would raise on the others); the text is exact at the scale.
    sign = pc.if_else(pc.equal(parts.field("neg"), "-"), "-", "")
    # no ".0" on integers: "<38 nines>.0" would need 39 digits before the cast rescales it
    point = pc.if_else(pc.equal(significant, ""), "", ".")
    whole = pc.if_else(pc.equal(integer, ""), "0", integer)
    normalized = pc.binary_join_element_wise(sign, whole, point, significant, "")
    values = pc.cast(pc.if_else(ok, normalized, "0"), rule.arrow_type)
    return values, ok


# Fast path. Almost every value has a common shape whose fields are all possible: a 4-digit year, a day that every
# year's month has (29 February is left to the regex path), an hour below 24, an offset within PostgreSQL's ±15:59.
# _FAST_SHAPES admits only those (a match without captures, which RE2 runs as a DFA, several times faster than
# extract_regex), so Arrow's own ISO-8601 cast parses them without raising; its proleptic Gregorian day count and
# its UTC conversion of the offset are the regex path's arithmetic, and the same range check follows. Every fast
# shape is a strict subset of its _SHAPES entry; every other value (BC, 5+ digit years, ±HH:MM:SS offsets, leap
# days, specials, malformed text) takes the regex path, so a value gets the same result on either path
# (tests/glue/test_restore.py compares them on mixed inputs).
_FAST_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"  # months of 31 days
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"  # of 30 days
    r"|02-(?:0[1-9]|1\d|2[0-8]))"  # February but its 29th
)
# Four digits but 0000: PostgreSQL never prints a year 0 (1 BC is "0001 BC"), and the regex path rejects it as an
# impossible field; left to that path, a year-0 value shifted into 0001 by a negative offset cannot be accepted here.
_FAST_YEAR = r"(?:[1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9])"
_FAST_TIMESTAMP = rf"{_FAST_YEAR}-{_FAST_MONTH_DAY} (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{{1,6}})?"
_FAST_SHAPES = {
    Restore.DATE: rf"^{_FAST_YEAR}-{_FAST_MONTH_DAY}$",
    Restore.TIMESTAMP: f"^{_FAST_TIMESTAMP}$",
    Restore.TIMESTAMP_FROM_UTC_OFFSET: rf"^{_FAST_TIMESTAMP}[+-](?:0\d|1[0-5])(?::[0-5]\d)?$",
}
# What Arrow's cast parses each fast shape as (a zoned type makes it apply the offset); storage is days or micros.
_FAST_PARSED = {
    Restore.DATE: pa.date32(),
    Restore.TIMESTAMP: pa.timestamp("us"),
    Restore.TIMESTAMP_FROM_UTC_OFFSET: pa.timestamp("us", tz="UTC"),
}


def _fast_shape(rule: Restoration) -> str | None:
    """The regex of the values the fast path restores; None when the rule has no fast path."""
    if rule.restore is not Restore.DECIMAL:
        return _FAST_SHAPES[rule.restore]
    precision, scale = rule.precision or 0, rule.scale or 0
    if precision <= scale:  # decimal(s,s): "0.5" has a zero beyond its digits, left to the regex path
        return None
    # at most p-s digits before the point and s after it: the value fits, so the cast neither rounds nor raises
    fraction = rf"(?:\.\d{{1,{scale}}})?" if scale else ""
    return rf"^-?\d{{1,{precision - scale}}}{fraction}$"


def _same_day_in_athena(micros: pa.Array) -> pa.Array:
    """True where Athena's millisecond rounding keeps the timestamp on its own day (see _LAST_MICRO_SHOWN_SAME_DAY).
    The time of day is the floor modulo of a day, taken on values lifted by whole 400-year cycles so that pyarrow's
    truncating division is floor division for every accepted value (year 1 and later)."""
    lifted = pc.add(micros, _WHOLE_CYCLES)
    time_of_day = pc.subtract(lifted, pc.multiply(pc.divide(lifted, _MICROS_PER_DAY), _MICROS_PER_DAY))
    return pc.less(time_of_day, _LAST_MICRO_SHOWN_SAME_DAY)


def _accepted(number: pa.Array, rule: Restore) -> pa.Array:
    """The accepted range (years 0001..9999), and for timestamps the same day as Athena shows it."""
    low, high = _range(rule)
    inside = _between(number, low, high)
    return inside if rule is Restore.DATE else pc.and_(inside, _same_day_in_athena(number))


def _range(rule: Restore) -> tuple[int, int]:
    """The accepted values' storage range: days for a date, microseconds otherwise."""
    if rule is Restore.DATE:
        return _MIN_MICROS // _MICROS_PER_DAY, _MAX_MICROS // _MICROS_PER_DAY
    return _MIN_MICROS, _MAX_MICROS


def _restored(text: pa.Array, values: pa.Array, ok: pa.Array, malformed: pa.Array) -> Restored:
    """The Restored of `text` from `values`, kept where `ok` (a NULL in `ok` is not ok)."""
    ok = pc.fill_null(ok, False)
    return Restored(
        values=pc.if_else(ok, values, pa.nulls(len(text), values.type)),
        rejected=pc.and_(pc.is_valid(text), pc.invert(ok)),
        malformed=malformed,
        non_null=len(text) - text.null_count,
    )


def restore_values_by_regex(text: pa.Array, rule: Restoration) -> Restored:
    """restore_values' exact path for every shape, on a string array: the reference the fast path is tested
    against (restore_values checks the rule first)."""
    present = pc.is_valid(text)
    parts = pc.extract_regex(text, _SHAPES[rule.restore])
    matched = pc.fill_null(pc.is_valid(parts), False)
    special = pc.fill_null(pc.is_in(text, value_set=pa.array(_SPECIAL[rule.restore], pa.string())), False)
    if rule.restore is Restore.DECIMAL:
        restored, ok = _decimal_values(parts, matched, rule)
    else:
        number, in_range = _datetime_micros(parts, rule.restore)
        ok = _and(matched, in_range, _accepted(number, rule.restore))
        storage = pa.int32() if rule.restore is Restore.DATE else pa.int64()
        restored = pc.cast(pc.cast(pc.if_else(ok, number, 0), storage), rule.arrow_type)
    return _restored(text, restored, ok, _and(present, pc.invert(matched), pc.invert(special)))


def _restore_fast(text: pa.Array, rule: Restoration) -> Restored:
    """restore_values of values that are NULL or match _fast_shape(rule): none is malformed. Raises
    pa.ArrowInvalid if Arrow's cast refuses one (the fast shapes are chosen so that it cannot)."""
    never = pc.is_valid(pa.nulls(len(text)))  # all False
    if rule.restore is Restore.DECIMAL:
        return _restored(text, pc.cast(text, rule.arrow_type), pc.is_valid(text), never)
    storage = pa.int32() if rule.restore is Restore.DATE else pa.int64()
    number = pc.cast(text, _FAST_PARSED[rule.restore]).view(storage)
    return _restored(text, number.view(rule.arrow_type), _accepted(number, rule.restore), never)


def _scatter(where: pa.Array, when_true: pa.Array, when_false: pa.Array) -> pa.Array:
    """One array from two: `when_true` in order at the positions where `where` is True, `when_false` elsewhere."""
    out = pc.replace_with_mask(pa.nulls(len(where), when_true.type), where, when_true)
    return pc.replace_with_mask(out, pc.invert(where), when_false)


def restore_values(values: pa.Array | pa.ChunkedArray, rule: Restoration) -> Restored:
    """The column's strings as `rule.arrow_type`, exactly; see Restored for what is flagged.

    Shapes (PostgreSQL's ISO output, docs/sor-job.md "Restored types"): date `Y-MM-DD[ BC]` (4 to 7 year digits),
    timestamp `Y-MM-DD HH:MM:SS[.f{1,6}][ BC]`, timestamptz the same with `±HH[:MM[:SS]]` before ` BC`, numeric
    `[-]digits[.digits]`. Rejected but well-formed: infinity, -infinity, NaN, ±Infinity, impossible fields (month
    13, Feb 30, MySQL's 0000-00-00), years outside 0001..9999 AD (for timestamptz after conversion to UTC), digits
    beyond the decimal's precision or scale (trailing zeros beyond the scale are exact and accepted).
    Values of the common shapes take the fast path (_FAST_SHAPES), the others the regex path, with the same results.
    """
    if rule.restore is Restore.DECIMAL and rule.scale is None:
        raise ValueError(f"column {rule.column!r}: decide the scale first (numeric_scale, with_scale)")
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    text = pc.cast(text, pa.string())
    shape = _fast_shape(rule)
    if shape is None:
        return restore_values_by_regex(text, rule)
    fast = pc.fill_null(pc.match_substring_regex(text, shape), True)  # a NULL has nothing to parse
    slow_count = len(text) - _true_count(fast)
    if slow_count == len(text):
        return restore_values_by_regex(text, rule)
    try:
        if slow_count == 0:
            return _restore_fast(text, rule)
        quick = _restore_fast(pc.filter(text, fast), rule)
    except pa.ArrowInvalid:  # not expected (see _FAST_SHAPES); the regex path is exact for every value
        return restore_values_by_regex(text, rule)
    slow = restore_values_by_regex(pc.filter(text, pc.invert(fast)), rule)
    return Restored(
        values=_scatter(fast, quick.values, slow.values),
        rejected=_scatter(fast, quick.rejected, slow.rejected),
        malformed=_scatter(fast, quick.malformed, slow.malformed),
        non_null=quick.non_null + slow.non_null,
    )


# ==================================================================================================
# 4. Plan: what the export holds (pure)
# ==================================================================================================
@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class ExportedTable:
    """One exported table: its folder and Parquet files, and what the export's metadata says of it."""

    database: str
    folder: str  # "<schema>.<table>" or "<database>.<table>", as in S3
    prefix: str  # key prefix of the table folder, ending with "/"
    files: tuple[S3Object, ...]
    export_status: str  # upper-case, as the export metadata says; "UNKNOWN" when the metadata does not list the table
    original_types: Mapping[str, str] = field(default_factory=dict)
    # originalTypeMappings exactly as the metadata gives them; None when the metadata, the table's entry or its
    # schemaMetadata is missing (restoration_rules then keeps every string column as text)
    type_mappings: tuple[Mapping[str, Any], ...] | None = None

    @property
    def source(self) -> str:
        return f"{self.database}.{self.folder}"


@dataclass(frozen=True)
class ExportPlan:
    tables: tuple[ExportedTable, ...]
    snapshot_time: str | None
    warnings: tuple[str, ...]
    ignored_objects: int


def _hidden(relative_key: str) -> bool:
    """Hadoop/Hive convention: path components starting with '_' or '.' are not data."""
    return any(part.startswith(("_", ".")) for part in relative_key.split("/")[:-1]) or relative_key.rsplit("/", 1)[
        -1
    ].startswith(("_", "."))


def _metadata_target_matches(target: str, database: str, folder: str) -> bool:
    # PostgreSQL targets read "db.schema.table" = "<database>.<folder>"; MySQL ones may read "db.table" = the
    # folder itself [FACTS "The export in S3", shape UNVERIFIED]. S3 paths replace \ ` " and space with "_".
    clean = re.sub(r'[\\`" ]', "_", target)
    return clean == f"{database}.{folder}" or (clean == folder and folder.startswith(f"{database}."))


def type_mappings(entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    """A perTableStatus entry's originalTypeMappings: its entries that are objects, or None when the entry has no
    such list (undocumented shapes, docs/aws-facts.md "Export metadata files": the table's columns then have no
    source type, and no column is restored for want of evidence)."""
    schema_metadata = entry.get("schemaMetadata")
    mappings = schema_metadata.get("originalTypeMappings") if isinstance(schema_metadata, Mapping) else None
    if not isinstance(mappings, list):
        return None
    return tuple(m for m in mappings if isinstance(m, Mapping))


def plan_export(
    root_prefix: str,
    objects: Iterable[S3Object],
    export_info: Mapping[str, Any] | None,
    tables_info: Sequence[Mapping[str, Any]] | None,
    metadata_problems: Sequence[str] = (),
) -> ExportPlan:
    """Groups the export's Parquet objects into tables and joins them with the metadata's per-table status.

    `tables_info` is the concatenated perTableStatus entries, or None when the metadata is missing or unreadable:
    then every folder with Parquet files is taken as complete, with a warning.
    """
    warnings = list(metadata_problems)
    grouped: dict[tuple[str, str], list[S3Object]] = defaultdict(list)
    ignored = 0
    for obj in objects:
        relative = obj.key[len(root_prefix) :]
        parts = relative.split("/")
        if len(parts) < 3 or not obj.key.endswith(".parquet") or _hidden("/".join(parts[2:])):
            ignored += 1
            continue
        grouped[(parts[0], parts[1])].append(obj)

    statuses: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    raw_mappings: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
    unmatched: list[Mapping[str, Any]] = []
    if tables_info is not None:
        folders = set(grouped)
        for entry in tables_info:
            if not isinstance(entry, Mapping):
                warnings.append(f"export_tables_info has an entry that is not an object, ignored: {entry!r}"[:300])
                continue
            target = str(entry.get("target", ""))
            status = str(entry.get("status", "UNKNOWN")).upper()
            mappings = type_mappings(entry)
            types = {str(m.get("columnName", "")).lower(): str(m.get("originalType", "")) for m in mappings or ()}
            match = next((f for f in sorted(folders) if _metadata_target_matches(target, *f)), None)
            if match is None:
                unmatched.append(entry)
                continue
            statuses[match] = (status, types)
            if mappings is not None:
                raw_mappings[match] = mappings
        for entry in unmatched:
            target = str(entry.get("target", ""))
            status = str(entry.get("status", "UNKNOWN")).upper()
            database, _, rest = target.partition(".")
            folder = rest if rest.count(".") >= 1 else target  # MySQL "db.table" is the folder itself
            key = (database, re.sub(r'[\\`" ]', "_", folder))
            if not database or not rest:
                warnings.append(f"export_tables_info has an entry without a usable target: {dict(entry)}")
                continue
            statuses[key] = (status, {})
    else:
        warnings.append("export metadata unavailable: publishing every table folder that holds Parquet files")

    tables = []
    for database, folder in sorted(set(grouped) | set(statuses)):
        files = tuple(sorted(grouped.get((database, folder), []), key=lambda o: o.key))
        status, types = statuses.get((database, folder), ("COMPLETE" if tables_info is None else "UNKNOWN", {}))
        if status == "UNKNOWN":
            warnings.append(f"{database}.{folder} has data but is not listed in export_tables_info")
        tables.append(
            ExportedTable(
                database, folder, f"{root_prefix}{database}/{folder}/", files, status, types,
                raw_mappings.get((database, folder)),
            )
        )  # fmt: skip
    warnings += export_warnings((export_info or {}).get("warningMessage"))
    snapshot_time = (export_info or {}).get("snapshotTime")
    return ExportPlan(tuple(tables), str(snapshot_time) if snapshot_time else None, tuple(warnings), ignored)


# --------------------------------------------------------------------------------------------------
# 4b. Partitioned tables (pure): which exported tables are partitions of another one
# --------------------------------------------------------------------------------------------------
# A PostgreSQL partitioned table is exported as its parent's folder holding every partition's rows, one batch index
# per partition (AWS, "Exporting DB snapshot data to Amazon S3", file naming: "There will be multiple batch indexes,
# one for each of the table partitions of your main table"), and, without ExportOnly, each partition's own folder too
# (a field report: "AWS exports all table data into the parent table folder, as well as each partitioned table's
# data into its own folder", docs/aws-facts.md "Partitioned tables"). Publishing both with no sign would let an
# analyst sum the parent and its partitions: double the truth. The export says nothing of the relation in its
# metadata, and the database is never queried, so it is told from the data's own footprint: a table T is the parent
# of tables S1..Sn when every batch folder of T holds exactly the rows of one of them, by the fingerprint of the
# footers (the same columns and types, row count, and per column the null count, minimum and maximum); with one
# batch only, S's name must also start with T's (PostgreSQL's usual naming), so that a table and its exact copy are
# not taken for a parent and its partition. An empty partition writes no batch in its parent: it is claimed when
# its columns are the parent's and its name starts with the parent's (it holds no row to count twice anyway).
# The parent is published as one table with all its rows; each partition is published too, as its own export
# folder says, with the table parameter `sor.partition_of` = the parent's `sor.source` and a Description saying so.
@dataclass(frozen=True)
class Fingerprint:
    """What the footers say of a group of files: enough to tell the same rows exported twice."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    summary: tuple[tuple[str, int | None, Any, Any], ...]


def fingerprint(schemas: Sequence[FileSchema]) -> Fingerprint | None:
    """The fingerprint of files that agree on their columns; None when they do not (no relation is guessed)."""
    if not schemas or any(s.columns != schemas[0].columns for s in schemas):
        return None
    with_rows = [s for s in schemas if s.rows]
    merged: list[tuple[str, int | None, Any, Any]] = []
    for index, (name, _) in enumerate(schemas[0].columns):
        entries = [s.summary[index] if len(s.summary) > index else (name, None, None, None) for s in with_rows]
        if any(e[1] is None for e in entries):
            merged.append((name, None, None, None))
            continue
        lows = [e[2] for e in entries if e[2] is not None]
        highs = [e[3] for e in entries if e[3] is not None]
        merged.append((name, sum(e[1] for e in entries), min(lows) if lows else None, max(highs) if highs else None))
    return Fingerprint(schemas[0].columns, sum(s.rows for s in schemas), tuple(merged))


def batch_folder(table: ExportedTable, obj: S3Object) -> str | None:
    """The batch index folder of one of the table's files, None for a file directly in the table folder."""
    relative = obj.key[len(table.prefix) :]
    return relative.split("/", 1)[0] if "/" in relative else None


def _schema_and_name(table: ExportedTable) -> tuple[str, str]:
    schema, _, name = table.folder.partition(".")
    return (f"{table.database}.{schema}", name) if name else (table.database, schema)


def partition_relations(tables: Sequence[ExportedTable], schemas: Mapping[str, Sequence[FileSchema]]) -> dict[str, str]:
    """partition's source -> its parent's source, for the tables the export holds both of (see above). `schemas`:
    each table's file schemas by source, in file order (a table whose footers could not be read is left out)."""
    by_schema: dict[str, list[ExportedTable]] = defaultdict(list)
    for table in tables:
        if table.source in schemas:
            by_schema[_schema_and_name(table)[0]].append(table)
    relations: dict[str, str] = {}
    taken: set[str] = set()  # parents and partitions already related: each table has one role
    for group in by_schema.values():
        prints = {t.source: fingerprint(schemas[t.source]) for t in group}
        # the table with the most batch folders first: a parent has one per partition
        for parent in sorted(group, key=lambda t: (-len({batch_folder(t, o) for o in t.files}), t.source)):
            if parent.source in taken:
                continue
            free = [t for t in group if t.source != parent.source and t.source not in taken]
            partitions = _partitions_of(parent, free, prints, schemas[parent.source])
            for partition in partitions:
                relations[partition.source] = parent.source
            taken.update({parent.source} if partitions else set(), (p.source for p in partitions))
    return relations


def _partitions_of(
    parent: ExportedTable,
    candidates: Sequence[ExportedTable],
    prints: Mapping[str, Fingerprint | None],
    parent_schemas: Sequence[FileSchema],
) -> list[ExportedTable]:
    """The candidates that are `parent`'s partitions: every non-empty batch folder of the parent matched by one of
    them (two at least, or one whose name starts with the parent's), then the empty ones named after it."""
    whole = prints[parent.source]
    if whole is None or not parent.files or any(batch_folder(parent, o) is None for o in parent.files):
        return []
    batches: dict[str, list[FileSchema]] = defaultdict(list)
    for obj, schema in zip(parent.files, parent_schemas, strict=True):
        batches[batch_folder(parent, obj) or ""].append(schema)
    same_columns = [t for t in candidates if (p := prints[t.source]) is not None and p.columns == whole.columns]
    by_print: dict[Fingerprint | None, list[ExportedTable]] = defaultdict(list)
    for table in same_columns:
        by_print[prints[table.source]].append(table)
    parent_name = _schema_and_name(parent)[1]
    claimed: list[ExportedTable] = []
    for batch in sorted(b for b, items in batches.items() if sum(i.rows for i in items)):
        matches = by_print.get(fingerprint(batches[batch]))
        if not matches:
            return []  # a batch that no table matches: not a parent whose partitions were exported
        claimed.append(matches.pop(0))  # each table matches one batch
    if not claimed or (len(claimed) == 1 and not _schema_and_name(claimed[0])[1].startswith(parent_name)):
        return []
    empties = [
        t for t in same_columns
        if t not in claimed and (p := prints[t.source]) is not None and p.rows == 0
        and _schema_and_name(t)[1].startswith(parent_name)
    ]  # fmt: skip
    return [*claimed, *empties]


def skipped_table_name(entry: Any) -> str:
    """How one skippedTables entry names its table; the Lambdas name it the same way (tests/test_contracts.py)."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("target"), str):
        return entry["target"]
    return json.dumps(entry, sort_keys=True)


def export_warnings(message: Any) -> list[str]:
    """Skipped tables and general warnings, from a WarningMessage-shaped text [FACTS "DescribeExportTasks"].

    Where export_info carries it is UNVERIFIED: read it when present, in any of the shapes seen, never fail on it.
    """
    if not message:
        return []
    try:
        document = json.loads(message) if isinstance(message, str) else message
    except ValueError:
        return [f"export warning: {message}"]
    if not isinstance(document, dict):
        return [f"export warning: {message}"]
    warnings = []
    for entry in document.get("skippedTables") or []:
        reason = entry.get("reason") if isinstance(entry, dict) else None
        name = skipped_table_name(entry)
        warnings.append(f"the export skipped {name}: {reason}" if reason else f"the export skipped {name}")
    for entry in document.get("general") or []:
        reason = entry.get("reason", entry) if isinstance(entry, dict) else entry
        warnings.append(f"export warning: {reason}")
    return warnings


def destination_key(config: JobConfig, name: str, table: ExportedTable, obj: S3Object) -> str:
    """Flat file names under the partition folder: Athena and Hive do not promise to read sub-folders."""
    relative = obj.key[len(table.prefix) :]
    return config.partition_prefix(name) + relative.replace("/", "_")


# ==================================================================================================
# 5. Catalog definitions (pure)
# ==================================================================================================
def merge_columns(
    existing: Sequence[Mapping[str, Any]], new: Sequence[tuple[str, str]], comments: Mapping[str, str]
) -> list[dict[str, str]]:
    """Schema evolution: keep every existing column in place, append new ones; a type change is an error.

    Columns missing from today's files stay (older partitions still hold them; Athena returns NULL for them in
    newer ones). Comments carry the source type from the export's metadata; a night whose metadata is missing or
    silent about a column keeps the comment the table has, so the definition does not flip from night to night.
    """
    new_types = dict(new)
    changes = [
        f"{col['Name']}: {col['Type']} -> {new_types[col['Name']]}"
        for col in existing
        if col["Name"] in new_types and col["Type"] != new_types[col["Name"]]
    ]
    if changes:
        raise TableError(
            "column type changed since the table was created (" + "; ".join(changes) + "); earlier partitions "
            "are left untouched. Create a new table (rename the old one) or restore the old type at the source."
        )
    merged = [_column(col["Name"], col["Type"], comments.get(col["Name"], col.get("Comment", ""))) for col in existing]
    known = {col["Name"] for col in existing}
    merged += [_column(name, type_, comments.get(name, "")) for name, type_ in new if name not in known]
    return merged


def _column(name: str, type_: str, comment: str) -> dict[str, str]:
    column = {"Name": name, "Type": type_}
    if comment:
        column["Comment"] = comment[:255]
    return column


def _storage(location: str, columns: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    return {
        "Columns": [dict(c) for c in columns],
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "StoredAsSubDirectories": False,
    }


def table_input(
    name: str,
    location: str,
    columns: Sequence[Mapping[str, str]],
    source: str,
    partition_of: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The table's definition: nothing in it may change from one night to the next unless the schema does.
    `partition_of` (the parent's sor.source and catalog name) marks a partition whose rows its parent holds too
    (section 4b): the parameter `sor.partition_of` and the Description say so.

    Every UpdateTable archives a table version, and Glue stops at 100,000 versions a table and 1,000,000 an account
    (ResourceNumberLimitExceededException, https://repost.aws/knowledge-center/glue-table-version-errors). Facts of
    one run (export id, snapshot time, counts) therefore live on the day's partition (`partition_input`), never here.
    """
    parameters = {"EXTERNAL": "TRUE", "classification": "parquet", "sor.source": source, "sor.managed_by": MANAGED_BY}
    description = f"SOR copy of {source}, one partition per ingestion date (managed by aurora-sor)"
    if partition_of is not None:
        parent_source, parent_name = partition_of
        parameters["sor.partition_of"] = parent_source
        description = (
            f"PARTITION of {parent_source}: every row here is also in table {parent_name}; never add the two. "
            + description
        )
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": _storage(location, columns),
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "date"}],
    }


def partition_input(
    table_location: str,
    ingestion_date: str,
    columns: Sequence[Mapping[str, str]],
    export_id: str,
    totals: Mapping[str, int],
    snapshot_time: str | None = None,
) -> dict[str, Any]:
    """The day's partition, which carries every per-run fact (partitions have no version quota)."""
    parameters = {
        "sor.export_id": export_id,
        "sor.files": str(totals["files"]),
        "sor.bytes": str(totals["bytes"]),
        "sor.rows": str(totals["rows"]),
    }
    if snapshot_time:
        parameters["sor.snapshot_time"] = snapshot_time
    return {
        "Values": [ingestion_date],
        "StorageDescriptor": _storage(f"{table_location}{PARTITION_KEY}={ingestion_date}/", columns),
        "Parameters": parameters,
    }


_TABLE_INPUT_KEYS = ("Name", "Description", "TableType", "Parameters", "StorageDescriptor", "PartitionKeys")


def as_table_input(current: Mapping[str, Any]) -> dict[str, Any]:
    """The TableInput that would recreate a GetTable result (to skip UpdateTable when nothing changed)."""
    result = {k: current[k] for k in _TABLE_INPUT_KEYS if k in current}
    if "StorageDescriptor" in result:
        result["StorageDescriptor"] = {k: v for k, v in result["StorageDescriptor"].items() if k in _storage("", [])}
    return result


def same_definition(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return json.dumps(current, sort_keys=True, default=str) == json.dumps(wanted, sort_keys=True, default=str)


def check_partition_keys(current: Mapping[str, Any]) -> None:
    keys = [(k.get("Name"), k.get("Type")) for k in current.get("PartitionKeys", [])]
    if keys != [(PARTITION_KEY, "date")]:
        raise TableError(f"catalog table {current.get('Name')!r} is partitioned by {keys}, not ({PARTITION_KEY}, date)")


# ==================================================================================================
# 6. S3 reads: listing, metadata files, footers by range reads
# ==================================================================================================
def list_objects(s3: Any, bucket: str, prefix: str) -> list[S3Object]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [S3Object(o["Key"], int(o["Size"]), o["ETag"].strip('"')) for o in page.get("Contents", [])]
    return objects


def read_metadata(
    s3: Any, config: JobConfig, objects: Sequence[S3Object]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None, list[str]]:
    """export_info_<id>.json and every export_tables_info_<id>_from_<n>_to_<m>.json at the export root.

    Their schema is not documented by AWS [FACTS "The export in S3", UNVERIFIED], so they are read defensively:
    any problem is reported and the plan falls back to the folders.
    """
    root = config.export_prefix
    info_key = f"{root}export_info_{config.export_id}.json"
    pattern = re.compile(re.escape(f"{root}export_tables_info_{config.export_id}_from_") + r"(\d+)_to_(\d+)\.json$")
    problems: list[str] = []
    keys = {o.key for o in objects}
    export_info = None
    if info_key in keys:
        try:
            export_info = _read_json(s3, config.export_bucket, info_key)
        except (ValueError, ClientError) as exc:
            problems.append(f"{info_key} is unreadable ({exc})")
    else:
        problems.append(f"{info_key} is missing")
    info_keys = sorted((k for k in keys if pattern.match(k)), key=lambda k: int(pattern.match(k).group(1)))  # type: ignore[union-attr]
    entries: list[dict[str, Any]] | None = []
    if not info_keys:
        problems.append(f"no export_tables_info_{config.export_id}_from_*_to_*.json at the export root")
        entries = None
    for key in info_keys:
        try:
            document = _read_json(s3, config.export_bucket, key)
            per_table = document["perTableStatus"]
            if not isinstance(per_table, list):
                raise ValueError("perTableStatus is not a list")
            entries += per_table  # type: ignore[operator]
        except (ValueError, KeyError, TypeError, ClientError) as exc:
            problems.append(f"{key} is unreadable ({exc!r})")
            entries = None
            break
    return export_info, entries, problems


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


class RangeReader(io.RawIOBase):
    """A read-only file over one S3 object that fetches only the byte ranges asked for.

    pyarrow reads a Parquet footer from the end of the file; the first read prefetches the last
    `prefetch` bytes in one ranged GET (suffix range), so a footer costs one request. IfMatch pins every read
    to the version that was listed, so the footer and the copy describe the same bytes.
    """

    def __init__(self, s3: Any, bucket: str, obj: S3Object, prefetch: int) -> None:
        super().__init__()
        self._s3, self._bucket, self._obj = s3, bucket, obj
        self._pos = 0
        self._tail_start = max(0, obj.size - prefetch)
        self._tail: bytes | None = None
        self.bytes_read = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._obj.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _get(self, start: int, end: int) -> bytes:
        self.requests += 1
        response = self._s3.get_object(
            Bucket=self._bucket,
            Key=self._obj.key,
            Range=f"bytes={start}-{end - 1}",
            IfMatch=f'"{self._obj.etag}"',
        )
        data = response["Body"].read()
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._obj.size - self._pos)
        if size <= 0:
            return 0
        start, end = self._pos, self._pos + size
        if start >= self._tail_start:
            if self._tail is None:
                self._tail = self._get(self._tail_start, self._obj.size)
            chunk = self._tail[start - self._tail_start : end - self._tail_start]
        else:
            chunk = self._get(start, end)
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def read_footer(s3: Any, bucket: str, obj: S3Object, prefetch: int) -> tuple[FileSchema, int]:
    """The schema and row count of one Parquet file, from its footer alone; also the bytes it took."""
    name = obj.key.rsplit("/", 1)[-1]
    if obj.size < 12:  # "PAR1" + footer length + "PAR1" at the very least
        raise TableError(f"{name} is not a Parquet file: {obj.size} bytes")
    reader = RangeReader(s3, bucket, obj, prefetch)
    try:
        metadata = pq.ParquetFile(reader).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableError(f"{name} is not a readable Parquet file: {exc}") from exc
    schema = metadata.schema
    columns = []
    for index in range(len(schema)):
        column = ParquetColumn.from_arrow(schema.column(index))
        try:
            columns.append((column.name, athena_type(column)))
        except UnsupportedType as exc:
            raise UnsupportedType(f"{name}: {exc}") from exc
    arrow_schema = metadata.schema.to_arrow_schema()
    samples: dict[str, tuple[str, ...]] = {}
    invalid: list[str] = []
    for f in arrow_schema:
        if _is_text(f.type):
            values, not_utf8 = statistics_samples(metadata, f.name)
            samples[f.name] = tuple(values)
            if not_utf8:
                invalid.append(f.name)
    try:
        summary = column_summary(metadata)
    except (pa.ArrowException, ValueError, TypeError):  # a statistic pyarrow cannot read: no fingerprint, no failure
        summary = ()
    schema = FileSchema(obj.key, tuple(columns), metadata.num_rows, arrow_schema, samples, tuple(invalid), summary)
    return schema, reader.bytes_read


# Physical types whose raw statistics (bytes) do not order as their values (a FIXED_LEN_BYTE_ARRAY decimal is signed,
# INT96 a legacy timestamp): their columns take part in a fingerprint by the row count only.
_UNORDERED_RAW = frozenset({"FIXED_LEN_BYTE_ARRAY", "INT96"})


def column_summary(metadata: pq.FileMetaData) -> tuple[tuple[str, int | None, Any, Any], ...]:
    """(column, null count, min, max) of every column over all row groups, from the footer statistics: the raw
    physical values (byte arrays need not be UTF-8, and pyarrow extracts no typed min/max for some logical types),
    (column, None, None, None) where a row group does not state them."""
    out = []
    for index in range(metadata.num_columns):
        name = metadata.schema.column(index).path
        nulls: int | None = 0
        low = high = None
        complete = metadata.num_row_groups > 0
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            stats = metadata.row_group(group).column(index).statistics
            if stats is None or not stats.has_null_count:
                complete = complete and rows == 0
                continue
            nulls = (nulls or 0) + stats.null_count
            if not stats.has_min_max:
                complete = complete and stats.null_count == rows  # an all-NULL row group states no min or max
                continue
            if stats.physical_type in _UNORDERED_RAW:
                complete = False  # their raw bytes do not sort as the writer compared them: no merged min/max
                continue
            lo, hi = stats.min_raw, stats.max_raw  # physical values: typed min/max are not extracted for every type
            low = lo if low is None or lo < low else low
            high = hi if high is None or hi > high else high
        out.append((name, nulls, low, high) if complete else (name, None, None, None))
    return tuple(out)


# ==================================================================================================
# 7. Copy, clean and verify a day's partition
# ==================================================================================================
class Progress:
    """Counts what is in place in the SOR (copied now or kept from an earlier attempt) for the heartbeat log."""

    def __init__(self, files: int, size: int) -> None:
        self._lock = threading.Lock()
        self.planned_files, self.planned_bytes = files, size
        self.files = self.bytes = 0

    def add(self, files: int, size: int) -> None:
        with self._lock:
            self.files += files
            self.bytes += size

    def line(self, tables_done: int, tables: int, seconds: float) -> str:
        with self._lock:
            share = self.bytes / self.planned_bytes if self.planned_bytes else 1.0
            return (
                f"progress: {tables_done}/{tables} tables done, {self.files}/{self.planned_files} files and "
                f"{self.bytes}/{self.planned_bytes} bytes in place ({share:.0%}) after {seconds:.0f}s"
            )


def heartbeat(every: float, line: Callable[[], str], stop: threading.Event) -> threading.Thread:
    """Logs `line()` every `every` seconds until `stop` is set: a long copy stays visible in CloudWatch."""

    def beat() -> None:
        while not stop.wait(every):
            log.info("%s", line())

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    return thread


class _KnownSource(BaseSubscriber):
    """Tells s3transfer the size and ETag we already listed, sparing one HeadObject per copy, and counts
    the copy in the run's progress once it is done.

    s3transfer >= 0.11 wants the ETag too (it pins multipart copies to it); 0.10 (Glue 5.0) only the size.
    """

    def __init__(self, obj: S3Object, progress: Progress) -> None:
        self._obj = obj
        self._progress = progress

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._obj.size)
        if hasattr(future.meta, "provide_object_etag"):
            future.meta.provide_object_etag(f'"{self._obj.etag}"')

    def on_done(self, future: Any, **kwargs: Any) -> None:
        try:
            future.result()
        except Exception:  # noqa: BLE001 - a failed copy is reported by Copier.copy; here it just does not count
            return
        self._progress.add(1, self._obj.size)


@dataclass(frozen=True)
class CopyStep:
    source: S3Object
    destination: str


def copy_steps_needed(steps: Sequence[CopyStep], present: Mapping[str, str | None]) -> list[CopyStep]:
    """Steps whose destination does not already hold this exact source object (by its recorded ETag)."""
    return [s for s in steps if present.get(s.destination) != s.source.etag]


def stale_keys(steps: Sequence[CopyStep] | Sequence[RewriteUnit], existing: Iterable[S3Object]) -> list[str]:
    wanted = {s.destination for s in steps}
    return sorted(o.key for o in existing if o.key not in wanted)


def verify_partition(steps: Sequence[CopyStep], listed: Sequence[S3Object]) -> None:
    """After copy and clean-up the partition folder holds exactly the planned objects, byte for byte in size."""
    wanted = {s.destination: s.source.size for s in steps}
    found = {o.key: o.size for o in listed}
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    wrong = sorted(k for k in set(wanted) & set(found) if wanted[k] != found[k])
    if missing or extra or wrong:
        raise TableError(
            f"verification failed: {len(missing)} missing {missing[:3]}, {len(extra)} unexpected {extra[:3]}, "
            f"{len(wrong)} with a different size {wrong[:3]}"
        )


class Copier:
    """Server-side copies through s3transfer's managed copy: CopyObject below the multipart threshold,
    UploadPartCopy in parallel parts above it (a single CopyObject stops at 5 GB, [FACTS "The export in S3"]).
    One manager for the whole run bounds concurrency across files and tables."""

    def __init__(self, s3: Any, config: JobConfig, progress: Progress | None = None) -> None:
        self._s3 = s3
        self._config = config
        self.progress = progress or Progress(0, 0)
        self._manager = TransferManager(
            s3,
            TransferConfig(
                multipart_threshold=config.multipart_threshold,
                multipart_chunksize=config.multipart_chunksize,
                max_request_concurrency=config.copy_concurrency,
                max_submission_concurrency=max(2, config.copy_concurrency // 2),
            ),
        )

    def source_etags(self, keys: Iterable[str]) -> dict[str, str | None]:
        """The source ETag each existing destination object was copied from (HeadObject each)."""
        result: dict[str, str | None] = {}
        for key in keys:
            head = self._s3.head_object(Bucket=self._config.sor_bucket, Key=key)
            result[key] = head.get("Metadata", {}).get(SOURCE_ETAG_META)
        return result

    def copy(self, steps: Sequence[CopyStep]) -> None:
        extra: dict[str, Any] = {"MetadataDirective": "REPLACE"}
        if self._config.sor_kms_key_arn:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self._config.sor_kms_key_arn)
        futures = [
            self._manager.copy(
                copy_source={"Bucket": self._config.export_bucket, "Key": step.source.key},
                bucket=self._config.sor_bucket,
                key=step.destination,
                extra_args={
                    **extra,
                    "Metadata": {SOURCE_ETAG_META: step.source.etag},
                    "CopySourceIfMatch": f'"{step.source.etag}"',
                },
                subscribers=[_KnownSource(step.source, self.progress)],
            )
            for step in steps
        ]
        errors = []
        for step, future in zip(steps, futures, strict=True):
            try:
                future.result()
            except (ClientError, BotoCoreError) as exc:
                errors.append(f"{step.source.key}: {exc}")
        if errors:
            raise TableError(f"{len(errors)} of {len(steps)} copies failed after retries, first: {errors[0]}")

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            response = self._s3.delete_objects(
                Bucket=self._config.sor_bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if response.get("Errors"):
                raise TableError(f"could not remove stale objects: {response['Errors'][:3]}")

    def shutdown(self) -> None:
        self._manager.shutdown()


# ==================================================================================================
# 7b. Rewrite (Spark tasks): one export file -> one typed Parquet object, streamed
# ==================================================================================================
# Spark's own DataFrame writer names files with a per-job UUID and cuts the input by parallelism, so a re-run
# could neither find nor reproduce what an earlier attempt wrote. Here Spark only distributes units of work (one
# export file each) whose destination keys derive from the source key (destination_key); every task reads and
# writes S3 through boto3 and pyarrow, the same code path locally and in Glue (local Spark cannot load the S3
# connector jars without a Maven repository). Memory per task is bounded: the source is read row group by row
# group in batches, and the output leaves in fixed-size multipart parts, so a 200 GB file never needs 200 GB.
PLAN_DIGEST_META = "sor-plan-digest"  # with SOURCE_ETAG_META: what a re-run compares to skip a unit
# The unit's counters go in the Parquet footer's key-value metadata: they are known only at the end, after the
# multipart upload (and its S3 metadata) began, and a re-run that skips the unit reads them back from the footer.
COUNTERS_KEY = "aurora-sor.counters"
MAX_SAMPLES = 5  # per counter key: enough to show a wrong format assumption, few enough for a log line
REWRITE_FORMAT = 2  # part of every plan digest: bump it when what a rewrite writes changes, to redo every object
# (2: sor_rejects.raw_values keyed by the catalog column name; rejects by Athena's millisecond view; no year 0000)
# Spark 3.5 writes and reads dates before 1582-10-15 and timestamps before 1900-01-01 according to these
# (default EXCEPTION; https://spark.apache.org/docs/3.5.4/sql-migration-guide.html, "Upgrading from Spark SQL
# 3.0 to 3.1"; https://spark.apache.org/docs/3.5.4/configuration.html). CORRECTED keeps the proleptic Gregorian
# calendar that PostgreSQL uses. They do not act on this path, where pyarrow reads and writes every byte and
# Spark only distributes units: they are set so that any DataFrame code added to the job later cannot rebase.
SPARK_REBASE_CONF = {
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
}
# Fixed writer settings, so the same input gives the same bytes. No Arrow schema blob (store_schema=False, as
# Spark's files have none) and no wall-clock value anywhere: pyarrow's footer holds only `created_by`
# ("parquet-cpp-arrow version <v>"), so objects are byte-identical for one pyarrow version. ZSTD: Athena engine 3
# reads it for Parquet (https://docs.aws.amazon.com/athena/latest/ug/compression-support-hive.html); level 3 is
# Athena's own default write level (https://docs.aws.amazon.com/athena/latest/ug/compression-formats.html).
_WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
    "store_schema": False,
    "store_decimal_as_integer": True,
    "coerce_timestamps": "us",
    "allow_truncated_timestamps": False,
}


@dataclass(frozen=True)
class RewriteSettings:
    """How units are cut and uploaded. batch_rows and row_group_bytes shape the bytes (they enter the plan
    digest); part_size only shapes the upload."""

    batch_rows: int = 64 * 1024  # rows per source batch handed to the transform
    row_group_bytes: int = 128 * 1024**2  # in-memory size at which an output row group is cut
    # S3 parts are 5 MiB to 5 GiB, at most 10,000 per upload, the last one may be smaller
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): 64 MiB parts hold objects up to 625 GiB.
    part_size: int = 64 * 1024**2

    def __post_init__(self) -> None:
        if not 5 * 1024**2 <= self.part_size <= 5 * 1024**3:
            raise ValueError(f"part_size must be 5 MiB to 5 GiB, got {self.part_size}")
        if self.batch_rows < 1 or self.row_group_bytes < 1:
            raise ValueError("batch_rows and row_group_bytes must be >= 1")


@dataclass(frozen=True)
class RewriteUnit:
    """One export file -> one SOR object. Picklable as plain values (the schema travels as Arrow IPC bytes)."""

    source: S3Object
    destination: str  # destination_key(...) of the source, like the copy path
    output_schema_ipc: bytes  # schema_ipc(output schema)
    plan_digest: str  # rewrite_plan_digest(...): the transform and output schema; stored on the object
    rows: int  # the source's row count from its footer; the written object must hold exactly as many

    @property
    def output_schema(self) -> pa.Schema:
        return pa.ipc.read_schema(pa.py_buffer(self.output_schema_ipc))


@dataclass(frozen=True)
class TransformedBatch:
    """What a transform returns for one batch: the batch in the unit's output schema, counters (e.g. rejected
    values per column) and a few sample values per counter key (bounded by the engine to MAX_SAMPLES)."""

    batch: pa.RecordBatch
    counters: Mapping[str, int] = field(default_factory=dict)
    samples: Mapping[str, Sequence[str]] = field(default_factory=dict)


# (batch, index of its first row in the source file) -> output. A plain (batch, counters) tuple is accepted too.
# Raising aborts the unit: no object is written for it.
Transform = Callable[[pa.RecordBatch, int], "TransformedBatch | tuple[pa.RecordBatch, Mapping[str, int]]"]
TransformFactory = Callable[[RewriteUnit], Transform]


@dataclass
class UnitResult:
    destination: str
    rows: int = 0
    bytes: int = 0
    skipped: bool = False  # the destination already held this source under this plan: nothing was read
    counters: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    source_bytes_read: int = 0
    seconds: float = 0.0
    error: str | None = None  # set by run_rewrites when the unit failed; rewrite_unit raises instead
    transient: bool = False  # with error: the unit failed for a transient cause (failure_kind)


def schema_ipc(schema: pa.Schema) -> bytes:
    return bytes(schema.serialize().to_pybytes())


def rewrite_plan_digest(
    output_schema: pa.Schema, transform_spec: str, settings: RewriteSettings = RewriteSettings()
) -> str:
    """Names what makes the bytes: the transform (`transform_spec`, a stable text the caller derives from its
    rules, e.g. JSON of the column restorations), the output schema, the writer settings and row group cuts."""
    text = json.dumps(
        {
            "format": REWRITE_FORMAT,
            "transform": transform_spec,
            "schema": output_schema.to_string(show_field_metadata=True, show_schema_metadata=True),
            "writer": _WRITER_OPTIONS,
            "batch_rows": settings.batch_rows,
            "row_group_bytes": settings.row_group_bytes,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def sse_arguments(config: JobConfig) -> dict[str, str]:
    """SSE-KMS with the stack's key when one is given (PutObject, CreateMultipartUpload, CopyObject all take
    these: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html)."""
    if not config.sor_kms_key_arn:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.sor_kms_key_arn}


class MultipartSink(io.RawIOBase):
    """A write-only file that streams into S3: fixed-size parts of a multipart upload, started at the first full
    part; a body smaller than one part becomes one PutObject. Nothing exists at the key until finish(); abort()
    removes the parts of an unfinished upload (an upload a killed process leaves behind is removed by the bucket's
    AbortIncompleteMultipartUpload lifecycle rule), so a failed unit never leaves a partial object.
    """

    def __init__(self, s3: Any, bucket: str, key: str, part_size: int, extra: Mapping[str, Any]) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._part_size, self._extra = s3, bucket, key, part_size, dict(extra)
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        self._buffer += data
        written = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.size += written
        while len(self._buffer) >= self._part_size:
            self._upload_part(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]
        return written

    def close(self) -> None:
        # pyarrow closes its sink when the Parquet writer closes; the upload is completed by finish() only.
        super().close()

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._extra)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def finish(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), **self._extra)
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._buffer = bytearray()

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None


def _head(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject of `key`, or None when it does not exist. A listing asks first: without s3:ListBucket on the
    key, a HeadObject of a missing key answers 403, not 404
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions"), and the job's role may
    list only under its own prefixes."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not listed or listed[0]["Key"] != key:
        return None
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:  # removed since the listing
            return None
        raise


def unit_done(unit: RewriteUnit, head: Mapping[str, Any] | None) -> bool:
    """The destination already holds this source under this plan (by the metadata a rewrite stores)."""
    metadata = (head or {}).get("Metadata", {})
    return metadata.get(SOURCE_ETAG_META) == unit.source.etag and metadata.get(PLAN_DIGEST_META) == unit.plan_digest


def read_rewritten_footer(
    s3: Any, bucket: str, key: str, head: Mapping[str, Any], prefetch: int
) -> tuple[int, dict[str, int]]:
    """Row count and counters of a rewritten object, from its footer alone (one ranged GET of the version `head`
    describes)."""
    obj = S3Object(key, int(head["ContentLength"]), str(head["ETag"]).strip('"'))
    reader = RangeReader(s3, bucket, obj, prefetch)
    metadata = pq.ParquetFile(reader).metadata
    stored = (metadata.metadata or {}).get(COUNTERS_KEY.encode())
    return metadata.num_rows, json.loads(stored) if stored else {}


def _as_transformed(output: Any) -> TransformedBatch:
    if isinstance(output, TransformedBatch):
        return output
    batch, counters = output
    return TransformedBatch(batch, counters)


def rewrite_unit(
    unit: RewriteUnit, transform: Transform, s3: Any, config: JobConfig, settings: RewriteSettings = RewriteSettings()
) -> UnitResult:
    """Streams one export file through `transform` into its SOR object; skips it when already done.

    Output row groups follow the source's: each source row group is read in batches of settings.batch_rows,
    transformed, and written as one row group, cut earlier when its batches reach settings.row_group_bytes. Both
    depend only on the input, so a re-run writes the same bytes. Raises TableError (or the transform's own
    exception, or a botocore error) after aborting the upload: no object is left for a failed unit.
    """
    started = time.monotonic()
    head = _head(s3, config.sor_bucket, unit.destination)
    if head is not None and unit_done(unit, head):
        rows, counters = read_rewritten_footer(s3, config.sor_bucket, unit.destination, head, config.footer_read_size)
        return UnitResult(
            unit.destination,
            rows,
            int(head["ContentLength"]),
            skipped=True,
            counters=counters,
            seconds=round(time.monotonic() - started, 3),
        )
    schema = unit.output_schema
    reader = RangeReader(s3, config.export_bucket, unit.source, config.footer_read_size)
    counters: dict[str, int] = defaultdict(int)
    samples: dict[str, list[str]] = defaultdict(list)
    rows = 0
    metadata = {SOURCE_ETAG_META: unit.source.etag, PLAN_DIGEST_META: unit.plan_digest}
    sink = MultipartSink(
        s3, config.sor_bucket, unit.destination, settings.part_size, {**sse_arguments(config), "Metadata": metadata}
    )
    try:
        # pre_buffer coalesces the column chunks of a row group into few ranged GETs.
        source = pq.ParquetFile(reader, pre_buffer=True)
        if unit.rows != source.metadata.num_rows:
            raise TableError(
                f"{unit.source.key}: its footer holds {source.metadata.num_rows} rows, planned {unit.rows}"
            )
        pending: list[pa.RecordBatch] = []
        with pq.ParquetWriter(sink, schema, **_WRITER_OPTIONS) as writer:
            for group in range(source.metadata.num_row_groups):
                for batch in source.iter_batches(settings.batch_rows, row_groups=[group], use_threads=False):
                    out = _as_transformed(transform(batch, rows))
                    if out.batch.num_rows != batch.num_rows or not out.batch.schema.equals(schema):
                        raise TableError(
                            f"{unit.source.key}: the transform returned {out.batch.num_rows} rows of "
                            f"({out.batch.schema.to_string(show_schema_metadata=False)}) for {batch.num_rows} rows "
                            f"of ({schema.to_string(show_schema_metadata=False)})"
                        )
                    rows += batch.num_rows
                    for key, count in out.counters.items():
                        counters[key] += count
                    for key, values in out.samples.items():
                        samples[key].extend(str(v) for v in list(values)[: MAX_SAMPLES - len(samples[key])])
                    pending.append(out.batch)
                    if sum(b.nbytes for b in pending) >= settings.row_group_bytes:
                        _write_row_group(writer, pending, schema)
                _write_row_group(writer, pending, schema)
            writer.add_key_value_metadata({COUNTERS_KEY: json.dumps(dict(sorted(counters.items())))})
        if rows != unit.rows:
            raise TableError(f"{unit.source.key}: read {rows} rows, its footer says {unit.rows}")
        sink.finish()
    except BaseException:
        sink.abort()
        raise
    return UnitResult(
        unit.destination,
        rows=rows,
        bytes=sink.size,
        counters=dict(counters),
        samples={k: v for k, v in samples.items() if v},
        source_bytes_read=reader.bytes_read,
        seconds=round(time.monotonic() - started, 3),
    )


def _write_row_group(writer: pq.ParquetWriter, pending: list[pa.RecordBatch], schema: pa.Schema) -> None:
    """One row group of the pending batches (write_table cuts row groups of at most row_group_size rows)."""
    if pending:
        table = pa.Table.from_batches(pending, schema)
        writer.write_table(table, row_group_size=max(1, table.num_rows))
        pending.clear()


def verify_rewrites(s3: Any, config: JobConfig, units: Sequence[RewriteUnit]) -> None:
    """After the units: every destination exists with this source's ETag and this plan's digest, and the row count
    in its footer equals the source's. Reads only metadata and footers."""
    problems = []
    for unit in units:
        head = _head(s3, config.sor_bucket, unit.destination)
        if head is None:
            problems.append(f"{unit.destination} is missing")
        elif not unit_done(unit, head):
            problems.append(
                f"{unit.destination} does not carry source ETag {unit.source.etag} and plan {unit.plan_digest}"
            )
        else:
            rows, _ = read_rewritten_footer(s3, config.sor_bucket, unit.destination, head, config.footer_read_size)
            if rows != unit.rows:
                problems.append(f"{unit.destination} holds {rows} rows, its source {unit.rows}")
    if problems:
        raise TableError(f"verification failed for {len(problems)} of {len(units)} rewritten files: {problems[:3]}")


def task_s3_client(config: JobConfig) -> Any:
    """The S3 client of one Spark task, from plain configuration: the endpoint from AWS_ENDPOINT_URL (the emulator
    here), credentials from the environment or the worker's role, as boto3 finds them in Glue."""
    return boto3.session.Session().client("s3", config=boto_config(pool=10))


def _plain_unit(unit: RewriteUnit) -> dict[str, Any]:
    return dataclasses.asdict(unit)


def _unit_of(plain: Mapping[str, Any]) -> RewriteUnit:
    return RewriteUnit(**{**plain, "source": S3Object(**plain["source"])})


def run_rewrites(
    units: Sequence[RewriteUnit],
    transform_factory: TransformFactory,
    config: JobConfig,
    settings: RewriteSettings = RewriteSettings(),
) -> list[UnitResult]:
    """Runs rewrite_unit for every unit as Spark tasks, one unit per partition, and returns their results in the
    order of `units`. A failed unit comes back with `error` set (its upload aborted); the others still finish.

    pyspark is imported only here, so a night with nothing to rewrite needs no Spark. In Glue the job's Spark
    context exists; locally local/emulator/spark_env.py sets the master (PYSPARK_SUBMIT_ARGS). Units and results cross
    to and from the executors as plain dicts: the job runs as __main__, whose classes cloudpickle sends by value
    with the functions, while plain pickle (Spark's serializer for data) could not find them on an executor.
    """
    if not units:
        return []
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ExportError(
            "rewriting tables needs pyspark: run the job in Glue (glueetl), or locally under the Spark virtualenv "
            "(make spark-venv; local/emulator/spark_env.py)"
        ) from exc
    # No console progress bar in Glue's logs (a context Glue already started keeps its own setting).
    session = SparkSession.builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    for key, value in SPARK_REBASE_CONF.items():
        session.conf.set(key, value)

    def run_partition(plains: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        s3 = task_s3_client(config)  # one client per partition, never pickled
        for plain in plains:
            unit = _unit_of(plain)
            try:
                result = rewrite_unit(unit, transform_factory(unit), s3, config, settings)
            except Exception as exc:  # noqa: BLE001 - reported per unit; the table fails, the other units go on
                result = UnitResult(
                    unit.destination,
                    error=f"{unit.source.key}: {type(exc).__name__}: {exc}",
                    transient=failure_kind(exc) is FailureKind.TRANSIENT,
                )
            # vars(), not dataclasses.asdict: the class arrives by value, and the cloudpickle bundled with pyspark
            # 3.5 does not keep dataclasses' field-type sentinels, so fields() of it is empty on an executor.
            yield dict(vars(result))

    plains = [_plain_unit(u) for u in units]
    try:
        collected = session.sparkContext.parallelize(plains, len(plains)).mapPartitions(run_partition).collect()
    except Exception as exc:
        # The Spark job failed as a whole: a task failed spark.task.maxFailures times (an executor lost, out of
        # memory, a Flex worker reclaimed), and collect() raises Py4JJavaError. No unit's result came back, and a
        # killed task cannot abort its upload: the caller aborts what is left (abort_unfinished_uploads).
        raise SparkJobFailed(f"the Spark job of {len(units)} rewrite units failed: {_first_lines(exc)}") from exc
    return [UnitResult(**r) for r in collected]


class SparkJobFailed(TableError):
    """The Spark job of a table's units failed as a whole (see run_rewrites): transient, a later run may pass."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def _first_lines(exc: BaseException, limit: int = 600) -> str:
    """The start of an error's text: a Py4JJavaError carries the whole Java stack trace."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[:3])[:limit] or type(exc).__name__


def abort_unfinished_uploads(s3: Any, bucket: str, prefix: str) -> int:
    """Aborts the multipart uploads in progress under `prefix` (a table's day folder), which tasks killed before
    MultipartSink.abort leave behind, billed until aborted; returns how many. The job runs one run at a time
    (MaxConcurrentRuns 1), so no upload under the prefix belongs to anyone else."""
    aborted = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted += 1
    if aborted:
        log.warning("aborted %d unfinished multipart uploads under s3://%s/%s", aborted, bucket, prefix)
    return aborted


# ==================================================================================================
# 7c. Restoration transform (pure): the rewrite's transform for a table with restored columns
# ==================================================================================================
# A value its restored type cannot hold exactly (Restored.rejected) is NULL in the typed column, and its row
# carries it, as the exact source text, in the struct column `sor_rejects` (NULL on rows with no reject): the
# source file and the row index find the row (the export has no primary key), the row's other columns are its
# neighbours, and Athena queries it with no sentinel (docs/sor-job.md "Rejected values"). The name is reserved
# in rewritten tables: a source column of that name fails its table.
REJECTS_COLUMN = "sor_rejects"
REJECTS_TYPE = pa.struct(
    [
        pa.field("source_file", pa.string()),
        pa.field("row_index", pa.int64()),
        pa.field("raw_values", pa.map_(pa.string(), pa.string())),
    ]
)
REJECTS_CATALOG_TYPE = "struct<source_file:string,row_index:bigint,raw_values:map<string,string>>"


class Counter(StrEnum):
    """Counter keys of a restoration transform, per column: `<kind>:<column>`."""

    REJECTED = "rejected"
    MALFORMED = "malformed"
    NON_NULL = "non_null"
    INVALID_TEXT = "invalid_text"  # values of a string column that are not UTF-8 (published byte for byte)

    def of(self, column: str) -> str:
        return f"{self.value}:{column}"


def invalid_text_count(values: pa.Array | pa.ChunkedArray) -> int:
    """How many values of a string array are not UTF-8. Arrow's full validation (C++, one pass) answers for the
    usual all-valid array; only an array that fails it is looked at value by value."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    count = 0
    for chunk in chunks:
        try:
            chunk.validate(full=True)
        except pa.ArrowInvalid:
            for raw in pc.cast(chunk, pa.binary()).to_pylist():
                if raw is None:
                    continue
                try:
                    raw.decode()
                except UnicodeDecodeError:
                    count += 1
    return count


def invalid_text_by_column(counters: Mapping[str, int]) -> dict[str, int]:
    """catalog column -> values that are not UTF-8, from a table's summed counters (only columns that have some)."""
    prefix = f"{Counter.INVALID_TEXT.value}:"
    return {k[len(prefix) :].lower(): v for k, v in sorted(counters.items()) if k.startswith(prefix) and v}


def column_counts(counters: Mapping[str, int], column: str) -> RestoreCounts:
    """One column's RestoreCounts from a unit's (or a table's summed) counters."""
    return RestoreCounts(
        counters.get(Counter.NON_NULL.of(column), 0),
        counters.get(Counter.REJECTED.of(column), 0),
        counters.get(Counter.MALFORMED.of(column), 0),
    )


def restored_schema(source_schema: pa.Schema, rules: Mapping[str, Restoration]) -> pa.Schema:
    """The rewritten file's schema: the source's columns in order, each restored column in its rule's Arrow type,
    then `sor_rejects`. Raises TableError when the source already has a `sor_rejects` column, when a rule names a
    column that is not a string in the source, or when a decimal's scale is still undecided."""
    if REJECTS_COLUMN in source_schema.names:
        raise TableError(f"the source has a column named {REJECTS_COLUMN!r}, a name reserved for rejected values")
    for name, rule in rules.items():
        if name not in source_schema.names:
            raise TableError(f"restored column {name!r} is not in the source file")
        if not _is_text(source_schema.field(name).type):
            raise TableError(f"restored column {name!r} is {source_schema.field(name).type} in the source, not text")
        if rule.restore is Restore.DECIMAL and rule.scale is None:
            raise TableError(f"restored column {name!r}: decimal scale undecided")
    fields = [pa.field(f.name, rules[f.name].arrow_type) if f.name in rules else f for f in source_schema]
    return pa.schema([*fields, pa.field(REJECTS_COLUMN, REJECTS_TYPE)])


def restoration_spec(rules: Mapping[str, Restoration]) -> str:
    """A stable text naming the restorations, for rewrite_plan_digest (changes when a rule or its type does)."""
    return json.dumps(
        {name: [rule.restore.value, rule.catalog_type] for name, rule in sorted(rules.items())}, sort_keys=True
    )


def _rejects_array(
    rejected: Mapping[str, tuple[pa.Array, pa.Array]], rows: int, source_file: str, first_row_index: int
) -> pa.Array:
    """sor_rejects for one batch: `rejected` maps column -> (rejected mask, source text). Vectorized: the
    (row, column) pairs of every reject are gathered column by column, then ordered by row (stable, so columns
    keep the schema's order inside a row) to become the map entries."""
    row_ids, keys, values = [], [], []
    for name, (mask, text) in rejected.items():
        where = pc.indices_nonzero(mask)
        row_ids.append(pc.cast(where, pa.int64()))
        keys.append(pa.repeat(pa.scalar(name, pa.string()), len(where)))
        values.append(pc.take(text, where))
    lengths = pa.repeat(pa.scalar(0, pa.int32()), rows)
    for mask, _ in rejected.values():
        lengths = pc.add(lengths, pc.cast(mask, pa.int32()))
    if row_ids:
        row_id = pa.concat_arrays(row_ids)
        order = pc.sort_indices(row_id)  # stable (Arrow's sort_indices): columns stay in order within a row
        key, value = pc.take(pa.concat_arrays(keys), order), pc.take(pa.concat_arrays(values), order)
    else:
        key, value = pa.array([], pa.string()), pa.array([], pa.string())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    has_reject = pc.greater(lengths, 0)
    raw_values = pa.MapArray.from_arrays(offsets, key, value)
    return pa.StructArray.from_arrays(
        [
            pa.repeat(pa.scalar(source_file, pa.string()), rows),
            pc.add(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), rows)), first_row_index - 1),
            raw_values,
        ],
        fields=list(REJECTS_TYPE),
        mask=pc.invert(has_reject),
    )


def restoration_transform(rules: Mapping[str, Restoration], output_schema: pa.Schema, source_file: str) -> Transform:
    """The rewrite transform of a table: restores each rule's column with restore_values, fills `sor_rejects`,
    and counts per column `rejected:<col>`, `malformed:<col>`, `non_null:<col>` (Counter), with up to MAX_SAMPLES
    malformed source values per column under `malformed:<col>` (for the format assumption check's error; rows
    may hold personal data, so samples go to the manifest's error and the log only, never to metrics).

    `output_schema` is restored_schema(source schema, rules); `source_file` is what sor_rejects.source_file holds
    (the export object's key under the export). Pure and picklable: called on the executors."""
    names = [f.name for f in output_schema if f.name != REJECTS_COLUMN]

    def transform(batch: pa.RecordBatch, first_row_index: int) -> TransformedBatch:
        columns: list[pa.Array] = []
        counters: dict[str, int] = {}
        samples: dict[str, list[str]] = {}
        rejected: dict[str, tuple[pa.Array, pa.Array]] = {}
        for name in names:
            column = batch.column(name)
            rule = rules.get(name)
            if _is_text(column.type):
                invalid = invalid_text_count(column)
                if invalid:  # published byte for byte (a restored column rejects them: not a shape it reads)
                    counters[Counter.INVALID_TEXT.of(name)] = invalid
            if rule is None:
                columns.append(column)
                continue
            restored = restore_values(column, rule)
            columns.append(restored.values)
            counts = restored.counts()
            counters[Counter.NON_NULL.of(name)] = counts.non_null
            counters[Counter.REJECTED.of(name)] = counts.rejected
            counters[Counter.MALFORMED.of(name)] = counts.malformed
            if counts.malformed:
                bad = pc.cast(pc.filter(column, restored.malformed).slice(0, MAX_SAMPLES), pa.binary())
                # for messages only: bytes that are not UTF-8 show as U+FFFD here (the data keeps them exactly)
                samples[Counter.MALFORMED.of(name)] = [v.decode(errors="replace") for v in bad.to_pylist()]
            if counts.rejected:
                # keyed by the catalog column name (lower case), the name an analyst queries with element_at
                rejected[name.lower()] = (restored.rejected, pc.cast(column, pa.string()))
        columns.append(_rejects_array(rejected, batch.num_rows, source_file, first_row_index))
        return TransformedBatch(pa.RecordBatch.from_arrays(columns, schema=output_schema), counters, samples)

    return transform


class TextReason(StrEnum):
    """Why a string column of a rewritten (or copied) table stays a string."""

    BY_RULE = "by_rule"  # the source type has no exact catalog type (time, uuid, json, arrays, ...)
    NO_EVIDENCE = "no_evidence"  # no catalog type, and tonight's metadata or data cannot decide one: alerted
    CATALOG_STRING = "catalog_string"  # restorable, but the catalog already says string: run the retype
    # a numeric column with no number yet (empty, all NULL): string in the catalog with TYPE_PENDING in its comment
    # until the first night that shows its scale, which types it and retypes its earlier days with no operator step
    PENDING = "pending"


# In the catalog comment of a numeric column that is string only because no value has shown its scale yet.
TYPE_PENDING = "type pending: decimal once a value shows its scale"


@dataclass(frozen=True)
class TextColumn:
    column: str  # the Parquet column name
    source_type: str
    kind: TextReason
    reason: str


@dataclass(frozen=True)
class RestorationPlan:
    """A table's restorations for one night: rules by Parquet column name, and the string columns kept as text."""

    rules: Mapping[str, Restoration]
    text: tuple[TextColumn, ...]

    def restored_columns(self) -> dict[str, str]:
        return {name.lower(): rule.catalog_type for name, rule in sorted(self.rules.items())}

    def kept_as_text(self) -> list[dict[str, str]]:
        return [{"column": t.column.lower(), "source_type": t.source_type, "kind": t.kind.value, "reason": t.reason}
                for t in self.text]  # fmt: skip

    def columns_without_evidence(self) -> int:
        return sum(1 for t in self.text if t.kind is TextReason.NO_EVIDENCE)


_DECIMAL_TYPE = re.compile(r"^decimal\((\d+),(\d+)\)$")
_SOURCE_COMMENT = re.compile(r"^source type: (?P<type>.*?)(?:, restored as .*)?$")


class MeaningChanged(TableError):
    """A column whose values would change meaning between days under one catalog name (wall time vs UTC)."""


_WALL_TIME = "wall time, as the source stored it (timestamp without time zone)"
_UTC = "an instant converted to UTC (timestamp with time zone)"


def _catalog_timestamp_meaning(comment: str) -> bool | None:
    """True when the catalog column holds UTC instants, False for wall time, None when its comment (written by
    Restoration.comment) does not say."""
    if "restored as timestamp in UTC" in comment:
        return True
    if comment.endswith("restored as timestamp"):
        return False
    return None


def _catalog_rule(column: str, catalog_type: str, comment: str, tonight: Restoration | None) -> Restoration | None:
    """The rule the catalog's column type imposes on a string column (None when the type is not a restored one).

    Wall time and UTC are two meanings of one catalog type `timestamp`: the catalog's (from the comment this job
    wrote) must be tonight's, or the table fails (MeaningChanged) rather than publish both under one name. The zone
    the source used is not in the export, so earlier days cannot be converted (docs/sor-job.md "A timestamp column
    that changes meaning")."""
    source_type = tonight.source_type if tonight else ((m := _SOURCE_COMMENT.match(comment)) and m.group("type")) or ""
    if catalog_type == "date":
        return Restoration(column, Restore.DATE, "date", pa.date32(), source_type)
    if catalog_type == "timestamp":
        published = _catalog_timestamp_meaning(comment)
        arriving = (tonight.restore is Restore.TIMESTAMP_FROM_UTC_OFFSET) if tonight else None
        if published is not None and arriving is not None and published != arriving:
            raise MeaningChanged(
                f"column {column.lower()!r} changed meaning: published as {_UTC if published else _WALL_TIME}, "
                f"tonight's export holds {_UTC if arriving else _WALL_TIME} (source type {source_type}); "
                "one catalog column cannot hold both. Either revert the source column's type, or keep the new "
                "meaning under a new table: drop or rename this catalog table (its days stay in S3) and re-run the "
                'day (docs/sor-job.md "A timestamp column that changes meaning")'
            )
        utc = arriving if arriving is not None else bool(published)
        kind = Restore.TIMESTAMP_FROM_UTC_OFFSET if utc else Restore.TIMESTAMP
        return Restoration(column, kind, "timestamp", pa.timestamp("us"), source_type)
    if match := _DECIMAL_TYPE.match(catalog_type):
        precision, scale = int(match.group(1)), int(match.group(2))
        rule = Restoration(column, Restore.DECIMAL, "decimal", pa.string(), source_type, precision, None)
        return with_scale(rule, scale)
    return None


def plan_restorations(
    engine: str,
    mappings: Sequence[Mapping[str, Any]] | None,
    string_columns: Sequence[str],
    catalog_columns: Sequence[Mapping[str, str]],
    scale_evidence: Callable[[str], Iterable[str | None]],
    retype_history: bool = False,
) -> RestorationPlan:
    """Which string columns are restored tonight, and as what (docs/sor-job.md "How the plan decides").

    The catalog's type outranks tonight's metadata, so a column keeps one type every night: a catalog date,
    timestamp or decimal(p,s) restores the column that way even with no metadata tonight; a catalog `string` keeps a
    restorable column a string (CATALOG_STRING) unless `retype_history` retypes the table tonight. A column new to
    the catalog takes tonight's rule; a decimal's scale then comes from `scale_evidence(column)` (footer statistics,
    else the first values), and with none it stays text (NO_EVIDENCE), like a column with no source type.
    """
    tonight = restoration_rules(engine, mappings, string_columns)
    catalog = {c["Name"]: c for c in catalog_columns}
    rules: dict[str, Restoration] = {}
    text: list[TextColumn] = []
    for column in string_columns:
        rule = tonight[column]
        current = catalog.get(column.lower())
        restorable = rule if isinstance(rule, Restoration) else None
        if current is not None and current["Type"] != "string":
            imposed = _catalog_rule(column, current["Type"], current.get("Comment", ""), restorable)
            if imposed is not None:
                rules[column] = imposed
                continue
        if restorable is None:
            unknown = mappings is None or not rule.source_type
            kind = TextReason.NO_EVIDENCE if unknown and current is None else TextReason.BY_RULE
            text.append(TextColumn(column, rule.source_type, kind, rule.reason))
            continue
        pending = (
            current is not None and TYPE_PENDING in current.get("Comment", "") and restorable.restore is Restore.DECIMAL
        )
        if current is not None and not retype_history and not pending:
            reason = (
                f"restorable as {restorable.catalog_type}, but the catalog column is string: run the retype "
                "(--retype_history true)"
            )
            text.append(TextColumn(column, restorable.source_type, TextReason.CATALOG_STRING, reason))
            continue
        if restorable.restore is Restore.DECIMAL and restorable.scale is None:
            scale = numeric_scale(scale_evidence(column))
            if scale is None:
                # Nothing is lost by waiting: the column holds no number. It stays string, marked TYPE_PENDING, and
                # the first night with a number types it and retypes the earlier days (retype_history).
                text.append(TextColumn(column, restorable.source_type, TextReason.PENDING,
                                       "numeric scale unknown yet: no scale in the metadata and no number in the "
                                       "column so far (empty, all NULL or all NaN); typed on the first night that "
                                       "shows one"))  # fmt: skip
                continue
            widest = max(restorable.precision or 0, scale)
            if widest > MAX_DECIMAL_PRECISION:
                # numeric(p,s) with s > p (PostgreSQL allows it); the metadata carries no scale, the data shows it
                text.append(TextColumn(column, restorable.source_type, TextReason.BY_RULE,
                                       f"scale {scale} needs decimal({widest},{scale}): Athena's decimals stop at "
                                       f"precision {MAX_DECIMAL_PRECISION}"))  # fmt: skip
                continue
            restorable = with_scale(restorable, scale)
        rules[column] = restorable
    return RestorationPlan(rules, tuple(text))


# ==================================================================================================
# 8. Catalog writes
# ==================================================================================================
def catalog_tables(glue: Any, database: str) -> dict[str, dict[str, Any]]:
    """Every table of the catalog database, in one paginated call (not one GetTable per table)."""
    try:
        glue.get_database(Name=database)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "EntityNotFoundException":
            raise ExportError(
                f"catalog database {database!r} does not exist (the stack creates it; create it by hand when running "
                "the job outside the stack)"
            ) from exc
        raise
    tables: dict[str, dict[str, Any]] = {}
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        tables.update({t["Name"]: t for t in page["TableList"]})
    return tables


class TableAction(Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    UPDATED_UNARCHIVED = "updated without archiving its previous version (table version quota reached)"


def created_unless_exists(create: Callable[[], Any]) -> bool:
    """True when `create` made the catalog object; False when Glue answers AlreadyExistsException (another run, or an
    earlier night, made it), which the caller then compares and updates."""
    try:
        create()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise
        return False
    return True


def put_table(glue: Any, database: str, current: Mapping[str, Any] | None, wanted: dict[str, Any]) -> TableAction:
    """CreateTable, or UpdateTable only when the definition differs (a real schema change, or a one-time clean-up
    of parameters an earlier version kept on the table).

    SkipArchive stays False: with updates only on real changes, the archived versions are the table's schema history
    (GetTableVersions) and stay few. Should the account or table already be at its version quota (a deployment that
    updated every table every night before), the update is retried once with SkipArchive=True, which "does not create
    the archived version" (botocore glue model, UpdateTable SkipArchive), so the night still publishes.
    """
    if current is None:
        if created_unless_exists(functools.partial(glue.create_table, DatabaseName=database, TableInput=wanted)):
            return TableAction.CREATED
        # Another run created it between our listing and now: update it as if we had seen it.
    elif same_definition(as_table_input(current), wanted):
        return TableAction.UNCHANGED
    try:
        glue.update_table(DatabaseName=database, TableInput=wanted, SkipArchive=False)
        return TableAction.UPDATED
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNumberLimitExceededException":
            raise
        log.warning("table %s: %s; updating without archiving", wanted["Name"], exc)
    glue.update_table(DatabaseName=database, TableInput=wanted, SkipArchive=True)
    return TableAction.UPDATED_UNARCHIVED


class PartitionAction(Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"


def put_partition(glue: Any, database: str, name: str, wanted: dict[str, Any]) -> PartitionAction:
    """CreatePartition, else UpdatePartition only when the partition differs (a re-run writes nothing)."""
    create = functools.partial(glue.create_partition, DatabaseName=database, TableName=name, PartitionInput=wanted)
    if created_unless_exists(create):
        return PartitionAction.CREATED
    current = glue.get_partition(DatabaseName=database, TableName=name, PartitionValues=wanted["Values"])["Partition"]
    storage = {k: v for k, v in current.get("StorageDescriptor", {}).items() if k in wanted["StorageDescriptor"]}
    found = {"Values": current.get("Values"), "StorageDescriptor": storage, "Parameters": current.get("Parameters", {})}
    if same_definition(found, wanted):
        return PartitionAction.UNCHANGED
    glue.update_partition(
        DatabaseName=database, TableName=name, PartitionValueList=wanted["Values"], PartitionInput=wanted
    )
    return PartitionAction.REPLACED


# ==================================================================================================
# 8b. Retention: which day partitions the keep rules remove, and removing them safely
# ==================================================================================================
# The rules are restic's `forget --keep-daily/--keep-monthly/--keep-yearly` (docs/contracts.md "Retention"):
# keep_daily N keeps the newest partition of each of the N most recent days that have one, keep_monthly M the
# newest of each of the M most recent months that have one, keep_yearly Y the same per year; a partition any rule
# keeps is kept; 0 turns a rule off, all three 0 (the default) turns retention off.
#
# Kept dates, per table T of the managed tables:
#     kept(T) = rules(catalog dates of every managed table)  -- one calendar, so tables joined on a day agree
#             | rules(catalog dates of T)                     -- a table that missed a kept day keeps its own
#             | {the run's ingestion date}                    -- a backfill is not undone by the run that made it
# Removing a date the rules do not keep never changes what they keep (the newest date of a day, month or year
# that counts is, by definition, kept), so an interrupted removal run again ends where a clean run ends.
#
# Order of removal: the catalog partition first (BatchDeletePartition), its day folder after (DeleteObjects), so
# Athena never lists a partition without files. A day folder whose partition is already gone (a run stopped
# between the two) is an orphan: it is removed when the rules do not keep its date. Only managed tables
# (`sor.managed_by`) laid out where this job puts them, and only keys under their `ingestion_date=YYYY-MM-DD/`
# folders, are touched.
RETENTION_RULES: tuple[tuple[str, Callable[[dt.date], object]], ...] = (
    ("keep_daily", lambda day: day),
    ("keep_monthly", lambda day: (day.year, day.month)),
    ("keep_yearly", lambda day: day.year),
)
# BatchDeletePartition takes at most 25 partitions a request
# (https://docs.aws.amazon.com/glue/latest/webapi/API_BatchDeletePartition.html, PartitionsToDelete).
PARTITIONS_PER_DELETE = 25
_DAY_FOLDER = re.compile(rf"^{PARTITION_KEY}=(\d{{4}}-\d{{2}}-\d{{2}})/$")


@dataclass(frozen=True)
class RetentionPolicy:
    keep_daily: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0

    @property
    def enabled(self) -> bool:
        return any(count > 0 for count in (self.keep_daily, self.keep_monthly, self.keep_yearly))

    def as_dict(self) -> dict[str, int]:
        return {"keep_daily": self.keep_daily, "keep_monthly": self.keep_monthly, "keep_yearly": self.keep_yearly}


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


def table_days(clients: JobClients, config: JobConfig, name: str, warnings: list[str]) -> TableDays:
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
    return TableDays(name, frozenset(partitions), frozenset(folders), frozenset(pinned))


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
        held = [table_days(clients, config, name, report.warnings) for name in names]
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


# ==================================================================================================
# 9. One table's publication, stage by stage (publish_table)
# ==================================================================================================
class TableStatus(StrEnum):
    """One table's outcome in the run manifest (docs/contracts.md "Run manifest")."""

    PUBLISHED = "PUBLISHED"
    EMPTY = "EMPTY"  # published with no rows tonight, or nothing to take a schema from yet
    FAILED = "FAILED"


class FailureKind(StrEnum):
    """Why a table failed, for whoever decides whether to run the night again (docs/contracts.md "Run manifest")."""

    TRANSIENT = "transient"  # throttling, a 5xx, a lost connection, a Spark job that lost its tasks: may pass alone
    DETERMINISTIC = "deterministic"  # the data, the catalog or the code: the same run fails the same way


# Error codes botocore's standard retry mode treats as throttling or transient (botocore/retries/standard.py,
# ThrottledRetryableChecker and TransientRetryableChecker); the job's clients already retried them
# (boto_config: adaptive, 10 attempts), so one that still surfaces is a service having a bad night, not the data.
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
    "ServiceUnavailable", "InternalServiceException",
})  # fmt: skip


def failure_kind(exc: BaseException) -> FailureKind:
    """TRANSIENT for what a later run may not meet again (see FailureKind), DETERMINISTIC for everything else, bugs
    included: a re-run is started automatically only for transient failures (bounded), never to retry a bug."""
    if isinstance(exc, TableError):
        return FailureKind.TRANSIENT if exc.transient else FailureKind.DETERMINISTIC
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return FailureKind.TRANSIENT if code in _TRANSIENT_CODES or status >= 500 else FailureKind.DETERMINISTIC
    if isinstance(exc, BotoConnectionError | HTTPClientError):  # endpoint unreachable, timeouts, closed connections
        return FailureKind.TRANSIENT
    return FailureKind.DETERMINISTIC


class RunStatus(StrEnum):
    """The run's outcome: the summary line's and the manifest's `status` (exit 0 only when SUCCEEDED)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ExitCode(IntEnum):
    """The job's exit codes (docs/contracts.md "Exit codes and retries"): any non-zero ends the Glue run FAILED."""

    SUCCEEDED = 0  # every table published
    TABLE_FAILED = 1  # at least one table failed; the manifest and metrics say which
    NOT_STARTED = 2  # the run could not start, lost S3/Glue, or crashed


class PublishMethod(StrEnum):
    """How a table's day reaches the SOR."""

    COPY = "copy"  # server-side copies of the export's files: zero data bytes read
    REWRITE = "rewrite"  # Spark units through the restoration transform (sections 7b, 7c, 9b)


@dataclass
class TableResult:
    name: str
    source: str
    status: TableStatus = TableStatus.FAILED
    error: str | None = None
    failure: FailureKind | None = None  # set when status is FAILED
    files: int = 0
    bytes: int = 0
    rows: int = 0
    footer_bytes_read: int = 0
    copied: int = 0
    skipped: int = 0
    removed: int = 0
    location: str = ""
    columns: list[dict[str, str]] = field(default_factory=list)
    catalog: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    method: PublishMethod = PublishMethod.COPY
    restored_columns: dict[str, str] = field(default_factory=dict)  # catalog column -> restored catalog type
    kept_as_text: list[dict[str, str]] = field(default_factory=list)  # string columns not restored, and why
    rejected_values: dict[str, int] = field(default_factory=dict)  # restored column -> values kept in sor_rejects
    invalid_text: dict[str, int] = field(default_factory=dict)  # string column -> values not UTF-8 (kept as bytes)
    partition_of: str | None = None  # the parent's source when this table is one of its partitions (section 4b)
    columns_without_evidence: int = 0  # kept_as_text entries of kind no_evidence (the ColumnsKeptAsText metric)
    retyped_history: dict[str, Any] = field(default_factory=dict)  # RetypeReport.manifest() of a retype run


@dataclass
class JobClients:
    """The boto3 clients of the job's driver (Spark tasks make their own: task_s3_client)."""

    s3: Any
    glue: Any
    cloudwatch: Any


def boto_config(pool: int) -> Config:
    """botocore's own retries (adaptive mode backs off on S3 SlowDown and 5xx), for the job's and the tasks' clients."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=300,  # a CopyObject of a large file answers only when the copy is done
    )


def make_job_clients(config: JobConfig) -> JobClients:
    """The job's clients, with botocore's own retries (adaptive mode backs off on S3 SlowDown and 5xx)."""
    pool = config.copy_concurrency + config.table_concurrency * 4 + 8
    session = boto3.session.Session()
    return JobClients(
        s3=session.client("s3", config=boto_config(pool)),
        glue=session.client("glue", config=boto_config(pool)),
        cloudwatch=session.client("cloudwatch", config=boto_config(pool)),
    )


@dataclass
class RunContext:
    """What the tables of one run share: arguments, clients, copier, the catalog as the run found it, the count of
    tables done (for the log lines), each table's footer reads and the partitions' parents (section 4b)."""

    config: JobConfig
    clients: JobClients
    copier: Copier
    catalog: dict[str, dict[str, Any]]
    snapshot_time: str | None
    progress_lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    # each published table's footer reads, submitted before any table is (section 4b needs them all), by source
    footer_reads: Mapping[str, Sequence[Future[tuple[FileSchema, int]]]] = field(default_factory=dict)
    partition_of: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # source -> (parent source, name)


# One table's publication, stage by stage (publish_table runs them). Plan: refuse_table -> read_footers ->
# plan_types -> plan_columns -> publish_method; actions: copy_partition or rewrite_partition (then retype_history)
# -> write_table -> write_partition; result: table_result. Each stage returns a value and TableStages holds them,
# so the manifest entry of a table that failed half-way shows how far it got.
@dataclass(frozen=True)
class Footers:
    """The day's file schemas in file order, and the bytes read to get them (ranged reads of the footers)."""

    schemas: tuple[FileSchema, ...] = ()
    bytes_read: int = 0


@dataclass(frozen=True)
class TypePlan:
    """The day's restorations, and what they do to the table's catalog columns."""

    restoration: RestorationPlan
    retype: Mapping[str, Restoration]  # rules on columns the catalog holds as string: earlier days to rewrite
    catalog_columns: Sequence[Mapping[str, str]]  # the catalog table's columns, retyped where `retype` says
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ColumnPlan:
    """The day's partition columns, and the table's columns once the day is merged in."""

    day: list[dict[str, str]]
    merged: list[dict[str, str]]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class DayWritten:
    """What the copy or the rewrite left in the day's partition folder."""

    method: PublishMethod
    files: int
    bytes: int
    rows: int
    written: int  # objects this run wrote (copied or rewritten); the manifest calls them `copied`
    skipped: int  # objects an earlier attempt already wrote
    removed: int = 0  # stale objects deleted (counted on the copy path)
    rejected_values: Mapping[str, int] = field(default_factory=dict)  # restored column -> values in sor_rejects
    invalid_text: Mapping[str, int] = field(default_factory=dict)  # string column -> values that are not UTF-8


@dataclass(frozen=True)
class TableStages:
    """The output of each stage of one table's publication; None (or empty) for a stage not reached."""

    nothing_to_publish: bool = False
    footers: Footers = Footers()
    types: TypePlan | None = None
    columns: ColumnPlan | None = None
    day: DayWritten | None = None
    history: RetypeReport | None = None
    table_action: TableAction | None = None
    partition_action: PartitionAction | None = None

    @property
    def data_written(self) -> bool:
        """Tonight's objects are in place, and the earlier days' too when the table is retyped."""
        retyping = self.types is not None and bool(self.types.retype)
        return self.day is not None and (not retyping or self.history is not None)


def refuse_table(table: ExportedTable, current: Mapping[str, Any] | None) -> None:
    """Raises TableError for a table this run must not publish: the export did not complete it, or its catalog
    table is not partitioned the way this job partitions."""
    if table.export_status != "COMPLETE" and table.export_status != "UNKNOWN":
        raise TableError(f"the export reports this table as {table.export_status}")
    if current is not None:
        check_partition_keys(current)


def read_footers(run: RunContext, table: ExportedTable) -> Iterator[tuple[FileSchema, int]]:
    """(schema, bytes read) of each file's footer, in file order, from the reads relate_partitions submitted to the
    footer pool before any table was published."""
    for future in run.footer_reads[table.source]:
        yield future.result()


def plan_types(
    run: RunContext, table: ExportedTable, current: Mapping[str, Any] | None, schemas: Sequence[FileSchema]
) -> TypePlan:
    """Which string columns take a restored type tonight (--restore_types), from the export's metadata and the
    data's evidence (footer statistics, else the first values: ranged reads)."""
    config = run.config
    existing_columns = current["StorageDescriptor"]["Columns"] if current else []
    plan = RestorationPlan({}, ())
    if config.restore_types and schemas and schemas[0].arrow_schema is not None:
        texts = [n for n, t in schemas[0].columns if t == "string"]

        def evidence(column: str) -> list[str]:
            stats = [v for schema in schemas for v in schema.text_samples.get(column, ())]
            if numeric_scale(stats) is not None:
                return stats
            return first_values(run.clients.s3, config.export_bucket, table.files, column, config.footer_read_size)

        plan = plan_restorations(
            config.source_engine, table.type_mappings, texts, existing_columns, evidence, config.retype_history
        )
        if REJECTS_COLUMN in {n.lower() for n, _ in schemas[0].columns} and plan.rules:
            raise TableError(
                f"the source has a column named {REJECTS_COLUMN!r}, a name this job reserves for the values "
                'restored types cannot hold (docs/sor-job.md "Rejected values")'
            )
    # --retype_history: the earlier days are rewritten (retype_history); the table's columns take the restored
    # types now, so the schema merge sees no type change.
    retype = retyped_rules(plan.rules, existing_columns)
    warnings = []
    restorable_strings = [t.column.lower() for t in plan.text if t.kind is TextReason.CATALOG_STRING]
    if restorable_strings:
        warnings.append(
            f"restorable columns stay string because the catalog says string: {restorable_strings}; run the "
            'retype (--retype_history true, README "Turn on typed columns on an existing deployment")'
        )
    without = [t.column.lower() for t in plan.text if t.kind is TextReason.NO_EVIDENCE]
    if without:
        warnings.append(f"columns kept as text for want of evidence of their type: {without}")
    pending = {c["Name"] for c in existing_columns if TYPE_PENDING in c.get("Comment", "")}
    resolved = [name.lower() for name in retype if name.lower() in pending]
    if resolved:
        warnings.append(
            f"numeric columns typed tonight, the first night that shows their scale: {resolved}; their earlier days "
            "(no number in them) are retyped in place"
        )
    catalog_columns = retyped_columns(existing_columns, retype) if retype else existing_columns
    return TypePlan(plan, retype, catalog_columns, tuple(warnings))


# originalType words of the PostgreSQL types the export writes as native Parquet types (docs/aws-facts.md)
_NATIVELY_EXPORTED = frozenset({"smallint", "integer", "bigint", "real", "double precision", "boolean", "bytea"})


def plan_columns(table: ExportedTable, schemas: Sequence[FileSchema], types: TypePlan) -> ColumnPlan:
    """The day's columns (restored types, sor_rejects) merged into the table's; raises TableError on a type
    change, before any data is read or written."""
    rules = types.restoration.rules
    columns_of_day = table_columns(schemas) if schemas else []
    comments = {k: f"source type: {v}" for k, v in table.original_types.items() if v}
    for name, type_ in columns_of_day:
        if type_ == "string" and table.original_types.get(name) in _NATIVELY_EXPORTED:
            # The export writes these types as native Parquet types; as text, the column is a domain over one (AWS's
            # table: DOMAIN -> STRING), whose name the metadata does not carry
            comments[name] += " (a domain over it: the export writes domains as text)"
    for column_name, rule in rules.items():
        comments[column_name.lower()] = rule.comment()
    for text in types.restoration.text:
        if text.kind is TextReason.PENDING:
            comments[text.column.lower()] = f"source type: {text.source_type}, {TYPE_PENDING}"
    day_columns = [_column(n, t, comments.get(n, "")) for n, t in columns_of_day]
    if rules:
        restored = types.restoration.restored_columns()
        day_columns = [
            _column(c["Name"], restored.get(c["Name"], c["Type"]), c.get("Comment", "")) for c in day_columns
        ]
        day_columns.append(_column(REJECTS_COLUMN, REJECTS_CATALOG_TYPE, REJECTS_COMMENT))
        comments[REJECTS_COLUMN] = REJECTS_COMMENT
    if schemas:
        merged = merge_columns(types.catalog_columns, [(c["Name"], c["Type"]) for c in day_columns], comments)
    else:
        merged = [dict(c) for c in types.catalog_columns]
        day_columns = merged  # an empty day keeps the table's schema
    warnings = []
    unusual = [c["Name"] for c in day_columns if not re.fullmatch(r"[a-z_][a-z0-9_]*", c["Name"])]
    if unusual:
        # Glue takes any single-line UTF-8 name; Athena documents only [a-z0-9_] and warns that other names can
        # fail in queries (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
        # The name cannot be changed: Athena finds a Parquet column by its name.
        warnings.append(f"columns need double quotes in Athena (outside its documented names): {unusual}")
    return ColumnPlan(day_columns, merged, tuple(warnings))


def publish_method(types: TypePlan) -> PublishMethod:
    """A day with restored columns is rewritten (Spark); any other day is copied server-side."""
    return PublishMethod.REWRITE if types.restoration.rules else PublishMethod.COPY


def copy_partition(run: RunContext, table: ExportedTable, name: str, schemas: Sequence[FileSchema]) -> DayWritten:
    """Copies the day's files into the partition folder (skipping those an earlier attempt copied), removes
    stale objects, verifies the folder."""
    config, copier = run.config, run.copier
    steps = [CopyStep(obj, destination_key(config, name, table, obj)) for obj in table.files]
    if len({s.destination for s in steps}) != len(steps):
        raise TableError("two export files flatten to the same file name in the partition folder")
    listed = list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name))
    sizes = {o.key: o.size for o in listed}
    # Only objects whose size could match are asked about: a first run pays nothing here.
    wanted = [s.destination for s in steps if sizes.get(s.destination) == s.source.size]
    present = copier.source_etags(wanted)
    needed = copy_steps_needed(steps, present)
    copying = {s.destination for s in needed}  # destinations are unique (checked above): a set, not a list scan
    kept = [s for s in steps if s.destination not in copying]
    copier.progress.add(len(kept), sum(s.source.size for s in kept))
    copier.copy(needed)
    stale = stale_keys(steps, listed)
    copier.delete(stale)
    verify_partition(steps, list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name)))
    return DayWritten(
        PublishMethod.COPY, len(steps), sum(s.source.size for s in steps), sum(s.rows for s in schemas),
        written=len(needed), skipped=len(steps) - len(needed), removed=len(stale),
        invalid_text=count_invalid_text(run, table, schemas),
    )  # fmt: skip


def count_invalid_text(run: RunContext, table: ExportedTable, schemas: Sequence[FileSchema]) -> dict[str, int]:
    """catalog column -> values that are not UTF-8, for the string columns whose footer statistics showed one in
    any file of the day; those columns alone are read, row group by row group, in every file (the copy path reads
    no other data, so text whose bytes are never a row group's min or max goes uncounted here: docs/sor-job.md
    "Text that is not UTF-8")."""
    flagged = sorted({name for schema in schemas for name in schema.invalid_text})
    if not flagged:
        return {}
    config, counts = run.config, defaultdict(int)
    for obj in table.files:
        parquet = pq.ParquetFile(RangeReader(run.clients.s3, config.export_bucket, obj, config.footer_read_size))
        present = [name for name in flagged if name in parquet.schema_arrow.names]
        for group in range(parquet.metadata.num_row_groups):
            data = parquet.read_row_group(group, columns=present)
            for name in present:
                counts[name.lower()] += invalid_text_count(data.column(name))
    return {name: count for name, count in counts.items() if count}


def write_table(
    run: RunContext, name: str, current: Mapping[str, Any] | None, table: ExportedTable, columns: ColumnPlan
) -> TableAction:
    config = run.config
    wanted = table_input(
        name, config.table_location(name), columns.merged, table.source, run.partition_of.get(table.source)
    )
    return put_table(run.clients.glue, config.catalog_database, current, wanted)


def write_partition(run: RunContext, name: str, columns: ColumnPlan, day: DayWritten) -> PartitionAction:
    config = run.config
    totals = {"files": day.files, "bytes": day.bytes, "rows": day.rows}
    wanted = partition_input(
        config.table_location(name), config.ingestion_date, columns.day, config.export_id, totals, run.snapshot_time
    )
    return put_partition(run.clients.glue, config.catalog_database, name, wanted)


def table_result(
    name: str, table: ExportedTable, location: str, stages: TableStages, error: str | None, seconds: float
) -> TableResult:
    """The table's manifest entry, from the stages' outputs: a table that failed shows what was done before."""
    result = TableResult(name=name, source=table.source, location=location, error=error, seconds=seconds)
    if stages.nothing_to_publish:
        result.status = TableStatus.EMPTY
        result.warnings.append("no Parquet files and no catalog table yet: nothing published for this table")
        return result
    result.footer_bytes_read = stages.footers.bytes_read
    if stages.types is not None:
        plan = stages.types.restoration
        result.restored_columns, result.kept_as_text = plan.restored_columns(), plan.kept_as_text()
        result.columns_without_evidence = plan.columns_without_evidence()
        result.warnings += stages.types.warnings
    if stages.columns is not None:
        result.warnings += stages.columns.warnings
    if stages.day is not None:
        day = stages.day
        result.method, result.files, result.bytes, result.rows = day.method, day.files, day.bytes, day.rows
        result.copied, result.skipped, result.removed = day.written, day.skipped, day.removed
        result.rejected_values = dict(day.rejected_values)
        result.invalid_text = dict(day.invalid_text)
        if day.invalid_text:
            result.warnings.append(
                f"text that is not UTF-8, published byte for byte (how Athena shows such bytes is not documented): "
                f"{dict(day.invalid_text)}"
            )
    if stages.history is not None:
        result.retyped_history = stages.history.manifest()
        for column, count in stages.history.rejected_values.items():
            result.rejected_values[column] += count
    if stages.data_written and stages.columns is not None:
        if any(result.rejected_values.values()):
            result.warnings.append(
                f"values kept in {REJECTS_COLUMN} (their typed column is NULL): {result.rejected_values}"
            )
        result.columns = stages.columns.day
    if stages.table_action is TableAction.UPDATED_UNARCHIVED:
        result.warnings.append(
            "the Glue table version quota is reached: the table was updated without archiving its previous "
            "version; delete old versions (BatchDeleteTableVersion) to keep the schema history"
        )
    if stages.table_action is not None and stages.partition_action is not None:
        result.catalog = f"table {stages.table_action.value}, partition {stages.partition_action.value}"
        result.status = TableStatus.PUBLISHED if table.files else TableStatus.EMPTY
    return result


def publish_table(run: RunContext, table: ExportedTable, name: str, total: int) -> TableResult:
    """Publishes one table's day: the stages above in order, then its result and its log line. Any exception in a
    stage (a TableError, an AWS error, a Spark job's failure, a bug) fails this table only, named with its error and
    its FailureKind; the run goes on with the others."""
    started = time.monotonic()
    stages, error, failure = TableStages(), None, None
    try:
        current = run.catalog.get(name)
        refuse_table(table, current)
        if not table.files and current is None:
            # Nothing to take a schema from and no table yet: publishing would mean guessing types.
            stages = dataclasses.replace(stages, nothing_to_publish=True)
        else:
            schemas_read: list[FileSchema] = []
            bytes_read = 0
            try:
                for schema, read in read_footers(run, table):
                    schemas_read.append(schema)
                    bytes_read += read
            finally:  # a footer that fails the table still leaves the bytes read before it in the manifest
                stages = dataclasses.replace(stages, footers=Footers(tuple(schemas_read), bytes_read))
            schemas = stages.footers.schemas
            types = plan_types(run, table, current, schemas)
            stages = dataclasses.replace(stages, types=types)
            columns = plan_columns(table, schemas, types)
            stages = dataclasses.replace(stages, columns=columns)
            if publish_method(types) is PublishMethod.REWRITE:
                day = rewrite_partition(run, table, name, schemas, types.restoration.rules)
                stages = dataclasses.replace(stages, day=day)
                if types.retype:
                    # after tonight's rewrite, whose format check fails the table before any earlier day is touched
                    stages = dataclasses.replace(stages, history=retype_history(run, name, types.retype))
            else:
                day = copy_partition(run, table, name, schemas)
                stages = dataclasses.replace(stages, day=day)
            stages = dataclasses.replace(stages, table_action=write_table(run, name, current, table, columns))
            stages = dataclasses.replace(stages, partition_action=write_partition(run, name, columns, day))
    except Exception as exc:  # whatever one table raises, the other tables still publish tonight
        expected = isinstance(exc, TableError | ClientError | BotoCoreError)
        if not expected:  # a bug or an unforeseen input: the stack trace goes to the log, the table fails by name
            log.exception("table %s (%s) failed on an unexpected error", name, table.source)
        error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        failure = failure_kind(exc)
    finally:
        seconds = round(time.monotonic() - started, 3)
        result = table_result(name, table, run.config.table_location(name), stages, error, seconds)
        result.partition_of = run.partition_of.get(table.source, (None, None))[0]
        if result.status is TableStatus.FAILED:
            result.failure = failure or FailureKind.DETERMINISTIC
        with run.progress_lock:
            run.done += 1
            log.info(
                "table %d/%d %s (%s): %s, %d files, %d bytes, %d rows, %s %d, kept %d, removed %d, %.1fs%s",
                run.done, total, name, table.source, result.status, result.files, result.bytes, result.rows,
                "rewrote" if result.method is PublishMethod.REWRITE else "copied", result.copied, result.skipped,
                result.removed, result.seconds,
                (f", partition of {result.partition_of}" if result.partition_of else "")
                + (f" - {result.error}" if result.error else ""),
            )  # fmt: skip
    return result


# ==================================================================================================
# 9b. Typed tables: the rewrite of a table's day through the restoration transform
# ==================================================================================================
REJECTS_COMMENT = "values the restored types cannot hold: source file, row index, exact source text by column"
FIRST_VALUES = 100  # non-NULL values read from the data when no footer statistic tells a decimal's scale


def first_values(s3: Any, bucket: str, files: Sequence[S3Object], column: str, prefetch: int) -> list[str]:
    """Up to FIRST_VALUES numbers of `column` in file and row group order: one ranged read of each column chunk
    until a row group holds a number (NULL, NaN and ±Infinity say nothing about the scale)."""
    found: list[str] = []
    for obj in files:
        parquet = pq.ParquetFile(RangeReader(s3, bucket, obj, prefetch))
        for group in range(parquet.metadata.num_row_groups):
            values = parquet.read_row_group(group, columns=[column]).column(0)
            numbers = pc.filter(values, pc.match_substring_regex(pc.cast(values, pa.string()), _NUMERIC_TEXT.pattern))
            found += [str(v) for v in numbers.slice(0, FIRST_VALUES - len(found)).to_pylist()]
            if found:
                return found
    return found


def restoration_factory(rules: Mapping[str, Restoration], export_bucket: str) -> TransformFactory:
    """The transform of each unit, built on the executor; sor_rejects.source_file is the export object's URI."""
    plain_rules = dict(rules)

    def factory(unit: RewriteUnit) -> Transform:
        return restoration_transform(plain_rules, unit.output_schema, f"s3://{export_bucket}/{unit.source.key}")

    return factory


def sum_counters(results: Iterable[UnitResult]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for result in results:
        for key, value in result.counters.items():
            total[key] += value
    return dict(total)


def rejected_by_column(counters: Mapping[str, int], rules: Mapping[str, Restoration]) -> dict[str, int]:
    return {name.lower(): counters.get(Counter.REJECTED.of(name), 0) for name in sorted(rules)}


def broken_formats(
    counters: Mapping[str, int], results: Sequence[UnitResult], rules: Mapping[str, Restoration]
) -> list[str]:
    """One line per column whose format assumption does not hold over the whole table, with sample values (only
    fresh units carry samples: a unit skipped on a re-run read nothing)."""
    lines = []
    for name in sorted(rules):
        counts = column_counts(counters, name)
        if format_assumption_broken(counts):
            samples = [v for r in results for v in r.samples.get(Counter.MALFORMED.of(name), [])][:MAX_SAMPLES]
            lines.append(
                f"{name}: {counts.malformed} of {counts.non_null} values are not {rules[name].source_type} text as "
                f"PostgreSQL prints it (samples: {samples})"
            )
    return lines


def partition_registered(glue: Any, config: JobConfig, name: str) -> bool:
    try:
        glue.get_partition(
            DatabaseName=config.catalog_database, TableName=name, PartitionValues=[config.ingestion_date]
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "EntityNotFoundException":
            return False
        raise


def rewrite_partition(
    run: RunContext, table: ExportedTable, name: str, schemas: Sequence[FileSchema], rules: Mapping[str, Restoration]
) -> DayWritten:
    """Rewrites the table's day: units -> Spark -> fail on errors or a broken format -> stale keys -> verify.

    A failed table publishes nothing of its day: when no earlier run registered the day's partition, every object
    of the day's folder is removed before the error is raised (a folder Athena never lists, left for nobody); when
    one did, the folder is left as it is (its objects are whole files of the same source and plan) and the partition
    keeps what the earlier run registered."""
    config, s3 = run.config, run.clients.s3
    reference = schemas[0].arrow_schema
    if reference is None:
        raise TableError("no Arrow schema read from the footer")
    output = restored_schema(reference, rules)
    digest = rewrite_plan_digest(output, restoration_spec(rules))
    units = [
        RewriteUnit(obj, destination_key(config, name, table, obj), schema_ipc(output), digest, schema.rows)
        for obj, schema in zip(table.files, schemas, strict=True)
    ]
    if len({u.destination for u in units}) != len(units):
        raise TableError("two export files flatten to the same file name in the partition folder")
    spark_failure: SparkJobFailed | None = None
    try:
        results = run_rewrites(units, restoration_factory(rules, config.export_bucket), config)
    except SparkJobFailed as exc:
        results, spark_failure = [], exc
    counters = sum_counters(r for r in results if r.error is None)
    formats = broken_formats(counters, results, rules) if spark_failure is None else []
    problems = [str(spark_failure)] if spark_failure else [r.error for r in results if r.error] + formats
    if problems:
        for line in problems:
            log.error("%s: %s", name, line)
        prefix = config.partition_prefix(name)
        abort_unfinished_uploads(s3, config.sor_bucket, prefix)
        if partition_registered(run.clients.glue, config, name):
            kept = "the day's partition stays as an earlier run published it"
        else:
            run.copier.delete([o.key for o in list_objects(s3, config.sor_bucket, prefix)])
            kept = f"nothing of the day is published ({prefix} emptied)"
        # Transient only when nothing in the data is wrong: every failed unit (or the Spark job) failed for a
        # transient cause, and no column broke the format assumption.
        transient = spark_failure is not None or (not formats and all(r.transient for r in results if r.error))
        raise TableError(f"rewrite failed ({kept}): " + "; ".join(str(p) for p in problems[:5]), transient=transient)
    listed = list_objects(s3, config.sor_bucket, config.partition_prefix(name))
    run.copier.delete(stale_keys(units, listed))
    verify_rewrites(s3, config, units)
    run.copier.progress.add(len(units), sum(u.source.size for u in units))
    rewritten = sum(1 for r in results if not r.skipped)
    return DayWritten(
        PublishMethod.REWRITE, len(units), sum(r.bytes for r in results), sum(u.rows for u in units),
        written=rewritten, skipped=len(units) - rewritten, rejected_values=rejected_by_column(counters, rules),
        invalid_text=invalid_text_by_column(counters),
    )  # fmt: skip


# ==================================================================================================
# 9c. Retyping history: earlier string-typed partitions of a table rewritten in place (--retype_history true)
# ==================================================================================================
# A deployment that ran before typed columns holds string-typed days; the catalog's type-change rule keeps such a
# table string (TextReason.CATALOG_STRING) until a run with --retype_history true retypes it. That run rewrites every
# other partition's data objects in place through the same engine (7b) and transform (7c) as a night's rewrite: the
# source of a unit is the object's current (string) version in the SOR bucket, its destination the same key, so
# the versioned bucket keeps the string version as a noncurrent version (README "Turn on typed columns on an
# existing deployment"). The rewritten object carries the engine's metadata: the plan digest, and as source ETag
# the ETag of the string version it was made from. An object whose footer already has `sor_rejects` and whose
# digest is the one this plan gives its columns is done: a re-run reads its footer only (for its counters).
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
        _column(c["Name"], by_name[c["Name"]].catalog_type, by_name[c["Name"]].comment())
        if c["Name"] in by_name
        else dict(c)
        for c in columns
    ]
    if has_rejects and REJECTS_COLUMN not in {c["Name"] for c in retyped}:
        retyped.append(_column(REJECTS_COLUMN, REJECTS_CATALOG_TYPE, REJECTS_COMMENT))
    return retyped


def plan_history_partition(files: Sequence[HistoryFile], rules: Mapping[str, Restoration]) -> HistoryPlan:
    """Pure: which objects of an earlier partition to rewrite in place. Raises TableError for an object that holds
    `sor_rejects` under another plan (its string version is no longer current: it cannot be redone from here)."""
    units, steps, done, swaps = [], {}, defaultdict(int), {}
    for item in files:
        names = set(item.schema.names)
        file_rules = {name: rule for name, rule in rules.items() if name in names}
        still_text = [n for n in file_rules if _is_text(item.schema.field(n).type)]
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
        "StorageDescriptor": _storage(storage["Location"], retyped_columns(storage["Columns"], rules)),
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
        listed = [o for o in list_objects(s3, config.sor_bucket, prefix) if not _hidden(o.key[len(prefix) :])]
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


# ==================================================================================================
# 10. The run: every table, retention, summary, manifest, metrics, exit code (run_job, main)
# ==================================================================================================
def summarize(
    config: JobConfig, plan_warnings: Sequence[str], results: Sequence[TableResult], seconds: float
) -> dict[str, Any]:
    failed = [r for r in results if r.status is TableStatus.FAILED]
    published = [r for r in results if r.status is not TableStatus.FAILED]
    status = RunStatus.SUCCEEDED if results and not failed else RunStatus.FAILED
    return {
        # A FAILED night whose every failed table failed for a transient cause: reconcile may run it again (bounded)
        "retryable": bool(failed) and all(r.failure is FailureKind.TRANSIENT for r in failed),
        "status": status,
        "export_id": config.export_id,
        "ingestion_date": config.ingestion_date,
        "tables": len(published),
        "files": sum(r.files for r in published),
        "bytes": sum(r.bytes for r in published),
        "rows": sum(r.rows for r in published),
        "failed_tables": [{"name": r.name, "source": r.source, "error": r.error, "failure": r.failure} for r in failed]
        or ([] if results else [{"name": None, "source": None, "error": "the export holds no tables"}]),
        "empty_tables": [r.name for r in results if r.status is TableStatus.EMPTY],
        "footer_bytes_read": sum(r.footer_bytes_read for r in results),
        "rejected_values": sum(sum(r.rejected_values.values()) for r in results),
        "invalid_text_values": sum(sum(r.invalid_text.values()) for r in results),
        "columns_kept_as_text": sum(r.columns_without_evidence for r in results),
        "warnings": len(plan_warnings) + sum(len(r.warnings) for r in results),
        "seconds": round(seconds, 3),
        "manifest_uri": f"s3://{config.sor_bucket}/{config.manifest_key}",
    }


def build_manifest(
    config: JobConfig,
    plan: ExportPlan,
    results: Sequence[TableResult],
    summary: Mapping[str, Any],
    started: dt.datetime,
) -> dict[str, Any]:
    finished = dt.datetime.now(dt.UTC)
    return {
        "manifest_version": 1,
        "status": summary["status"],
        "retryable": summary["retryable"],
        "export_id": config.export_id,
        "export_uri": config.export_uri,
        "ingestion_date": config.ingestion_date,
        "catalog_database": config.catalog_database,
        "sor_bucket": config.sor_bucket,
        "snapshot_time": plan.snapshot_time,
        "source_engine": config.source_engine or None,
        "job_run_id": config.job_run_id,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": summary["seconds"],
        "totals": {k: summary[k] for k in ("tables", "files", "bytes", "rows")},
        "tables": [
            {k: v for k, v in dataclasses.asdict(r).items() if k not in {"footer_bytes_read", "seconds"}}
            | {"seconds": r.seconds}
            for r in results
        ],
        "warnings": list(plan.warnings),
    }


def write_manifest(clients: JobClients, config: JobConfig, manifest: Mapping[str, Any]) -> None:
    extra: dict[str, Any] = {}
    if config.sor_kms_key_arn:
        extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": config.sor_kms_key_arn}
    clients.s3.put_object(
        Bucket=config.sor_bucket,
        Key=config.manifest_key,
        Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
        **extra,
    )


def metric_data(config: JobConfig, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    dimensions = [{"Name": "CatalogDatabase", "Value": config.catalog_database}]
    values = {
        "PublishSucceeded": (1 if summary["status"] == RunStatus.SUCCEEDED else 0, "Count"),
        "TablesPublished": (summary["tables"], "Count"),
        "TablesFailed": (len(summary["failed_tables"]), "Count"),
        "BytesPublished": (summary["bytes"], "Bytes"),
        "RowsPublished": (summary["rows"], "Count"),
        # counts only, never values: rows may hold personal data (the values are in sor_rejects, under IAM)
        "RejectedValues": (summary.get("rejected_values", 0), "Count"),
        "InvalidTextValues": (summary.get("invalid_text_values", 0), "Count"),
        "ColumnsKeptAsText": (summary.get("columns_kept_as_text", 0), "Count"),
    }
    if summary.get("retention", {}).get("enabled"):
        retention = summary["retention"]
        values["PartitionsRemoved"] = (retention["removed_days"], "Count")
        values["RetentionFailures"] = (retention["failed_days"], "Count")
    return [{"MetricName": k, "Dimensions": dimensions, "Value": v, "Unit": u} for k, (v, u) in values.items()]


def emit_metrics(clients: JobClients, config: JobConfig, summary: Mapping[str, Any]) -> None:
    if not config.metrics_namespace:
        return
    try:
        clients.cloudwatch.put_metric_data(Namespace=config.metrics_namespace, MetricData=metric_data(config, summary))
    except (ClientError, BotoCoreError) as exc:
        # The data is published; a lost metric only makes the "no publish in 26 h" alarm speak up, which is safe.
        log.error("could not emit metrics to %s: %s", config.metrics_namespace, exc)


def read_export(clients: JobClients, config: JobConfig) -> ExportPlan:
    """The export's listing and metadata files, checked against the run's arguments, as an ExportPlan. Raises
    ExportError when the export is missing, not complete, or another export than the URI names."""
    objects = list_objects(clients.s3, config.export_bucket, config.export_prefix)
    if not objects:
        raise ExportError(f"nothing under {config.export_uri}: wrong URI, or the export has not finished")
    export_info, tables_info, problems = read_metadata(clients.s3, config, objects)
    for problem in problems:
        log.warning("export metadata: %s", problem)
    if export_info is not None:
        status = str(export_info.get("status", "COMPLETE")).upper()
        if status != "COMPLETE":
            raise ExportError(f"export_info says the export is {status}, not COMPLETE")
        listed_id = export_info.get("exportTaskIdentifier")
        if listed_id and listed_id != config.export_id:
            raise ExportError(f"export_info names export {listed_id!r}, but the URI names {config.export_id!r}")
    return plan_export(config.export_prefix, objects, export_info, tables_info, problems)


def name_tables(
    clients: JobClients, config: JobConfig, plan: ExportPlan
) -> tuple[ExportPlan, dict[str, dict[str, Any]], NameAssignment]:
    """The catalog's current tables and each exported table's catalog name; the plan returned carries the naming
    warnings too."""
    catalog = catalog_tables(clients.glue, config.catalog_database)
    owners = {name: t.get("Parameters", {}).get("sor.source") for name, t in catalog.items()}
    assignment = assign_table_names({t.source: t.folder for t in plan.tables}, owners)
    warnings = list(plan.warnings) + list(assignment.warnings)
    for warning in warnings:
        log.warning("%s", warning)
    log.info(
        "plan: %d tables, %d Parquet files, %d bytes; %d other objects ignored",
        len(plan.tables), sum(len(t.files) for t in plan.tables), sum(o.size for t in plan.tables for o in t.files),
        plan.ignored_objects,
    )  # fmt: skip
    return dataclasses.replace(plan, warnings=tuple(warnings)), catalog, assignment


def relate_partitions(
    footer_pool: ThreadPoolExecutor, s3: Any, config: JobConfig, plan: ExportPlan, assignment: NameAssignment
) -> tuple[dict[str, list[Future[tuple[FileSchema, int]]]], dict[str, tuple[str, str]]]:
    """Submits the footer reads of every table that will be published, and tells which tables are partitions of
    another (section 4b) from the footers: (the reads by source, for publish_table; partition source -> (parent
    source, parent catalog name)). A table whose footers cannot be read takes part in no relation; it fails when
    publish_table reads them."""
    reads = {
        t.source: [
            footer_pool.submit(read_footer, s3, config.export_bucket, obj, config.footer_read_size) for obj in t.files
        ]
        for t in plan.tables
        if t.source in assignment.names
    }
    schemas: dict[str, list[FileSchema]] = {}
    for source, futures in reads.items():
        try:
            schemas[source] = [f.result()[0] for f in futures]
        except Exception:  # noqa: BLE001, S112 - the table fails by name in publish_table, with this very error
            continue
    relations = partition_relations(plan.tables, schemas)
    for parent in sorted(set(relations.values())):
        children = sorted(s for s, p in relations.items() if p == parent)
        log.info("%s is a partitioned table: %d of its partitions are exported too and carry sor.partition_of (%s)",
                 parent, len(children), ", ".join(children[:5]) + (" ..." if len(children) > 5 else ""))  # fmt: skip
    return reads, {source: (parent, assignment.names[parent]) for source, parent in relations.items()}


def publish_tables(
    run: RunContext, plan: ExportPlan, assignment: NameAssignment, table_pool: ThreadPoolExecutor
) -> list[TableResult]:
    """Every exported table published on the table pool (publish_table), the results sorted by source. A table
    that got no name fails without being read."""
    results: list[TableResult] = []
    futures = []
    for table in plan.tables:
        if table.source in assignment.errors:
            results.append(
                TableResult(
                    base_table_name(table.folder),
                    table.source,
                    error=assignment.errors[table.source],
                    failure=FailureKind.DETERMINISTIC,
                )
            )
            continue
        futures.append(table_pool.submit(publish_table, run, table, assignment.names[table.source], len(plan.tables)))
    results += [f.result() for f in futures]
    return sorted(results, key=lambda r: r.source)


def run_job(config: JobConfig, clients: JobClients) -> tuple[dict[str, Any], ExitCode]:
    """Export -> plan and names -> every table published -> retention -> manifest and metrics -> the summary and
    the exit code."""
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    log.info(
        "export %s -> s3://%s/%s/ for %s",
        config.export_uri,
        config.sor_bucket,
        config.catalog_database,
        config.ingestion_date,
    )
    plan, catalog, assignment = name_tables(clients, config, read_export(clients, config))
    planned = [o for t in plan.tables for o in t.files]
    copier = Copier(clients.s3, config, Progress(len(planned), sum(o.size for o in planned)))
    stop = threading.Event()
    try:
        with (
            ThreadPoolExecutor(config.table_concurrency * 4, thread_name_prefix="footer") as footer_pool,
            ThreadPoolExecutor(config.table_concurrency, thread_name_prefix="table") as table_pool,
        ):
            footer_reads, partition_of = relate_partitions(footer_pool, clients.s3, config, plan, assignment)
            run = RunContext(
                config, clients, copier, catalog, plan.snapshot_time,
                footer_reads=footer_reads, partition_of=partition_of,
            )  # fmt: skip
            heartbeat(
                config.progress_seconds,
                lambda: copier.progress.line(run.done, len(plan.tables), time.monotonic() - started),
                stop,
            )
            results = publish_tables(run, plan, assignment, table_pool)
    finally:
        stop.set()
        copier.shutdown()
    failed = {r.name for r in results if r.status is TableStatus.FAILED}
    retention = apply_retention(clients, config, failed, copier.delete)
    summary = summarize(config, plan.warnings, results, time.monotonic() - started) | {"retention": retention.summary()}
    manifest = build_manifest(config, plan, results, summary, started_at) | {"retention": retention.manifest()}
    write_manifest(clients, config, manifest)
    emit_metrics(clients, config, summary)
    return summary, ExitCode.SUCCEEDED if summary["status"] == RunStatus.SUCCEEDED else ExitCode.TABLE_FAILED


def failure_summary(error: str, seconds: float) -> dict[str, Any]:
    return {"status": RunStatus.FAILED, "error": error, "tables": 0, "files": 0, "bytes": 0, "rows": 0,
            "failed_tables": [], "retryable": False, "seconds": round(seconds, 3)}  # fmt: skip


def crash_manifest(config: JobConfig, summary: Mapping[str, Any], started: dt.datetime) -> dict[str, Any]:
    """The manifest of a run that crashed: FAILED with the error; which tables it reached is not known."""
    return {
        "manifest_version": 1,
        "status": RunStatus.FAILED,
        "retryable": False,  # a crash is a bug until shown otherwise: a person decides (README Operations)
        "error": summary["error"],
        "export_id": config.export_id,
        "export_uri": config.export_uri,
        "ingestion_date": config.ingestion_date,
        "catalog_database": config.catalog_database,
        "sor_bucket": config.sor_bucket,
        "snapshot_time": None,
        "job_run_id": config.job_run_id,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "seconds": summary["seconds"],
        "totals": {k: summary[k] for k in ("tables", "files", "bytes", "rows")},
        "tables": [],
        "warnings": [],
    }


def main(argv: Sequence[str] | None = None, make: Callable[[JobConfig], JobClients] = make_job_clients) -> int:
    """Runs the job; returns its ExitCode as an int (docs/contracts.md "Exit codes and retries").

    The caller turns it into SystemExit, never os._exit, so Python's own exit path (flushing
    stdout, and whatever the Glue launcher hooks there) runs in every case.
    """
    # force=True: a launcher that configures the root logger before the script runs (Glue's may; AWS does not
    # document it either way) would otherwise make a plain basicConfig
    # do nothing (https://docs.python.org/3/library/logging.html#logging.basicConfig), leaving the
    # job's INFO lines (plan, one per table, heartbeat) under the launcher's level or handler.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
        force=True,
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    config: JobConfig | None = None
    clients: JobClients | None = None
    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
        clients = make(config)
        summary, code = run_job(config, clients)
    except (ExportError, ClientError, BotoCoreError) as exc:
        # The run could not start (or lost S3/Glue altogether): nothing is declared done, so a later run may retry.
        log.error("run failed: %s", exc)
        summary, code = failure_summary(str(exc), time.monotonic() - started), ExitCode.NOT_STARTED
    except Exception as exc:  # a bug: still the summary line, the manifest and exit 2
        log.exception("run crashed")
        error = f"{type(exc).__name__}: {exc}"
        summary, code = failure_summary(error, time.monotonic() - started), ExitCode.NOT_STARTED
        if config is not None and clients is not None:
            try:
                write_manifest(clients, config, crash_manifest(config, summary, started_at))
            except Exception as manifest_exc:  # noqa: BLE001 - must not mask the crash being reported
                log.error("could not write the run manifest after the crash: %s", manifest_exc)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return int(code)


if __name__ == "__main__":
    # A successful run just ends (the ordinary end of a script, success under any launcher); a failed one raises
    # SystemExit with its code, never os._exit, so stdout is flushed and the launcher sees the exit. Whether Glue 5
    # ends a glueetl run SUCCEEDED on an explicit sys.exit(0) without a Spark context is not documented.
    exit_code = main()
    if exit_code:
        raise SystemExit(exit_code)
