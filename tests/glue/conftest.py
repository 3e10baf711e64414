"""Harness for running glue/sor_job.py for real (a subprocess) against the embedded emulator.

SOR_JOB_PYTHON picks the interpreter: `make test` runs these tests a second time with the Glue 5.0
runtime's boto3/pyarrow (.venv-glue5) so what passes here runs in Glue.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from dataclasses import dataclass
from typing import Any

import boto3
from manifests import manifest_key

from local.emulator.athena_duckdb import connect
from local.emulator.aws_emulator import Emulator
from local.emulator.deploy import enforcer_for
from local.emulator.job_runner import LocalRun, job_args, job_command, job_environment, run, spark_job_command, start
from local.export_emulator.render import write_export
from local.export_emulator.source import SourceTable
from tests.exports import EXPORT_BUCKET, PG, export_kwargs
from tests.glue.in_process import in_process_aws  # noqa: F401 - a fixture for the tests of this folder
from tests.prerequisites import spark_python_or_skip

SOR_BUCKET = "aurora-sor-sor"
DATABASE = "sor"
LATEST = "sor_latest"  # the template's default name of the latest database for DATABASE
DAY = "2026-11-26"
JOB_TIMEOUT_S = 300


@dataclass(frozen=True)
class LocalRunWithManifest(LocalRun):
    """A run of the job (local/emulator/job_runner.py) and the run manifest it left for its day in the SOR ({} if
    none)."""

    manifest: dict[str, Any]

    def table(self, name: str) -> dict[str, Any]:
        return next(t for t in self.manifest["tables"] if t["name"] == name)


class SorWorld:
    """An export bucket, a SOR bucket and a catalog database in the emulator, and the job to run on them.

    The job runs as the template's Glue role with the emulator's IAM enforcement on: the template evaluated with
    this world's names (the SOR bucket as ExistingSorBucketName, the export bucket as ExportBucket)."""

    def __init__(self, session: boto3.Session, emulator: Emulator) -> None:
        self.emulator = emulator
        self._enforce({"ExportBucket": EXPORT_BUCKET})
        self._kms = session.client("kms")
        self.s3 = session.client("s3")
        self.glue = session.client("glue")
        self._buckets: set[str] = set()
        self._engines: dict[str, str] = {}  # export URI -> the engine its source ran (the job's --source_engine)
        self.bucket(SOR_BUCKET)
        self.glue.create_database(DatabaseInput={"Name": DATABASE})
        self.glue.create_database(DatabaseInput={"Name": LATEST})

    def _enforce(self, physical: dict[str, str]) -> None:
        enforcer = enforcer_for(
            {"ClusterIdentifier": "shop", "ExistingSorBucketName": SOR_BUCKET, "CatalogDatabaseName": DATABASE},
            physical,
        )
        self.emulator.enforcer = enforcer
        self.job_credentials = enforcer.credentials("GlueJobRole")

    def stack_key(self) -> str:
        """A KMS key in the emulator that the template's key policy and the Glue role's policy are about (the
        stack's DataKey); returns its ARN."""
        key = self._kms.create_key()["KeyMetadata"]
        self._enforce({"ExportBucket": EXPORT_BUCKET, "DataKey": key["KeyId"]})
        return str(key["Arn"])

    def bucket(self, name: str) -> str:
        if name not in self._buckets:
            self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
            self._buckets.add(name)
        return name

    def export(self, tables: list[SourceTable] | None = None, **overrides: Any) -> str:
        kwargs = export_kwargs(**({"tables": tables} if tables is not None else {}), **overrides)
        self.bucket(kwargs["s3_bucket"])
        uri = write_export(self.s3, **kwargs)
        self._engines[uri] = kwargs["engine"]
        return uri

    def command(self, export_uri: str, day: str = DAY, *extra: str) -> list[str]:
        """The job without Spark (SOR_JOB_PYTHON or this interpreter), on the copy path unless `extra` says
        --restore_types: tests of the typed path run with `spark_command` (marker `spark`)."""
        return job_command(self.job_args(export_uri, day, *extra))

    def job_args(self, export_uri: str, day: str = DAY, *extra: str) -> list[str]:
        text = () if "--restore_types" in extra else ("--restore_types", "false")
        glue_launcher = ("--JOB_ID", "j_test", "--job-bookmark-option", "job-bookmark-disable")
        # as on_export_event starts it: the engine of the export's source (a URI never written here: PostgreSQL)
        engine = self._engines.get(export_uri, PG)
        latest = () if "--latest_database" in extra else ("--latest_database", LATEST)
        return [*glue_launcher, *job_args(export_uri, SOR_BUCKET, DATABASE, day, engine, *text, *latest, *extra)]

    def spark_command(self, export_uri: str, day: str = DAY, *extra: str) -> list[str]:
        """The job as Glue runs it (local/emulator/job_runner.py, Spark), typed columns on (the default) unless
        `extra` says."""
        return spark_job_command(self.job_args(export_uri, day, "--restore_types", "true", *extra)
                                 if "--restore_types" not in extra else self.job_args(export_uri, day, *extra),
                                 python=spark_python_or_skip())  # fmt: skip

    def spark_run(self, export_uri: str, day: str = DAY, *extra: str) -> LocalRunWithManifest:
        return self._run(self.spark_command(export_uri, day, *extra), day)

    def start(self, export_uri: str, day: str = DAY, *extra: str) -> subprocess.Popen[str]:
        """The job started (read it with local.emulator.job_runner.finish), for tests that kill it or run two at
        once."""
        return start(self.command(export_uri, day, *extra), self.job_environment())

    def job_environment(self) -> dict[str, str]:
        """This process's environment (the emulator's endpoint) signed as the Glue job's role."""
        return job_environment(self.job_credentials)

    def run(self, export_uri: str, day: str = DAY, *extra: str) -> LocalRunWithManifest:
        return self._run(self.command(export_uri, day, *extra), day)

    def _run(self, command: list[str], day: str) -> LocalRunWithManifest:
        done = run(command, self.job_environment(), timeout=JOB_TIMEOUT_S)
        return LocalRunWithManifest(**vars(done), manifest=self.manifest(day))

    def manifest(self, day: str = DAY) -> dict[str, Any]:
        key = manifest_key(DATABASE, dt.date.fromisoformat(day))  # the Lambdas' reading of the contract
        try:
            return json.loads(self.s3.get_object(Bucket=SOR_BUCKET, Key=key)["Body"].read())
        except self.s3.exceptions.NoSuchKey:
            return {}

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Athena-style SQL over what the catalog describes (local/emulator/athena_duckdb.py)."""
        con, _ = connect(self.glue, self.s3, DATABASE, LATEST)
        return con.execute(sql).fetchall()

    def state(self, days: tuple[str, ...] = (DAY,)) -> dict[str, Any]:
        """Everything a run leaves behind for these days: objects (key, size, source ETag) and catalog."""
        objects = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/"):
            for item in page.get("Contents", []):
                if any(f"ingestion_date={d}/" in item["Key"] for d in days):
                    head = self.s3.head_object(Bucket=SOR_BUCKET, Key=item["Key"])
                    objects[item["Key"]] = (item["Size"], head["Metadata"].get("sor-source-etag"))
        catalog = {}
        for page in self.glue.get_paginator("get_tables").paginate(DatabaseName=DATABASE):
            for table in page["TableList"]:
                partitions = self.glue.get_partitions(DatabaseName=DATABASE, TableName=table["Name"])["Partitions"]
                catalog[table["Name"]] = {
                    "columns": table["StorageDescriptor"]["Columns"],
                    "location": table["StorageDescriptor"]["Location"],
                    "parameters": table["Parameters"],
                    "partitions": sorted(
                        (
                            p["Values"][0],
                            p["StorageDescriptor"]["Location"],
                            json.dumps(p["Parameters"], sort_keys=True),
                        )
                        for p in partitions
                        if p["Values"][0] in days
                    ),
                }
        return {"objects": objects, "catalog": catalog}
