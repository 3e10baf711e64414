"""on_export_event's logic for RDS events: event -> the task it is about -> Glue run or alert -> Result.

An export event names its source (detail.SourceArn), not the export task. With ExportSource=cluster every night
exports the same cluster ARN, so the source alone would bring back every earlier night and superseded attempt.
The event is matched to the task by time instead: a completion, failure or cancellation event is about the task of
that source whose TaskEndTime (botocore rds service-2.json, ExportTask) is closest to the event's time, within
EVENT_TIME_TOLERANCE; a table-extraction failure (the export goes on) is about the tasks of that source that were
running at the event's time. Whatever the event path leaves (no match yet, the job busy), reconcile picks up.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from alerts import Alert
from aws_clients import LambdaClients
from aws_lambda_powertools import Logger
from config import Config
from export_tasks import FAILED_STATES, RUNNING_STATES, ExportTask, list_our_tasks
from incidents import Incident, IncidentKind, announce
from outcomes import ExportOutcome, Outcome, Result
from rds_events import EventKind, ExportEvent, NotOurEvent, classify
from run_requests import GlueBusyError, request_run

logger = Logger(child=True)

# How far an export event's time may be from its task's TaskEndTime. RDS stamps both when the task ends, but AWS
# does not document how close they are, so the margin is wide for that and still far below the distance between
# two exports of one source that must not be confused: nightly exports are a day apart, and a re-export of a day
# is started by a person after the previous attempt's failure alert. Should two tasks of one source still end
# inside the margin, each event takes the task closest to its own time.
EVENT_TIME_TOLERANCE = dt.timedelta(minutes=15)


def tasks_the_event_is_about(tasks: list[ExportTask], event: ExportEvent) -> list[ExportTask]:
    """The task(s) of the event's source the event reports on (pure; the event's time is set by classify)."""
    at = event.occurred_at
    if at is None:
        return []
    if event.kind is EventKind.TABLE_FAILED:
        return [
            t
            for t in tasks
            if (t.task_start_time is None or t.task_start_time <= at + EVENT_TIME_TOLERANCE)
            and (t.task_end_time is None or t.task_end_time >= at - EVENT_TIME_TOLERANCE)
        ]
    ended = [(abs(t.task_end_time - at), t) for t in tasks if t.task_end_time is not None]
    near = [(distance, t) for distance, t in ended if distance <= EVENT_TIME_TOLERANCE]
    if not near:
        return []
    return [min(near, key=lambda pair: pair[0])[1]]


def _start_run(config: Config, clients: LambdaClients, task: ExportTask, now: dt.datetime) -> ExportOutcome:
    try:
        return request_run(config, clients, task, now)
    except GlueBusyError:
        # Not an error: failing would send the event through Lambda's retries into the dead-letter queue, while
        # reconcile starts the day once the job is free (it reads COMPLETE tasks without a manifest).
        logger.info("glue job busy with another day, deferred to reconcile", extra={"export_id": task.export_id})
        return ExportOutcome(
            task.export_id, Outcome.DEFERRED_TO_RECONCILE, ingestion_date=task.ingestion_date.isoformat()
        )


def failure_alert(task: ExportTask, event: ExportEvent | None) -> Alert:
    day = task.ingestion_date.isoformat()
    facts = [
        ("Export id", task.export_id),
        ("Status", task.status),
        ("Source", task.source_arn),
        ("Ingestion date", day),
        ("FailureCause", task.failure_cause or "(none given)"),
    ]
    if event is not None:
        facts.append(("RDS event", f"{event.event_id} {event.message}".strip()))
    return Alert(
        subject=f"aurora-sor: export {task.export_id} {task.status.lower()}, {day} not published",
        facts=facts,
        next_steps=[
            "Nothing was published for this date and no Glue run was started.",
            "Read FailureCause (IAM role or KMS key permissions, source state, LOB too large...) and fix it.",
            "Then re-export the day with a new attempt: invoke start_export with "
            f'{{"ingestion_date": "{day}", "attempt": {task.parsed.attempt + 1}}} '
            "(README Operations, Re-run a day).",
        ],
    )


def table_failure_alert(task: ExportTask, event: ExportEvent) -> Alert:
    return Alert(
        subject=f"aurora-sor: table extraction failed in export {task.export_id}",
        facts=[
            ("Export id", task.export_id),
            ("Source", event.source_arn),
            ("RDS event", f"{event.event_id} {event.message}"),
        ],
        next_steps=[
            "The export goes on; the failed table will be missing or the export will fail (a further alert).",
            "Further table failures of this export are not announced one by one: the export's completion "
            "(with the tables it skipped) or its failure is.",
            "When the export completes, check the day's run manifest for the table list.",
        ],
    )


def handle_rds_event(config: Config, clients: LambdaClients, raw_event: Any, now: dt.datetime | None = None) -> Result:
    now = now or dt.datetime.now(dt.UTC)  # the incidents' clock; the event's own time matches it to its task
    try:
        event = classify(raw_event)
    except NotOurEvent as not_ours:
        logger.info("event ignored", extra={"reason": str(not_ours)})
        return Result(Outcome.EVENT_IGNORED, reason=str(not_ours))
    source_tasks = list_our_tasks(clients.rds, config, source_arn=event.source_arn)
    if not source_tasks:
        reason = f"no export task of this pipeline for {event.source_arn}"
        logger.info("event ignored", extra={"reason": reason, "rds_event": event.event_id})
        return Result(Outcome.EVENT_IGNORED, reason=reason, event=event.event_id)
    tasks = tasks_the_event_is_about(source_tasks, event)
    handled = Result(Outcome.EVENT_HANDLED, event=event.event_id, kind=event.kind, tasks=[])

    if event.kind is EventKind.COMPLETED:
        if not tasks:
            # DescribeExportTasks may lag the event (no TaskEndTime yet); reconcile picks the task up once it
            # reads COMPLETE.
            waiting = [t for t in source_tasks if t.status in RUNNING_STATES]
            if not waiting:
                return _no_match(event)
            logger.warning(
                "completion event but task not COMPLETE yet", extra={"export_ids": [t.export_id for t in waiting]}
            )
            tasks = waiting
        handled.tasks = [_start_run(config, clients, task, now) for task in tasks]
    elif not tasks:
        return _no_match(event)
    elif event.kind is EventKind.TABLE_FAILED:
        for task in tasks:
            incident = Incident(IncidentKind.TABLE_EXTRACTION_FAILED, task.export_id, task.ingestion_date)
            announce(clients, config, incident, table_failure_alert(task, event), now)
        handled.tasks = [ExportOutcome(t.export_id, Outcome.ALERTED) for t in tasks]
    else:
        for task in tasks:
            if task.status in FAILED_STATES:
                incident = Incident(IncidentKind.EXPORT_FAILED, task.export_id, task.ingestion_date)
                announce(clients, config, incident, failure_alert(task, event), now)
                handled.tasks.append(ExportOutcome(task.export_id, Outcome.ALERTED))
            else:
                # The task disagrees with the event; reconcile judges it.
                logger.warning("failure event but task status differs", extra={"export_id": task.export_id})
                handled.tasks.append(ExportOutcome(task.export_id, Outcome.STATUS_DIFFERS, task_status=task.status))
    return handled


def _no_match(event: ExportEvent) -> Result:
    reason = (
        f"no export task of this pipeline for {event.source_arn} ended within {EVENT_TIME_TOLERANCE} of "
        f"{event.occurred_at.isoformat() if event.occurred_at else 'the event'}"
    )
    # Not an error: retrying cannot make an old event match, and reconcile judges every recent day anyway.
    logger.warning("event matches no task", extra={"reason": reason, "rds_event": event.event_id})
    return Result(Outcome.EVENT_IGNORED, reason=reason, event=event.event_id)
