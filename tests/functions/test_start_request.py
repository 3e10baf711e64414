"""start_export payloads: the schedule's, an operator's, and the malformed ones that must start nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from start_request import InvalidRequestError, StartRequest, parse_request

TODAY = dt.date(2026, 11, 26)


@pytest.mark.parametrize(
    "event",
    [
        None,
        {},
        # An EventBridge scheduled-rule envelope: its content is not a request.
        {"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "detail": {}},
    ],
)
def test_schedule_payloads_mean_tonight_with_defaults(event: Any) -> None:
    assert parse_request(event, TODAY) == StartRequest()


def test_operator_payload_is_read_in_full() -> None:
    event = {
        "ingestion_date": "2026-11-20",
        "source_arn": "arn:aws:rds:sa-east-1:123456789012:cluster-snapshot:manual-1",
        "export_only": ["mydb.public"],
        "attempt": 2,
    }
    assert parse_request(event, TODAY) == StartRequest(dt.date(2026, 11, 20), event["source_arn"], ("mydb.public",), 2)
    assert parse_request({"export_only": []}, TODAY).export_only == ()


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ([], "JSON object"),
        ("2026-11-20", "JSON object"),
        ({"ingestion-date": "2026-11-20"}, "unknown key"),
        ({"ingestion_date": "20261120"}, "YYYY-MM-DD"),
        ({"ingestion_date": "2026-02-30"}, "calendar date"),
        ({"ingestion_date": 20261120}, "YYYY-MM-DD"),
        ({"ingestion_date": "2026-11-27"}, "future"),
        ({"source_arn": ""}, "source_arn"),
        ({"source_arn": 5}, "source_arn"),
        ({"export_only": "mydb.public"}, "list"),
        ({"export_only": ["mydb.public", "bad name"]}, "entry 1"),
        ({"attempt": 0}, "attempt"),
        ({"attempt": "2"}, "attempt"),
        ({"attempt": True}, "attempt"),
    ],
)
def test_malformed_payloads_are_rejected_clearly(event: Any, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_request(event, TODAY)
