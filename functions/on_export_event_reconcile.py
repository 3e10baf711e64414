"""Reconcile: RDS events are best effort, so a schedule re-reads our recent export tasks and repairs.

For each recent day (the window, plus any day whose task started inside the window, i.e. backfills), the
latest attempt decides: COMPLETE without manifest or active run -> start the Glue run now; STARTING or
IN_PROGRESS for longer than the limit -> problem; FAILED/CANCELED -> problem (until a later attempt
fixes it); a past day in the window with no task at all -> problem. Problems go out as one alert per run.
The schedule's payload is `{"action": "reconcile"}`: that "action" key only says this invocation is a reconcile
(is_reconcile); the "action" of each entry in the result is the day's outcome.

A day whose manifest or Glue runs cannot be read (an AWS error, AccessDenied included) cannot be judged: reconcile
goes on with the other days, puts the day in the alert with the error code (and, for a denial, the permission the
role lacks), and then fails the invocation, so the function's Errors alarm fires as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alerts import Alert, send_alert
from aws_clients import LambdaClients, denied_action, error_code, operation_name
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from config import Config
from export_tasks import FAILED_STATES, RUNNING_STATES, ExportTask, ExportTaskStatus, list_our_tasks
from manifests import manifest_key
from outcomes import FAILED_STATUS_OUTCOMES, ExportOutcome, Outcome, Result
from refusals import RefusedError
from run_requests import MAX_AUTOMATIC_RUNS, GlueBusyError, request_run

logger = Logger(child=True)

DEFAULT_LOOKBACK_DAYS = 3
DEFAULT_STUCK_HOURS = 12.0
_KEYS = frozenset({"action", "lookback_days", "stuck_hours"})


class InvalidReconcileRequestError(RefusedError, ValueError):
    """A reconcile payload with unknown keys or out-of-range values."""


class DaysNotJudgedError(RuntimeError):
    """Some days could not be judged because of AWS errors; raised after the alert went out."""


@dataclass(frozen=True)
class ReconcileRequest:
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    stuck_hours: float = DEFAULT_STUCK_HOURS


def is_reconcile(event: Any) -> bool:
    return isinstance(event, dict) and event.get("action") == "reconcile"


def parse_reconcile(event: dict[str, Any]) -> ReconcileRequest:
    unknown = sorted(set(event) - _KEYS)
    if unknown:
        raise InvalidReconcileRequestError(f"unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
    lookback = event.get("lookback_days", DEFAULT_LOOKBACK_DAYS)
    if isinstance(lookback, bool) or not isinstance(lookback, int) or not 1 <= lookback <= 35:
        raise InvalidReconcileRequestError(f"lookback_days must be an integer from 1 to 35, got {lookback!r}")
    stuck = event.get("stuck_hours", DEFAULT_STUCK_HOURS)
    if isinstance(stuck, bool) or not isinstance(stuck, int | float) or not 0 < stuck <= 24 * 35:
        raise InvalidReconcileRequestError(f"stuck_hours must be a number of hours > 0, got {stuck!r}")
    return ReconcileRequest(lookback, float(stuck))


def _started_at(task: ExportTask, config: Config) -> dt.datetime:
    # Without TaskStartTime, assume the task started when its day began: that can only alert early, never
    # let a stuck task go unreported.
    return task.task_start_time or config.day_end(task.ingestion_date - dt.timedelta(days=1))


def _resource_of(operation: str, config: Config, day: dt.date) -> str:
    """What the failed call was about, in the words an operator needs to find the policy statement."""
    key = manifest_key(config.catalog_database, day)
    if operation == "ListObjectsV2":
        return f"bucket {config.sor_bucket} with s3:prefix {key}"
    if operation == "GetObject":
        # A manifest encrypted with SSE-KMS also needs kms:Decrypt through S3; S3 reports that as AccessDenied too.
        return f"object s3://{config.sor_bucket}/{key} (and kms:Decrypt through S3 on the bucket's KMS key)"
    if operation in ("GetJobRuns", "StartJobRun"):
        return f"Glue job {config.glue_job_name}"
    return "its resource"


def not_judged_problem(error: Exception, config: Config, day: dt.date, export_id: str) -> str:
    """One alert line for a day an AWS error kept from being judged: the call, the error code, the fix."""
    operation = operation_name(error) or type(error).__name__
    code = error_code(error) or type(error).__name__
    line = f"{day}: export {export_id} could not be judged: {operation} failed with {code}"
    missing_permission = denied_action(error)
    if missing_permission is not None:
        return (
            f"{line}; the on_export_event role lacks {missing_permission} on {_resource_of(operation, config, day)} "
            "(compare its policy with template.yaml, OnExportEventRole)"
        )
    return f"{line} ({error}); the next reconcile tries again"


def reconcile(config: Config, clients: LambdaClients, request: ReconcileRequest, now: dt.datetime) -> Result:
    today = config.today(now)
    first_day = today - dt.timedelta(days=request.lookback_days)
    window_start = now - dt.timedelta(days=request.lookback_days)
    tasks = list_our_tasks(clients.rds, config)
    by_day: dict[dt.date, list[ExportTask]] = {}
    for task in tasks:
        by_day.setdefault(task.ingestion_date, []).append(task)
    days = {d for d in by_day if first_day <= d <= today}
    days |= {t.ingestion_date for t in tasks if t.task_start_time and t.task_start_time >= window_start}

    actions: list[ExportOutcome] = []
    problems: list[str] = []
    not_judged = 0
    for day in sorted(days):
        task = max(by_day[day], key=lambda t: t.parsed.attempt)
        if task.status == ExportTaskStatus.COMPLETE:
            try:
                requested = request_run(config, clients, task)
            except GlueBusyError:
                # The job (MaxConcurrentRuns 1) is publishing another day; the next reconcile starts this one.
                actions.append(ExportOutcome(task.export_id, Outcome.GLUE_BUSY))
                continue
            except (ClientError, BotoCoreError) as error:
                logger.exception("day not judged", extra={"export_id": task.export_id, "day": day.isoformat()})
                actions.append(ExportOutcome(task.export_id, Outcome.NOT_JUDGED))
                problems.append(not_judged_problem(error, config, day, task.export_id))
                not_judged += 1
                continue
            actions.append(requested)
            if requested.outcome is Outcome.GAVE_UP:
                problems.append(
                    f"{day}: export {task.export_id} is COMPLETE but Glue ran it {MAX_AUTOMATIC_RUNS} times "
                    "without publishing; start the job by hand once the cause is fixed"
                )
        elif task.status in RUNNING_STATES:
            hours = (now - _started_at(task, config)).total_seconds() / 3600
            actions.append(ExportOutcome(task.export_id, Outcome.EXPORTING, hours=round(hours, 1)))
            if hours > request.stuck_hours:
                problems.append(
                    f"{day}: export {task.export_id} is {task.status} for {hours:.1f} h "
                    f"(limit {request.stuck_hours:g} h); check it in the RDS console (Exports in Amazon S3)"
                )
        elif task.status in FAILED_STATES:
            actions.append(ExportOutcome(task.export_id, FAILED_STATUS_OUTCOMES[task.status]))
            problems.append(
                f"{day}: export {task.export_id} is {task.status} ({task.failure_cause or 'no FailureCause'}); "
                f're-export with {{"ingestion_date": "{day}", "attempt": {task.parsed.attempt + 1}}}'
            )
        else:
            actions.append(ExportOutcome(task.export_id, Outcome.UNKNOWN_STATUS, task_status=task.status))
            problems.append(f"{day}: export {task.export_id} has unexpected status {task.status!r}")

    if tasks:
        # Nights before the pipeline's first export are not missing, they predate it (fresh deployments).
        day = max(first_day, min(by_day))
        while day < today:
            if day not in by_day:
                problems.append(
                    f'{day}: no export task at all; backfill with {{"ingestion_date": "{day}"}} '
                    "(check start_export's errors and its schedule's dead-letter queue)"
                )
            day += dt.timedelta(days=1)
    else:
        logger.warning("no export task of this pipeline exists yet", extra={"cluster": config.cluster_identifier})

    if problems:
        send_alert(
            clients.sns,
            config.alert_topic_arn,
            Alert(
                subject=f"aurora-sor: reconcile found {len(problems)} problem(s) for {config.cluster_identifier}",
                facts=[("Cluster", config.cluster_identifier), ("Window", f"{first_day} .. {today}")]
                + [("Problem", p) for p in problems],
                next_steps=[
                    "Each problem line says what to run; reconcile repeats this alert until the days are fixed "
                    "or leave the window.",
                ],
            ),
        )
    if not_judged:
        raise DaysNotJudgedError(
            f"{not_judged} day(s) could not be judged because of AWS errors; the alert lists them: {problems}"
        )
    return Result(
        Outcome.RECONCILED, window=[first_day.isoformat(), today.isoformat()], actions=actions, problems=problems
    )
