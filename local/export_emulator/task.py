"""What RDS does after StartExportTask, for a task the emulator knows about.

moto records StartExportTask but writes nothing to S3 (docs/aws-facts.md "moto quirks"); `complete_export` fills the
gap by writing, at the task's S3 location and with the task's own settings, exactly what `render.render_export` says
RDS writes for the given source tables, then ends moto's task. This module changes with what the emulator knows of
a task (moto's model); what an export holds is the other modules'.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from local.export_emulator.layout import export_root
from local.export_emulator.metadata import arn_parts
from local.export_emulator.render import render_export
from local.export_emulator.source import SourceTable


@dataclass(frozen=True)
class WrittenExport:
    """What `complete_export` wrote: where, how many objects and Parquet files, and when the task ended."""

    export_id: str
    uri: str
    source_arn: str
    objects: int
    parquet_files: int
    bytes: int
    ended_at: dt.datetime  # the task's TaskEndTime, which the completion event's time must match


def complete_export(s3: Any, rds: Any, export_id: str, engine: str, tables: list[SourceTable]) -> WrittenExport:
    """Writes the export of `tables` where the task `export_id` asked for it, with the task's own settings."""
    tasks = rds.describe_export_tasks(ExportTaskIdentifier=export_id)["ExportTasks"]
    if not tasks:
        raise LookupError(f"no export task {export_id!r} in the emulator")
    task = tasks[0]
    snapshot_time = task.get("SnapshotTime") or dt.datetime.now(dt.UTC)
    objects = render_export(
        engine=engine,
        export_id=export_id,
        source_arn=task["SourceArn"],
        s3_bucket=task["S3Bucket"],
        s3_prefix=task.get("S3Prefix", ""),
        tables=tables,
        snapshot_time=snapshot_time.astimezone(dt.UTC),
        iam_role_arn=task.get("IamRoleArn"),
        kms_key_id=task.get("KmsKeyId"),
        export_only=task.get("ExportOnly", []),
    )
    # RDS encrypts what it writes with the task's KMS key (StartExportTask's required KmsKeyId).
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": task["KmsKeyId"]} if task.get("KmsKeyId") else {}
    for key, body in objects.items():
        s3.put_object(Bucket=task["S3Bucket"], Key=key, Body=body, **encryption)
    root = export_root(task.get("S3Prefix", ""), export_id)
    parquet = [body for key, body in objects.items() if key.endswith(".parquet")]
    ended_at = _end_task(export_id, task["SourceArn"])
    return WrittenExport(
        export_id=export_id,
        uri=f"s3://{task['S3Bucket']}/{root}",
        source_arn=task["SourceArn"],
        objects=len(objects),
        parquet_files=len(parquet),
        bytes=sum(len(b) for b in parquet),
        ended_at=ended_at,
    )


def _end_task(export_id: str, source_arn: str) -> dt.datetime:
    """Sets TaskEndTime on moto's task (moto never sets it), as RDS does when an export ends.

    The emulator runs in this process, so its model is at hand; account and Region come from the source ARN.
    """
    from moto.backends import get_backend

    region, account = arn_parts(source_arn)
    ended_at = dt.datetime.now(dt.UTC)
    get_backend("rds")[account][region].export_tasks[export_id].task_end_time = ended_at
    return ended_at
