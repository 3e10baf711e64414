"""Ready-made realistic RDS/Aurora exports for tests (the sample databases live in local/sample_database.py).

Built on the export emulator (local/export_emulator/), which writes them exactly as docs/aws-facts.md describes.
Typical use:

    tables = pg_sample_tables()
    uri = write_sample_export(s3, tables=tables)          # into the moto bucket, returns the export root URI
    objects = render_sample_export(tables=tables)         # or just the {key: bytes}, no AWS at all
    expected = exported_table(PG, tables[0])              # the rows a reader must find, as the export wrote them
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from export_ids import make_export_id

from local.export_emulator.conversion import exported_table
from local.export_emulator.render import render_export, write_export
from local.export_emulator.source import MYSQL, POSTGRESQL
from local.sample_database import make_large_table, make_table, mysql_sample_tables, pg_sample_tables

PG = "aurora-postgresql"
MY = "aurora-mysql"

__all__ = [
    "EXPORT_BUCKET",
    "EXPORT_ID",
    "EXPORT_PREFIX",
    "MY",
    "MYSQL",
    "PG",
    "POSTGRESQL",
    "SNAPSHOT_TIME",
    "SOURCE_ARN",
    "export_kwargs",
    "exported_table",
    "make_large_table",
    "make_table",
    "mysql_sample_tables",
    "pg_sample_tables",
    "render_sample_export",
    "shop_export_id",
    "write_sample_export",
]

EXPORT_BUCKET = "aurora-sor-exports"
EXPORT_PREFIX = "exports"
EXPORT_ID = "aurora-sor-shop-2026-11-26"
SOURCE_ARN = "arn:aws:rds:sa-east-1:123456789012:cluster-snapshot:rds:shop-2026-11-26-06-05"
SNAPSHOT_TIME = dt.datetime(2026, 11, 26, 6, 5, 12, tzinfo=dt.UTC)


def shop_export_id(day: str) -> str:
    """The id the Lambda gives the export of cluster `shop` for `day` (YYYY-MM-DD), attempt 1."""
    return make_export_id("shop", dt.date.fromisoformat(day))


def export_kwargs(**overrides: Any) -> dict[str, Any]:
    """Default render_export/write_export arguments for a PostgreSQL export; override any of them."""
    kwargs: dict[str, Any] = {
        "engine": PG,
        "export_id": EXPORT_ID,
        "source_arn": SOURCE_ARN,
        "s3_bucket": EXPORT_BUCKET,
        "s3_prefix": EXPORT_PREFIX,
        "snapshot_time": SNAPSHOT_TIME,
    }
    kwargs.update(overrides)
    if "tables" not in kwargs:
        kwargs["tables"] = mysql_sample_tables() if kwargs["engine"] in {MY, MYSQL} else pg_sample_tables()
    return kwargs


def render_sample_export(**overrides: Any) -> dict[str, bytes]:
    """render_export with export_kwargs() defaults (the PostgreSQL sample unless tables/engine are given)."""
    return render_export(**export_kwargs(**overrides))


def write_sample_export(s3_client: Any, *, create_bucket: bool = True, **overrides: Any) -> str:
    """write_export with export_kwargs() defaults into the emulator; creates the bucket first by default."""
    kwargs = export_kwargs(**overrides)
    if create_bucket:
        s3_client.create_bucket(
            Bucket=kwargs["s3_bucket"],
            CreateBucketConfiguration={"LocationConstraint": s3_client.meta.region_name},
        )
    return write_export(s3_client, **kwargs)
