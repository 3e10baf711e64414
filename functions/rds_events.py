"""Which RDS events matter, and what an export event is about.

Event ids (docs/aws-facts.md "Events", from USER_Events.Messages.html): export of a DB cluster snapshot 0164
completed / 0162 failed / 0163 canceled; of a live DB cluster 0236 / 0234 / 0235; of a DB (instance)
snapshot 0161 / 0159 / 0160; 0489 table extraction failed. The event names the source (detail.SourceArn),
not the export task. Envelope (EventBridge): {"source": "aws.rds", "detail-type": "RDS DB Cluster Snapshot
Event" | "RDS DB Cluster Event" | "RDS DB Snapshot Event", "detail": {"EventID", "SourceArn", ...}}
(https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-rds.html).

When the event happened: the envelope's `time` (RFC 3339, set by the service that emits the event; EventBridge
event structure, https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html) and RDS's own
`detail.Date` (ISO 8601 with milliseconds in RDS's samples,
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-cloudwatch-events.sample.html). `detail.Date`
is preferred for its precision, `time` is the fallback; an export event with neither is refused.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from refusals import RefusedError


class EventKind(StrEnum):
    """What an export event reports; the value is the "kind" of on_export_event's JSON result."""

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"
    TABLE_FAILED = "table_extraction_failed"


EVENT_KINDS: dict[str, EventKind] = {
    "RDS-EVENT-0164": EventKind.COMPLETED,
    "RDS-EVENT-0236": EventKind.COMPLETED,
    "RDS-EVENT-0161": EventKind.COMPLETED,
    "RDS-EVENT-0162": EventKind.FAILED,
    "RDS-EVENT-0234": EventKind.FAILED,
    "RDS-EVENT-0159": EventKind.FAILED,
    "RDS-EVENT-0163": EventKind.CANCELED,
    "RDS-EVENT-0235": EventKind.CANCELED,
    "RDS-EVENT-0160": EventKind.CANCELED,
    "RDS-EVENT-0489": EventKind.TABLE_FAILED,
}


class InvalidEventError(RefusedError, ValueError):
    """Not an EventBridge event at all, or an export event without the fields AWS documents."""


class NotOurEvent(Exception):
    """A well-formed event this pipeline does not act on (another source, an RDS event that is not about an export);
    the message says why, for the log and the ignored result."""


@dataclass(frozen=True)
class ExportEvent:
    event_id: str  # RDS-EVENT-xxxx
    kind: EventKind
    source_arn: str
    message: str
    date: str
    occurred_at: dt.datetime | None = None  # always set by classify()


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    # RFC 3339 always carries an offset; a naive time cannot be placed against TaskEndTime.
    return parsed.astimezone(dt.UTC) if parsed.tzinfo is not None else None


def classify(event: Any) -> ExportEvent:
    """The export event; raises NotOurEvent for an event that is not ours to act on, InvalidEventError for one
    that is malformed."""
    if not isinstance(event, dict) or not {"source", "detail-type", "detail"} <= set(event):
        raise InvalidEventError("not an EventBridge event: expected keys source, detail-type, detail")
    envelope = EventBridgeEvent(event)
    if envelope.source != "aws.rds":
        raise NotOurEvent(f"source {envelope.source!r} is not aws.rds")
    detail = envelope.detail
    if not isinstance(detail, dict):
        raise InvalidEventError("aws.rds event whose detail is not an object")
    rds_event_id = detail.get("EventID")
    kind = EVENT_KINDS.get(rds_event_id) if isinstance(rds_event_id, str) else None
    if kind is None:
        raise NotOurEvent(f"RDS event {rds_event_id!r} is not an export event")
    source_arn = detail.get("SourceArn")
    if not isinstance(source_arn, str) or not source_arn.startswith("arn:"):
        raise InvalidEventError(f"{rds_event_id} without a SourceArn: {source_arn!r}")
    occurred_at = _timestamp(detail.get("Date")) or _timestamp(event.get("time"))
    if occurred_at is None:
        raise InvalidEventError(
            f"{rds_event_id} without a usable time: detail.Date={detail.get('Date')!r}, time={event.get('time')!r}"
        )
    return ExportEvent(
        event_id=rds_event_id,
        kind=kind,
        source_arn=source_arn,
        message=str(detail.get("Message", "")),
        date=str(detail.get("Date", "")),
        occurred_at=occurred_at,
    )
