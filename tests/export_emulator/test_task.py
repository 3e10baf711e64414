"""complete_export (local/export_emulator/task.py): what RDS does after StartExportTask, for a task moto knows about.

moto records StartExportTask but writes nothing and never sets TaskEndTime (docs/aws-facts.md "moto quirks");
complete_export writes the task's export where the task asked, encrypted with the task's KMS key, and ends the task.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.export_emulator.layout import export_root
from local.export_emulator.render import render_export
from local.export_emulator.task import complete_export
from tests.exports import PG, make_table

CLUSTER = "shop-cluster"
BUCKET = "rds-exports"
PREFIX = "exports/nightly"
EXPORT_ID = "shop-2026-11-26"
ROLE_ARN = "arn:aws:iam::123456789012:role/aurora-sor-export"
# Where the task exports, as render_export names it.
TARGET = {"export_id": EXPORT_ID, "s3_bucket": BUCKET, "s3_prefix": PREFIX}


def _started_task(aws: Any) -> tuple[str, str]:
    """(snapshot ARN, KMS key ARN) of an export task started in moto the way start_export starts one."""
    rds = aws.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="pw123456789",
    )
    snapshot = rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier="snap-1")
    snapshot_arn = snapshot["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    aws.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    rds.start_export_task(
        ExportTaskIdentifier=EXPORT_ID,
        SourceArn=snapshot_arn,
        S3BucketName=BUCKET,
        S3Prefix=PREFIX,
        IamRoleArn=ROLE_ARN,
        KmsKeyId=key_arn,
    )
    return snapshot_arn, key_arn


def test_complete_export_writes_the_task_export_encrypted_with_its_key_and_ends_the_task(
    emulator: Any, aws: Any
) -> None:
    snapshot_arn, key_arn = _started_task(aws)
    tables = [make_table("orders", {"id": "bigint", "note": "text"}, [(1, "a"), (2, None)])]
    before = dt.datetime.now(dt.UTC)
    written = complete_export(aws.client("s3"), aws.client("rds"), EXPORT_ID, PG, tables)

    assert written.uri == f"s3://{BUCKET}/{export_root(PREFIX, EXPORT_ID)}"
    assert written.source_arn == snapshot_arn
    s3 = aws.client("s3")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{PREFIX}/{EXPORT_ID}/")["Contents"]]
    task = aws.client("rds").describe_export_tasks(ExportTaskIdentifier=EXPORT_ID)["ExportTasks"][0]
    # moto's task has no SnapshotTime (complete_export then takes the present), so only the keys and the data files
    # are compared with a render of the same task; the metadata is checked for the task's own settings.
    expected = render_export(
        engine=PG, source_arn=snapshot_arn, tables=tables, snapshot_time=written.ended_at, **TARGET
    )
    assert sorted(listed) == sorted(expected)
    assert written.objects == len(expected)
    parquet = [k for k in expected if k.endswith(".parquet")]
    assert written.parquet_files == len(parquet)
    assert written.bytes == sum(len(expected[k]) for k in parquet)
    for key in listed:
        head = s3.head_object(Bucket=BUCKET, Key=key)
        assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    for key in parquet:
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == expected[key]
    info_key = f"{export_root(PREFIX, EXPORT_ID)}export_info_{EXPORT_ID}.json"
    info = json.loads(s3.get_object(Bucket=BUCKET, Key=info_key)["Body"].read())
    assert (info["kmsKeyId"], info["iamRoleArn"], info["s3Prefix"]) == (key_arn, ROLE_ARN, PREFIX)
    assert before <= written.ended_at <= dt.datetime.now(dt.UTC)
    assert task["TaskEndTime"] == written.ended_at


def test_complete_export_refuses_a_task_the_emulator_does_not_know(emulator: Any, aws: Any) -> None:
    # DescribeExportTasks raises ExportTaskNotFoundFault for an unknown identifier (botocore model
    # rds/2014-10-31/service-2.json, DescribeExportTasks "errors"); nothing is written.
    with pytest.raises(ClientError) as error:
        complete_export(aws.client("s3"), aws.client("rds"), "never-started", PG, [])
    assert error.value.response["Error"]["Code"] == "ExportTaskNotFound"
    assert not emulator.calls("s3", "PutObject")
