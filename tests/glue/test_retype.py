"""--retype_history true on an existing deployment: a week of string-typed days (seven nights with
--restore_types false, the job without Spark), then one night that retypes them in place, run the way Glue runs
it. Two identical tables: one retyped cleanly, the other interrupted by a fault at the emulator, then run again.
Each Spark run costs a JVM start (~10 s): the assertions share three runs."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.emulator.aws_emulator import Fault, Request
from local.export_emulator.source import SourceColumn, SourceTable
from sor_job.errors import TableError
from sor_job.plan import S3Object
from sor_job.restore import Restoration, Restore, with_scale
from sor_job.restore_transform import REJECTS_CATALOG_TYPE, REJECTS_COLUMN, restoration_spec, restored_schema
from sor_job.retype import HistoryFile, HistoryStep, plan_history_partition
from sor_job.rewrite import rewrite_plan_digest
from tests.glue.conftest import DATABASE, SOR_BUCKET, SorWorld

pytestmark = pytest.mark.glue_job
FIRST = dt.date(2026, 11, 19)
DAYS = [(FIRST + dt.timedelta(days=i)).isoformat() for i in range(8)]  # seven string-typed days, then the retype
SOURCES = ("orders_a", "orders_b")  # identical: a is retyped cleanly, b is interrupted then run again
TABLES = tuple(f"public_{name}" for name in SOURCES)
COLUMNS = [SourceColumn("id", "integer"), SourceColumn("placed_on", "date"),
           SourceColumn("placed_at", "timestamp without time zone"),
           SourceColumn("amount", "numeric(12,2)")]  # fmt: skip


def rows_of(day: int) -> list[tuple[Any, ...]]:
    """A night's rows: values that differ per day, and one date PostgreSQL prints as `infinity` (a reject)."""
    base = dt.datetime(2026, 1, 1, 8, 30, 15, 123456) + dt.timedelta(days=day)
    rows: list[tuple[Any, ...]] = [
        (day * 100 + i, (base + dt.timedelta(days=i)).date(), base + dt.timedelta(hours=i),
         Decimal(f"{day * 1000 + i}.{i:02d}"))
        for i in range(12)
    ]  # fmt: skip
    rows.append((day * 100 + 99, "infinity", None, Decimal("-0.50")))
    return rows


def export(world: SorWorld, day: int) -> str:
    tables = [SourceTable("shop", "public", name, COLUMNS, rows_of(day), files_per_batch=2) for name in SOURCES]
    return world.export(tables, export_id=f"aurora-sor-shop-{DAYS[day]}", row_group_rows=5)


def expected(day: int) -> list[tuple[Any, ...]]:
    return [(r[0], None if r[1] == "infinity" else r[1], r[2], r[3]) for r in rows_of(day)]


def data_writes(world: SorWorld, since: int, table: str = "") -> list[Request]:
    """Object writes to the SOR's data keys (not the run's manifest) after request number `since`."""
    writes = {"PutObject", "CompleteMultipartUpload", "CopyObject", "DeleteObjects"}
    return [r for r in world.emulator.requests[since:] if r.service == "s3" and r.operation in writes
            and r.bucket_key[0] == SOR_BUCKET and r.bucket_key[1].startswith(f"{DATABASE}/{table}")]  # fmt: skip


def catalog_writes(world: SorWorld, since: int) -> list[str]:
    """Catalog writes that changed something (a CreatePartition refused with AlreadyExists changes nothing)."""
    return [r.operation for r in world.emulator.requests[since:] if r.service == "glue" and r.status < 300
            and r.operation in {"UpdateTable", "UpdatePartition", "CreatePartition", "CreateTable"}]  # fmt: skip


def objects(world: SorWorld, table: str) -> dict[str, tuple[str | None, str | None]]:
    """key under the table -> (plan digest, source ETag) of every current data object of the table."""
    found = {}
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/{table}/"):
        for item in page.get("Contents", []):
            meta = world.s3.head_object(Bucket=SOR_BUCKET, Key=item["Key"])["Metadata"]
            found[item["Key"].split("/", 2)[2]] = (meta.get("sor-plan-digest"), meta.get("sor-source-etag"))
    return found


def catalog(world: SorWorld, table: str) -> tuple[Any, ...]:
    columns = world.glue.get_table(DatabaseName=DATABASE, Name=table)["Table"]["StorageDescriptor"]["Columns"]
    partitions = world.glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    return columns, sorted((p["Values"][0], p["StorageDescriptor"]["Columns"]) for p in partitions)


@pytest.fixture
def string_week(world: SorWorld) -> SorWorld:
    world.s3.put_bucket_versioning(Bucket=SOR_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for day in range(7):
        run = world.run(export(world, day), DAYS[day])
        assert run.code == 0, run.stderr[-3000:]
    for table in TABLES:
        columns, _ = catalog(world, table)
        assert {c["Name"]: c["Type"] for c in columns}["placed_on"] == "string"
    return world


def test_retype_history_converts_a_string_week_in_place(string_week: SorWorld) -> None:
    world = string_week
    uri = export(world, 7)
    first_key = next(iter(objects(world, TABLES[0])))
    string_version = world.s3.get_object(Bucket=SOR_BUCKET, Key=f"{DATABASE}/{TABLES[0]}/{first_key}")
    string_body = string_version["Body"].read()

    # Without the switch, the typed night keeps the string tables string (and says how to retype them).
    # With it, table b's rewrite of its fourth day fails at the emulator mid-way.
    fourth = f"{DATABASE}/{TABLES[1]}/ingestion_date={DAYS[3]}/"
    fault = world.emulator.add_fault(Fault(
        lambda r: r.service == "s3" and r.method in {"PUT", "POST"} and r.bucket_key[1].startswith(fourth),
        403, "AccessDenied", times=None))  # fmt: skip
    interrupted = world.spark_run(uri, DAYS[7], "--retype_history", "true")
    assert interrupted.code == 1, interrupted.stderr[-3000:]
    assert [t["name"] for t in interrupted.summary["failed_tables"]] == [TABLES[1]]
    assert f"retype of {DAYS[3]} failed" in interrupted.summary["failed_tables"][0]["error"]
    assert fault.hits >= 1
    clean = interrupted.table(TABLES[0])
    assert clean["status"] == "PUBLISHED", clean
    assert clean["method"] == "rewrite"
    history = clean["retyped_history"]
    assert history["partitions"] == 7
    assert history["partitions_updated"] == DAYS[:7]
    assert history["files_rewritten"] == 14
    assert history["files_done"] == 0
    # one `infinity` a night, tonight's and the seven earlier ones, counted like tonight's
    assert clean["rejected_values"] == {"amount": 0, "placed_at": 0, "placed_on": 8}
    # b: its first three days are retyped (partition typed), the fourth keeps its string partition, the table too
    b_columns, b_partitions = catalog(world, TABLES[1])
    assert {c["Name"]: c["Type"] for c in b_columns}["placed_on"] == "string"
    assert [{c["Name"]: c["Type"] for c in cols}["placed_on"] for _, cols in b_partitions] == (
        ["date"] * 3 + ["string"] * 4
    )

    world.emulator.faults.remove(fault)
    since = len(world.emulator.requests)
    converged = world.spark_run(uri, DAYS[7], "--retype_history", "true")
    assert converged.code == 0, converged.stderr[-3000:]
    assert data_writes(world, since, TABLES[0]) == []  # a: nothing to redo
    b_history = converged.table(TABLES[1])["retyped_history"]
    assert b_history["files_done"] == 6
    assert b_history["files_rewritten"] == 8
    assert converged.table(TABLES[1])["rejected_values"] == clean["rejected_values"]

    # the interrupted table converged to the clean one's state
    def by_day(table: str) -> list[tuple[str, str | None, str | None]]:  # file names hold the export's UUIDs
        return sorted((key.split("/")[0], *meta) for key, meta in objects(world, table).items())

    assert by_day(TABLES[1]) == by_day(TABLES[0])
    assert catalog(world, TABLES[1]) == catalog(world, TABLES[0])
    columns, partitions = catalog(world, TABLES[0])
    types = {c["Name"]: c["Type"] for c in columns}
    assert (types["placed_on"], types["placed_at"], types["amount"]) == ("date", "timestamp", "decimal(12,2)")
    assert types[REJECTS_COLUMN] == REJECTS_CATALOG_TYPE
    assert all(cols == columns for _, cols in partitions)
    assert all(digest and etag for digest, etag in objects(world, TABLES[0]).values())

    # every day reads typed through the catalog, with the source's values, the rejects kept as text
    for table in TABLES:
        for day, date in enumerate(DAYS):
            rows = world.query(f"SELECT id, placed_on, placed_at, amount FROM {DATABASE}.{table} "
                               f"WHERE ingestion_date = DATE '{date}' ORDER BY id")  # fmt: skip
            assert rows == expected(day), (table, date)
        rejects = world.query(f"SELECT ingestion_date, {REJECTS_COLUMN}.raw_values, {REJECTS_COLUMN}.source_file "
                              f"FROM {DATABASE}.{table} WHERE {REJECTS_COLUMN} IS NOT NULL ORDER BY 1")  # fmt: skip
        assert [(d.isoformat(), raw) for d, raw, _ in rejects] == [(d, {"placed_on": "infinity"}) for d in DAYS]
        assert all(source.startswith("s3://") for _, _, source in rejects)
    assert world.query(f"SELECT sum(amount) FROM {DATABASE}.{TABLES[0]} WHERE placed_on >= DATE '2026-01-05'")[0][0]

    # the earlier days' string objects stay as noncurrent versions
    versions = world.s3.list_object_versions(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/{TABLES[0]}/{first_key}")
    noncurrent = [v for v in versions["Versions"] if not v["IsLatest"]]
    assert len(noncurrent) == 1
    old = world.s3.get_object(Bucket=SOR_BUCKET, Key=f"{DATABASE}/{TABLES[0]}/{first_key}",
                              VersionId=noncurrent[0]["VersionId"])["Body"].read()  # fmt: skip
    assert old == string_body
    assert pq.read_schema(io.BytesIO(old)).field("placed_on").type == "string"

    # a re-run changes nothing: no object, no table, no partition written
    since = len(world.emulator.requests)
    again = world.spark_run(uri, DAYS[7], "--retype_history", "true")
    assert again.code == 0, again.stderr[-3000:]
    assert data_writes(world, since) == []
    assert catalog_writes(world, since) == []
    # the table is typed now: nothing left to retype, no earlier day read; tonight's reject alone is counted
    assert again.table(TABLES[0])["retyped_history"] == {}
    assert again.summary["rejected_values"] == 2


def test_plan_history_partition_rewrites_string_objects_and_skips_what_this_plan_wrote() -> None:
    rule = with_scale(Restoration("amount", Restore.DECIMAL, "decimal", pa.string(), "numeric", 12, None), 2)
    date_rule = Restoration("placed_on", Restore.DATE, "date", pa.date32(), "date")
    rules = {"amount": rule, "placed_on": date_rule}
    text = pa.schema([pa.field("id", pa.int32(), nullable=False), pa.field("placed_on", pa.string()),
                      pa.field("amount", pa.string())])  # fmt: skip
    typed = restored_schema(text, rules)
    digest = rewrite_plan_digest(typed, restoration_spec(rules))
    # what the footer of a rewritten object reads back as (pyarrow names a map's entries after the column)
    written = io.BytesIO()
    pq.write_table(typed.empty_table(), written, store_schema=False)  # as the engine writes
    read_back = pq.read_schema(io.BytesIO(written.getvalue()))
    files = [
        HistoryFile(S3Object("d/a.parquet", 10, "e1"), text, 5, None, {}),
        HistoryFile(S3Object("d/b.parquet", 10, "e2"), read_back, 7, digest, {"rejected:placed_on": 1}),
        HistoryFile(S3Object("d/c.parquet", 10, "e3"), pa.schema([pa.field("id", pa.int32())]), 3, None, {}),
    ]
    plan = plan_history_partition(files, rules)
    assert plan.steps == {"d/a.parquet": HistoryStep.REWRITE, "d/b.parquet": HistoryStep.DONE,
                          "d/c.parquet": HistoryStep.UNTOUCHED}  # fmt: skip
    (unit,) = plan.units
    assert (unit.source.key, unit.destination, unit.plan_digest, unit.rows) == ("d/a.parquet", "d/a.parquet", digest, 5)
    assert plan.done_counters == {"rejected:placed_on": 1}
    # an object typed under another plan cannot be redone from its own (typed) current version
    other = HistoryFile(S3Object("d/b.parquet", 10, "e2"), read_back, 7, "another digest", {})
    with pytest.raises(TableError, match="not written by this retype plan"):
        plan_history_partition([other], rules)
