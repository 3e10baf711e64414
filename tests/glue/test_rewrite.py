"""The rewrite engine (glue/sor_job/rewrite.py): one export file -> one deterministic Parquet object in the SOR,
streamed row group by row group, skipped on a re-run, converging after a crash, distributed by Spark.

The transform here is an identity with casts (text -> int32, bigint -> int32), so these tests do not depend on the
type restoration rules. Everything runs against the emulator as the template's Glue role (IAM enforced)."""

from __future__ import annotations

import base64
import dataclasses
import io
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from local.emulator.aws_emulator import Fault
from local.emulator.job_runner import JOB
from sor_job.config import JobConfig, parse_args
from sor_job.copy_day import destination_key
from sor_job.errors import ExportError, TableError
from sor_job.names import base_table_name
from sor_job.plan import S3Object, plan_export
from sor_job.rewrite import (
    COUNTERS_KEY,
    MAX_SAMPLES,
    SPARK_REBASE_CONF,
    RewriteSettings,
    RewriteUnit,
    Transform,
    TransformedBatch,
    UnitResult,
    rewrite_plan_digest,
    rewrite_unit,
    run_rewrites,
    schema_ipc,
    unit_destination,
    verify_rewrites,
)
from sor_job.s3_reads import RangeReader, list_objects, read_footer, read_metadata
from tests.exports import make_large_table, make_table
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld
from tests.prerequisites import run_in_spark_venv, spark_python_or_skip

MIB = 1024**2
SMALL_PARTS = RewriteSettings(part_size=5 * MIB)


def counted_cast(casts: Mapping[str, pa.DataType]) -> Transform:
    """Identity with casts; counts the values that became NULL (the shape of a restoration's rejects)."""

    def transform(batch: pa.RecordBatch, first_row: int) -> TransformedBatch:
        columns, counters, samples = [], {}, {}
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if name in casts:
                cast = pc.cast(column, casts[name], safe=False) if column.type != pa.string() else _parse(column)
                lost = pc.and_(pc.is_null(cast), pc.is_valid(column))
                counters[f"{name}.rejected"] = pc.sum(lost).as_py() or 0
                samples[f"{name}.rejected"] = [str(v) for v in pc.filter(column, lost).to_pylist()]
                column = cast
            columns.append(column)
        counters["rows_seen_from"] = first_row
        return TransformedBatch(pa.RecordBatch.from_arrays(columns, schema=output_schema(batch.schema, casts)),
                                counters, samples)  # fmt: skip

    return transform


def _parse(column: pa.Array) -> pa.Array:
    valid = pc.match_substring_regex(column, r"^-?[0-9]{1,9}$")
    return pc.cast(pc.if_else(valid, column, None), pa.int32())


def output_schema(source: pa.Schema, casts: Mapping[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(f.name, casts.get(f.name, f.type)) for f in source])


def job_config(uri: str, *extra: str) -> JobConfig:
    return parse_args(["--export_uri", uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE,
                       "--ingestion_date", DAY, "--source_engine", "aurora-postgresql", *extra])  # fmt: skip


def job_s3(world: SorWorld) -> Any:
    """An S3 client signed as the template's Glue job role."""
    creds = world.job_credentials
    return boto3.client(
        "s3",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds["AWS_SESSION_TOKEN"],
    )


DEFAULTS = RewriteSettings()


def plan_units(
    s3: Any, config: JobConfig, casts: Mapping[str, pa.DataType], settings: RewriteSettings = DEFAULTS
) -> list[RewriteUnit]:
    """The units of every table of the export, as the job will build them: footers give the schema and rows."""
    objects = list_objects(s3, config.export_bucket, config.export_prefix)
    info, tables_info, problems = read_metadata(s3, config, objects)
    plan = plan_export(config.export_prefix, objects, info, tables_info, problems)
    units = []
    for table in plan.tables:
        name = base_table_name(table.folder)
        for obj in table.files:
            rows = read_footer(s3, config.export_bucket, obj, config.footer_read_size)[0].rows
            reader = RangeReader(s3, config.export_bucket, obj, config.footer_read_size)
            source_schema = pq.ParquetFile(reader).schema_arrow
            schema = output_schema(source_schema, casts)
            digest = rewrite_plan_digest(schema, json.dumps({k: str(v) for k, v in casts.items()}), settings)
            units.append(RewriteUnit(obj, destination_key(config, name, table, obj), schema_ipc(schema), digest, rows))
    return units


def sor_calls(world: SorWorld, operation: str) -> list[Any]:
    return [r for r in world.emulator.calls("s3", operation) if r.bucket_key[0] == SOR_BUCKET]


def read_object(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=SOR_BUCKET, Key=key)["Body"].read())


def sor_objects(s3: Any) -> dict[str, bytes]:
    return {o.key: read_object(s3, o.key) for o in list_objects(s3, SOR_BUCKET, f"{DATABASE}/")}


def numbers_table(rows: int, row_group_rows: int | None = None, **options: Any) -> Any:
    values = [(n, str(n * 7) if n % 50 else f"bad-{n}", f"name {n}") for n in range(rows)]
    return make_table("items", {"id": "bigint", "qty": "text", "name": "text"}, values, **options)


CASTS = {"qty": pa.int32()}


def rewrite_all(
    s3: Any, config: JobConfig, units: Sequence[RewriteUnit], settings: RewriteSettings = DEFAULTS
) -> list[UnitResult]:
    return [rewrite_unit(u, counted_cast(CASTS), s3, config, settings) for u in units]


# -------------------------------------------------------------------------------------------------------------------
def test_rewrite_streams_many_row_groups_into_the_destination_key_with_typed_columns(world: SorWorld) -> None:
    uri = world.export([numbers_table(5000, files_per_batch=2)], row_group_rows=300)
    s3, config = job_s3(world), job_config(uri)
    units = plan_units(s3, config, CASTS)
    assert len(units) == 2
    source_groups = [
        pq.ParquetFile(io.BytesIO(world.s3.get_object(Bucket="aurora-sor-exports", Key=u.source.key)["Body"].read()))
        for u in units
    ]
    assert all(f.metadata.num_row_groups >= 8 for f in source_groups)  # streaming is exercised

    results = rewrite_all(s3, config, units, RewriteSettings(batch_rows=128))

    for unit, result, source in zip(units, results, source_groups, strict=True):
        assert unit.destination.startswith(f"{DATABASE}/public_items/ingestion_date={DAY}/")
        assert unit.destination.endswith(unit.source.key.rsplit("/", 1)[-1])
        assert not result.skipped
        assert result.error is None
        written = pq.ParquetFile(io.BytesIO(read_object(s3, unit.destination)))
        assert written.schema_arrow == unit.output_schema
        assert result.rows == written.metadata.num_rows == unit.rows == source.metadata.num_rows
        # one output row group per source row group (none is bigger than row_group_bytes here)
        assert written.metadata.num_row_groups == source.metadata.num_row_groups
        expected = source.read()
        got = written.read()
        assert got["id"] == expected["id"]
        assert got["name"] == expected["name"]
        bad = [v for v in expected["qty"].to_pylist() if v.startswith("bad-")]
        assert got["qty"].to_pylist() == [None if v.startswith("bad-") else int(v) for v in expected["qty"].to_pylist()]
        assert result.counters["qty.rejected"] == len(bad) > 0
        assert result.samples["qty.rejected"] == bad[:MAX_SAMPLES]
        head = s3.head_object(Bucket=SOR_BUCKET, Key=unit.destination)
        assert head["Metadata"] == {"sor-source-etag": unit.source.etag, "sor-plan-digest": unit.plan_digest}
        assert written.metadata.metadata == {
            COUNTERS_KEY.encode(): json.dumps(dict(sorted(result.counters.items()))).encode()
        }
    verify_rewrites(s3, config, units)
    # Only puts: a small file is one PutObject, never a multipart upload.
    assert world.emulator.calls("s3", "CreateMultipartUpload") == []
    assert len(sor_calls(world, "PutObject")) == 2


def test_the_first_row_index_handed_to_the_transform_counts_rows_across_row_groups(world: SorWorld) -> None:
    uri = world.export([numbers_table(1000)], row_group_rows=97)
    s3, config = job_s3(world), job_config(uri)
    (unit,) = plan_units(s3, config, CASTS)
    seen: list[tuple[int, int]] = []
    inner = counted_cast(CASTS)

    def spy(batch: pa.RecordBatch, first: int) -> TransformedBatch:
        seen.append((first, batch.num_rows))
        return inner(batch, first)

    rewrite_unit(unit, spy, s3, config, RewriteSettings(batch_rows=40))
    starts = [first for first, _ in seen]
    assert starts[0] == 0
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(seen))
    assert sum(n for _, n in seen) == 1000
    assert max(n for _, n in seen) == 40  # batches never straddle a row group of 97 rows
    assert 97 % 40 in {n for _, n in seen}


def test_a_rerun_writes_byte_identical_objects(world: SorWorld) -> None:
    uri = world.export([numbers_table(3000, files_per_batch=2)], row_group_rows=250)
    s3, config = job_s3(world), job_config(uri)
    units = plan_units(s3, config, CASTS)
    rewrite_all(s3, config, units)
    first = sor_objects(s3)
    world.s3.delete_objects(Bucket=SOR_BUCKET, Delete={"Objects": [{"Key": k} for k in first]})
    rewrite_all(s3, config, units)
    assert len(first) == 2
    assert sor_objects(s3) == first


def test_a_rerun_skips_done_units_without_reading_any_data_and_still_reports_their_counters(
    world: SorWorld,
) -> None:
    uri = world.export([numbers_table(3000, files_per_batch=2)], row_group_rows=250)
    s3, config = job_s3(world), job_config(uri)
    units = plan_units(s3, config, CASTS)
    done = rewrite_all(s3, config, units)
    before = sor_objects(s3)
    world.emulator.requests.clear()

    again = rewrite_all(s3, config, units)

    assert [r.skipped for r in again] == [True, True]
    assert [(r.rows, r.bytes, r.counters) for r in again] == [(d.rows, d.bytes, d.counters) for d in done]
    export_reads = [r for r in world.emulator.calls("s3", "GetObject") if r.bucket_key[0] == "aurora-sor-exports"]
    assert export_reads == []
    writes = [r for r in world.emulator.calls("s3") if r.method in {"PUT", "POST", "DELETE"}]
    assert writes == []
    # the footer of each destination: one ranged GET of at most footer_read_size bytes
    sor_reads = world.emulator.calls("s3", "GetObject")
    assert len(sor_reads) == 2
    assert all(r.headers.get("range", "").startswith("bytes=") for r in sor_reads)
    assert sor_objects(s3) == before


def test_a_changed_plan_or_source_rewrites_the_unit(world: SorWorld) -> None:
    uri = world.export([numbers_table(500)])
    s3, config = job_s3(world), job_config(uri)
    (unit,) = plan_units(s3, config, CASTS)
    rewrite_unit(unit, counted_cast(CASTS), s3, config)
    other_plan = RewriteUnit(unit.source, unit.destination, unit.output_schema_ipc, "0" * 32, unit.rows)
    assert not rewrite_unit(other_plan, counted_cast(CASTS), s3, config).skipped
    head = s3.head_object(Bucket=SOR_BUCKET, Key=unit.destination)
    assert head["Metadata"]["sor-plan-digest"] == "0" * 32
    assert not rewrite_unit(unit, counted_cast(CASTS), s3, config).skipped


def test_a_file_larger_than_the_part_size_is_a_multipart_upload(world: SorWorld) -> None:
    uri = world.export([make_large_table("blobs", 12 * MIB)], row_group_rows=8)
    s3, config = job_s3(world), job_config(uri)
    casts = {"id": pa.int32()}
    (unit,) = plan_units(s3, config, casts, SMALL_PARTS)
    result = rewrite_unit(unit, counted_cast(casts), s3, config, SMALL_PARTS)
    assert result.bytes > 2 * SMALL_PARTS.part_size
    parts = world.emulator.calls("s3", "UploadPart")
    assert len(parts) == -(-result.bytes // SMALL_PARTS.part_size) == 3
    assert len(world.emulator.calls("s3", "CompleteMultipartUpload")) == 1
    assert sor_calls(world, "PutObject") == []
    body = read_object(s3, unit.destination)
    assert len(body) == result.bytes
    written = pq.read_table(io.BytesIO(body))
    assert written.schema.field("id").type == pa.int32()
    assert written.num_rows == unit.rows
    verify_rewrites(s3, config, [unit])


def test_a_crash_mid_unit_leaves_nothing_and_a_rerun_converges(world: SorWorld) -> None:
    uri = world.export([make_large_table("blobs", 12 * MIB)], row_group_rows=8)
    s3, config = job_s3(world), job_config(uri)
    casts = {"id": pa.int32()}
    (unit,) = plan_units(s3, config, casts, SMALL_PARTS)
    fault = world.emulator.add_fault(
        Fault(lambda r: r.operation == "UploadPart" and r.query.get("partNumber") == ["2"], 403, "AccessDenied", None)
    )
    with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
        rewrite_unit(unit, counted_cast(casts), s3, config, SMALL_PARTS)
    assert fault.hits >= 1
    assert list_objects(s3, SOR_BUCKET, f"{DATABASE}/") == []
    assert len(world.emulator.calls("s3", "AbortMultipartUpload")) == 1
    assert world.s3.list_multipart_uploads(Bucket=SOR_BUCKET).get("Uploads", []) == []
    with pytest.raises(TableError, match=r"verification failed.*missing"):
        verify_rewrites(s3, config, [unit])

    world.emulator.faults.remove(fault)
    result = rewrite_unit(unit, counted_cast(casts), s3, config, SMALL_PARTS)
    assert not result.skipped
    verify_rewrites(s3, config, [unit])
    crashed_then_rerun = read_object(s3, unit.destination)
    world.s3.delete_object(Bucket=SOR_BUCKET, Key=unit.destination)
    rewrite_unit(unit, counted_cast(casts), s3, config, SMALL_PARTS)
    assert read_object(s3, unit.destination) == crashed_then_rerun


def test_a_transform_that_fails_or_breaks_the_schema_leaves_no_object(world: SorWorld) -> None:
    uri = world.export([numbers_table(800)], row_group_rows=100)
    s3, config = job_s3(world), job_config(uri)
    (unit,) = plan_units(s3, config, CASTS)

    def refuse(batch: pa.RecordBatch, first: int) -> TransformedBatch:
        if first >= 400:
            raise TableError("most values of qty do not parse")
        return counted_cast(CASTS)(batch, first)

    with pytest.raises(TableError, match="do not parse"):
        rewrite_unit(unit, refuse, s3, config, RewriteSettings(batch_rows=100))

    def untyped(batch: pa.RecordBatch, first: int) -> tuple[pa.RecordBatch, dict[str, int]]:
        return batch, {}

    with pytest.raises(TableError, match="the transform returned"):
        rewrite_unit(unit, untyped, s3, config)
    assert list_objects(s3, SOR_BUCKET, f"{DATABASE}/") == []


def test_verification_catches_a_wrong_row_count_and_a_foreign_object(world: SorWorld) -> None:
    uri = world.export([numbers_table(600)])
    s3, config = job_s3(world), job_config(uri)
    (unit,) = plan_units(s3, config, CASTS)
    rewrite_unit(unit, counted_cast(CASTS), s3, config)
    with pytest.raises(TableError, match="holds 600 rows, its source 601"):
        verify_rewrites(s3, config, [RewriteUnit(unit.source, unit.destination, unit.output_schema_ipc,
                                                 unit.plan_digest, 601)])  # fmt: skip
    s3.put_object(Bucket=SOR_BUCKET, Key=unit.destination, Body=b"not ours")
    with pytest.raises(TableError, match="does not carry source ETag"):
        verify_rewrites(s3, config, [unit])
    with pytest.raises(TableError, match="footer holds 600 rows, planned 5"):
        rewrite_unit(RewriteUnit(unit.source, unit.destination, unit.output_schema_ipc, unit.plan_digest, 5),
                     counted_cast(CASTS), s3, config)  # fmt: skip


def test_sse_kms_with_the_stack_key_on_put_and_multipart(world: SorWorld) -> None:
    key_arn = world.stack_key()
    uri = world.export([make_large_table("blobs", 6 * MIB), numbers_table(300)], row_group_rows=8)
    s3, config = job_s3(world), job_config(uri, "--sor_kms_key_arn", key_arn)
    units = plan_units(s3, config, {"id": pa.int32()}, SMALL_PARTS)
    for unit in units:
        rewrite_unit(unit, counted_cast({"id": pa.int32()}), s3, config, SMALL_PARTS)
    assert len(world.emulator.calls("s3", "CreateMultipartUpload")) == 1
    assert len(sor_calls(world, "PutObject")) == 1
    for unit in units:
        head = world.s3.head_object(Bucket=SOR_BUCKET, Key=unit.destination)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn
    verify_rewrites(s3, config, units)


def test_run_rewrites_without_units_needs_no_spark() -> None:
    # .venv has no pyspark: a night with nothing to rewrite must still run there.
    assert run_rewrites([], lambda unit: counted_cast(CASTS), job_config("s3://b/exports/e/")) == []


def test_run_rewrites_without_pyspark_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pyspark(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.startswith("pyspark"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    unit = RewriteUnit(S3Object("k", 1, "e"), "d", schema_ipc(pa.schema([])), "x", 0)
    with pytest.raises(ExportError, match=r"needs pyspark.*make spark-venv"):
        run_rewrites([unit], lambda u: counted_cast(CASTS), job_config("s3://b/exports/e/"))


# -------------------------------------------------------------------------------------------------------------------
# Through real local Spark, the job's package imported from the shipped script (glue/dist/sor_job.py, its importer
# installed but its main not run), so that everything the executors need travels by value, as under Glue: the
# package is not on the executors' path. The units and results cross as plain data.
SPARK_DRIVER = r"""
import base64, dataclasses, json, os, sys
from local.emulator.spark_env import spark_environment
os.environ.update(spark_environment(master="local[2]"))
source = open(sys.argv[1]).read().replace('if __name__ == "__main__":', "if False:")
exec(compile(source, sys.argv[1], "exec"), {"__name__": "shipped"})  # installs the script's importer only
sys.path[:] = [p for p in sys.path if not p.endswith("/glue")]
import sor_job
assert sor_job.__loader__.__class__.__name__ == "_EmbeddedPackage", sor_job.__loader__
from sor_job.config import parse_args
from sor_job.plan import S3Object
from sor_job.rewrite import (
    SPARK_REBASE_CONF, RewriteSettings, RewriteUnit, TransformedBatch, rewrite_unit, run_rewrites, task_s3_client,
)
spec = json.loads(sys.stdin.read())
config = parse_args(spec["args"])
settings = RewriteSettings(part_size=spec["part_size"])
units = [
    RewriteUnit(S3Object(**u["source"]), u["destination"], base64.b64decode(u["schema"]), u["digest"], u["rows"],
                tuple(u["row_groups"]) if u["row_groups"] else None, u["first_row"])
    for u in spec["units"]
]
import pyarrow as pa
import pyarrow.compute as pc

def factory(unit):
    def transform(batch, first_row):
        column = batch.column("id")
        out = pa.RecordBatch.from_arrays(
            [pc.cast(column, pa.int32()) if n == "id" else c for n, c in zip(batch.schema.names, batch.columns)],
            schema=unit.output_schema,
        )
        return TransformedBatch(out, {"rows": batch.num_rows, "first_rows": first_row})
    return transform

from pyspark.sql import SparkSession
wrong = dataclasses.replace(units[0], destination="sor/error/x", rows=units[0].rows + 1)
results = run_rewrites(units, factory, config, settings)
conf = SparkSession.builder.getOrCreate().conf
direct = []
s3 = task_s3_client(config)
for unit in units:
    again = dataclasses.replace(unit, destination="sor/direct/" + unit.destination)
    direct.append(dataclasses.asdict(rewrite_unit(again, factory(again), s3, config, settings)))
print(json.dumps({
    "results": [dataclasses.asdict(r) for r in results],
    "direct": direct,
    "master": SparkSession.builder.getOrCreate().sparkContext.master,
    "rebase": {k: conf.get(k) for k in SPARK_REBASE_CONF},
    "error_unit": dataclasses.asdict(run_rewrites([wrong], factory, config, settings)[0]),
}))
"""


def test_run_rewrites_through_local_spark_writes_what_rewrite_unit_writes(world: SorWorld) -> None:
    spark_python_or_skip()
    tables = [make_large_table("blobs", 6 * MIB, files_per_batch=2), numbers_table(2000, files_per_batch=2)]
    uri = world.export(tables, row_group_rows=8)
    s3 = job_s3(world)
    args = ["--export_uri", uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE, "--ingestion_date", DAY,
            "--source_engine", "aurora-postgresql"]  # fmt: skip
    config = parse_args(args)
    units = plan_units(s3, config, {"id": pa.int32()}, SMALL_PARTS)
    assert len(units) == 4
    # and a unit of one row group (the second) of a numbers file: its rows start at the group's first row
    numbers = units[-1]
    groups = read_footer(s3, config.export_bucket, numbers.source, config.footer_read_size)[0].row_groups
    assert len(groups) > 2
    units.append(dataclasses.replace(
        numbers, destination=unit_destination(numbers.destination, (1, 2)), rows=groups[1][0], row_groups=(1, 2),
        first_row=groups[0][0],
    ))  # fmt: skip
    spec = {
        "args": args,
        "part_size": SMALL_PARTS.part_size,
        "units": [
            {"source": u.source.__dict__, "destination": u.destination, "digest": u.plan_digest, "rows": u.rows,
             "schema": base64.b64encode(u.output_schema_ipc).decode(), "row_groups": u.row_groups,
             "first_row": u.first_row}
            for u in units
        ],
    }  # fmt: skip
    done = run_in_spark_venv(SPARK_DRIVER, str(JOB), stdin=json.dumps(spec), environment=world.job_environment())
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["master"] == "local[2]"
    assert report["rebase"] == SPARK_REBASE_CONF
    results = report["results"]
    assert [r["destination"] for r in results] == [u.destination for u in units]
    assert all(r["error"] is None and not r["skipped"] for r in results)
    for unit, result, direct in zip(units, results, report["direct"], strict=True):
        assert result["rows"] == unit.rows == result["counters"]["rows"]
        spark_written = read_object(s3, unit.destination)
        assert spark_written == read_object(s3, direct["destination"])  # byte for byte
        assert pq.read_table(io.BytesIO(spark_written)).schema.field("id").type == pa.int32()
    # the one-group unit: its transform was handed the group's first row in the file, as row index
    assert results[-1]["counters"]["first_rows"] == groups[0][0]
    assert pq.read_table(io.BytesIO(read_object(s3, units[-1].destination))).num_rows == groups[1][0]
    assert "planned" in (report["error_unit"]["error"] or "")
    verify_rewrites(s3, config, units)
