"""The start_export payload: the schedule's (anything without our keys, usually {}) or an operator's backfill.

Operator payload, every key optional:
    {"ingestion_date": "YYYY-MM-DD", "source_arn": "arn:...", "export_only": ["db.schema"], "attempt": 2}
An unknown key is an error rather than ignored: a typo such as "ingestion-date" would otherwise export
today under today's date while the operator believes a backfill ran.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from export_ids import MAX_ATTEMPT
from export_only import validate_export_only
from refusals import RefusedError

_KEYS = frozenset({"ingestion_date", "source_arn", "export_only", "attempt"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InvalidRequestError(RefusedError, ValueError):
    """A start_export payload that cannot be what the operator meant; nothing is started."""


@dataclass(frozen=True)
class StartRequest:
    ingestion_date: dt.date | None = None
    source_arn: str | None = None
    export_only: tuple[str, ...] | None = None  # None = the EXPORT_ONLY setting
    attempt: int = 1


def _is_scheduler_event(event: dict[str, Any]) -> bool:
    # An EventBridge rule (instead of Scheduler) sends its own envelope; its content is not a request.
    return "detail-type" in event and "source" in event


def parse_request(event: Any, today: dt.date) -> StartRequest:
    if event is None:
        return StartRequest()
    if not isinstance(event, dict):
        raise InvalidRequestError(f"payload must be a JSON object, got {type(event).__name__}")
    if _is_scheduler_event(event):
        return StartRequest()
    unknown = sorted(set(event) - _KEYS)
    if unknown:
        raise InvalidRequestError(f"unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")

    day = None
    if event.get("ingestion_date") is not None:
        raw = event["ingestion_date"]
        if not isinstance(raw, str) or not _DATE.match(raw):
            raise InvalidRequestError(f"ingestion_date must be a YYYY-MM-DD string, got {raw!r}")
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError as error:
            raise InvalidRequestError(f"ingestion_date {raw!r} is not a calendar date") from error
        if day > today:
            raise InvalidRequestError(f"ingestion_date {raw} is in the future (today is {today.isoformat()})")

    source = event.get("source_arn")
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise InvalidRequestError(f"source_arn must be a non-empty string, got {source!r}")

    export_only = None
    if event.get("export_only") is not None:
        raw_list = event["export_only"]
        if not isinstance(raw_list, list):
            raise InvalidRequestError(f"export_only must be a list of strings, got {raw_list!r}")
        try:
            export_only = tuple(validate_export_only(raw_list, origin="export_only"))
        except ValueError as error:
            raise InvalidRequestError(str(error)) from error

    attempt = event.get("attempt", 1)
    if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= MAX_ATTEMPT:
        raise InvalidRequestError(f"attempt must be an integer from 1 to {MAX_ATTEMPT}, got {attempt!r}")

    return StartRequest(day, source.strip() if source else None, export_only, attempt)
