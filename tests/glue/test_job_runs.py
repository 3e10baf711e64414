"""glue/sor_job.py run for real against the emulator, its output read back through the catalog."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import threading
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from local.emulator.aws_emulator import Fault, Request, wait_for
from local.export_emulator.conversion import exported_table
from local.export_emulator.layout import skip_reason, table_folder
from sor_job.catalog_definitions import as_table_input, table_input
from sor_job.catalog_writes import TableAction, put_table
from sor_job.names import base_table_name
from tests.exports import EXPORT_BUCKET, MY, PG, make_table, mysql_sample_tables, pg_sample_tables, shop_export_id
from tests.glue.conftest import DATABASE, DAY, LATEST, SOR_BUCKET, SorWorld

pytestmark = pytest.mark.glue_job
NEXT_DAY = "2026-11-27"


def normalized(value: Any) -> Any:
    """DuckDB hands back naive UTC timestamps; the fixture keeps the time zone."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def rows_of(table: pa.Table) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return sorted((tuple(normalized(v) for v in row) for row in zip(*columns, strict=True)), key=repr)


def published_rows(world: SorWorld, name: str, day: str = DAY) -> tuple[list[str], list[tuple[Any, ...]]]:
    con_rows = world.query(
        f"SELECT * EXCLUDE (ingestion_date) FROM {DATABASE}.{name} WHERE ingestion_date = DATE '{day}'"
    )
    columns = [c[0] for c in world.query(f"DESCRIBE {DATABASE}.{name}") if c[0] != "ingestion_date"]
    return columns, sorted((tuple(normalized(v) for v in row) for row in con_rows), key=repr)


@pytest.mark.parametrize(("engine", "tables"), [(PG, pg_sample_tables), (MY, mysql_sample_tables)])
def test_every_exported_table_is_published_and_every_row_reads_back_through_the_catalog(world, engine, tables):
    sample = tables()
    uri = world.export(sample, engine=engine, export_id=shop_export_id(DAY))
    run = world.run(uri)

    assert run.code == 0, run.stderr[-3000:]
    exported = [t for t in sample if skip_reason(engine, t) is None]
    assert run.summary["status"] == "SUCCEEDED"
    assert run.summary["tables"] == len(exported)
    assert run.summary["rows"] == sum(len(t.rows) for t in exported)
    assert run.summary["failed_tables"] == []
    for table in exported:
        name = base_table_name(table_folder(engine, table).split("/", 1)[1])
        expected = exported_table(engine, table)
        columns, rows = published_rows(world, name)
        assert columns == [c.lower() for c in expected.column_names], name
        assert rows == rows_of(expected), name
        catalog = world.glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        assert catalog["Parameters"]["sor.source"] == table_folder(engine, table).replace("/", ".")
        assert catalog["StorageDescriptor"]["Location"] == f"s3://{SOR_BUCKET}/{DATABASE}/{name}/"
    assert run.manifest["status"] == "SUCCEEDED"
    assert run.manifest["export_id"] == shop_export_id(DAY)
    assert run.manifest["totals"]["rows"] == run.summary["rows"]


def test_skipped_tables_and_the_manifest_live_outside_every_table_location(world):
    uri = world.export(export_id=shop_export_id(DAY))
    run = world.run(uri)
    assert run.code == 0
    keys = [o["Key"] for o in world.s3.list_objects_v2(Bucket=SOR_BUCKET)["Contents"]]
    assert all(k.startswith((f"{DATABASE}/", "_manifests/")) for k in keys)
    assert all(k.endswith(".gz.parquet") and "/ingestion_date=" in k for k in keys if k.startswith(f"{DATABASE}/"))
    assert any("bad_columns" in w and "skipped" in w for w in run.manifest["warnings"])


def test_running_again_changes_nothing_and_copies_nothing(world):
    uri = world.export(export_id=shop_export_id(DAY))
    assert world.run(uri).code == 0
    before = world.state()
    world.emulator.requests.clear()

    again = world.run(uri)

    assert again.code == 0
    assert world.state() == before
    assert world.emulator.calls("s3", "CopyObject") == []
    assert world.emulator.calls("glue", "UpdateTable") == []
    assert all(t["copied"] == 0 for t in again.manifest["tables"])
    # the day's marker says a run started before: each folder is listed before the copies and after
    assert all(_folder_listings(world, t["name"]) == 2 for t in again.manifest["tables"] if t["files"])


def test_a_run_killed_mid_copy_then_run_again_converges_to_a_clean_run(world):
    uri = world.export(export_id=shop_export_id(DAY))
    gate, reached = threading.Event(), threading.Event()

    def hold_the_fifth_copy(request: Request) -> None:
        if request.operation == "CopyObject" and len(world.emulator.calls("s3", "CopyObject")) == 5:
            reached.set()
            gate.wait(30)

    world.emulator.hooks.append(hold_the_fifth_copy)
    process = world.start(uri, DAY, "--copy_concurrency", "1", "--table_concurrency", "1")
    assert wait_for(reached.is_set, timeout=60), "the job never reached its fifth copy"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(30)
    gate.set()
    world.emulator.hooks.clear()
    assert world.manifest() == {}  # nothing was registered as done
    # A file left by an even earlier attempt, not part of this export, must not survive.
    stray = f"{DATABASE}/public_orders/ingestion_date={DAY}/9_part-99999-stray.gz.parquet"
    world.s3.put_object(Bucket=SOR_BUCKET, Key=stray, Body=b"PAR1junkPAR1")

    resumed = world.run(uri)
    assert resumed.code == 0, resumed.stderr[-3000:]
    assert sum(t["skipped"] for t in resumed.manifest["tables"]) >= 4  # copies done before the kill were kept
    assert resumed.table("public_orders")["removed"] == 1
    converged = world.state()

    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET):
        for item in page.get("Contents", []):
            world.s3.delete_object(Bucket=SOR_BUCKET, Key=item["Key"])
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        world.glue.delete_table(DatabaseName=DATABASE, Name=table["Name"])
    assert world.run(uri).code == 0
    assert world.state() == converged


def test_large_files_are_copied_with_multipart_upload_part_copy(world):
    rng = random.Random(7)
    blobs = [(i, rng.randbytes(3 * 1024 * 1024)) for i in range(4)]  # incompressible: ~12 MiB per file
    table = make_table("blobs", {"id": "bigint", "payload": "bytea"}, blobs, files_per_batch=1)
    uri = world.export([table], export_id=shop_export_id(DAY))

    run = world.run(uri, DAY, "--multipart_threshold_mb", "5", "--multipart_chunksize_mb", "5")

    assert run.code == 0, run.stderr[-3000:]
    assert len(world.emulator.calls("s3", "UploadPartCopy")) >= 3
    assert world.emulator.calls("s3", "CopyObject") == []
    assert published_rows(world, "public_blobs")[1] == rows_of(exported_table(PG, table))


def test_the_job_reads_footers_not_table_data(world):
    rng = random.Random(3)
    rows = [(i, rng.randbytes(256 * 1024)) for i in range(16)]
    tables = [make_table(f"big_{n}", {"id": "bigint", "payload": "bytea"}, rows, files_per_batch=2) for n in range(2)]
    uri = world.export(tables, export_id=shop_export_id(DAY))

    run = world.run(uri)

    assert run.code == 0
    data_gets = [
        r for r in world.emulator.calls("s3", "GetObject")
        if r.bucket_key[0] == EXPORT_BUCKET and r.bucket_key[1].endswith(".parquet")
    ]  # fmt: skip
    read = sum(r.response_bytes for r in data_gets)
    assert len(data_gets) == 4  # one ranged GET per file
    assert all("range" in r.headers for r in data_gets)
    assert read <= 4 * 64 * 1024
    assert run.summary["bytes"] > 30 * read  # ~8 MiB published for < 256 KiB read


def test_a_type_change_fails_only_that_table_and_leaves_earlier_days_untouched(world):
    day1 = [
        make_table("orders", {"id": "bigint", "total": "bigint"}, [(1, 10), (2, 20)]),
        make_table("customers", {"id": "bigint", "name": "text"}, [(1, "Ana")]),
    ]
    assert world.run(world.export(day1, export_id=shop_export_id(DAY))).code == 0
    before = world.state()
    day2 = [
        make_table("orders", {"id": "bigint", "total": "numeric(12,2)"}, [(3, Decimal("1.50"))]),
        make_table("customers", {"id": "bigint", "name": "text", "email": "text"}, [(1, "Ana", "a@x")]),
    ]
    run = world.run(world.export(day2, export_id=shop_export_id(NEXT_DAY)), NEXT_DAY)

    assert run.code == 1
    assert [f["name"] for f in run.summary["failed_tables"]] == ["public_orders"]
    assert "total: bigint -> string" in run.summary["failed_tables"][0]["error"]
    after = world.state(days=(DAY, NEXT_DAY))
    assert after["catalog"]["public_orders"] == before["catalog"]["public_orders"]
    assert {k: v for k, v in after["objects"].items() if "public_orders" in k} == {
        k: v for k, v in before["objects"].items() if "public_orders" in k
    }
    assert [c["Name"] for c in after["catalog"]["public_customers"]["columns"]] == ["id", "name", "email"]
    assert world.query(f"SELECT name, email FROM {DATABASE}.public_customers ORDER BY ingestion_date") == [
        ("Ana", None),
        ("Ana", "a@x"),
    ]
    assert world.query(f"SELECT sum(total) FROM {DATABASE}.public_orders") == [(30,)]


def test_a_table_the_export_failed_is_reported_and_the_rest_published(world):
    tables = [
        make_table("good", {"id": "bigint"}, [(1,), (2,)]),
        make_table("broken", {"id": "bigint"}, [(1,), (2,)], status="FAILED", failed_files_written=1),
    ]
    run = world.run(world.export(tables, export_id=shop_export_id(DAY)))

    assert run.code == 1
    assert run.summary["status"] == "FAILED"
    assert run.summary["failed_tables"] == [
        {
            "name": "public_broken",
            "source": "shop.public.broken",
            "error": "the export reports this table as FAILED",
            "failure": "deterministic",  # a re-run of the job cannot fix it: the export must be made again
        }
    ]
    assert run.summary["retryable"] is False
    assert run.summary["tables"] == 1
    assert world.query(f"SELECT count(*) FROM {DATABASE}.public_good") == [(2,)]
    assert "public_broken" not in world.state()["catalog"]


def _folder_listings(world: SorWorld, table: str) -> int:
    prefix = f"{DATABASE}/{table}/ingestion_date={DAY}/"
    return sum(1 for r in world.emulator.calls("s3", "ListObjectsV2") if r.query.get("prefix") == [prefix])


def test_a_first_run_lists_each_folder_once_and_still_removes_what_an_older_run_left(world):
    """The first run of a day lists each table folder after its copies only (issue 22: a folder no run of the day
    touched is empty); the day's marker tells a later run to list first. A file an older version's killed run left
    (no marker) is still found by that one listing, removed, and the folder verified again."""
    uri = world.export(export_id=shop_export_id(DAY))
    stray = f"{DATABASE}/public_orders/ingestion_date={DAY}/9_part-99999-stray.gz.parquet"
    world.s3.put_object(Bucket=SOR_BUCKET, Key=stray, Body=b"PAR1junkPAR1")
    world.emulator.requests.clear()

    first = world.run(uri)

    assert first.code == 0, first.stderr[-3000:]
    assert first.table("public_orders")["removed"] == 1
    assert _folder_listings(world, "public_orders") == 2  # after the copies, and after removing the stray file
    others = [t["name"] for t in first.manifest["tables"] if t["name"] != "public_orders" and t["files"]]
    assert others
    assert all(_folder_listings(world, name) == 1 for name in others)
    marker = world.s3.get_object(Bucket=SOR_BUCKET, Key=f"_manifests/{DATABASE}/ingestion_date={DAY}/started.json")
    assert json.loads(marker["Body"].read())["export_id"] == shop_export_id(DAY)


def test_a_day_run_again_from_a_new_export_replaces_its_partition_exactly(world):
    first = [make_table("orders", {"id": "bigint"}, [(1,), (2,)], files_per_batch=2)]
    assert world.run(world.export(first, export_id=shop_export_id(DAY))).code == 0
    second = [make_table("orders", {"id": "bigint"}, [(7,)])]
    uri = world.export(second, export_id="aurora-sor-shop-2026-11-26-rerun", seed=5)

    run = world.run(uri)

    assert run.code == 0
    assert run.table("public_orders")["removed"] == 2
    assert world.query(f"SELECT id FROM {DATABASE}.public_orders") == [(7,)]
    partition = world.glue.get_partition(DatabaseName=DATABASE, TableName="public_orders", PartitionValues=[DAY])
    assert partition["Partition"]["Parameters"]["sor.export_id"] == "aurora-sor-shop-2026-11-26-rerun"


def test_without_metadata_files_the_job_says_so_and_publishes_the_folders(world):
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id=shop_export_id(DAY))
    prefix = uri.split("/", 3)[3]
    for item in world.s3.list_objects_v2(Bucket=EXPORT_BUCKET, Prefix=prefix)["Contents"]:
        if item["Key"].endswith(".json"):
            world.s3.delete_object(Bucket=EXPORT_BUCKET, Key=item["Key"])

    run = world.run(uri)

    assert run.code == 0
    assert any("metadata unavailable" in w for w in run.manifest["warnings"])
    assert "export metadata" in run.stderr


def test_corrupt_metadata_is_reported_and_the_folders_still_publish(world):
    uri = world.export(
        [make_table("orders", {"id": "bigint"}, [(1,)])],
        export_id=shop_export_id(DAY),
        extra_objects={f"export_tables_info_{shop_export_id(DAY)}_from_1_to_1.json": b"{not json"},
    )
    run = world.run(uri)
    assert run.code == 0
    assert any("unreadable" in w for w in run.manifest["warnings"])


@pytest.mark.parametrize(
    ("body", "words"), [(b"", "0 bytes"), (b"PAR1 this is not parquet at all PAR1", "not a readable Parquet"),
                        (b"a CSV file, really: id\n1\n2\n", "not a readable Parquet")],
)  # fmt: skip
def test_objects_that_are_not_parquet_fail_their_table_by_name(world, body, words):
    tables = [make_table("orders", {"id": "bigint"}, [(1,)]), make_table("fine", {"id": "bigint"}, [(1,)])]
    uri = world.export(
        tables, export_id=shop_export_id(DAY), extra_objects={"shop/public.orders/9/part-bad.gz.parquet": body}
    )

    run = world.run(uri)

    assert run.code == 1
    failure = run.summary["failed_tables"][0]
    assert failure["name"] == "public_orders"
    assert "part-bad.gz.parquet" in failure["error"]
    assert words in failure["error"]
    assert world.query(f"SELECT count(*) FROM {DATABASE}.public_fine") == [(1,)]


def test_files_of_one_table_with_different_schemas_fail_that_table(world):
    other = exported_table(PG, make_table("orders", {"id": "integer"}, [(1,)]))
    import io

    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(other, buffer, compression="gzip")
    uri = world.export(
        [make_table("orders", {"id": "bigint"}, [(1,)])],
        export_id=shop_export_id(DAY),
        extra_objects={"shop/public.orders/2/part-00000-odd.gz.parquet": buffer.getvalue()},
    )
    run = world.run(uri)
    assert run.code == 1
    assert "disagree" in run.summary["failed_tables"][0]["error"]
    assert "id: bigint vs int" in run.summary["failed_tables"][0]["error"]


def test_sources_whose_names_collide_land_in_distinct_tables(world):
    tables = [make_table("Orders", {"id": "bigint"}, [(1,)]), make_table("orders", {"id": "bigint"}, [(2,), (3,)])]
    run = world.run(world.export(tables, export_id=shop_export_id(DAY)))
    assert run.code == 0
    names = sorted(t["name"] for t in run.manifest["tables"])
    assert names[0] == "public_orders"
    assert names[1].startswith("public_orders_")
    counts = {n: world.query(f"SELECT count(*) FROM {DATABASE}.{n}")[0][0] for n in names}
    assert sorted(counts.values()) == [1, 2]


def test_an_export_without_tables_is_a_failure_not_a_silent_success(world):
    run = world.run(world.export([], export_id=shop_export_id(DAY)))
    assert run.code == 1
    assert run.summary["failed_tables"][0]["error"] == "the export holds no tables"


def test_a_missing_export_or_catalog_database_stops_the_run_with_exit_2(world):
    # The export bucket, where the Glue role may list exports/ (under IAM enforcement, as in an account).
    missing = world.run(f"s3://{world.bucket(EXPORT_BUCKET)}/exports/nothing-here/")
    assert missing.code == 2
    assert "nothing under" in missing.summary["error"]
    world.glue.delete_database(Name=DATABASE)
    no_db = world.run(world.export(export_id=shop_export_id(DAY)))
    assert no_db.code == 2
    assert "does not exist" in no_db.summary["error"]


def test_throttling_and_server_errors_are_retried_by_botocore(world):
    uri = world.export(
        [make_table("orders", {"id": "bigint"}, [(1,), (2,)], files_per_batch=2)], export_id=shop_export_id(DAY)
    )
    world.emulator.add_fault(Fault(lambda r: r.operation == "CopyObject", status=503, code="SlowDown", times=3))
    world.emulator.add_fault(
        Fault(lambda r: r.operation == "GetObject" and "range" in r.headers, 500, "InternalError", 2)
    )
    world.emulator.add_fault(Fault(lambda r: r.operation == "CreatePartition", 400, "ThrottlingException", 2))

    run = world.run(uri)

    assert run.code == 0, run.stderr[-3000:]
    assert all(f.hits == f.times for f in world.emulator.faults)
    assert world.query(f"SELECT count(*) FROM {DATABASE}.public_orders") == [(2,)]


def test_copies_are_encrypted_with_the_given_kms_key_and_metrics_are_emitted(world, aws):
    key = world.stack_key()  # the key the Glue role may use
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id=shop_export_id(DAY))

    assert world.run(uri, DAY, "--sor_kms_key_arn", key).code == 0

    listed = world.s3.list_objects_v2(Bucket=SOR_BUCKET)["Contents"]
    for item in listed:
        head = world.s3.head_object(Bucket=SOR_BUCKET, Key=item["Key"])
        assert head["ServerSideEncryption"] == "aws:kms", item["Key"]
        assert head["SSEKMSKeyId"] == key
    metrics = aws.client("cloudwatch").list_metrics(Namespace="aurora-sor")["Metrics"]
    assert {"PublishSucceeded", "TablesPublished", "BytesPublished"} <= {m["MetricName"] for m in metrics}


def test_an_empty_table_is_published_as_an_empty_day_only_once_its_schema_is_known(world):
    never_seen = make_table("ghost", {"id": "bigint"}, [], empty_part_file=False)
    day1 = [make_table("orders", {"id": "bigint"}, [(1,)]), never_seen]
    first = world.run(world.export(day1, export_id=shop_export_id(DAY)))
    assert first.code == 0
    assert first.summary["empty_tables"] == ["public_ghost"]
    assert "public_ghost" not in world.state()["catalog"]  # no footer, no schema: nothing guessed

    day2 = [make_table("orders", {"id": "bigint"}, [], empty_part_file=False), never_seen]
    second = world.run(world.export(day2, export_id=shop_export_id(NEXT_DAY)), NEXT_DAY)

    assert second.code == 0
    assert second.table("public_orders")["status"] == "EMPTY"
    days = world.query(f"SELECT ingestion_date::VARCHAR, count(*) FROM {DATABASE}.public_orders GROUP BY 1")
    assert days == [(DAY, 1)]  # the empty day is registered and reads as no rows
    partition = world.glue.get_partition(DatabaseName=DATABASE, TableName="public_orders", PartitionValues=[NEXT_DAY])
    assert partition["Partition"]["Parameters"]["sor.rows"] == "0"


def test_a_long_run_logs_a_progress_heartbeat(world):
    gate = threading.Event()

    def slow_copies(request: Request) -> None:
        if request.operation == "CopyObject":
            gate.wait(1.5)  # each copy takes 1.5 s: long enough for a 1 s heartbeat to speak

    world.emulator.hooks.append(slow_copies)
    tables = [make_table("orders", {"id": "bigint"}, [(1,), (2,)], files_per_batch=2)]
    run = world.run(world.export(tables, export_id=shop_export_id(DAY)), DAY, "--progress_seconds", "1")
    assert run.code == 0
    beats = [line for line in run.stderr.splitlines() if "progress: " in line]
    assert beats, run.stderr[-2000:]
    assert "0/1 tables done" in beats[0]
    assert "/2 files and " in beats[0]


# -- the Glue table-version quota: a table definition changes only when its schema does -----------------------
def drop_metadata_files(world: SorWorld, uri: str) -> None:
    prefix = uri.split("/", 3)[3]
    for item in world.s3.list_objects_v2(Bucket=EXPORT_BUCKET, Prefix=prefix)["Contents"]:
        if item["Key"].endswith(".json"):
            world.s3.delete_object(Bucket=EXPORT_BUCKET, Key=item["Key"])


def night_tables(day: str) -> list[Any]:
    n = int(day[-2:])
    return [
        make_table("orders", {"id": "bigint", "placed": "timestamp with time zone"}, [(n, f"{day} 06:00:00+00")]),
        make_table("customers", {"id": "bigint", "name": "text"}, [(1, "Ana"), (n, day)]),
    ]


def test_nights_whose_schema_did_not_change_make_no_update_table_call(world):
    """Every UpdateTable archives a table version (limits 100,000 a table, 1,000,000 an account)."""
    first = world.run(world.export(night_tables(DAY), export_id=shop_export_id(DAY)))
    assert first.code == 0, first.stderr[-3000:]
    definitions = {t["Name"]: t for t in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    assert "source type: timestamp with time zone" in json.dumps(definitions["public_orders"]["StorageDescriptor"])
    world.emulator.requests.clear()

    # The next night comes from another export, and without its metadata files: no comment may vanish.
    second_uri = world.export(night_tables(NEXT_DAY), export_id=shop_export_id(NEXT_DAY))
    drop_metadata_files(world, second_uri)
    second = world.run(second_uri, NEXT_DAY)
    third_day = "2026-11-28"
    third = world.run(world.export(night_tables(third_day), export_id=shop_export_id(third_day)), third_day)

    assert (second.code, third.code) == (0, 0), second.stderr[-3000:] + third.stderr[-3000:]
    after = {t["Name"]: t for t in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
    # The only UpdateTable calls are the latest tables' two moves each, and no table archived a version: the SOR
    # tables were never updated, the latest tables moved with SkipArchive (the emulator keeps versions as AWS does).
    assert len(world.emulator.calls("glue", "UpdateTable")) == 2 * len(after)
    for database in (DATABASE, LATEST):
        for name in after:
            versions = world.glue.get_table_versions(DatabaseName=database, TableName=name)["TableVersions"]
            assert len(versions) == 1, (database, name)
    for name, table in after.items():
        assert table["StorageDescriptor"]["Columns"] == definitions[name]["StorageDescriptor"]["Columns"]
        assert table["Parameters"] == definitions[name]["Parameters"]
        assert not {"sor.last_export_id", "sor.last_snapshot_time"} & set(table["Parameters"])
    # The per-run facts live on each day's partition (the snapshot time only when export_info told it).
    for day in (DAY, NEXT_DAY, third_day):
        partition = world.glue.get_partition(DatabaseName=DATABASE, TableName="public_orders", PartitionValues=[day])
        parameters = partition["Partition"]["Parameters"]
        assert parameters["sor.export_id"] == shop_export_id(day)
        assert parameters.get("sor.snapshot_time", "absent")[:19] == (
            "absent" if day == NEXT_DAY else "2026-11-26T06:05:12"
        )


def test_tables_with_the_old_per_run_parameters_are_cleaned_once_then_left_alone(world):
    no_latest = ("--latest_database", "")  # only the SOR tables' UpdateTable calls are counted here
    assert world.run(world.export(night_tables(DAY), export_id=shop_export_id(DAY)), DAY, *no_latest).code == 0
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:  # as an earlier version wrote them
        legacy = as_table_input(table)
        legacy_run = {"sor.last_export_id": shop_export_id(DAY), "sor.last_snapshot_time": "2026-11-26T06:05Z"}
        legacy["Parameters"] |= legacy_run
        world.glue.update_table(DatabaseName=DATABASE, TableInput=legacy)
    world.emulator.requests.clear()

    next_uri = world.export(night_tables(NEXT_DAY), export_id=shop_export_id(NEXT_DAY))
    assert world.run(next_uri, NEXT_DAY, *no_latest).code == 0
    assert len(world.emulator.calls("glue", "UpdateTable")) == 2  # one per table, once
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        assert not {"sor.last_export_id", "sor.last_snapshot_time"} & set(table["Parameters"])
    world.emulator.requests.clear()

    third_day = "2026-11-28"
    third_uri = world.export(night_tables(third_day), export_id=shop_export_id(third_day))
    assert world.run(third_uri, third_day, *no_latest).code == 0
    assert world.emulator.calls("glue", "UpdateTable") == []


def test_at_the_table_version_quota_the_update_goes_through_without_archiving(world):
    """UpdateTable archives the previous version (SkipArchive false) unless Glue's version quota is reached."""
    wanted = table_input("public_orders", f"s3://{SOR_BUCKET}/{DATABASE}/public_orders/", [], "shop.public.o")
    world.glue.create_table(DatabaseName=DATABASE, TableInput=wanted)
    current = world.glue.get_table(DatabaseName=DATABASE, Name="public_orders")["Table"]
    sent: list[dict[str, Any]] = []
    world.glue.meta.events.register(
        "before-parameter-build.glue.UpdateTable", lambda params, **_: sent.append(dict(params))
    )
    changed = table_input(
        "public_orders", wanted["StorageDescriptor"]["Location"], [{"Name": "id", "Type": "bigint"}], "shop.public.o"
    )

    assert put_table(world.glue, DATABASE, current, changed) is TableAction.UPDATED
    assert [p["SkipArchive"] for p in sent] == [False]

    quota = "Number of TABLE_VERSION resources exceeds the account limit 1000000"
    world.emulator.add_fault(
        Fault(lambda r: r.operation == "UpdateTable", 400, "ResourceNumberLimitExceededException", quota, 1)
    )
    again = table_input(
        "public_orders",
        wanted["StorageDescriptor"]["Location"],
        [{"Name": "id", "Type": "bigint"}, {"Name": "n", "Type": "int"}],
        "shop.public.o",
    )
    current = world.glue.get_table(DatabaseName=DATABASE, Name="public_orders")["Table"]

    assert put_table(world.glue, DATABASE, current, again) is TableAction.UPDATED_UNARCHIVED
    assert [p["SkipArchive"] for p in sent] == [False, False, True]
    got = world.glue.get_table(DatabaseName=DATABASE, Name="public_orders")["Table"]
    assert [c["Name"] for c in got["StorageDescriptor"]["Columns"]] == ["id", "n"]


def test_a_column_whose_name_holds_a_dot_is_published_as_that_flat_column(world):
    table = make_table("dotted", {"id": "bigint", "a.b": "integer"}, [(1, 10), (2, 20)])
    run = world.run(world.export([table], export_id=shop_export_id(DAY)))

    assert run.code == 0, run.summary
    columns = world.glue.get_table(DatabaseName=DATABASE, Name="public_dotted")["Table"]["StorageDescriptor"]["Columns"]
    assert [(c["Name"], c["Type"]) for c in columns] == [("id", "bigint"), ("a.b", "int")]
    assert world.query(f'SELECT "a.b" FROM {DATABASE}.public_dotted ORDER BY id') == [(10,), (20,)]
    assert any("a.b" in w for w in run.table("public_dotted")["warnings"])
