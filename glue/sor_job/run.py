"""The run: every table, retention, summary, manifest, metrics, exit code (run_job, main)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sor_job.catalog_writes import catalog_tables
from sor_job.clients import JobClients, make_job_clients
from sor_job.column_types import FileSchema
from sor_job.config import JobConfig, parse_args
from sor_job.context import RunContext
from sor_job.copy_day import Copier, Progress, heartbeat
from sor_job.errors import ExportError, FailureKind
from sor_job.names import NameAssignment, assign_table_names, base_table_name
from sor_job.outcomes import ExitCode, RunStatus, TableResult, TableStatus
from sor_job.partitioned import partition_relations
from sor_job.plan import ExportPlan, plan_export
from sor_job.publish_table import publish_table
from sor_job.retention import apply_retention
from sor_job.run_history import write_run_record
from sor_job.s3_reads import list_objects, read_footer, read_metadata

log = logging.getLogger(__name__)


def summarize(
    config: JobConfig, plan_warnings: Sequence[str], results: Sequence[TableResult], seconds: float
) -> dict[str, Any]:
    failed = [r for r in results if r.status is TableStatus.FAILED]
    published = [r for r in results if r.status is not TableStatus.FAILED]
    status = RunStatus.SUCCEEDED if results and not failed else RunStatus.FAILED
    return {
        # A FAILED night whose every failed table failed for a transient cause: reconcile may run it again (bounded)
        "retryable": bool(failed) and all(r.failure is FailureKind.TRANSIENT for r in failed),
        "status": status,
        "export_id": config.export_id,
        "ingestion_date": config.ingestion_date,
        "tables": len(published),
        "files": sum(r.files for r in published),
        "bytes": sum(r.bytes for r in published),
        "rows": sum(r.rows for r in published),
        "failed_tables": [{"name": r.name, "source": r.source, "error": r.error, "failure": r.failure} for r in failed]
        or ([] if results else [{"name": None, "source": None, "error": "the export holds no tables"}]),
        "empty_tables": [r.name for r in results if r.status is TableStatus.EMPTY],
        "footer_bytes_read": sum(r.footer_bytes_read for r in results),
        "rejected_values": sum(sum(r.rejected_values.values()) for r in results),
        "invalid_text_values": sum(sum(r.invalid_text.values()) for r in results),
        "columns_kept_as_text": sum(r.columns_without_evidence for r in results),
        "warnings": len(plan_warnings) + sum(len(r.warnings) for r in results),
        "seconds": round(seconds, 3),
        "manifest_uri": f"s3://{config.sor_bucket}/{config.manifest_key}",
    }


def build_manifest(
    config: JobConfig,
    plan: ExportPlan,
    results: Sequence[TableResult],
    summary: Mapping[str, Any],
    started: dt.datetime,
) -> dict[str, Any]:
    finished = dt.datetime.now(dt.UTC)
    return {
        "manifest_version": 1,
        "status": summary["status"],
        "retryable": summary["retryable"],
        "export_id": config.export_id,
        "export_uri": config.export_uri,
        "ingestion_date": config.ingestion_date,
        "catalog_database": config.catalog_database,
        "sor_bucket": config.sor_bucket,
        "snapshot_time": plan.snapshot_time,
        "source_engine": config.source_engine or None,
        "job_run_id": config.job_run_id,
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "seconds": summary["seconds"],
        "totals": {k: summary[k] for k in ("tables", "files", "bytes", "rows")},
        "tables": [
            {k: v for k, v in dataclasses.asdict(r).items() if k not in {"footer_bytes_read", "seconds"}}
            | {"seconds": r.seconds}
            for r in results
        ],
        "warnings": list(plan.warnings),
    }


def first_run_of_the_day(clients: JobClients, config: JobConfig) -> bool:
    """True when no run of this day (in this catalog database) ever started: its folder of run records is empty.
    Then marks the day as started, before any table folder is touched, so a later run of it (after a crash, a kill
    or a re-export) knows that the day's folders may hold files already. One listing and one small write a run."""
    if list_objects(clients.s3, config.sor_bucket, config.manifest_folder):
        return False
    clients.s3.put_object(
        Bucket=config.sor_bucket,
        Key=config.started_key,
        Body=json.dumps({"export_id": config.export_id, "job_run_id": config.job_run_id}).encode(),
        ContentType="application/json",
        **config.sse_arguments,
    )
    return True


def write_manifest(clients: JobClients, config: JobConfig, manifest: Mapping[str, Any]) -> None:
    clients.s3.put_object(
        Bucket=config.sor_bucket,
        Key=config.manifest_key,
        Body=json.dumps(manifest, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
        **config.sse_arguments,
    )


def metric_data(config: JobConfig, summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    dimensions = [{"Name": "CatalogDatabase", "Value": config.catalog_database}]
    values = {
        "PublishSucceeded": (1 if summary["status"] == RunStatus.SUCCEEDED else 0, "Count"),
        "TablesPublished": (summary["tables"], "Count"),
        "TablesFailed": (len(summary["failed_tables"]), "Count"),
        "BytesPublished": (summary["bytes"], "Bytes"),
        "RowsPublished": (summary["rows"], "Count"),
        # counts only, never values: rows may hold personal data (the values are in sor_rejects, under IAM)
        "RejectedValues": (summary.get("rejected_values", 0), "Count"),
        "InvalidTextValues": (summary.get("invalid_text_values", 0), "Count"),
        "ColumnsKeptAsText": (summary.get("columns_kept_as_text", 0), "Count"),
        "TablesEmpty": (len(summary.get("empty_tables", [])), "Count"),
        "PublishSeconds": (summary.get("seconds", 0), "Seconds"),
    }
    if summary.get("retention", {}).get("enabled"):
        retention = summary["retention"]
        values["PartitionsRemoved"] = (retention["removed_days"], "Count")
        values["RetentionFailures"] = (retention["failed_days"], "Count")
    return [{"MetricName": k, "Dimensions": dimensions, "Value": v, "Unit": u} for k, (v, u) in values.items()]


def emit_metrics(clients: JobClients, config: JobConfig, summary: Mapping[str, Any]) -> None:
    if not config.metrics_namespace:
        return
    try:
        clients.cloudwatch.put_metric_data(Namespace=config.metrics_namespace, MetricData=metric_data(config, summary))
    except (ClientError, BotoCoreError) as exc:
        # The data is published; a lost metric only makes the "no publish in 26 h" alarm speak up, which is safe.
        log.error("could not emit metrics to %s: %s", config.metrics_namespace, exc)


def read_export(clients: JobClients, config: JobConfig) -> ExportPlan:
    """The export's listing and metadata files, checked against the run's arguments, as an ExportPlan. Raises
    ExportError when the export is missing, not complete, or another export than the URI names."""
    objects = list_objects(clients.s3, config.export_bucket, config.export_prefix)
    if not objects:
        raise ExportError(f"nothing under {config.export_uri}: wrong URI, or the export has not finished")
    export_info, tables_info, problems = read_metadata(clients.s3, config, objects)
    for problem in problems:
        log.warning("export metadata: %s", problem)
    if export_info is not None:
        status = str(export_info.get("status", "COMPLETE")).upper()
        if status != "COMPLETE":
            raise ExportError(f"export_info says the export is {status}, not COMPLETE")
        listed_id = export_info.get("exportTaskIdentifier")
        if listed_id and listed_id != config.export_id:
            raise ExportError(f"export_info names export {listed_id!r}, but the URI names {config.export_id!r}")
    return plan_export(config.export_prefix, objects, export_info, tables_info, problems)


def name_tables(
    clients: JobClients, config: JobConfig, plan: ExportPlan
) -> tuple[ExportPlan, dict[str, dict[str, Any]], NameAssignment]:
    """The catalog's current tables and each exported table's catalog name; the plan returned carries the naming
    warnings too."""
    catalog = catalog_tables(clients.glue, config.catalog_database)
    owners = {name: t.get("Parameters", {}).get("sor.source") for name, t in catalog.items()}
    assignment = assign_table_names({t.source: t.folder for t in plan.tables}, owners)
    warnings = list(plan.warnings) + list(assignment.warnings)
    for warning in warnings:
        log.warning("%s", warning)
    log.info(
        "plan: %d tables, %d Parquet files, %d bytes; %d other objects ignored",
        len(plan.tables), sum(len(t.files) for t in plan.tables), sum(o.size for t in plan.tables for o in t.files),
        plan.ignored_objects,
    )  # fmt: skip
    return dataclasses.replace(plan, warnings=tuple(warnings)), catalog, assignment


def relate_partitions(
    footer_pool: ThreadPoolExecutor, s3: Any, config: JobConfig, plan: ExportPlan, assignment: NameAssignment
) -> tuple[dict[str, list[Future[tuple[FileSchema, int]]]], dict[str, tuple[str, str]]]:
    """Submits the footer reads of every table that will be published, and tells which tables are partitions of
    another (partitioned.py) from the footers: (the reads by source, for publish_table; partition source -> (parent
    source, parent catalog name)). A table whose footers cannot be read takes part in no relation; it fails when
    publish_table reads them."""
    reads = {
        t.source: [
            footer_pool.submit(read_footer, s3, config.export_bucket, obj, config.footer_read_size) for obj in t.files
        ]
        for t in plan.tables
        if t.source in assignment.names
    }
    schemas: dict[str, list[FileSchema]] = {}
    for source, futures in reads.items():
        try:
            schemas[source] = [f.result()[0] for f in futures]
        except Exception:  # noqa: BLE001, S112 - the table fails by name in publish_table, with this very error
            continue
    relations = partition_relations(plan.tables, schemas)
    for parent in sorted(set(relations.values())):
        children = sorted(s for s, p in relations.items() if p == parent)
        log.info("%s is a partitioned table: %d of its partitions are exported too and carry sor.partition_of (%s)",
                 parent, len(children), ", ".join(children[:5]) + (" ..." if len(children) > 5 else ""))  # fmt: skip
    return reads, {source: (parent, assignment.names[parent]) for source, parent in relations.items()}


def publish_tables(
    run: RunContext, plan: ExportPlan, assignment: NameAssignment, table_pool: ThreadPoolExecutor
) -> list[TableResult]:
    """Every exported table published on the table pool (publish_table), the results sorted by source. A table
    that got no name fails without being read."""
    results: list[TableResult] = []
    futures = []
    for table in plan.tables:
        if table.source in assignment.errors:
            results.append(
                TableResult(
                    base_table_name(table.folder),
                    table.source,
                    error=assignment.errors[table.source],
                    failure=FailureKind.DETERMINISTIC,
                )
            )
            continue
        futures.append(table_pool.submit(publish_table, run, table, assignment.names[table.source], len(plan.tables)))
    results += [f.result() for f in futures]
    return sorted(results, key=lambda r: r.source)


def run_job(config: JobConfig, clients: JobClients) -> tuple[dict[str, Any], ExitCode]:
    """Export -> plan and names -> every table published -> retention -> manifest and metrics -> the summary and
    the exit code."""
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    log.info(
        "export %s -> s3://%s/%s/ for %s",
        config.export_uri,
        config.sor_bucket,
        config.catalog_database,
        config.ingestion_date,
    )
    plan, catalog, assignment = name_tables(clients, config, read_export(clients, config))
    planned = [o for t in plan.tables for o in t.files]
    copier = Copier(clients.s3, config, Progress(len(planned), sum(o.size for o in planned)))
    stop = threading.Event()
    try:
        with (
            ThreadPoolExecutor(config.copy_concurrency, thread_name_prefix="footer") as footer_pool,
            ThreadPoolExecutor(config.table_concurrency, thread_name_prefix="table") as table_pool,
        ):
            footer_reads, partition_of = relate_partitions(footer_pool, clients.s3, config, plan, assignment)
            latest = catalog_tables(clients.glue, config.latest_database) if config.latest_database else {}
            run = RunContext(
                config, clients, copier, catalog, plan.snapshot_time,
                footer_reads=footer_reads, partition_of=partition_of, latest=latest,
                first_run_of_the_day=first_run_of_the_day(clients, config),
            )  # fmt: skip
            heartbeat(
                config.progress_seconds,
                lambda: copier.progress.line(run.done, len(plan.tables), time.monotonic() - started),
                stop,
            )
            results = publish_tables(run, plan, assignment, table_pool)
    finally:
        stop.set()
        copier.shutdown()
    failed = {r.name for r in results if r.status is TableStatus.FAILED}
    retention = apply_retention(clients, config, failed, copier.delete)
    summary = summarize(config, plan.warnings, results, time.monotonic() - started) | {"retention": retention.summary()}
    manifest = build_manifest(config, plan, results, summary, started_at) | {"retention": retention.manifest()}
    write_manifest(clients, config, manifest)
    write_run_record(clients, config, manifest)
    emit_metrics(clients, config, summary)
    return summary, ExitCode.SUCCEEDED if summary["status"] == RunStatus.SUCCEEDED else ExitCode.TABLE_FAILED


def failure_summary(error: str, seconds: float) -> dict[str, Any]:
    return {"status": RunStatus.FAILED, "error": error, "tables": 0, "files": 0, "bytes": 0, "rows": 0,
            "failed_tables": [], "retryable": False, "seconds": round(seconds, 3)}  # fmt: skip


def crash_manifest(config: JobConfig, summary: Mapping[str, Any], started: dt.datetime) -> dict[str, Any]:
    """The manifest of a run that crashed: FAILED with the error; which tables it reached is not known."""
    return {
        "manifest_version": 1,
        "status": RunStatus.FAILED,
        "retryable": False,  # a crash is a bug until shown otherwise: a person decides (README Operations)
        "error": summary["error"],
        "export_id": config.export_id,
        "export_uri": config.export_uri,
        "ingestion_date": config.ingestion_date,
        "catalog_database": config.catalog_database,
        "sor_bucket": config.sor_bucket,
        "snapshot_time": None,
        "job_run_id": config.job_run_id,
        "started_at": started.isoformat(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(),
        "seconds": summary["seconds"],
        "totals": {k: summary[k] for k in ("tables", "files", "bytes", "rows")},
        "tables": [],
        "warnings": [],
    }


def main(argv: Sequence[str] | None = None, make: Callable[[JobConfig], JobClients] = make_job_clients) -> int:
    """Runs the job; returns its ExitCode as an int (docs/contracts.md "Exit codes and retries").

    The caller turns it into SystemExit, never os._exit, so Python's own exit path (flushing
    stdout, and whatever the Glue launcher hooks there) runs in every case.
    """
    # force=True: a launcher that configures the root logger before the script runs (Glue's may; AWS does not
    # document it either way) would otherwise make a plain basicConfig
    # do nothing (https://docs.python.org/3/library/logging.html#logging.basicConfig), leaving the
    # job's INFO lines (plan, one per table, heartbeat) under the launcher's level or handler.
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s %(message)s",
        force=True,
    )
    logging.getLogger("botocore").setLevel(logging.WARNING)
    started_at, started = dt.datetime.now(dt.UTC), time.monotonic()
    config: JobConfig | None = None
    clients: JobClients | None = None
    try:
        config = parse_args(sys.argv[1:] if argv is None else argv)
        clients = make(config)
        summary, code = run_job(config, clients)
    except (ExportError, ClientError, BotoCoreError) as exc:
        # The run could not start (or lost S3/Glue altogether): nothing is declared done, so a later run may retry.
        log.error("run failed: %s", exc)
        summary, code = failure_summary(str(exc), time.monotonic() - started), ExitCode.NOT_STARTED
    except Exception as exc:  # a bug: still the summary line, the manifest and exit 2
        log.exception("run crashed")
        error = f"{type(exc).__name__}: {exc}"
        summary, code = failure_summary(error, time.monotonic() - started), ExitCode.NOT_STARTED
        if config is not None and clients is not None:
            try:
                crashed = crash_manifest(config, summary, started_at)
                write_manifest(clients, config, crashed)
                write_run_record(clients, config, crashed)
            except Exception as manifest_exc:  # noqa: BLE001 - must not mask the crash being reported
                log.error("could not write the run manifest after the crash: %s", manifest_exc)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return int(code)
