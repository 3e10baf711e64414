"""Run history: one Parquet row per run, crashed runs included, for Athena (the pretty-printed manifest stays for
people). The stack registers the folder as the table `_runs` of the catalog database (template.yaml
RunHistoryTable), so `SELECT ... FROM sor."_runs"` answers which nights failed, how long they took, how many rows
they published and which tables failed (README "Operations", "Run history").

The name cannot be a SOR table's: every SOR table name starts with a letter (names.py prefixes `t_` otherwise), and
this one starts with an underscore, which Athena accepts (in DDL within backticks, "Name databases, tables, and
columns", Athena User Guide; in queries within double quotes). The objects live under the manifests' root, which
retention never removes, one object a run under a name that sorts by day then time, so history is never rewritten.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sor_job.clients import JobClients
from sor_job.config import JobConfig
from sor_job.layout import MANIFEST_ROOT

log = logging.getLogger(__name__)

RUN_HISTORY_TABLE = "_runs"
FAILED_TABLE = pa.struct(
    [("name", pa.string()), ("source", pa.string()), ("failure", pa.string()), ("error", pa.string())]
)
# The table's columns, in this order, with these types: template.yaml RunHistoryTable says the same
# (tests/template/test_template_run_history.py ties the two).
RUN_SCHEMA = pa.schema([
    ("ingestion_date", pa.date32()),
    ("status", pa.string()),
    ("retryable", pa.bool_()),
    ("export_id", pa.string()),
    ("job_run_id", pa.string()),
    ("source_engine", pa.string()),
    ("started_at", pa.timestamp("us")),  # UTC, as wall time (docs/sor-job.md "Timestamps in Parquet")
    ("finished_at", pa.timestamp("us")),
    ("seconds", pa.float64()),
    ("tables_published", pa.int64()),
    ("tables_empty", pa.int64()),
    ("tables_failed", pa.int64()),
    ("files", pa.int64()),
    ("bytes", pa.int64()),
    ("rows", pa.int64()),
    ("rejected_values", pa.int64()),
    ("partitions_removed", pa.int64()),
    ("error", pa.string()),
    ("failed_tables", pa.list_(FAILED_TABLE)),
])  # fmt: skip


def _utc_wall(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC).replace(tzinfo=None)


def run_record(manifest: Mapping[str, Any]) -> pa.Table:
    """The one row of a run, from its manifest (a crashed run's included)."""
    tables = manifest.get("tables", [])
    statuses = [t.get("status") for t in tables]
    failed = [
        {k: (None if t.get(k) is None else str(t.get(k))) for k in ("name", "source", "failure", "error")}
        for t in tables
        if t.get("status") == "FAILED"
    ]
    totals = manifest.get("totals", {})
    row = {
        "ingestion_date": dt.date.fromisoformat(manifest["ingestion_date"]),
        "status": str(manifest["status"]),
        "retryable": bool(manifest.get("retryable")),
        "export_id": manifest.get("export_id"),
        "job_run_id": manifest.get("job_run_id"),
        "source_engine": manifest.get("source_engine"),
        "started_at": _utc_wall(manifest["started_at"]),
        "finished_at": _utc_wall(manifest["finished_at"]),
        "seconds": float(manifest.get("seconds") or 0),
        "tables_published": statuses.count("PUBLISHED"),
        "tables_empty": statuses.count("EMPTY"),
        "tables_failed": statuses.count("FAILED"),
        "files": int(totals.get("files", 0)),
        "bytes": int(totals.get("bytes", 0)),
        "rows": int(totals.get("rows", 0)),
        "rejected_values": sum(sum((t.get("rejected_values") or {}).values()) for t in tables),
        "partitions_removed": int((manifest.get("retention") or {}).get("removed_days", 0)),
        "error": manifest.get("error"),
        "failed_tables": failed,
    }
    return pa.Table.from_pylist([row], schema=RUN_SCHEMA)


def run_record_key(config: JobConfig, manifest: Mapping[str, Any]) -> str:
    finished = _utc_wall(manifest["finished_at"]).strftime("%Y%m%dT%H%M%S%f")
    name = f"{config.ingestion_date}_{finished}_{config.job_run_id or 'local'}.parquet"
    return run_history_prefix(config.catalog_database) + name


def run_history_prefix(catalog_database: str) -> str:
    """The folder of the run history table, under the manifests' root."""
    return f"{MANIFEST_ROOT}/{catalog_database}/{RUN_HISTORY_TABLE}/"


def write_run_record(clients: JobClients, config: JobConfig, manifest: Mapping[str, Any]) -> str | None:
    """Writes the run's row; returns its key, or None when it could not (logged: history is best effort, the
    manifest is the record the pipeline acts on)."""
    key = run_record_key(config, manifest)
    body = io.BytesIO()
    pq.write_table(run_record(manifest), body, compression="zstd")
    try:
        clients.s3.put_object(Bucket=config.sor_bucket, Key=key, Body=body.getvalue(), **config.sse_arguments)
    except Exception as exc:  # noqa: BLE001 - never fails the night: the manifest already says how it went
        log.error("could not write the run history row %s: %s", key, exc)
        return None
    return key
