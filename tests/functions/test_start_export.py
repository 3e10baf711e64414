"""start_export against the emulator: the nightly start, re-runs, backfills, refusals, bad input, AWS faults."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aws_clients
import pytest
import start_export
from botocore.exceptions import ClientError
from sources import InvalidSourceError, SourceRefusedError
from start_export_flow import export_day
from start_request import InvalidRequestError

from local.emulator.aws_emulator import Fault
from ops.stack import load_raw
from tests.functions.conftest import CLUSTER, FakeContext, Pipeline


def local_day(pipeline: Pipeline, instant: dt.datetime) -> dt.date:
    return instant.astimezone(pipeline.config.schedule_timezone).date()


def test_nightly_start_exports_the_newest_automated_snapshot(pipeline: Pipeline) -> None:
    now = pipeline.snapshot_time + dt.timedelta(minutes=30)
    result = export_day(pipeline.config, pipeline.clients, {}, now).as_dict()
    day = local_day(pipeline, now)
    expected_id = f"aurora-sor-{CLUSTER}-{day.isoformat()}"
    assert result == {
        "export_id": expected_id,
        "ingestion_date": day.isoformat(),
        "source_arn": pipeline.snapshot_arn,
        "export_uri": f"s3://aurora-sor-exports/exports/{expected_id}/",
        "status": "started",
    }
    [task] = pipeline.tasks()
    assert task["ExportTaskIdentifier"] == expected_id
    assert task["SourceArn"] == pipeline.snapshot_arn
    assert (task["S3Bucket"], task["S3Prefix"]) == ("aurora-sor-exports", "exports")
    assert task["IamRoleArn"] == pipeline.config.export_role_arn
    assert task["KmsKeyId"] == pipeline.config.export_kms_key_arn
    assert not task.get("ExportOnly")
    assert pipeline.alerts() == []


def test_the_same_night_twice_is_already_started_not_a_second_export(pipeline: Pipeline) -> None:
    now = pipeline.snapshot_time + dt.timedelta(minutes=30)
    first = export_day(pipeline.config, pipeline.clients, {}, now).as_dict()
    second = export_day(pipeline.config, pipeline.clients, {}, now + dt.timedelta(minutes=5)).as_dict()
    assert (first["status"], second["status"]) == ("started", "already_started")
    assert second["export_id"] == first["export_id"]
    assert len(pipeline.tasks()) == 1
    assert len(pipeline.emulator.calls("rds", "StartExportTask")) == 2


def test_export_only_comes_from_the_setting_unless_the_payload_names_tables(pipeline: Pipeline) -> None:
    config = type(pipeline.config)(**{**pipeline.config.__dict__, "export_only": ("mydb.public",)})
    now = pipeline.snapshot_time + dt.timedelta(minutes=30)
    export_day(config, pipeline.clients, {}, now)
    export_day(config, pipeline.clients, {"export_only": ["mydb.sales.orders"], "attempt": 2}, now)
    by_id = {t["ExportTaskIdentifier"]: t["ExportOnly"] for t in pipeline.tasks()}
    day = local_day(pipeline, now).isoformat()
    assert by_id == {
        f"aurora-sor-{CLUSTER}-{day}": ["mydb.public"],
        f"aurora-sor-{CLUSTER}-{day}-r2": ["mydb.sales.orders"],
    }


def test_backfill_uses_the_snapshot_that_held_that_day(pipeline: Pipeline) -> None:
    day = local_day(pipeline, pipeline.snapshot_time)
    later = pipeline.snapshot_time + dt.timedelta(days=5)
    result = export_day(pipeline.config, pipeline.clients, {"ingestion_date": day.isoformat()}, later).as_dict()
    assert result["export_id"] == f"aurora-sor-{CLUSTER}-{day.isoformat()}"
    assert result["source_arn"] == pipeline.snapshot_arn


def refusal(pipeline: Pipeline) -> dict[str, str]:
    [alert] = pipeline.alerts()
    assert "refused" in alert["Subject"]
    assert CLUSTER in alert["Subject"]
    assert "Reason:" in alert["Message"]
    assert "What to do next:" in alert["Message"]
    assert pipeline.emulator.calls("rds", "StartExportTask") == []
    return alert


def test_a_stale_snapshot_is_refused_with_an_alert(pipeline: Pipeline) -> None:
    now = pipeline.snapshot_time + dt.timedelta(hours=30)
    with pytest.raises(SourceRefusedError, match="MAX_SNAPSHOT_AGE_HOURS=26"):
        export_day(pipeline.config, pipeline.clients, {}, now)
    alert = refusal(pipeline)
    assert pipeline.snapshot_arn in alert["Message"]


def test_a_day_before_any_snapshot_is_refused_with_an_alert(pipeline: Pipeline) -> None:
    day = local_day(pipeline, pipeline.snapshot_time) - dt.timedelta(days=3)
    with pytest.raises(SourceRefusedError, match="no available automated snapshot"):
        export_day(pipeline.config, pipeline.clients, {"ingestion_date": day.isoformat()}, pipeline.snapshot_time)
    assert day.isoformat() in refusal(pipeline)["Subject"]


def test_an_unavailable_snapshot_is_not_used(pipeline: Pipeline) -> None:
    from moto.backends import get_backend

    backend = get_backend("rds")["123456789012"]["sa-east-1"]
    for snapshot in backend.cluster_snapshots.values():
        snapshot.status = "creating"
    with pytest.raises(SourceRefusedError):
        export_day(pipeline.config, pipeline.clients, {}, pipeline.snapshot_time + dt.timedelta(minutes=1))
    refusal(pipeline)


def test_source_arn_in_the_payload_wins(pipeline: Pipeline) -> None:
    rds = pipeline.client("rds")
    # The role may export manual snapshots named <cluster>-... (template.yaml, StartExportRole/ExportTheCluster).
    manual = rds.create_db_cluster_snapshot(
        DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=f"{CLUSTER}-before-migration"
    )
    arn = manual["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    now = pipeline.snapshot_time + dt.timedelta(hours=100)  # the automated one is stale: not consulted at all
    result = export_day(pipeline.config, pipeline.clients, {"source_arn": arn}, now).as_dict()
    assert result["source_arn"] == arn
    assert pipeline.tasks()[0]["SourceArn"] == arn
    # An automated snapshot named by ARN is looked up as automated.
    result = export_day(
        pipeline.config, pipeline.clients, {"source_arn": pipeline.snapshot_arn, "attempt": 2}, now
    ).as_dict()
    assert result["source_arn"] == pipeline.snapshot_arn


def test_a_snapshot_of_another_cluster_is_rejected(pipeline: Pipeline) -> None:
    rds = pipeline.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="othercluster", Engine="aurora-postgresql", MasterUsername="u", MasterUserPassword="x" * 12
    )
    other = rds.create_db_cluster_snapshot(DBClusterIdentifier="othercluster", DBClusterSnapshotIdentifier="other-1")
    arn = other["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    with pytest.raises(InvalidSourceError, match="othercluster"):
        export_day(pipeline.config, pipeline.clients, {"source_arn": arn}, pipeline.snapshot_time)
    with pytest.raises(InvalidSourceError, match="not cluster"):
        export_day(
            pipeline.config,
            pipeline.clients,
            {"source_arn": pipeline.cluster_arn.replace(CLUSTER, "x")},
            pipeline.snapshot_time,
        ).as_dict()
    with pytest.raises(InvalidSourceError, match="not an RDS"):
        export_day(pipeline.config, pipeline.clients, {"source_arn": "arn:aws:s3:::bucket"}, pipeline.snapshot_time)
    assert pipeline.emulator.calls("rds", "StartExportTask") == []


def cluster_source(pipeline: Pipeline) -> Any:
    # moto 5.2 cannot export a live cluster: it looks the ARN's name up among cluster snapshots. A snapshot
    # named like the cluster lets the real request (SourceArn = the cluster ARN) through; the code is untouched.
    pipeline.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=CLUSTER)
    return type(pipeline.config)(**{**pipeline.config.__dict__, "export_source": "cluster"})


def test_cluster_source_exports_the_live_cluster(pipeline: Pipeline) -> None:
    config = cluster_source(pipeline)
    result = export_day(config, pipeline.clients, {}, pipeline.snapshot_time + dt.timedelta(hours=100)).as_dict()
    assert result["source_arn"] == pipeline.cluster_arn
    assert pipeline.tasks()[0]["SourceArn"] == pipeline.cluster_arn


def test_cluster_source_will_not_label_live_data_with_a_past_day(pipeline: Pipeline) -> None:
    config = cluster_source(pipeline)
    day = local_day(pipeline, pipeline.snapshot_time) - dt.timedelta(days=1)
    with pytest.raises(InvalidRequestError, match="pass source_arn"):
        export_day(config, pipeline.clients, {"ingestion_date": day.isoformat()}, pipeline.snapshot_time)
    # ... unless the operator says so explicitly.
    result = export_day(
        config,
        pipeline.clients,
        {"ingestion_date": day.isoformat(), "source_arn": pipeline.cluster_arn},
        pipeline.snapshot_time,
    ).as_dict()
    assert result["export_id"].endswith(day.isoformat())


def test_a_transient_rds_error_is_retried(pipeline: Pipeline) -> None:
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "StartExportTask", status=503, code="ServiceUnavailable", times=1)
    )
    result = export_day(
        pipeline.config, pipeline.clients, {}, pipeline.snapshot_time + dt.timedelta(minutes=1)
    ).as_dict()
    assert result["status"] == "started"
    assert len(pipeline.emulator.calls("rds", "StartExportTask")) == 2


@pytest.mark.parametrize("operation", ["DescribeDBClusterSnapshots", "StartExportTask"])
def test_a_persistent_rds_error_fails_the_invocation(pipeline: Pipeline, operation: str) -> None:
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == operation, status=500, code="InternalFailure", times=None)
    )
    with pytest.raises(ClientError, match="InternalFailure"):
        export_day(pipeline.config, pipeline.no_retry_clients(), {}, pipeline.snapshot_time + dt.timedelta(minutes=1))
    assert pipeline.tasks() == []


def test_a_refusal_whose_alert_cannot_be_sent_still_fails(pipeline: Pipeline) -> None:
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == "Publish", status=500, code="InternalError", times=None)
    )
    with pytest.raises(ClientError, match="InternalError"):
        export_day(pipeline.config, pipeline.no_retry_clients(), {}, pipeline.snapshot_time + dt.timedelta(hours=30))


def emf_metrics(output: str) -> dict[str, float]:
    """Metric values from the Embedded Metric Format lines Powertools printed."""
    found: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "aurora-sor"
            for metric in directive["Metrics"]:
                value = record[metric["Name"]]
                found[metric["Name"]] = sum(value) if isinstance(value, list) else value
    return found


def test_handler_returns_the_summary_and_counts_started_then_skipped(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)
    result = start_export.handler({}, context)
    assert result["status"] == "started"
    assert emf_metrics(capsys.readouterr().out) == {"ExportStarted": 1.0}
    assert start_export.handler({}, context)["status"] == "already_started"
    assert emf_metrics(capsys.readouterr().out) == {"ExportSkipped": 1.0}


@pytest.mark.parametrize(
    "event",
    [{"ingestion_date": "yesterday"}, {"export_only": ["db.bad-name"]}, {"ingestion-date": "2026-11-20"}, [1, 2]],
)
def test_handler_rejects_malformed_payloads_and_starts_nothing(
    pipeline: Pipeline,
    context: FakeContext,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    event: Any,
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)
    pipeline.emulator.clear()  # forget the fixture's own setup requests
    # A refusal is a result, not an error: the reason says what to fix, nothing is announced, and the invocation
    # does not count in the function's Errors alarm (which means "the code broke").
    result = start_export.handler(event, context)
    assert result["status"] == "refused"
    assert result["reason"]
    assert pipeline.alerts() == []
    assert emf_metrics(capsys.readouterr().out) == {"ExportRefused": 1.0}
    assert pipeline.emulator.calls("rds") == []


def test_handler_names_a_missing_variable(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GLUE_JOB_NAME")
    with pytest.raises(ValueError, match="GLUE_JOB_NAME"):
        start_export.handler({}, context)


def deliver_asynchronously(event: Any, context: FakeContext) -> tuple[Any, int]:
    """start_export invoked as EventBridge Scheduler invokes it (asynchronously): Lambda retries a failed invocation
    MaximumRetryAttempts times (template.yaml EventInvokeConfig; "Asynchronous invocation", Lambda Developer Guide).
    Returns the last outcome (a result, or the error) and the number of invocations."""
    retries = load_raw()["Resources"]["StartExportFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"]
    outcome: Any = None
    for attempt in range(1, 2 + int(retries)):
        try:
            return start_export.handler(event, context), attempt
        except Exception as error:  # noqa: BLE001 - what Lambda does with it: invoke again
            outcome = error
    return outcome, 1 + int(retries)


def test_one_refused_day_is_one_message_however_lambda_delivers_it(
    pipeline: Pipeline, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)
    day = local_day(pipeline, pipeline.snapshot_time) - dt.timedelta(days=3)  # before any snapshot: refused
    outcome, invocations = deliver_asynchronously({"ingestion_date": day.isoformat()}, context)
    assert invocations == 1  # not a failure: Lambda neither retries it nor sends it to the on-failure destination
    assert outcome["status"] == "refused"
    assert "no available automated snapshot" in outcome["reason"]
    alerts = pipeline.alerts()
    assert len(alerts) == 1
    assert day.isoformat() in alerts[0]["Subject"]
    assert emf_metrics(capsys.readouterr().out) == {"ExportRefused": 1.0}
    assert pipeline.emulator.calls("rds", "StartExportTask") == []
