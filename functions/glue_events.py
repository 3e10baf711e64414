"""The SOR job's failed runs, as EventBridge delivers them (template.yaml GlueJobFailedRule -> on_export_event).

"Glue Job State Change" events are emitted for SUCCEEDED, FAILED, TIMEOUT and STOPPED (and ERROR); their detail
carries jobName, severity, state, jobRunId and message ("Automating AWS Glue with EventBridge",
https://docs.aws.amazon.com/glue/latest/dg/automating-awsglue-with-cloudwatch-events.html). The rule passes FAILED,
TIMEOUT and ERROR of this stack's job only. A failed run is the day's PUBLISH_FAILED incident: GetJobRun names the
day and the export (the run's arguments, docs/contracts.md "Glue job"), the day's manifest the tables that failed and
whether reconcile will run the day again. Its end is reconcile's to see (the day's manifest SUCCEEDED).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from alerts import Alert
from aws_clients import LambdaClients
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from config import Config
from incidents import Incident, IncidentKind, announce
from manifests import published_run
from outcomes import ExportOutcome, Outcome, Result
from rds_events import InvalidEventError
from run_requests import MAX_AUTOMATIC_RUNS

logger = Logger(child=True)

GLUE_STATE_CHANGE = "Glue Job State Change"
ENDED_BADLY = frozenset({"FAILED", "TIMEOUT", "ERROR"})


def is_glue_event(event: Any) -> bool:
    return isinstance(event, dict) and event.get("source") == "aws.glue"


@dataclass(frozen=True)
class GlueRunEnded:
    job_name: str
    run_id: str
    state: str
    message: str


def parse_glue_event(event: dict[str, Any]) -> GlueRunEnded:
    envelope = EventBridgeEvent(event)
    detail = envelope.detail if envelope.detail_type == GLUE_STATE_CHANGE else None
    if not isinstance(detail, dict):
        raise InvalidEventError(f"aws.glue event that is not a {GLUE_STATE_CHANGE!r} with a detail object")
    fields = {name: detail.get(name) for name in ("jobName", "jobRunId", "state")}
    missing = sorted(name for name, value in fields.items() if not isinstance(value, str) or not value)
    if missing:
        raise InvalidEventError(f"{GLUE_STATE_CHANGE} event without {', '.join(missing)}")
    return GlueRunEnded(
        str(fields["jobName"]), str(fields["jobRunId"]), str(fields["state"]).upper(), str(detail.get("message", ""))
    )


def _failure_alert(
    run: GlueRunEnded, day: str, export_uri: str, failed_tables: tuple[str, ...], retryable: bool
) -> Alert:
    automatic = (
        f"yes: every table failed for a transient cause, so reconcile runs the day again (at most "
        f"{MAX_AUTOMATIC_RUNS} runs); this incident ends when the day publishes"
        if retryable
        else "no"
    )
    return Alert(
        subject=f"aurora-sor: {day} not published, Glue run {run.state.lower()}",
        facts=[
            ("Ingestion date", day),
            ("Glue run", f"{run.job_name} {run.run_id} ended {run.state}"),
            ("Message", run.message or "(none)"),
            ("Export", export_uri or "(unknown)"),
            ("Tables that failed", ", ".join(failed_tables) or "none listed (the run crashed before its tables)"),
            ("Automatic re-run", automatic),
        ],
        next_steps=[
            "Tables that published are kept; read the day's run manifest (README Troubleshooting) for each failure.",
            "Once the cause is fixed, re-run the day (README Operations, Re-run a day).",
        ],
    )


def handle_glue_event(config: Config, clients: LambdaClients, raw_event: dict[str, Any], now: dt.datetime) -> Result:
    run = parse_glue_event(raw_event)
    if run.job_name != config.glue_job_name or run.state not in ENDED_BADLY:
        reason = f"Glue job {run.job_name} run {run.run_id} {run.state}: not a failed run of {config.glue_job_name}"
        logger.info("event ignored", extra={"reason": reason})
        return Result(Outcome.EVENT_IGNORED, reason=reason)
    details = clients.glue.get_job_run(JobName=run.job_name, RunId=run.run_id)["JobRun"]
    arguments = details.get("Arguments") or {}
    day_text = str(arguments.get("--ingestion_date", ""))
    try:
        day = dt.date.fromisoformat(day_text)
    except ValueError:
        raise InvalidEventError(f"Glue run {run.run_id} has no --ingestion_date argument ({day_text!r})") from None
    export_uri = str(arguments.get("--export_uri", ""))
    manifest = published_run(clients.s3, config.sor_bucket, config.catalog_database, day)
    export_id = export_uri.rstrip("/").rsplit("/", 1)[-1]
    named = manifest is not None and manifest.export_id == export_id
    failed = manifest.failed_tables if manifest is not None and named else ()
    retryable = bool(manifest is not None and named and manifest.retryable)
    incident = Incident(IncidentKind.PUBLISH_FAILED, day.isoformat(), day)
    announce(clients, config, incident, _failure_alert(run, day.isoformat(), export_uri, failed, retryable), now)
    outcome = ExportOutcome(export_id, Outcome.PUBLISH_FAILED, ingestion_date=day.isoformat(), job_run_id=run.run_id)
    return Result(Outcome.EVENT_HANDLED, event=f"{GLUE_STATE_CHANGE} {run.state}", tasks=[outcome])
