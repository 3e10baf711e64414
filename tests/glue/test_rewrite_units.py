"""Units smaller than a file: a big export file's row groups cut into runs, each its own Spark task and object, so one
file spreads over every core (rewrite.py cut_file). The rows, the values, the rejects' row_index and the re-runs are
what a whole-file rewrite gives; a day published with whole-file objects converges without being published twice."""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from local.export_emulator.render import render_export
from sor_job.config import parse_args
from sor_job.errors import TableError
from sor_job.outcomes import ExitCode
from sor_job.plan import S3Object
from sor_job.rewrite import RewriteUnit, UnitCut, cut_file, task_groups, unit_destination, unit_row_groups
from sor_job.run import run_job
from tests.exports import EXPORT_BUCKET, PG, export_kwargs, make_table
from tests.glue.in_process import DATABASE, DAY, SOR_BUCKET, manifest, publish, published

MIB = 1024**2
ROWS = 60
ROW_GROUP_ROWS = 10  # 6 row groups in the one part file
TINY_UNIT = ("--rewrite_unit_mb", "0.000001")  # one byte: every row group is a unit of its own


# -- the cut (pure) ----------------------------------------------------------------------------------------------------
def test_a_file_is_cut_into_runs_of_at_least_the_unit_size_and_a_small_tail_joins_the_run_before() -> None:
    groups = [(100, 10 * MIB)] * 7  # 7 row groups of 10 MiB each (the file 70 MiB, as much as uncompressed)
    cuts = cut_file(groups, 70 * MIB, 16 * MIB)
    # runs of two groups (20 MiB >= 16); the last group, 10 MiB, is at least half a unit: a run of its own
    assert [c.row_groups for c in cuts] == [(0, 2), (2, 4), (4, 6), (6, 7)]
    assert [c.first_row for c in cuts] == [0, 200, 400, 600]
    assert [c.rows for c in cuts] == [200, 200, 200, 100]
    # 4 MiB groups: runs of four; a last group of 4 MiB (under half a unit) joins the run before it
    assert [c.row_groups for c in cut_file([(1, 1)] * 9, 9 * 4 * MIB, 16 * MIB)] == [(0, 4), (4, 9)]


def test_a_file_that_makes_one_run_stays_one_whole_file_unit() -> None:
    assert cut_file([(100, 10 * MIB)] * 2, 20 * MIB, 16 * MIB) == [UnitCut(None, 0, 200)]  # 20 MiB, tail 4 MiB joins
    assert cut_file([(5000, 900 * MIB)], 200 * MIB, 16 * MIB) == [UnitCut(None, 0, 5000)]  # one row group: no cut
    assert cut_file([], 1234, 16 * MIB) == [UnitCut(None, 0, 0)]  # an empty table's part file


def test_shares_of_the_file_follow_the_uncompressed_sizes_and_rows_when_sizes_are_missing() -> None:
    # the first group holds 3/4 of the uncompressed bytes: it alone is a unit, the rest another
    assert [c.row_groups for c in cut_file([(10, 30), (10, 5), (10, 5)], 64 * MIB, 16 * MIB)] == [(0, 1), (1, 3)]
    assert [c.row_groups for c in cut_file([(10, 0), (10, 0)], 64 * MIB, 16 * MIB)] == [(0, 1), (1, 2)]


def test_a_unit_key_names_its_run_beside_the_whole_file_key() -> None:
    whole = "sor/t/ingestion_date=2026-11-26/exports_part-00000-x-c000.gz.parquet"
    assert unit_destination(whole, None) == whole
    assert (
        unit_destination(whole, (4, 8))
        == "sor/t/ingestion_date=2026-11-26/exports_part-00000-x-c000.gz.rg00004-00007.parquet"
    )
    assert unit_destination("sor/t/d/odd-name", (0, 1)) == "sor/t/d/odd-name.rg00000-00000.parquet"


def test_a_unit_whose_footer_disagrees_with_its_plan_is_refused() -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": list(range(30))}), buffer, row_group_size=10)
    metadata = pq.read_metadata(io.BytesIO(buffer.getvalue()))
    unit = RewriteUnit(S3Object("k.parquet", 1, "e"), "d", b"", "p", 10, (1, 2), 10)
    assert unit_row_groups(unit, metadata) == range(1, 2)
    with pytest.raises(TableError, match="holds 10 rows in row groups 1-1 from row 10, planned 20"):
        unit_row_groups(RewriteUnit(unit.source, "d", b"", "p", 20, (1, 2), 10), metadata)
    with pytest.raises(TableError, match="row groups 2-3 planned, its footer has 3"):
        unit_row_groups(RewriteUnit(unit.source, "d", b"", "p", 20, (2, 4), 20), metadata)
    with pytest.raises(TableError, match="footer holds 30 rows, planned 29"):
        unit_row_groups(RewriteUnit(unit.source, "d", b"", "p", 29), metadata)


# -- the job, in process (moto) ----------------------------------------------------------------------------------------
def orders(rows: int = ROWS) -> Any:
    """A table with a restored date and numeric column; rows 7, 25 and 58 hold values their types cannot hold."""
    values = []
    for i in range(rows):
        day = "infinity" if i in {7, 58} else (dt.date(2026, 1, 1) + dt.timedelta(days=i)).isoformat()
        values.append((i, day, "NaN" if i == 25 else f"{i}.50"))
    return make_table("orders", {"id": "integer", "placed_on": "date", "total": "numeric(10,2)"}, values)


def export(**overrides: Any) -> dict[str, bytes]:
    return render_export(**export_kwargs(tables=[orders()], row_group_rows=ROW_GROUP_ROWS, **overrides))


def day_objects(job: Any) -> dict[str, bytes]:
    prefix = f"{DATABASE}/public_orders/ingestion_date={DAY}/"
    listed = job.s3.list_objects_v2(Bucket=SOR_BUCKET, Prefix=prefix).get("Contents", [])
    return {o["Key"][len(prefix) :]: job.s3.get_object(Bucket=SOR_BUCKET, Key=o["Key"])["Body"].read() for o in listed}


def rerun(job: Any, *extra: str) -> tuple[dict[str, Any], ExitCode]:
    (export_uri,) = {
        f"s3://{EXPORT_BUCKET}/{'/'.join(k.split('/')[:2])}/" for k in export() if k.startswith("exports/")
    }
    config = parse_args([
        "--export_uri", export_uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE,
        "--ingestion_date", DAY, "--source_engine", PG, "--metrics_namespace", "", "--progress_seconds", "3600", *extra,
    ])  # fmt: skip
    return run_job(config, job)


def test_one_file_cut_into_units_publishes_what_the_whole_file_publishes(in_process_aws: None) -> None:
    with mock_aws():
        summary, code, job = publish(export(), *TINY_UNIT)
        assert code is ExitCode.SUCCEEDED, summary
        units = day_objects(job)
        cut = published(job, "public_orders")
        table = next(t for t in manifest(job)["tables"] if t["name"] == "public_orders")
        assert (table["files"], table["rows"], table["rejected_values"]) == (6, ROWS, {"placed_on": 2, "total": 1})
    with mock_aws():
        _, code, whole_job = publish(export())
        assert code is ExitCode.SUCCEEDED
        whole = published(whole_job, "public_orders")
        (whole_key,) = day_objects(whole_job)

    # six objects, one per row group, named by their run beside the whole file's key
    assert sorted(units) == [whole_key.replace(".parquet", f".rg{g:05d}-{g:05d}.parquet") for g in range(6)]
    assert [pq.read_metadata(io.BytesIO(b)).num_rows for _, b in sorted(units.items())] == [10] * 6
    # the same rows and values; rejects keep the row's index in the export file, not in the unit
    assert cut.equals(whole)
    rejects = {r["id"]: r["sor_rejects"] for r in cut.select(["id", "sor_rejects"]).to_pylist() if r["sor_rejects"]}
    assert {i: (r["row_index"], dict(r["raw_values"])) for i, r in rejects.items()} == {
        7: (7, {"placed_on": "infinity"}), 25: (25, {"total": "NaN"}), 58: (58, {"placed_on": "infinity"}),
    }  # fmt: skip
    assert all(r["source_file"].startswith(f"s3://{EXPORT_BUCKET}/exports/") for r in rejects.values())


@pytest.mark.parametrize(
    ("first_run", "objects"),
    [
        pytest.param(TINY_UNIT, 6, id="a day published in units"),
        # a day an earlier version rewrote whole (same source, same plan): the re-run keeps that object rather than
        # publishing the rows again under the units' keys
        pytest.param((), 1, id="a day published whole"),
    ],
)
def test_a_rerun_that_cuts_units_reads_no_data_and_leaves_the_same_bytes(
    in_process_aws: None, first_run: tuple[str, ...], objects: int
) -> None:
    with mock_aws():
        _, code, job = publish(export(), *first_run)
        assert code is ExitCode.SUCCEEDED
        before = day_objects(job)
        summary, code = rerun(job, *TINY_UNIT)
        assert code is ExitCode.SUCCEEDED, summary
        assert day_objects(job) == before
        table = next(t for t in manifest(job)["tables"] if t["name"] == "public_orders")
        assert (table["files"], table["copied"], table["skipped"]) == (objects, 0, objects)


def test_a_whole_file_object_of_another_plan_is_replaced_by_units_and_removed(in_process_aws: None) -> None:
    with mock_aws():
        _, code, job = publish(export())
        assert code is ExitCode.SUCCEEDED
        (whole_key,) = day_objects(job)
        key = f"{DATABASE}/public_orders/ingestion_date={DAY}/{whole_key}"
        job.s3.copy_object(Bucket=SOR_BUCKET, Key=key, CopySource={"Bucket": SOR_BUCKET, "Key": key},
                           Metadata={"sor-plan-digest": "an-older-plan"}, MetadataDirective="REPLACE")  # fmt: skip
        summary, code = rerun(job, *TINY_UNIT)
        assert code is ExitCode.SUCCEEDED, summary
        assert whole_key not in day_objects(job)
        assert len(day_objects(job)) == 6
        assert published(job, "public_orders").num_rows == ROWS


def test_retype_history_null_retypes_unit_objects_of_a_typed_day(in_process_aws: None) -> None:
    """A typed day published in units while its numeric column was all NULL (pending, kept as text): the night that
    shows the column's scale retypes that day's unit objects in place, rows and rejects as they were."""
    pending = [(i, "infinity" if i == 7 else "2026-01-01", None) for i in range(ROWS)]
    table = make_table("orders", {"id": "integer", "placed_on": "date", "total": "numeric(12,2)"}, pending)
    with mock_aws():
        objects = render_export(**export_kwargs(tables=[table], row_group_rows=ROW_GROUP_ROWS))
        _, code, job = publish(objects, *TINY_UNIT)
        assert code is ExitCode.SUCCEEDED
        first_day = day_objects(job)
        assert len(first_day) == 6
        later = "2026-11-27"
        valued = make_table("orders", {"id": "integer", "placed_on": "date", "total": "numeric(12,2)"},
                            [(i, "2026-01-02", f"{i}.25") for i in range(ROWS)])  # fmt: skip
        export_id = "aurora-sor-shop-2026-11-27"
        for key, body in render_export(**export_kwargs(tables=[valued], export_id=export_id)).items():
            job.s3.put_object(Bucket=EXPORT_BUCKET, Key=key, Body=body)
        root = next(k for k in render_export(**export_kwargs(tables=[valued], export_id=export_id)) if "/" in k)
        config = parse_args([
            "--export_uri", f"s3://{EXPORT_BUCKET}/{'/'.join(root.split('/')[:2])}/", "--sor_bucket", SOR_BUCKET,
            "--catalog_database", DATABASE, "--ingestion_date", later, "--source_engine", PG,
            "--metrics_namespace", "", "--progress_seconds", "3600", "--retype_history", "true", *TINY_UNIT,
        ])  # fmt: skip
        summary, code = run_job(config, job)
        assert code is ExitCode.SUCCEEDED, summary
        retyped = day_objects(job)
        assert sorted(retyped) == sorted(first_day)  # the same unit objects, rewritten in place
        day = published(job, "public_orders")
        assert day.schema.field("total").type == pa.decimal128(12, 2)
        assert day.column("total").null_count == ROWS
        rejects = [r for r in day.column("sor_rejects").to_pylist() if r]
        assert [(r["row_index"], dict(r["raw_values"])) for r in rejects] == [(7, {"placed_on": "infinity"})]
        history = next(t for t in summary_tables(job, later) if t["name"] == "public_orders")["retyped_history"]
        assert history["files_rewritten"] == 6


def summary_tables(job: Any, day: str) -> list[dict[str, Any]]:
    key = f"_manifests/{DATABASE}/ingestion_date={day}/manifest.json"
    return json.loads(job.s3.get_object(Bucket=SOR_BUCKET, Key=key)["Body"].read())["tables"]


def test_the_unit_size_argument_is_checked() -> None:
    base = ["--export_uri", "s3://b/exports/x/", "--sor_bucket", "sor-bucket", "--catalog_database", "sor",
            "--ingestion_date", DAY, "--source_engine", PG]  # fmt: skip
    assert parse_args(base).rewrite_unit_bytes == 16 * MIB
    assert parse_args([*base, "--rewrite_unit_mb", "0.5"]).rewrite_unit_bytes == MIB // 2
    for bad in ("0", "-1", "inf", "nan"):
        with pytest.raises(Exception, match="rewrite_unit_mb"):
            parse_args([*base, "--rewrite_unit_mb", bad])


# -- units in Spark tasks (pure) -------------------------------------------------------------------------------------
def units_of(rows: list[int], size: int = MIB) -> list[RewriteUnit]:
    return [RewriteUnit(S3Object(f"f{i}.parquet", size, "e"), f"d{i}", b"", "p", r) for i, r in enumerate(rows)]


def test_units_travel_in_tasks_of_about_256_mib_but_at_least_one_task_per_core() -> None:
    # 8 units of one 174 MB export on 2 cores: two tasks of four, not eight tasks of one (each task has its own cost)
    groups = task_groups(units_of([750_000] * 8, 22 * MIB), slots=2)
    assert sorted(len(g) for g in groups) == [4, 4]
    assert sorted(i for g in groups for i in g) == list(range(8))
    # 2,000 units of 16 MiB (31 GiB): tasks of 256 MiB (16 units each), more tasks than cores
    many = units_of([1_000] * 2_000, 16 * MIB)
    assert len(task_groups(many, slots=36)) == 125
    # never more tasks than units, never an empty task
    assert task_groups(units_of([5, 5]), slots=36) == [[0], [1]]
    assert task_groups([], slots=4) == []


def test_tasks_are_balanced_by_rows_largest_unit_first_and_deterministic() -> None:
    rows = [900, 100, 500, 500, 400, 300, 200, 100]
    groups = task_groups(units_of(rows), slots=3)
    loads = sorted(sum(rows[i] for i in g) for g in groups)
    assert loads == [1000, 1000, 1000]
    assert groups == task_groups(units_of(rows), slots=3)
    assert all(rows[g[0]] == max(rows[i] for i in g) for g in groups)  # each task starts with its largest unit
