"""The whole export (local/export_emulator/render.py): bad inputs refused, the sample databases read back equal to
their source, byte-identical output for the same input, and write_export into the emulator's S3.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.export_emulator.conversion import exported_table
from local.export_emulator.layout import path_name, skip_reason, table_folder
from local.export_emulator.render import render_export
from local.export_emulator.source import SourceColumn, SourceTable
from tests.export_emulator.reading import ROOT, read_folder, render, tables_info
from tests.exports import (
    EXPORT_BUCKET,
    EXPORT_ID,
    MY,
    PG,
    export_kwargs,
    make_table,
    mysql_sample_tables,
    pg_sample_tables,
    render_sample_export,
    write_sample_export,
)


# -- bad input --------------------------------------------------------------------------------------------------
def test_bad_table_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="has 1 values for 2 columns"):
        render([make_table("t", {"a": "bigint", "b": "bigint"}, [(1,)])])
    with pytest.raises(ValueError, match="declares a column twice"):
        exported_table(PG, SourceTable("db", "s", "t", [SourceColumn("a", "int"), SourceColumn("a", "int")]))
    with pytest.raises(ValueError, match="column 'c'"):
        render([make_table("t", {"c": "timestamptz"}, [(dt.datetime(2026, 1, 1),)])])
    with pytest.raises(ValueError, match="':'"):
        render([], s3_prefix="a:b")
    with pytest.raises(ValueError, match="not an RDS ARN"):
        render([], source_arn="arn:aws:s3:::bucket")


# -- the samples ------------------------------------------------------------------------------------------------
def test_pg_sample_covers_every_type_family_and_odd_case() -> None:
    tables = pg_sample_tables()
    declared = {c.source_type for t in tables for c in t.columns}
    for family in [
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "boolean",
        "numeric(12,2)",
        "money",
        "date",
        "time without time zone",
        "timestamp without time zone",
        "timestamp with time zone",
        "interval",
        "uuid",
        "json",
        "jsonb",
        "text[]",
        "bytea",
        "character varying(40)",
        "inet",
    ]:
        assert family in declared
    assert {t.schema for t in tables if t.name == "orders"} == {"public", "sales"}
    assert any(t.batches > 1 for t in tables)
    assert any(not t.rows for t in tables)
    assert any(path_name(t.name) != t.name for t in tables)
    assert any(skip_reason(PG, t) for t in tables)


def test_mysql_sample_covers_every_type_family() -> None:
    declared = {c.source_type.split("(")[0] for t in mysql_sample_tables() for c in t.columns}
    assert {
        "bigint unsigned",
        "int unsigned",
        "tinyint",
        "decimal",
        "datetime",
        "timestamp",
        "date",
        "time",
        "year",
        "enum",
        "set",
        "json",
        "blob",
        "bit",
        "varchar",
    } <= declared


@pytest.mark.parametrize(("engine", "sample"), [(PG, pg_sample_tables), (MY, mysql_sample_tables)])
def test_sample_exports_read_back_equal_to_their_source(engine: str, sample: Any) -> None:
    tables = sample()
    objects = render(tables, engine)
    exported = [t for t in tables if skip_reason(engine, t) is None]
    assert len(tables_info(objects)) == len(exported)
    for table in exported:
        expected = exported_table(engine, table)
        back = read_folder(objects, table_folder(engine, table))
        assert back.num_rows == len(table.rows)
        assert back.schema.names == [c.name for c in table.columns]
        assert back.cast(expected.schema).to_pylist() == expected.to_pylist()


def test_pg_sample_all_types_row_reads_back_as_aws_converts_it() -> None:
    objects = render_sample_export()
    row = read_folder(objects, "shop/public.all_types").to_pylist()[0]
    assert row["c_smallint"] == -32768
    assert row["c_numeric"] == "1234567890.12"
    assert row["c_timestamptz"] == "2026-11-26 03:30:00+00"
    assert row["c_timetz"] == "03:04:05-03"
    assert row["c_interval"] == "1 day 02:03:04"
    assert row["c_uuid"] == "0b8e5a4e-8c1b-4f7e-9a53-6f0d2c1e7a10"
    assert row["c_text_array"] == '{a,"b c",NULL,""}'
    assert row["c_inet"] == "192.168.0.1"
    assert row["c_bytea"] == b"\x00\xffbinary"


# -- determinism ------------------------------------------------------------------------------------------------
def test_same_inputs_give_byte_identical_exports() -> None:
    first = render_sample_export()
    second = render_sample_export()
    assert first == second
    reseeded = render_sample_export(seed=1)
    assert sorted(reseeded) != sorted(first)
    assert sorted(reseeded.values()) == sorted(first.values())  # only the file uuids change


def test_exports_are_byte_identical_across_processes_and_hash_seeds() -> None:
    script = (
        "import hashlib, sys\n"
        "from tests.exports import render_sample_export, MY\n"
        "h = hashlib.sha256()\n"
        "for engine in ('aurora-postgresql', MY):\n"
        "    for key, body in render_sample_export(engine=engine).items():\n"
        "        h.update(key.encode()); h.update(body)\n"
        "print(h.hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[2]
    # The same import paths pytest gives the tests (pyproject: pythonpath = [".", "glue", "functions"]).
    import_paths = os.pathsep.join(str(root / part) for part in (".", "glue", "functions"))
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONPATH": import_paths, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1


# -- into the emulator ------------------------------------------------------------------------------------------
def test_write_export_puts_every_object_into_moto(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    uri = write_sample_export(s3)
    assert uri == f"s3://{EXPORT_BUCKET}/{ROOT}"
    expected = render_export(**export_kwargs())
    listed = {
        o["Key"]: o["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=EXPORT_BUCKET)
        for o in page.get("Contents", [])
    }
    assert listed == {k: len(v) for k, v in expected.items()}
    assert len(emulator.calls("s3", "PutObject")) == len(expected)
    key = next(k for k in expected if "Clientes" in k and k.endswith(".parquet"))
    assert s3.get_object(Bucket=EXPORT_BUCKET, Key=key)["Body"].read() == expected[key]


def test_write_export_without_prefix_and_extra_objects(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    junk = {"shop/public.orders/1/notes.txt": b"not parquet"}
    uri = write_sample_export(
        s3, s3_prefix="", tables=[make_table("orders", {"id": "bigint"}, [(1,)])], extra_objects=junk
    )
    assert uri == f"s3://{EXPORT_BUCKET}/{EXPORT_ID}/"
    body = s3.get_object(Bucket=EXPORT_BUCKET, Key=f"{EXPORT_ID}/shop/public.orders/1/notes.txt")["Body"].read()
    assert body == b"not parquet"


def test_write_export_can_encrypt_like_rds_with_the_task_kms_key(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    write_sample_export(s3, sse_kms=True, kms_key_id=key_arn, tables=[make_table("t", {"id": "bigint"}, [(1,)])])
    head = s3.head_object(Bucket=EXPORT_BUCKET, Key=f"{ROOT}export_info_{EXPORT_ID}.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    info = json.loads(s3.get_object(Bucket=EXPORT_BUCKET, Key=f"{ROOT}export_info_{EXPORT_ID}.json")["Body"].read())
    assert info["kmsKeyId"] == key_arn
