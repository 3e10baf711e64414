"""Security properties of template.yaml: least-privilege IAM, a tight key policy, locked-down buckets."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ops.stack import ACCOUNT, CLUSTER, REGION, Stack, allows, identity_statements, role_statements

# AWS documents these prefix wildcards for the RDS export role (API_StartExportTask.html, IamRoleArn).
DOCUMENTED_PREFIX_WILDCARDS = {
    ("ExportRole", "s3:PutObject*"),
    ("ExportRole", "s3:GetObject*"),
    ("ExportRole", "s3:DeleteObject*"),
}
# Actions that support no resource-level permissions, or are listed without naming a resource, so "*" is the
# only Resource that works. Each is metadata or telemetry, never data.
STAR_RESOURCE_ACTIONS = {
    "rds:DescribeExportTasks",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "cloudwatch:PutMetricData",
}
# Reading or changing data: never on "*".
DATA_ACTION_PREFIXES = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "kms:Decrypt",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncrypt",
    "glue:Create",
    "glue:Update",
    "glue:Delete",
    "glue:BatchCreate",
    "glue:BatchUpdate",
    "glue:BatchDelete",
    "sns:Publish",
    "sqs:SendMessage",
)


def _is_data_action(action: str) -> bool:
    return any(action.lower().startswith(prefix.lower()) for prefix in DATA_ACTION_PREFIXES)


def test_no_identity_policy_grants_a_wildcard_action(either_stack: Stack) -> None:
    statements = identity_statements(either_stack)
    assert statements
    for s in statements:
        for action in s.actions:
            assert action != "*", s.describe()
            assert not action.endswith(":*"), s.describe()
            if "*" in action or "?" in action:
                assert (s.owner, action) in DOCUMENTED_PREFIX_WILDCARDS, s.describe()


def test_star_resources_only_for_actions_that_cannot_be_scoped(either_stack: Stack) -> None:
    for s in identity_statements(either_stack):
        broad = [r for r in s.resources if r in ("*", "arn:aws:s3:::*", "arn:aws:s3:::*/*")]
        if not broad:
            continue
        assert set(s.actions) <= STAR_RESOURCE_ACTIONS, s.describe()
        assert not any(_is_data_action(a) for a in s.actions), s.describe()
        if "cloudwatch:PutMetricData" in s.actions:
            assert set(s.condition) == {"StringEquals"}, s.describe()
            assert set(s.condition["StringEquals"]) == {"cloudwatch:namespace"}, s.describe()


def test_data_actions_are_never_granted_on_star(either_stack: Stack) -> None:
    for s in identity_statements(either_stack):
        if any(_is_data_action(a) for a in s.actions):
            assert all("*" not in r.split(":")[-1] or "/" in r for r in s.resources), s.describe()
            assert "*" not in s.resources, s.describe()


def test_only_the_export_role_can_be_passed(either_stack: Stack) -> None:
    passing = [s for s in identity_statements(either_stack) if "iam:PassRole" in s.actions]
    assert passing
    assert {r for s in passing for r in s.resources} == {either_stack.get_att("ExportRole", "Arn")}


def test_export_role_is_trusted_by_rds_export_only(either_stack: Stack) -> None:
    trust = either_stack.props("ExportRole")["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "export.rds.amazonaws.com"}]


def test_start_export_may_export_only_the_cluster_and_its_snapshots(either_stack: Stack) -> None:
    statements = role_statements(either_stack, "StartExportRole")
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}"
    assert allows(statements, "rds:StartExportTask", f"{arn}:cluster:{CLUSTER}")
    assert allows(statements, "rds:StartExportTask", f"{arn}:cluster-snapshot:rds:{CLUSTER}-2026-11-26-06-05")
    assert not allows(statements, "rds:StartExportTask", f"{arn}:cluster:other-cluster")
    assert not allows(statements, "rds:StartExportTask", f"{arn}:cluster-snapshot:rds:other-cluster-2026-11-26-06-05")
    assert allows(statements, "kms:CreateGrant", either_stack.get_att("DataKey", "Arn"))
    assert allows(statements, "kms:DescribeKey", either_stack.get_att("DataKey", "Arn"))
    assert allows(statements, "sns:Publish", either_stack.ref("AlertTopic"))
    assert not allows(
        statements, "glue:StartJobRun", f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{either_stack.ref('SorJob')}"
    )


def test_on_export_event_runs_only_the_sor_job_and_reads_only_manifests(either_stack: Stack) -> None:
    statements = role_statements(either_stack, "OnExportEventRole")
    job = f"arn:aws:glue:{REGION}:{ACCOUNT}:job/{either_stack.ref('SorJob')}"
    for action in ("glue:StartJobRun", "glue:GetJobRuns"):
        assert allows(statements, action, job)
        assert not allows(statements, action, f"arn:aws:glue:{REGION}:{ACCOUNT}:job/another-job")
    sor = either_stack.props("SorJob")["DefaultArguments"]["--sor_bucket"]
    assert allows(
        statements, "s3:GetObject", f"arn:aws:s3:::{sor}/_manifests/sor/ingestion_date=2026-11-26/manifest.json"
    )
    assert not allows(statements, "s3:GetObject", f"arn:aws:s3:::{sor}/sor/orders/ingestion_date=2026-11-26/a.parquet")
    assert not allows(statements, "rds:StartExportTask", f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{CLUSTER}")


def test_glue_role_writes_only_the_sor_prefixes_and_manages_only_its_database(either_stack: Stack) -> None:
    statements = role_statements(either_stack, "GlueJobRole")
    sor = either_stack.props("SorJob")["DefaultArguments"]["--sor_bucket"]
    export_bucket = either_stack.ref("ExportBucket")
    for key in (
        "sor/orders/ingestion_date=2026-11-26/a.gz.parquet",
        "_manifests/sor/ingestion_date=2026-11-26/manifest.json",
    ):
        assert allows(statements, "s3:PutObject", f"arn:aws:s3:::{sor}/{key}")
        assert allows(statements, "s3:DeleteObject", f"arn:aws:s3:::{sor}/{key}")
    assert not allows(statements, "s3:PutObject", f"arn:aws:s3:::{sor}/other_db/t/x.parquet")
    assert not allows(statements, "s3:PutObject", f"arn:aws:s3:::{export_bucket}/exports/x")
    assert not allows(statements, "s3:DeleteObject", f"arn:aws:s3:::{export_bucket}/exports/x")
    glue = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    assert allows(statements, "glue:CreateTable", f"{glue}:table/sor/orders")
    assert allows(statements, "glue:UpdatePartition", f"{glue}:table/sor/orders")
    assert not allows(statements, "glue:CreateTable", f"{glue}:table/other_db/orders")
    assert not allows(statements, "glue:DeleteDatabase", f"{glue}:database/sor")
    assert allows(statements, "kms:Decrypt", either_stack.get_att("DataKey", "Arn"))


def test_key_rotates_and_its_policy_opens_data_use_to_no_one_unconditionally(stack: Stack) -> None:
    key = stack.props("DataKey")
    assert key["EnableKeyRotation"] is True
    root = f"arn:aws:iam::{ACCOUNT}:root"
    data_actions = {
        "kms:Decrypt",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
        "kms:CreateGrant",
    }
    for statement in key["KeyPolicy"]["Statement"]:
        principal = statement["Principal"]
        assert principal != "*", statement["Sid"]
        assert principal.get("AWS") != "*", statement["Sid"]
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any(a == "*" or a.endswith(":*") for a in actions), statement["Sid"]
        uses_data = any(a.rstrip("*") in data_actions for a in actions)
        if uses_data and principal == {"Service": "events.amazonaws.com"}:
            # The documented exception: EventBridge's KMS request for an encrypted topic carries none of the
            # aws:Source* keys (sns-key-management.html#compatibility-with-aws-services), so the statement is
            # unconditioned and limited to what publishing needs; the topic policy names the one rule.
            assert sorted(actions) == ["kms:Decrypt", "kms:GenerateDataKey*"], statement["Sid"]
        elif uses_data:
            assert statement.get("Condition"), f"{statement['Sid']} grants data use without a condition"
        if principal.get("AWS") == root and not statement.get("Condition"):
            assert not set(actions) & data_actions, statement["Sid"]


def test_key_policy_names_the_roles_the_stack_really_creates(stack: Stack) -> None:
    (statement,) = [s for s in stack.props("DataKey")["KeyPolicy"]["Statement"] if s["Sid"] == "StackRolesUseTheKey"]
    named = set(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    users = {
        stack.get_att(role, "Arn") for role in ("ExportRole", "StartExportRole", "OnExportEventRole", "GlueJobRole")
    }
    assert named == users


def _bucket_policies(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name in stack.of_type("AWS::S3::BucketPolicy"):
        props = stack.props(name)
        found.setdefault(props["Bucket"], []).extend(props["PolicyDocument"]["Statement"])
    return found


@pytest.mark.parametrize("bucket", ["ExportBucket", "SorBucket", "AthenaResultsBucket"])
def test_every_bucket_is_encrypted_blocked_owner_enforced_and_tls_only(stack: Stack, bucket: str) -> None:
    assert set(stack.of_type("AWS::S3::Bucket")) == {"ExportBucket", "SorBucket", "AthenaResultsBucket"}
    props = stack.props(bucket)
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": stack.get_att("DataKey", "Arn"),
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    name, arn = stack.ref(bucket), stack.get_att(bucket, "Arn")
    tls = [
        s
        for s in _bucket_policies(stack).get(name, [])
        if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert tls, f"{bucket} has no TLS-only statement"
    assert tls[0]["Principal"] == "*"
    assert set(tls[0]["Resource"]) == {arn, f"{arn}/*"}


def test_lifecycles_expire_staging_and_results_but_keep_the_sor(stack: Stack) -> None:
    def rules(bucket: str) -> list[dict[str, Any]]:
        return stack.props(bucket)["LifecycleConfiguration"]["Rules"]

    assert [int(r["ExpirationInDays"]) for r in rules("ExportBucket")] == [7]
    assert all("ExpirationInDays" in r for r in rules("AthenaResultsBucket"))
    assert stack.props("SorBucket")["VersioningConfiguration"] == {"Status": "Enabled"}
    assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in rules("SorBucket"))


def test_an_existing_sor_bucket_replaces_the_stack_bucket_everywhere(stack_existing_sor: Stack) -> None:
    assert "SorBucket" not in stack_existing_sor.resources
    assert "SorBucketPolicy" not in stack_existing_sor.resources
    statements = role_statements(stack_existing_sor, "GlueJobRole")
    assert allows(statements, "s3:PutObject", "arn:aws:s3:::existing-sor-bucket/sor/t/ingestion_date=2026-11-26/a")


def test_topic_and_log_groups_are_encrypted_with_the_stack_key(stack: Stack) -> None:
    key = stack.get_att("DataKey", "Arn")
    assert stack.props("AlertTopic")["KmsMasterKeyId"] == key
    for name in stack.of_type("AWS::Logs::LogGroup"):
        assert stack.props(name)["KmsKeyId"] == key, name


@pytest.mark.parametrize(
    ("identifier", "accepted"),
    [
        ("mycluster", True),
        ("my-cluster-1", True),
        ("a" * 63, True),
        ("MyCluster", False),  # RDS stores it as mycluster; ARNs built from MyCluster would not match
        ("a" * 64, False),
        ("1cluster", False),
        ("cluster-", False),
        ("my--cluster", False),
    ],
)
def test_cluster_identifier_is_an_rds_identifier_in_lower_case(
    raw_template: dict[str, Any], identifier: str, accepted: bool
) -> None:
    # botocore rds CreateDBCluster DBClusterIdentifier: "stored as a lowercase string"; 1 to 63 letters, digits or
    # hyphens, a letter first, no trailing hyphen, no two consecutive hyphens. The IAM policies build the cluster
    # and snapshot ARNs from the parameter, so it must be given exactly as RDS stores it.
    spec = raw_template["Parameters"]["ClusterIdentifier"]
    fits = re.fullmatch(spec["AllowedPattern"], identifier) is not None
    fits = fits and len(identifier) <= int(spec.get("MaxLength", 10**6))
    assert fits is accepted
    assert "lower case" in spec["ConstraintDescription"]


def _namespaces(statements: list[Any]) -> set[str]:
    found: set[str] = set()
    for s in statements:
        if "cloudwatch:PutMetricData" in s.actions:
            value = s.condition["StringEquals"]["cloudwatch:namespace"]
            found.update(value if isinstance(value, list) else [value])
    return found


def test_glue_role_may_put_the_job_metrics_and_glues_own(stack: Stack) -> None:
    args = stack.props("SorJob")["DefaultArguments"]
    expected = {args["--metrics_namespace"]}
    if args.get("--enable-metrics") == "true" or args.get("--enable-observability-metrics") == "true":
        # Glue job metrics and observability metrics are published under the namespace "Glue"
        # (https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with-cloudwatch-metrics.html,
        # https://docs.aws.amazon.com/glue/latest/dg/monitor-observability.html) by the job's role.
        expected.add("Glue")
    assert _namespaces(role_statements(stack, "GlueJobRole")) == expected
    assert _namespaces(role_statements(stack, "StartExportRole")) == set()


def test_the_glue_job_uses_the_data_key_through_s3_only(either_stack: Stack) -> None:
    # Like the Lambdas' manifest reads: the job reads exports and writes the SOR (SSE-KMS) through S3; its logs are
    # encrypted by CloudWatch Logs, not by the role, and bookmarks are off, so nothing else needs the key.
    key = either_stack.get_att("DataKey", "Arn")
    kms = [s for s in role_statements(either_stack, "GlueJobRole") if any(a.startswith("kms:") for a in s.actions)]
    assert kms
    for s in kms:
        assert key in s.resources, s.describe()
        assert s.condition == {"StringEquals": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}}, s.describe()


def test_sor_delete_markers_expire_once_no_noncurrent_version_remains(stack: Stack) -> None:
    # Deleting without a VersionId writes a delete marker in a versioned bucket; ExpiredObjectDeleteMarker removes
    # it once no noncurrent version remains; it "cannot be specified with Days or Date"
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_LifecycleExpiration.html), so it may share a rule with
    # NoncurrentVersionExpiration but never with ExpirationInDays/ExpirationDate.
    rules = stack.props("SorBucket")["LifecycleConfiguration"]["Rules"]
    (rule,) = [r for r in rules if r.get("ExpiredObjectDeleteMarker") is True]
    assert rule["Status"] == "Enabled"
    assert "ExpirationInDays" not in rule
    assert "ExpirationDate" not in rule
    assert any("NoncurrentVersionExpiration" in r for r in rules)


def test_account_principals_use_the_key_only_through_s3_and_sns(stack: Stack) -> None:
    """Analysts read through S3; operators publish to the encrypted alert topic through SNS (the verifier's test
    alert). Neither may call KMS directly with this delegation."""
    root = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    delegations = [
        s
        for s in stack.props("DataKey")["KeyPolicy"]["Statement"]
        if s["Principal"] == root and "kms:Decrypt" in s["Action"] and not s.get("Condition", {}).get("ArnEquals")
    ]
    assert len(delegations) == 1, delegations
    condition = delegations[0]["Condition"]["StringEquals"]
    assert sorted(condition["kms:ViaService"]) == [f"s3.{REGION}.amazonaws.com", f"sns.{REGION}.amazonaws.com"]
    assert condition["kms:CallerAccount"] == ACCOUNT
