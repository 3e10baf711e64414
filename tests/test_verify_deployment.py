"""The deployment verifier against the emulated stack: green as deployed, red with the right message when a
permission is removed, the backup window is late, or a function carries a layer.

moto serves what it implements (RDS, Glue, Logs, Scheduler, KMS, SNS, CloudWatch). Three APIs it cannot answer
here are recorded responses, each validated against the botocore model's input and output shapes so they cannot
drift from the real API:
- CloudFormation DescribeStacks / ListStackResources: local/emulator/deploy.py does not go through CloudFormation; the
  responses are built from what it created;
- Lambda GetFunctionConfiguration: the functions run in-process, not in moto; built from the template's properties;
- IAM SimulatePrincipalPolicy: not implemented by moto; answered by the project's one evaluator (ops/iam.py)
  over the inline policies moto holds for the role, identity policies only as the real API does for a role, and
  shaped as the real response (per-resource results, pagination by Marker).

The verifier runs with its default list of calls (local/access.declared_calls, the list the emulator's IAM
enforcement refuses undeclared requests by), so green here means every call the code makes is allowed.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from botocore.validate import ParamValidator

from local.build import job_bundle
from local.emulator.deploy import Deployment, deploy
from local.emulator.job_runner import JOB
from ops.access import Call, Names, declared_calls
from ops.checks import (
    CheckResult,
    Verdict,
    backup_leads,
    check_backup_window,
    check_cluster,
    check_glue_job,
    check_incident_store,
    check_job_script,
    check_latest_tables,
    check_layers,
    check_log_routing,
    schedule_times,
    script_version,
)
from ops.iam import AuthRequest, Decision, Principal, evaluate
from ops.stack import Statement, UnsupportedIntrinsic, policy_statements
from ops.verify_deployment import (
    check_permissions,
    context_entries,
    decisions,
    plan_simulations,
    render,
    shipped_script_version,
    verify,
)

REGION = "sa-east-1"
ACCOUNT = "123456789012"
CLUSTER = "demo-shop"
STACK = "aurora-sor"
STACK_UUID = "0a1b2c3d-0000-4000-8000-000000000000"
ON_TIME_WINDOW = "04:00-04:30"  # the schedule is 03:00 America/Sao_Paulo = 06:00 UTC
POWERTOOLS = f"arn:aws:lambda:{REGION}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
_MODELS = botocore.session.get_session()


# -- recorded responses, checked against the botocore models ------------------------------------------------------
class Recorded:
    """A stand-in client: each operation is a function of its parameters; both sides are validated."""

    def __init__(self, service: str, answers: Mapping[str, Callable[..., dict[str, Any]]]) -> None:
        self._model = _MODELS.get_service_model(service)
        self._answers = {xform_name(name): name for name in self._model.operation_names}
        self._handlers = answers
        self.requests: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        operation = self._model.operation_model(self._answers[method])
        handler = self._handlers[operation.name]

        def call(**params: Any) -> dict[str, Any]:
            _validate(params, operation.input_shape, f"{operation.name} request")
            self.requests.append((operation.name, params))
            response = handler(**params)
            _validate(response, operation.output_shape, f"{operation.name} response")
            return response

        return call


def _validate(value: Mapping[str, Any], shape: Any, what: str) -> None:
    report = ParamValidator().validate(value, shape)
    assert not report.has_errors(), f"{what} does not match the botocore model: {report.generate_report()}"


def _stack_responses(deployment: Deployment) -> Recorded:
    stack = deployment.stack
    outputs = [
        {"OutputKey": key, "OutputValue": str(stack.resolve(spec["Value"]))}
        for key, spec in stack.template.get("Outputs", {}).items()
    ]
    created = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    summaries = [
        {
            "LogicalResourceId": logical,
            "PhysicalResourceId": deployment.created.get(logical) or _made_up_id(deployment, logical),
            "ResourceType": resource["Type"],
            "LastUpdatedTimestamp": created,
            "ResourceStatus": "CREATE_COMPLETE",
        }
        for logical, resource in stack.resources.items()
    ]
    page = 20  # small pages, so the verifier's NextToken handling is exercised

    def describe_stacks(StackName: str) -> dict[str, Any]:
        return {
            "Stacks": [
                {
                    "StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{StackName}/{STACK_UUID}",
                    "StackName": StackName,
                    "CreationTime": created,
                    "StackStatus": "CREATE_COMPLETE",
                    "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(stack.values.items())],
                    "Outputs": outputs,
                }
            ]
        }

    def list_stack_resources(StackName: str, NextToken: str = "0") -> dict[str, Any]:
        start = int(NextToken)
        response: dict[str, Any] = {"StackResourceSummaries": summaries[start : start + page]}
        if start + page < len(summaries):
            response["NextToken"] = str(start + page)
        return response

    return Recorded("cloudformation", {"DescribeStacks": describe_stacks, "ListStackResources": list_stack_resources})


def _made_up_id(deployment: Deployment, logical: str) -> str:
    """What the evaluator names a resource the emulator did not create (policies have no name of their own)."""
    try:
        return deployment.stack.ref(logical)
    except UnsupportedIntrinsic:
        return f"{STACK}-{logical}-0a1b2c"


def _lambda_responses(deployment: Deployment, layers: Mapping[str, list[str]]) -> Recorded:
    stack = deployment.stack
    configurations = {}
    for logical in stack.of_type("AWS::Lambda::Function"):
        props = stack.props(logical)
        name = stack.ref(logical)
        configurations[name] = {
            "FunctionName": name,
            "FunctionArn": stack.get_att(logical, "Arn"),
            "Runtime": props["Runtime"],
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Environment": {"Variables": {k: str(v) for k, v in props["Environment"]["Variables"].items()}},
            "Layers": [{"Arn": arn, "CodeSize": 1024} for arn in layers.get(logical, props.get("Layers", []))],
        }

    def get_function_configuration(FunctionName: str) -> dict[str, Any]:
        return configurations[FunctionName]

    return Recorded("lambda", {"GetFunctionConfiguration": get_function_configuration})


# -- SimulatePrincipalPolicy over ops/iam.py --------------------------------------------------------------------
_DECISIONS = {Decision.ALLOW: "allowed", Decision.IMPLICIT_DENY: "implicitDeny", Decision.EXPLICIT_DENY: "explicitDeny"}


def _iam_simulator(iam: Any, organization: Sequence[Statement] = ()) -> Recorded:
    """SimulatePrincipalPolicy answered by the project's evaluator (ops/iam.py) over the inline policies moto
    holds for the role, so a statement a test removes from the deployed role is gone from the simulation too.

    Identity policies only, as the real API does for a role (docs/aws-facts.md "IAM: SimulatePrincipalPolicy":
    "Simulation of resource-based policies isn't supported for IAM roles"). MissingContextValues: the condition
    keys of the role's statements for that action and resource that the request did not supply.

    `organization`: statements of an organisation policy (an SCP) over the account, evaluated, as AWS evaluates an
    SCP, on the context the request supplies only; a request it denies says AllowedByOrganizations false."""

    def identity(role_arn: str) -> list[Statement]:
        role = role_arn.rsplit("/", 1)[-1]
        found: list[Statement] = []
        for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
            found += policy_statements(policy, json.loads(document) if isinstance(document, str) else document)
        return found

    def decide(principal: Principal, statements: list[Statement], request: AuthRequest) -> dict[str, Any]:
        verdict = evaluate(principal, statements, request)
        deciding = [verdict.deciding] if verdict.deciding is not None else []
        asked = {key for s in [*deciding, *verdict.near_misses] for block in s.condition.values() for key in block}
        supplied = {key.lower() for key in request.context}
        return {
            "decision": _DECISIONS[verdict.decision],
            "matched": [{"SourcePolicyId": s.owner, "SourcePolicyType": "role"} for s in deciding],
            "missing": sorted(k for k in asked if k.lower() not in supplied),
        }

    def simulate(
        PolicySourceArn: str,
        ActionNames: list[str],
        ContextEntries: list[dict[str, Any]],
        ResourceArns: list[str] | None = None,
        Marker: str = "0",
    ) -> dict[str, Any]:
        resources = ResourceArns or ["*"]  # the API's default
        statements = identity(PolicySourceArn)
        principal = Principal(PolicySourceArn, PolicySourceArn.split(":")[4], name=PolicySourceArn.rsplit("/", 1)[-1])
        context = {e["ContextKeyName"]: tuple(str(v) for v in e["ContextKeyValues"]) for e in ContextEntries}
        results = []
        for action in ActionNames:
            per_resource = [(r, decide(principal, statements, AuthRequest(action, r, context))) for r in resources]
            blocked = [r for r in resources if organization and _scp_denies(organization, action, r, context)]
            for r, d in per_resource:
                if r in blocked:
                    d.update(decision="explicitDeny", matched=[], missing=[])
            worst = next((d for _, d in per_resource if d["decision"] != "allowed"), per_resource[0][1])
            result: dict[str, Any] = {
                "EvalActionName": action,
                "EvalResourceName": "*",
                "EvalDecision": worst["decision"],
                "MatchedStatements": worst["matched"],
                "MissingContextValues": worst["missing"] if resources == ["*"] else [],
            }
            if organization:
                result["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": not blocked}
            if resources != ["*"]:
                result["ResourceSpecificResults"] = [
                    {
                        "EvalResourceName": r,
                        "EvalResourceDecision": d["decision"],
                        "MatchedStatements": d["matched"],
                        "MissingContextValues": d["missing"],
                    }
                    for r, d in per_resource
                ]
            results.append(result)
        start, page = int(Marker), 2  # two results a page: the verifier must follow Marker
        response: dict[str, Any] = {"EvaluationResults": results[start : start + page], "IsTruncated": False}
        if start + page < len(results):
            response.update(IsTruncated=True, Marker=str(start + page))
        return response

    return Recorded("iam", {"SimulatePrincipalPolicy": simulate})


def _scp_denies(organization: Sequence[Statement], action: str, resource: str, context: Mapping[str, Any]) -> bool:
    """An SCP allows nothing by itself: only its Deny statements can stop a request the role's policies allow."""
    anyone = Principal(f"arn:aws:iam::{ACCOUNT}:role/any", ACCOUNT, name="any")
    allow_all = policy_statements("all", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    verdict = evaluate(anyone, [*organization, *allow_all], AuthRequest(action, resource, dict(context)))
    return verdict.decision is Decision.EXPLICIT_DENY


# -- the emulated deployment --------------------------------------------------------------------------------------
class Harness:
    def __init__(self, session: boto3.Session, deployment: Deployment) -> None:
        self.session = session
        self.deployment = deployment
        self.layers: dict[str, list[str]] = {}
        self.organization: list[Statement] = []  # an SCP over the account, as the simulator applies it

    def clients(self, service: str) -> Any:
        if service == "cloudformation":
            return _stack_responses(self.deployment)
        if service == "lambda":
            return _lambda_responses(self.deployment, self.layers)
        if service == "iam":
            return _iam_simulator(self.session.client("iam"), self.organization)
        return self.session.client(service)

    def run(self, **kwargs: Any) -> list[CheckResult]:
        return verify(self.clients, STACK, dt.datetime.now(dt.UTC), **kwargs)  # calls_for: local/access.declared_calls


@pytest.fixture
def harness(aws: boto3.Session) -> Harness:
    deployment = deploy(aws, {"ClusterIdentifier": CLUSTER})
    aws.client("rds").create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        DatabaseName="shop",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-secret-test-only",
        BackupRetentionPeriod=7,
        PreferredBackupWindow=ON_TIME_WINDOW,
    )
    return Harness(aws, deployment)


def failures(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.verdict is Verdict.FAIL]


def test_green_against_the_emulated_stack(harness: Harness, emulator: Any) -> None:
    emulator.clear()  # forget the deployment's own requests
    results = harness.run()
    assert failures(results) == [], render(results)
    checks = {r.check for r in results}
    for expected in (
        "stack",
        "cluster",
        "backup retention",
        "backup window",
        "newest automated snapshot",
        "glue version",
        "glue job script",
        "latest tables",
        "key policy: stack roles",
        "SOR bucket policy",
        "glue log routing",
        "incident store",
        "test alert",
        "permissions StartExportRole",
        "permissions OnExportEventRole",
        "permissions GlueJobRole",
        "permissions ExportRole",
        "layers StartExportFunction",
        "layers OnExportEventFunction",
    ):
        assert expected in checks, render(results)
    assert any(r.check.startswith("schedule ") for r in results)
    assert any(r.check.startswith("rule ") for r in results)
    # Every call ops/access.py declares was simulated against its own role's policies.
    declared = declared_calls(harness.deployment.names())
    for role in ("StartExportRole", "OnExportEventRole", "GlueJobRole", "ExportRole"):
        (row,) = [r for r in results if r.check == f"permissions {role}"]
        assert row.detail.startswith(f"{sum(1 for c in declared if c.role == role)} declared calls allowed"), row
    # It changes nothing but one message: no export, no Glue run, no write outside SNS Publish.
    writes = [
        (c.service, c.operation)
        for c in emulator.calls()
        if c.method not in {"GET", "HEAD"} and not c.operation.startswith(("Describe", "Get", "List"))
    ]
    assert writes == [("sns", "Publish")], writes
    assert "as the Lambdas send theirs through their own roles" in render(results)


def test_a_removed_statement_fails_naming_the_call_and_the_role(harness: Harness) -> None:
    iam = harness.session.client("iam")
    role = harness.deployment.created["OnExportEventRole"]
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != "ReadRunManifests"]
    iam.put_role_policy(RoleName=role, PolicyName=policy, PolicyDocument=json.dumps(document))

    failed = failures(harness.run(send_test_alert=False))

    assert [r.check for r in failed] == ["permissions OnExportEventRole"], render(failed)
    assert "implicitDeny: s3:GetObject on arn:aws:s3:::" in failed[0].detail
    assert "read the day's manifest" in failed[0].detail
    assert failed[0].next_step.startswith("add to OnExportEventRole in template.yaml: Allow s3:GetObject on")


def test_the_context_keys_reach_the_simulator(harness: Harness) -> None:
    """The manifest lookup's ListBucket is allowed only for the s3:prefix the call carries: without it, the
    condition is false and the simulator names the key it asked for."""

    def without_prefix(names: Names) -> list[Call]:
        return [
            replace(c, context={k: v for k, v in c.context.items() if k != "s3:prefix"})
            if (c.role, c.action) == ("OnExportEventRole", "s3:ListBucket")
            else c
            for c in declared_calls(names)
        ]

    results = verify(harness.clients, STACK, dt.datetime.now(dt.UTC), calls_for=without_prefix, send_test_alert=False)
    (failed,) = failures(results)
    assert failed.check == "permissions OnExportEventRole", render(results)
    assert "implicitDeny: s3:ListBucket" in failed.detail
    assert "the policy asks for s3:prefix" in failed.detail


def test_a_late_backup_window_fails(harness: Harness) -> None:
    harness.session.client("rds").modify_db_cluster(
        DBClusterIdentifier=CLUSTER, PreferredBackupWindow="06:00-06:30", ApplyImmediately=True
    )
    failed = failures(harness.run(send_test_alert=False))
    assert [r.check for r in failed] == ["backup window"], render(failed)
    assert "06:00-06:30 UTC ends 0h30 after the schedule cron(0 3 * * ? *) America/Sao_Paulo" in failed[0].detail
    assert "--preferred-backup-window" in failed[0].next_step


def test_a_powertools_layer_fails(harness: Harness) -> None:
    harness.layers["StartExportFunction"] = [POWERTOOLS]
    failed = failures(harness.run(send_test_alert=False))
    assert [r.check for r in failed] == ["layers StartExportFunction"], render(failed)
    assert "carries a Powertools layer" in failed[0].detail
    assert "bundles the pinned aws-lambda-powertools" in failed[0].next_step


def test_failed_invocations_of_a_rule_fail(harness: Harness) -> None:
    rule = "GlueJobFailedRule"  # the emulator names rules after their logical id
    harness.session.client("cloudwatch").put_metric_data(
        Namespace="AWS/Events",
        MetricData=[
            {
                "MetricName": "FailedInvocations",
                "Dimensions": [{"Name": "RuleName", "Value": rule}],
                "Value": 2,
                "Unit": "Count",
                "Timestamp": dt.datetime.now(dt.UTC) - dt.timedelta(hours=3),
            }
        ],
    )
    failed = failures(harness.run(send_test_alert=False))
    assert [r.check for r in failed] == [f"rule {rule}"], render(failed)
    assert failed[0].detail.startswith("2 failed invocations")


def test_an_unreadable_service_is_a_row_not_a_crash(harness: Harness, emulator: Any) -> None:
    from local.emulator.aws_emulator import Fault

    emulator.add_fault(Fault(lambda r: r.service == "glue", status=400, code="AccessDeniedException", times=None))
    failed = failures(harness.run(send_test_alert=False))
    assert [r.check for r in failed] == ["glue job"], render(failed)
    assert "AccessDenied" in failed[0].detail


# -- pure checks --------------------------------------------------------------------------------------------------
def test_an_incident_store_without_kms_or_ttl_fails() -> None:
    table = {"TableName": "t", "TableStatus": "ACTIVE", "SSEDescription": {"Status": "ENABLED", "SSEType": "KMS"}}
    ttl = {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}}
    assert check_incident_store(table, ttl).verdict is Verdict.PASS
    owned = check_incident_store({"TableName": "t", "TableStatus": "ACTIVE"}, ttl)
    assert owned.verdict is Verdict.FAIL
    assert "encryption DEFAULT" in owned.detail
    no_ttl = check_incident_store(table, {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
    assert no_ttl.verdict is Verdict.FAIL
    assert "TTL DISABLED" in no_ttl.detail


def test_log_routing_needs_the_prefix_and_both_groups() -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k"
    old_style = {"DefaultArguments": {"--enable-continuous-cloudwatch-log": "true"}}
    assert "is not set" in check_log_routing(old_style, [], key).detail
    job = {"DefaultArguments": {"--custom-logGroup-prefix": "/p"}}
    only_output = [{"logGroupName": "/p/output", "kmsKeyId": key, "retentionInDays": 90}]
    assert check_log_routing(job, only_output, key).detail == "/p/error does not exist"
    both = [*only_output, {"logGroupName": "/p/error", "retentionInDays": 90}]
    assert check_log_routing(job, both, key).detail == "/p/error is not encrypted with the stack key"
    both[1]["kmsKeyId"] = key
    assert check_log_routing(job, both, key).verdict is Verdict.PASS


def test_cluster_and_job_rows_fail_with_what_was_seen_and_the_next_step() -> None:
    mysql_without_backups = {"DBClusters": [{"Engine": "mysql", "BackupRetentionPeriod": 0}]}
    engine, retention = check_cluster(mysql_without_backups, "shop")
    assert (engine.verdict, retention.verdict) == (Verdict.FAIL, Verdict.FAIL)
    assert engine.detail == "shop runs 'mysql'; the export path handles aurora-postgresql, aurora-mysql"
    assert "--backup-retention-period 1" in retention.next_step
    aurora = {"DBClusters": [{"Engine": "aurora-mysql", "EngineVersion": "8.0", "BackupRetentionPeriod": 1}]}
    assert [r.detail for r in check_cluster(aurora, "shop")] == [
        "shop: aurora-mysql 8.0",
        "1 day(s): automated snapshots are taken",
    ]
    assert check_cluster(aurora, "Shop")[0].next_step.endswith("ClusterIdentifier=shop")
    version, retries = check_glue_job({"Name": "j", "GlueVersion": "4.0", "MaxRetries": 1}, expected_max_retries=0)
    assert (version.verdict, retries.verdict) == (Verdict.FAIL, Verdict.FAIL)
    assert retries.detail == "MaxRetries 1, template.yaml says 0"
    current = check_glue_job({"Name": "j", "GlueVersion": "5.0", "MaxRetries": 0}, expected_max_retries=0)
    assert [r.verdict for r in current] == [Verdict.PASS, Verdict.PASS]


def test_layers_of_the_stack_itself_pass_others_fail() -> None:
    own = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:aurora-sor-deps:3"
    configurations = {"A": {"Layers": [{"Arn": own}]}, "B": {"Layers": [{"Arn": "arn:aws:lambda:x:1:layer:other:1"}]}}
    results = check_layers(configurations, [own])
    assert [r.verdict for r in results] == [Verdict.PASS, Verdict.FAIL]
    assert "an unknown layer" in results[1].detail


def test_backup_window_follows_daylight_saving_time() -> None:
    """03:00 in New York is 07:00 UTC in summer and 08:00 UTC in winter: a window ending 07:15 UTC is fine in
    winter only, and the verifier must find the summer nights."""
    cluster = {"DBClusterIdentifier": "c", "PreferredBackupWindow": "06:45-07:15"}
    schedule = {"ScheduleExpression": "cron(0 3 * * ? *)", "ScheduleExpressionTimezone": "America/New_York"}
    result = check_backup_window(cluster, schedule, "latest-automated-snapshot", dt.date(2026, 12, 1))
    assert result.verdict is Verdict.FAIL
    assert "ends 0h15 after" in result.detail
    leads = {
        lead for _, lead in backup_leads("06:45-07:15", "cron(0 3 * * ? *)", "America/New_York", dt.date(2026, 12, 1))
    }
    assert leads == {dt.timedelta(minutes=-15), dt.timedelta(minutes=45)}
    on_time = {**cluster, "PreferredBackupWindow": "05:00-05:30"}
    assert check_backup_window(on_time, schedule, "latest-automated-snapshot", dt.date(2026, 12, 1)).verdict is (
        Verdict.PASS
    )
    assert check_backup_window(cluster, schedule, "cluster", dt.date(2026, 12, 1)).verdict is Verdict.SKIPPED


def test_a_window_just_before_midnight_counts_for_a_schedule_just_after() -> None:
    leads = backup_leads("23:00-23:30", "cron(30 0 * * ? *)", "UTC", dt.date(2026, 1, 1))
    assert [lead for _, lead in leads] == [dt.timedelta(hours=1)]


def test_schedule_times_refuse_what_names_no_time_of_day() -> None:
    assert schedule_times("cron(0 3 * * ? *)") == [(3, 0)]
    assert schedule_times("cron(15 1,13 * * ? *)") == [(1, 15), (13, 15)]
    for expression in ("rate(1 day)", "cron(0 */2 * * ? *)", "cron(0 3 * * ?)"):
        with pytest.raises(ValueError, match="cron"):
            schedule_times(expression)


def test_context_entries_carry_the_documented_types() -> None:
    entries = context_entries(
        {
            "kms:GrantIsForAWSResource": ("true",),
            "s3:prefix": ("a/",),
            "aws:TagKeys": ("k",),
            "kms:ViaService": ("s3.x.amazonaws.com", "sns.x.amazonaws.com"),
        }
    )
    types = {e["ContextKeyName"]: e["ContextKeyType"] for e in entries}
    assert types == {
        "kms:GrantIsForAWSResource": "boolean",
        "s3:prefix": "string",
        "aws:TagKeys": "stringList",
        "kms:ViaService": "stringList",
    }
    enum = _MODELS.get_service_model("iam").shape_for("ContextKeyTypeEnum").enum
    assert set(types.values()) <= set(enum)


def test_simulations_group_per_role_and_context_and_keep_wildcards_apart() -> None:
    calls = [
        Call("R", "s3:GetObject", "arn:aws:s3:::b/k"),
        Call("R", "s3:PutObject", "arn:aws:s3:::b/k2"),
        Call("R", "rds:DescribeExportTasks", "*"),
        Call("R", "s3:ListBucket", "arn:aws:s3:::b", {"s3:prefix": ("p/",)}),
        Call("Other", "sns:Publish", "arn:aws:sns:x:1:t"),
    ]
    plans = plan_simulations(calls, {"R": "arn:aws:iam::1:role/r", "Other": "arn:aws:iam::1:role/o"})
    assert [(p.role, p.actions, p.resources) for p in plans] == [
        ("Other", ("sns:Publish",), ("arn:aws:sns:x:1:t",)),
        ("R", ("s3:GetObject", "s3:PutObject"), ("arn:aws:s3:::b/k", "arn:aws:s3:::b/k2")),
        ("R", ("rds:DescribeExportTasks",), ("*",)),
        ("R", ("s3:ListBucket",), ("arn:aws:s3:::b",)),
    ]
    operation = _MODELS.get_service_model("iam").operation_model("SimulatePrincipalPolicy")
    for plan in plans:
        _validate(plan.request(), operation.input_shape, "SimulatePrincipalPolicy request")


def test_a_denial_of_one_role_is_not_hidden_by_another_roles_allow_of_the_same_call() -> None:
    """Two roles read the same manifest key: each role's decision is its own, whichever simulation ran last."""
    key = "arn:aws:s3:::sor/_manifests/sor/ingestion_date=2026-11-26/manifest.json"
    calls = [Call("Reader", "s3:GetObject", key, why="read"), Call("Writer", "s3:GetObject", key, why="head")]
    arns = {"Reader": "arn:aws:iam::1:role/reader", "Writer": "arn:aws:iam::1:role/writer"}
    answers = {"Reader": "implicitDeny", "Writer": "allowed"}
    found = []
    for plan in plan_simulations(calls, arns):
        page = {
            "EvaluationResults": [
                {
                    "EvalActionName": "s3:GetObject",
                    "EvalResourceName": "*",
                    "EvalDecision": answers[plan.role],
                    "ResourceSpecificResults": [
                        {"EvalResourceName": key, "EvalResourceDecision": answers[plan.role]},
                    ],
                }
            ],
            "IsTruncated": False,
        }
        _validate(page, _MODELS.get_service_model("iam").operation_model("SimulatePrincipalPolicy").output_shape, "p")
        found += decisions(plan, [page])
    for order in (found, found[::-1]):
        results = check_permissions(calls, arns, order)
        assert [(r.check, r.verdict) for r in results] == [
            ("permissions Reader", Verdict.FAIL),
            ("permissions Writer", Verdict.PASS),
        ], render(results)


# -- the job's script --------------------------------------------------------------------------------------------------
def shipped_text() -> str:
    return JOB.read_text(encoding="utf-8")


def test_the_script_check_passes_this_checkouts_script_and_names_its_version() -> None:
    version = script_version(shipped_text())
    assert version == job_bundle.sources_digest(job_bundle.package_sources())  # the line the bundle writes
    result = check_job_script("s3://b/k", shipped_text(), shipped_script_version())
    assert (result.verdict, result.detail) == (Verdict.PASS, f"s3://b/k: job {version[:12]}, this checkout's")


@pytest.mark.parametrize(
    ("location", "text", "says"),
    [
        ("glue/dist/sor_job.py", None, "not an S3 object"),
        ("s3://b/k", None, "does not exist"),
        ("s3://b/k", "print('hello')\n", "not a script built by `make bundle`"),
        ("s3://b/k", 'PACKAGE_SHA256 = "' + "0" * 64 + '"\n', "is job 000000000000, this checkout's"),
    ],
)
def test_the_script_check_fails_a_missing_foreign_or_other_version_script(location, text, says) -> None:
    result = check_job_script(location, text, shipped_script_version())
    assert result.verdict is Verdict.FAIL
    assert says in result.detail
    assert result.next_step.startswith("run `sam deploy` from this checkout")


def test_a_script_removed_from_the_artifacts_bucket_is_a_failed_row(harness: Harness) -> None:
    job_name = harness.deployment.function_environment("OnExportEventFunction")["GLUE_JOB_NAME"]
    location = harness.session.client("glue").get_job(JobName=job_name)["Job"]["Command"]["ScriptLocation"]
    bucket, _, key = location.removeprefix("s3://").partition("/")
    harness.session.client("s3").delete_object(Bucket=bucket, Key=key)
    (row,) = [r for r in harness.run(send_test_alert=False) if r.check == "glue job script"]
    assert row.verdict is Verdict.FAIL
    assert row.detail == f"{location} does not exist: every run fails before the job starts"


def test_the_glue_roles_read_of_its_script_is_simulated(harness: Harness) -> None:
    results = harness.run(send_test_alert=False)
    (glue,) = [r for r in results if r.check == "permissions GlueJobRole"]
    assert glue.verdict is Verdict.PASS, glue.detail
    job_name = harness.deployment.function_environment("OnExportEventFunction")["GLUE_JOB_NAME"]
    location = harness.session.client("glue").get_job(JobName=job_name)["Job"]["Command"]["ScriptLocation"]
    names = harness.deployment.names()
    assert names.glue_script == location
    reads = [c for c in declared_calls(names) if c.role == "GlueJobRole" and c.why.startswith("Glue reads the job's")]
    assert [c.resource for c in reads] == ["arn:aws:s3:::" + location.removeprefix("s3://")]


# -- the latest tables -------------------------------------------------------------------------------------------------
def test_the_latest_check_fails_a_missing_database_and_counts_what_it_holds() -> None:
    missing = check_latest_tables("sor_latest", None, ["public_orders"])
    assert (missing.verdict, missing.detail) == (Verdict.FAIL, "database sor_latest does not exist")
    unset = check_latest_tables("", {}, ["public_orders"])
    assert unset.verdict is Verdict.FAIL
    latest = {"public_orders": {"Parameters": {"sor.ingestion_date": "2026-11-26"}}, "gone": {"Parameters": {}}}
    held = check_latest_tables("sor_latest", latest, ["public_orders", "public_items"])
    assert held.verdict is Verdict.PASS
    assert held.detail.startswith("sor_latest: 2 latest tables")
    assert "1 SOR tables get theirs the next night each publishes (public_items)" in held.detail
    assert "1 without a SOR table (gone)" in held.detail


def test_the_latest_database_of_the_emulated_stack_is_found(harness: Harness) -> None:
    (row,) = [r for r in harness.run(send_test_alert=False) if r.check == "latest tables"]
    assert (row.verdict, row.detail) == (Verdict.PASS, "sor_latest: 0 latest tables")


# -- organisation policies ---------------------------------------------------------------------------------------------
REGION_GUARD = {  # a common SCP: nothing outside the Regions the organisation uses
    "Statement": [{
        "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["sa-east-1", "us-east-1"]}},
    }]
}  # fmt: skip


def test_an_organisations_region_guard_does_not_fail_a_stack_in_an_allowed_region(harness: Harness) -> None:
    harness.organization = policy_statements("RegionGuard", REGION_GUARD)
    results = harness.run(send_test_alert=False)
    assert [r for r in failures(results) if r.check.startswith("permissions")] == [], render(results)
    # ...because the verifier sends the Region: without it, the guard's negated condition matches (the old FAIL)
    simulator = _iam_simulator(harness.session.client("iam"), harness.organization)
    role = harness.deployment.names().role_arns["GlueJobRole"]
    bare = simulator.simulate_principal_policy(
        PolicySourceArn=role, ActionNames=["s3:GetObject"], ContextEntries=[], ResourceArns=["arn:aws:s3:::b/k"]
    )
    assert bare["EvaluationResults"][0]["OrganizationsDecisionDetail"] == {"AllowedByOrganizations": False}


def test_an_organisation_deny_is_told_apart_from_a_template_gap(harness: Harness) -> None:
    harness.organization = policy_statements(
        "NoDeletes", {"Statement": [{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}
    )
    rows = [r for r in failures(harness.run(send_test_alert=False)) if r.check == "permissions GlueJobRole"]
    assert rows
    for row in rows:
        assert row.detail.startswith("denied by an organisation policy (a service control policy): s3:DeleteObject")
        assert row.next_step.startswith("not a template gap: ask your AWS Organizations administrator")
        assert "template.yaml" not in row.next_step


# -- resource policies, by the project's own evaluator ---------------------------------------------------------------
def test_a_sor_bucket_policy_that_denies_the_glue_role_is_a_failed_row(harness: Harness) -> None:
    names = harness.deployment.names()
    s3 = harness.session.client("s3")
    try:  # an existing bucket with a policy of its own, or none
        policy = json.loads(s3.get_bucket_policy(Bucket=names.sor_bucket)["Policy"])
    except s3.exceptions.ClientError:
        policy = {"Version": "2012-10-17", "Statement": []}
    policy["Statement"].append({
        "Sid": "SomeoneElsesRule", "Effect": "Deny", "Principal": {"AWS": names.role_arns["GlueJobRole"]},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{names.sor_bucket}/*",
    })  # fmt: skip
    s3.put_bucket_policy(Bucket=names.sor_bucket, Policy=json.dumps(policy))
    (row,) = [r for r in harness.run(send_test_alert=False) if r.check == "SOR bucket policy"]
    assert row.verdict is Verdict.FAIL
    assert f"the bucket policy of arn:aws:s3:::{names.sor_bucket} refuses: GlueJobRole s3:PutObject" in row.detail


def test_a_key_policy_that_lost_the_roles_statements_is_a_failed_row(harness: Harness) -> None:
    names = harness.deployment.names()
    kms = harness.session.client("kms")
    policy = json.loads(kms.get_key_policy(KeyId=names.key_arn, PolicyName="default")["Policy"])
    # keep only what lets alarms publish: no account delegation, no statement for the stack's roles
    policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") == "AlarmsPublishToTheTopic"]
    assert policy["Statement"]
    kms.put_key_policy(KeyId=names.key_arn, PolicyName="default", Policy=json.dumps(policy))
    (row,) = [r for r in harness.run(send_test_alert=False) if r.check == "key policy: stack roles"]
    assert row.verdict is Verdict.FAIL
    assert row.detail.startswith(f"the key policy of {names.key_arn} refuses:")
    assert "kms:" in row.detail
