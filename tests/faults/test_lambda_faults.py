"""The Lambdas under AWS faults: every fault ends in a retry, an alert or a clear error, never a silently lost day.

What tests/functions already proves is not repeated here: persistent 500s on DescribeDBClusterSnapshots and
StartExportTask (test_start_export.py::test_a_persistent_rds_error_fails_the_invocation), on DescribeExportTasks,
the manifest listing, GetJobRuns and StartJobRun followed by a successful retry
(test_on_export_event.py::test_aws_faults_on_completion_fail_the_invocation), a transient 503 on StartExportTask
(test_start_export.py::test_a_transient_rds_error_is_retried). This file adds throttling (botocore's own retry
succeeding, or the invocation failing for Lambda to retry), faults during reconcile, and SNS failing during every
kind of alert, each followed by the retry Lambda makes (EventInvokeConfig: 2 retries, then the on-failure queue).

Faults come from the emulator's wire layer; the code under test runs with its own clients (5 attempts, standard
retry mode) or, where a test needs the first error to surface, clients that do not retry (Pipeline.no_retry_clients).
IAM enforcement is on: each function's calls are signed as its own role of template.yaml (START for start_export,
EVENT for on_export_event and reconcile), so a fault path that needs a permission the role lacks fails here too.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import aws_clients
import on_export_event
import pytest
import start_export
from botocore.exceptions import ClientError
from on_export_event_flow import handle_rds_event
from on_export_event_reconcile import ReconcileRequest, reconcile
from sources import SourceRefusedError
from start_export_flow import export_day

from local.emulator.aws_emulator import Fault, Request
from tests.functions.conftest import FakeContext, Pipeline

DAY = dt.date(2026, 11, 25)
COMPLETED = "rds-event-0164-cluster-snapshot-export-completed.json"
FAILED = "rds-event-0162-cluster-snapshot-export-failed.json"
TABLE_FAILED = "rds-event-0489-table-extraction-failed.json"
# 15:00 in Sao Paulo on 2026-11-26: reconcile's "today"; DAY is yesterday.
RECONCILE_NOW = dt.datetime(2026, 11, 26, 18, 0, tzinfo=dt.UTC)
START, EVENT = "StartExportRole", "OnExportEventRole"


def operation(service: str, name: str) -> Callable[[Request], bool]:
    return lambda r: r.service == service and r.operation == name


# -- throttling -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "name", "status", "code"),
    [
        ("rds", "DescribeExportTasks", 400, "Throttling"),
        ("s3", "ListObjectsV2", 503, "SlowDown"),  # the run manifest is listed before it is read
        ("glue", "GetJobRuns", 400, "ThrottlingException"),
        ("glue", "StartJobRun", 400, "ThrottlingException"),
    ],
)
def test_throttling_on_completion_is_retried_by_botocore_and_starts_one_run(
    pipeline: Pipeline, service: str, name: str, status: int, code: str
) -> None:
    identifier = pipeline.start_task(DAY)
    fault = pipeline.emulator.add_fault(Fault(operation(service, name), status, code, times=1))

    result = handle_rds_event(
        pipeline.config, pipeline.clients_as(EVENT), pipeline.event(COMPLETED, pipeline.snapshot_arn)
    ).as_dict()

    assert fault.hits == 1
    assert result["tasks"][0]["action"] == "started"
    [run] = pipeline.job_runs()
    assert run["Arguments"]["--export_uri"].endswith(f"/{identifier}/")


@pytest.mark.parametrize("name", ["DescribeDBClusterSnapshots", "StartExportTask"])
def test_throttling_on_the_nightly_start_is_retried_then_a_persistent_one_fails_until_lambda_retries(
    pipeline: Pipeline, name: str
) -> None:
    now = pipeline.snapshot_time + dt.timedelta(minutes=1)
    clients = pipeline.clients_as(START)
    transient = pipeline.emulator.add_fault(Fault(operation("rds", name), 400, "Throttling", times=1))
    assert export_day(pipeline.config, clients, {}, now).as_dict()["status"] == "started"
    assert transient.hits == 1

    # The same night for a second cluster-day would be a new id; here: tomorrow, throttled for good.
    pipeline.emulator.add_fault(Fault(operation("rds", name), 400, "Throttling", times=None))
    with pytest.raises(ClientError, match="Throttling"):
        export_day(pipeline.config, pipeline.no_retry_clients(START), {}, now + dt.timedelta(days=1))
    assert len(pipeline.tasks()) == 1  # nothing half-started
    pipeline.emulator.faults.clear()
    # Lambda's retry of the failed invocation starts that night, once.
    assert export_day(pipeline.config, clients, {}, now + dt.timedelta(days=1)).as_dict()["status"] == "started"
    assert export_day(pipeline.config, clients, {}, now + dt.timedelta(days=1)).as_dict()["status"] == "already_started"
    assert len(pipeline.tasks()) == 2


# -- reconcile under faults ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("service", "name"), [("rds", "DescribeExportTasks"), ("glue", "GetJobRuns"), ("glue", "StartJobRun")]
)
def test_reconcile_is_loud_on_an_aws_error_and_its_next_run_repairs_the_day(
    pipeline: Pipeline, service: str, name: str
) -> None:
    """An error is never read as "nothing to do". Without the task list the invocation fails (Lambda Errors alarm,
    retries). A day whose Glue runs cannot be read or started is the day's not-judged incident: announced once with
    the error code, and ended once the next run judges the day."""
    identifier = pipeline.start_task(DAY)  # COMPLETE, its event lost, nothing published
    pipeline.emulator.add_fault(Fault(operation(service, name), 500, "InternalFailure", times=None))

    if name == "DescribeExportTasks":
        with pytest.raises(ClientError, match="InternalFailure"):
            reconcile(pipeline.config, pipeline.no_retry_clients(EVENT), ReconcileRequest(), RECONCILE_NOW)
        assert pipeline.alerts() == []  # no wrong "missing night" alert either
    else:
        result = reconcile(pipeline.config, pipeline.no_retry_clients(EVENT), ReconcileRequest(), RECONCILE_NOW)
        assert [a.outcome.word for a in result.actions or []] == ["not_judged"]
        [alert] = pipeline.alerts()
        assert f"{DAY}: export {identifier} could not be judged: {name} failed with InternalFailure" in alert["Message"]
        assert "no export task at all" not in alert["Message"]
    assert all(r.status == 500 for r in pipeline.emulator.calls("glue", "StartJobRun"))  # no run was started

    pipeline.emulator.faults.clear()
    result = reconcile(pipeline.config, pipeline.clients_as(EVENT), ReconcileRequest(), RECONCILE_NOW).as_dict()
    assert [a["action"] for a in result["actions"]] == ["started"]
    ended = [a for a in pipeline.alerts() if a["Subject"].startswith("ended: ")]
    assert len(ended) == (0 if name == "DescribeExportTasks" else 1)
    [run] = pipeline.job_runs()
    assert run["Arguments"]["--export_uri"].endswith(f"/{identifier}/")


# -- SNS failing during an alert ------------------------------------------------------------------------------
def _failed_export(pipeline: Pipeline, clients: Any) -> Any:
    pipeline.start_task(DAY, status="failed", failure_cause="KMS key not accessible")
    return lambda c: handle_rds_event(pipeline.config, c, pipeline.event(FAILED, pipeline.snapshot_arn)).as_dict()


def _table_extraction_failed(pipeline: Pipeline, clients: Any) -> Any:
    pipeline.start_task(DAY, status="in_progress")
    return lambda c: handle_rds_event(pipeline.config, c, pipeline.event(TABLE_FAILED, pipeline.snapshot_arn)).as_dict()


def _completed_with_warnings(pipeline: Pipeline, clients: Any) -> Any:
    pipeline.hold_glue_runs()  # the run is still going when Lambda retries, as in AWS
    warning = json.dumps({"skippedTables": ["shop.public.weird table"]})
    pipeline.start_task(DAY, warning_message=warning)
    return lambda c: handle_rds_event(pipeline.config, c, pipeline.event(COMPLETED, pipeline.snapshot_arn)).as_dict()


def _reconcile_problem(pipeline: Pipeline, clients: Any) -> Any:
    pipeline.start_task(DAY, status="canceled")
    return lambda c: reconcile(pipeline.config, c, ReconcileRequest(), RECONCILE_NOW).as_dict()


def _stale_snapshot_refusal(pipeline: Pipeline, clients: Any) -> Any:
    return lambda c: export_day(pipeline.config, c, {}, pipeline.snapshot_time + dt.timedelta(hours=30)).as_dict()


ALERTS = {  # kind -> (arrange, subject, the role of the function that sends it)
    "export failed": (_failed_export, "failed, 2026-11-25 not published", EVENT),
    "table extraction failed": (_table_extraction_failed, "table extraction failed", EVENT),
    "completed with warnings": (_completed_with_warnings, "completed with warnings", EVENT),
    "reconcile problems": (_reconcile_problem, "canceled, 2026-11-25 not published", EVENT),
    "stale snapshot refused": (_stale_snapshot_refusal, "refused", START),
}


@pytest.mark.parametrize("kind", list(ALERTS))
def test_an_alert_sns_cannot_take_fails_the_invocation_and_lambdas_retry_delivers_it(
    pipeline: Pipeline, kind: str
) -> None:
    arrange, subject, role = ALERTS[kind]
    invoke = arrange(pipeline, pipeline.clients_as(role))
    pipeline.emulator.add_fault(Fault(operation("sns", "Publish"), 500, "InternalError", times=None))

    with pytest.raises(ClientError, match="InternalError"):
        invoke(pipeline.no_retry_clients(role))
    assert pipeline.alerts() == []

    pipeline.emulator.faults.clear()  # SNS is back by the time Lambda retries the event
    if kind == "stale snapshot refused":
        with pytest.raises(SourceRefusedError):  # a refusal raises after alerting, by design
            invoke(pipeline.clients_as(role))
    else:
        invoke(pipeline.clients_as(role))
    [alert] = pipeline.alerts()
    assert subject in alert["Subject"]
    assert len(pipeline.job_runs()) == (1 if kind == "completed with warnings" else 0)


def test_handlers_let_aws_errors_out_so_lambda_retries_the_event(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools' decorators re-raise: the invocation fails, Lambda retries it (EventInvokeConfig), then the
    on-failure destination (FailedInvocationsQueue) keeps the event and its alarm speaks."""
    monkeypatch.setattr(aws_clients, "_shared", pipeline.no_retry_clients(EVENT))
    pipeline.start_task(DAY, status="failed", failure_cause="x")
    pipeline.emulator.add_fault(Fault(operation("sns", "Publish"), 500, "InternalError", times=None))
    with pytest.raises(ClientError, match="InternalError"):
        on_export_event.handler(pipeline.event(FAILED, pipeline.snapshot_arn), context)
    monkeypatch.setattr(aws_clients, "_shared", pipeline.no_retry_clients(START))
    pipeline.emulator.add_fault(Fault(operation("rds", "StartExportTask"), 400, "Throttling", times=None))
    with pytest.raises(ClientError, match="Throttling"):
        start_export.handler({}, context)
