"""Reconcile: RDS events are best effort, so a schedule re-reads our recent export tasks and repairs.

For each recent day (the window, plus any day whose task started inside the window, i.e. backfills), the
latest attempt decides: COMPLETE without manifest or active run -> start the Glue run now; STARTING or
IN_PROGRESS for longer than the limit -> problem; FAILED/CANCELED -> problem (until a later attempt
fixes it); a past day in the window with no task at all -> problem. Each problem is a sighting of its incident
(functions/incidents.py): announced the first time, reminded at most daily. Then every open incident reconcile did
not find itself (announced by an event) is looked at against what reconcile saw of its day: reminded while it
holds, ended once when it no longer does or its day has left the window.
The schedule's payload is `{"action": "reconcile"}`: that "action" key only says this invocation is a reconcile
(is_reconcile); the "action" of each entry in the result is the day's outcome.

A day whose manifest or Glue runs cannot be read (an AWS error, AccessDenied included) cannot be judged: reconcile
goes on with the other days and announces the day's NOT_JUDGED incident with the error code (and, for a denial, the
permission the role lacks). The invocation does not fail: failing would make the schedule retry it and the Errors
alarm speak, several messages an hour for one problem, where the incident is one message a day until it ends.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alerts import Alert
from aws_clients import LambdaClients, denied_action, error_code, operation_name
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError
from config import Config
from export_tasks import FAILED_STATES, RUNNING_STATES, ExportTask, ExportTaskStatus, list_our_tasks
from incidents import Incident, IncidentKind, announce, end, open_incidents
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


# Every status export_tasks knows; anything else is EXPORT_UNKNOWN_STATUS.
KNOWN_STATES = frozenset(ExportTaskStatus)


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


@dataclass
class DayView:
    """What reconcile saw of one day, to tell whether an open incident about it still holds."""

    latest: ExportTask | None = None  # the day's latest attempt
    judged: bool = True  # False: an AWS error kept reconcile from reading what it needs
    manifest_status: str | None = None  # the day's run manifest, when read: SUCCEEDED or FAILED


@dataclass(frozen=True)
class Finding:
    incident: Incident
    line: str  # the problem as the result's "problems" lists it
    headline: str  # the alert's subject, after "aurora-sor: "


def still_holds(incident: Incident, view: DayView | None) -> bool | None:
    """Whether an open incident still holds by what reconcile saw (pure); None when it cannot tell."""
    if view is None:
        return None
    if not view.judged:
        return True if incident.kind is IncidentKind.NOT_JUDGED else None
    kind, latest = incident.kind, view.latest
    if kind is IncidentKind.EXPORT_MISSING:
        return latest is None
    if kind is IncidentKind.PUBLISH_FAILED:
        return view.manifest_status != "SUCCEEDED"
    if kind is IncidentKind.NOT_JUDGED:
        return False
    # the other kinds are about one export: they hold while it is still the day's latest attempt, in that state
    if latest is None or latest.export_id != incident.about:
        return False
    if kind is IncidentKind.EXPORT_FAILED:
        return latest.status in FAILED_STATES
    if kind is IncidentKind.EXPORT_STUCK:
        return latest.status in RUNNING_STATES
    if kind is IncidentKind.EXPORT_UNKNOWN_STATUS:
        return latest.status not in KNOWN_STATES
    return None


def how_it_ended(incident: Incident, view: DayView | None, lookback_days: int) -> str:
    if view is None:
        return (
            f"the day left reconcile's window ({lookback_days} days) unresolved and is no longer watched; "
            "check the day by hand (README Operations)"
        )
    if incident.kind is IncidentKind.NOT_JUDGED:
        return "reconcile could read what it needs again"
    if incident.kind is IncidentKind.PUBLISH_FAILED:
        return "the day's run manifest says SUCCEEDED: the day is published"
    latest = view.latest
    assert latest is not None  # every other kind ends only when the day has a task
    return f"the day's latest export is {latest.export_id}, {latest.status}"


def _problem_alert(config: Config, finding: Finding) -> Alert:
    day = finding.incident.day.isoformat()
    return Alert(
        subject=f"aurora-sor: {finding.headline}",
        facts=[("Cluster", config.cluster_identifier), ("Ingestion date", day), ("Problem", finding.line)],
        next_steps=[
            "The problem line says what to run.",
            "While it lasts it is reminded at most once a day; reconcile also says when it ends.",
        ],
    )


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
    findings: list[Finding] = []
    views: dict[dt.date, DayView] = {}
    day = first_day
    while day <= today:
        views[day] = DayView()
        day += dt.timedelta(days=1)
    for day in sorted(days):
        task = max(by_day[day], key=lambda t: t.parsed.attempt)
        view = views.setdefault(day, DayView())
        view.latest = task
        iso = day.isoformat()
        if task.status == ExportTaskStatus.COMPLETE:
            try:
                requested = request_run(config, clients, task, now)
            except GlueBusyError:
                # The job (MaxConcurrentRuns 1) is publishing another day; the next reconcile starts this one.
                actions.append(ExportOutcome(task.export_id, Outcome.GLUE_BUSY))
                continue
            except (ClientError, BotoCoreError) as error:
                logger.exception("day not judged", extra={"export_id": task.export_id, "day": iso})
                actions.append(ExportOutcome(task.export_id, Outcome.NOT_JUDGED))
                view.judged = False
                line = not_judged_problem(error, config, day, task.export_id)
                findings.append(Finding(Incident(IncidentKind.NOT_JUDGED, iso, day), line, f"cannot judge {iso}"))
                continue
            actions.append(requested)
            view.manifest_status = requested.manifest_status
            if requested.outcome is Outcome.GAVE_UP:
                line = (
                    f"{day}: export {task.export_id} is COMPLETE but Glue ran it {MAX_AUTOMATIC_RUNS} times "
                    "without publishing; start the job by hand once the cause is fixed"
                )
                incident = Incident(IncidentKind.PUBLISH_FAILED, iso, day)
                findings.append(Finding(incident, line, f"{iso} not published, automation gave up"))
        elif task.status in RUNNING_STATES:
            hours = (now - _started_at(task, config)).total_seconds() / 3600
            actions.append(ExportOutcome(task.export_id, Outcome.EXPORTING, hours=round(hours, 1)))
            if hours > request.stuck_hours:
                line = (
                    f"{day}: export {task.export_id} is {task.status} for {hours:.1f} h "
                    f"(limit {request.stuck_hours:g} h); check it in the RDS console (Exports in Amazon S3)"
                )
                incident = Incident(IncidentKind.EXPORT_STUCK, task.export_id, day)
                findings.append(Finding(incident, line, f"export {task.export_id} still {task.status}"))
        elif task.status in FAILED_STATES:
            actions.append(ExportOutcome(task.export_id, FAILED_STATUS_OUTCOMES[task.status]))
            line = (
                f"{day}: export {task.export_id} is {task.status} ({task.failure_cause or 'no FailureCause'}); "
                f're-export with {{"ingestion_date": "{day}", "attempt": {task.parsed.attempt + 1}}}'
            )
            incident = Incident(IncidentKind.EXPORT_FAILED, task.export_id, day)
            # The subject of the event path's alert (on_export_event_flow.failure_alert), so both read as one.
            findings.append(
                Finding(incident, line, f"export {task.export_id} {task.status.lower()}, {iso} not published")
            )
        else:
            actions.append(ExportOutcome(task.export_id, Outcome.UNKNOWN_STATUS, task_status=task.status))
            line = f"{day}: export {task.export_id} has unexpected status {task.status!r}"
            incident = Incident(IncidentKind.EXPORT_UNKNOWN_STATUS, task.export_id, day)
            findings.append(Finding(incident, line, f"export {task.export_id} has status {task.status}"))

    if tasks:
        # Nights before the pipeline's first export are not missing, they predate it (fresh deployments).
        day = max(first_day, min(by_day))
        while day < today:
            if day not in by_day:
                line = (
                    f'{day}: no export task at all; backfill with {{"ingestion_date": "{day}"}} '
                    "(check start_export's errors and its schedule's dead-letter queue)"
                )
                incident = Incident(IncidentKind.EXPORT_MISSING, day.isoformat(), day)
                findings.append(Finding(incident, line, f"no export of {config.cluster_identifier} for {day}"))
            day += dt.timedelta(days=1)
    else:
        logger.warning("no export task of this pipeline exists yet", extra={"cluster": config.cluster_identifier})

    for finding in findings:
        announce(clients, config, finding.incident, _problem_alert(config, finding), now)
    _follow_open_incidents(config, clients, {f.incident.key for f in findings}, views, request, now)
    return Result(
        Outcome.RECONCILED,
        window=[first_day.isoformat(), today.isoformat()],
        actions=actions,
        problems=[f.line for f in findings],
    )


def _follow_open_incidents(
    config: Config,
    clients: LambdaClients,
    found: set[str],
    views: dict[dt.date, DayView],
    request: ReconcileRequest,
    now: dt.datetime,
) -> None:
    """Open incidents this run did not find itself (announced by an event, or by an earlier run): reminded while
    they hold, ended once when they no longer do or their day left the window."""
    for state in open_incidents(clients, config):
        incident = state.incident
        if incident.key in found:
            continue
        view = views.get(incident.day)
        holds = still_holds(incident, view)
        if holds is None and view is not None:
            continue  # not judged this run: neither reminded nor ended
        if holds:
            alert = Alert(
                subject=state.subject,
                facts=[("Incident", incident.key), ("Ingestion date", incident.day.isoformat())],
                next_steps=["The first message about it says what to do (README Operations)."],
            )
            announce(clients, config, incident, alert, now)
        else:
            end(clients, config, state, how_it_ended(incident, view, request.lookback_days), now)
