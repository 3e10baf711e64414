"""The Glue job run in this process against moto's in-process S3 and Glue (mock_aws): fast, for tests that publish
many exports (property tests) or break one table on purpose. The job's own run_job, parse_args and JobClients; only
the Spark tasks are replaced by the same units run here (run_in_process), since the rewrite engine, the transforms and
the writer are what these tests are about (tests/glue/test_typed_*.py run them under Spark)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.emulator import glue_versions
from sor_job import retype, typed_table
from sor_job.clients import JobClients
from sor_job.config import JobConfig, parse_args
from sor_job.errors import FailureKind, failure_kind
from sor_job.outcomes import ExitCode
from sor_job.rewrite import RewriteSettings, RewriteUnit, TransformFactory, UnitResult, rewrite_unit, task_s3_client
from sor_job.run import run_job
from tests.exports import EXPORT_BUCKET, PG

SOR_BUCKET = "aurora-sor-sor"
DATABASE = "sor"
DAY = "2026-11-26"
REGION = "sa-east-1"


def run_in_process(
    units: Sequence[RewriteUnit],
    factory: TransformFactory,
    config: JobConfig,
    settings: RewriteSettings | None = None,
) -> list[UnitResult]:
    """run_rewrites without Spark: each unit through rewrite_unit, errors reported per unit as the tasks do."""
    s3 = task_s3_client(config)
    results = []
    for unit in units:
        try:
            results.append(rewrite_unit(unit, factory(unit), s3, config, settings or RewriteSettings()))
        except Exception as exc:  # noqa: BLE001 - what run_rewrites' tasks do with a failed unit
            transient = failure_kind(exc) is FailureKind.TRANSIENT
            error = f"{unit.source.key}: {type(exc).__name__}: {exc}"
            results.append(UnitResult(unit.destination, error=error, transient=transient))
    return results


@pytest.fixture
def in_process_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and Region for moto's mock_aws in this process; the Spark tasks replaced by run_in_process."""
    glue_versions.install()  # Glue's table versions as AWS keeps them (SkipArchive), in moto's in-process mock too
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # where run_rewrites is called from: a night's rewrite and the history's retype
    monkeypatch.setattr(typed_table, "run_rewrites", run_in_process)
    monkeypatch.setattr(retype, "run_rewrites", run_in_process)


def clients() -> JobClients:
    return JobClients(
        boto3.client("s3", region_name=REGION),
        boto3.client("glue", region_name=REGION),
        boto3.client("cloudwatch", region_name=REGION),
    )


def publish(objects: dict[str, bytes], *extra: str) -> tuple[dict[str, Any], ExitCode, JobClients]:
    """Inside mock_aws: the buckets and the catalog database, the export's `objects`, then one run of the job."""
    job = clients()
    for bucket in (EXPORT_BUCKET, SOR_BUCKET):
        job.s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    job.glue.create_database(DatabaseInput={"Name": DATABASE})
    job.glue.create_database(DatabaseInput={"Name": f"{DATABASE}_latest"})  # used when `extra` names it
    for key, body in objects.items():
        job.s3.put_object(Bucket=EXPORT_BUCKET, Key=key, Body=body)
    root = next(k for k in objects if k.startswith("exports/")).split("/")[:2]
    config = parse_args([
        "--export_uri", f"s3://{EXPORT_BUCKET}/{'/'.join(root)}/", "--sor_bucket", SOR_BUCKET,
        "--catalog_database", DATABASE, "--ingestion_date", DAY, "--source_engine", PG, "--metrics_namespace", "",
        "--progress_seconds", "3600", *extra,
    ])  # fmt: skip
    summary, code = run_job(config, job)
    return summary, code, job


def published(job: JobClients, table: str) -> pa.Table:
    """Every row of `table`'s day as the job wrote it, by id."""
    prefix = f"{DATABASE}/{table}/ingestion_date={DAY}/"
    keys = [o["Key"] for o in job.s3.list_objects_v2(Bucket=SOR_BUCKET, Prefix=prefix).get("Contents", [])]
    parts = [pq.read_table(io.BytesIO(job.s3.get_object(Bucket=SOR_BUCKET, Key=k)["Body"].read())) for k in keys]
    data = [p for p in parts if p.num_rows]
    return (pa.concat_tables(data, promote_options="default") if data else parts[0]).sort_by("id")


def manifest(job: JobClients) -> dict[str, Any]:
    """The run manifest the job wrote for DAY."""
    key = f"_manifests/{DATABASE}/ingestion_date={DAY}/manifest.json"
    return json.loads(job.s3.get_object(Bucket=SOR_BUCKET, Key=key)["Body"].read())
