"""The Glue job under injected faults: after retries, or a failed run and a re-run, the SOR is exactly a clean run's.

Faults come from the emulator's wire layer (local/emulator/aws_emulator.py): a Fault answers matching requests with the
service's own error body, a hook holds a request until the test has SIGKILLed the job. The job is never patched.
Each test ends with Scene.assert_converged(): same keys, sizes, source ETags and checksums under the day's
partition, same catalog schema and partitions as a clean run, the earlier day byte-for-byte untouched.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config

from local.emulator.aws_emulator import Fault, Request, wait_for
from local.emulator.job_runner import finish
from sor_job.config import parse_args
from sor_job.copy_day import Copier, CopyStep
from sor_job.errors import TableError
from sor_job.s3_reads import list_objects, read_footer
from tests.exports import EXPORT_BUCKET, shop_export_id
from tests.faults.scenario import (
    EARLIER,
    TABLES,
    Crash,
    copy_into,
    day_snapshot,
    exact_state,
    footer_read_of,
    one_call,
    run_day,
    scene,
    start_day,
    with_legacy_run_parameters,
    write_day_export,
)
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld


def failed_names(summary: dict[str, object]) -> list[str]:
    return sorted(f["name"] for f in summary["failed_tables"])  # type: ignore[attr-defined]


def partitions_of(world: SorWorld, table: str) -> list[str]:
    got = world.glue.get_partitions(DatabaseName=DATABASE, TableName=table)["Partitions"]
    return sorted(p["Values"][0] for p in got)


# -- S3 faults ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("status", "code"), [(503, "SlowDown"), (500, "InternalError")])
def test_transient_s3_and_catalog_errors_are_retried_within_the_run(world: SorWorld, status: int, code: str) -> None:
    s = scene(world)
    with_legacy_run_parameters(world)  # so that the night calls UpdateTable
    faults = [
        Fault(lambda r: r.operation == "CopyObject", status, code, times=1),
        Fault(lambda r: r.operation == "UploadPartCopy", status, code, times=1),
        Fault(footer_read_of("public.orders"), status, code, times=1),
        Fault(footer_read_of("public.customers"), status, code, times=1),
        Fault(lambda r: r.operation == "UpdateTable", 400, "ThrottlingException", times=1),
        Fault(lambda r: r.operation == "CreatePartition", 500, "InternalServiceException", times=1),
    ]
    for fault in faults:
        world.emulator.add_fault(fault)

    run = run_day(world, s.uri)

    assert run.code == 0, run.stderr[-3000:]
    assert [f.hits for f in faults] == [f.times for f in faults]  # every fault was met, and retried past
    assert run.summary["failed_tables"] == []
    s.assert_converged()


def test_persistent_errors_fail_only_their_tables_and_a_rerun_converges(world: SorWorld) -> None:
    """500s that outlast botocore's 11 attempts: on CopyObject, UploadPartCopy, a footer read, CreatePartition."""
    s = scene(world)
    calls: list[str] = []
    for match, code in [
        (copy_into("public_orders"), "InternalError"),  # CopyObject (small files)
        (copy_into("public_blobs"), "InternalError"),  # UploadPartCopy (multipart)
        (footer_read_of("public.customers"), "InternalError"),
        (one_call("CreatePartition", calls), "InternalServiceException"),
    ]:
        world.emulator.add_fault(Fault(match, 500, code, times=None))

    failed = run_day(world, s.uri)

    assert failed.code == 1
    assert failed.summary["status"] == "FAILED"
    names = failed_names(failed.summary)
    errors = {f["name"]: f["error"] for f in failed.summary["failed_tables"]}
    s3_victims = {"public_blobs", "public_customers", "public_orders"}
    assert s3_victims < set(names)
    [catalog_victim] = set(names) - s3_victims  # the first table to reach CreatePartition, whichever it is
    assert catalog_victim in {"public_items", "public_payments"}
    survivor = ({"public_items", "public_payments"} - {catalog_victim}).pop()
    assert "copies failed after retries" in errors["public_orders"]
    assert "InternalError" in errors["public_orders"]
    assert "InternalError" in errors["public_blobs"]
    assert "InternalError" in errors["public_customers"]
    assert "not a readable Parquet" not in errors["public_customers"]  # an S3 error is not called bad data
    assert "CreatePartition" in errors[catalog_victim]
    # Failed tables did not get the day; the survivor did; nothing of the earlier day moved.
    for name in names:
        assert partitions_of(world, name) == [EARLIER]
    assert partitions_of(world, survivor) == [EARLIER, DAY]
    assert day_snapshot(world, EARLIER) == s.earlier
    assert failed.manifest["status"] == "FAILED"

    world.emulator.faults.clear()
    again = run_day(world, s.uri)

    assert again.code == 0, again.stderr[-3000:]
    s.assert_converged()


@pytest.fixture
def short_retry_s3(world: SorWorld) -> Any:
    """An S3 client like the job's (adaptive retries, signed as the Glue job's role under IAM enforcement) that
    gives up after 2 attempts instead of 11."""
    credentials = world.job_credentials
    session = boto3.session.Session(
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )
    return session.client("s3", config=Config(retries={"mode": "adaptive", "total_max_attempts": 2}))


def test_persistent_slowdown_on_copy_and_footer_fails_with_the_file_named(world: SorWorld, short_retry_s3: Any) -> None:
    """SlowDown that outlasts the retries, through the job's own Copier and footer reader, in-process.

    Throttling backs off from 1 s, so the job's 11 attempts (botocore's max_attempts=10 counts retries) would
    hold a subprocess run for about a minute; a 2-attempt client reaches the same last-attempt failure path in
    seconds (the 500 test above runs that path end to end).
    """
    uri = write_day_export(world, DAY)
    config = parse_args(
        [
            "--export_uri",
            uri,
            "--sor_bucket",
            SOR_BUCKET,
            "--catalog_database",
            DATABASE,
            "--ingestion_date",
            DAY,
            "--source_engine",
            "aurora-postgresql",
        ]
    )
    source = next(
        o
        for o in list_objects(world.s3, EXPORT_BUCKET, config.export_prefix)
        if "/public.orders/" in o.key and o.key.endswith(".parquet")
    )
    world.emulator.add_fault(Fault(lambda r: r.operation in {"CopyObject", "GetObject"}, 503, "SlowDown", times=None))
    copier = Copier(short_retry_s3, config)
    try:
        with pytest.raises(TableError, match=r"1 of 1 copies failed after retries.*SlowDown") as copy_error:
            copier.copy([CopyStep(source, "sor/public_orders/ingestion_date=2026-11-26/x.gz.parquet")])
    finally:
        copier.shutdown()
    assert source.key in str(copy_error.value)
    with pytest.raises(Exception, match="SlowDown") as footer_error:
        read_footer(short_retry_s3, EXPORT_BUCKET, source, 64 * 1024)
    assert not isinstance(footer_error.value, TableError)  # an S3 error, not "not a Parquet file"
    assert len(world.emulator.calls("s3", "CopyObject")) == 2
    assert world.emulator.enforcer is not None
    assert {e.action for e in world.emulator.enforcer.evaluated if e.role == "GlueJobRole"} >= {"s3:PutObject"}


# -- crashes --------------------------------------------------------------------------------------------------
def is_manifest_put(request: Request) -> bool:
    return request.operation == "PutObject" and request.bucket_key[1].endswith("/manifest.json")


def is_marker_put(request: Request) -> bool:
    """The day's started.json, written before any table folder is touched."""
    return request.operation == "PutObject" and request.bucket_key[1].endswith("/started.json")


CRASH_POINTS = {
    # name: (request to crash at, whether it lands). "Mid-copy" (CopyObject) is
    # tests/glue/test_job_runs.py::test_a_run_killed_mid_copy_then_run_again_converges_to_a_clean_run.
    "right after the day's marker": (is_marker_put, True),
    "mid multipart copy": (lambda r: r.operation == "UploadPartCopy", False),
    "after the table update, before the partition": (lambda r: r.operation == "CreatePartition", False),
    "after stale objects were removed": (lambda r: r.operation == "DeleteObjects", True),
    "before the manifest write": (is_manifest_put, False),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_a_job_killed_at_any_point_then_run_again_converges(world: SorWorld, point: str) -> None:
    s = scene(world)
    match, lands = CRASH_POINTS[point]
    # Leftovers of an even earlier attempt of the day from another export: they must go, and never be published.
    stray = f"{DATABASE}/public_orders/ingestion_date={DAY}/9_part-99999-stray.gz.parquet"
    world.s3.put_object(Bucket=SOR_BUCKET, Key=stray, Body=b"PAR1junkPAR1")
    if point == "after the table update, before the partition":
        with_legacy_run_parameters(world)  # so that the night calls UpdateTable
    crash = Crash(world, match, lands)

    # One table at a time where the assertions below need every table to stand at the crash point.
    concurrency = "1" if point == "after the table update, before the partition" else "2"
    crash.kill_job_at_it(start_day(world, s.uri, DAY, "--table_concurrency", concurrency))

    assert world.manifest() == {}  # the day is never declared done by a run that did not finish
    if point == "after the table update, before the partition":
        assert world.emulator.calls("glue", "UpdateTable")  # the crash did fall between the two
        assert all(DAY not in partitions_of(world, t) for t in TABLES)
    if point == "after stale objects were removed":
        assert wait_for(lambda: world.s3.list_objects_v2(Bucket=SOR_BUCKET, Prefix=stray)["KeyCount"] == 0)
    if point == "before the manifest write":
        assert all(DAY in partitions_of(world, t) for t in TABLES)  # published, not yet recorded
    assert day_snapshot(world, EARLIER) == s.earlier

    again = run_day(world, s.uri)

    assert again.code == 0, again.stderr[-3000:]
    s.assert_converged()


# -- catalog faults -------------------------------------------------------------------------------------------
def test_update_table_conflicts_fail_their_tables_and_a_rerun_converges(world: SorWorld) -> None:
    """ConcurrentModification (someone else changed the table) and EntityNotFound (someone dropped it)."""
    s = scene(world)
    with_legacy_run_parameters(world)  # so that the night calls UpdateTable
    calls: list[str] = []
    world.emulator.add_fault(
        Fault(one_call("UpdateTable", calls, 0), 400, "ConcurrentModificationException", times=None)
    )
    world.emulator.add_fault(Fault(one_call("UpdateTable", calls, 1), 400, "EntityNotFoundException", times=None))
    no_latest = ("--latest_database", "")  # the UpdateTable calls counted here are the SOR tables' only

    failed = run_day(world, s.uri, DAY, *no_latest)

    assert failed.code == 1
    errors = sorted(f["error"] for f in failed.summary["failed_tables"])
    assert len(errors) == 2
    assert "ConcurrentModificationException" in errors[0]
    assert "EntityNotFoundException" in errors[1]
    assert len(world.emulator.calls("glue", "UpdateTable")) == len(TABLES)  # client errors: not retried blindly
    for name in failed_names(failed.summary):
        assert partitions_of(world, name) == [EARLIER]
        table = world.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        assert table["Parameters"]["sor.last_export_id"] == shop_export_id(EARLIER)  # the definition was not changed
    assert failed.summary["tables"] == len(TABLES) - 2
    assert day_snapshot(world, EARLIER) == s.earlier

    world.emulator.faults.clear()
    again = run_day(world, s.uri, DAY, *no_latest)
    assert again.code == 0, again.stderr[-3000:]
    s.assert_converged()


def test_a_catalog_outage_before_anything_is_written_stops_the_run_with_exit_2(world: SorWorld) -> None:
    s = scene(world)
    world.emulator.add_fault(Fault(lambda r: r.operation == "GetTables", 400, "AccessDeniedException", times=None))

    stopped = run_day(world, s.uri)

    assert stopped.code == 2
    assert "AccessDeniedException" in stopped.summary["error"]
    assert world.emulator.calls("s3", "CopyObject") == []
    assert world.manifest() == {}
    world.emulator.faults.clear()
    assert run_day(world, s.uri).code == 0
    s.assert_converged()


# -- concurrency ----------------------------------------------------------------------------------------------
def test_two_runs_of_the_same_date_at_once_end_exactly_like_one_clean_run(world: SorWorld) -> None:
    s = scene(world, publish_earlier=False)
    # First the earlier day, twice at once on an empty catalog (both race to CreateTable), then DAY twice at once
    # (both race to UpdateTable, CreatePartition, the stale-object clean-up and the manifest).
    for day, uri in ((EARLIER, s.earlier_uri), (DAY, s.uri)):
        runs = [start_day(world, uri, day) for _ in range(2)]
        for run in [finish(run, timeout=120) for run in runs]:
            assert run.code == 0, run.stderr[-3000:]
            assert run.summary["status"] == "SUCCEEDED"
    s.assert_converged()
    assert exact_state(world, EARLIER) == s.reference[EARLIER]
