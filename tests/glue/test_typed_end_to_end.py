"""The typed SOR end to end under Spark (local/emulator/job_runner.py, as Glue runs the job): MySQL's DATE restored
with its zero
dates in sor_rejects; old dates and pre-1900 timestamps exact in the proleptic Gregorian calendar; an all-NULL
numeric column stays text (no evidence) and keeps its catalog type on a later night with values; a crash inside the
rewrite (a fault on the SOR upload during the Spark run), then a re-run, ends exactly like a clean run.

Each job run costs a JVM start (10-20 s): one test per world carries every assertion about its runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from local.emulator.aws_emulator import Fault, Request
from local.postgres.sample_database import make_table, mysql_sample_tables
from sor_job.restore_transform import REJECTS_COLUMN, TYPE_PENDING
from tests.exports import MY
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

NEXT_DAY = "2026-11-27"


def zero_dates_table() -> Any:
    """MySQL keeps '0000-00-00' (and zero-in-date values such as '2026-00-15') in a DATE column unless its SQL mode
    forbids them; the export writes the text as is (local/export_emulator/conversion.py `_mysql_date`)."""
    rows = [(1, "2026-11-26"), (2, "0000-00-00"), (3, "2026-00-15"), (4, None), (5, "1000-01-01"), (6, "9999-12-31")]
    return make_table("zero_dates", {"id": "int", "d": "date"}, rows, schema=None)


def test_mysql_date_is_restored_and_zero_dates_go_to_sor_rejects(world: SorWorld) -> None:
    uri = world.export([*mysql_sample_tables(), zero_dates_table()], engine=MY, export_id="aurora-sor-my-2026-11-26")
    run = world.spark_run(uri)
    assert run.code == 0, run.stderr[-3000:]
    assert run.summary["rejected_values"] == 2

    zero = run.table("shop_zero_dates")
    assert (zero["status"], zero["method"], zero["restored_columns"]) == ("PUBLISHED", "rewrite", {"d": "date"})
    assert zero["rejected_values"] == {"d": 2}
    rows = world.query(f"SELECT id, d, {REJECTS_COLUMN} FROM {DATABASE}.shop_zero_dates ORDER BY id")
    assert [(i, d) for i, d, _ in rows] == [
        (1, dt.date(2026, 11, 26)), (2, None), (3, None), (4, None), (5, dt.date(1000, 1, 1)),
        (6, dt.date(9999, 12, 31)),
    ]  # fmt: skip
    rejects = {i: r for i, _, r in rows if r is not None}
    assert sorted(rejects) == [2, 3]  # id 4 is a NULL of the source, not a reject
    assert [rejects[i]["raw_values"] for i in (2, 3)] == [{"d": "0000-00-00"}, {"d": "2026-00-15"}]
    assert all(r["source_file"].startswith(uri) and r["source_file"].endswith(".parquet") for r in rejects.values())
    assert [rejects[i]["row_index"] for i in (2, 3)] == [1, 2]

    # the sample's own DATE columns, queried with a DATE literal and no CAST; typed Parquet columns untouched
    assert world.query(f"SELECT amount FROM {DATABASE}.shop_sales_report WHERE day = DATE '2026-11-25'") == [
        (Decimal("10.50"),)
    ]
    assert world.query(f"SELECT id, c_date FROM {DATABASE}.shop_all_types ORDER BY id") == [
        (1, dt.date(2026, 11, 26)), (2, dt.date(1000, 1, 1)), (3, None),
    ]  # fmt: skip
    all_types = run.table("shop_all_types")
    assert all_types["restored_columns"] == {"c_date": "date"}
    types = {c["Name"]: c["Type"] for c in all_types["columns"]}
    assert (types["c_datetime"], types["c_decimal"], types["c_time"]) == ("timestamp", "decimal(10,2)", "string")


OLD_ROWS = [  # PostgreSQL's own text (DateStyle ISO, TimeZone UTC unless the offset says otherwise)
    (1, "1500-01-01", "1500-01-01 00:00:00", "1500-01-01 00:00:00+00"),
    (2, "0001-01-01", "0001-01-01 00:00:00", "0001-01-01 00:00:00+00"),
    (3, "1582-10-10", "1582-10-10 12:00:00.5", "1582-10-10 12:00:00+00"),  # in the Julian calendar's gap
    # the last millisecond Athena shows on that day (from 23:59:59.9995 on it would show the next day: rejected)
    (4, "1899-12-31", "1899-12-31 23:59:59.999499", "1899-12-31 21:00:00-03:06:28"),  # an LMT offset
    (5, "2026-11-26", "2026-11-26 03:00:00", "2026-11-26 03:00:00+00"),
]
OLD_VALUES = [  # what Athena must read: the same calendar day and instant (proleptic Gregorian), tstz in UTC
    (1, dt.date(1500, 1, 1), dt.datetime(1500, 1, 1), dt.datetime(1500, 1, 1)),
    (2, dt.date(1, 1, 1), dt.datetime(1, 1, 1), dt.datetime(1, 1, 1)),
    (3, dt.date(1582, 10, 10), dt.datetime(1582, 10, 10, 12, 0, 0, 500000), dt.datetime(1582, 10, 10, 12)),
    (4, dt.date(1899, 12, 31), dt.datetime(1899, 12, 31, 23, 59, 59, 999499), dt.datetime(1900, 1, 1, 0, 6, 28)),
    (5, dt.date(2026, 11, 26), dt.datetime(2026, 11, 26, 3), dt.datetime(2026, 11, 26, 3)),
]
OLD_COLUMNS = {"id": "integer", "d": "date", "ts": "timestamp without time zone", "tstz": "timestamp with time zone"}
SPARSE_COLUMNS = {"id": "integer", "amount": "numeric(12,2)", "note": "text"}


def night_tables(amounts: list[str | None]) -> list[Any]:
    """old_days over several files (a crash can land between two of them) and sparse, whose numeric column holds
    `amounts`; originalTypeMappings in the real shape (no scale key: the scale comes from the data)."""
    sparse = [(i, amount, f"note {i}") for i, amount in enumerate(amounts)]
    return [
        make_table("old_days", OLD_COLUMNS, OLD_ROWS, files_per_batch=3),
        make_table("sparse", SPARSE_COLUMNS, sparse),
    ]


def sor_data_upload_of(table: str, after: int) -> Any:
    """Matches the SOR data uploads (PutObject, UploadPart) of `table`'s day after the first `after` of them."""
    seen: list[Request] = []

    def match(request: Request) -> bool:
        bucket, key = request.bucket_key
        if request.operation not in {"PutObject", "UploadPart"} or bucket != SOR_BUCKET:
            return False
        if not key.startswith(f"{DATABASE}/{table}/ingestion_date={DAY}/"):
            return False
        seen.append(request)
        return len(seen) > after

    return match


def wipe(world: SorWorld) -> None:
    """Back to the world before any run: no SOR object, no catalog table."""
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET):
        for item in page.get("Contents", []):
            world.s3.delete_object(Bucket=SOR_BUCKET, Key=item["Key"])
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        world.glue.delete_table(DatabaseName=DATABASE, Name=table["Name"])


def test_old_dates_empty_numeric_crash_and_rerun_and_a_later_night(world: SorWorld) -> None:
    uri = world.export(night_tables([None, None, None]), export_id="aurora-sor-old-2026-11-26", row_group_rows=1)
    clean = world.spark_run(uri)
    assert clean.code == 0, clean.stderr[-3000:]
    clean_state = world.state()
    clean_etags = data_etags(world)

    # old dates and pre-1900 timestamps: exact, none rejected (Spark's rebase would move them by days)
    old = clean.table("public_old_days")
    assert old["restored_columns"] == {"d": "date", "ts": "timestamp", "tstz": "timestamp"}
    assert old["rejected_values"] == {"d": 0, "ts": 0, "tstz": 0}
    assert world.query(f"SELECT id, d, ts, tstz FROM {DATABASE}.public_old_days ORDER BY id") == OLD_VALUES
    assert world.query(f"SELECT id FROM {DATABASE}.public_old_days WHERE d = DATE '0001-01-01'") == [(2,)]
    assert world.query(
        f"SELECT id FROM {DATABASE}.public_old_days WHERE ts < TIMESTAMP '1900-01-01 00:00:00' ORDER BY id"
    ) == [(1,), (2,), (3,), (4,)]

    # an all-NULL numeric column: no scale in the metadata, none in the data -> string for now, marked pending in its
    # catalog comment (nothing is lost by waiting: it holds no number), and not an alert
    sparse = clean.table("public_sparse")
    assert sparse["status"] == "PUBLISHED"
    assert sparse["columns_without_evidence"] == 0
    assert [(k["column"], k["kind"]) for k in sparse["kept_as_text"]] == [("amount", "pending"), ("note", "by_rule")]
    assert clean.summary["columns_kept_as_text"] == 0
    assert column_types(clean_state, "public_sparse")["amount"] == "string"
    amount = next(c for c in clean_state["catalog"]["public_sparse"]["columns"] if c["Name"] == "amount")
    assert TYPE_PENDING in amount["Comment"]

    # a crash inside the rewrite: the 2nd data upload of old_days fails for good while Spark runs
    wipe(world)
    fault = world.emulator.add_fault(
        Fault(sor_data_upload_of("public_old_days", after=1), 403, "AccessDenied", times=None)
    )
    crashed = world.spark_run(uri)
    assert fault.hits >= 1
    assert crashed.code == 1, crashed.stderr[-3000:]
    assert [f["name"] for f in crashed.summary["failed_tables"]] == ["public_old_days"]
    assert world.state() != clean_state
    world.emulator.faults.remove(fault)
    rerun = world.spark_run(uri)
    assert rerun.code == 0, rerun.stderr[-3000:]
    assert world.state() == clean_state  # the same objects (key, size, source), table and partition
    assert data_etags(world) == clean_etags  # byte for byte

    # a later night shows the scale: the column takes decimal(12,2) with no operator step, and the earlier day (no
    # number in it) is retyped in place, so every day reads under the one catalog type
    later = world.export(night_tables(["12.50", None, "-3.75"]), export_id="aurora-sor-old-2026-11-27")
    night = world.spark_run(later, NEXT_DAY)
    assert night.code == 0, night.stderr[-3000:]
    sparse_night = night.table("public_sparse")
    assert sparse_night["status"] == "PUBLISHED"
    assert sparse_night["restored_columns"] == {"amount": "decimal(12,2)"}
    assert sparse_night["retyped_history"]["partitions_updated"] == [DAY]
    state = world.state((DAY, NEXT_DAY))
    assert column_types(state, "public_sparse")["amount"] == "decimal(12,2)"
    assert world.query(f"SELECT ingestion_date, id, amount FROM {DATABASE}.public_sparse ORDER BY 1, 2") == [
        (dt.date(2026, 11, 26), 0, None), (dt.date(2026, 11, 26), 1, None), (dt.date(2026, 11, 26), 2, None),
        (dt.date(2026, 11, 27), 0, Decimal("12.50")), (dt.date(2026, 11, 27), 1, None),
        (dt.date(2026, 11, 27), 2, Decimal("-3.75")),
    ]  # fmt: skip
    assert night.summary["rejected_values"] == 0
    old_days_objects = {k: v for k, v in world.state()["objects"].items() if "/public_old_days/" in k}
    assert old_days_objects == {k: v for k, v in clean_state["objects"].items() if "/public_old_days/" in k}


def data_etags(world: SorWorld) -> dict[str, str]:
    """Every SOR data object's ETag (its content's MD5 for these single-part uploads) by key."""
    etags = {}
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/"):
        for item in page.get("Contents", []):
            etags[item["Key"]] = item["ETag"]
    return etags


def column_types(state: dict[str, Any], table: str) -> dict[str, str]:
    return {c["Name"]: c["Type"] for c in state["catalog"][table]["columns"]}
