"""The run history (glue/sor_job/run_history.py): one row a run, crashed runs included, in the table `_runs` the
stack registers, answering README's questions through the Athena emulation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from local.emulator.athena_duckdb import readable_as
from ops.stack import Stack, load_raw, translate
from sor_job import run
from sor_job.names import base_table_name
from sor_job.run import main
from sor_job.run_history import RUN_HISTORY_TABLE, RUN_SCHEMA, run_history_prefix
from tests.exports import make_table, shop_export_id
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

NEXT_DAY = "2026-11-27"


@pytest.fixture(scope="module")
def template_table() -> dict[str, Any]:
    stack = Stack(translate(load_raw()), {"ClusterIdentifier": "shop", "ExistingSorBucketName": SOR_BUCKET})
    return stack.props("RunHistoryTable")


def register(world: SorWorld, table: dict[str, Any]) -> None:
    """The table as the stack creates it, in this world's catalog."""
    world.glue.create_table(DatabaseName=DATABASE, TableInput=table["TableInput"])


def test_the_stack_registers_the_table_the_job_writes(template_table: dict[str, Any]) -> None:
    table = template_table["TableInput"]
    assert table["Name"] == RUN_HISTORY_TABLE
    assert table["StorageDescriptor"]["Location"] == f"s3://{SOR_BUCKET}/{run_history_prefix(DATABASE)}"
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert [name for name, _ in columns] == RUN_SCHEMA.names
    for (name, athena_type), field in zip(columns, RUN_SCHEMA, strict=True):
        assert readable_as(athena_type, field.type), (name, athena_type, field.type)


@pytest.mark.parametrize("folder", ["_runs", "public._runs", "9lives", "ünïcode", "", "__"])
def test_no_source_table_can_take_the_name(folder: str) -> None:
    assert base_table_name(folder)[0].isalpha()
    assert base_table_name(folder) != RUN_HISTORY_TABLE


def test_two_nights_and_their_failures_in_sql(world: SorWorld, template_table: dict[str, Any]) -> None:
    register(world, template_table)
    good = world.run(world.export([make_table("orders", {"id": "bigint"}, [(1,), (2,)])],
                                  export_id=shop_export_id(DAY)))  # fmt: skip
    assert good.code == 0
    orders = make_table("orders", {"id": "bigint"}, [(1,), (2,), (3,)])
    items = make_table("items", {"id": "bigint", "qty": "integer"}, [(1, 1)])
    items_text = make_table("items", {"id": "bigint", "qty": "text"}, [(1, "x")])
    assert world.run(world.export([orders, items], export_id=shop_export_id(NEXT_DAY) + "-a"), NEXT_DAY).code == 0
    bad = world.run(world.export([orders, items_text], export_id=shop_export_id(NEXT_DAY)), NEXT_DAY)
    assert bad.code == 1

    # README "Run history": which nights failed, how long, how many rows, which tables
    rows = world.query(
        f'SELECT ingestion_date, status, tables_published, tables_failed, "rows", seconds > 0 FROM {DATABASE}."_runs" '
        "ORDER BY finished_at"
    )
    assert rows == [
        (dt.date(2026, 11, 26), "SUCCEEDED", 1, 0, 2, True),
        (dt.date(2026, 11, 27), "SUCCEEDED", 2, 0, 4, True),
        (dt.date(2026, 11, 27), "FAILED", 1, 1, 3, True),
    ]
    # README's own queries, as written there
    answers = [world.query(sql) for sql in readme_queries()]
    assert [len(a) for a in answers] == [1, 2, 1]
    (failed_night,) = answers[2]
    assert [(t["name"], t["failure"]) for t in failed_night[2]] == [("public_items", "deterministic")]


def readme_queries() -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = text.split("### Run history", 1)[1].split("```sql", 1)[1].split("```", 1)[0]
    return [q.strip() for q in block.split(";") if q.strip()]


def test_a_crashed_run_leaves_its_row_too(world: SorWorld, template_table: dict[str, Any], monkeypatch) -> None:
    register(world, template_table)
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id=shop_export_id(DAY))

    def crash(*_: Any) -> Any:
        raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr(run, "publish_table", crash)
    code = main(["--export_uri", uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE, "--ingestion_date",
                 DAY, "--source_engine", "aurora-postgresql", "--restore_types", "false"])  # fmt: skip
    assert code == 2
    rows = world.query(f'SELECT status, error, tables_published FROM {DATABASE}."_runs"')
    assert rows == [("FAILED", "RuntimeError: a bug nobody foresaw", 0)]


def test_the_row_carries_every_column_with_its_type() -> None:
    from sor_job.run_history import run_record

    manifest = {
        "ingestion_date": DAY, "status": "FAILED", "retryable": True, "export_id": "e", "job_run_id": "jr_1",
        "source_engine": "aurora-postgresql", "started_at": "2026-11-26T06:00:00+00:00",
        "finished_at": "2026-11-26T06:10:00.5+00:00", "seconds": 600.5,
        "totals": {"tables": 1, "files": 2, "bytes": 3, "rows": 4},
        "tables": [{"name": "a", "source": "s.a", "status": "PUBLISHED", "rejected_values": {"x": 2}},
                   {"name": "b", "source": "s.b", "status": "FAILED", "failure": "transient", "error": "throttled"}],
        "retention": {"removed_days": 3},
    }  # fmt: skip
    row = run_record(manifest).to_pylist()[0]
    assert row["finished_at"] == dt.datetime(2026, 11, 26, 6, 10, 0, 500000)
    assert (row["tables_published"], row["tables_failed"], row["rejected_values"], row["partitions_removed"]) == (
        1, 1, 2, 3,
    )  # fmt: skip
    assert row["failed_tables"] == [{"name": "b", "source": "s.b", "failure": "transient", "error": "throttled"}]
    assert run_record(manifest).schema == RUN_SCHEMA
    assert pa.types.is_timestamp(RUN_SCHEMA.field("started_at").type)
