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

from local.aws_emulator import Fault
from tests.functions.conftest import CLUSTER, FakeContext, Stack


def local_day(stack: Stack, instant: dt.datetime) -> dt.date:
    return instant.astimezone(stack.config.schedule_timezone).date()


def test_nightly_start_exports_the_newest_automated_snapshot(stack: Stack) -> None:
    now = stack.snapshot_time + dt.timedelta(minutes=30)
    result = export_day(stack.config, stack.clients, {}, now).as_dict()
    day = local_day(stack, now)
    expected_id = f"aurora-sor-{CLUSTER}-{day.isoformat()}"
    assert result == {
        "export_id": expected_id,
        "ingestion_date": day.isoformat(),
        "source_arn": stack.snapshot_arn,
        "export_uri": f"s3://aurora-sor-exports/exports/{expected_id}/",
        "status": "started",
    }
    [task] = stack.tasks()
    assert task["ExportTaskIdentifier"] == expected_id
    assert task["SourceArn"] == stack.snapshot_arn
    assert (task["S3Bucket"], task["S3Prefix"]) == ("aurora-sor-exports", "exports")
    assert task["IamRoleArn"] == stack.config.export_role_arn
    assert task["KmsKeyId"] == stack.config.export_kms_key_arn
    assert not task.get("ExportOnly")
    assert stack.alerts() == []


def test_the_same_night_twice_is_already_started_not_a_second_export(stack: Stack) -> None:
    now = stack.snapshot_time + dt.timedelta(minutes=30)
    first = export_day(stack.config, stack.clients, {}, now).as_dict()
    second = export_day(stack.config, stack.clients, {}, now + dt.timedelta(minutes=5)).as_dict()
    assert (first["status"], second["status"]) == ("started", "already_started")
    assert second["export_id"] == first["export_id"]
    assert len(stack.tasks()) == 1
    assert len(stack.emulator.calls("rds", "StartExportTask")) == 2


def test_export_only_comes_from_the_setting_unless_the_payload_names_tables(stack: Stack) -> None:
    config = type(stack.config)(**{**stack.config.__dict__, "export_only": ("mydb.public",)})
    now = stack.snapshot_time + dt.timedelta(minutes=30)
    export_day(config, stack.clients, {}, now)
    export_day(config, stack.clients, {"export_only": ["mydb.sales.orders"], "attempt": 2}, now)
    by_id = {t["ExportTaskIdentifier"]: t["ExportOnly"] for t in stack.tasks()}
    day = local_day(stack, now).isoformat()
    assert by_id == {
        f"aurora-sor-{CLUSTER}-{day}": ["mydb.public"],
        f"aurora-sor-{CLUSTER}-{day}-r2": ["mydb.sales.orders"],
    }


def test_backfill_uses_the_snapshot_that_held_that_day(stack: Stack) -> None:
    day = local_day(stack, stack.snapshot_time)
    later = stack.snapshot_time + dt.timedelta(days=5)
    result = export_day(stack.config, stack.clients, {"ingestion_date": day.isoformat()}, later).as_dict()
    assert result["export_id"] == f"aurora-sor-{CLUSTER}-{day.isoformat()}"
    assert result["source_arn"] == stack.snapshot_arn


def refusal(stack: Stack) -> dict[str, str]:
    [alert] = stack.alerts()
    assert "refused" in alert["Subject"]
    assert CLUSTER in alert["Subject"]
    assert "Reason:" in alert["Message"]
    assert "What to do next:" in alert["Message"]
    assert stack.emulator.calls("rds", "StartExportTask") == []
    return alert


def test_a_stale_snapshot_is_refused_with_an_alert(stack: Stack) -> None:
    now = stack.snapshot_time + dt.timedelta(hours=30)
    with pytest.raises(SourceRefusedError, match="MAX_SNAPSHOT_AGE_HOURS=26"):
        export_day(stack.config, stack.clients, {}, now)
    alert = refusal(stack)
    assert stack.snapshot_arn in alert["Message"]


def test_a_day_before_any_snapshot_is_refused_with_an_alert(stack: Stack) -> None:
    day = local_day(stack, stack.snapshot_time) - dt.timedelta(days=3)
    with pytest.raises(SourceRefusedError, match="no available automated snapshot"):
        export_day(stack.config, stack.clients, {"ingestion_date": day.isoformat()}, stack.snapshot_time)
    assert day.isoformat() in refusal(stack)["Subject"]


def test_an_unavailable_snapshot_is_not_used(stack: Stack) -> None:
    from moto.backends import get_backend

    backend = get_backend("rds")["123456789012"]["sa-east-1"]
    for snapshot in backend.cluster_snapshots.values():
        snapshot.status = "creating"
    with pytest.raises(SourceRefusedError):
        export_day(stack.config, stack.clients, {}, stack.snapshot_time + dt.timedelta(minutes=1))
    refusal(stack)


def test_source_arn_in_the_payload_wins(stack: Stack) -> None:
    rds = stack.client("rds")
    # The role may export manual snapshots named <cluster>-... (template.yaml, StartExportRole/ExportTheCluster).
    manual = rds.create_db_cluster_snapshot(
        DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=f"{CLUSTER}-before-migration"
    )
    arn = manual["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    now = stack.snapshot_time + dt.timedelta(hours=100)  # the automated one is stale: not consulted at all
    result = export_day(stack.config, stack.clients, {"source_arn": arn}, now).as_dict()
    assert result["source_arn"] == arn
    assert stack.tasks()[0]["SourceArn"] == arn
    # An automated snapshot named by ARN is looked up as automated.
    result = export_day(stack.config, stack.clients, {"source_arn": stack.snapshot_arn, "attempt": 2}, now).as_dict()
    assert result["source_arn"] == stack.snapshot_arn


def test_a_snapshot_of_another_cluster_is_rejected(stack: Stack) -> None:
    rds = stack.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="othercluster", Engine="aurora-postgresql", MasterUsername="u", MasterUserPassword="x" * 12
    )
    other = rds.create_db_cluster_snapshot(DBClusterIdentifier="othercluster", DBClusterSnapshotIdentifier="other-1")
    arn = other["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    with pytest.raises(InvalidSourceError, match="othercluster"):
        export_day(stack.config, stack.clients, {"source_arn": arn}, stack.snapshot_time)
    with pytest.raises(InvalidSourceError, match="not cluster"):
        export_day(
            stack.config, stack.clients, {"source_arn": stack.cluster_arn.replace(CLUSTER, "x")}, stack.snapshot_time
        ).as_dict()
    with pytest.raises(InvalidSourceError, match="not an RDS"):
        export_day(stack.config, stack.clients, {"source_arn": "arn:aws:s3:::bucket"}, stack.snapshot_time)
    assert stack.emulator.calls("rds", "StartExportTask") == []


def cluster_source(stack: Stack) -> Any:
    # moto 5.2 cannot export a live cluster: it looks the ARN's name up among cluster snapshots. A snapshot
    # named like the cluster lets the real request (SourceArn = the cluster ARN) through; the code is untouched.
    stack.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=CLUSTER)
    return type(stack.config)(**{**stack.config.__dict__, "export_source": "cluster"})


def test_cluster_source_exports_the_live_cluster(stack: Stack) -> None:
    config = cluster_source(stack)
    result = export_day(config, stack.clients, {}, stack.snapshot_time + dt.timedelta(hours=100)).as_dict()
    assert result["source_arn"] == stack.cluster_arn
    assert stack.tasks()[0]["SourceArn"] == stack.cluster_arn


def test_cluster_source_will_not_label_live_data_with_a_past_day(stack: Stack) -> None:
    config = cluster_source(stack)
    day = local_day(stack, stack.snapshot_time) - dt.timedelta(days=1)
    with pytest.raises(InvalidRequestError, match="pass source_arn"):
        export_day(config, stack.clients, {"ingestion_date": day.isoformat()}, stack.snapshot_time)
    # ... unless the operator says so explicitly.
    result = export_day(
        config, stack.clients, {"ingestion_date": day.isoformat(), "source_arn": stack.cluster_arn}, stack.snapshot_time
    ).as_dict()
    assert result["export_id"].endswith(day.isoformat())


def test_a_transient_rds_error_is_retried(stack: Stack) -> None:
    stack.emulator.add_fault(
        Fault(match=lambda r: r.operation == "StartExportTask", status=503, code="ServiceUnavailable", times=1)
    )
    result = export_day(stack.config, stack.clients, {}, stack.snapshot_time + dt.timedelta(minutes=1)).as_dict()
    assert result["status"] == "started"
    assert len(stack.emulator.calls("rds", "StartExportTask")) == 2


@pytest.mark.parametrize("operation", ["DescribeDBClusterSnapshots", "StartExportTask"])
def test_a_persistent_rds_error_fails_the_invocation(stack: Stack, operation: str) -> None:
    stack.emulator.add_fault(
        Fault(match=lambda r: r.operation == operation, status=500, code="InternalFailure", times=None)
    )
    with pytest.raises(ClientError, match="InternalFailure"):
        export_day(stack.config, stack.no_retry_clients(), {}, stack.snapshot_time + dt.timedelta(minutes=1))
    assert stack.tasks() == []


def test_a_refusal_whose_alert_cannot_be_sent_still_fails(stack: Stack) -> None:
    stack.emulator.add_fault(
        Fault(match=lambda r: r.operation == "Publish", status=500, code="InternalError", times=None)
    )
    with pytest.raises(ClientError, match="InternalError"):
        export_day(stack.config, stack.no_retry_clients(), {}, stack.snapshot_time + dt.timedelta(hours=30))


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
    stack: Stack, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", stack.clients)
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
    stack: Stack, context: FakeContext, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], event: Any
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", stack.clients)
    stack.emulator.clear()  # forget the fixture's own setup requests
    with pytest.raises(InvalidRequestError):
        start_export.handler(event, context)
    assert emf_metrics(capsys.readouterr().out) == {"ExportRefused": 1.0}
    assert stack.emulator.calls("rds") == []


def test_handler_names_a_missing_variable(stack: Stack, context: FakeContext, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GLUE_JOB_NAME")
    with pytest.raises(ValueError, match="GLUE_JOB_NAME"):
        start_export.handler({}, context)
