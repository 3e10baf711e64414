"""on_export_event's logic for RDS events: event -> our tasks for its source -> Glue run or alert -> summary."""

from __future__ import annotations

from typing import Any

from alerts import Alert, publish_alert
from aws_clients import Clients
from aws_lambda_powertools import Logger
from config import Config
from export_tasks import FAILED_STATES, ExportTask, list_our_tasks
from publishing import publish_export
from rds_events import COMPLETED, TABLE_FAILED, ExportEvent, classify

logger = Logger(child=True)


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


def table_failure_alert(tasks: list[ExportTask], event: ExportEvent) -> Alert:
    ids = ", ".join(t.export_id for t in tasks)
    return Alert(
        subject=f"aurora-sor: table extraction failed in export {tasks[0].export_id}",
        facts=[("Export id", ids), ("Source", event.source_arn), ("RDS event", f"{event.event_id} {event.message}")],
        next_steps=[
            "The export goes on; the failed table will be missing or the export will fail (a further alert).",
            "When the export completes, check the day's run manifest for the table list.",
        ],
    )


def handle_rds_event(config: Config, clients: Clients, event: Any) -> dict[str, Any]:
    classified = classify(event)
    if isinstance(classified, str):
        logger.info("event ignored", extra={"reason": classified})
        return {"status": "ignored", "reason": classified}
    tasks = list_our_tasks(clients.rds, config, source_arn=classified.source_arn)
    summary: dict[str, Any] = {"status": "handled", "event": classified.event_id, "kind": classified.kind}
    if not tasks:
        reason = f"no export task of this pipeline for {classified.source_arn}"
        logger.info("event ignored", extra={"reason": reason, "rds_event": classified.event_id})
        return {"status": "ignored", "reason": reason, "event": classified.event_id}

    if classified.kind == COMPLETED:
        summary["tasks"] = [publish_export(config, clients, task).as_dict() for task in tasks]
        waiting = [t["export_id"] for t in summary["tasks"] if t["action"] == "not_complete"]
        if waiting:
            # DescribeExportTasks may lag the event; reconcile picks these up when they read COMPLETE.
            logger.warning("completion event but task not COMPLETE yet", extra={"export_ids": waiting})
    elif classified.kind == TABLE_FAILED:
        publish_alert(clients.sns, config.alert_topic_arn, table_failure_alert(tasks, classified))
        summary["tasks"] = [{"export_id": t.export_id, "action": "alerted"} for t in tasks]
    else:
        summary["tasks"] = []
        for task in tasks:
            if task.status in FAILED_STATES:
                publish_alert(clients.sns, config.alert_topic_arn, failure_alert(task, classified))
                summary["tasks"].append({"export_id": task.export_id, "action": "alerted"})
            else:
                # The task disagrees with the event (an older export of the same source); reconcile judges it.
                logger.warning("failure event but task status differs", extra={"export_id": task.export_id})
                summary["tasks"].append({"export_id": task.export_id, "action": f"status_{task.status.lower()}"})
    return summary
