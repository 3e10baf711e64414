"""Which export task an RDS export event is about (on_export_event_flow.tasks_the_event_is_about), on pure inputs.

An event carries its source and its time, not the task id: the task is the one whose TaskEndTime is closest to the
event's time, within EVENT_TIME_TOLERANCE. "Closest" is not "newest": a later export of the same source can end
inside the window too, and picking it would publish (or alert on) the wrong day."""

from __future__ import annotations

import datetime as dt

from export_ids import make_export_id, parse_export_id
from export_tasks import ExportTask, ExportTaskStatus
from on_export_event_flow import EVENT_TIME_TOLERANCE, tasks_the_event_is_about
from rds_events import EventKind, ExportEvent

SOURCE = "arn:aws:rds:sa-east-1:123456789012:cluster-snapshot:rds:shop-2026-11-26-06-05"
EVENT_AT = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)


def task(day: str, ended: dt.datetime | None, attempt: int = 1) -> ExportTask:
    export_id = make_export_id("shop", dt.date.fromisoformat(day), attempt)
    parsed = parse_export_id(export_id)
    assert parsed is not None
    return ExportTask(
        export_id, parsed, ExportTaskStatus.COMPLETE, SOURCE, "bucket", "exports",
        task_start_time=EVENT_AT - dt.timedelta(hours=1), failure_cause="", warning_message="", task_end_time=ended,
    )  # fmt: skip


def completed(at: dt.datetime = EVENT_AT) -> ExportEvent:
    return ExportEvent("RDS-EVENT-0164", EventKind.COMPLETED, SOURCE, "Export task completed", at.isoformat(), at)


def test_the_task_that_ended_closest_to_the_event_not_the_newest_in_the_window() -> None:
    closest = task("2026-11-26", EVENT_AT - dt.timedelta(minutes=2))
    newer_but_farther = task("2026-11-25", EVENT_AT + dt.timedelta(minutes=10), attempt=2)  # inside the window
    older_outside = task("2026-11-24", EVENT_AT - EVENT_TIME_TOLERANCE - dt.timedelta(seconds=1))
    assert newer_but_farther.task_end_time - EVENT_AT <= EVENT_TIME_TOLERANCE
    for order in ([closest, newer_but_farther, older_outside], [newer_but_farther, older_outside, closest]):
        assert tasks_the_event_is_about(order, completed()) == [closest]


def test_no_task_when_none_ended_within_the_tolerance() -> None:
    far = task("2026-11-26", EVENT_AT + EVENT_TIME_TOLERANCE + dt.timedelta(seconds=1))
    running = task("2026-11-26", None)
    assert tasks_the_event_is_about([far, running], completed()) == []
