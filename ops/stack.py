"""The SAM template as the tests see it: parsed, translated offline, and evaluated with made-up physical ids.

Translation is what `sam deploy` hands CloudFormation (aws-sam-translator, no AWS call). Evaluation resolves
Ref / Fn::GetAtt / Fn::Sub / Fn::If / Fn::Equals / Fn::Not the way CloudFormation would, with deterministic
fake names for the physical resources, so a test can compare concrete strings: "the env var EXPORT_BUCKET
is the bucket the export role may write to" becomes an equality, not a hope. Anything the evaluator does not
know raises, so a template change that outgrows it fails loudly instead of passing silently.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
REGION = "sa-east-1"
PARTITION = "aws"
STACK = "aurora-sor"
# The UUID part of AWS::StackId: arn:<partition>:cloudformation:<region>:<account>:stack/<stack name>/<uuid>
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html#cfn-pseudo-param-stackid).
STACK_UUID = "51af3dc0-da77-11e4-872e-1234567890ab"
# CloudFormation accepts stack names of up to 128 characters (CreateStack StackName); tests deploy one this long.
MAX_STACK_NAME = 128
CLUSTER = "mycluster"


def load_raw() -> dict[str, Any]:
    return yaml_parse(TEMPLATE.read_text())


class _NoManagedPolicies:
    """The template attaches no AWS managed policy by name, so the translator needs no IAM lookup."""

    def load(self) -> dict[str, str]:
        return {}


def translate(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What CloudFormation receives after `sam package`: local code paths replaced by S3 URIs, then transformed."""
    doc = copy.deepcopy(dict(raw))
    doc["Globals"]["Function"]["CodeUri"] = "s3://artifacts/functions.zip"
    for resource in doc["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and "CodeUri" in resource["Properties"]:
            resource["Properties"]["CodeUri"] = "s3://artifacts/functions.zip"
    return transform(doc, {}, _NoManagedPolicies())


def rule_matches(pattern: Mapping[str, Any], event: Mapping[str, Any]) -> bool:
    """EventBridge pattern matching by moto's own rule engine (the one its PutEvents uses): moto's server does
    not implement TestEventPattern, and the parser also rejects what EventBridge rejects (empty arrays,
    scalars instead of arrays)."""
    from moto.events.models import EventPattern, EventPatternParser

    raw = json.dumps(pattern)
    return bool(EventPattern(raw, EventPatternParser(raw).parse()).matches_event(event))


NO_VALUE = object()  # what {"Ref": "AWS::NoValue"} resolves to: dropped from the list or mapping that holds it


class UnsupportedIntrinsic(Exception):
    """The evaluator met something it does not model; extend it rather than guess."""


@dataclass
class Stack:
    """A translated template with parameter values, resolved on demand."""

    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    stack_name: str = STACK

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        values = {name: str(spec["Default"]) for name, spec in declared.items() if "Default" in spec}
        values.update(self.parameters)
        missing = set(declared) - set(values)
        if missing:
            raise ValueError(f"parameters without a value: {sorted(missing)}")
        self.values = values
        self.conditions = {name: self._truth(expr) for name, expr in self.template.get("Conditions", {}).items()}

    # -- resources -----------------------------------------------------------------------------
    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {
            name: resource
            for name, resource in self.template["Resources"].items()
            if "Condition" not in resource or self.conditions[resource["Condition"]]
        }

    def of_type(self, type_: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == type_}

    def props(self, logical_id: str) -> Any:
        """A resource's properties, fully resolved."""
        return self.resolve(self.resources[logical_id].get("Properties", {}))

    # -- physical ids (made up, deterministic) -----------------------------------------------------
    @property
    def stack_id(self) -> str:
        return f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/{STACK_UUID}"

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.values:
            return self.values[name]
        resource = self.resources.get(name)
        if resource is None:
            raise KeyError(f"Ref to {name!r}: no such parameter or (active) resource")
        type_, props = resource["Type"], resource.get("Properties", {})
        suffix = f"{self.stack_name}-{name.lower()}-0a1b2c"
        if type_ in ("AWS::S3::Bucket", "AWS::Glue::Job", "AWS::Lambda::Function", "AWS::Athena::WorkGroup"):
            explicit = props.get("Name") or props.get("BucketName") or props.get("FunctionName")
            return self.resolve(explicit) if explicit else suffix
        if type_ == "AWS::Glue::Database":
            return self.resolve(props["DatabaseInput"]["Name"])
        if type_ == "AWS::Glue::Table":
            return self.resolve(props["TableInput"]["Name"])
        if type_ == "AWS::Glue::SecurityConfiguration":
            return self.resolve(props["Name"])
        if type_ == "AWS::Logs::LogGroup":
            return self.resolve(props["LogGroupName"])
        if type_ == "AWS::IAM::Role":
            return self.resolve(props["RoleName"]) if "RoleName" in props else suffix
        if type_ == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{suffix}"
        if type_ == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{suffix}"
        if type_ == "AWS::KMS::Key":
            return "1234abcd-12ab-34cd-56ef-1234567890ab"
        if type_ == "AWS::Events::Rule":
            # A rule's Ref is its name; CloudFormation generates one and keeps it within the 64-character limit.
            return self.resolve(props["Name"]) if "Name" in props else suffix[:64]
        if type_ == "AWS::DynamoDB::Table":  # Ref: the (generated) table name
            return self.resolve(props["TableName"]) if "TableName" in props else suffix
        if type_ in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"):  # Ref: the (generated) name
            explicit = props.get("AlarmName") or props.get("DashboardName")
            return self.resolve(explicit) if explicit else suffix
        raise UnsupportedIntrinsic(f"Ref to a {type_} ({name})")

    def get_att(self, name: str, attribute: str) -> str:
        type_ = self.resources[name]["Type"]
        if type_ == "AWS::Events::Rule":  # a rule has no Ref-able name here: CloudFormation generates it
            rule = self.ref(name)
            return f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:rule/{rule}" if attribute == "Arn" else ""
        physical = self.ref(name)
        arns = {
            "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{physical}",
            "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{physical}",
            "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{physical}",
            "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{physical}",
            "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{physical}:*",
            "AWS::CloudWatch::Alarm": f"arn:{PARTITION}:cloudwatch:{REGION}:{ACCOUNT}:alarm:{physical}",
            # Service Authorization Reference, DynamoDB resource type "table".
            "AWS::DynamoDB::Table": f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{physical}",
        }
        if type_ == "AWS::SQS::Queue":
            queue = physical.rsplit("/", 1)[-1]
            if attribute == "QueueName":
                return queue
            if attribute == "Arn":
                return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{queue}"
        if attribute == "Arn" and type_ in arns:
            return arns[type_]
        raise UnsupportedIntrinsic(f"Fn::GetAtt {name}.{attribute} of a {type_}")

    # -- intrinsic functions -------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in (self.resolve(item) for item in node) if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref" and arg == "AWS::NoValue":
                return NO_VALUE
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                name, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
                return self.get_att(name, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Select":
                index, values = arg
                return self.resolve(values)[int(self.resolve(index))]
            if key == "Fn::Split":
                delimiter, source = arg
                return str(self.resolve(source)).split(delimiter)
            if key == "Fn::Join":
                delimiter, values = arg
                return delimiter.join(str(v) for v in self.resolve(values))
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.conditions[condition] else when_false)
            if key.startswith("Fn::") or key == "Condition":
                raise UnsupportedIntrinsic(key)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def rule_failures(self) -> list[str]:
        """The AssertDescription of every template rule whose assertion fails for these parameter values, as
        CloudFormation refuses the stack before creating anything
        (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html)."""
        failures = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self._truth(rule["RuleCondition"]):
                continue
            failures += [
                f"{name}: {a['AssertDescription']}" for a in rule["Assertions"] if not self._truth(a["Assert"])
            ]
        return failures

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {name: self.resolve(value) for name, value in variables.items()}

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}]+)\}", value, text)

    def _truth(self, expr: Any) -> bool:
        ((key, arg),) = expr.items()
        if key == "Fn::Equals":
            left, right = (self.resolve(side) for side in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(item) for item in arg)
        if key == "Fn::Or":
            return any(self._truth(item) for item in arg)
        if key == "Condition":
            return self._truth(self.template["Conditions"][arg])
        raise UnsupportedIntrinsic(f"condition {key}")


# -- IAM helpers -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Statement:
    owner: str  # logical id of the role / policy / resource policy
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any]
    principal: Any
    sid: str = ""

    def describe(self) -> str:
        name = f"{self.owner}/{self.sid}" if self.sid else self.owner
        return f"{name}: {self.effect} {list(self.actions)} on {list(self.resources)}"


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, list) else (value,)


def _statements(owner: str, document: Mapping[str, Any]) -> Iterator[Statement]:
    raw_statements = document["Statement"]
    for raw in raw_statements if isinstance(raw_statements, list) else [raw_statements]:
        unsupported = {"NotAction", "NotResource", "NotPrincipal"} & set(raw)
        if unsupported:  # silently reading them as "no action" would turn a Deny into nothing
            raise UnsupportedIntrinsic(f"{owner}: {sorted(unsupported)} in a policy statement")
        yield Statement(
            owner=owner,
            effect=raw["Effect"],
            actions=_as_tuple(raw.get("Action")),
            resources=_as_tuple(raw.get("Resource")),
            condition=raw.get("Condition", {}),
            principal=raw.get("Principal"),
            sid=raw.get("Sid", ""),
        )


def policy_statements(owner: str, document: Mapping[str, Any]) -> list[Statement]:
    """The statements of one policy document (identity, bucket, key or topic policy)."""
    return list(_statements(owner, document))


def identity_statements(stack: Stack) -> list[Statement]:
    """Every statement of every identity policy (inline role policies, IAM policies, managed policies)."""
    found: list[Statement] = []
    for name, resource in stack.resources.items():
        props = stack.props(name)
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found.extend(_statements(name, policy["PolicyDocument"]))
            if props.get("ManagedPolicyArns"):
                raise AssertionError(f"{name} attaches managed policies, which these tests cannot inspect")
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found.extend(_statements(name, props["PolicyDocument"]))
    return found


def role_statements(stack: Stack, role: str) -> list[Statement]:
    return [s for s in identity_statements(stack) if s.owner == role]


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's `*` / `?` matching (action names compare case-insensitively, resources do not)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.IGNORECASE if ignore_case else 0) is not None


def allows(statements: list[Statement], action: str, resource: str) -> bool:
    """Whether some Allow statement covers the action on the resource (conditions are not evaluated)."""
    return any(
        s.effect == "Allow"
        and any(wildcard_match(a, action, ignore_case=True) for a in s.actions)
        and any(wildcard_match(r, resource) for r in s.resources)
        for s in statements
    )


def dumps(value: Any) -> str:
    return json.dumps(value, indent=1, sort_keys=True, default=str)
