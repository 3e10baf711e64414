"""What one export writes under `<S3Prefix>/<export id>/`: `render_export` composes the data files (`layout`, with
values from `conversion`) and the JSON metadata files (`metadata`) into {S3 key: bytes}, pure and deterministic;
`write_export` only puts those objects. This module changes when the order of the export's work changes (which
table is skipped, failed or empty, when each is extracted); the facts themselves live in the modules it composes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from local.export_emulator.conversion import exported_table
from local.export_emulator.layout import export_root, parquet_bytes, part_files, skip_reason, table_folder
from local.export_emulator.metadata import (
    arn_parts,
    default_kms_key_id,
    export_info_file,
    table_status,
    tables_info_files,
    target_name,
)
from local.export_emulator.source import SourceTable, normalize_engine


def render_export(
    *,
    engine: str,
    export_id: str,
    source_arn: str,
    s3_bucket: str,
    s3_prefix: str,
    tables: Sequence[SourceTable],
    snapshot_time: dt.datetime,
    tables_per_info_file: int = 100,
    extra_objects: dict[str, bytes] | None = None,
    write_success_markers: bool = True,
    seed: int = 0,
    empty_table_part_file: bool = True,
    export_status: str = "COMPLETE",
    iam_role_arn: str | None = None,
    kms_key_id: str | None = None,
    export_only: Sequence[str] = (),
    task_start_time: dt.datetime | None = None,
    row_group_rows: int | None = None,
) -> dict[str, bytes]:
    """Everything RDS writes under `<s3_prefix>/<export_id>/`, as {S3 key: body}. Pure and deterministic.

    - Part files per table and layout (see SourceTable), gzip Parquet (`parquet_bytes`), each cut into row groups
      of `row_group_rows` rows (default: DEFAULT_ROW_GROUPS_PER_FILE groups per file).
    - `_SUCCESS` (empty) in every folder that holds part files, when `write_success_markers`. UNVERIFIED:
      docs/aws-facts.md only says such markers are seen in practice; this is where Spark writes them.
    - Empty tables: one part file with the schema and 0 rows when `empty_table_part_file` (what Spark does
      for an empty result), else no file at all. UNVERIFIED which one RDS does: readers must accept both.
    - Skipped tables (docs/aws-facts.md rules, see `skip_reason`) write nothing and are not in perTableStatus;
      export_info gets a `warningMessage`, a JSON text shaped like DescribeExportTasks' WarningMessage
      (docs/aws-facts.md) with `skippedTables: [{"target", "reason"}]`. The key and element shape are UNVERIFIED.
    - export_tables_info_<id>_from_<n>_to_<m>.json per `tables_per_info_file` tables, n and m 1-based and
      inclusive (UNVERIFIED numbering), each `{"perTableStatus": [...]}` shaped as docs/aws-facts.md quotes.
    - export_info_<id>.json with the keys docs/aws-facts.md lists.
    `extra_objects` (key relative to the export root -> body) are added as is, e.g. to plant junk files.
    """
    engine = normalize_engine(engine)
    if tables_per_info_file < 1:
        raise ValueError("tables_per_info_file must be >= 1")
    if ":" in s3_prefix:
        raise ValueError("S3Prefix must not contain ':' (docs/aws-facts.md)")
    arn_parts(source_arn)  # a bad ARN is refused before any table is converted
    root = export_root(s3_prefix, export_id)
    started = task_start_time or snapshot_time + dt.timedelta(minutes=5)
    clock = started + dt.timedelta(minutes=10)  # the restore before the first table (docs/aws-facts.md: long STARTING)
    objects: dict[str, bytes] = {}
    statuses: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    folders_seen: dict[str, str] = {}
    total_bytes = 0
    for table in tables:
        reason = skip_reason(engine, table)
        if reason is not None:
            skipped.append({"target": target_name(engine, table), "reason": reason})
            continue
        folder = table_folder(engine, table)
        if folder in folders_seen:
            raise ValueError(f"tables {folders_seen[folder]!r} and {table.name!r} both land in folder {folder!r}")
        folders_seen[folder] = table.name
        data = exported_table(engine, table)
        empty_file = empty_table_part_file if table.empty_part_file is None else table.empty_part_file
        parts = part_files(engine, table, data, seed, export_id, empty_file)
        complete = table.status == "COMPLETE"
        if not complete:
            parts = parts[: table.failed_files_written]
        table_bytes = 0
        for part in parts:
            directory = f"{root}{folder}/" + (f"{part.folder}/" if part.folder else "")
            body = parquet_bytes(part.rows, row_group_rows)
            objects[directory + part.name] = body
            table_bytes += len(body)
            if write_success_markers and complete:
                objects[directory + "_SUCCESS"] = b""
        total_bytes += table_bytes
        extraction_start = clock
        clock += dt.timedelta(seconds=30 + len(parts))
        statuses.append(table_status(engine, table, len(parts), table_bytes, extraction_start, clock))
    metadata = tables_info_files(export_id, statuses, tables_per_info_file) | export_info_file(
        export_id=export_id,
        source_arn=source_arn,
        export_only=export_only,
        snapshot_time=snapshot_time,
        task_start_time=started,
        task_end_time=clock + dt.timedelta(seconds=5),
        s3_bucket=s3_bucket,
        s3_prefix=s3_prefix,
        exported_files_path=f"s3://{s3_bucket}/{root}",
        iam_role_arn=iam_role_arn,
        kms_key_id=kms_key_id,
        status=export_status,
        exported_bytes=total_bytes,
        skipped=skipped,
    )
    for name, body in metadata.items():
        objects[root + name] = body
    for key, body in (extra_objects or {}).items():
        objects[root + key.lstrip("/")] = body
    return dict(sorted(objects.items()))


def write_export(s3_client: Any, *, sse_kms: bool = False, **kwargs: Any) -> str:
    """Puts every object of `render_export(**kwargs)` into the bucket; returns "s3://bucket/prefix/id/".

    RDS encrypts what it exports with the task's KMS key (docs/aws-facts.md "IAM and KMS": readers need kms:Decrypt);
    `sse_kms=True` does the same (SSE-KMS with `kms_key_id`, or `default_kms_key_id`), so a reader's copy
    path meets SSE-KMS sources. Off by default: the bucket's default encryption applies.
    """
    objects = render_export(**kwargs)
    bucket = kwargs["s3_bucket"]
    encryption: dict[str, str] = {}
    if sse_kms:
        key_id = kwargs.get("kms_key_id") or default_kms_key_id(kwargs["source_arn"])
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    for key, body in objects.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, **encryption)
    return f"s3://{bucket}/{export_root(kwargs['s3_prefix'], kwargs['export_id'])}"
