"""The template against what the code asks of AWS: every declared call (ops/access.py) is evaluated with the
template's own policies (identity, key, bucket and topic policies) by ops/iam.py, the way IAM evaluates it."""

from __future__ import annotations

import copy
import datetime as dt
import os
from typing import Any

import pytest
from manifests import manifest_key

from ops.access import EXAMPLE_DAY, Call, Names, declared_calls, example_manifest_key, names_of, policies_of
from ops.iam import AuthRequest, Decision, Policies, Principal
from ops.stack import CLUSTER, REGION, Stack, load_raw, translate


def _template_stack(raw: dict[str, Any] | None = None) -> Stack:
    saved = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = REGION  # the translator reads the Region from the environment
    try:
        return Stack(translate(raw if raw is not None else load_raw()), {"ClusterIdentifier": CLUSTER})
    finally:
        if saved is None:
            os.environ.pop("AWS_DEFAULT_REGION")
        else:
            os.environ["AWS_DEFAULT_REGION"] = saved


STACK = _template_stack()
NAMES = names_of(STACK)
POLICIES = policies_of(STACK, NAMES)
CALLS = declared_calls(NAMES)


def _param(call: Call) -> Any:
    return pytest.param(call, id=f"{call.role}:{call.action}:{call.resource.rsplit(':', 1)[-1][-60:]}")


def denied(policies: Policies, calls: list[Call]) -> list[str]:
    """Every declared call the policies refuse, explained (what was refused and the statement needed)."""
    found = []
    for call in calls:
        verdict = policies.evaluate(call.role, AuthRequest(call.action, call.resource, call.context))
        if not verdict.allowed:
            found.append(f"[{call.why}]\n{verdict.explain()}")
    return found


@pytest.mark.parametrize("call", [_param(c) for c in CALLS])
def test_every_declared_call_is_allowed_by_the_template(call: Call) -> None:
    problems = denied(POLICIES, [call])
    assert not problems, "\n\n".join(problems)


def test_every_role_of_the_code_declares_its_calls() -> None:
    assert {c.role for c in CALLS} == {"StartExportRole", "OnExportEventRole", "GlueJobRole", "ExportRole"}
    assert all(c.role in NAMES.role_arns for c in CALLS)


def _without_statement(role: str, sid: str) -> Stack:
    raw = copy.deepcopy(load_raw())
    for policy in raw["Resources"][role]["Properties"]["Policies"]:
        statements = policy["PolicyDocument"]["Statement"]
        kept = [s for s in statements if s.get("Sid") != sid]
        assert len(kept) == len(statements) - 1, f"{role} has no statement {sid}"
        policy["PolicyDocument"]["Statement"] = kept
    return _template_stack(raw)


@pytest.mark.parametrize(
    ("role", "sid", "needed"),
    [
        ("OnExportEventRole", "ReadRunManifests", '"Action": "s3:GetObject"'),
        ("GlueJobRole", "WriteTheSor", '"Action": "s3:PutObject"'),
        ("StartExportRole", "PassTheExportRole", '"Action": "iam:PassRole"'),
    ],
)
def test_a_removed_permission_fails_naming_the_statement_needed(role: str, sid: str, needed: str) -> None:
    stack = _without_statement(role, sid)
    names = names_of(stack)
    problems = denied(policies_of(stack, names), declared_calls(names))
    assert problems, f"removing {role}.{sid} went unnoticed"
    message = "\n\n".join(problems)
    assert f"needed in the identity policy of {role}" in message
    assert needed in message


# -- the defects of the current template, reproduced on the evaluator ------------------------------------------
def test_a_get_object_request_does_not_carry_s3_prefix_so_the_manifest_reader_lacks_list_bucket() -> None:
    """S3 answers a GetObject of a missing key with 404 only if the caller has s3:ListBucket on the bucket for the
    GetObject request itself (S3 API reference, GetObject "Permissions"); that request has no s3:prefix, so the
    role's prefix-conditioned ListBucket does not apply and the missing manifest reads as 403 AccessDenied."""
    bucket = f"arn:aws:s3:::{NAMES.sor_bucket}"
    verdict = POLICIES.evaluate(
        "OnExportEventRole", AuthRequest("s3:ListBucket", bucket, {"aws:SecureTransport": ("true",)})
    )
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert "OnExportEventRole/ListRunManifests" in verdict.explain()  # the statement whose condition failed
    assert "s3:prefix" in verdict.explain()
    # The reader that lists the manifest's exact key first is allowed.
    listed = POLICIES.evaluate(
        "OnExportEventRole",
        AuthRequest(
            "s3:ListBucket", bucket, {"s3:prefix": (example_manifest_key(NAMES),), "aws:SecureTransport": ("true",)}
        ),
    )
    assert listed.allowed


EVENTS = Principal("events.amazonaws.com", NAMES.account, name="EventBridge (GlueJobFailedRule)", service=True)


def test_eventbridge_no_longer_publishes_to_the_topic_or_uses_its_key() -> None:
    """Glue failures reach the topic through on_export_event (the incident store) since the rule targets the function:
    EventBridge keeps no statement on the key or the topic (least privilege)."""
    context = {
        "kms:ViaService": (f"sns.{NAMES.region}.amazonaws.com",),
        "kms:CallerAccount": (NAMES.account,),
        "kms:EncryptionContext:aws:sns:topicArn": (NAMES.alert_topic_arn,),
    }
    for action in ("kms:GenerateDataKey", "kms:Decrypt"):
        verdict = POLICIES.evaluate("", AuthRequest(action, NAMES.key_arn, context), principal=EVENTS)
        assert verdict.decision is not Decision.ALLOW, action
    publish = AuthRequest("sns:Publish", NAMES.alert_topic_arn, {"aws:SecureTransport": ("true",)})
    assert POLICIES.evaluate("", publish, principal=EVENTS).decision is not Decision.ALLOW


def test_each_lambda_role_reaches_the_incident_store_and_only_reconcile_scans_it() -> None:
    incident_calls = [c for c in CALLS if c.action.startswith("dynamodb:")]
    assert {(c.role, c.action) for c in incident_calls} == {
        (role, f"dynamodb:{action}")
        for role in ("StartExportRole", "OnExportEventRole")
        for action in ("GetItem", "PutItem", "DeleteItem")
    } | {("OnExportEventRole", "dynamodb:Scan")}
    assert not denied(POLICIES, incident_calls)
    scan = AuthRequest("dynamodb:Scan", incident_calls[0].resource, {"aws:SecureTransport": ("true",)})
    assert POLICIES.evaluate("StartExportRole", scan).decision is not Decision.ALLOW
    elsewhere = AuthRequest("dynamodb:GetItem", incident_calls[0].resource + "-other", {})
    assert POLICIES.evaluate("OnExportEventRole", elsewhere).decision is not Decision.ALLOW


def test_the_glue_role_uses_the_key_only_through_s3() -> None:
    verdict = POLICIES.evaluate(
        "GlueJobRole", AuthRequest("kms:Decrypt", NAMES.key_arn, {"kms:CallerAccount": (NAMES.account,)})
    )
    assert verdict.decision is not Decision.ALLOW, "a direct kms:Decrypt by the Glue role is allowed"


def test_names_come_from_the_template() -> None:
    assert isinstance(NAMES, Names)
    env = STACK.props("OnExportEventFunction")["Environment"]["Variables"]
    assert (NAMES.sor_bucket, NAMES.glue_job_name, NAMES.key_arn) == (
        env["SOR_BUCKET"], env["GLUE_JOB_NAME"], env["EXPORT_KMS_KEY_ARN"],
    )  # fmt: skip


def test_glue_writes_its_own_logs_only_into_the_stacks_two_groups() -> None:
    """Glue 5 writes the run's log lines as the job's role into <prefix>/output and <prefix>/error: both are
    declared (so the verifier simulates them) and the template allows them, and nothing outside the prefix."""
    logs = [c for c in CALLS if c.action.startswith("logs:")]
    assert {c.resource.split(":log-group:")[1].split(":")[0] for c in logs} == {
        f"{NAMES.glue_log_prefix}/output",
        f"{NAMES.glue_log_prefix}/error",
    }
    assert not denied(POLICIES, logs)
    elsewhere = AuthRequest("logs:PutLogEvents", logs[0].resource.replace("/output", "/other"), {})
    assert POLICIES.evaluate("GlueJobRole", elsewhere).decision is not Decision.ALLOW


def test_the_manifest_key_iam_is_checked_with_is_the_one_the_lambdas_read() -> None:
    """access.py declares the manifest reads with its own example key; the Lambdas build theirs in manifests.py."""
    day = dt.date.fromisoformat(EXAMPLE_DAY)
    assert example_manifest_key(NAMES) == manifest_key(NAMES.catalog_database, day)
