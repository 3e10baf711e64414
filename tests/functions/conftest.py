"""Fixtures for the Lambda tests: the pipeline's resources in the emulator, and ways to look at them."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from aws_clients import LambdaClients
from botocore.config import Config as BotoConfig
from config import Config, load_config
from export_ids import make_export_id
from manifests import manifest_key
from moto.backends import get_backend

from local.emulator.aws_emulator import Emulator, Fault, Request
from local.emulator.deploy import enforcer_for
from local.emulator.enforcement import Enforcer

ACCOUNT = "123456789012"
REGION = "sa-east-1"
CLUSTER = "mycluster"
EVENTS = Path(__file__).resolve().parent.parent / "events"
# detail.Date of every RDS event fixture in tests/events: a task that ended then is the one they are about.
EVENT_TIME = dt.datetime(2026, 11, 26, 8, 14, 7, 512000, tzinfo=dt.UTC)
_UNENDED = ("starting", "in_progress", "STARTING", "IN_PROGRESS")

ENV = {
    "CLUSTER_IDENTIFIER": CLUSTER,
    "EXPORT_SOURCE": "latest-automated-snapshot",
    "EXPORT_BUCKET": "aurora-sor-exports",
    "EXPORT_PREFIX": "exports",
    "EXPORT_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/aurora-sor-export",
    "EXPORT_KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0b6f5a4e-1111-4222-8333-944455556666",
    "EXPORT_ONLY": "",
    "SCHEDULE_TIMEZONE": "America/Sao_Paulo",
    "MAX_SNAPSHOT_AGE_HOURS": "26",
    "GLUE_JOB_NAME": "sor_job",
    "SOR_BUCKET": "aurora-sor-sor",
    "CATALOG_DATABASE": "sor",
    "ALERT_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:aurora-sor-alerts",
    "INCIDENT_TABLE": "aurora-sor-incidents",
}


@dataclass
class FakeContext:
    """The attributes Powertools' inject_lambda_context reads from a Lambda context."""

    function_name: str = "aurora-sor-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:aurora-sor-test"
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


@dataclass
class Pipeline:
    """The pipeline's resources in the emulator plus helpers that read or arrange state."""

    emulator: Emulator
    session: boto3.Session
    config: Config
    clients: LambdaClients
    queue_url: str
    role: str | None  # the role the module's code runs as under IAM enforcement; None: enforcement off
    cluster_arn: str
    snapshot_arn: str
    snapshot_time: dt.datetime
    _alerts: list[dict[str, str]] = field(default_factory=list)

    def client(self, service: str) -> Any:
        return _cached_client(self.session, service)

    def clients_as(self, role: str) -> LambdaClients:
        """The code's clients signed as another role of the template (for a test that runs two functions)."""
        key = (os.environ["AWS_ENDPOINT_URL"], role)
        if key not in _ROLE_CLIENTS:
            _ROLE_CLIENTS[key] = LambdaClients(session=self._role_session(role))
        return _ROLE_CLIENTS[key]

    def no_retry_clients(self, role: str | None = None) -> LambdaClients:
        """LambdaClients that give up at the first error, for fault tests (the real ones retry 5 times), signed as
        `role`, or as the module's role when none is given (the admin key only where enforcement is off)."""
        role = role or self.role
        session = self.session if role is None else self._role_session(role)
        return LambdaClients(_made={s: _cached_client(session, s, retries=False, as_role=role) for s in _SERVICES})

    def _role_session(self, role: str) -> boto3.Session:
        """A session signing with `role`'s access key (the same key for the whole test session)."""
        assert self.emulator.enforcer is not None, "IAM enforcement is off for this test module"
        if role not in _ROLE_SESSIONS:
            credentials = self.emulator.enforcer.credentials(role)
            _ROLE_SESSIONS[role] = boto3.Session(
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=credentials["AWS_SESSION_TOKEN"],
                region_name=REGION,
            )
        return _ROLE_SESSIONS[role]

    # -- alerts ---------------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, str]]:
        """Every SNS message delivered to the test queue so far: [{"Subject", "Message"}]."""
        sqs = self.client("sqs")
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return list(self._alerts)
            for message in messages:
                envelope = json.loads(message["Body"])
                self._alerts.append({"Subject": envelope.get("Subject", ""), "Message": envelope["Message"]})
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    # -- export tasks ---------------------------------------------------------------------------------
    def start_task(
        self,
        day: dt.date,
        *,
        attempt: int = 1,
        identifier: str | None = None,
        source_arn: str | None = None,
        bucket: str | None = None,
        **attributes: Any,
    ) -> str:
        """Starts an export task in moto and sets what moto cannot (status, times, messages) on its model.

        A task that has ended gets TaskEndTime = EVENT_TIME unless the test gives one (None for none).
        """
        if attributes.get("status") not in _UNENDED:
            attributes.setdefault("task_end_time", EVENT_TIME)
        if attributes.get("task_end_time", "") is None:
            del attributes["task_end_time"]
        identifier = identifier or make_export_id(CLUSTER, day, attempt)
        self.client("rds").start_export_task(
            ExportTaskIdentifier=identifier,
            SourceArn=source_arn or self.snapshot_arn,
            S3BucketName=bucket or self.config.export_bucket,
            S3Prefix=self.config.export_prefix,
            IamRoleArn=self.config.export_role_arn,
            KmsKeyId=self.config.export_kms_key_arn,
        )
        if attributes:
            self.set_task(identifier, **attributes)
        return identifier

    @staticmethod
    def set_task(identifier: str, **attributes: Any) -> None:
        """moto's ExportTask is always `complete` with no start time; real tasks move, so tests move them.

        Attribute names are moto's (status, task_start_time, failure_cause, warning_message); moto
        serialises them as the API's Status, TaskStartTime, FailureCause, WarningMessage.
        """
        task = get_backend("rds")[ACCOUNT][REGION].export_tasks[identifier]
        for name, value in attributes.items():
            setattr(task, name, value)

    def tasks(self) -> list[dict[str, Any]]:
        return self.client("rds").describe_export_tasks()["ExportTasks"]

    # -- glue -----------------------------------------------------------------------------------------
    def hold_glue_runs(self) -> None:
        """Keep job runs in STARTING (moto's default finishes them the moment they are read)."""
        self._transition({"progression": "manual", "times": 10_000})

    def release_glue_runs(self) -> None:
        """Let held runs finish (moto's default progression) after hold_glue_runs."""
        self._transition(None)

    def _transition(self, transition: dict[str, Any] | None) -> None:
        url = f"{self.emulator.endpoint_url}/moto-api/state-manager/"
        body: dict[str, Any] = {"model_name": "glue::job_run"}
        if transition is None:
            requests.post(url + "unset-transition", data=json.dumps(body), timeout=10).raise_for_status()
        else:
            body["transition"] = transition
            requests.post(url + "set-transition", data=json.dumps(body), timeout=10).raise_for_status()

    def job_runs(self) -> list[dict[str, Any]]:
        return self.client("glue").get_job_runs(JobName=self.config.glue_job_name)["JobRuns"]

    @staticmethod
    def make_glue_retry(run_id: str, previous_run_id: str) -> None:
        """Makes a run look like Glue's automatic retry (Attempt 1, PreviousRunId); moto always answers Attempt 0."""
        run = next(r for r in get_backend("glue")[ACCOUNT][REGION].jobs["sor_job"].job_runs if r.job_run_id == run_id)
        as_dict = run.as_dict
        run.as_dict = lambda: {**as_dict(), "Attempt": 1, "PreviousRunId": previous_run_id}  # type: ignore[method-assign]

    def write_manifest(
        self, day: dt.date, export_id: str, status: str = "SUCCEEDED", *, retryable: bool | None = None
    ) -> None:
        """The day's run manifest as the job writes it (its keys the Lambdas read: docs/contracts.md)."""
        key = manifest_key(self.config.catalog_database, day)
        body: dict[str, Any] = {
            "manifest_version": 1, "status": status, "export_id": export_id, "ingestion_date": day.isoformat(),
        }  # fmt: skip
        if retryable is not None:
            body["retryable"] = retryable
            body["tables"] = [{"name": "public_orders", "status": "FAILED", "failure": "transient"}]
        self.client("s3").put_object(Bucket=self.config.sor_bucket, Key=key, Body=json.dumps(body).encode())

    def deny_reads_of_missing_keys(self) -> Fault:
        """S3 as it answers a caller without s3:ListBucket: GetObject on a missing key is 403 AccessDenied, not 404
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions")."""
        buckets = get_backend("s3")[ACCOUNT]["global"].buckets

        def missing(request: Request) -> bool:
            if request.service != "s3" or request.operation != "GetObject":
                return False
            bucket, key = request.bucket_key
            return bucket in buckets and key not in buckets[bucket].keys

        return self.emulator.add_fault(
            Fault(match=missing, status=403, code="AccessDenied", message="Access Denied", times=None)
        )

    # -- events ---------------------------------------------------------------------------------------
    @staticmethod
    def event(name: str, source_arn: str | None = None) -> dict[str, Any]:
        """A fixture from tests/events, pointed at a source of this test when given."""
        event = json.loads((EVENTS / name).read_text())
        if source_arn is not None:
            event["resources"] = [source_arn]
            event["detail"]["SourceArn"] = source_arn
            event["detail"]["SourceIdentifier"] = source_arn.split(":", 6)[-1]
        return event


# Creating a botocore client costs ~80 ms; the emulator's endpoint is fixed for the whole test session and
# clients hold no state, so each kind is made once and reused by every test.
_CLIENT_CACHE: dict[tuple[str, str, bool, str | None], Any] = {}
_SESSION: list[boto3.Session] = []
_SERVICES = ("rds", "glue", "s3", "sns", "dynamodb")  # the services functions/aws_clients.LambdaClients hands out


def _cached_client(session: boto3.Session, service: str, *, retries: bool = True, as_role: str | None = None) -> Any:
    """`as_role` None: the admin key (the tests' own set-up and reads); else `session` carries that role's key."""
    key = (os.environ["AWS_ENDPOINT_URL"], service, retries, as_role)
    if key not in _CLIENT_CACHE:
        if as_role is None and not _SESSION:
            _SESSION.append(session)
        config = None if retries else BotoConfig(retries={"mode": "standard", "max_attempts": 1})
        _CLIENT_CACHE[key] = (session if as_role is not None else _SESSION[0]).client(service, config=config)
    return _CLIENT_CACHE[key]


def _shared_clients(session: boto3.Session) -> LambdaClients:
    """The code's own LambdaClients (its retry settings), made once per test session."""
    key = (os.environ["AWS_ENDPOINT_URL"], "<clients>", True, None)
    if key not in _CLIENT_CACHE:
        _CLIENT_CACHE[key] = LambdaClients(session=session)
    return _CLIENT_CACHE[key]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return dict(ENV)


# The role each test module's code runs as, under the emulator's IAM enforcement (local/emulator/enforcement.py).
ROLE_OF_MODULE = {
    "test_start_export": "StartExportRole",
    "test_start_request": "StartExportRole",
    "test_on_export_event": "OnExportEventRole",
    "test_reconcile": "OnExportEventRole",
    "test_incidents": "OnExportEventRole",
    "test_manifests": "OnExportEventRole",
    "test_sources": "OnExportEventRole",
    # Outside tests/functions, with the same fixtures. A module that runs both functions names its default here
    # and signs the other function's calls with clients_as / no_retry_clients(role).
    "test_lambda_faults": "OnExportEventRole",
    "test_bad_input": "StartExportRole",
}


def _enforce(emulator: Emulator, env: dict[str, str]) -> Enforcer:
    """Turns IAM enforcement on with template.yaml's policies evaluated for this fixture's names.

    The names are mapped onto the template's resources: the SOR bucket as ExistingSorBucketName, the rest as the
    physical ids of ExportBucket, SorJob, AlertTopic, DataKey, ExportRole and IncidentTable."""
    parameters = {
        "ClusterIdentifier": CLUSTER,
        "ExistingSorBucketName": env["SOR_BUCKET"],
        "CatalogDatabaseName": env["CATALOG_DATABASE"],
    }
    physical = {
        "ExportBucket": env["EXPORT_BUCKET"],
        "SorJob": env["GLUE_JOB_NAME"],
        "AlertTopic": env["ALERT_TOPIC_ARN"],
        "DataKey": env["EXPORT_KMS_KEY_ARN"].rsplit("/", 1)[-1],
        "ExportRole": env["EXPORT_ROLE_ARN"].rsplit("/", 1)[-1],
        "IncidentTable": env["INCIDENT_TABLE"],
    }
    enforcer = enforcer_for(parameters, physical)
    emulator.enforcer = enforcer
    return enforcer


_ROLE_CLIENTS: dict[tuple[str, str], LambdaClients] = {}
_ROLE_SESSIONS: dict[str, boto3.Session] = {}


@pytest.fixture
def pipeline(
    emulator: Emulator, aws: boto3.Session, env: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[Pipeline]:
    s3 = _cached_client(aws, "s3")
    for bucket in (env["EXPORT_BUCKET"], env["SOR_BUCKET"]):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    sns, sqs = _cached_client(aws, "sns"), _cached_client(aws, "sqs")
    # Encrypted with the stack key, as template.yaml's AlertTopic (KmsMasterKeyId: DataKey.Arn): under enforcement a
    # Publish is also the KMS use SNS makes for the publisher, evaluated against the key policy.
    topic = sns.create_topic(Name="aurora-sor-alerts", Attributes={"KmsMasterKeyId": env["EXPORT_KMS_KEY_ARN"]})[
        "TopicArn"
    ]
    assert topic == env["ALERT_TOPIC_ARN"]
    queue_url = sqs.create_queue(QueueName="alerts-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    # As template.yaml's IncidentTable (key, billing, TTL and encryption): the incident store the Lambdas share.
    _cached_client(aws, "dynamodb").create_table(
        TableName=env["INCIDENT_TABLE"],
        AttributeDefinitions=[{"AttributeName": "incident", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "incident", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
    )
    _cached_client(aws, "glue").create_job(
        Name=env["GLUE_JOB_NAME"],
        Role=f"arn:aws:iam::{ACCOUNT}:role/aurora-sor-glue",
        Command={"Name": "glueetl", "ScriptLocation": "s3://aurora-sor-artifacts/sor_job.py", "PythonVersion": "3"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
    )
    rds = _cached_client(aws, "rds")
    cluster = rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="x" * 12,
    )["DBCluster"]
    # moto takes an automated snapshot when the cluster is created, like RDS's first backup.
    snap = rds.describe_db_cluster_snapshots(DBClusterIdentifier=CLUSTER, SnapshotType="automated")[
        "DBClusterSnapshots"
    ][0]
    role = ROLE_OF_MODULE.get(request.module.__name__.rsplit(".", 1)[-1])
    clients = _shared_clients(aws)
    if role is not None:
        _enforce(emulator, env)
    pipeline = Pipeline(
        emulator=emulator,
        session=aws,
        config=load_config(env),
        clients=clients,
        queue_url=queue_url,
        role=role,
        cluster_arn=cluster["DBClusterArn"],
        snapshot_arn=snap["DBClusterSnapshotArn"],
        snapshot_time=snap["SnapshotCreateTime"].astimezone(dt.UTC),
    )
    if role is not None:
        pipeline.clients = pipeline.clients_as(role)
    yield pipeline
    pipeline.release_glue_runs()


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()
