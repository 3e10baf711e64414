"""Checks a deployed aurora-sor stack in a real account, after `sam deploy`. Read-only, free of charge.

    python -m ops.verify_deployment --stack-name NAME --region REGION     (or: make verify STACK=NAME REGION=...)

It prints one row per check (PASS / FAIL / SKIPPED, what was seen, the next step) and exits 1 when any check
fails. It changes nothing but one test message on the alert topic; it starts no export and no Glue run.

Data flows one way: the stack is read (`read_stack`), every other read is made with the names found there, each
check is a pure function over the API responses (shapes of the botocore models), and the rows are printed.
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
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ops.access import GLUE_LOG_PREFIX_ARGUMENT, Call, Names, declared_calls, glue_runtime_names
from ops.stack import load_raw, wildcard_match

ClientFor = Callable[[str], Any]  # service name ("rds", "iam", ...) -> a boto3 client or a stand-in

# -- verdicts -----------------------------------------------------------------------------------------------------


class Verdict(Enum):
    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    FAIL = "FAIL"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class CheckResult:
    check: str
    verdict: Verdict
    detail: str
    next_step: str = ""


def _pass(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Verdict.PASS, detail)


def _fail(check: str, detail: str, next_step: str) -> CheckResult:
    return CheckResult(check, Verdict.FAIL, detail, next_step)


# -- the stack ----------------------------------------------------------------------------------------------------

ENGINES = ("aurora-postgresql", "aurora-mysql")
SNAPSHOT_MODE = "latest-automated-snapshot"
# The export must find tonight's snapshot: the backup window has to end this long before the schedule fires.
# Aurora takes the automated snapshot inside the window; the margin is our choice, not an AWS figure.
DEFAULT_BACKUP_MARGIN = dt.timedelta(minutes=30)
# On a 24-hour clock "ends before" needs a reference: a window that ends less than 12 hours after the schedule is
# read as the same night's and late; one that ends more than 12 hours after it, as the previous day's and early.
_HALF_DAY = dt.timedelta(hours=12)
FAILED_INVOCATIONS_DAYS = 7


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
    view: StackView, function_environment: Mapping[str, str], job_arguments: Mapping[str, str] | None = None
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
        role_arns=roles,
        **glue_runtime_names(job_arguments),
    )


def check_stack(view: StackView) -> CheckResult:
    if view.status.endswith("_COMPLETE") and "ROLLBACK" not in view.status and "DELETE" not in view.status:
        return _pass("stack", f"{view.name} {view.status}, {len(view.resources)} resources")
    return _fail(
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

    def request(self) -> dict[str, Any]:
        return {
            "PolicySourceArn": self.role_arn,
            "ActionNames": list(self.actions),
            "ResourceArns": list(self.resources),
            "ContextEntries": context_entries(dict(self.context)),
        }


def plan_simulations(calls: Sequence[Call], role_arns: Mapping[str, str]) -> list[Simulation]:
    """Groups the calls per role and context. Wildcard resources get requests of their own: the simulator gives no
    per-resource results for "*" (botocore iam model, MissingContextValues), so they cannot share a request."""
    groups: dict[tuple[str, tuple[tuple[str, tuple[str, ...]], ...], bool], tuple[set[str], set[str]]] = {}
    for call in calls:
        context = tuple(sorted((k, tuple(v)) for k, v in call.context.items()))
        actions, resources = groups.setdefault((call.role, context, call.resource == "*"), (set(), set()))
        actions.add(call.action)
        resources.add(call.resource)
    return [
        Simulation(role, role_arns[role], context, tuple(sorted(actions)), tuple(sorted(resources)))
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
            results.append(_fail(check, f"the stack has no role {role}", "deploy this repository's template.yaml"))
            continue
        failures = []
        for call in (c for c in calls if c.role == role):
            decision = by_call.get((role, call.action.lower(), call.resource))
            if decision is None:
                failures.append(
                    _fail(
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
            results.append(_pass(check, f"{count} declared calls allowed by {role_arns[role].rsplit('/', 1)[-1]}"))
    return results


def _denied(check: str, role: str, call: Call, decision: SimulatedDecision) -> CheckResult:
    context = ", ".join(f"{k}={'|'.join(v)}" for k, v in sorted(call.context.items())) or "none"
    missing = f"; the policy asks for {', '.join(decision.missing)}, absent here" if decision.missing else ""
    where = f" whose conditions hold for {context}" if call.context else ""
    return _fail(
        check,
        f"{decision.decision}: {call.action} on {call.resource} (context {context}; {call.why}){missing}",
        f"add to {role} in template.yaml: Allow {call.action} on {call.resource}{where}, then sam deploy",
    )


# -- the cluster, its backups and the schedule --------------------------------------------------------------------


def check_cluster(clusters: Mapping[str, Any] | None, identifier: str) -> list[CheckResult]:
    check = "cluster"
    if identifier != identifier.lower():
        # RDS stores identifiers in lower case (botocore rds model, CreateDBCluster DBClusterIdentifier), and the
        # roles' ARNs are built from the parameter as typed: an upper-case letter makes them match nothing.
        return [
            _fail(
                check,
                f"ClusterIdentifier {identifier!r} is not lower case",
                f"sam deploy --parameter-overrides ClusterIdentifier={identifier.lower()}",
            )
        ]
    if not clusters or not clusters.get("DBClusters"):
        return [
            _fail(
                check,
                f"no DB cluster {identifier!r} in this account and Region",
                "deploy the stack in the cluster's account and Region, with its identifier",
            )
        ]
    cluster = clusters["DBClusters"][0]
    results = []
    engine = cluster.get("Engine", "")
    if engine in ENGINES:
        results.append(_pass(check, f"{identifier}: {engine} {cluster.get('EngineVersion', '')}".rstrip()))
    else:
        results.append(
            _fail(
                check,
                f"{identifier} runs {engine!r}; the export path handles {', '.join(ENGINES)}",
                "point ClusterIdentifier at an Aurora PostgreSQL or MySQL cluster",
            )
        )
    retention = int(cluster.get("BackupRetentionPeriod", 0))
    if retention >= 1:
        results.append(_pass("backup retention", f"{retention} day(s): automated snapshots are taken"))
    else:
        results.append(
            _fail(
                "backup retention",
                f"BackupRetentionPeriod is {retention}: no automated snapshots",
                f"aws rds modify-db-cluster --db-cluster-identifier {identifier} "
                "--backup-retention-period 1 --apply-immediately",
            )
        )
    return results


_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")


def schedule_times(expression: str) -> list[tuple[int, int]]:
    """The (hour, minute) a daily EventBridge Scheduler cron fires at, in its time zone.

    Scheduler cron has six fields: minutes hours day-of-month month day-of-week year
    (https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based). Only fixed minutes
    and hours (single values or comma lists) name a time of day; anything else raises ValueError.
    """
    match = _CRON.match(expression.strip())
    if not match:
        raise ValueError(f"{expression!r} is not a cron() expression")
    fields = match.group("fields").split()
    if len(fields) != 6:
        raise ValueError(f"{expression!r} does not have the six cron fields")
    minutes, hours = fields[0].split(","), fields[1].split(",")
    if not all(v.isdigit() for v in minutes + hours):
        raise ValueError(f"{expression!r} does not fire at fixed times of day")
    return sorted((int(h), int(m)) for h in hours for m in minutes)


def _window(window: str) -> tuple[dt.time, dt.time]:
    """PreferredBackupWindow is "hh24:mi-hh24:mi" in UTC (botocore rds model, CreateDBCluster)."""
    start, end = window.split("-")
    return dt.time.fromisoformat(start), dt.time.fromisoformat(end)


def backup_leads(window: str, expression: str, timezone: str, today: dt.date) -> list[tuple[dt.date, dt.timedelta]]:
    """For each distinct UTC offset the schedule has over the coming year: the time from the end of the backup window
    to the schedule's next firing, in (-12 h, +12 h]. Positive means the window ends before the schedule."""
    zone = ZoneInfo(timezone)
    _, end = _window(window)
    leads: dict[tuple[int, int, int], tuple[dt.date, dt.timedelta]] = {}
    for offset in range(366):
        day = today + dt.timedelta(days=offset)
        for hour, minute in schedule_times(expression):
            fires = dt.datetime.combine(day, dt.time(hour, minute), zone).astimezone(dt.UTC)
            ends = dt.datetime.combine(fires.date(), end, dt.UTC)
            lead = fires - ends
            while lead > _HALF_DAY:
                lead -= dt.timedelta(days=1)
            while lead <= -_HALF_DAY:
                lead += dt.timedelta(days=1)
            leads.setdefault((fires.hour, fires.minute, hour * 60 + minute), (day, lead))
    return sorted(leads.values())


def check_backup_window(
    cluster: Mapping[str, Any] | None,
    schedule: Mapping[str, Any] | None,
    mode: str,
    today: dt.date,
    margin: dt.timedelta = DEFAULT_BACKUP_MARGIN,
) -> CheckResult:
    check = "backup window"
    if mode != SNAPSHOT_MODE:
        return CheckResult(check, Verdict.SKIPPED, f"ExportSource={mode}: the export does not use automated snapshots")
    if not cluster or not schedule:
        return _fail(check, "needs the cluster and the nightly schedule", "fix the cluster and schedule rows first")
    window = cluster.get("PreferredBackupWindow", "")
    expression, timezone = schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone", "UTC")
    try:
        leads = backup_leads(window, expression, timezone, today)
    except (ValueError, ZoneInfoNotFoundError) as error:
        return _fail(
            check,
            f"cannot compare window {window!r} with {expression} {timezone}: {error}",
            "give the nightly schedule a daily cron() at a fixed time and the cluster a backup window",
        )
    day, worst = min(leads, key=lambda item: item[1])
    if worst < margin:
        relation = f"ends {_hours(-worst)} after" if worst < dt.timedelta(0) else f"ends only {_hours(worst)} before"
        return _fail(
            check,
            f"window {window} UTC {relation} the schedule {expression} {timezone} (e.g. on {day.isoformat()}): "
            "the export finds the previous day's snapshot",
            f"move the window to end at least {_hours(margin)} before the schedule: aws rds modify-db-cluster "
            f"--db-cluster-identifier {cluster.get('DBClusterIdentifier')} --preferred-backup-window hh:mm-hh:mm",
        )
    return _pass(check, f"window {window} UTC ends at least {_hours(worst)} before {expression} {timezone}")


def _hours(delta: dt.timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}"


def check_snapshot_age(
    snapshots: Sequence[Mapping[str, Any]], mode: str, max_hours: float, now: dt.datetime
) -> CheckResult:
    check = "newest automated snapshot"
    if mode != SNAPSHOT_MODE:
        return CheckResult(check, Verdict.SKIPPED, f"ExportSource={mode}: the export does not use automated snapshots")
    available = [s for s in snapshots if s.get("Status") == "available" and s.get("SnapshotCreateTime")]
    if not available:
        return _fail(
            check,
            "no available automated cluster snapshot",
            "wait for the first backup window, or check the cluster's backup retention",
        )
    newest = max(available, key=lambda s: _aware(s["SnapshotCreateTime"]))
    age = now - _aware(newest["SnapshotCreateTime"])
    hours = age.total_seconds() / 3600
    detail = f"{newest['DBClusterSnapshotIdentifier']} is {hours:.1f} h old (MaxSnapshotAgeHours {max_hours:g})"
    if hours > max_hours:
        return _fail(
            check,
            detail + ": start_export would refuse it",
            "check the cluster's automated backups (backup window, retention) in the RDS console",
        )
    return _pass(check, detail)


def _aware(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_schedule(schedule: Mapping[str, Any] | None, label: str) -> CheckResult:
    check = f"schedule {label}"
    if not schedule:
        return _fail(check, "the stack has no such schedule", "deploy this repository's template.yaml")
    detail = (
        f"{schedule['Name']}: {schedule['ScheduleExpression']} in {schedule.get('ScheduleExpressionTimezone', 'UTC')}"
    )
    if schedule.get("State") != "ENABLED":
        return _fail(
            check,
            f"{detail}, {schedule.get('State')}",
            f"aws scheduler update-schedule --name {schedule['Name']} --state ENABLED (with its other fields)",
        )
    return _pass(check, detail + ", ENABLED")


# -- Glue ---------------------------------------------------------------------------------------------------------

LOG_PREFIX_ARGUMENT = GLUE_LOG_PREFIX_ARGUMENT


def check_glue_job(job: Mapping[str, Any], expected_max_retries: int | None) -> list[CheckResult]:
    results = []
    version = str(job.get("GlueVersion", ""))
    if version.startswith("5."):
        results.append(_pass("glue version", f"{job['Name']}: Glue {version}"))
    else:
        results.append(
            _fail(
                "glue version",
                f"{job['Name']}: Glue {version or '?'}; the job is tested for 5.x",
                "deploy this repository's template.yaml (GlueVersion 5.0)",
            )
        )
    retries = job.get("MaxRetries", 0)
    if expected_max_retries is None or retries == expected_max_retries:
        results.append(_pass("glue retries", f"MaxRetries {retries}"))
    else:
        results.append(
            _fail(
                "glue retries",
                f"MaxRetries {retries}, template.yaml says {expected_max_retries}",
                "deploy this repository's template.yaml",
            )
        )
    return results


def check_log_routing(job: Mapping[str, Any], log_groups: Sequence[Mapping[str, Any]], key_arn: str) -> CheckResult:
    """Glue 5 writes to /aws-glue/jobs/output and /aws-glue/jobs/error unless --custom-logGroup-prefix moves them to
    <prefix>/output and <prefix>/error ("Logging for AWS Glue jobs",
    https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html)."""
    check = "glue log routing"
    prefix = job.get("DefaultArguments", {}).get(LOG_PREFIX_ARGUMENT)
    if not prefix:
        return _fail(
            check,
            f"{LOG_PREFIX_ARGUMENT} is not set: Glue 5 logs go to /aws-glue/jobs/output and "
            "/aws-glue/jobs/error, unencrypted and kept forever",
            "deploy this repository's template.yaml (it sets the prefix and creates the groups)",
        )
    by_name = {group["logGroupName"]: group for group in log_groups}
    problems = []
    for name in (f"{prefix}/output", f"{prefix}/error"):
        group = by_name.get(name)
        if group is None:
            problems.append(f"{name} does not exist")
            continue
        if group.get("kmsKeyId") != key_arn:
            problems.append(f"{name} is not encrypted with the stack key")
        if not group.get("retentionInDays"):
            problems.append(f"{name} has no retention")
    if problems:
        return _fail(check, "; ".join(problems), "deploy this repository's template.yaml (it creates both groups)")
    return _pass(check, f"{prefix}/output and {prefix}/error: stack key, retention set")


# -- Lambda layers ------------------------------------------------------------------------------------------------


def check_layers(configurations: Mapping[str, Mapping[str, Any]], own_layers: Iterable[str]) -> list[CheckResult]:
    """The functions bundle the pinned Powertools (pyproject.toml): what runs is what the tests ran. A public
    Powertools layer's version number names no release, so any layer not built by this stack is a failure."""
    own = set(own_layers)
    results = []
    for logical, configuration in sorted(configurations.items()):
        check = f"layers {logical}"
        foreign = [layer["Arn"] for layer in configuration.get("Layers", []) if layer["Arn"] not in own]
        if not foreign:
            results.append(_pass(check, "no layer from outside the stack: Powertools is bundled at the pinned version"))
            continue
        kind = "a Powertools layer" if any("powertools" in arn.lower() for arn in foreign) else "an unknown layer"
        results.append(
            _fail(
                check,
                f"{configuration.get('FunctionName', logical)} carries {kind}: {', '.join(foreign)}",
                "deploy this repository's template.yaml with sam build (it bundles the pinned "
                "aws-lambda-powertools and attaches no layer)",
            )
        )
    return results


# -- alerting -----------------------------------------------------------------------------------------------------

_SOURCE_KEYS = {"aws:sourceaccount", "aws:sourcearn"}
_EVENTS = "events.amazonaws.com"
_KEY_USE = ("kms:GenerateDataKey", "kms:Decrypt")


def check_events_key_statement(policy: str) -> CheckResult:
    """EventBridge's KMS request for an encrypted topic carries neither aws:SourceAccount nor aws:SourceArn, so a
    statement conditioned on them never matches (SNS developer guide, "Key management", compatibility with AWS
    services: https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services)."""
    check = "key policy: EventBridge to the topic"
    statements = json.loads(policy)["Statement"]
    reasons = []
    for statement in statements if isinstance(statements, list) else [statements]:
        principal = statement.get("Principal", {})
        services = principal.get("Service", []) if isinstance(principal, dict) else []
        if statement.get("Effect") != "Allow" or _EVENTS not in (
            services if isinstance(services, list) else [services]
        ):
            continue
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        uncovered = [a for a in _KEY_USE if not any(wildcard_match(p, a, ignore_case=True) for p in actions)]
        keys = {key.lower() for block in statement.get("Condition", {}).values() for key in block}
        blocking = sorted(keys & _SOURCE_KEYS)
        sid = statement.get("Sid", "(no Sid)")
        if uncovered:
            reasons.append(f"{sid} does not allow {', '.join(uncovered)}")
        elif blocking:
            reasons.append(f"{sid} is conditioned on {', '.join(blocking)}, which EventBridge's KMS request lacks")
        else:
            return _pass(check, f"{sid} lets {_EVENTS} use the key for the topic (no source conditions)")
    return _fail(
        check,
        "; ".join(reasons) or f"no statement allows {_EVENTS} {' and '.join(_KEY_USE)}",
        "deploy this repository's template.yaml (a statement for events.amazonaws.com without "
        "aws:SourceAccount/aws:SourceArn)",
    )


def check_failed_invocations(rule: str, statistics: Mapping[str, Any]) -> CheckResult:
    """AWS/Events FailedInvocations by RuleName, sent only when not zero
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html)."""
    check = f"rule {rule}"
    failed = sum(point.get("Sum", 0.0) for point in statistics.get("Datapoints", []))
    if failed > 0:
        return _fail(
            check,
            f"{failed:g} failed invocations in the last {FAILED_INVOCATIONS_DAYS} days",
            "see the failed-invocations queue (FailedInvocationsQueueUrl) and the key policy row",
        )
    return _pass(check, f"no failed invocations in the last {FAILED_INVOCATIONS_DAYS} days")


def check_alert_sent(response: Mapping[str, Any] | None, topic: str) -> CheckResult:
    check = "test alert"
    if response and response.get("MessageId"):
        return _pass(
            check,
            f"message {response['MessageId']} accepted by {topic.rsplit(':', 1)[-1]} "
            "(sent with your credentials: it does not exercise EventBridge's use of the key)",
        )
    return _fail(check, f"no MessageId from {topic}", _PUBLISH_ACCESS)


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
# Publishing to an SSE-KMS topic needs kms:GenerateDataKey and kms:Decrypt on its key for the publisher
# (SNS developer guide, "Key management": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
_PUBLISH_ACCESS = (
    "your principal needs sns:Publish on the topic and, through SNS, kms:GenerateDataKey and kms:Decrypt on the "
    "stack key (DataKeyArn) in its IAM policy (the stack's key policy allows account principals through SNS); "
    "or re-run with --no-test-alert"
)


def _guard(check: str, action: Callable[[], list[CheckResult]], next_step: str = _READ_ACCESS) -> list[CheckResult]:
    """A read the operator is not allowed, or that fails, becomes a FAIL row instead of ending the run."""
    try:
        return action()
    except Exception as error:  # noqa: BLE001 - every failure is reported as a row, the other checks still run
        return [_fail(check, f"could not read: {type(error).__name__}: {error}", next_step)]


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

    def permissions() -> list[CheckResult]:
        nonlocal names
        names = deployed_names(view, environment, job.get("DefaultArguments", {}))
        calls = calls_for(names)
        iam = clients("iam")
        found: list[SimulatedDecision] = []
        for simulation in plan_simulations(calls, names.role_arns):
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
                _fail("schedule nightly", "no schedule targets start_export", "deploy this repository's template.yaml")
            )
        return rows

    results += _guard("schedules", read_schedules)
    results.append(check_backup_window(cluster or None, nightly or None, mode, now.date(), backup_margin))

    def read_glue() -> list[CheckResult]:
        if not job:
            return []  # the read failed: its row is already there
        logs = clients("logs")
        prefix = job.get("DefaultArguments", {}).get(LOG_PREFIX_ARGUMENT)
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
        policy = clients("kms").get_key_policy(KeyId=view.outputs["DataKeyArn"], PolicyName="default")["Policy"]
        return [check_events_key_statement(policy)]

    results += _guard("key policy", read_key_policy)

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

        results += _guard("test alert", send, _PUBLISH_ACCESS)
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
    failed = sum(1 for r in results if r.verdict is Verdict.FAIL)
    lines.append("")
    lines.append(f"{failed} check(s) failed." if failed else "All checks passed.")
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
