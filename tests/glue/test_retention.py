"""Retention (glue/sor_job/retention.py): restic keep rules over simulated years of nights, removal in the emulator.

The nights are built with the job's own builders (table_input, partition_input, put_table) rather than by running the
job hundreds of times; one test runs the whole job as the Glue role, under IAM enforcement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import pytest

from sor_job.catalog_definitions import partition_input, table_input
from sor_job.catalog_writes import put_table
from sor_job.clients import JobClients
from sor_job.config import RetentionPolicy, parse_args
from sor_job.copy_day import Copier
from sor_job.errors import ExportError
from sor_job.retention import Removal, RemovalOutcome, TableDays, apply_retention, kept_dates, plan_retention
from tests.exports import make_table
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

LAST = dt.date.fromisoformat(DAY)  # 2026-11-26, the newest night
COLUMNS = [{"Name": "id", "Type": "bigint"}]


# -- the calendar: 400 nights with a failed night, a month with one night and a backfilled old date -------------
FAILED_NIGHT = dt.date(2026, 2, 10)  # the export failed: no table has this day
LONE_MONTH = (2026, 4)  # only one night of April published
LONE_NIGHT = dt.date(2026, 4, 17)
BACKFILLED = dt.date(2024, 3, 15)  # a much older date published later by a backfill
MISSED_MONTH_END = dt.date(2026, 10, 31)  # one table missed this night only


def nights(count: int = 400, last: dt.date = LAST) -> list[dt.date]:
    days = [last - dt.timedelta(days=n) for n in range(count)]
    days = [d for d in days if d != FAILED_NIGHT and ((d.year, d.month) != LONE_MONTH or d == LONE_NIGHT)]
    return sorted([*days, BACKFILLED])


def restic(dates: Iterable[dt.date], daily: int, monthly: int, yearly: int) -> set[dt.date]:
    """restic's forget semantics written independently of the job: group, take each group's newest, keep the newest
    groups (the job scans newest first instead)."""
    newest_first = sorted(set(dates), reverse=True)
    keep = set(newest_first[:daily])
    for count, group in ((monthly, lambda d: (d.year, d.month)), (yearly, lambda d: d.year)):
        newest: dict[Any, dt.date] = {}
        for day in newest_first:
            newest[group(day)] = max(newest.get(group(day), day), day)
        keep |= {newest[g] for g in sorted(newest, reverse=True)[:count]}
    return keep


SETTINGS = [(35, 24, 7), (7, 0, 0), (0, 12, 0), (0, 0, 3), (1, 1, 1), (10, 6, 2), (400, 0, 0), (3, 0, 10)]


@pytest.mark.parametrize(("daily", "monthly", "yearly"), SETTINGS)
def test_kept_dates_are_restics_for_400_nights(daily: int, monthly: int, yearly: int) -> None:
    dates = nights()
    assert kept_dates(dates, RetentionPolicy(daily, monthly, yearly)) == restic(dates, daily, monthly, yearly)


def test_a_worked_example_of_35_dailies_24_month_ends_and_7_year_ends() -> None:
    kept = kept_dates(nights(), RetentionPolicy(35, 24, 7))
    dailies = {LAST - dt.timedelta(days=n) for n in range(35)}
    month_ends = {dt.date(2025, 10, 31), dt.date(2025, 11, 30), dt.date(2025, 12, 31), dt.date(2026, 1, 31)}
    month_ends |= {dt.date(2026, 2, 28), dt.date(2026, 3, 31), LONE_NIGHT, dt.date(2026, 5, 31), dt.date(2026, 6, 30)}
    month_ends |= {dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 30), dt.date(2026, 10, 31), LAST}
    month_ends |= {BACKFILLED}  # March 2024 is a month that has a partition too (15 months in all, under 24)
    year_ends = {dt.date(2025, 12, 31), LAST, BACKFILLED}
    assert kept == dailies | month_ends | year_ends
    assert len(kept) == 35 + 15 - 2  # 2026-10-31 and LAST are dailies too; the year ends are month ends already
    assert FAILED_NIGHT not in kept
    assert LONE_NIGHT in kept


def test_all_rules_off_keeps_everything_and_plans_nothing() -> None:
    table = TableDays("orders", frozenset(nights()))
    assert not RetentionPolicy().enabled
    assert plan_retention(RetentionPolicy(), [table], {"orders"}, LAST) == []
    assert plan_retention(RetentionPolicy(0, 0, 0), [table], {"orders"}, LAST) == []


def test_any_rule_keeps_the_newest_partition_so_no_table_is_ever_emptied() -> None:
    old = TableDays("dropped", frozenset({dt.date(2025, 1, 1), dt.date(2025, 1, 2)}))  # left the export long ago
    for policy in (RetentionPolicy(1, 0, 0), RetentionPolicy(0, 1, 0), RetentionPolicy(0, 0, 1)):
        removed = {r.day for r in plan_retention(policy, [old], {"dropped"}, LAST)}
        assert removed == {dt.date(2025, 1, 1)}, policy


def test_tables_keep_the_same_days_and_one_that_missed_a_month_end_keeps_its_own_newest_of_that_month() -> None:
    everyone = frozenset(nights())
    orders = TableDays("orders", everyone - {MISSED_MONTH_END})
    customers = TableDays("customers", everyone)
    policy = RetentionPolicy(7, 24, 7)
    removals = plan_retention(policy, [orders, customers], {"orders", "customers"}, LAST)
    left = {t.name: t.partitions - {r.day for r in removals if r.table == t.name} for t in (orders, customers)}
    calendar = restic(everyone, 7, 24, 7)
    # the shared calendar: every kept day a table has, it keeps, so a join on a kept day finds both tables
    assert left["customers"] == calendar
    assert left["orders"] >= calendar - {MISSED_MONTH_END}
    # orders did not lose October: its own newest October night is kept
    october = {d for d in left["orders"] if (d.year, d.month) == (2026, 10)}
    assert october == {dt.date(2026, 10, 30)}
    assert left["orders"] - calendar == {dt.date(2026, 10, 30)}
    assert left["orders"] == (calendar & orders.partitions) | restic(orders.partitions, 7, 24, 7)


def test_the_runs_own_date_is_never_removed_so_a_backfill_survives_the_run_that_made_it() -> None:
    days = frozenset(nights())
    table = TableDays("orders", days)
    policy = RetentionPolicy(7, 0, 0)
    assert BACKFILLED in {r.day for r in plan_retention(policy, [table], {"orders"}, LAST)}
    assert BACKFILLED not in {r.day for r in plan_retention(policy, [table], {"orders"}, BACKFILLED)}


def test_a_failed_table_removes_nothing_but_its_days_still_count_for_the_calendar() -> None:
    days = frozenset(nights())
    failed = TableDays("failed_tonight", days | {LAST + dt.timedelta(days=1)})
    other = TableDays("orders", days)
    removals = plan_retention(RetentionPolicy(1, 0, 0), [failed, other], {"orders"}, LAST)
    assert {r.table for r in removals} == {"orders"}
    assert LAST not in {r.day for r in removals}  # the run's date, though the calendar's newest day is the next


def test_orphaned_day_folders_are_planned_unless_their_date_is_kept() -> None:
    days = frozenset(nights(30))
    orphans = frozenset({dt.date(2025, 1, 1), LAST - dt.timedelta(days=1)})
    table = TableDays("orders", days - {LAST - dt.timedelta(days=1)}, folders=days | orphans)
    others = TableDays("customers", days)
    removals = plan_retention(RetentionPolicy(3, 0, 0), [table, others], {"orders"}, LAST)
    assert [r for r in removals if not r.in_catalog] == [Removal("orders", dt.date(2025, 1, 1), False)]


def test_pinned_partitions_are_never_planned() -> None:
    days = frozenset(nights(30))
    table = TableDays("orders", days, pinned=frozenset({min(days)}))
    assert min(days) not in {r.day for r in plan_retention(RetentionPolicy(1, 0, 0), [table], {"orders"}, LAST)}


# -- bad settings at run time ---------------------------------------------------------------------------------
BASE = ["--export_uri", "s3://b/exports/e/", "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE,
        "--source_engine", "aurora-postgresql"]  # fmt: skip


@pytest.mark.parametrize("option", ["--keep_daily", "--keep_monthly", "--keep_yearly"])
@pytest.mark.parametrize("value", ["-1", "1.5", "1e3", "seven", "", " 7"])
def test_bad_keep_values_are_refused_with_a_clear_error(option: str, value: str) -> None:
    with pytest.raises(ExportError, match=f"{option}.*whole number >= 0"):
        parse_args([*BASE, "--ingestion_date", DAY, option, value])


def test_a_keep_option_takes_a_value_and_dry_run_takes_true_or_false() -> None:
    with pytest.raises(ExportError, match="--keep_daily"):
        parse_args([*BASE, "--ingestion_date", DAY, "--keep_daily"])
    with pytest.raises(ExportError, match="true or false"):
        parse_args([*BASE, "--ingestion_date", DAY, "--retention_dry_run", "yes"])
    config = parse_args([*BASE, "--ingestion_date", DAY, "--keep_daily", "35", "--keep_yearly", "0"])
    assert config.retention == RetentionPolicy(35, 0, 0)
    assert not config.retention_dry_run
    assert parse_args([*BASE, "--ingestion_date", DAY]).retention == RetentionPolicy()


# -- in the emulator ----------------------------------------------------------------------------------------------
def seed(
    world: SorWorld, tables: dict[str, Iterable[dt.date]], *, managed: bool = True, source: str | None = None
) -> None:
    """Published days as the job leaves them: table and partitions from its builders, one file per day folder."""
    config = parse_args([*BASE, "--ingestion_date", DAY])
    for name, days in tables.items():
        location = config.table_location(name)
        definition = table_input(name, location, COLUMNS, source or f"shop.public.{name}")
        if not managed:
            definition["Parameters"] = {"EXTERNAL": "TRUE", "classification": "parquet"}
        put_table(world.glue, DATABASE, None, definition)
        inputs = [
            partition_input(
                location, d.isoformat(), COLUMNS, f"aurora-sor-shop-{d}", {"files": 1, "bytes": 4, "rows": 1}
            )
            for d in sorted(days)
        ]
        for start in range(0, len(inputs), 100):
            world.glue.batch_create_partition(
                DatabaseName=DATABASE, TableName=name, PartitionInputList=inputs[start : start + 100]
            )
        for d in days:
            world.s3.put_object(
                Bucket=SOR_BUCKET, Key=f"{DATABASE}/{name}/ingestion_date={d}/part-0.parquet", Body=b"PAR1"
            )


def held(world: SorWorld) -> dict[str, Any]:
    """Every table's partition dates and every object key in the SOR bucket."""
    partitions = {}
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        pages = world.glue.get_paginator("get_partitions").paginate(DatabaseName=DATABASE, TableName=table["Name"])
        partitions[table["Name"]] = {p["Values"][0] for page in pages for p in page["Partitions"]}
    keys = set()
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET):
        keys |= {o["Key"] for o in page.get("Contents", [])}
    return {"partitions": partitions, "keys": keys}


def expected(tables: dict[str, Iterable[dt.date]], daily: int, monthly: int, yearly: int, run: dt.date) -> dict:
    calendar = restic((d for days in tables.values() for d in days), daily, monthly, yearly)
    return {
        name: {d.isoformat() for d in set(days) & (calendar | restic(days, daily, monthly, yearly) | {run})}
        for name, days in tables.items()
    }


def retain(world: SorWorld, day: str, *options: str, s3: Any = None, glue: Any = None, failed: Iterable[str] = ()):
    config = parse_args([*BASE, "--ingestion_date", day, *options])
    clients = JobClients(s3 or world.s3, glue or world.glue, None)
    copier = Copier(clients.s3, config)
    try:
        return apply_retention(clients, config, set(failed), copier.delete)
    finally:
        copier.shutdown()


def test_400_nights_of_several_tables_keep_exactly_restics_days_and_the_folders_go_with_them(world) -> None:
    everyone = nights()
    tables = {"orders": [d for d in everyone if d != MISSED_MONTH_END], "customers": everyone,
              "dropped": [d for d in everyone if d < dt.date(2026, 6, 1)]}  # fmt: skip
    seed(world, tables)
    report = retain(world, DAY, "--keep_daily", "14", "--keep_monthly", "24", "--keep_yearly", "7")

    assert report.error is None
    assert report.tables == 3
    want = expected(tables, 14, 24, 7, LAST)
    state = held(world)
    assert state["partitions"] == want
    assert state["keys"] == {f"{DATABASE}/{n}/ingestion_date={d}/part-0.parquet" for n, ds in want.items() for d in ds}
    removed = sum(len(ds) for ds in tables.values()) - sum(len(ds) for ds in want.values())
    assert report.summary()["removed_days"] == removed == len(report.days)
    assert report.summary()["removed_objects"] == removed
    assert all(d.outcome is RemovalOutcome.REMOVED and d.catalog_partition for d in report.days)
    assert "2026-10-30" in want["orders"]
    assert "2026-10-30" not in want["customers"]
    assert max(want["dropped"]) == "2026-05-31"  # a table no longer exported keeps its newest day

    again = retain(world, DAY, "--keep_daily", "14", "--keep_monthly", "24", "--keep_yearly", "7")
    assert again.days == []
    assert held(world) == state


def test_a_single_table_over_400_nights_then_the_next_night(world) -> None:
    tables = {"orders": nights()}
    seed(world, tables)
    retain(world, DAY, "--keep_daily", "7", "--keep_monthly", "3")
    assert held(world)["partitions"] == expected(tables, 7, 3, 0, LAST)
    following = LAST + dt.timedelta(days=1)
    seed(world, {"orders": [following]})  # the next night publishes (put_table sees it exists: same definition)
    tables = {"orders": [dt.date.fromisoformat(d) for d in held(world)["partitions"]["orders"]]}
    retain(world, following.isoformat(), "--keep_daily", "7", "--keep_monthly", "3")
    assert held(world)["partitions"] == expected(tables, 7, 3, 0, following)
    assert (LAST - dt.timedelta(days=6)).isoformat() not in held(world)["partitions"]["orders"]


def test_a_backfill_run_keeps_its_date_and_the_next_nightly_run_applies_the_rules(world) -> None:
    tables = {"orders": nights(20)}
    seed(world, tables)
    seed(world, {"orders": [BACKFILLED]})  # the backfill published this old date tonight
    retain(world, BACKFILLED.isoformat(), "--keep_daily", "5")
    assert BACKFILLED.isoformat() in held(world)["partitions"]["orders"]
    retain(world, DAY, "--keep_daily", "5")
    assert BACKFILLED.isoformat() not in held(world)["partitions"]["orders"]


def test_unmanaged_tables_foreign_objects_and_failed_tables_are_untouched(world) -> None:
    days = nights(40)
    seed(world, {"orders": days, "failed_tonight": days})
    seed(world, {"analyst_table": days}, managed=False)
    foreign = {
        f"{DATABASE}/orders/notes.txt",  # beside the day folders
        f"{DATABASE}/orders/_tmp/x.parquet",  # a folder that is not a day folder
        f"{DATABASE}/orders/ingestion_date=2026-13-01/x.parquet",  # not a date
        f"{DATABASE}/ord/ingestion_date={days[0]}/x.parquet",  # a prefix of a managed table, not its folder
        f"elsewhere/orders/ingestion_date={days[0]}/x.parquet",  # outside the database prefix
    }
    for key in foreign:
        world.s3.put_object(Bucket=SOR_BUCKET, Key=key, Body=b"x")
    before = held(world)
    report = retain(world, DAY, "--keep_daily", "3", failed={"failed_tonight"})

    after = held(world)
    assert after["partitions"]["analyst_table"] == before["partitions"]["analyst_table"]
    assert after["partitions"]["failed_tonight"] == before["partitions"]["failed_tonight"]
    assert len(after["partitions"]["orders"]) == 3
    assert foreign <= after["keys"]
    assert {k for k in before["keys"] - after["keys"]} == {
        f"{DATABASE}/orders/ingestion_date={d}/part-0.parquet" for d in days[:-3]
    }
    assert {d.table for d in report.days} == {"orders"}
    assert any("not day folders" in w for w in report.warnings)


def test_a_dry_run_lists_what_would_go_and_changes_nothing(world) -> None:
    tables = {"orders": nights(60), "customers": nights(60)}
    seed(world, tables)
    before = held(world)
    requests = len(world.emulator.calls())
    report = retain(world, DAY, "--keep_daily", "7", "--keep_monthly", "1", "--retention_dry_run", "true")

    assert held(world) == before
    mutating = {"BatchDeletePartition", "DeleteObjects", "DeleteObject", "DeletePartition", "PutObject"}
    assert not [c for c in world.emulator.calls()[requests:] if c.operation in mutating]
    want = expected(tables, 7, 1, 0, LAST)
    assert {(d.table, d.ingestion_date) for d in report.days} == {
        (n, d.isoformat()) for n, ds in tables.items() for d in ds if d.isoformat() not in want[n]
    }
    assert all(d.outcome is RemovalOutcome.WOULD_REMOVE and d.objects == 1 for d in report.days)
    assert report.summary() | {"would_remove_days": 0} == {
        "enabled": True, "dry_run": True, "removed_days": 0, "removed_objects": 0, "would_remove_days": 0,
        "failed_days": 0,
    }  # fmt: skip


class Killed(BaseException):
    """The process dies here (Flex capacity reclaimed, timeout): nothing after this call happens."""


class KillAt:
    """A client that dies on its n-th call of one operation (0: before the first one is sent)."""

    def __init__(self, client: Any, operation: str, n: int) -> None:
        self._client, self._operation, self._n, self.calls = client, operation, n, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def call(**kwargs: Any) -> Any:
            if self.calls == self._n:
                raise Killed(f"{name} #{self.calls}")
            self.calls += 1
            return attribute(**kwargs)

        return call


@pytest.mark.parametrize(
    ("service", "operation", "n"),
    [
        ("glue", "batch_delete_partition", 0),  # before anything is removed
        ("glue", "batch_delete_partition", 2),  # between partition batches: 25-day batches of the first table
        ("s3", "delete_objects", 0),  # partitions gone, their folders not yet: orphans
        ("s3", "delete_objects", 7),  # part-way through the folders
    ],
)
def test_a_removal_killed_at_each_step_then_run_again_ends_where_a_clean_run_ends(world, service, operation, n):
    tables = {"orders": nights(90), "customers": nights(90)}
    seed(world, tables)
    options = ("--keep_daily", "5", "--keep_monthly", "2")
    killer = KillAt(getattr(world, service), operation, n)
    with pytest.raises(Killed):
        retain(world, DAY, *options, **{service: killer})
    interrupted = held(world)
    if operation == "delete_objects":
        assert any(k.split("/")[1] for k in interrupted["keys"])  # orphaned folders exist now
    again = retain(world, DAY, *options)
    assert again.error is None
    want = expected(tables, 5, 2, 0, LAST)
    assert held(world) == {
        "partitions": want,
        "keys": {f"{DATABASE}/{n}/ingestion_date={d}/part-0.parquet" for n, ds in want.items() for d in ds},
    }
    if operation == "delete_objects":
        assert any(not d.catalog_partition and d.outcome is RemovalOutcome.REMOVED for d in again.days)


def test_in_a_versioned_bucket_removal_leaves_delete_markers_and_noncurrent_versions(world) -> None:
    world.s3.put_bucket_versioning(Bucket=SOR_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    seed(world, {"orders": nights(10)})
    retain(world, DAY, "--keep_daily", "4")
    versions = world.s3.list_object_versions(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/orders/")
    noncurrent = [v for v in versions.get("Versions", []) if not v["IsLatest"]]
    markers = versions.get("DeleteMarkers", [])
    # The bytes are still stored (and billed) until NoncurrentVersionExpiration frees them; listings and Athena see
    # only the 4 kept days.
    assert len(noncurrent) == len(markers) == 7  # 10 nights and the backfilled date, 4 kept
    assert len(held(world)["keys"]) == 4


def test_a_catalog_error_on_one_partition_keeps_that_days_files(world) -> None:
    seed(world, {"orders": nights(10)})

    class Refusing:
        def __init__(self, glue: Any) -> None:
            self._glue = glue

        def __getattr__(self, name: str) -> Any:
            return getattr(self._glue, name)

        def batch_delete_partition(self, **kwargs: Any) -> Any:
            first, *rest = kwargs["PartitionsToDelete"]
            self._glue.batch_delete_partition(**{**kwargs, "PartitionsToDelete": rest})
            error = {"ErrorCode": "InternalServiceException", "ErrorMessage": "try later"}
            return {"Errors": [{"PartitionValues": first["Values"], "ErrorDetail": error}]}

    report = retain(world, DAY, "--keep_daily", "4", glue=Refusing(world.glue))
    failed = [d for d in report.days if d.outcome is RemovalOutcome.FAILED]
    assert len(failed) == 1
    assert "InternalServiceException" in failed[0].error
    day = failed[0].ingestion_date
    state = held(world)
    assert day in state["partitions"]["orders"]
    assert f"{DATABASE}/orders/ingestion_date={day}/part-0.parquet" in state["keys"]
    assert report.summary()["failed_days"] == 1


@pytest.mark.glue_job
def test_the_job_applies_retention_after_publishing_as_the_glue_role_and_reports_it(world) -> None:
    past = [LAST - dt.timedelta(days=n) for n in range(1, 45)]  # back into October
    seed(world, {"public_orders": past}, source="shop.public.orders")
    seed(world, {"public_gone": past})  # no longer in the export
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,), (2,)])], export_id=f"aurora-sor-shop-{DAY}")
    run = world.run(uri, DAY, "--keep_daily", "3", "--keep_monthly", "1")

    assert run.code == 0, run.stderr[-3000:]
    retention = run.manifest["retention"]
    assert (retention["keep_daily"], retention["keep_monthly"], retention["keep_yearly"]) == (3, 1, 0)
    want = expected({"public_orders": [*past, LAST], "public_gone": past}, 3, 1, 0, LAST)
    state = held(world)
    assert state["partitions"] == want
    assert want["public_gone"] == {(LAST - dt.timedelta(days=n)).isoformat() for n in (1, 2, 3)}
    gone = {(t, d.isoformat()) for t in want for d in past if d.isoformat() not in want[t]}
    assert {(d["table"], d["ingestion_date"]) for d in retention["days"]} == gone
    assert all(d["outcome"] == "removed" for d in retention["days"])
    assert run.summary["retention"]["removed_days"] == len(gone)
    assert "retention: public_orders" in run.stderr
