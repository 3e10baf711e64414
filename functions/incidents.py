"""Incidents: one message on the alert topic per problem, however many times and ways the problem is seen.

An incident is a problem with an identity: its kind and what it is about (a day, or an export id). The same refused
day reaches this code from the nightly schedule, a retried delivery, a person's backfill and every hourly reconcile;
each of those is a *sighting* of one incident, and the rules below turn sightings into messages:

- the first sighting announces it (also the first after an incident ended: the problem came back);
- a lasting incident seen again is announced again at most once per REMIND_AFTER, saying since when;
- reconcile announces the end of a lasting incident once, when the day it is about no longer shows it, or when the
  day leaves reconcile's window (no longer watched, said so);
- a notice (tables RDS skipped, a table extraction failure) is announced once and never again.

The state is durable, in a DynamoDB table (template.yaml IncidentTable; an in-memory set would forget between
invocations and execution environments). Powertools' idempotency utility was considered: it keys on an invocation's
payload and replays a cached result within an expiry, while one incident arrives in different payloads (a schedule's
`{}`, a backfill's date, reconcile's verdict) and needs "still open since X, remind daily, ended" rather than "seen".

Races: each write is conditional on the `version` read (DynamoDB ConditionExpression; a failed condition is
ConditionalCheckFailedException, botocore dynamodb service-2.json), so of two invocations that see the same
incident at once, one announces and the other stays quiet. A message SNS refuses rolls its claim back and the error
is raised, so Lambda's retry announces it instead of losing it. When the store itself fails, the message is sent
anyway, marked as possibly repeated, and the error raised: a broken store costs duplicates and an Errors alarm,
never silence.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

from alerts import Alert, send_alert
from aws_clients import LambdaClients, error_code
from aws_lambda_powertools import Logger
from config import Config

logger = Logger(child=True)

REMIND_AFTER = dt.timedelta(hours=24)
# Items expire (DynamoDB TTL on `expires_at`) this long after their last change, so the table never grows; every
# reminder renews it, and reconcile ends an open incident long before (its window is at most 35 days).
KEEP_FOR = dt.timedelta(days=60)
_CONFLICT = "ConditionalCheckFailedException"


class IncidentKind(Enum):
    """What went wrong; `lasting` incidents are reminded and ended, notices are announced once."""

    slug: str
    lasting: bool

    def __init__(self, slug: str, lasting: bool) -> None:
        self.slug = slug
        self.lasting = lasting

    EXPORT_MISSING = ("export-missing", True)  # about a day: no export task (refused, or never started)
    EXPORT_FAILED = ("export-failed", True)  # about an export id: FAILED, CANCELED or CANCELING
    EXPORT_STUCK = ("export-stuck", True)  # about an export id: still running past reconcile's limit
    EXPORT_UNKNOWN_STATUS = ("export-unknown-status", True)  # about an export id: a status this code does not know
    PUBLISH_FAILED = ("publish-failed", True)  # about a day: a Glue run failed, or automation gave up on it
    NOT_JUDGED = ("not-judged", True)  # about a day: reconcile could not read what it needs (an AWS error)
    TABLES_SKIPPED = ("tables-skipped", False)  # about an export id: RDS skipped tables (the export's warnings)
    TABLE_EXTRACTION_FAILED = ("table-extraction-failed", False)  # about an export id: RDS-EVENT-0489


class Announcement(Enum):
    FIRST = "first"
    REMINDER = "reminder"
    QUIET = "quiet"


@dataclass(frozen=True)
class Incident:
    kind: IncidentKind
    about: str  # the day (YYYY-MM-DD) or the export id
    day: dt.date  # the ingestion date the incident concerns

    @property
    def key(self) -> str:
        return f"{self.kind.slug}#{self.about}"


@dataclass(frozen=True)
class IncidentState:
    """An incident as the store holds it."""

    incident: Incident
    subject: str  # the first announcement's subject, repeated in reminders and in the end
    first_seen: dt.datetime
    last_announced: dt.datetime
    announcements: int
    version: int
    ended_at: dt.datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


def on_sighting(state: IncidentState | None, kind: IncidentKind, now: dt.datetime) -> Announcement:
    """What a sighting of the incident says on the topic (pure)."""
    if state is None or not state.is_open:
        return Announcement.FIRST
    if kind.lasting and now - state.last_announced >= REMIND_AFTER:
        return Announcement.REMINDER
    return Announcement.QUIET


def reminder(alert: Alert, state: IncidentState, now: dt.datetime) -> Alert:
    """The alert again, saying since when the problem lasts."""
    days = (now - state.first_seen).total_seconds() / 86400
    return Alert(
        subject=f"still: {alert.subject}",
        facts=[
            ("Since", f"{_stamp(state.first_seen)} ({days:.1f} days; reminder {state.announcements}, at most daily)"),
            *alert.facts,
        ],
        next_steps=alert.next_steps,
    )


def end_alert(state: IncidentState, how: str, now: dt.datetime) -> Alert:
    days = (now - state.first_seen).total_seconds() / 86400
    return Alert(
        subject=f"ended: {state.subject}",
        facts=[
            ("Incident", state.incident.key),
            ("Since", f"{_stamp(state.first_seen)} ({days:.1f} days)"),
            ("Ended", f"{_stamp(now)}: {how}"),
        ],
        next_steps=[],
    )


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


class IncidentStoreError(RuntimeError):
    """The incident table could not be read or written; the alert was sent anyway (it may repeat)."""


# -- the store ---------------------------------------------------------------------------------------------------
def _item(state: IncidentState) -> dict[str, Any]:
    item: dict[str, Any] = {
        "incident": {"S": state.incident.key},
        "kind": {"S": state.incident.kind.slug},
        "about": {"S": state.incident.about},
        "day": {"S": state.incident.day.isoformat()},
        "subject": {"S": state.subject},
        "first_seen": {"S": state.first_seen.isoformat()},
        "last_announced": {"S": state.last_announced.isoformat()},
        "announcements": {"N": str(state.announcements)},
        "version": {"N": str(state.version)},
        "expires_at": {"N": str(int(((state.ended_at or state.last_announced) + KEEP_FOR).timestamp()))},
    }
    if state.ended_at is not None:
        item["ended_at"] = {"S": state.ended_at.isoformat()}
    return item


_KINDS = {kind.slug: kind for kind in IncidentKind}


def _state(item: dict[str, Any]) -> IncidentState | None:
    """An item read back; None for one this code does not know (a kind since removed), which it leaves alone."""
    kind = _KINDS.get(item.get("kind", {}).get("S", ""))
    if kind is None:
        return None
    ended = item.get("ended_at", {}).get("S")
    return IncidentState(
        incident=Incident(kind, item["about"]["S"], dt.date.fromisoformat(item["day"]["S"])),
        subject=item["subject"]["S"],
        first_seen=dt.datetime.fromisoformat(item["first_seen"]["S"]),
        last_announced=dt.datetime.fromisoformat(item["last_announced"]["S"]),
        announcements=int(item["announcements"]["N"]),
        version=int(item["version"]["N"]),
        ended_at=dt.datetime.fromisoformat(ended) if ended else None,
    )


def _read(dynamodb: Any, table: str, incident: Incident) -> IncidentState | None:
    found = dynamodb.get_item(TableName=table, Key={"incident": {"S": incident.key}}, ConsistentRead=True)
    return _state(found["Item"]) if "Item" in found else None


def _write(dynamodb: Any, table: str, new: IncidentState, old: IncidentState | None) -> bool:
    """Writes `new` if the item is still `old` (by version); False when another invocation changed it first."""
    condition: dict[str, Any]
    if old is None:
        condition = {"ConditionExpression": "attribute_not_exists(incident)"}
    else:
        condition = {
            "ConditionExpression": "version = :seen",
            "ExpressionAttributeValues": {":seen": {"N": str(old.version)}},
        }
    try:
        dynamodb.put_item(TableName=table, Item=_item(new), **condition)
    except Exception as error:
        if error_code(error) == _CONFLICT:
            return False
        raise
    return True


def _undo(dynamodb: Any, table: str, new: IncidentState, old: IncidentState | None) -> None:
    """Puts back what `_write` replaced, unless someone changed it since (then theirs stands)."""
    seen = {"ConditionExpression": "version = :ours", "ExpressionAttributeValues": {":ours": {"N": str(new.version)}}}
    try:
        if old is None:
            dynamodb.delete_item(TableName=table, Key={"incident": {"S": new.incident.key}}, **seen)
        else:
            dynamodb.put_item(TableName=table, Item=_item(old), **seen)
    except Exception as error:
        if error_code(error) != _CONFLICT:
            logger.exception("could not undo an incident claim", extra={"incident": new.incident.key})


def open_incidents(clients: LambdaClients, config: Config) -> list[IncidentState]:
    """Every open lasting incident (a Scan: the table holds a few items per problem night, expired by TTL)."""
    found: list[IncidentState] = []
    for page in clients.dynamodb.get_paginator("scan").paginate(
        TableName=config.incident_table, FilterExpression="attribute_not_exists(ended_at)", ConsistentRead=True
    ):
        for item in page.get("Items", []):
            state = _state(item)
            if state is not None and state.is_open and state.incident.kind.lasting:
                found.append(state)
    return found


# -- sightings and ends ----------------------------------------------------------------------------------------------
def announce(
    clients: LambdaClients, config: Config, incident: Incident, alert: Alert, now: dt.datetime
) -> Announcement:
    """A sighting of `incident`: sends `alert` (or its reminder) when the rules say so, and records it."""
    table, topic_arn = config.incident_table, config.alert_topic_arn
    try:
        state = _read(clients.dynamodb, table, incident)
    except Exception as error:
        _send_unrecorded(clients, topic_arn, incident, alert, error)
        raise IncidentStoreError(f"incident {incident.key}: reading the store failed ({error})") from error
    said = on_sighting(state, incident.kind, now)
    if said is Announcement.QUIET:
        logger.info("incident already announced", extra={"incident": incident.key})
        return said
    if said is Announcement.FIRST:
        message = alert
        new = IncidentState(incident, alert.subject, now, now, 1, (state.version + 1) if state else 1)
    else:
        assert state is not None
        message = reminder(alert, state, now)
        new = dataclasses.replace(
            state, last_announced=now, announcements=state.announcements + 1, version=state.version + 1
        )
    try:
        claimed = _write(clients.dynamodb, table, new, state)
    except Exception as error:
        _send_unrecorded(clients, topic_arn, incident, message, error)
        raise IncidentStoreError(f"incident {incident.key}: writing the store failed ({error})") from error
    if not claimed:
        logger.info("incident announced by another invocation", extra={"incident": incident.key})
        return Announcement.QUIET
    _send_claimed(clients, config, new, state, message)
    logger.warning("incident announced", extra={"incident": incident.key, "announcement": said.value})
    return said


def end(clients: LambdaClients, config: Config, state: IncidentState, how: str, now: dt.datetime) -> bool:
    """Ends an open incident and says so once; False when another invocation changed it first."""
    new = dataclasses.replace(state, version=state.version + 1, ended_at=now)
    if not _write(clients.dynamodb, config.incident_table, new, state):
        return False
    _send_claimed(clients, config, new, state, end_alert(state, how, now))
    logger.info("incident ended", extra={"incident": state.incident.key, "how": how})
    return True


def _send_claimed(
    clients: LambdaClients, config: Config, new: IncidentState, old: IncidentState | None, message: Alert
) -> None:
    """Sends the message a write just claimed; should SNS refuse it, the claim is undone and the error raised, so
    Lambda's retry sends it instead of finding it claimed and staying quiet."""
    try:
        send_alert(clients.sns, config.alert_topic_arn, message)
    except Exception:
        _undo(clients.dynamodb, config.incident_table, new, old)
        raise


def _send_unrecorded(
    clients: LambdaClients, topic_arn: str, incident: Incident, alert: Alert, error: Exception
) -> None:
    logger.exception("incident store failed; alerting without a record", extra={"incident": incident.key})
    warned = Alert(
        subject=alert.subject,
        facts=[*alert.facts, ("Incident store", f"unavailable ({error_code(error) or type(error).__name__}); "
                                                "this message may repeat until it is fixed")],
        next_steps=alert.next_steps,
    )  # fmt: skip
    send_alert(clients.sns, topic_arn, warned)
