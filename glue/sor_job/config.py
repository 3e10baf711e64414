"""Arguments and configuration: the job's command line (Glue's `--name value` pairs) -> JobConfig, validated
before anything is read, including the retention keep rules (RetentionPolicy)."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sor_job.errors import ExportError
from sor_job.layout import MANIFEST_ROOT, PARTITION_KEY
from sor_job.restore import engine_family

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
    copy_concurrency: int = 64
    table_concurrency: int = 32
    multipart_threshold: int = 1024 * 1024**2
    multipart_chunksize: int = 512 * 1024**2
    footer_read_size: int = 64 * 1024
    # The smallest rewrite unit (rewrite.py cut_file), in bytes of the source file: a unit costs a Spark task (tens of
    # milliseconds to schedule), about eight S3 requests (listing, HeadObject, footer and data GETs, the upload, the
    # verification's HeadObject and footer GET) and one more object for Athena to open, while 16 MiB of gzip is about
    # a second of one core's decoding, parsing and encoding (docs/benchmarks.md): the fixed cost stays a few percent.
    # Memory does not depend on it (a task holds one row group at a time). A 200 GB file is 12,800 units, enough for
    # any number of workers; a file under 24 MiB stays one unit.
    rewrite_unit_bytes: int = 16 * 1024**2
    metrics_namespace: str | None = "aurora-sor"
    job_run_id: str | None = None
    progress_seconds: float = 60.0
    retention: RetentionPolicy = field(default_factory=lambda: RetentionPolicy())
    retention_dry_run: bool = False
    restore_types: bool = (
        True  # rewrite tables with restorable text columns into typed Parquet (sor_job/typed_table.py)
    )
    retype_history: bool = False  # also retype earlier string-typed partitions of those tables, in place
    # The source's RDS engine as DescribeDBClusters reports it (aurora-postgresql, aurora-mysql, ...): the export's
    # files do not say it, and type words cannot tell it (a PostgreSQL bit(3) is "bit" in both engines).
    source_engine: str = ""
    # The database of the latest tables (latest.py); empty: none are kept (a run by hand outside the stack).
    latest_database: str = ""

    @property
    def sse_arguments(self) -> dict[str, str]:
        """SSE-KMS with the stack's key when one is given, for every object the job writes (PutObject,
        CreateMultipartUpload and CopyObject all take these: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html)."""
        if not self.sor_kms_key_arn:
            return {}
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.sor_kms_key_arn}

    @property
    def export_uri(self) -> str:
        return f"s3://{self.export_bucket}/{self.export_prefix}"

    def table_location(self, name: str) -> str:
        return f"s3://{self.sor_bucket}/{self.catalog_database}/{name}/"

    def partition_prefix(self, name: str) -> str:
        return f"{self.catalog_database}/{name}/{PARTITION_KEY}={self.ingestion_date}/"

    @property
    def manifest_folder(self) -> str:
        """The day's folder of run records: the manifest, and the marker of a run that started."""
        return f"{MANIFEST_ROOT}/{self.catalog_database}/{PARTITION_KEY}={self.ingestion_date}/"

    @property
    def manifest_key(self) -> str:
        return f"{self.manifest_folder}manifest.json"

    @property
    def started_key(self) -> str:
        return f"{self.manifest_folder}started.json"


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


def _positive_number(text: str) -> float:
    """A size in MB; fractions are allowed (tests cut files of a few KB into units)."""
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
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
    parser.add_argument("--copy_concurrency", type=_positive_int, default=JobConfig.copy_concurrency)
    parser.add_argument("--table_concurrency", type=_positive_int, default=JobConfig.table_concurrency)
    parser.add_argument("--multipart_threshold_mb", type=_positive_int, default=1024)
    parser.add_argument("--multipart_chunksize_mb", type=_positive_int, default=512)
    parser.add_argument("--footer_read_kb", type=_positive_int, default=64)
    parser.add_argument("--rewrite_unit_mb", type=_positive_number, default=JobConfig.rewrite_unit_bytes / 1024**2)
    parser.add_argument("--metrics_namespace", default="aurora-sor")
    parser.add_argument("--progress_seconds", type=_positive_int, default=60)
    # Retention (retention.py): restic-style keep rules; none given (or all 0) leaves every partition in place.
    parser.add_argument("--keep_daily", type=_count, default=0)
    parser.add_argument("--keep_monthly", type=_count, default=0)
    parser.add_argument("--keep_yearly", type=_count, default=0)
    parser.add_argument("--retention_dry_run", type=_flag, default=False)
    # Typed columns (restore.py, rewrite.py, restore_transform.py, typed_table.py): every option takes a value, as
    # Glue passes `--KEY value` pairs.
    parser.add_argument("--restore_types", type=_flag, default=True)
    parser.add_argument("--retype_history", type=_flag, default=False)
    parser.add_argument("--source_engine", default="")
    parser.add_argument("--latest_database", default="")
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
    if args.latest_database and (
        not _DATABASE_NAME.match(args.latest_database) or args.latest_database == args.catalog_database
    ):
        raise ExportError(
            f"--latest_database must match {_DATABASE_NAME.pattern} and differ from --catalog_database, "
            f"got {args.latest_database!r}"
        )
    try:
        day = dt.date.fromisoformat(args.ingestion_date)
    except ValueError:
        day = None
    if day is None or day.isoformat() != args.ingestion_date:
        raise ExportError(f"--ingestion_date must be YYYY-MM-DD, got {args.ingestion_date!r}")
    if args.multipart_chunksize_mb < 5:
        raise ExportError("--multipart_chunksize_mb must be >= 5 (S3's minimum part size)")
    if args.restore_types and engine_family(args.source_engine) is None:
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
        rewrite_unit_bytes=max(1, round(args.rewrite_unit_mb * mib)),
        metrics_namespace=args.metrics_namespace or None,
        job_run_id=args.job_run_id,
        progress_seconds=args.progress_seconds,
        retention=RetentionPolicy(args.keep_daily, args.keep_monthly, args.keep_yearly),
        retention_dry_run=args.retention_dry_run,
        restore_types=args.restore_types,
        retype_history=args.retype_history,
        source_engine=args.source_engine,
        latest_database=args.latest_database,
    )


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
