"""Reconcile: lost or duplicated events never lose or double a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

import aws_clients
import on_export_event
import pytest
import start_export
from export_ids import make_export_id
from manifests import manifest_key
from on_export_event_flow import handle_rds_event
from on_export_event_reconcile import (
    InvalidReconcileRequestError,
    ReconcileRequest,
    parse_reconcile,
    reconcile,
)

from local.emulator.aws_emulator import Fault
from tests.functions.conftest import CLUSTER, FakeContext, Pipeline
from tests.functions.test_start_export import emf_metrics

# 15:00 in Sao Paulo on 2026-11-26: "today" for reconcile, so the window is 11-23 .. 11-26.
NOW = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 11, 26)


def day(offset: int) -> dt.date:
    return TODAY - dt.timedelta(days=offset)


def run(pipeline: Pipeline, **request: Any) -> dict[str, Any]:
    return reconcile(pipeline.config, pipeline.clients, ReconcileRequest(**request), NOW).as_dict()


def problems_alert(pipeline: Pipeline) -> str:
    """The messages reconcile sent, one per incident, as one text."""
    alerts = pipeline.alerts()
    assert alerts
    assert all(alert["Subject"].startswith("aurora-sor: ") for alert in alerts)
    return "\n".join(alert["Message"] for alert in alerts)


def test_a_complete_export_whose_event_was_lost_gets_its_glue_run(pipeline: Pipeline) -> None:
    for offset in (3, 2, 1):
        pipeline.write_manifest(day(offset), pipeline.start_task(day(offset)))
    identifier = pipeline.start_task(TODAY)
    result = run(pipeline)
    [glue_run] = pipeline.job_runs()
    assert glue_run["Arguments"]["--export_uri"] == f"s3://aurora-sor-exports/exports/{identifier}/"
    assert glue_run["Arguments"]["--ingestion_date"] == TODAY.isoformat()
    assert [a["action"] for a in result["actions"]] == ["already_published"] * 3 + ["started"]
    assert result["problems"] == []
    assert pipeline.alerts() == []


def test_reconcile_and_a_late_event_start_one_run_between_them(pipeline: Pipeline) -> None:
    pipeline.hold_glue_runs()
    pipeline.start_task(TODAY)
    run(pipeline)
    late = handle_rds_event(
        pipeline.config,
        pipeline.clients,
        pipeline.event("rds-event-0164-cluster-snapshot-export-completed.json", pipeline.snapshot_arn),
    ).as_dict()
    run(pipeline)
    assert late["tasks"][0]["action"] == "already_running"
    assert len(pipeline.job_runs()) == 1


def test_several_days_to_publish_while_the_job_is_busy_wait_for_the_next_reconcile(pipeline: Pipeline) -> None:
    pipeline.hold_glue_runs()
    pipeline.start_task(day(2))
    pipeline.start_task(day(1))
    result = run(pipeline)
    assert [a["action"] for a in result["actions"]] == ["started", "glue_busy"]
    assert result["problems"] == []
    [glue_run] = pipeline.job_runs()
    assert glue_run["Arguments"]["--ingestion_date"] == day(2).isoformat()


def test_missing_manifests_under_s3_403_still_start_the_runs(pipeline: Pipeline) -> None:
    pipeline.deny_reads_of_missing_keys()
    pipeline.write_manifest(day(1), pipeline.start_task(day(1)))
    pipeline.start_task(TODAY)
    result = run(pipeline)
    assert [a["action"] for a in result["actions"]] == ["already_published", "started"]
    assert pipeline.alerts() == []


def test_a_day_whose_manifest_listing_is_denied_is_announced_with_the_permission_and_the_others_go_on(
    pipeline: Pipeline,
) -> None:
    pipeline.start_task(day(2))
    pipeline.start_task(day(1))
    denied_prefix = manifest_key("sor", day(2))
    pipeline.emulator.add_fault(
        Fault(
            match=lambda r: r.operation == "ListObjectsV2" and r.query.get("prefix") == [denied_prefix],
            status=403,
            code="AccessDenied",
            times=None,
        )
    )
    result = run(pipeline)  # not an error: the day is an incident, announced once (no retries, no Errors alarm)
    assert [a["action"] for a in result["actions"]] == ["not_judged", "started"]
    # The other day went on.
    [glue_run] = pipeline.job_runs()
    assert glue_run["Arguments"]["--ingestion_date"] == day(1).isoformat()
    message = problems_alert(pipeline)
    assert (
        f"{day(2)}: export {make_export_id(CLUSTER, day(2))} could not be judged: "
        "ListObjectsV2 failed with AccessDenied; "
        f"the on_export_event role lacks s3:ListBucket on bucket aurora-sor-sor with s3:prefix {denied_prefix}"
    ) in message


@pytest.mark.parametrize(
    ("operation", "status", "code", "said"),
    [
        ("GetJobRuns", 400, "AccessDeniedException", ["GetJobRuns failed with AccessDeniedException",
                                                      "lacks glue:GetJobRuns on Glue job sor_job"]),
        ("ListObjectsV2", 500, "InternalError", ["ListObjectsV2 failed with InternalError"]),
    ],
)  # fmt: skip
def test_a_day_that_cannot_be_judged_is_alerted_with_the_operation_and_its_error_code(
    pipeline: Pipeline, operation: str, status: int, code: str, said: list[str]
) -> None:
    pipeline.start_task(day(1))
    pipeline.emulator.add_fault(Fault(match=lambda r: r.operation == operation, status=status, code=code, times=None))
    reconcile(pipeline.config, pipeline.no_retry_clients(), ReconcileRequest(), NOW)
    message = problems_alert(pipeline)
    for text in said:
        assert text in message
    assert pipeline.emulator.calls("glue", "StartJobRun") == []  # (job_runs() would meet the fault itself)


@pytest.mark.parametrize(
    ("moto_status", "entry", "problem"),
    [
        ("canceled", {"action": "canceled"}, "is CANCELED (no FailureCause)"),
        ("canceling", {"action": "canceling"}, "is CANCELING (no FailureCause)"),
        # Not a status botocore's model lists: kept as text (upper-cased like the others) and reported.
        ("paused", {"action": "unknown_status", "status": "PAUSED"}, "has unexpected status 'PAUSED'"),
    ],
)
def test_each_status_of_a_days_latest_attempt_is_judged_whatever_its_case(
    pipeline: Pipeline, moto_status: str, entry: dict[str, str], problem: str
) -> None:
    identifier = pipeline.start_task(day(1), status=moto_status)
    result = run(pipeline)
    assert result["actions"] == [{"export_id": identifier, **entry}]
    assert f"export {identifier} {problem}" in problems_alert(pipeline)
    assert pipeline.job_runs() == []


def test_a_stuck_export_is_reported_and_a_young_one_is_not(pipeline: Pipeline) -> None:
    stuck = pipeline.start_task(day(1), status="starting", task_start_time=NOW - dt.timedelta(hours=20))
    pipeline.start_task(TODAY, status="in_progress", task_start_time=NOW - dt.timedelta(hours=2))
    result = run(pipeline)
    assert len(result["problems"]) == 1
    message = problems_alert(pipeline)
    assert f"export {stuck} is STARTING for 20.0 h (limit 12 h)" in message
    assert pipeline.job_runs() == []


def test_a_stuck_export_without_a_start_time_is_judged_from_its_day(pipeline: Pipeline) -> None:
    stuck = pipeline.start_task(day(2), status="in_progress")
    pipeline.start_task(day(1), status="in_progress", task_start_time=NOW - dt.timedelta(hours=1))
    run(pipeline)
    assert f"export {stuck} is IN_PROGRESS" in problems_alert(pipeline)


def test_a_failed_night_is_reported_until_a_later_attempt_fixes_it(pipeline: Pipeline) -> None:
    failed = pipeline.start_task(day(1), status="failed", failure_cause="KMS key not accessible")
    result = run(pipeline)
    message = problems_alert(pipeline)
    assert f"export {failed} is FAILED (KMS key not accessible)" in message
    assert f'{{"ingestion_date": "{day(1)}", "attempt": 2}}' in message
    assert result["actions"] == [{"export_id": failed, "action": "failed"}]

    retry = pipeline.start_task(day(1), attempt=2)
    result = run(pipeline)
    assert result["problems"] == []
    assert pipeline.job_runs()[0]["Arguments"]["--export_uri"].endswith(f"/{retry}/")


def test_a_night_without_any_task_is_reported(pipeline: Pipeline) -> None:
    pipeline.write_manifest(day(3), pipeline.start_task(day(3)))
    pipeline.write_manifest(day(1), pipeline.start_task(day(1)))
    result = run(pipeline)
    assert len(result["problems"]) == 1
    message = problems_alert(pipeline)
    assert f"{day(2)}: no export task at all" in message
    assert f'{{"ingestion_date": "{day(2)}"}}' in message


def test_nights_before_the_first_export_and_tonight_are_not_missing(pipeline: Pipeline) -> None:
    pipeline.write_manifest(day(1), pipeline.start_task(day(1)))
    assert run(pipeline)["problems"] == []  # day(3), day(2): before the pipeline existed; today: not yet due
    assert pipeline.alerts() == []


def test_no_task_at_all_is_logged_not_alerted(pipeline: Pipeline) -> None:
    assert run(pipeline) == {
        "status": "reconciled",
        "window": [day(3).isoformat(), TODAY.isoformat()],
        "actions": [],
        "problems": [],
    }
    assert pipeline.alerts() == []


def test_a_backfill_started_recently_is_watched_even_for_an_old_date(pipeline: Pipeline) -> None:
    old = day(30)
    pipeline.write_manifest(day(1), pipeline.start_task(day(1)))
    pipeline.start_task(old, task_start_time=NOW - dt.timedelta(hours=3))
    pipeline.start_task(day(40), task_start_time=NOW - dt.timedelta(days=20))  # out of the window: left alone
    result = run(pipeline)
    started = [a for a in result["actions"] if a["action"] == "started"]
    assert [a["ingestion_date"] for a in started] == [old.isoformat()]


def test_foreign_tasks_are_not_reconciled(pipeline: Pipeline) -> None:
    pipeline.start_task(TODAY, identifier=make_export_id("othercluster", TODAY))
    pipeline.start_task(TODAY, identifier=f"manual-{CLUSTER}-export")
    assert run(pipeline)["actions"] == []
    assert pipeline.job_runs() == []


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"action": "reconcile", "lookback": 3}, "unknown key"),
        ({"action": "reconcile", "lookback_days": 0}, "lookback_days"),
        ({"action": "reconcile", "lookback_days": "3"}, "lookback_days"),
        ({"action": "reconcile", "stuck_hours": -1}, "stuck_hours"),
        ({"action": "reconcile", "stuck_hours": True}, "stuck_hours"),
    ],
)
def test_bad_reconcile_payloads_are_errors(event: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidReconcileRequestError, match=message):
        parse_reconcile(event)


def test_reconcile_payload_overrides() -> None:
    assert parse_reconcile({"action": "reconcile", "lookback_days": 10, "stuck_hours": 6}) == ReconcileRequest(10, 6.0)


def test_the_night_end_to_end_with_the_event_lost(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Schedule -> start_export; the completion event never arrives; the reconcile schedule publishes the day."""
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients_as("StartExportRole"))
    started = start_export.handler({}, context)
    capsys.readouterr()
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)  # each function runs as its own role
    result = on_export_event.handler({"action": "reconcile"}, context)
    [glue_run] = pipeline.job_runs()
    assert glue_run["Arguments"]["--export_uri"] == started["export_uri"]
    assert glue_run["Arguments"]["--ingestion_date"] == started["ingestion_date"]
    assert result["problems"] == []
    assert emf_metrics(capsys.readouterr().out) == {"ReconcileProblems": 0.0, "GlueRunStarted": 1.0}


def test_a_fault_tests_alert_runs_as_the_role_through_the_stack_key(pipeline: Pipeline) -> None:
    """The no-retry clients sign as the module's role, and the alert topic is encrypted with the stack key as in
    template.yaml: the alert reconcile sends on a day it cannot judge is a Publish plus SNS's KMS use for the role,
    each evaluated against the role's policy and the key policy."""
    pipeline.start_task(day(1))
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "GetJobRuns", status=500, code="InternalError", times=None)
    )
    reconcile(pipeline.config, pipeline.no_retry_clients(), ReconcileRequest(), NOW)
    assert "GetJobRuns failed with InternalError" in problems_alert(pipeline)

    assert pipeline.emulator.enforcer is not None
    evaluated = [e for e in pipeline.emulator.enforcer.evaluated if e.role == "OnExportEventRole"]
    assert {e.action for e in evaluated if e.resource == pipeline.config.alert_topic_arn} == {"sns:Publish"}
    kms = {e.action: e for e in evaluated if e.resource == pipeline.config.export_kms_key_arn}
    assert set(kms) == {"kms:GenerateDataKey", "kms:Decrypt"}
    assert kms["kms:GenerateDataKey"].context["kms:ViaService"] == ("sns.sa-east-1.amazonaws.com",)
    assert all(e.decision.value == "allow" for e in evaluated)
