"""ops/iam.py on its own: every condition operator and key the template uses, absent keys, explicit deny, and
KMS key-policy delegation, each against the rule the IAM documentation states (cited in ops/iam.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ops.iam import AuthRequest, Decision, Principal, UnsupportedCondition, condition_holds, evaluate
from ops.stack import Statement, policy_statements

ACCOUNT = "123456789012"
ROLE = Principal(f"arn:aws:iam::{ACCOUNT}:role/app", ACCOUNT, name="AppRole")
BUCKET = "arn:aws:s3:::data"
KEY = f"arn:aws:kms:sa-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def stmt(effect: str = "Allow", action: Any = "s3:GetObject", resource: Any = f"{BUCKET}/*", **extra: Any) -> dict:
    return {"Effect": effect, "Action": action, "Resource": resource, **extra}


def policy(*statements: dict, owner: str = "AppRole") -> list[Statement]:
    return policy_statements(owner, {"Statement": list(statements)})


def decide(identity: list[Statement], action: str, resource: str, context: dict | None = None, **kw: Any):
    request = AuthRequest(action, resource, {k: tuple(v) for k, v in (context or {}).items()})
    return evaluate(kw.pop("principal", ROLE), identity, request, **kw)


# -- operators, one by one ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operator", "policy_value", "context_value", "expected"),
    [
        ("StringEquals", "s3.sa-east-1.amazonaws.com", "s3.sa-east-1.amazonaws.com", True),
        ("StringEquals", "s3.sa-east-1.amazonaws.com", "S3.sa-east-1.amazonaws.com", False),  # case-sensitive
        ("StringEquals", ["a", "b"], "b", True),  # values are ORed
        ("StringNotEquals", "a", "b", True),
        ("StringNotEquals", ["a", "b"], "b", False),  # negated values are ANDed: none may match
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("StringNotEqualsIgnoreCase", "ABC", "abc", False),
        ("StringLike", "_manifests/sor/*", "_manifests/sor/ingestion_date=2026-11-26/manifest.json", True),
        ("StringLike", "_manifests/sor/*", "sor/t/x", False),
        ("StringLike", "a?c", "abc", True),
        ("StringNotLike", "_manifests/*", "sor/x", True),
        ("StringNotLike", "_manifests/*", "_manifests/x", False),
        (
            "ArnLike",
            "arn:aws:logs:sa-east-1:123456789012:log-group:*",
            "arn:aws:logs:sa-east-1:123456789012:log-group:/x",
            True,
        ),
        ("ArnLike", "arn:aws:iam::*:role/app", f"arn:aws:iam::{ACCOUNT}:role/app", True),
        ("ArnLike", "arn:aws:iam::1*:role/app", "arn:aws:iam:xx:123:role/app", False),  # part by part: region differs
        ("ArnNotLike", "arn:aws:iam::*:role/other", f"arn:aws:iam::{ACCOUNT}:role/app", True),
        ("ArnEquals", f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/r", f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/r", True),
        (
            "ArnEquals",
            f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/r",
            f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/q",
            False,
        ),
        (
            "ArnNotEquals",
            f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/r",
            f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/q",
            True,
        ),
        ("Bool", "true", "true", True),
        ("Bool", "false", "true", False),
        ("Bool", True, "TRUE", True),  # YAML booleans arrive as Python bools
    ],
)
def test_each_operator_compares_as_documented(operator, policy_value, context_value, expected):
    assert condition_holds(operator, "k", policy_value, {"k": (context_value,)}) is expected


@pytest.mark.parametrize(
    ("operator", "expected"),
    [
        # A key absent from the request: positive operators are false, negated ones true ("Condition operators").
        ("StringEquals", False),
        ("StringLike", False),
        ("ArnLike", False),
        ("ArnEquals", False),
        ("Bool", False),
        ("StringNotEquals", True),
        ("StringNotLike", True),
        ("ArnNotLike", True),
        ("ArnNotEquals", True),
        # ...IfExists: true when the key is absent.
        ("StringEqualsIfExists", True),
        ("StringLikeIfExists", True),
        ("ArnLikeIfExists", True),
        ("BoolIfExists", True),
        # Set operators: ForAnyValue false, ForAllValues true on an absent key.
        ("ForAnyValue:StringEquals", False),
        ("ForAllValues:StringEquals", True),
    ],
)
def test_an_absent_key(operator, expected):
    assert condition_holds(operator, "s3:prefix", "x*", {"other": ("x",)}) is expected


def test_if_exists_still_compares_a_present_key():
    assert condition_holds("StringEqualsIfExists", "k", "a", {"k": ("b",)}) is False
    assert condition_holds("StringEqualsIfExists", "k", "a", {"k": ("a",)}) is True


def test_null_tests_presence():
    assert condition_holds("Null", "k", "true", {}) is True
    assert condition_holds("Null", "k", "true", {"k": ("v",)}) is False
    assert condition_holds("Null", "k", "false", {"k": ("v",)}) is True
    assert condition_holds("Null", "k", "false", {}) is False


def test_set_operators_on_multivalued_keys():
    assert condition_holds("ForAnyValue:StringEquals", "k", ["a"], {"k": ("a", "b")}) is True
    assert condition_holds("ForAllValues:StringEquals", "k", ["a"], {"k": ("a", "b")}) is False
    assert condition_holds("ForAllValues:StringLike", "k", ["a*", "b*"], {"k": ("ax", "by")}) is True


def test_condition_key_names_are_case_insensitive():
    assert condition_holds("StringEquals", "KMS:ViaService", "s3.x", {"kms:viaservice": ("s3.x",)}) is True


def test_an_unknown_operator_fails_loudly():
    with pytest.raises(UnsupportedCondition):
        condition_holds("NumericLessThan", "k", "1", {"k": ("0",)})


# -- the keys the template uses, through whole statements ----------------------------------------------------
def test_get_object_carries_no_s3_prefix_so_a_prefix_conditioned_list_bucket_does_not_apply():
    identity = policy(
        stmt(action="s3:ListBucket", resource=BUCKET, Condition={"StringLike": {"s3:prefix": "_manifests/sor/*"}})
    )
    assert decide(identity, "s3:ListBucket", BUCKET, {"s3:prefix": ["_manifests/sor/x"]}).allowed
    verdict = decide(identity, "s3:ListBucket", BUCKET)  # what S3 asks on a GetObject of a missing key
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.near_misses
    assert "s3:prefix" in verdict.explain()
    assert '"Action": "s3:ListBucket"' in verdict.needed
    assert '"Resource": "arn:aws:s3:::data"' in verdict.needed


@pytest.mark.parametrize(
    ("key", "value", "other"),
    [
        ("kms:ViaService", "s3.sa-east-1.amazonaws.com", "sns.sa-east-1.amazonaws.com"),
        ("kms:CallerAccount", ACCOUNT, "999999999999"),
        ("aws:SourceAccount", ACCOUNT, "999999999999"),
        ("cloudwatch:namespace", "aurora-sor", "Glue"),
        ("iam:PassedToService", "rds.amazonaws.com", "glue.amazonaws.com"),
        ("kms:EncryptionContext:aws:s3:arn", BUCKET, "arn:aws:s3:::other"),
    ],
)
def test_string_keys_allow_only_their_value_and_nothing_when_absent(key, value, other):
    identity = policy(stmt(action="x:Act", resource="*", Condition={"StringEquals": {key: value}}))
    assert decide(identity, "x:Act", "r", {key: [value]}).allowed
    assert not decide(identity, "x:Act", "r", {key: [other]}).allowed
    assert not decide(identity, "x:Act", "r").allowed


def test_arn_keys_source_arn_and_principal_arn():
    rule = f"arn:aws:events:sa-east-1:{ACCOUNT}:rule/glue-failed"
    identity = policy(stmt(action="x:Act", resource="*", Condition={"ArnEquals": {"aws:SourceArn": rule}}))
    assert decide(identity, "x:Act", "r", {"aws:SourceArn": [rule]}).allowed
    assert not decide(identity, "x:Act", "r").allowed
    # aws:PrincipalArn is on every request a role signs: the evaluator adds it.
    by_role = policy(stmt(action="x:Act", resource="*", Condition={"ArnLike": {"aws:PrincipalArn": ROLE.arn}}))
    assert decide(by_role, "x:Act", "r").allowed


def test_secure_transport_deny_applies_only_to_plain_http():
    bucket_policy = policy(
        stmt(
            "Deny", "s3:*", [BUCKET, f"{BUCKET}/*"], Principal="*", Condition={"Bool": {"aws:SecureTransport": "false"}}
        ),
        owner="DataBucketPolicy",
    )
    identity = policy(stmt())
    assert decide(
        identity, "s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": ["true"]}, resource_policy=bucket_policy
    ).allowed
    verdict = decide(
        identity, "s3:GetObject", f"{BUCKET}/k", {"aws:SecureTransport": ["false"]}, resource_policy=bucket_policy
    )
    assert verdict.decision is Decision.EXPLICIT_DENY
    assert verdict.deciding.owner == "DataBucketPolicy"


def test_grant_is_for_aws_resource_is_a_bool():
    identity = policy(
        stmt(action="kms:CreateGrant", resource=KEY, Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}})
    )
    assert decide(identity, "kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": ["true"]}).allowed
    assert not decide(identity, "kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": ["false"]}).allowed
    assert not decide(identity, "kms:CreateGrant", KEY).allowed


def test_encryption_context_keys_with_arn_like():
    condition = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:sa-east-1:{ACCOUNT}:log-group:*"}}
    identity = policy(stmt(action="kms:Encrypt", resource="*", Condition=condition))
    group = f"arn:aws:logs:sa-east-1:{ACCOUNT}:log-group:/aws/lambda/x"
    assert decide(identity, "kms:Encrypt", KEY, {"kms:EncryptionContext:aws:logs:arn": [group]}).allowed
    assert not decide(identity, "kms:Encrypt", KEY).allowed


# -- evaluation logic -----------------------------------------------------------------------------------------
def test_actions_compare_case_insensitively_resources_do_not():
    identity = policy(stmt(action="s3:getobject", resource=f"{BUCKET}/Sor/*"))
    assert decide(identity, "s3:GetObject", f"{BUCKET}/Sor/x").allowed
    assert not decide(identity, "s3:GetObject", f"{BUCKET}/sor/x").allowed


def test_explicit_deny_wins_over_any_allow():
    identity = policy(stmt(), stmt("Deny", resource=f"{BUCKET}/secret/*"))
    assert decide(identity, "s3:GetObject", f"{BUCKET}/open/x").allowed
    verdict = decide(identity, "s3:GetObject", f"{BUCKET}/secret/x")
    assert verdict.decision is Decision.EXPLICIT_DENY


def test_nothing_allows_is_an_implicit_deny_naming_the_needed_statement():
    verdict = decide(policy(stmt()), "s3:PutObject", f"{BUCKET}/x")
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.needed_where == "identity policy of AppRole"
    assert '"Action": "s3:PutObject"' in verdict.explain()


def test_same_account_resource_policy_naming_the_role_allows_alone():
    topic = f"arn:aws:sns:sa-east-1:{ACCOUNT}:alerts"
    topic_policy = policy(stmt(action="sns:Publish", resource=topic, Principal={"AWS": ROLE.arn}), owner="TopicPolicy")
    assert decide([], "sns:Publish", topic, resource_policy=topic_policy).allowed
    # naming the account only delegates to IAM, which grants nothing here
    delegating = policy(stmt(action="sns:Publish", resource=topic, Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:root"}))
    assert not decide([], "sns:Publish", topic, resource_policy=delegating).allowed


def test_a_service_principal_is_judged_by_the_resource_policy_only():
    events = Principal("events.amazonaws.com", ACCOUNT, service=True)
    key_policy = policy(
        stmt(action=["kms:GenerateDataKey", "kms:Decrypt"], resource="*", Principal={"Service": "events.amazonaws.com"},
             Condition={"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        owner="DataKey",
    )  # fmt: skip
    assert decide([], "kms:GenerateDataKey", KEY, {"aws:SourceAccount": [ACCOUNT]}, principal=events,
                  resource_policy=key_policy, key_policy=True).allowed  # fmt: skip
    # EventBridge's KMS request for an encrypted topic carries no aws:SourceAccount: the statement does not apply.
    verdict = decide([], "kms:GenerateDataKey", KEY, principal=events, resource_policy=key_policy, key_policy=True)
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.needed_where == "key policy"
    assert '"Service": "events.amazonaws.com"' in verdict.needed


# -- KMS: the key policy must allow, directly or by delegating to the account --------------------------------------
ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def test_kms_iam_alone_is_not_enough_without_a_key_policy_statement():
    identity = policy(stmt(action="kms:Decrypt", resource=KEY))
    verdict = decide(identity, "kms:Decrypt", KEY, resource_policy=[], key_policy=True)
    assert verdict.decision is Decision.IMPLICIT_DENY
    assert verdict.needed_where == "key policy"


def test_kms_key_policy_naming_the_account_delegates_to_iam():
    key_policy = policy(stmt(action="kms:*", resource="*", Principal=ROOT), owner="DataKey")
    assert not decide([], "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True).allowed
    identity = policy(stmt(action="kms:Decrypt", resource=KEY))
    assert decide(identity, "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True).allowed


def test_kms_key_policy_naming_the_role_grants_without_iam():
    key_policy = policy(stmt(action="kms:Decrypt", resource="*", Principal={"AWS": ROLE.arn}), owner="DataKey")
    assert decide([], "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True).allowed


def test_kms_delegation_with_a_principal_arn_condition_and_via_service_in_iam():
    key_policy = policy(
        stmt(action=["kms:Decrypt"], resource="*", Principal=ROOT,
             Condition={"ArnEquals": {"aws:PrincipalArn": [ROLE.arn]}}),
        owner="DataKey",
    )  # fmt: skip
    identity = policy(
        stmt(
            action="kms:Decrypt",
            resource=KEY,
            Condition={"StringEquals": {"kms:ViaService": "s3.sa-east-1.amazonaws.com"}},
        )
    )
    via_s3 = {"kms:ViaService": ["s3.sa-east-1.amazonaws.com"]}
    assert decide(identity, "kms:Decrypt", KEY, via_s3, resource_policy=key_policy, key_policy=True).allowed
    direct = decide(identity, "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True)
    assert direct.decision is Decision.IMPLICIT_DENY
    assert direct.needed_where == "identity policy of AppRole"
    other = Principal(f"arn:aws:iam::{ACCOUNT}:role/other", ACCOUNT)
    assert not decide(
        identity, "kms:Decrypt", KEY, via_s3, principal=other, resource_policy=key_policy, key_policy=True
    ).allowed


def test_kms_explicit_deny_in_the_key_policy_wins():
    key_policy = policy(
        stmt(action="kms:*", resource="*", Principal=ROOT),
        stmt("Deny", action="kms:Decrypt", resource="*", Principal="*"),
        owner="DataKey",
    )
    identity = policy(stmt(action="kms:*", resource=KEY))
    assert (
        decide(identity, "kms:Decrypt", KEY, resource_policy=key_policy, key_policy=True).decision
        is Decision.EXPLICIT_DENY
    )


def test_not_action_is_refused_rather_than_misread():
    from ops.stack import UnsupportedIntrinsic

    with pytest.raises(UnsupportedIntrinsic):
        policy({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"})
