"""Checks a deployed aurora-sor stack in a real account, after `sam deploy`. Read-only, free of charge.

    python -m ops.verify_deployment --stack-name NAME --region REGION     (or: make verify STACK=NAME REGION=...)

It prints one row per check (PASS / FAIL / SKIPPED, what was seen, the next step) and exits 1 when any check
fails. It changes nothing but one test message on the alert topic; it starts no export and no Glue run.

Data flows one way: the stack is read (`read_stack`), every other read is made with the names found there, each
check is a pure function over the API responses (shapes of the botocore models; most live in ops/checks.py),
and the rows are printed.
The AWS clients come from a `ClientFor` callable (service name -> client), the seam the tests use to answer with
the emulator where moto implements an API and with model-validated recorded responses where it does not.

What the IAM part can and cannot say: `iam:SimulatePrincipalPolicy` evaluates the role's identity policies
(and SCPs) with the context keys we pass. It is NOT given the key policy or the bucket policies: the botocore
model's documentation of its ResourcePolicy parameter says "Simulation of resource-based policies isn't
supported for IAM roles", and every principal here is a role. The key policy is checked on its own below
(the EventBridge statement), and the bucket policies of this stack only deny non-TLS requests, which boto3
never sends.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ops.access import GLUE_LOG_PREFIX_ARGUMENT, Call, Names, declared_calls, glue_runtime_names
from ops.checks import (
    DEFAULT_BACKUP_MARGIN,
    FAILED_INVOCATIONS_DAYS,
    PUBLISH_ACCESS,
    SNAPSHOT_MODE,
    CheckResult,
    Verdict,
    check_alert_sent,
    check_backup_window,
    check_cluster,
    check_failed_invocations,
    check_glue_job,
    check_incident_store,
    check_job_script,
    check_latest_tables,
    check_layers,
    check_log_routing,
    check_resource_policy,
    check_schedule,
    check_snapshot_age,
    failed,
    passed,
    script_version,
)
from ops.stack import ROOT, load_raw

ClientFor = Callable[[str], Any]  # service name ("rds", "iam", ...) -> a boto3 client or a stand-in


# -- the stack ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackView:
    """What DescribeStacks and ListStackResources say about the stack."""

    name: str
    stack_id: str
    status: str
    parameters: Mapping[str, str]
    outputs: Mapping[str, str]
    resources: Mapping[str, tuple[str, str]]  # logical id -> (type, physical id)

    @property
    def partition(self) -> str:
        return self.stack_id.split(":")[1]

    @property
    def region(self) -> str:
        return self.stack_id.split(":")[3]

    @property
    def account(self) -> str:
        return self.stack_id.split(":")[4]

    def of_type(self, type_: str) -> dict[str, str]:
        """Logical id -> physical id of the stack's resources of one type."""
        return {logical: physical for logical, (kind, physical) in self.resources.items() if kind == type_}


def stack_view(describe_stacks: Mapping[str, Any], resource_pages: Iterable[Mapping[str, Any]]) -> StackView:
    stack = describe_stacks["Stacks"][0]
    resources = {
        summary["LogicalResourceId"]: (summary["ResourceType"], summary.get("PhysicalResourceId", ""))
        for page in resource_pages
        for summary in page["StackResourceSummaries"]
    }
    return StackView(
        name=stack["StackName"],
        stack_id=stack["StackId"],
        status=stack["StackStatus"],
        parameters={p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])},
        outputs={o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])},
        resources=resources,
    )


def deployed_names(
    view: StackView,
    function_environment: Mapping[str, str],
    job_arguments: Mapping[str, str] | None = None,
    script_location: str = "",
) -> Names:
    """The physical names the code works with: outputs and resources, plus what only the functions' environment
    holds (the export prefix) and the Glue job's default arguments (Glue's own metrics and log groups)."""
    job_arguments = job_arguments or {}
    roles = {
        logical: f"arn:{view.partition}:iam::{view.account}:role/{physical}"
        for logical, physical in view.of_type("AWS::IAM::Role").items()
    }
    return Names(
        partition=view.partition,
        region=view.region,
        account=view.account,
        cluster_identifier=view.parameters["ClusterIdentifier"],
        export_bucket=view.outputs["ExportBucketName"],
        export_prefix=function_environment["EXPORT_PREFIX"],
        sor_bucket=view.outputs["SorBucketName"],
        catalog_database=view.outputs["CatalogDatabaseName"],
        key_arn=view.outputs["DataKeyArn"],
        alert_topic_arn=view.outputs["AlertTopicArn"],
        glue_job_name=view.outputs["SorJobName"],
        incident_table=function_environment.get("INCIDENT_TABLE", ""),
        role_arns=roles,
        glue_script=script_location if script_location.startswith("s3://") else "",
        **glue_runtime_names(job_arguments),
    )


def check_stack(view: StackView) -> CheckResult:
    if view.status.endswith("_COMPLETE") and "ROLLBACK" not in view.status and "DELETE" not in view.status:
        return passed("stack", f"{view.name} {view.status}, {len(view.resources)} resources")
    return failed(
        "stack", f"{view.name} is {view.status}", "fix the failed deployment (CloudFormation events), then re-run"
    )


# -- IAM: every call each role's code makes -----------------------------------------------------------------------

# SimulatePrincipalPolicy needs each context value's type (ContextKeyTypeEnum in the botocore iam model). Types per
# "AWS global condition context keys" (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)
# and the Service Authorization Reference's condition-key tables
# (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
_KEY_TYPES = {
    "aws:securetransport": "boolean",
    "aws:multifactorauthpresent": "boolean",
    "aws:viaawsservice": "boolean",
    "aws:principalisawsservice": "boolean",
    "kms:grantisforawsresource": "boolean",
    "aws:sourceip": "ip",
    "aws:currenttime": "date",
    "aws:tokenissuetime": "date",
    "aws:epochtime": "numeric",
    "aws:multifactorauthage": "numeric",
    "s3:max-keys": "numeric",
    "aws:tagkeys": "stringList",
    "aws:calledvia": "stringList",
    "aws:principalservicenameslist": "stringList",
    "kms:encryptioncontextkeys": "stringList",
    "kms:grantoperations": "stringList",
}


def context_entries(context: Mapping[str, Sequence[str]]) -> list[dict[str, Any]]:
    """A Call's context as ContextEntries: one value is the plain type, several are its List form."""
    entries = []
    for key, values in sorted(context.items()):
        kind = _KEY_TYPES.get(key.lower(), "string")
        if len(values) > 1 and not kind.endswith("List"):
            kind += "List"
        entries.append({"ContextKeyName": key, "ContextKeyValues": list(values), "ContextKeyType": kind})
    return entries


@dataclass(frozen=True)
class Simulation:
    """One SimulatePrincipalPolicy request: every action on every resource of one role under one context."""

    role: str
    role_arn: str
    context: tuple[tuple[str, tuple[str, ...]], ...]
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    region: str = ""

    def request(self) -> dict[str, Any]:
        """The simulator evaluates only the context it is given, and a negated condition on a key it is not given
        matches (an organisation's "deny outside these Regions" would deny everything), so every request carries
        the keys AWS sets on every real request of the role: aws:RequestedRegion and aws:PrincipalArn ("AWS global
        condition context keys", IAM User Guide)."""
        context = {"aws:PrincipalArn": (self.role_arn,)}
        if self.region:
            context["aws:RequestedRegion"] = (self.region,)
        context.update(dict(self.context))
        return {
            "PolicySourceArn": self.role_arn,
            "ActionNames": list(self.actions),
            "ResourceArns": list(self.resources),
            "ContextEntries": context_entries(context),
        }


def plan_simulations(calls: Sequence[Call], role_arns: Mapping[str, str], region: str = "") -> list[Simulation]:
    """Groups the calls per role and context. Wildcard resources get requests of their own: the simulator gives no
    per-resource results for "*" (botocore iam model, MissingContextValues), so they cannot share a request."""
    groups: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...], bool], tuple[set[str], set[str]]] = {}
    for call in calls:
        context = tuple(sorted((k, tuple(v)) for k, v in call.context.items()))
        actions, resources = groups.setdefault((call.role, context, call.resource == "*"), (set(), set()))
        actions.add(call.action)
        resources.add(call.resource)
    return [
        Simulation(role, role_arns[role], context, tuple(sorted(actions)), tuple(sorted(resources)), region)
        for (role, context, _), (actions, resources) in sorted(groups.items())
        if role in role_arns
    ]


@dataclass(frozen=True)
class SimulatedDecision:
    # Roles share calls (both the event Lambda and the Glue job read the day's manifest): a decision is only
    # ever about the role that was simulated.
    role: str
    action: str
    resource: str
    decision: str  # allowed | explicitDeny | implicitDeny (PolicyEvaluationDecisionType)
    matched: tuple[str, ...]  # SourcePolicyId of the statements that decided
    missing: tuple[str, ...]  # MissingContextValues
    # OrganizationsDecisionDetail.AllowedByOrganizations and PermissionsBoundaryDecisionDetail
    # .AllowedByPermissionsBoundary (botocore iam model, EvaluationResult); None when the simulator did not say
    by_organizations: bool | None = None
    by_boundary: bool | None = None


def decisions(simulation: Simulation, pages: Iterable[Mapping[str, Any]]) -> list[SimulatedDecision]:
    """The per-(action, resource) decisions of one simulation's response pages.

    Per the botocore iam model, EvaluationResults[].EvalResourceName is now the ARN *template* of the resource type;
    the decision for a given ARN is in ResourceSpecificResults. Without those (a single "*" resource), the top-level
    decision is the one for the request's only resource.
    """
    found: list[SimulatedDecision] = []
    for page in pages:
        for result in page["EvaluationResults"]:
            action = result["EvalActionName"]
            organizations = result.get("OrganizationsDecisionDetail", {}).get("AllowedByOrganizations")
            boundary = result.get("PermissionsBoundaryDecisionDetail", {}).get("AllowedByPermissionsBoundary")
            specific = result.get("ResourceSpecificResults") or []
            if specific:
                for item in specific:
                    found.append(
                        SimulatedDecision(
                            simulation.role,
                            action,
                            item["EvalResourceName"],
                            item["EvalResourceDecision"],
                            _policy_ids(item.get("MatchedStatements", [])),
                            tuple(item.get("MissingContextValues", [])),
                            organizations,
                            item.get("PermissionsBoundaryDecisionDetail", {}).get(
                                "AllowedByPermissionsBoundary", boundary
                            ),
                        )
                    )
            elif len(simulation.resources) == 1:
                found.append(
                    SimulatedDecision(
                        simulation.role,
                        action,
                        simulation.resources[0],
                        result["EvalDecision"],
                        _policy_ids(result.get("MatchedStatements", [])),
                        tuple(result.get("MissingContextValues", [])),
                        organizations,
                        boundary,
                    )
                )
    return found


def _policy_ids(statements: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted({s.get("SourcePolicyId", "?") for s in statements}))


def check_permissions(
    calls: Sequence[Call], role_arns: Mapping[str, str], found: Sequence[SimulatedDecision]
) -> list[CheckResult]:
    """One row per role: PASS when every declared call is allowed, else one FAIL row per call that is not."""
    by_call = {(d.role, d.action.lower(), d.resource): d for d in found}
    results: list[CheckResult] = []
    for role in sorted({c.role for c in calls}):
        check = f"permissions {role}"
        if role not in role_arns:
            results.append(failed(check, f"the stack has no role {role}", "deploy this repository's template.yaml"))
            continue
        failures = []
        for call in (c for c in calls if c.role == role):
            decision = by_call.get((role, call.action.lower(), call.resource))
            if decision is None:
                failures.append(
                    failed(
                        check,
                        f"{call.action} on {call.resource}: the simulator gave no answer",
                        "re-run; if it persists, simulate it in the IAM console's policy simulator",
                    )
                )
            elif decision.decision != "allowed":
                failures.append(_denied(check, role, call, decision))
        if failures:
            results.extend(failures)
        else:
            count = sum(1 for c in calls if c.role == role)
            results.append(passed(check, f"{count} declared calls allowed by {role_arns[role].rsplit('/', 1)[-1]}"))
    return results


def _denied(check: str, role: str, call: Call, decision: SimulatedDecision) -> CheckResult:
    context = ", ".join(f"{k}={'|'.join(v)}" for k, v in sorted(call.context.items())) or "none"
    what = f"{call.action} on {call.resource} ({call.why})"
    if decision.by_organizations is False:  # the role's own policies may allow it: no template change helps
        return failed(
            check,
            f"denied by an organisation policy (a service control policy): {what}",
            f"not a template gap: ask your AWS Organizations administrator to allow {call.action} for the role "
            f"{role} in this account and Region (the stack cannot work around an organisation's deny)",
        )
    if decision.by_boundary is False:
        return failed(
            check,
            f"denied by the role's permissions boundary: {what}",
            f"not a template gap: the role {role} carries a permissions boundary (added outside this stack) that "
            f"lacks {call.action}; extend or remove the boundary",
        )
    missing = f"; the policy asks for {', '.join(decision.missing)}, absent here" if decision.missing else ""
    where = f" whose conditions hold for {context}" if call.context else ""
    return failed(
        check,
        f"{decision.decision}: {call.action} on {call.resource} (context {context}; {call.why}){missing}",
        f"add to {role} in template.yaml: Allow {call.action} on {call.resource}{where}, then sam deploy",
    )


# -- reading ------------------------------------------------------------------------------------------------------


def _pages(method: Callable[..., Mapping[str, Any]], token: str, **params: Any) -> Iterator[Mapping[str, Any]]:
    """Follows a NextToken/Marker-style token (same name in request and response) until the last page."""
    while True:
        page = method(**params)
        yield page
        following = page.get(token)
        if not following:
            return
        params[token] = following


def read_stack(clients: ClientFor, stack_name: str) -> StackView:
    cloudformation = clients("cloudformation")
    described = cloudformation.describe_stacks(StackName=stack_name)
    pages = _pages(cloudformation.list_stack_resources, "NextToken", StackName=stack_name)
    return stack_view(described, pages)


def _expected_max_retries() -> int | None:
    """The template's MaxRetries: the deployed job must be the one this repository describes."""
    value = load_raw()["Resources"]["SorJob"]["Properties"].get("MaxRetries")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


_READ_ACCESS = "if it is AccessDenied, give your principal the read access README (Deploy) lists; re-run"


def _read_object(s3: Any, location: str) -> str | None:
    """The text of an s3:// object, None when it does not exist (NoSuchKey; a 403 raises: a read the operator lacks)."""
    if not location.startswith("s3://"):
        return None
    bucket, _, key = location.removeprefix("s3://").partition("/")
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", "replace")
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None
        raise


def shipped_script_version() -> str | None:
    """The job version of this checkout's glue/dist/sor_job.py, the script `sam deploy` uploads from here."""
    path = ROOT / "glue" / "dist" / "sor_job.py"
    return script_version(path.read_text(encoding="utf-8")) if path.exists() else None


def _guard(check: str, action: Callable[[], list[CheckResult]], next_step: str = _READ_ACCESS) -> list[CheckResult]:
    """A read the operator is not allowed, or that fails, becomes a FAIL row instead of ending the run."""
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - every failure is reported as a row, the other checks still run
        return [failed(check, f"could not read: {type(error).__name__}: {error}", next_step)]


def verify(
    clients: ClientFor,
    stack_name: str,
    now: dt.datetime,
    calls_for: Callable[[Names], list[Call]] = declared_calls,
    send_test_alert: bool = True,
    backup_margin: dt.timedelta = DEFAULT_BACKUP_MARGIN,
) -> list[CheckResult]:
    view = read_stack(clients, stack_name)
    results = [check_stack(view)]
    lambda_ = clients("lambda")
    configurations: dict[str, Mapping[str, Any]] = {}

    def read_functions() -> list[CheckResult]:
        for logical, physical in view.of_type("AWS::Lambda::Function").items():
            configurations[logical] = lambda_.get_function_configuration(FunctionName=physical)
        own = view.of_type("AWS::Lambda::LayerVersion").values()
        return check_layers(configurations, own)

    results += _guard("lambda functions", read_functions)
    environment = next((c.get("Environment", {}).get("Variables", {}) for c in configurations.values()), {})
    names: Names | None = None
    job: dict[str, Any] = {}  # read once by the "glue job" check; its arguments name Glue's own log groups

    def read_job() -> list[CheckResult]:
        job.update(clients("glue").get_job(JobName=view.outputs["SorJobName"])["Job"])
        return []

    results += _guard("glue job", read_job)

    def read_script() -> list[CheckResult]:
        if not job:
            return []  # the read failed: its row is already there
        location = str(job.get("Command", {}).get("ScriptLocation", ""))
        return [check_job_script(location, _read_object(clients("s3"), location), shipped_script_version())]

    results += _guard("glue job script", read_script)

    def read_latest() -> list[CheckResult]:
        if not job:
            return []
        glue = clients("glue")
        database = str(job.get("DefaultArguments", {}).get("--latest_database", ""))
        pages = _pages(glue.get_tables, "NextToken", DatabaseName=view.outputs["CatalogDatabaseName"])
        # the SOR tables: the ones the job manages (not the run history, nor a table someone else put there)
        sor = [t["Name"] for p in pages for t in p.get("TableList", []) if t.get("Parameters", {}).get("sor.source")]
        latest: dict[str, Any] | None = None
        if database:
            try:
                pages = _pages(glue.get_tables, "NextToken", DatabaseName=database)
                latest = {t["Name"]: t for p in pages for t in p.get("TableList", [])}
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "EntityNotFoundException":
                    raise
        return [check_latest_tables(database, latest, sor)]

    results += _guard("latest tables", read_latest)

    def permissions() -> list[CheckResult]:
        nonlocal names
        script = job.get("Command", {}).get("ScriptLocation", "")
        names = deployed_names(view, environment, job.get("DefaultArguments", {}), script)
        calls = calls_for(names)
        iam = clients("iam")
        found: list[SimulatedDecision] = []
        for simulation in plan_simulations(calls, names.role_arns, names.region):
            pages = _pages(iam.simulate_principal_policy, "Marker", **simulation.request())
            found += decisions(simulation, pages)
        return check_permissions(calls, names.role_arns, found)

    results += _guard("permissions", permissions)

    mode = view.parameters.get("ExportSource", SNAPSHOT_MODE)
    identifier = view.parameters.get("ClusterIdentifier", "")
    rds = clients("rds")
    cluster: dict[str, Any] = {}

    def read_cluster() -> list[CheckResult]:
        response = rds.describe_db_clusters(DBClusterIdentifier=identifier.lower())
        cluster.update(response["DBClusters"][0] if response.get("DBClusters") else {})
        return check_cluster(response, identifier)

    results += _guard("cluster", read_cluster)

    def read_snapshots() -> list[CheckResult]:
        pages = _pages(
            rds.describe_db_cluster_snapshots,
            "Marker",
            DBClusterIdentifier=identifier.lower(),
            SnapshotType="automated",
        )
        snapshots = [s for page in pages for s in page.get("DBClusterSnapshots", [])]
        max_hours = float(view.parameters.get("MaxSnapshotAgeHours", "26"))
        return [check_snapshot_age(snapshots, mode, max_hours, now)]

    results += _guard("newest automated snapshot", read_snapshots)

    scheduler = clients("scheduler")
    nightly: dict[str, Any] = {}

    def read_schedules() -> list[CheckResult]:
        start_arn = next(
            (
                c["FunctionArn"]
                for c in configurations.values()
                if str(c.get("Handler", "")).startswith("start_export.")
            ),
            None,
        )
        rows = []
        for logical, physical in sorted(view.of_type("AWS::Scheduler::Schedule").items()):
            schedule = scheduler.get_schedule(Name=physical)
            if schedule.get("Target", {}).get("Arn") == start_arn:
                nightly.update(schedule)
            rows.append(check_schedule(schedule, logical))
        if not nightly:
            rows.append(
                failed("schedule nightly", "no schedule targets start_export", "deploy this repository's template.yaml")
            )
        return rows

    results += _guard("schedules", read_schedules)
    results.append(check_backup_window(cluster or None, nightly or None, mode, now.date(), backup_margin))

    def read_glue() -> list[CheckResult]:
        if not job:
            return []  # the read failed: its row is already there
        logs = clients("logs")
        prefix = job.get("DefaultArguments", {}).get(GLUE_LOG_PREFIX_ARGUMENT)
        groups = []
        if prefix:
            pages = _pages(logs.describe_log_groups, "nextToken", logGroupNamePrefix=prefix)
            groups = [g for page in pages for g in page.get("logGroups", [])]
        return [
            *check_glue_job(job, _expected_max_retries()),
            check_log_routing(job, groups, view.outputs["DataKeyArn"]),
        ]

    results += _guard("glue job", read_glue)

    def read_key_policy() -> list[CheckResult]:
        key = view.outputs["DataKeyArn"]
        policy = clients("kms").get_key_policy(KeyId=key, PolicyName="default")["Policy"]
        rows = []
        if names is not None:  # the permissions row read them; without them the roles are unknown
            calls = calls_for(names)
            document = json.loads(policy)
            rows.append(check_resource_policy("key policy: stack roles", key, document, calls, names.role_arns,
                                              view.account, key_policy=True))  # fmt: skip
        return rows

    results += _guard("key policy", read_key_policy)

    def read_sor_bucket_policy() -> list[CheckResult]:
        if names is None:
            return []
        bucket = f"arn:{view.partition}:s3:::{names.sor_bucket}"
        try:
            document = json.loads(clients("s3").get_bucket_policy(Bucket=names.sor_bucket)["Policy"])
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchBucketPolicy":
                raise
            document = None
        return [check_resource_policy("SOR bucket policy", bucket, document, calls_for(names), names.role_arns,
                                      view.account)]  # fmt: skip

    results += _guard("SOR bucket policy", read_sor_bucket_policy)

    def read_incident_store() -> list[CheckResult]:
        table = view.outputs["IncidentTableName"]
        dynamodb = clients("dynamodb")
        described = dynamodb.describe_table(TableName=table)["Table"]
        return [check_incident_store(described, dynamodb.describe_time_to_live(TableName=table))]

    results += _guard("incident store", read_incident_store)

    def read_rule_metrics() -> list[CheckResult]:
        cloudwatch = clients("cloudwatch")
        rows = []
        for physical in sorted(view.of_type("AWS::Events::Rule").values()):
            rule = physical.rsplit("|", 1)[-1]  # a rule on a custom bus is "bus|rule"
            statistics = cloudwatch.get_metric_statistics(
                Namespace="AWS/Events",
                MetricName="FailedInvocations",
                Dimensions=[{"Name": "RuleName", "Value": rule}],
                StartTime=now - dt.timedelta(days=FAILED_INVOCATIONS_DAYS),
                EndTime=now,
                Period=86400,
                Statistics=["Sum"],
            )
            rows.append(check_failed_invocations(rule, statistics))
        return rows

    results += _guard("rule metrics", read_rule_metrics)

    if send_test_alert:
        topic = view.outputs["AlertTopicArn"]

        def send() -> list[CheckResult]:
            response = clients("sns").publish(
                TopicArn=topic,
                Subject=f"aurora-sor verifier: test alert for stack {view.name}"[:100],
                Message=f"Test message sent by `python -m ops.verify_deployment --stack-name {view.name}` at "
                f"{now.isoformat(timespec='seconds')}. No action needed: if you read this, alerts reach you.",
            )
            return [check_alert_sent(response, topic)]

        results += _guard("test alert", send, PUBLISH_ACCESS)
    return results


# -- output -------------------------------------------------------------------------------------------------------


def render(results: Sequence[CheckResult]) -> str:
    rows = [("CHECK", "RESULT", "DETAIL / NEXT STEP")]
    for r in results:
        rows.append((r.check, r.verdict.value, r.detail))
        if r.next_step:
            rows.append(("", "", f"-> {r.next_step}"))
    width = [max(len(row[i]) for row in rows) for i in (0, 1)]
    lines = [f"{c.ljust(width[0])}  {o.ljust(width[1])}  {d}" for c, o, d in rows]
    failures = sum(1 for r in results if r.verdict is Verdict.FAIL)
    lines.append("")
    lines.append(f"{failures} check(s) failed." if failures else "All checks passed.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.verify_deployment", description=__doc__.split("\n")[0])
    parser.add_argument("--stack-name", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--profile", help="an AWS CLI profile (default: the usual credential chain)")
    parser.add_argument("--no-test-alert", action="store_true", help="do not send the test message to the topic")
    parser.add_argument("--backup-margin-minutes", type=int, default=int(DEFAULT_BACKUP_MARGIN.total_seconds() // 60))
    args = parser.parse_args(argv)
    import boto3

    session = boto3.Session(profile_name=args.profile, region_name=args.region)
    try:
        results = verify(
            session.client,
            args.stack_name,
            dt.datetime.now(dt.UTC),
            send_test_alert=not args.no_test_alert,
            backup_margin=dt.timedelta(minutes=args.backup_margin_minutes),
        )
    except Exception as error:  # noqa: BLE001 - without the stack there is nothing to check: one clear line
        print(
            f"cannot read stack {args.stack_name!r} in {args.region}: {type(error).__name__}: {error}", file=sys.stderr
        )
        return 2
    print(render(results))
    return 1 if any(r.verdict is Verdict.FAIL for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
