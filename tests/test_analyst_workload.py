"""An analyst's standard SQL, unmodified, answers on the SOR exactly as PostgreSQL answers it.

The TPC-H-style workload of local/demo/analyst_workload.py is loaded into the session's PostgreSQL 15, read as a
snapshot
export would see it (local/postgres/pg_source.py), exported (local/export_emulator/render.py, several row
groups per file), published by the job as Glue runs it (Spark local[2], typed columns on), then every query runs on
the Athena stand-in over the catalog (local/emulator/athena_duckdb.py) and on PostgreSQL, and the answers are compared.
Needs PostgreSQL binaries and the Spark venv: outside CI it skips with a message when either is missing.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import psycopg

from local.demo.analyst_workload import (
    QUERIES,
    TABLES,
    bind_sor_tables,
    compare_answers,
    compare_workload,
    load_workload,
    nonempty,
    run_duckdb,
    run_postgres,
)
from local.emulator.athena_duckdb import connect
from local.postgres.pg_server import PostgresServer
from local.postgres.pg_source import read_postgres_tables
from tests.glue.conftest import DATABASE, SorWorld

WORKLOAD_DATABASE = "analyst_workload"
# Restored catalog types the queries depend on: without them Athena's `date < DATE '...'`, `sum(price * qty)` and
# `BETWEEN 0.05 AND 0.07` fail on varchar.
EXPECTED_TYPES = {
    "lineitem": {"l_shipdate": "date", "l_receiptdate": "date", "l_extendedprice": "decimal(15,2)",
                 "l_discount": "decimal(15,2)", "l_quantity": "decimal(15,2)", "l_returnflag": "string"},
    "orders": {"o_orderdate": "date", "o_totalprice": "decimal(15,2)", "o_orderts": "timestamp"},
    "customer": {"c_acctbal": "decimal(15,2)"},
}  # fmt: skip


def fresh_database(server: PostgresServer, name: str) -> str:
    """An empty database `name` on the shared server (dropped first: re-running the test starts clean)."""
    with psycopg.connect(server.dsn(), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.dsn(name)


def test_the_workload_answers_on_the_sor_exactly_as_postgresql(pg_server: PostgresServer, world: SorWorld) -> None:
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    dsn = fresh_database(pg_server, WORKLOAD_DATABASE)
    counts = load_workload(dsn)
    assert counts["lineitem"] > 3000
    tables = read_postgres_tables(dsn, schemas=["public"])
    uri = world.export(tables, export_id="aurora-sor-analyst-2026-11-26", row_group_rows=1000)
    seconds["load_and_export"] = time.perf_counter() - start

    start = time.perf_counter()
    run = world.spark_run(uri)
    seconds["job"] = time.perf_counter() - start
    assert run.code == 0, run.stderr[-3000:]
    names = {}
    for entry in run.manifest["tables"]:
        assert entry["status"] == "PUBLISHED", entry
        assert not any(entry["rejected_values"].values()), entry
        names[entry["source"].rsplit(".", 1)[-1]] = entry["name"]
    assert sorted(names) == sorted(TABLES)
    for table, types in EXPECTED_TYPES.items():
        catalog = world.glue.get_table(DatabaseName=DATABASE, Name=names[table])["Table"]
        columns = {c["Name"]: c["Type"] for c in catalog["StorageDescriptor"]["Columns"]}
        assert {c: columns[c] for c in types} == types

    start = time.perf_counter()
    expected = run_postgres(dsn)
    con, _ = connect(world.glue, world.s3, DATABASE)
    bind_sor_tables(con, names, DATABASE)
    actual = run_duckdb(con)
    seconds["queries"] = time.perf_counter() - start
    assert nonempty(expected) == list(QUERIES)  # a query that finds nothing would prove nothing
    assert compare_workload(expected, actual) == {}
    rounded = {step: round(value, 1) for step, value in seconds.items()}
    print(f"analyst workload: {counts} rows; seconds {rounded}")  # shown with -s: the measured cost


def test_compare_answers_is_exact_where_the_engines_are_exact() -> None:
    placed = dt.datetime(1995, 3, 15, 12, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-3)))
    row = ("R", Decimal("1234.50"), 3, dt.date(1995, 3, 15), placed, Decimal("25.5000000000"))
    shown = ("R", Decimal("1234.5"), 3, dt.date(1995, 3, 15), dt.datetime(1995, 3, 15, 15, 0, 0, 123999), 25.5)
    assert compare_answers([row], [shown]) == []  # same number, same ms in UTC, avg as a double
    wrong = [
        ("R", Decimal("1234.51"), 3, dt.date(1995, 3, 15), placed, 25.5),  # a cent off: decimals are exact
        ("R", Decimal("1234.50"), 3, dt.date(1995, 3, 16), placed, 25.5),
        ("R", Decimal("1234.50"), 3, dt.date(1995, 3, 15), dt.datetime(1995, 3, 15, 12, 0, 0, 123000), 25.5),
        ("R", Decimal("1234.50"), 3, dt.date(1995, 3, 15), placed, 25.5001),
        ("R", Decimal("1234.50"), 3, "1995-03-15", placed, 25.5),  # text is not a date
        ("R", Decimal("1234.50"), None, dt.date(1995, 3, 15), placed, 25.5),
    ]
    for bad in wrong:
        assert compare_answers([row], [bad]) != [], bad
    assert compare_answers([row], []) == ["1 rows from PostgreSQL, 0 from the SOR"]
