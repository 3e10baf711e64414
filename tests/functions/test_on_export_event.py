"""on_export_event for RDS events: completion starts one Glue run, failures alert, everything else is ignored."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aws_clients
import on_export_event
import pytest
from botocore.exceptions import ClientError
from export_ids import make_export_id
from on_export_event_flow import handle_rds_event
from on_export_event_reconcile import ReconcileRequest, reconcile
from rds_events import InvalidEventError
from run_requests import MAX_AUTOMATIC_RUNS

from local.emulator.aws_emulator import Fault
from tests.functions.conftest import CLUSTER, EVENT_TIME, FakeContext, Pipeline
from tests.functions.test_start_export import emf_metrics

DAY = dt.date(2026, 11, 25)
COMPLETED_0164 = "rds-event-0164-cluster-snapshot-export-completed.json"


def expected_arguments(pipeline: Pipeline, identifier: str, day: dt.date = DAY) -> dict[str, str]:
    return {
        "--export_uri": f"s3://aurora-sor-exports/exports/{identifier}/",
        "--ingestion_date": day.isoformat(),
        "--sor_bucket": "aurora-sor-sor",
        "--catalog_database": "sor",
        # DescribeDBClusters' Engine of the pipeline's cluster (created as aurora-postgresql in the emulator)
        "--source_engine": "aurora-postgresql",
    }


def test_completed_export_starts_the_glue_job_with_the_contract_arguments(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    [run] = pipeline.job_runs()
    assert run["Arguments"] == expected_arguments(pipeline, identifier)
    assert result == {
        "status": "handled",
        "event": "RDS-EVENT-0164",
        "kind": "completed",
        "tasks": [
            {"export_id": identifier, "ingestion_date": DAY.isoformat(), "action": "started", "job_run_id": run["Id"]}
        ],
    }
    assert pipeline.alerts() == []


def test_duplicate_events_start_one_run_while_it_runs(pipeline: Pipeline) -> None:
    pipeline.hold_glue_runs()
    pipeline.start_task(DAY)
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    actions = [
        handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()["tasks"][0]["action"] for _ in range(3)
    ]
    assert actions == ["started", "already_running", "already_running"]
    assert len(pipeline.job_runs()) == 1


def test_duplicate_event_after_publication_starts_nothing(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    pipeline.write_manifest(DAY, identifier, status="FAILED")  # whatever its status: an operator decides
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "already_published"
    assert pipeline.job_runs() == []


def test_a_manifest_of_an_earlier_attempt_does_not_block_a_re_export(pipeline: Pipeline) -> None:
    pipeline.write_manifest(DAY, make_export_id(CLUSTER, DAY, 1))
    identifier = pipeline.start_task(DAY, attempt=2)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert pipeline.job_runs()[0]["Arguments"]["--export_uri"].endswith(f"/{identifier}/")


def test_skipped_tables_alert_but_the_day_is_still_published(pipeline: Pipeline) -> None:
    warning = json.dumps(
        {"skippedTables": ["mydb.public.weird table"], "skippedObjectives": [], "general": [{"reason": "X"}]}
    )
    pipeline.hold_glue_runs()  # the duplicate arrives while the run is on, as it would in AWS
    identifier = pipeline.start_task(DAY, warning_message=warning)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert len(pipeline.job_runs()) == 1
    [alert] = pipeline.alerts()
    assert alert["Subject"] == f"aurora-sor: export {identifier} completed with warnings"
    assert f"Export id: {identifier}" in alert["Message"]
    assert "Skipped tables: mydb.public.weird table" in alert["Message"]
    assert 'general: [{"reason": "X"}]' in alert["Message"]
    # The duplicate event neither starts a second run nor repeats the alert.
    handle_rds_event(pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn))
    assert pipeline.alerts() == [alert]


def test_live_cluster_export_completion(pipeline: Pipeline) -> None:
    # moto cannot export a live cluster; a snapshot named like the cluster lets the cluster ARN through.
    pipeline.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=CLUSTER)
    identifier = pipeline.start_task(DAY, source_arn=pipeline.cluster_arn)
    event = pipeline.event("rds-event-0236-cluster-export-completed.json", pipeline.cluster_arn)
    result = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert pipeline.job_runs()[0]["Arguments"] == expected_arguments(pipeline, identifier)


def test_instance_snapshot_export_completion(pipeline: Pipeline) -> None:
    rds = pipeline.client("rds")
    rds.create_db_instance(DBInstanceIdentifier="myinstance", DBInstanceClass="db.t3.micro", Engine="postgres")
    arn = rds.create_db_snapshot(DBInstanceIdentifier="myinstance", DBSnapshotIdentifier="inst-snap")["DBSnapshot"][
        "DBSnapshotArn"
    ]
    pipeline.start_task(DAY, source_arn=arn)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event("rds-event-0161-snapshot-export-completed.json", arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"


def test_completion_event_before_the_task_reads_complete_waits_for_reconcile(pipeline: Pipeline) -> None:
    pipeline.start_task(DAY, status="in_progress")
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "not_complete"
    assert pipeline.job_runs() == []


FAILURES = [
    ("rds-event-0162-cluster-snapshot-export-failed.json", "failed", "snapshot"),
    ("rds-event-0163-cluster-snapshot-export-canceled.json", "canceled", "snapshot"),
    ("rds-event-0234-cluster-export-failed.json", "failed", "cluster"),
    ("rds-event-0235-cluster-export-canceled.json", "canceled", "cluster"),
    ("rds-event-0159-snapshot-export-failed.json", "failed", "instance"),
    ("rds-event-0160-snapshot-export-canceled.json", "canceled", "instance"),
]


def source_for(pipeline: Pipeline, kind: str) -> str:
    rds = pipeline.client("rds")
    if kind == "cluster":
        rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=CLUSTER)
        return pipeline.cluster_arn
    if kind == "instance":
        rds.create_db_instance(DBInstanceIdentifier="myinstance", DBInstanceClass="db.t3.micro", Engine="postgres")
        snap = rds.create_db_snapshot(DBInstanceIdentifier="myinstance", DBSnapshotIdentifier="inst-snap")
        return snap["DBSnapshot"]["DBSnapshotArn"]
    return pipeline.snapshot_arn


@pytest.mark.parametrize(("fixture", "status", "kind"), FAILURES)
def test_failed_or_canceled_export_alerts_and_never_starts_glue(
    pipeline: Pipeline, fixture: str, status: str, kind: str
) -> None:
    source = source_for(pipeline, kind)
    cause = "The IAM role arn:aws:iam::123456789012:role/aurora-sor-export is missing s3:PutObject."
    identifier = pipeline.start_task(DAY, source_arn=source, status=status, failure_cause=cause)
    result = handle_rds_event(pipeline.config, pipeline.clients, pipeline.event(fixture, source)).as_dict()
    assert result["tasks"] == [{"export_id": identifier, "action": "alerted"}]
    assert pipeline.emulator.calls("glue", "StartJobRun") == []
    [alert] = pipeline.alerts()
    assert alert["Subject"] == f"aurora-sor: export {identifier} {status}, {DAY} not published"
    body = alert["Message"]
    assert f"Export id: {identifier}" in body
    assert f"Source: {source}" in body
    assert f"FailureCause: {cause}" in body
    assert "What to do next:" in body
    assert f'{{"ingestion_date": "{DAY}", "attempt": 2}}' in body


def test_failure_event_for_a_task_that_is_not_failed_is_left_to_reconcile(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)  # complete
    result = handle_rds_event(
        pipeline.config,
        pipeline.clients,
        pipeline.event("rds-event-0162-cluster-snapshot-export-failed.json", pipeline.snapshot_arn),
    ).as_dict()
    assert result["tasks"] == [{"export_id": identifier, "action": "status_differs", "status": "COMPLETE"}]
    assert pipeline.alerts() == []
    assert pipeline.job_runs() == []


def test_table_extraction_failure_alerts(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY, status="in_progress")
    event = pipeline.event("rds-event-0489-table-extraction-failed.json", pipeline.snapshot_arn)
    result = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert result["tasks"] == [{"export_id": identifier, "action": "alerted"}]
    [alert] = pipeline.alerts()
    assert identifier in alert["Subject"]
    assert "RDS-EVENT-0489 Table extraction failed for table mydb.public.big_blobs." in alert["Message"]
    assert pipeline.job_runs() == []


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("glue-job-state-change-foreign.json", "is not aws.rds"),
        ("rds-event-0169-automated-cluster-snapshot-created.json", "is not an export event"),
    ],
)
def test_foreign_and_unknown_events_are_ignored_quietly(pipeline: Pipeline, fixture: str, reason: str) -> None:
    pipeline.start_task(DAY)
    pipeline.emulator.clear()
    result = handle_rds_event(pipeline.config, pipeline.clients, pipeline.event(fixture)).as_dict()
    assert result["status"] == "ignored"
    assert reason in result["reason"]
    assert pipeline.emulator.calls() == []


def test_exports_that_are_not_ours_are_ignored(pipeline: Pipeline) -> None:
    pipeline.start_task(DAY, identifier="someone-elses-export")
    pipeline.start_task(DAY, identifier=make_export_id("othercluster", DAY))
    pipeline.start_task(DAY, attempt=2, bucket="another-bucket")
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["status"] == "ignored"
    assert "no export task of this pipeline" in result["reason"]
    assert pipeline.job_runs() == []
    assert pipeline.alerts() == []


def test_describe_export_tasks_asks_aws_for_this_source_and_bucket_only(pipeline: Pipeline) -> None:
    pipeline.start_task(DAY)
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    events = pipeline.clients.rds.meta.events
    events.register("provide-client-params.rds.DescribeExportTasks", record)
    try:
        handle_rds_event(pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn))
    finally:
        events.unregister("provide-client-params.rds.DescribeExportTasks", record)
    assert sent == [
        {"SourceArn": pipeline.snapshot_arn, "Filters": [{"Name": "s3-bucket", "Values": ["aurora-sor-exports"]}]}
    ]


@pytest.mark.parametrize(
    "event",
    [
        "not an event",
        {"source": "aws.rds"},
        {"source": "aws.rds", "detail-type": "RDS DB Cluster Snapshot Event", "detail": ["x"]},
        {"source": "aws.rds", "detail-type": "RDS DB Cluster Snapshot Event", "detail": {"EventID": "RDS-EVENT-0164"}},
        {
            "source": "aws.rds",
            "detail-type": "RDS DB Cluster Snapshot Event",
            "detail": {"EventID": "RDS-EVENT-0164", "SourceArn": "mycluster"},
        },
    ],
)
def test_malformed_events_are_errors(pipeline: Pipeline, event: Any) -> None:
    with pytest.raises(InvalidEventError):
        handle_rds_event(pipeline.config, pipeline.clients, event)


def test_runs_that_keep_failing_without_a_manifest_are_not_restarted_forever(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    glue = pipeline.client("glue")
    for _ in range(MAX_AUTOMATIC_RUNS):  # moto finishes each at once; none wrote a manifest
        glue.start_job_run(JobName="sor_job", Arguments=expected_arguments(pipeline, identifier))
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "gave_up"
    assert len(pipeline.job_runs()) == MAX_AUTOMATIC_RUNS


def test_a_night_that_failed_only_for_transient_causes_is_run_again_with_an_alert(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    glue = pipeline.client("glue")
    glue.start_job_run(JobName="sor_job", Arguments=expected_arguments(pipeline, identifier))  # the night that failed
    pipeline.write_manifest(DAY, identifier, "FAILED", retryable=True)
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    result = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert len(pipeline.job_runs()) == 2
    (alert,) = pipeline.alerts()
    assert "run again after a transient failure" in alert["Subject"]
    assert "public_orders" in alert["Message"]
    # bounded: the runs of this export, the first included, stop at MAX_AUTOMATIC_RUNS
    for _ in range(MAX_AUTOMATIC_RUNS - 2):
        glue.start_job_run(JobName="sor_job", Arguments=expected_arguments(pipeline, identifier))
    again = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert again["tasks"][0]["action"] == "gave_up"


@pytest.mark.parametrize("retryable", [False, None])  # None: a manifest from before the key existed
def test_a_failed_night_for_a_deterministic_cause_is_never_run_again(
    pipeline: Pipeline, retryable: bool | None
) -> None:
    identifier = pipeline.start_task(DAY)
    pipeline.write_manifest(DAY, identifier, "FAILED", retryable=retryable)
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    result = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert result["tasks"][0]["action"] == "already_published"
    assert pipeline.job_runs() == []
    assert pipeline.alerts() == []


def test_glue_retries_do_not_count_toward_the_automatic_run_limit(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY)
    glue = pipeline.client("glue")
    for _ in range(MAX_AUTOMATIC_RUNS - 1):  # runs the pipeline started, none wrote a manifest
        first = glue.start_job_run(JobName="sor_job", Arguments=expected_arguments(pipeline, identifier))["JobRunId"]
        for _ in range(2):  # each retried by Glue itself
            retry = glue.start_job_run(JobName="sor_job", Arguments=expected_arguments(pipeline, identifier))[
                "JobRunId"
            ]
            pipeline.make_glue_retry(retry, first)
    assert [r["Attempt"] for r in pipeline.job_runs()].count(1) == 2 * (MAX_AUTOMATIC_RUNS - 1)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"


@pytest.mark.parametrize(
    ("service", "operation"),
    [("rds", "DescribeExportTasks"), ("s3", "ListObjectsV2"), ("glue", "GetJobRuns"), ("glue", "StartJobRun")],
)
def test_aws_faults_on_completion_fail_the_invocation(pipeline: Pipeline, service: str, operation: str) -> None:
    pipeline.start_task(DAY)
    pipeline.emulator.add_fault(
        Fault(
            match=lambda r: r.service == service and r.operation == operation,
            status=500,
            code="InternalError",
            times=None,
        )
    )
    with pytest.raises(ClientError):
        handle_rds_event(
            pipeline.config, pipeline.no_retry_clients(), pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
        )
    pipeline.emulator.clear()
    # The retry (Lambda's, or reconcile's) then finishes the job: nothing was lost.
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert len(pipeline.job_runs()) == 1


def test_a_completion_starts_the_run_where_s3_answers_403_for_the_missing_manifest(pipeline: Pipeline) -> None:
    pipeline.deny_reads_of_missing_keys()
    pipeline.start_task(DAY)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    assert result["tasks"][0]["action"] == "started"
    assert len(pipeline.job_runs()) == 1


def test_an_alert_that_cannot_be_published_fails_the_invocation(pipeline: Pipeline) -> None:
    pipeline.start_task(DAY, status="failed", failure_cause="x")
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "Publish", status=500, code="InternalError", times=None)
    )
    with pytest.raises(ClientError):
        handle_rds_event(
            pipeline.config,
            pipeline.no_retry_clients(),
            pipeline.event("rds-event-0162-cluster-snapshot-export-failed.json", pipeline.snapshot_arn),
        ).as_dict()


def test_handler_counts_outcomes(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)
    pipeline.start_task(DAY)
    on_export_event.handler(pipeline.event(COMPLETED_0164, pipeline.snapshot_arn), context)
    assert emf_metrics(capsys.readouterr().out) == {"GlueRunStarted": 1.0}
    on_export_event.handler(pipeline.event("glue-job-state-change-foreign.json"), context)
    assert emf_metrics(capsys.readouterr().out) == {"EventsIgnored": 1.0}


# -- which task an event is about ------------------------------------------------------------------------------


def cluster_source(pipeline: Pipeline) -> str:
    """ExportSource=cluster: every night exports the same cluster ARN (moto needs a snapshot named like it)."""
    pipeline.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=CLUSTER)
    return pipeline.cluster_arn


def test_a_completion_event_starts_a_run_only_for_the_task_that_just_ended(pipeline: Pipeline) -> None:
    source = cluster_source(pipeline)
    for nights_ago in (2, 1):  # earlier nights of the same source, never published (their events were lost)
        pipeline.start_task(
            DAY - dt.timedelta(days=nights_ago),
            source_arn=source,
            task_end_time=EVENT_TIME - dt.timedelta(days=nights_ago),
        )
    tonight = pipeline.start_task(DAY, source_arn=source)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event("rds-event-0236-cluster-export-completed.json", source)
    ).as_dict()
    assert [(t["export_id"], t["action"]) for t in result["tasks"]] == [(tonight, "started")]
    [run] = pipeline.job_runs()
    assert run["Arguments"] == expected_arguments(pipeline, tonight)


def test_an_older_attempt_never_replaces_the_one_the_manifest_names(pipeline: Pipeline) -> None:
    source = cluster_source(pipeline)
    pipeline.write_manifest(DAY, make_export_id(CLUSTER, DAY, 2))
    # Attempt 1 of the day ends (late) after attempt 2 was published.
    older = pipeline.start_task(DAY, source_arn=source)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event("rds-event-0236-cluster-export-completed.json", source)
    ).as_dict()
    assert result["tasks"] == [{"export_id": older, "ingestion_date": DAY.isoformat(), "action": "superseded"}]
    assert pipeline.job_runs() == []


def test_a_failure_event_alerts_only_for_the_task_that_just_failed(pipeline: Pipeline) -> None:
    source = cluster_source(pipeline)
    earlier = DAY - dt.timedelta(days=1)
    pipeline.start_task(earlier, source_arn=source, status="failed", task_end_time=EVENT_TIME - dt.timedelta(days=1))
    tonight = pipeline.start_task(DAY, source_arn=source, status="failed", failure_cause="x")
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event("rds-event-0234-cluster-export-failed.json", source)
    ).as_dict()
    assert result["tasks"] == [{"export_id": tonight, "action": "alerted"}]
    [alert] = pipeline.alerts()
    assert tonight in alert["Subject"]


@pytest.mark.parametrize(
    ("ended_before_event", "matches"),
    [
        (dt.timedelta(0), True),
        (dt.timedelta(minutes=14), True),
        (dt.timedelta(minutes=-14), True),
        (dt.timedelta(minutes=16), False),
        (dt.timedelta(minutes=-16), False),
    ],
)
def test_the_event_time_tolerance(pipeline: Pipeline, ended_before_event: dt.timedelta, matches: bool) -> None:
    identifier = pipeline.start_task(DAY, task_end_time=EVENT_TIME - ended_before_event)
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    ).as_dict()
    if matches:
        assert result["tasks"][0]["export_id"] == identifier
        assert result["tasks"][0]["action"] == "started"
    else:
        assert result["status"] == "ignored"
        assert "ended within 0:15:00 of 2026-11-26T08:14:07.512000+00:00" in result["reason"]
        assert pipeline.job_runs() == []


def test_of_two_tasks_ending_close_together_the_event_takes_the_closest(pipeline: Pipeline) -> None:
    source = cluster_source(pipeline)
    pipeline.start_task(
        DAY - dt.timedelta(days=5), source_arn=source, task_end_time=EVENT_TIME - dt.timedelta(minutes=5)
    )
    closest = pipeline.start_task(DAY, source_arn=source, task_end_time=EVENT_TIME + dt.timedelta(seconds=2))
    result = handle_rds_event(
        pipeline.config, pipeline.clients, pipeline.event("rds-event-0236-cluster-export-completed.json", source)
    ).as_dict()
    assert [t["export_id"] for t in result["tasks"]] == [closest]


def test_the_envelope_time_is_used_when_detail_date_is_absent(pipeline: Pipeline) -> None:
    identifier = pipeline.start_task(DAY, task_end_time=dt.datetime(2026, 11, 26, 8, 14, 7, tzinfo=dt.UTC))
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    del event["detail"]["Date"]
    result = handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()
    assert result["tasks"][0]["export_id"] == identifier


@pytest.mark.parametrize("date", ["yesterday", "2026-11-26T08:14:07", None])
def test_an_export_event_without_a_usable_time_is_an_error(pipeline: Pipeline, date: str | None) -> None:
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    event["detail"]["Date"] = date
    event["time"] = date
    with pytest.raises(InvalidEventError, match="without a usable time"):
        handle_rds_event(pipeline.config, pipeline.clients, event)


def test_a_busy_job_on_the_event_path_is_deferred_not_an_error_and_reconcile_picks_it_up(pipeline: Pipeline) -> None:
    pipeline.hold_glue_runs()
    other = DAY - dt.timedelta(days=1)
    pipeline.client("glue").start_job_run(JobName="sor_job", Arguments={"--ingestion_date": other.isoformat()})
    identifier = pipeline.start_task(DAY)
    event = pipeline.event(COMPLETED_0164, pipeline.snapshot_arn)
    assert handle_rds_event(pipeline.config, pipeline.clients, event).as_dict()["tasks"] == [
        {"export_id": identifier, "ingestion_date": DAY.isoformat(), "action": "deferred_to_reconcile"}
    ]
    assert len(pipeline.job_runs()) == 1  # only the other day's
    pipeline.release_glue_runs()  # the other day's run ends
    now = EVENT_TIME + dt.timedelta(hours=1)
    result = reconcile(pipeline.config, pipeline.clients, ReconcileRequest(), now).as_dict()
    assert {"export_id": identifier, "ingestion_date": DAY.isoformat(), "action": "started"} == {
        k: v for k, v in result["actions"][0].items() if k != "job_run_id"
    }
