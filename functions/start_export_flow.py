"""start_export's logic: request -> plan (day, source, id, tables) -> StartExportTask -> Result."""

from __future__ import annotations

import datetime as dt
from typing import Any

from alerts import Alert
from aws_clients import LambdaClients, error_code
from aws_lambda_powertools import Logger
from config import Config, ExportSource
from export_ids import make_export_id
from export_tasks import submit_export_task
from incidents import Incident, IncidentKind, announce
from outcomes import Outcome, Result
from sources import Source, SourceRefusedError, automated_snapshot_for_day, live_cluster, named_source
from start_request import InvalidRequestError, parse_request

logger = Logger(child=True)


def choose_source(
    clients: LambdaClients, config: Config, day: dt.date, source_arn: str | None, now: dt.datetime
) -> Source:
    if source_arn:
        return named_source(clients.rds, config, source_arn)
    if config.export_source == ExportSource.CLUSTER:
        if day != config.today(now):
            # The live cluster holds today's data; labelling it as a past day would publish a lie.
            raise InvalidRequestError(
                f"EXPORT_SOURCE=cluster exports today's data; for {day.isoformat()} pass source_arn "
                "(a snapshot of that day, or the cluster ARN to publish current data under that date on purpose)"
            )
        return live_cluster(clients.rds, config)
    return automated_snapshot_for_day(clients.rds, config, day, now)


def refusal_alert(config: Config, day: dt.date, reason: str) -> Alert:
    return Alert(
        subject=f"aurora-sor: export of {config.cluster_identifier} for {day.isoformat()} refused",
        facts=[("Cluster", config.cluster_identifier), ("Ingestion date", day.isoformat()), ("Reason", reason)],
        next_steps=[
            "Check that automated backups are on for the cluster and the latest automated snapshot is "
            "'available' (RDS console, Snapshots, System).",
            "When a fresh snapshot exists, re-run start_export with "
            f'{{"ingestion_date": "{day.isoformat()}"}} (README Operations, Backfill a date), or name a '
            'snapshot with "source_arn".',
        ],
    )


def export_day(config: Config, clients: LambdaClients, event: Any, now: dt.datetime) -> Result:
    """The export of the request's day, started (EXPORT_STARTED) or found started (EXPORT_ALREADY_STARTED).

    Raises InvalidRequestError / InvalidSourceError (bad input, nothing started) and SourceRefusedError
    (announced first as the day's EXPORT_MISSING incident: one message however often the day is refused). AWS
    errors other than "already exists" are raised for Lambda to retry.
    """
    today = config.today(now)
    request = parse_request(event, today)
    day = request.ingestion_date or today
    try:
        source = choose_source(clients, config, day, request.source_arn, now)
    except SourceRefusedError as error:
        incident = Incident(IncidentKind.EXPORT_MISSING, day.isoformat(), day)
        announce(clients, config, incident, refusal_alert(config, day, str(error)), now)
        raise
    identifier = make_export_id(config.cluster_identifier, day, request.attempt)
    export_only = config.export_only if request.export_only is None else request.export_only
    result = Result(
        Outcome.EXPORT_STARTED,
        export_id=identifier,
        ingestion_date=day.isoformat(),
        source_arn=source.arn,
        export_uri=config.export_uri(identifier),
    )
    try:
        submit_export_task(clients.rds, config, export_id=identifier, source_arn=source.arn, export_only=export_only)
    except Exception as error:
        if error_code(error) != "ExportTaskAlreadyExists":
            raise
        # Same night twice (schedule retry, manual re-invoke): the first start stands.
        result.outcome = Outcome.EXPORT_ALREADY_STARTED
    logger.info("export requested", extra=result.as_dict())
    return result
