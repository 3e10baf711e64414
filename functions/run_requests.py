"""Turning a COMPLETE export into (at most) one Glue run: shared by the event path and reconcile.

Order matters: the manifest says "done", an active run says "in hand", and only then do we start a run.
Two invocations racing past both checks are stopped by the job's MaxConcurrentRuns (1): the loser gets
ConcurrentRunsExceededException, looks again, and finds the winner's run.
"""

from __future__ import annotations

import datetime as dt

from alerts import Alert
from aws_clients import LambdaClients, error_code
from aws_lambda_powertools import Logger
from config import Config
from export_ids import parse_export_id
from export_tasks import ExportTask, ExportTaskStatus, ExportWarnings, parse_warning_message
from glue_runs import ACTIVE_STATES, job_arguments, runs_for_day, start_job_run
from incidents import Incident, IncidentKind, announce
from manifests import PublishedRun, published_run
from outcomes import ExportOutcome, Outcome
from sources import source_engine

logger = Logger(child=True)

# Runs of one export that ended without a manifest, or with a FAILED manifest marked retryable (transient causes
# only), before automation stops retrying it (each failure already raised the Glue job state alert); a person
# decides after that (README Operations).
MAX_AUTOMATIC_RUNS = 3


class GlueBusyError(RuntimeError):
    """The job is busy with another day, so no run was started. Each caller says what happens next
    (outcomes.Outcome: DEFERRED_TO_RECONCILE on the event path, GLUE_BUSY in reconcile)."""


def _supersedes(published: str | None, task: ExportTask) -> bool:
    """True when the manifest names a later attempt of the task's own day (docs/contracts.md, Export task id)."""
    named = parse_export_id(published) if published else None
    return (
        named is not None
        and named.cluster_part == task.parsed.cluster_part
        and named.ingestion_date == task.ingestion_date
        and named.attempt > task.parsed.attempt
    )


def _warnings_alert(task: ExportTask, warnings: ExportWarnings, export_uri: str) -> Alert:
    return Alert(
        subject=f"aurora-sor: export {task.export_id} completed with warnings",
        facts=[
            ("Export id", task.export_id),
            ("Source", task.source_arn),
            ("Ingestion date", task.ingestion_date.isoformat()),
            ("Skipped tables", ", ".join(warnings.skipped_tables) or "none"),
            ("Other warnings", "; ".join(warnings.other) or "none"),
            ("Glue run", f"starting now on {export_uri}"),
        ],
        next_steps=[
            "The day is being published without the skipped tables; they will be missing from the SOR for this date.",
            "Check why RDS skipped them (docs/aws-facts.md: column names with , ; { } ( ) = or spaces, "
            "temporary/unlogged tables, very large rows) and fix the source if they are needed.",
            "Once fixed, re-export the day with a new attempt (README Operations, Re-run a day).",
        ],
    )


def _rerun_alert(task: ExportTask, run: PublishedRun, export_uri: str, number: int) -> Alert:
    return Alert(
        subject=f"aurora-sor: {task.ingestion_date} is run again after a transient failure",
        facts=[
            ("Export id", task.export_id),
            ("Ingestion date", task.ingestion_date.isoformat()),
            ("Tables that failed", ", ".join(run.failed_tables) or "none listed"),
            ("Glue run", f"run {number} of at most {MAX_AUTOMATIC_RUNS} on {export_uri}"),
        ],
        next_steps=[
            "Nothing to do unless it fails again: the manifest says every failed table failed for a transient cause "
            "(throttling, a 5xx, a Spark job that lost its tasks); the tables already published are kept as they are.",
            f"After {MAX_AUTOMATIC_RUNS} runs automation stops; then read the manifest's failed tables (README "
            "Troubleshooting) and re-run the day by hand.",
        ],
    )


def request_run(config: Config, clients: LambdaClients, task: ExportTask, now: dt.datetime) -> ExportOutcome:
    outcome = ExportOutcome(task.export_id, Outcome.NOT_COMPLETE, ingestion_date=task.ingestion_date.isoformat())
    if task.status != ExportTaskStatus.COMPLETE:
        return outcome
    day = task.ingestion_date
    run = published_run(clients.s3, config.sor_bucket, config.catalog_database, day)
    published = run.export_id if run is not None else None
    rerun = run is not None and published == task.export_id and run.retryable
    if run is not None:
        outcome.manifest_status = run.status
    if published == task.export_id and not rerun:
        outcome.outcome = Outcome.ALREADY_PUBLISHED
        return outcome
    if _supersedes(published, task):
        logger.warning(
            "older attempt than the published one, no run started",
            extra={"export_id": task.export_id, "published": published},
        )
        outcome.outcome = Outcome.SUPERSEDED
        return outcome
    export_uri = config.export_uri(task.export_id, bucket=task.s3_bucket, prefix=task.s3_prefix)
    runs = runs_for_day(clients.glue, config.glue_job_name, day)
    if any(run.state in ACTIVE_STATES for run in runs):
        outcome.outcome = Outcome.ALREADY_RUNNING
        return outcome
    # Only runs this pipeline started count: Glue's own retries of one of them are part of that run. The job runs
    # with no Glue retry (MaxRetries 0), and an interrupted run (no manifest) is started again from here.
    earlier = [run for run in runs if run.arguments.get("--export_uri") == export_uri and not run.is_glue_retry]
    if len(earlier) >= MAX_AUTOMATIC_RUNS:
        outcome.outcome = Outcome.GAVE_UP
        return outcome

    # Announce before starting the run, and only when this invocation is about to start it: an announcement SNS
    # refused fails the invocation before the run exists, so Lambda's retry announces it instead of finding the run
    # active and never telling anyone. The incident store keeps a start that fails after it (Glue busy with another
    # day) from announcing twice.
    warnings = parse_warning_message(task.warning_message)
    if warnings:
        outcome.warnings = [*(f"skipped table {t}" for t in warnings.skipped_tables), *warnings.other]
        skipped = Incident(IncidentKind.TABLES_SKIPPED, task.export_id, day)
        announce(clients, config, skipped, _warnings_alert(task, warnings, export_uri), now)
    if rerun and run is not None:
        # Part of the day's publish failure: announced by the Glue failure event already, so usually quiet here.
        failed = Incident(IncidentKind.PUBLISH_FAILED, day.isoformat(), day)
        announce(clients, config, failed, _rerun_alert(task, run, export_uri, len(earlier) + 1), now)
    engine = source_engine(clients.rds, config, task.source_arn)
    arguments = job_arguments(config, export_uri, day, engine)
    try:
        outcome.job_run_id = start_job_run(clients.glue, config.glue_job_name, arguments)
    except Exception as error:
        if error_code(error) != "ConcurrentRunsExceededException":
            raise
        if any(r.state in ACTIVE_STATES for r in runs_for_day(clients.glue, config.glue_job_name, day)):
            outcome.outcome = Outcome.ALREADY_RUNNING
            return outcome
        raise GlueBusyError(
            f"Glue job {config.glue_job_name} is running another day; {task.export_id} will be retried"
        ) from error
    outcome.outcome = Outcome.RUN_STARTED
    if task.task_start_time is not None and task.task_end_time is not None:
        outcome.export_seconds = (task.task_end_time - task.task_start_time).total_seconds()
    logger.info("glue run started", extra={"export_id": task.export_id, "job_run_id": outcome.job_run_id})

    return outcome
