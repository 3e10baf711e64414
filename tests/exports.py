"""Ready-made realistic RDS/Aurora exports for tests (the sample databases live in local/postgres/sample_database.py).

Built on the export emulator (local/export_emulator/), which writes them exactly as docs/aws-facts.md describes.
Typical use:

    tables = pg_sample_tables()
    uri = write_sample_export(s3, tables=tables)          # into the moto bucket, returns the export root URI
    objects = render_sample_export(tables=tables)         # or just the {key: bytes}, no AWS at all
    expected = exported_table(PG, tables[0])              # the rows a reader must find, as the export wrote them
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from export_ids import make_export_id

from local.export_emulator.conversion import exported_table
from local.export_emulator.render import render_export, write_export
from local.export_emulator.source import MYSQL, POSTGRESQL
from local.postgres.sample_database import make_large_table, make_table, mysql_sample_tables, pg_sample_tables

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
    "export_with_text_table",
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


def text_part_file(columns: dict[str, list[str | None]]) -> bytes:
    """A part file whose columns are text as the export writes it (BYTE_ARRAY, UTF8 annotation) but holding each
    value's Latin-1 bytes, which need not be UTF-8 (a SQL_ASCII source), beside an `id` column 0..n-1."""
    rows = len(next(iter(columns.values())))
    arrays = {"id": pa.array(range(rows), pa.int32())}
    for name, values in columns.items():
        raw = pa.array([None if v is None else v.encode("latin-1", "replace") for v in values], pa.binary())
        arrays[name] = raw.view(pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table(arrays), buffer, compression="gzip", row_group_size=max(1, rows // 2))
    return buffer.getvalue()


def export_with_text_table(
    tables: list[Any], name: str, columns: dict[str, list[str | None]], mappings: Any, **overrides: Any
) -> dict[str, bytes]:
    """The export of `tables` plus table `name` (schema public), whose part file is text_part_file(columns) and whose
    export_tables_info entry carries `mappings` as originalTypeMappings (None: no schemaMetadata at all), whatever
    their shape: for tests of odd content the emulator would not write."""
    placeholder = make_table(name, {"id": "integer", **dict.fromkeys(columns, "text")}, [])
    objects = render_export(**export_kwargs(tables=[*tables, placeholder], **overrides))
    (part,) = [k for k in objects if f"/public.{name}/" in k and k.endswith(".parquet")]
    objects[part] = text_part_file(columns)
    for key in [k for k in objects if "export_tables_info" in k]:
        info = json.loads(objects[key])
        for entry in info["perTableStatus"]:
            if entry.get("target", "").endswith(f"public.{name}"):
                if mappings is None:
                    entry.pop("schemaMetadata", None)
                else:
                    entry["schemaMetadata"] = {"originalTypeMappings": mappings}
        objects[key] = json.dumps(info).encode()
    return objects
