"""Retention and storage tiers in template.yaml: parameters, rules, lifecycle, the job's arguments and permissions."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ops.stack import ACCOUNT, CLUSTER, REGION, Stack, allows, role_statements
from sor_job.config import JobConfig, RetentionPolicy, parse_args

KEEPS = ("RetentionKeepDaily", "RetentionKeepMonthly", "RetentionKeepYearly")


@pytest.mark.parametrize("parameter", KEEPS)
@pytest.mark.parametrize(
    ("value", "accepted"),
    [("0", True), ("35", True), ("-1", False), ("1.5", False), ("", False), ("07", False), ("1e3", False)],
)
def test_keep_parameters_take_whole_numbers_only_at_deploy(raw_template: dict[str, Any], parameter, value, accepted):
    spec = raw_template["Parameters"][parameter]
    assert spec["Type"] == "String", "a Number parameter would take 1.5"
    assert bool(re.fullmatch(spec["AllowedPattern"], value)) is accepted
    assert spec["Default"] == "0"
    assert "whole number" in spec["ConstraintDescription"]


def _job_of(stack: Stack) -> JobConfig:
    """The job's configuration for a run of `stack`'s job: its DefaultArguments plus what each run adds."""
    argv = [part for pair in stack.props("SorJob")["DefaultArguments"].items() for part in pair]
    each_run = [
        "--export_uri",
        "s3://b/exports/e/",
        "--ingestion_date",
        "2026-11-26",
        "--source_engine",
        "aurora-postgresql",
    ]
    return parse_args([*argv, *each_run])


def test_defaults_turn_retention_off_and_tier_nothing(stack: Stack) -> None:
    job = _job_of(stack)
    assert job.retention == RetentionPolicy(0, 0, 0)
    assert not job.retention.enabled
    assert job.retention_dry_run is False
    rules = stack.props("SorBucket")["LifecycleConfiguration"]["Rules"]
    assert not any("Transitions" in r for r in rules)
    assert stack.rule_failures() == []


def test_retention_parameters_reach_the_job(translated: dict[str, Any]) -> None:
    stack = Stack(translated, {"ClusterIdentifier": CLUSTER, "RetentionKeepDaily": "35", "RetentionKeepMonthly": "24",
                               "RetentionKeepYearly": "7", "RetentionDryRun": "true"})  # fmt: skip
    job = _job_of(stack)
    assert job.retention == RetentionPolicy(35, 24, 7)
    assert job.retention_dry_run is True
    assert stack.rule_failures() == []


def test_tiering_moves_table_objects_only_to_a_class_athena_reads(translated: dict[str, Any], raw_template) -> None:
    assert raw_template["Parameters"]["SorTransitionStorageClass"]["AllowedValues"] == ["GLACIER_IR", "STANDARD_IA"]
    assert all(d == 0 or d >= 30 for d in raw_template["Parameters"]["SorTransitionDays"]["AllowedValues"])
    stack = Stack(translated, {"ClusterIdentifier": CLUSTER, "SorTransitionDays": "90"})
    rules = stack.props("SorBucket")["LifecycleConfiguration"]["Rules"]
    (tier,) = [r for r in rules if "Transitions" in r]
    assert tier["Prefix"] == "sor/", "table data only, never _manifests/"
    assert tier["Transitions"] == [{"StorageClass": "GLACIER_IR", "TransitionInDays": "90"}]
    assert tier["Status"] == "Enabled"
    assert not any("ExpirationInDays" in r for r in rules), "S3 lifecycle never expires current SOR objects"


def test_noncurrent_version_window_is_a_parameter(translated: dict[str, Any]) -> None:
    stack = Stack(translated, {"ClusterIdentifier": CLUSTER, "SorNoncurrentVersionDays": "30"})
    rules = stack.props("SorBucket")["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": "30"}
    assert rule["ExpiredObjectDeleteMarker"] is True


def test_rules_refuse_tiering_on_an_existing_bucket_and_a_dry_run_without_a_keep_rule(translated) -> None:
    existing = Stack(translated, {"ClusterIdentifier": CLUSTER, "ExistingSorBucketName": "mine",
                                  "SorTransitionDays": "90"})  # fmt: skip
    assert [f.split(":")[0] for f in existing.rule_failures()] == ["TieringNeedsTheStackBucket"]
    assert Stack(translated, {"ClusterIdentifier": CLUSTER, "ExistingSorBucketName": "mine"}).rule_failures() == []
    dry = Stack(translated, {"ClusterIdentifier": CLUSTER, "RetentionDryRun": "true"})
    assert [f.split(":")[0] for f in dry.rule_failures()] == ["RetentionDryRunNeedsAKeepRule"]
    dry_yearly = Stack(
        translated, {"ClusterIdentifier": CLUSTER, "RetentionDryRun": "true", "RetentionKeepYearly": "7"}
    )
    assert dry_yearly.rule_failures() == []


def test_glue_role_may_remove_partitions_of_its_database_only(either_stack: Stack) -> None:
    statements = role_statements(either_stack, "GlueJobRole")
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    db = either_stack.ref("CatalogDatabase")
    for resource in (f"{glue}:catalog", f"{glue}:database/{db}", f"{glue}:table/{db}/orders"):
        assert allows(statements, "glue:BatchDeletePartition", resource)
        assert allows(statements, "glue:GetPartitions", resource)
    assert not allows(statements, "glue:BatchDeletePartition", f"{glue}:table/other/orders")
    for action in ("glue:DeletePartition", "glue:DeleteTable", "glue:DeleteDatabase", "s3:DeleteObjectVersion"):
        assert not any(allows(statements, action, r) for r in (f"{glue}:table/{db}/orders", "arn:aws:s3:::x/sor/a"))


def test_a_retention_failure_raises_an_alarm_on_the_topic(stack: Stack) -> None:
    alarm = stack.props("RetentionFailuresAlarm")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("aurora-sor", "RetentionFailures")
    assert alarm["Dimensions"] == [{"Name": "CatalogDatabase", "Value": stack.values["CatalogDatabaseName"]}]
    assert alarm["AlarmActions"] == [stack.ref("AlertTopic")]
