"""Physical names the template sets must fit their service limits for every stack name CloudFormation accepts.

CloudFormation Rules have no length function, so a name built from the stack name could only be checked after a
failed deployment; the template must make an overflow impossible instead. Limits are the botocore models':
iam CreateRole RoleName (max 64), athena CreateWorkGroup Name ([a-zA-Z0-9._-]{1,128}), logs CreateLogGroup
logGroupName (max 512), kms CreateAlias AliasName (max 256), glue CreateSecurityConfiguration Name (max 255), and
cloudformation CreateStack StackName (at most 128 characters).
"""

from __future__ import annotations

from typing import Any

import pytest

from ops.stack import CLUSTER, MAX_STACK_NAME, Stack

# (resource type, property holding the name) -> maximum length
NAME_LIMITS: dict[tuple[str, str], int] = {
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::Athena::WorkGroup", "Name"): 128,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::Glue::SecurityConfiguration", "Name"): 255,
}
# Properties that name a physical resource; every one the template sets must have a limit above.
NAME_PROPERTIES = {"RoleName", "Name", "LogGroupName", "AliasName", "FunctionName", "TopicName", "QueueName"}
# Resources whose name properties are labels or refer to another resource instead of naming their own.
NOT_NAMING = {"AWS::Athena::NamedQuery", "AWS::Lambda::EventInvokeConfig", "AWS::Lambda::Permission"}

LONGEST = "a" + "b" * (MAX_STACK_NAME - 2) + "z"


@pytest.fixture(scope="module")
def long_stack(translated: dict[str, Any]) -> Stack:
    assert len(LONGEST) == MAX_STACK_NAME
    return Stack(translated, {"ClusterIdentifier": CLUSTER}, stack_name=LONGEST)


def test_every_name_the_template_sets_fits_its_limit_for_a_128_character_stack_name(long_stack: Stack) -> None:
    checked = 0
    for name, resource in long_stack.resources.items():
        type_ = resource["Type"]
        if type_ in NOT_NAMING:
            continue
        props = long_stack.props(name)
        for prop in NAME_PROPERTIES & set(props):
            limit = NAME_LIMITS.get((type_, prop))
            assert limit is not None, f"{name}.{prop} names a {type_} whose length limit this test does not know"
            value = props[prop]
            assert len(value) <= limit, f"{name}.{prop} is {len(value)} characters (limit {limit}): {value}"
            checked += 1
    assert checked >= 4


def test_role_names_do_not_depend_on_the_stack_name(stack: Stack, long_stack: Stack) -> None:
    for role in stack.of_type("AWS::IAM::Role"):
        if "RoleName" in stack.props(role):
            assert stack.ref(role) == long_stack.ref(role), role
            assert len(long_stack.ref(role)) <= 64


def test_key_policy_names_the_roles_the_stack_creates_whatever_the_stack_name(long_stack: Stack) -> None:
    key_policy = long_stack.props("DataKey")["KeyPolicy"]["Statement"]
    (statement,) = [s for s in key_policy if s["Sid"] == "StackRolesUseTheKey"]
    named = set(statement["Condition"]["ArnEquals"]["aws:PrincipalArn"])
    users = {
        long_stack.get_att(role, "Arn")
        for role in ("ExportRole", "StartExportRole", "OnExportEventRole", "GlueJobRole")
    }
    assert named == users


def test_glue_log_group_prefix_fits_the_glue_limit(long_stack: Stack) -> None:
    # "Logging for AWS Glue jobs": the custom prefix is at most 400 characters and matches [^:*]*.
    prefix = long_stack.props("SorJob")["DefaultArguments"]["--custom-logGroup-prefix"]
    assert len(prefix) <= 400
    assert ":" not in prefix
    assert "*" not in prefix
