"""The typed SOR end to end under Spark (local/spark_job.py, as Glue runs the job): MySQL's DATE restored with its zero
dates in sor_rejects; old dates and pre-1900 timestamps exact in the proleptic Gregorian calendar; an all-NULL
numeric column stays text (no evidence) and keeps its catalog type on a later night with values; a crash inside the
rewrite (a fault on the SOR upload during the Spark run), then a re-run, ends exactly like a clean run.

Each job run costs a JVM start (10-20 s): one test per world carries every assertion about its runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sor_job import REJECTS_COLUMN

from local.aws_emulator import Fault, Request
from local.sample_database import make_table, mysql_sample_tables
from tests.exports import MY
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

NEXT_DAY = "2026-11-27"


def zero_dates_table() -> Any:
    """MySQL keeps '0000-00-00' (and zero-in-date values such as '2026-00-15') in a DATE column unless its SQL mode
    forbids them; the export writes the text as is (local/rds_export.py `_mysql_date`)."""
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
        (1, dt.date(2026, 11, 26)), (2, None), (3, None), (4, None), (5, dt.date(1000, 1, 1)), (6, dt.date(9999, 12, 31)),
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
