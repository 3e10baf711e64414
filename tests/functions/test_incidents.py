"""One message per incident: each alert path announces once, reminds at most daily while the problem lasts (saying
since when), and says its end once. The Lambdas run as their roles under IAM enforcement, the incident store is the
template's table in the emulator, and every count is of messages delivered by the alert topic."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aws_clients
import pytest
from alerts import Alert
from glue_events import handle_glue_event
from incidents import (
    REMIND_AFTER,
    Announcement,
    Incident,
    IncidentKind,
    IncidentState,
    IncidentStoreError,
    announce,
    on_sighting,
    open_incidents,
)
from on_export_event_flow import handle_rds_event
from on_export_event_reconcile import ReconcileRequest, reconcile
from run_requests import request_run

from local.emulator.aws_emulator import Fault
from tests.functions.conftest import EVENT_TIME, EVENTS, FakeContext, Pipeline
from tests.functions.test_start_export import deliver_asynchronously

START, EVENT = "StartExportRole", "OnExportEventRole"
DAY = dt.date(2026, 11, 25)
WIDE = ReconcileRequest(lookback_days=10)  # the days stay in the window across the simulated days
FAILED_0162 = "rds-event-0162-cluster-snapshot-export-failed.json"


def about(pipeline: Pipeline, text: str) -> list[dict[str, str]]:
    """The messages delivered so far whose subject names `text` (a day, an export id)."""
    return [alert for alert in pipeline.alerts() if text in alert["Subject"]]


def kinds(messages: list[dict[str, str]]) -> list[str]:
    """first / still / ended, in order."""
    return [
        "ended" if m["Subject"].startswith("ended: ") else "still" if m["Subject"].startswith("still: ") else "first"
        for m in messages
    ]


def reconcile_at(pipeline: Pipeline, when: dt.datetime) -> dict[str, Any]:
    return reconcile(pipeline.config, pipeline.clients_as(EVENT), WIDE, when).as_dict()


def hourly(pipeline: Pipeline, start: dt.datetime, hours: int) -> None:
    for hour in range(hours):
        reconcile_at(pipeline, start + dt.timedelta(hours=hour))


# -- the rules, pure -----------------------------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def state(kind: IncidentKind, announced: dt.datetime, ended: dt.datetime | None = None) -> IncidentState:
    return IncidentState(Incident(kind, "x", DAY), "s", announced, announced, 1, 1, ended)


@pytest.mark.parametrize(
    ("kind", "record", "said"),
    [
        (IncidentKind.EXPORT_MISSING, None, Announcement.FIRST),
        (IncidentKind.EXPORT_MISSING, state(IncidentKind.EXPORT_MISSING, NOW - dt.timedelta(hours=23)),
         Announcement.QUIET),
        (IncidentKind.EXPORT_MISSING, state(IncidentKind.EXPORT_MISSING, NOW - REMIND_AFTER), Announcement.REMINDER),
        # A notice is said once, however long ago.
        (IncidentKind.TABLES_SKIPPED, state(IncidentKind.TABLES_SKIPPED, NOW - dt.timedelta(days=9)),
         Announcement.QUIET),
        # An incident that ended and comes back is a new one.
        (IncidentKind.PUBLISH_FAILED, state(IncidentKind.PUBLISH_FAILED, NOW - dt.timedelta(hours=1), NOW),
         Announcement.FIRST),
    ],
)  # fmt: skip
def test_what_a_sighting_says(kind: IncidentKind, record: IncidentState | None, said: Announcement) -> None:
    assert on_sighting(record, kind, NOW) is said


# -- start refusals --------------------------------------------------------------------------------------------------
def test_a_refused_day_is_one_message_then_one_reminder_a_day_then_its_end(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The done-when of issue 21: the refused day, delivered as Lambda and Scheduler deliver it (and re-invoked by a
    person), reconciled every hour for a day and a half, then backfilled."""
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients_as(START))
    now = dt.datetime.now(dt.UTC)
    day = now.astimezone(pipeline.config.schedule_timezone).date() - dt.timedelta(days=3)  # before any snapshot
    payload = {"ingestion_date": day.isoformat()}
    for _ in range(3):  # the schedule's delivery, a retry of it, a person trying again
        outcome, invocations = deliver_asynchronously(payload, context)
        assert (outcome["status"], invocations) == ("refused", 1)
    assert kinds(about(pipeline, day.isoformat())) == ["first"]

    hourly(pipeline, now, 24)  # every hour of the first day: quiet
    assert kinds(about(pipeline, day.isoformat())) == ["first"]
    hourly(pipeline, now + dt.timedelta(hours=24), 12)  # the next day: one reminder
    messages = about(pipeline, day.isoformat())
    assert kinds(messages) == ["first", "still"]
    assert "Since: " in messages[1]["Message"]

    pipeline.start_task(day, status="complete")  # the backfill exists
    reconcile_at(pipeline, now + dt.timedelta(hours=37))
    reconcile_at(pipeline, now + dt.timedelta(hours=38))
    messages = about(pipeline, day.isoformat())
    assert kinds(messages) == ["first", "still", "ended"]
    assert "the day's latest export is" in messages[2]["Message"]


# -- export failed / canceled ------------------------------------------------------------------------------------------
def test_a_failed_export_is_one_message_from_the_event_and_reconcile_together(pipeline: Pipeline) -> None:
    failed = pipeline.start_task(DAY, status="failed", failure_cause="KMS key not accessible")
    clients = pipeline.clients_as(EVENT)
    event = pipeline.event(FAILED_0162, pipeline.snapshot_arn)
    at = EVENT_TIME + dt.timedelta(minutes=1)
    for _ in range(3):  # EventBridge delivers at least once; duplicates happen
        handle_rds_event(pipeline.config, clients, event, at)
    hourly(pipeline, at, 20)
    assert kinds(about(pipeline, failed)) == ["first"]
    hourly(pipeline, at + dt.timedelta(hours=24), 2)
    assert kinds(about(pipeline, failed)) == ["first", "still"]

    retry = pipeline.start_task(DAY, attempt=2)  # the re-export: the failed attempt is no longer the day's latest
    hourly(pipeline, at + dt.timedelta(hours=27), 3)
    messages = about(pipeline, failed)
    assert kinds(messages) == ["first", "still", "ended"]
    assert f"the day's latest export is {retry}, COMPLETE" in messages[2]["Message"]


# -- skipped tables, table extraction failures: notices ---------------------------------------------------------
def test_skipped_tables_are_one_notice_even_when_the_start_is_retried(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(
        DAY, warning_message="The following tables were skipped: [public.bad table]. Reason: unsupported name."
    )
    task = next(t for t in _tasks(pipeline) if t.export_id == identifier)
    clients = pipeline.clients_as(EVENT)
    pipeline.hold_glue_runs()
    # The first start raises after the notice (an error Lambda retries); the retries find the run, or start it.
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "StartJobRun", status=500, code="InternalError", times=None)
    )
    with pytest.raises(Exception, match="InternalError"):
        request_run(pipeline.config, pipeline.no_retry_clients(EVENT), task, NOW)
    pipeline.emulator.faults.clear()
    request_run(pipeline.config, clients, task, NOW)
    request_run(pipeline.config, clients, task, NOW + dt.timedelta(days=2))
    notices = about(pipeline, "completed with warnings")
    assert len(notices) == 1
    assert "public.bad table" in notices[0]["Message"]


def _tasks(pipeline: Pipeline) -> list[Any]:
    from export_tasks import list_our_tasks

    return list_our_tasks(pipeline.clients_as(EVENT).rds, pipeline.config)


# -- Glue failures -------------------------------------------------------------------------------------------------
def glue_failure(pipeline: Pipeline, run_id: str, state: str = "FAILED") -> dict[str, Any]:
    event = json.loads((EVENTS / "glue-job-state-change-failed.json").read_text())
    event["detail"].update(jobName=pipeline.config.glue_job_name, jobRunId=run_id, state=state)
    return event


def test_a_failed_glue_run_is_one_message_reminded_daily_and_ended_when_the_day_publishes(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    clients = pipeline.clients_as(EVENT)
    glue = pipeline.client("glue")
    uri = pipeline.config.export_uri(identifier)
    arguments = {"--ingestion_date": DAY.isoformat(), "--export_uri": uri}
    run_id = glue.start_job_run(JobName=pipeline.config.glue_job_name, Arguments=arguments)["JobRunId"]
    pipeline.write_manifest(DAY, identifier, "FAILED", retryable=False)
    at = EVENT_TIME + dt.timedelta(hours=1)
    for _ in range(2):
        result = handle_glue_event(pipeline.config, clients, glue_failure(pipeline, run_id), at).as_dict()
        assert result["tasks"] == [
            {"export_id": identifier, "ingestion_date": DAY.isoformat(), "action": "publish_failed",
             "job_run_id": run_id},
        ]  # fmt: skip
    hourly(pipeline, at, 23)
    messages = about(pipeline, f"{DAY} not published")
    assert kinds(messages) == ["first"]
    assert "Tables that failed: public_orders" in messages[0]["Message"]
    assert "Automatic re-run: no" in messages[0]["Message"]
    hourly(pipeline, at + dt.timedelta(hours=24), 1)
    assert kinds(about(pipeline, f"{DAY} not published")) == ["first", "still"]

    pipeline.write_manifest(DAY, identifier, "SUCCEEDED")  # re-run by hand, published
    hourly(pipeline, at + dt.timedelta(hours=25), 2)
    messages = about(pipeline, f"{DAY} not published")
    assert kinds(messages) == ["first", "still", "ended"]
    assert "the day is published" in messages[2]["Message"]


def test_a_glue_event_of_another_job_or_state_is_ignored_and_a_malformed_one_refused(pipeline: Pipeline) -> None:
    clients = pipeline.clients_as(EVENT)
    foreign = json.loads((EVENTS / "glue-job-state-change-foreign.json").read_text())
    assert handle_glue_event(pipeline.config, clients, foreign, NOW).as_dict()["status"] == "ignored"
    other = glue_failure(pipeline, "jr_1")
    other["detail"]["jobName"] = "someone-elses-job"
    assert handle_glue_event(pipeline.config, clients, other, NOW).as_dict()["status"] == "ignored"
    broken = glue_failure(pipeline, "jr_1")
    del broken["detail"]["jobRunId"]
    from rds_events import InvalidEventError

    with pytest.raises(InvalidEventError, match="jobRunId"):
        handle_glue_event(pipeline.config, clients, broken, NOW)
    assert pipeline.alerts() == []


# -- reconcile problems ----------------------------------------------------------------------------------------
def test_a_day_reconcile_cannot_judge_is_one_message_a_day_not_72(pipeline: Pipeline) -> None:
    """The issue's storm: AccessDenied on the manifest listing, reconcile every hour for two days."""
    pipeline.start_task(DAY)
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "ListObjectsV2", status=403, code="AccessDenied", times=None)
    )
    start = EVENT_TIME + dt.timedelta(hours=1)
    hourly(pipeline, start, 48)
    assert kinds(about(pipeline, f"cannot judge {DAY}")) == ["first", "still"]
    pipeline.emulator.faults.clear()
    hourly(pipeline, start + dt.timedelta(hours=48), 3)
    messages = about(pipeline, f"cannot judge {DAY}")
    assert kinds(messages) == ["first", "still", "ended"]
    assert "reconcile could read what it needs again" in messages[2]["Message"]


def test_an_incident_whose_day_leaves_the_window_ends_once_saying_it_is_no_longer_watched(pipeline: Pipeline) -> None:
    pipeline.start_task(DAY, status="canceled")
    at = EVENT_TIME + dt.timedelta(hours=1)
    reconcile(pipeline.config, pipeline.clients_as(EVENT), ReconcileRequest(lookback_days=3), at)
    later = at + dt.timedelta(days=5)
    for hour in range(2):
        reconcile(pipeline.config, pipeline.clients_as(EVENT), ReconcileRequest(lookback_days=3), later)
        later += dt.timedelta(hours=hour + 1)
    messages = about(pipeline, "canceled")
    assert kinds(messages) == ["first", "ended"]
    assert "no longer watched" in messages[1]["Message"]
    still_open = open_incidents(pipeline.clients_as(EVENT), pipeline.config)
    assert [s.incident.kind for s in still_open] == [IncidentKind.EXPORT_MISSING] * len(still_open)  # later nights


# -- the store: races, refusals, outages -----------------------------------------------------------------------
ALERT = Alert(subject="aurora-sor: a test incident", facts=[("Fact", "value")], next_steps=[])


def test_two_invocations_racing_announce_once(pipeline: Pipeline) -> None:
    """The loser's conditional write fails (the item changed since it read it), so it stays quiet."""
    import incidents

    incident = Incident(IncidentKind.EXPORT_MISSING, DAY.isoformat(), DAY)
    clients = pipeline.clients_as(EVENT)
    real_read = incidents._read
    seen: list[Any] = []

    def read_then_lose(dynamodb: Any, table: str, which: Incident) -> Any:
        found = real_read(dynamodb, table, which)
        if not seen:  # the other invocation announces between this one's read and its write
            seen.append(found)
            assert announce(clients, pipeline.config, which, ALERT, NOW) is Announcement.FIRST
        return found

    incidents._read = read_then_lose  # type: ignore[assignment]
    try:
        assert announce(clients, pipeline.config, incident, ALERT, NOW) is Announcement.QUIET
    finally:
        incidents._read = real_read  # type: ignore[assignment]
    assert len(about(pipeline, "a test incident")) == 1


def test_a_message_sns_refuses_is_announced_by_the_retry(pipeline: Pipeline) -> None:
    incident = Incident(IncidentKind.EXPORT_MISSING, DAY.isoformat(), DAY)
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "Publish", status=500, code="InternalError", times=None)
    )
    with pytest.raises(Exception, match="InternalError"):
        announce(pipeline.no_retry_clients(EVENT), pipeline.config, incident, ALERT, NOW)
    pipeline.emulator.faults.clear()  # SNS is back when Lambda retries
    assert announce(pipeline.clients_as(EVENT), pipeline.config, incident, ALERT, NOW) is Announcement.FIRST
    assert len(about(pipeline, "a test incident")) == 1


def test_a_broken_store_still_alerts_saying_it_may_repeat_and_fails_the_invocation(pipeline: Pipeline) -> None:
    incident = Incident(IncidentKind.EXPORT_MISSING, DAY.isoformat(), DAY)
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.service == "dynamodb", status=400, code="AccessDeniedException", times=None)
    )
    with pytest.raises(IncidentStoreError):
        announce(pipeline.no_retry_clients(EVENT), pipeline.config, incident, ALERT, NOW)
    (message,) = about(pipeline, "a test incident")
    assert "Incident store: unavailable (AccessDeniedException); this message may repeat" in message["Message"]


def test_the_store_calls_run_as_the_roles_and_are_allowed(pipeline: Pipeline) -> None:
    incident = Incident(IncidentKind.EXPORT_MISSING, DAY.isoformat(), DAY)
    announce(pipeline.clients_as(START), pipeline.config, incident, ALERT, NOW)
    reconcile_at(pipeline, NOW)
    assert pipeline.emulator.enforcer is not None
    evaluated = [e for e in pipeline.emulator.enforcer.evaluated if e.action.startswith("dynamodb:")]
    assert {(e.role, e.action) for e in evaluated} >= {
        (START, "dynamodb:GetItem"), (START, "dynamodb:PutItem"), (EVENT, "dynamodb:Scan"),
    }  # fmt: skip
    assert all(e.decision.value == "allow" and e.declared for e in evaluated)
