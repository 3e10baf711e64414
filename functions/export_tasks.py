"""Our RDS export tasks: reading them (DescribeExportTasks) and starting one (StartExportTask).

API facts (botocore rds service-2.json; docs/aws-facts.md "StartExportTask", "DescribeExportTasks / ExportTask"):
statuses are STARTING, IN_PROGRESS, COMPLETE, CANCELING, CANCELED, FAILED (`ExportTask.Status`, a String the
model documents with that list, so a status outside it is kept as text rather than refused); filter names
`s3-bucket` and `source-arn` exist; results are paginated by Marker. moto 5.2 answers statuses in lower case and
ignores Filters and SourceArn, so every filter is applied again here and statuses are read upper-cased.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from export_ids import ExportId, parse_for_cluster

if TYPE_CHECKING:
    # Annotations only: config.py imports none of the modules that import this one.
    from config import Config

logger = Logger(child=True)


class ExportTaskStatus(StrEnum):
    """An export task's Status, as botocore rds service-2.json (ExportTask) lists them."""

    STARTING = "STARTING"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETE = "COMPLETE"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"
    FAILED = "FAILED"


# The statuses of a task that did not or will not complete, and of one still exporting.
FAILED_STATES = frozenset({ExportTaskStatus.FAILED, ExportTaskStatus.CANCELED, ExportTaskStatus.CANCELING})
RUNNING_STATES = frozenset({ExportTaskStatus.STARTING, ExportTaskStatus.IN_PROGRESS})


@dataclass(frozen=True)
class ExportTask:
    export_id: str
    parsed: ExportId
    status: ExportTaskStatus | str  # text only for a status the model does not list (reconcile reports it)
    source_arn: str
    s3_bucket: str
    s3_prefix: str
    task_start_time: dt.datetime | None
    failure_cause: str
    warning_message: str
    # TaskEndTime (botocore rds service-2.json, ExportTask): set once the task has ended, whatever its status.
    task_end_time: dt.datetime | None = None

    @property
    def ingestion_date(self) -> dt.date:
        return self.parsed.ingestion_date


def _status(raw: Any) -> ExportTaskStatus | str:
    text = str(raw).upper()
    try:
        return ExportTaskStatus(text)
    except ValueError:
        return text


def _from_api(raw: dict[str, Any], parsed: ExportId) -> ExportTask:
    start, end = raw.get("TaskStartTime"), raw.get("TaskEndTime")
    return ExportTask(
        export_id=raw["ExportTaskIdentifier"],
        parsed=parsed,
        status=_status(raw.get("Status", "")),
        source_arn=str(raw.get("SourceArn", "")),
        s3_bucket=str(raw.get("S3Bucket", "")),
        s3_prefix=str(raw.get("S3Prefix", "") or ""),
        task_start_time=start if isinstance(start, dt.datetime) else None,
        failure_cause=str(raw.get("FailureCause", "") or ""),
        warning_message=str(raw.get("WarningMessage", "") or ""),
        task_end_time=end if isinstance(end, dt.datetime) else None,
    )


def list_our_tasks(rds: Any, config: Config, *, source_arn: str | None = None) -> list[ExportTask]:
    """Every export task of this cluster's pipeline (our id prefix and cluster part, our bucket)."""
    kwargs: dict[str, Any] = {"Filters": [{"Name": "s3-bucket", "Values": [config.export_bucket]}]}
    if source_arn:
        kwargs["SourceArn"] = source_arn
    tasks: list[ExportTask] = []
    for page in rds.get_paginator("describe_export_tasks").paginate(**kwargs):
        for raw in page.get("ExportTasks", []):
            identifier = str(raw.get("ExportTaskIdentifier", ""))
            parsed = parse_for_cluster(identifier, config.cluster_identifier)
            if parsed is None or raw.get("S3Bucket") != config.export_bucket:
                continue
            if source_arn and raw.get("SourceArn") != source_arn:
                continue
            tasks.append(_from_api(raw, parsed))
    return tasks


@dataclass(frozen=True)
class ExportWarnings:
    skipped_tables: list[str]
    other: list[str]

    def __bool__(self) -> bool:
        return bool(self.skipped_tables or self.other)


def _skipped_table_name(entry: Any) -> str:
    """A skippedTables entry as the Glue job names it (glue/sor_job/plan.py skipped_table_name;
    tests/test_contracts.py): the entry itself, its `target` when it is an object with one, else the entry as sorted
    JSON."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("target"), str):
        return entry["target"]
    return json.dumps(entry, sort_keys=True)


def parse_warning_message(text: str) -> ExportWarnings:
    """WarningMessage is a JSON string (docs/aws-facts.md); anything unexpected is kept verbatim, not dropped."""
    if not text.strip():
        return ExportWarnings([], [])
    try:
        data = json.loads(text)
    except ValueError:
        return ExportWarnings([], [text])
    if not isinstance(data, dict):
        return ExportWarnings([], [text])
    skipped = [_skipped_table_name(t) for t in data.get("skippedTables") or []]
    other: list[str] = []
    for key, value in data.items():
        if key == "skippedTables" or not value:
            continue
        other.append(f"{key}: {json.dumps(value, sort_keys=True)}")
    return ExportWarnings(skipped, other)


def submit_export_task(
    rds: Any, config: Config, *, export_id: str, source_arn: str, export_only: Sequence[str]
) -> dict[str, Any]:
    """StartExportTask with the pipeline's bucket, prefix, role and key. Raises botocore errors as they come."""
    kwargs: dict[str, Any] = {
        "ExportTaskIdentifier": export_id,
        "SourceArn": source_arn,
        "S3BucketName": config.export_bucket,
        "IamRoleArn": config.export_role_arn,
        "KmsKeyId": config.export_kms_key_arn,
    }
    if config.export_prefix:
        kwargs["S3Prefix"] = config.export_prefix
    if export_only:
        kwargs["ExportOnly"] = list(export_only)
    return rds.start_export_task(**kwargs)
