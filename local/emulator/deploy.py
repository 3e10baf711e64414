"""Creates the stack of template.yaml in the embedded emulator, the way `sam deploy` would in an account.

The template is translated offline (aws-sam-translator, as `sam deploy` hands it to CloudFormation) and
evaluated by ops/stack.py; each resource the emulator can hold is then created with its resolved
properties. There is no second copy of the configuration: names, environment variables, job arguments,
schedules, rules and queries all come from the template, so the demo breaks when the template does.

Lambda functions are not created in the emulator (moto would need Docker to run them): the demo invokes their
handlers in-process with the environment the template gives them. Resource types without an emulator
counterpart are listed in `Deployment.not_emulated`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from local.emulator.enforcement import Enforcer
from local.emulator.job_runner import JOB
from ops.access import Names, declared_calls, names_of, policies_of
from ops.stack import Stack, load_raw, translate


@dataclass
class Deployment:
    stack: Stack
    created: dict[str, str] = field(default_factory=dict)  # logical id -> physical id
    not_emulated: dict[str, str] = field(default_factory=dict)  # logical id -> type

    def function_environment(self, logical_id: str) -> dict[str, str]:
        variables = self.stack.props(logical_id).get("Environment", {}).get("Variables", {})
        return {k: str(v) for k, v in variables.items()}

    def handler(self, logical_id: str) -> str:
        return str(self.stack.props(logical_id)["Handler"])

    def schedules_of(self, function: str) -> list[dict[str, Any]]:
        """The Scheduler schedules whose target is this function: expression, time zone and Input."""
        arn = self.stack.get_att(function, "Arn")
        schedules = [self.stack.props(name) for name in self.stack.of_type("AWS::Scheduler::Schedule")]
        return [props for props in schedules if props["Target"]["Arn"] == arn]

    def names(self) -> Names:
        """The physical names of this deployment, as ops/access.py declares calls on them."""
        return names_of(self.stack)

    def enforcer(self) -> Enforcer:
        """IAM enforcement with this deployment's policies (identity, key, bucket and topic policies, the
        TLS-only statements included) and one access key per role of the code; install it with
        `emulator.enforcer = deployment.enforcer()`."""
        names = self.names()
        enforcer = Enforcer(policies_of(self.stack, names), names, declared_calls(names))
        for role in names.role_arns:
            enforcer.register(role)
        return enforcer

    def rules_of(self, function: str) -> list[dict[str, Any]]:
        arn = self.stack.get_att(function, "Arn")
        rules = [self.stack.props(name) for name in self.stack.of_type("AWS::Events::Rule")]
        return [props for props in rules if any(t.get("Arn") == arn for t in props.get("Targets", []))]


class _DeployedStack(Stack):
    """The evaluator, with the physical ids the emulator really returned where they differ from made-up ones."""

    physical: dict[str, str]

    def ref(self, name: str) -> str:
        if name in getattr(self, "physical", {}):
            return self.physical[name]
        return super().ref(name)


_TRANSLATED: dict[str, dict[str, Any]] = {}


def _translated() -> dict[str, Any]:
    """The translated template, once per process per template text (translation costs about a second)."""
    raw = load_raw()
    key = json.dumps(raw, sort_keys=True, default=str)
    if key not in _TRANSLATED:
        _TRANSLATED[key] = translate(raw)
    return copy.deepcopy(_TRANSLATED[key])


def enforcer_for(parameters: dict[str, str], physical: dict[str, str]) -> Enforcer:
    """IAM enforcement for resources a test made itself under its own names: the template evaluated with
    `parameters`, `physical` naming what the test created (logical id -> physical id, e.g. the export bucket),
    and one access key per role. Nothing is created."""
    stack = _DeployedStack(_translated(), parameters)
    stack.physical = dict(physical)
    return Deployment(stack).enforcer()


# The bucket `sam deploy --resolve-s3` creates is named aws-sam-cli-managed-default-samclisourcebucket-<suffix>:
# this name matches the template's GlueScriptBucketPattern default, so the Glue role may read its script here.
SAM_ARTIFACTS_BUCKET = "aws-sam-cli-managed-default-samclisourcebucket-emulated"


def package_job_script(session: boto3.Session, bucket: str = SAM_ARTIFACTS_BUCKET) -> str:
    """What `sam package` does with the Glue job's local Command.ScriptLocation: uploads the file (the shipped script,
    glue/dist/sor_job.py) to the artifacts bucket under the MD5 of its content, and returns the s3:// URI the
    deployed job points at (docs/aws-facts.md "SAM packaging")."""
    body = JOB.read_bytes()
    key = hashlib.md5(body).hexdigest()  # noqa: S324 - a content name, as SAM's uploader names artifacts
    s3 = session.client("s3")
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        region = session.region_name or "us-east-1"
        location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **location)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def deploy(
    session: boto3.Session, parameters: dict[str, str], artifacts_bucket: str = SAM_ARTIFACTS_BUCKET
) -> Deployment:
    """Creates every emulated resource, the job's script packaged first into `artifacts_bucket` as `sam deploy` does."""
    template = _translated()
    script_location = package_job_script(session, artifacts_bucket)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Glue::Job":  # the template sam package deploys names the uploaded copy
            resource["Properties"]["Command"]["ScriptLocation"] = script_location
    stack = _DeployedStack(template, parameters)
    stack.physical = {}
    deployment = Deployment(stack)
    creators: dict[str, Callable[[Any, str, dict[str, Any]], str | None]] = {
        "AWS::KMS::Key": _kms_key,
        "AWS::KMS::Alias": _kms_alias,
        "AWS::S3::Bucket": _bucket,
        "AWS::S3::BucketPolicy": _bucket_policy,
        "AWS::SQS::Queue": _queue,
        "AWS::SNS::Topic": _topic,
        "AWS::IAM::Role": _role,
        "AWS::Logs::LogGroup": _log_group,
        "AWS::Glue::Database": _glue_database,
        "AWS::Glue::Table": _glue_table,
        "AWS::Glue::Job": _glue_job,
        "AWS::Athena::WorkGroup": _workgroup,
        "AWS::Athena::NamedQuery": _named_query,
        "AWS::Scheduler::Schedule": _schedule,
        "AWS::Events::Rule": _rule,
        "AWS::CloudWatch::Alarm": _alarm,
        "AWS::CloudWatch::Dashboard": _dashboard,
        "AWS::DynamoDB::Table": _dynamodb_table,
    }
    # Order matters only where the emulator picks the id (key ids, queue URLs) that others refer to.
    order = list(creators)
    resources = sorted(
        stack.resources.items(), key=lambda item: order.index(item[1]["Type"]) if item[1]["Type"] in creators else 99
    )
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = _Coercing(session.client(service))
        return clients[service]

    for logical_id, resource in resources:
        create = creators.get(resource["Type"])
        if create is None:
            deployment.not_emulated[logical_id] = resource["Type"]
            continue
        props = stack.props(logical_id)
        physical = create(client, stack.ref(logical_id) if _has_ref(resource["Type"]) else logical_id, props)
        if physical is not None:
            stack.physical[logical_id] = physical
        deployment.created[logical_id] = physical or logical_id
    return deployment


class _Coercing:
    """A boto3 client that converts template strings to the numbers and booleans the API model asks for.

    CloudFormation does this conversion when it calls the service: template parameters are always strings.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self.meta = client.meta

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return method
        shape = self._client.meta.service_model.operation_model(operation).input_shape

        def call(**params: Any) -> Any:
            return method(**_coerce(shape, params))

        return call


def _coerce(shape: Any, value: Any) -> Any:
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: _coerce(shape.members.get(k), v) for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_coerce(shape.member, v) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _coerce(shape.value, v) for k, v in value.items()}
    if isinstance(value, str):
        if shape.type_name in {"integer", "long"}:
            return int(value)
        if shape.type_name in {"double", "float"}:
            return float(value)
        if shape.type_name == "boolean":
            return value.lower() == "true"
    return value


def _has_ref(type_: str) -> bool:
    # A rule's Ref is its (generated) name, which the FailedInvocations alarms use as their RuleName dimension.
    return type_ not in {"AWS::S3::BucketPolicy", "AWS::Athena::NamedQuery",
                         "AWS::CloudWatch::Alarm", "AWS::KMS::Alias", "AWS::Scheduler::Schedule"}  # fmt: skip


# -- one creator per resource type ------------------------------------------------------------------------
def _kms_key(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    key = client("kms").create_key(
        Description=props.get("Description", name), Policy=json.dumps(props["KeyPolicy"]), KeyUsage="ENCRYPT_DECRYPT"
    )["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        client("kms").enable_key_rotation(KeyId=key["KeyId"])
    return str(key["KeyId"])


def _kms_alias(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"].rsplit("/", 1)[-1])


def _bucket(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    s3 = client("s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name})
    if "BucketEncryption" in props:
        # CloudFormation spells it ServerSideEncryptionByDefault; the API, ApplyServerSideEncryptionByDefault.
        rules = [
            {
                ("ApplyServerSideEncryptionByDefault" if k == "ServerSideEncryptionByDefault" else k): v
                for k, v in r.items()
            }
            for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    return name


def _bucket_policy(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    # The emulator listens on plain HTTP (loopback), and moto enforces aws:SecureTransport: the TLS-only
    # statement would deny every request, so it is the one statement left out of moto. The IAM enforcement
    # (local/emulator/enforcement.py) evaluates the whole policy, with requests taken as TLS as real SDKs send them.
    document = dict(props["PolicyDocument"])
    document["Statement"] = [s for s in document["Statement"] if "aws:SecureTransport" not in json.dumps(s)]
    if document["Statement"]:
        client("s3").put_bucket_policy(Bucket=props["Bucket"], Policy=json.dumps(document))


def _queue(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    queue_name = name.rsplit("/", 1)[-1]
    return str(client("sqs").create_queue(QueueName=queue_name)["QueueUrl"])


def _topic(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if "KmsMasterKeyId" in props else {}
    return str(client("sns").create_topic(Name=name.rsplit(":", 1)[-1], Attributes=attributes)["TopicArn"])


def _role(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    iam = client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]))
    for policy in props.get("Policies", []):
        # SAM's generated policies may omit Version; CloudFormation accepts that, IAM's API (and moto) do not.
        document = {"Version": "2012-10-17", **policy["PolicyDocument"]}
        iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(document))
    return name


def _log_group(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    # The key is part of the group's contract (the verifier checks it), so the emulated group carries it too.
    extra = {"kmsKeyId": props["KmsKeyId"]} if "KmsKeyId" in props else {}
    client("logs").create_log_group(logGroupName=name, **extra)
    if "RetentionInDays" in props:
        client("logs").put_retention_policy(logGroupName=name, retentionInDays=props["RetentionInDays"])
    return name


def _glue_database(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    client("glue").create_database(DatabaseInput=props["DatabaseInput"])
    return name


def _glue_job(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    allowed = {"Description", "Role", "ExecutionProperty", "Command", "DefaultArguments", "MaxRetries", "Timeout",
               "GlueVersion", "WorkerType", "NumberOfWorkers", "ExecutionClass", "SecurityConfiguration"}  # fmt: skip
    client("glue").create_job(Name=name, **{k: v for k, v in props.items() if k in allowed})
    return name


def _workgroup(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    configuration = props.get("WorkGroupConfiguration", {})
    client("athena").create_work_group(Name=name, Configuration=configuration)
    return name


def _named_query(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    client("athena").create_named_query(
        Name=props["Name"], Database=props["Database"], QueryString=props["QueryString"],
        WorkGroup=props.get("WorkGroup", "primary"), Description=props.get("Description", ""),
    )  # fmt: skip


_SCHEDULE_TARGET_KEYS = {"Arn", "RoleArn", "Input", "RetryPolicy", "DeadLetterConfig"}


def _schedule(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    client("scheduler").create_schedule(
        Name=props.get("Name", name),
        ScheduleExpression=props["ScheduleExpression"],
        ScheduleExpressionTimezone=props.get("ScheduleExpressionTimezone", "UTC"),
        FlexibleTimeWindow=props["FlexibleTimeWindow"],
        Target={k: v for k, v in props["Target"].items() if k in _SCHEDULE_TARGET_KEYS},
        State=props.get("State", "ENABLED"),
    )  # fmt: skip


def _rule(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    events = client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(props["EventPattern"]), State=props.get("State", "ENABLED"))
    targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", [])]
    if targets:
        events.put_targets(Rule=name, Targets=targets)


def _alarm(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> None:
    allowed = {"AlarmDescription", "ActionsEnabled", "AlarmActions", "MetricName", "Namespace", "Statistic",
               "Dimensions", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator", "TreatMissingData",
               "DatapointsToAlarm"}  # fmt: skip
    arguments = {k: v for k, v in props.items() if k in allowed}
    client("cloudwatch").put_metric_alarm(AlarmName=props.get("AlarmName", name), **arguments)


def _dashboard(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    client("cloudwatch").put_dashboard(DashboardName=props["DashboardName"], DashboardBody=props["DashboardBody"])
    return str(props["DashboardName"])


def _dynamodb_table(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    dynamodb = client("dynamodb")
    sse = props.get("SSESpecification", {})
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=props["AttributeDefinitions"],
        KeySchema=props["KeySchema"],
        BillingMode=props.get("BillingMode", "PROVISIONED"),
        SSESpecification={"Enabled": sse.get("SSEEnabled", False), **({"SSEType": sse["SSEType"]} if sse else {})},
    )
    if props.get("TimeToLiveSpecification", {}).get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=props["TimeToLiveSpecification"])
    return name


def _glue_table(client: Callable[[str], Any], name: str, props: dict[str, Any]) -> str:
    client("glue").create_table(DatabaseName=props["DatabaseName"], TableInput=props["TableInput"])
    return str(props["TableInput"]["Name"])
