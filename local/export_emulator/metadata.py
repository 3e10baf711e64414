"""The export's JSON metadata files: export_info_<id>.json and export_tables_info_<id>_from_<n>_to_<m>.json, with the
keys docs/aws-facts.md "Export metadata files" quotes from a real export (and DescribeExportTasks' WarningMessage for
skipped tables).

This module changes when a fact about those documents changes; the data files are `layout`'s.

UNVERIFIED, marked next to the code: every key beyond those quoted, time formats, GB units, the `from_<n>_to_<m>`
numbering, `warningMessage` placement and the skipped tables' reasons. Readers of exports must not depend on them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from local.export_emulator.conversion import exported_type
from local.export_emulator.source import POSTGRESQL, SourceTable, normalize_engine


def target_name(engine: str, table: SourceTable) -> str:
    """perTableStatus "target": "db.schema.table" (PostgreSQL, seen in a real export) or "db.table" (MySQL,
    ASSUMPTION: by analogy with ExportOnly's `database.table` format for Aurora MySQL)."""
    if normalize_engine(engine) == POSTGRESQL:
        return f"{table.database}.{table.schema}.{table.name}"
    return f"{table.database}.{table.name}"


def _iso(moment: dt.datetime) -> str:
    # UNVERIFIED format: ISO 8601 UTC with milliseconds, like the other AWS JSON documents.
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} must be time zone aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def arn_parts(source_arn: str) -> tuple[str, str]:
    """(Region, account) of an RDS ARN; ValueError for anything else."""
    parts = source_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "rds":
        raise ValueError(f"source_arn {source_arn!r} is not an RDS ARN")
    return parts[3], parts[4]


def default_kms_key_id(source_arn: str) -> str:
    """The KMS key ARN the writer records (and encrypts with) when none is given: same account and Region."""
    region, account = arn_parts(source_arn)
    return f"arn:aws:kms:{region}:{account}:key/00000000-0000-4000-8000-000000000000"


def _gb(size: int) -> float:
    return size / 2**30  # GiB; AWS does not say GB or GiB (UNVERIFIED)


def table_status(
    engine: str, table: SourceTable, files_written: int, size: int, start: dt.datetime, end: dt.datetime
) -> dict[str, Any]:
    """The table's perTableStatus entry: `files_written` part files of `size` bytes, extracted from `start` to `end`."""
    complete = table.status == "COMPLETE"
    planned = table.batches * table.files_per_batch
    mappings = []
    for column in table.columns:
        rule = exported_type(engine, column.source_type)
        mappings.append(
            {
                "columnName": column.name,
                "originalType": rule.original_type,
                "expectedExportedType": rule.expected,
                "originalCharMaxLength": rule.char_max_length,
                "originalNumPrecision": rule.num_precision,
                "originalDateTimePrecision": rule.datetime_precision,
            }
        )
    # Key order and the time format are those of the real sample (docs/aws-facts.md "Export metadata files").
    entry: dict[str, Any] = {
        "tableStatistics": {
            "extractionStartTime": _table_time(start),
            "extractionEndTime": _table_time(end),
            "partitioningInfo": {
                "numberOfPartitions": planned,
                "numberOfCompletedPartitions": planned if complete else files_written,
            },
        },
    }
    if table.schema_metadata:
        entry["schemaMetadata"] = {"originalTypeMappings": mappings}
    entry.update({"status": table.status, "sizeGB": _gb(size), "target": target_name(engine, table)})
    return entry


def _table_time(moment: dt.datetime) -> str:
    # The real sample prints "Jul 19, 2023, 11:21:00 PM" (English month, 12-hour clock, no zone: taken as UTC here,
    # UNVERIFIED). Built by hand: strftime's %b and %p follow the process locale.
    utc = moment.astimezone(dt.UTC)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[utc.month - 1]
    hour = utc.hour % 12 or 12
    return f"{month} {utc.day}, {utc.year}, {hour}:{utc.minute:02d}:{utc.second:02d} {'AM' if utc.hour < 12 else 'PM'}"


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def tables_info_files(export_id: str, statuses: Sequence[dict[str, Any]], per_file: int) -> dict[str, bytes]:
    """export_tables_info_<id>_from_<n>_to_<m>.json per `per_file` table statuses, n and m 1-based and inclusive
    (UNVERIFIED numbering), each `{"perTableStatus": [...]}`; keys are relative to the export root."""
    files = {}
    for index in range(0, len(statuses), per_file):
        chunk = list(statuses[index : index + per_file])
        name = f"export_tables_info_{export_id}_from_{index + 1}_to_{index + len(chunk)}.json"
        files[name] = _json_bytes({"perTableStatus": chunk})
    return files


def export_info_file(
    *,
    export_id: str,
    source_arn: str,
    export_only: Sequence[str],
    snapshot_time: dt.datetime,
    task_start_time: dt.datetime,
    task_end_time: dt.datetime,
    s3_bucket: str,
    s3_prefix: str,
    exported_files_path: str,
    iam_role_arn: str | None,
    kms_key_id: str | None,
    status: str,
    exported_bytes: int,
    skipped: Sequence[dict[str, str]],
) -> dict[str, bytes]:
    """{"export_info_<id>.json": body} with the keys docs/aws-facts.md lists. Skipped tables (`{"target", "reason"}`)
    give a `warningMessage`, a JSON text shaped like DescribeExportTasks' WarningMessage (docs/aws-facts.md) with
    `skippedTables`; the key and the element shape are UNVERIFIED."""
    account = arn_parts(source_arn)[1]
    info: dict[str, Any] = {
        "exportTaskIdentifier": export_id,
        "sourceArn": source_arn,
        "exportOnly": list(export_only),
        "snapshotTime": _iso(snapshot_time),
        "taskStartTime": _iso(task_start_time),
        "taskEndTime": _iso(task_end_time),
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix,
        "exportedFilesPath": exported_files_path,
        "iamRoleArn": iam_role_arn or f"arn:aws:iam::{account}:role/rds-s3-export",
        "kmsKeyId": kms_key_id or default_kms_key_id(source_arn),
        "status": status,
        "percentProgress": 100,
        "totalExportedDataInGB": _gb(exported_bytes),
    }
    if skipped:
        info["warningMessage"] = json.dumps(
            {"skippedTables": list(skipped), "skippedObjectives": [], "general": []}, separators=(",", ":")
        )
    return {f"export_info_{export_id}.json": _json_bytes(info)}
