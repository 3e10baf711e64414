"""The emulator's IAM enforcement (local/emulator/enforcement.py) on a deployed template: each role's requests are
judged
by the deployment's policies and refused in the service's own error shape, with a message a person can act on."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from manifests import manifest_key

from local.emulator.aws_emulator import Emulator
from local.emulator.deploy import Deployment, deploy
from ops.iam import Decision

DAY = dt.date(2026, 11, 26)


@pytest.fixture
def deployed(aws: boto3.Session, emulator: Emulator) -> Deployment:
    deployment = deploy(aws, {"ClusterIdentifier": "c1"})
    emulator.enforcer = deployment.enforcer()
    return deployment


def as_role(emulator: Emulator, role: str, service: str) -> Any:
    assert emulator.enforcer is not None
    creds = emulator.enforcer.credentials(role)
    session = boto3.Session(
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"], aws_secret_access_key="x", region_name="sa-east-1"
    )
    return session.client(service, config=boto3.session.Config(retries={"max_attempts": 1}))


def manifest(deployment: Deployment) -> str:
    return manifest_key(deployment.names().catalog_database, DAY)


def test_a_missing_manifest_is_403_for_the_event_role_because_its_list_bucket_needs_an_s3_prefix(deployed, emulator):
    """Defect: S3 answers 404 only to a caller allowed s3:ListBucket for the GetObject request itself, which
    carries no s3:prefix (S3 API reference, GetObject "Permissions")."""
    s3 = as_role(emulator, "OnExportEventRole", "s3")
    bucket = deployed.names().sor_bucket
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key=manifest(deployed))
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (403, "AccessDenied")
    message = error["Error"]["Message"]
    assert "OnExportEventRole" in message
    assert "s3:ListBucket" in message
    assert "OnExportEventRole/ListRunManifests" in message  # the statement whose s3:prefix condition failed
    assert '"Action": "s3:ListBucket"' in message  # the statement that would be needed
    # Listing the exact key first is allowed, and reading an existing manifest works.
    assert s3.list_objects_v2(Bucket=bucket, Prefix=manifest(deployed))["KeyCount"] == 0
    boto3.client("s3").put_object(Bucket=bucket, Key=manifest(deployed), Body=b'{"export_id": "x"}')
    assert s3.get_object(Bucket=bucket, Key=manifest(deployed))["Body"].read() == b'{"export_id": "x"}'


def test_the_manifest_reader_sees_a_missing_manifest_as_not_published_under_its_role(deployed, emulator):
    from manifests import published_run

    names = deployed.names()
    s3 = as_role(emulator, "OnExportEventRole", "s3")
    assert published_run(s3, names.sor_bucket, names.catalog_database, DAY) is None


def test_the_kms_use_of_an_sse_kms_write_is_evaluated_against_the_key_policy(deployed, emulator):
    names = deployed.names()
    s3 = as_role(emulator, "ExportRole", "s3")
    s3.put_object(Bucket=names.export_bucket, Key="exports/x/export_info.json", Body=b"{}")
    kms = [e for e in emulator.enforcer.evaluated if e.action == "kms:GenerateDataKey" and e.role == "ExportRole"]
    assert kms
    assert kms[-1].resource == names.key_arn
    assert kms[-1].context["kms:ViaService"] == ("s3.sa-east-1.amazonaws.com",)
    assert kms[-1].decision is Decision.ALLOW
    with pytest.raises(ClientError) as refused:  # outside the exports/ prefix
        s3.put_object(Bucket=names.export_bucket, Key="elsewhere/x", Body=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_a_call_no_policy_allows_is_refused_in_the_json_shape(deployed, emulator):
    glue = as_role(emulator, "OnExportEventRole", "glue")
    with pytest.raises(ClientError) as refused:
        glue.get_tables(DatabaseName=deployed.names().catalog_database)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "needed in the identity policy of OnExportEventRole" in refused.value.response["Error"]["Message"]


def test_an_allowed_but_undeclared_call_is_refused_so_the_declaration_cannot_rot(deployed, emulator):
    names = deployed.names()
    boto3.client("glue").create_table(DatabaseName=names.catalog_database, TableInput={"Name": "t1"})
    glue = as_role(emulator, "GlueJobRole", "glue")
    with pytest.raises(ClientError) as refused:
        glue.get_table(DatabaseName=names.catalog_database, Name="t1")  # ManageSorCatalog allows it; no code does it
    assert "Declare it in ops/access.py" in refused.value.response["Error"]["Message"]


def test_sns_refusals_use_the_sns_error_code(deployed, emulator):
    sns = as_role(emulator, "GlueJobRole", "sns")
    with pytest.raises(ClientError) as refused:
        sns.publish(TopicArn=deployed.names().alert_topic_arn, Message="x")
    assert refused.value.response["Error"]["Code"] == "AuthorizationError"
    allowed = as_role(emulator, "StartExportRole", "sns")
    assert allowed.publish(TopicArn=deployed.names().alert_topic_arn, Message="x")["MessageId"]
    via_sns = [e for e in emulator.enforcer.evaluated if e.role == "StartExportRole" and e.action.startswith("kms:")]
    assert {e.action for e in via_sns} == {"kms:GenerateDataKey", "kms:Decrypt"}


def test_the_admin_key_is_not_checked_and_bucket_policies_are_evaluated_whole(deployed, emulator):
    before = len(emulator.enforcer.evaluated)
    boto3.client("s3").list_buckets()
    assert len(emulator.enforcer.evaluated) == before
    policy, _ = emulator.enforcer.policies.resource_policy(f"arn:aws:s3:::{deployed.names().export_bucket}/k")
    assert [s.sid for s in policy] == ["DenyInsecureTransport"]  # left out of moto, evaluated here
