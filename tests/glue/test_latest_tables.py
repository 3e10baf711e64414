"""Latest tables (glue/sor_job/latest.py): `sor_latest.<table>` reads exactly the newest day `sor.<table>` published,
over sequences of nights run as the Glue role under the emulator's IAM enforcement.

`latest_problems` is the independent check: it knows nothing of the job's code, only what an analyst sees. For each
table it expects a day; the latest table must name it (`sor.ingestion_date`), read the SOR partition's columns and
the SOR table's SerDe and formats, and return exactly the rows the SOR table has for that day (compared through the
Athena emulation, which finds everything through the catalog)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local.emulator.aws_emulator import Fault, Request
from local.export_emulator.render import render_export
from sor_job.config import RetentionPolicy, parse_args
from sor_job.latest import LatestTable
from sor_job.outcomes import ExitCode
from sor_job.retention import Removal, TableDays, plan_retention
from sor_job.run import run_job
from tests.exports import EXPORT_BUCKET, PG, export_kwargs, make_table, shop_export_id
from tests.glue.conftest import DATABASE, DAY, LATEST, SorWorld
from tests.glue.in_process import SOR_BUCKET, publish

DAY_1, DAY_2, DAY_3 = "2026-11-24", "2026-11-25", DAY  # DAY is 2026-11-26
OLDER = "2026-11-20"


def orders(day: str, extra: int = 0, **options: Any) -> Any:
    n = int(day[-2:]) + extra
    rows = [(i, f"order {i} of {day}") for i in range(1, n % 5 + 3)]
    return make_table("orders", {"id": "bigint", "note": "text"}, rows, **options)


def items(day: str, qty_type: str = "integer") -> Any:
    n = int(day[-2:])
    cast = str if qty_type == "text" else int
    return make_table("items", {"id": "bigint", "qty": qty_type}, [(1, cast(n)), (2, cast(n + 1))])


def night(world: SorWorld, day: str, tables: list[Any], attempt: str = "", *extra: str) -> Any:
    uri = world.export(tables, export_id=shop_export_id(day) + attempt)
    return world.run(uri, day, *extra)


def latest_problems(world: SorWorld, expected: dict[str, str | None]) -> list[str]:
    """Everything wrong with the latest tables, given the day each should read (None: no latest table)."""
    problems = []
    latest = {t["Name"]: t for t in world.glue.get_tables(DatabaseName=LATEST)["TableList"]}
    for name, day in expected.items():
        table = latest.get(name)
        if day is None:
            if table is not None:
                problems.append(f"{name}: a latest table exists, none expected")
            continue
        if table is None:
            problems.append(f"{name}: no latest table, expected {day}")
            continue
        if table["Parameters"].get("sor.ingestion_date") != day:
            problems.append(f"{name}: sor.ingestion_date {table['Parameters'].get('sor.ingestion_date')}, not {day}")
        if day not in table.get("Description", ""):
            problems.append(f"{name}: the Description does not name {day}")
        if table.get("PartitionKeys"):
            problems.append(f"{name}: partitioned by {table['PartitionKeys']}")
        sor = world.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]["StorageDescriptor"]
        partition = world.glue.get_partition(DatabaseName=DATABASE, TableName=name, PartitionValues=[day])
        day_storage = partition["Partition"]["StorageDescriptor"]
        storage = table["StorageDescriptor"]
        if storage["Columns"] != day_storage["Columns"]:
            problems.append(f"{name}: columns {storage['Columns']} are not the day's {day_storage['Columns']}")
        if storage["Location"] != day_storage["Location"]:
            problems.append(f"{name}: location {storage['Location']}, the day is at {day_storage['Location']}")
        for key in ("SerdeInfo", "InputFormat", "OutputFormat"):
            if storage.get(key) != sor.get(key):
                problems.append(f"{name}: {key} {storage.get(key)} differs from the SOR table's {sor.get(key)}")
        columns = ", ".join(f'"{c["Name"]}"' for c in day_storage["Columns"])
        rows = Counter(world.query(f'SELECT {columns} FROM {LATEST}."{name}"'))
        wanted = Counter(
            world.query(f"SELECT {columns} FROM {DATABASE}.\"{name}\" WHERE ingestion_date = DATE '{day}'")
        )
        if rows != wanted:
            problems.append(
                f"{name}: reads {sorted(rows.elements())[:3]}..., the day holds {sorted(wanted.elements())[:3]}"
            )
    return problems


def versions(world: SorWorld, name: str) -> int:
    return len(world.glue.get_table_versions(DatabaseName=LATEST, TableName=name)["TableVersions"])


def test_two_good_nights_a_failed_table_and_a_backfill(world: SorWorld) -> None:
    assert night(world, DAY_1, [orders(DAY_1), items(DAY_1)]).code == 0
    assert latest_problems(world, {"public_orders": DAY_1, "public_items": DAY_1}) == []

    second = night(world, DAY_2, [orders(DAY_2), items(DAY_2)])
    assert second.code == 0
    assert second.table("public_orders")["latest_day"] == DAY_2
    assert latest_problems(world, {"public_orders": DAY_2, "public_items": DAY_2}) == []

    # items' qty becomes text: a column never changes meaning, so items fails tonight and keeps its day
    third = night(world, DAY_3, [orders(DAY_3), items(DAY_3, qty_type="text")])
    assert third.code == 1
    assert (third.table("public_items")["status"], third.table("public_orders")["status"]) == ("FAILED", "PUBLISHED")
    assert third.table("public_items")["latest_day"] == DAY_2
    assert latest_problems(world, {"public_orders": DAY_3, "public_items": DAY_2}) == []

    # a backfill of an older day publishes that day, and moves no latest table backwards
    backfill = night(world, OLDER, [orders(OLDER), items(OLDER)])
    assert backfill.code == 0
    assert backfill.table("public_orders")["latest_day"] == DAY_3
    assert latest_problems(world, {"public_orders": DAY_3, "public_items": DAY_2}) == []
    # four moves at most, and not one archived version (UpdateTable SkipArchive; CreateTable made the one)
    assert (versions(world, "public_orders"), versions(world, "public_items")) == (1, 1)
    assert world.emulator.enforcer is not None
    assert world.emulator.enforcer.refusals == []


def test_an_empty_day_is_published_and_a_new_column_reaches_the_latest_table(world: SorWorld) -> None:
    assert night(world, DAY_1, [orders(DAY_1)]).code == 0
    empty = make_table("orders", {"id": "bigint", "note": "text"}, [])
    second = night(world, DAY_2, [empty])
    assert second.code == 0
    assert (second.table("public_orders")["status"], second.table("public_orders")["rows"]) == ("PUBLISHED", 0)
    assert latest_problems(world, {"public_orders": DAY_2}) == []
    assert world.query(f"SELECT count(*) FROM {LATEST}.public_orders") == [(0,)]

    wider = make_table("orders", {"id": "bigint", "note": "text", "total": "integer"}, [(1, "a", 10), (2, "b", 20)])
    assert night(world, DAY_3, [wider]).code == 0
    assert latest_problems(world, {"public_orders": DAY_3}) == []
    assert world.query(f"SELECT id, total FROM {LATEST}.public_orders ORDER BY id") == [(1, 10), (2, 20)]


def test_a_good_rerun_of_the_latest_day_leaves_it_where_it_is(world: SorWorld) -> None:
    uri = world.export([orders(DAY_1)], export_id=shop_export_id(DAY_1))
    assert world.run(uri, DAY_1).code == 0
    assert night(world, DAY_2, [orders(DAY_2)]).code == 0
    world.emulator.requests.clear()
    again = world.run(world.export([orders(DAY_2)], export_id=shop_export_id(DAY_2)), DAY_2)
    assert again.code == 0
    assert "latest unchanged" in again.table("public_orders")["catalog"]
    assert world.emulator.calls("glue", "UpdateTable") == []  # same files: no park, no move
    assert latest_problems(world, {"public_orders": DAY_2}) == []


def watch_latest(world: SorWorld, day: str, name: str = "public_orders") -> list[str | None]:
    """The day the latest table reads at each change to `day`'s folder of `name` (a hook before the request)."""
    seen: list[str | None] = []
    folder = f"/{DATABASE}/{name}/ingestion_date={day}/"

    def hook(request: Request) -> None:
        writes = {"CopyObject", "PutObject", "CreateMultipartUpload", "UploadPart", "DeleteObject"}
        if request.operation in writes and folder in request.path:
            try:
                table = world.glue.get_table(DatabaseName=LATEST, Name=name)["Table"]
                seen.append(table["Parameters"]["sor.ingestion_date"])
            except world.glue.exceptions.EntityNotFoundException:
                seen.append(None)

    world.emulator.hooks.append(hook)
    return seen


def test_a_rerun_of_the_latest_day_with_other_files_parks_it_on_the_day_before_meanwhile(world: SorWorld) -> None:
    assert night(world, DAY_1, [orders(DAY_1, files_per_batch=2)]).code == 0
    assert night(world, DAY_2, [orders(DAY_2, files_per_batch=2)]).code == 0
    seen = watch_latest(world, DAY_2)

    # the day exported again (another snapshot: other rows, the same file names), and the re-run fails half-way
    copies: list[str] = []

    def second_copy(request: Request) -> bool:
        if request.operation == "CopyObject" and f"ingestion_date={DAY_2}/" in request.path:
            copies.append(request.path)
            return len(copies) >= 2  # the second copy and its retries
        return False

    world.emulator.add_fault(Fault(second_copy, 400, "InvalidRequest", "injected: the copy is refused", times=None))
    failed = night(world, DAY_2, [orders(DAY_2, extra=2, files_per_batch=2)], "-2")
    assert failed.code == 1
    assert seen  # the re-run did change the day's folder...
    assert set(seen) == {DAY_1}  # ...and every change happened while the latest table read the day before
    assert failed.table("public_orders")["latest_day"] == DAY_1
    assert latest_problems(world, {"public_orders": DAY_1}) == []  # a failed re-run: the newest intact day

    world.emulator.faults.clear()
    fixed = night(world, DAY_2, [orders(DAY_2, extra=2, files_per_batch=2)], "-2")
    assert fixed.code == 0
    assert latest_problems(world, {"public_orders": DAY_2}) == []
    rows = world.query(f"SELECT count(*) FROM {LATEST}.public_orders")
    assert rows == [(len(orders(DAY_2, extra=2).rows),)]
    assert versions(world, "public_orders") == 1


def test_a_typed_rerun_of_the_latest_day_parks_it_before_spark_writes(world: SorWorld) -> None:
    """The rewrite path (Spark tasks write the objects): the same rule, decided before the tasks start."""

    def sales(day: str, extra: int = 0) -> Any:
        rows = [(i, f"2026-11-{10 + i:02d}") for i in range(1, 3 + extra)]
        return make_table("sales", {"id": "integer", "sold_on": "date"}, rows)

    for day in (DAY_1, DAY_2):
        run = world.spark_run(world.export([sales(day)], export_id=shop_export_id(day)), day)
        assert run.code == 0, run.stderr[-3000:]
    seen = watch_latest(world, DAY_2, "public_sales")
    rerun = world.spark_run(world.export([sales(DAY_2, extra=2)], export_id=shop_export_id(DAY_2) + "-2"), DAY_2)
    assert rerun.code == 0, rerun.stderr[-3000:]
    assert seen
    assert set(seen) == {DAY_1}
    assert rerun.table("public_sales")["restored_columns"] == {"sold_on": "date"}
    assert latest_problems(world, {"public_sales": DAY_2}) == []
    assert world.query(f"SELECT count(*) FROM {LATEST}.public_sales") == [(4,)]


def test_a_rerun_of_the_only_day_removes_the_latest_table_until_it_publishes(world: SorWorld) -> None:
    assert night(world, DAY_1, [orders(DAY_1)]).code == 0
    seen = watch_latest(world, DAY_1)
    rerun = night(world, DAY_1, [orders(DAY_1, extra=1)], "-2")
    assert rerun.code == 0
    assert seen
    assert set(seen) == {None}  # no other day to read: no latest table while the folder changed
    assert "latest removed, created" in rerun.table("public_orders")["catalog"]
    assert latest_problems(world, {"public_orders": DAY_1}) == []


def test_retention_keeps_the_day_a_latest_table_reads_and_a_dropped_table_keeps_its_last_day(world: SorWorld) -> None:
    keep = ("--keep_daily", "1")
    assert night(world, DAY_1, [orders(DAY_1), items(DAY_1)], "", *keep).code == 0
    # items is no longer exported: its latest table keeps DAY_1, and retention keeps that day for it
    assert night(world, DAY_2, [orders(DAY_2)], "", *keep).code == 0
    third = night(world, DAY_3, [orders(DAY_3)], "", *keep)
    assert third.code == 0
    orders_days = world.glue.get_partitions(DatabaseName=DATABASE, TableName="public_orders")["Partitions"]
    items_days = world.glue.get_partitions(DatabaseName=DATABASE, TableName="public_items")["Partitions"]
    assert sorted(p["Values"][0] for p in orders_days) == [DAY_3]  # keep_daily 1
    assert [p["Values"][0] for p in items_days] == [DAY_1]  # what its latest table reads
    assert latest_problems(world, {"public_orders": DAY_3, "public_items": DAY_1}) == []


def test_retention_never_plans_to_remove_the_day_a_latest_table_reads() -> None:
    days = [dt.date(2026, 11, d) for d in (24, 25, 26)]
    parked = TableDays("public_orders", frozenset(days), latest=days[0])  # parked on the 24th after a failed re-run
    removals = plan_retention(RetentionPolicy(keep_daily=1), [parked], {"public_orders"}, days[-1])
    assert removals == [Removal("public_orders", days[1], True)]  # the 25th goes; the 24th stays for its reader


@pytest.mark.parametrize("name", ["", "sor"])
def test_a_latest_database_must_be_a_name_other_than_the_sor_database(world: SorWorld, name: str) -> None:
    uri = world.export([orders(DAY_1)], export_id=shop_export_id(DAY_1))
    run = world.run(uri, DAY_1, "--latest_database", name)
    if name == "":
        assert run.code == 0  # no latest tables: a run by hand outside the stack
        assert world.glue.get_tables(DatabaseName=LATEST)["TableList"] == []
    else:
        assert run.code == 2
        assert "--latest_database must match" in run.summary["error"]


def test_the_emulator_keeps_table_versions_as_glue_does(world: SorWorld) -> None:
    """UpdateTable archives the previous version unless SkipArchive (botocore glue model); moto alone ignores it."""
    table = {"Name": "t", "StorageDescriptor": {"Columns": [{"Name": "a", "Type": "int"}], "Location": "s3://b/t/"}}
    world.glue.create_table(DatabaseName=LATEST, TableInput=table)
    world.glue.update_table(DatabaseName=LATEST, TableInput=table | {"Description": "one"}, SkipArchive=True)
    assert versions(world, "t") == 1
    assert world.glue.get_table(DatabaseName=LATEST, Name="t")["Table"]["Description"] == "one"
    world.glue.update_table(DatabaseName=LATEST, TableInput=table | {"Description": "two"})
    assert versions(world, "t") == 2


def test_a_latest_table_that_cannot_move_fails_its_table_and_the_day_stays_published(
    in_process_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exact or loud: the day is in the SOR, but its latest table did not follow, so the table fails (transient
    when the cause is, and a re-run then moves it: the copy is already in place)."""

    def throttled(self: LatestTable, *_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "UpdateTable")

    export = render_export(**export_kwargs(tables=[orders(DAY)]))
    with mock_aws():
        with monkeypatch.context() as patched:
            patched.setattr(LatestTable, "after_publish", throttled)
            summary, code, job = publish(export, "--latest_database", LATEST)
        assert code is ExitCode.TABLE_FAILED
        (failed,) = summary["failed_tables"]
        assert (failed["name"], failed["failure"]) == ("public_orders", "transient")
        assert "ThrottlingException" in failed["error"]
        partitions = job.glue.get_partitions(DatabaseName=DATABASE, TableName="public_orders")["Partitions"]
        assert [p["Values"] for p in partitions] == [[DAY]]  # published in the SOR all the same
        assert summary["retryable"] is True

        root = next(k for k in export if k.startswith("exports/")).split("/")[:2]  # as publish() finds it
        arguments = [
            "--export_uri", f"s3://{EXPORT_BUCKET}/{'/'.join(root)}/", "--sor_bucket", SOR_BUCKET,
            "--catalog_database", DATABASE, "--ingestion_date", DAY, "--source_engine", PG,
            "--metrics_namespace", "", "--latest_database", LATEST,
        ]  # fmt: skip
        again, code = run_job(parse_args(arguments), job)
        assert code is ExitCode.SUCCEEDED, again
        latest = job.glue.get_table(DatabaseName=LATEST, Name="public_orders")["Table"]
        assert latest["Parameters"]["sor.ingestion_date"] == DAY
