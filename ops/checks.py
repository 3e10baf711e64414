"""The checks of a deployed stack that judge AWS's answers (ops/verify_deployment.py reads them and prints the
rows): each a pure function over API responses shaped as the botocore models say, returning CheckResults. The
cluster, its backups and the schedule; the Glue job and its logs; the functions' layers; the alerting path."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ops.access import GLUE_LOG_PREFIX_ARGUMENT, Call
from ops.iam import AuthRequest, Decision, Principal, evaluate
from ops.stack import policy_statements

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


def passed(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Verdict.PASS, detail)


def failed(check: str, detail: str, next_step: str) -> CheckResult:
    return CheckResult(check, Verdict.FAIL, detail, next_step)


def judged(check: str, holds: bool, detail: str, otherwise: str, next_step: str) -> CheckResult:
    """PASS with `detail` when the condition holds; else FAIL with `otherwise` and the next step."""
    return passed(check, detail) if holds else failed(check, otherwise, next_step)


ENGINES = ("aurora-postgresql", "aurora-mysql")
SNAPSHOT_MODE = "latest-automated-snapshot"
# The export must find tonight's snapshot: the backup window has to end this long before the schedule fires.
# Aurora takes the automated snapshot inside the window; the margin is our choice, not an AWS figure.
DEFAULT_BACKUP_MARGIN = dt.timedelta(minutes=30)
# On a 24-hour clock "ends before" needs a reference: a window that ends less than 12 hours after the schedule is
# read as the same night's and late; one that ends more than 12 hours after it, as the previous day's and early.
_HALF_DAY = dt.timedelta(hours=12)
FAILED_INVOCATIONS_DAYS = 7
# Publishing to an SSE-KMS topic needs kms:GenerateDataKey and kms:Decrypt on its key for the publisher
# (SNS developer guide, "Key management": https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
PUBLISH_ACCESS = (
    "your principal needs sns:Publish on the topic and, through SNS, kms:GenerateDataKey and kms:Decrypt on the "
    "stack key (DataKeyArn) in its IAM policy (the stack's key policy allows account principals through SNS); "
    "or re-run with --no-test-alert"
)


# -- the cluster, its backups and the schedule --------------------------------------------------------------------


def check_cluster(clusters: Mapping[str, Any] | None, identifier: str) -> list[CheckResult]:
    check = "cluster"
    if identifier != identifier.lower():
        # RDS stores identifiers in lower case (botocore rds model, CreateDBCluster DBClusterIdentifier), and the
        # roles' ARNs are built from the parameter as typed: an upper-case letter makes them match nothing.
        return [
            failed(
                check,
                f"ClusterIdentifier {identifier!r} is not lower case",
                f"sam deploy --parameter-overrides ClusterIdentifier={identifier.lower()}",
            )
        ]
    if not clusters or not clusters.get("DBClusters"):
        return [
            failed(
                check,
                f"no DB cluster {identifier!r} in this account and Region",
                "deploy the stack in the cluster's account and Region, with its identifier",
            )
        ]
    cluster = clusters["DBClusters"][0]
    engine = cluster.get("Engine", "")
    retention = int(cluster.get("BackupRetentionPeriod", 0))
    return [
        judged(
            check,
            engine in ENGINES,
            f"{identifier}: {engine} {cluster.get('EngineVersion', '')}".rstrip(),
            f"{identifier} runs {engine!r}; the export path handles {', '.join(ENGINES)}",
            "point ClusterIdentifier at an Aurora PostgreSQL or MySQL cluster",
        ),
        judged(
            "backup retention",
            retention >= 1,
            f"{retention} day(s): automated snapshots are taken",
            f"BackupRetentionPeriod is {retention}: no automated snapshots",
            f"aws rds modify-db-cluster --db-cluster-identifier {identifier} "
            "--backup-retention-period 1 --apply-immediately",
        ),
    ]


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
        return failed(check, "needs the cluster and the nightly schedule", "fix the cluster and schedule rows first")
    window = cluster.get("PreferredBackupWindow", "")
    expression, timezone = schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone", "UTC")
    try:
        leads = backup_leads(window, expression, timezone, today)
    except (ValueError, ZoneInfoNotFoundError) as error:
        return failed(
            check,
            f"cannot compare window {window!r} with {expression} {timezone}: {error}",
            "give the nightly schedule a daily cron() at a fixed time and the cluster a backup window",
        )
    day, worst = min(leads, key=lambda item: item[1])
    if worst < margin:
        relation = f"ends {_hours(-worst)} after" if worst < dt.timedelta(0) else f"ends only {_hours(worst)} before"
        return failed(
            check,
            f"window {window} UTC {relation} the schedule {expression} {timezone} (e.g. on {day.isoformat()}): "
            "the export finds the previous day's snapshot",
            f"move the window to end at least {_hours(margin)} before the schedule: aws rds modify-db-cluster "
            f"--db-cluster-identifier {cluster.get('DBClusterIdentifier')} --preferred-backup-window hh:mm-hh:mm",
        )
    return passed(check, f"window {window} UTC ends at least {_hours(worst)} before {expression} {timezone}")


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
        return failed(
            check,
            "no available automated cluster snapshot",
            "wait for the first backup window, or check the cluster's backup retention",
        )
    newest = max(available, key=lambda s: _aware(s["SnapshotCreateTime"]))
    age = now - _aware(newest["SnapshotCreateTime"])
    hours = age.total_seconds() / 3600
    detail = f"{newest['DBClusterSnapshotIdentifier']} is {hours:.1f} h old (MaxSnapshotAgeHours {max_hours:g})"
    if hours > max_hours:
        return failed(
            check,
            detail + ": start_export would refuse it",
            "check the cluster's automated backups (backup window, retention) in the RDS console",
        )
    return passed(check, detail)


def _aware(value: Any) -> dt.datetime:
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_schedule(schedule: Mapping[str, Any] | None, label: str) -> CheckResult:
    check = f"schedule {label}"
    if not schedule:
        return failed(check, "the stack has no such schedule", "deploy this repository's template.yaml")
    detail = (
        f"{schedule['Name']}: {schedule['ScheduleExpression']} in {schedule.get('ScheduleExpressionTimezone', 'UTC')}"
    )
    if schedule.get("State") != "ENABLED":
        return failed(
            check,
            f"{detail}, {schedule.get('State')}",
            f"aws scheduler update-schedule --name {schedule['Name']} --state ENABLED (with its other fields)",
        )
    return passed(check, detail + ", ENABLED")


# -- Glue ---------------------------------------------------------------------------------------------------------


def check_glue_job(job: Mapping[str, Any], expected_max_retries: int | None) -> list[CheckResult]:
    version = str(job.get("GlueVersion", ""))
    retries = job.get("MaxRetries", 0)
    return [
        judged(
            "glue version",
            version.startswith("5."),
            f"{job['Name']}: Glue {version}",
            f"{job['Name']}: Glue {version or '?'}; the job is tested for 5.x",
            "deploy this repository's template.yaml (GlueVersion 5.0)",
        ),
        judged(
            "glue retries",
            expected_max_retries is None or retries == expected_max_retries,
            f"MaxRetries {retries}",
            f"MaxRetries {retries}, template.yaml says {expected_max_retries}",
            "deploy this repository's template.yaml",
        ),
    ]


# The line local/build/job_bundle.py writes into the shipped script: the digest of the package sources it carries.
_SCRIPT_VERSION = re.compile(r'^PACKAGE_SHA256 = "([0-9a-f]{64})"', re.MULTILINE)


def script_version(text: str) -> str | None:
    """The job version a shipped script names (its PACKAGE_SHA256), or None for any other file."""
    match = _SCRIPT_VERSION.search(text)
    return match.group(1) if match else None


def check_job_script(location: str, text: str | None, expected: str | None) -> CheckResult:
    """The script the job points at exists, is the project's shipped script, and is this checkout's version.

    `text` is None when the object does not exist; `expected` the version of this checkout's glue/dist/sor_job.py.
    """
    redeploy = "run `sam deploy` from this checkout: it uploads glue/dist/sor_job.py and points the job at it"
    if not location.startswith("s3://"):
        return failed("glue job script", f"Command.ScriptLocation is {location!r}, not an S3 object", redeploy)
    if text is None:
        return failed("glue job script", f"{location} does not exist: every run fails before the job starts", redeploy)
    version = script_version(text)
    if version is None:
        return failed("glue job script", f"{location} is not a script built by `make bundle`", redeploy)
    if expected is not None and version != expected:
        detail = f"{location} is job {version[:12]}, this checkout's glue/dist/sor_job.py is {expected[:12]}"
        return failed("glue job script", detail, f"{redeploy}, or verify from the checkout that was deployed")
    return passed("glue job script", f"{location}: job {version[:12]}, this checkout's")


def check_latest_tables(
    database: str, latest: Mapping[str, Mapping[str, Any]] | None, sor_tables: Iterable[str]
) -> CheckResult:
    """The latest database exists (`latest` None: GetDatabase said EntityNotFound) and its tables name SOR tables."""
    if not database:
        return failed("latest tables", "the job has no --latest_database", "deploy this repository's template.yaml")
    if latest is None:
        return failed("latest tables", f"database {database} does not exist", "deploy this repository's template.yaml")
    sor = set(sor_tables)
    orphans = sorted(set(latest) - sor)
    waiting = sorted(sor - set(latest))
    days = sorted({str(t.get("Parameters", {}).get("sor.ingestion_date")) for t in latest.values()})
    detail = f"{database}: {len(latest)} latest tables" + (f", days {days[0]}..{days[-1]}" if days else "")
    if waiting:
        detail += f"; {len(waiting)} SOR tables get theirs the next night each publishes ({', '.join(waiting[:3])})"
    if orphans:  # a SOR table dropped by hand: its latest table reads a day nobody else names
        detail += f"; {len(orphans)} without a SOR table ({', '.join(orphans[:3])}): drop them when unwanted"
    return passed("latest tables", detail)


# The identity side of a request is the simulator's to judge (permissions rows); these checks isolate a resource
# policy's own say by pairing it with an identity that allows everything.
_ANY_IDENTITY = policy_statements("any identity", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


def check_resource_policy(
    check: str,
    resource: str,
    document: Mapping[str, Any] | None,
    calls: Iterable[Call],
    role_arns: Mapping[str, str],
    account: str,
    *,
    key_policy: bool = False,
) -> CheckResult:
    """Every declared call on `resource` (a bucket's objects and itself, or a key), evaluated with the project's own
    policy evaluator (ops/iam.py) against that resource's policy `document`, as the simulator cannot: it does not
    evaluate resource policies for a role (docs/aws-facts.md "IAM: SimulatePrincipalPolicy"). A key policy must
    allow (itself, or by delegating to the account's IAM policies); a bucket policy must not deny."""
    statements = policy_statements(check, document) if document else []
    relevant = [
        c for c in calls if c.role in role_arns and (c.resource == resource or c.resource.startswith(f"{resource}/"))
    ]
    refused = []
    for call in relevant:
        principal = Principal(role_arns[call.role], account, name=call.role)
        request = AuthRequest(call.action, call.resource, dict(call.context))
        verdict = evaluate(principal, _ANY_IDENTITY, request, statements, key_policy=key_policy)
        if verdict.decision is not Decision.ALLOW:
            refused.append(f"{call.role} {call.action} on {call.resource} ({verdict.decision.value})")
    if refused:
        owner = "the key policy" if key_policy else "the bucket policy"
        return failed(
            check,
            f"{owner} of {resource} refuses: " + "; ".join(refused[:3]) + (" ..." if len(refused) > 3 else ""),
            f"change {owner} of {resource} to allow those calls of the stack's roles (see the row's role and action)"
            if not key_policy
            else "deploy this repository's template.yaml (its key policy), or restore the statements removed by hand",
        )
    return passed(
        check, f"{len(relevant)} declared calls on {resource} allowed by its {'key' if key_policy else 'bucket'} policy"
    )


def check_log_routing(job: Mapping[str, Any], log_groups: Sequence[Mapping[str, Any]], key_arn: str) -> CheckResult:
    """Glue 5 writes to /aws-glue/jobs/output and /aws-glue/jobs/error unless --custom-logGroup-prefix moves them to
    <prefix>/output and <prefix>/error ("Logging for AWS Glue jobs",
    https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html)."""
    check = "glue log routing"
    prefix = job.get("DefaultArguments", {}).get(GLUE_LOG_PREFIX_ARGUMENT)
    if not prefix:
        return failed(
            check,
            f"{GLUE_LOG_PREFIX_ARGUMENT} is not set: Glue 5 logs go to /aws-glue/jobs/output and "
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
        return failed(check, "; ".join(problems), "deploy this repository's template.yaml (it creates both groups)")
    return passed(check, f"{prefix}/output and {prefix}/error: stack key, retention set")


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
            results.append(
                passed(check, "no layer from outside the stack: Powertools is bundled at the pinned version")
            )
            continue
        kind = "a Powertools layer" if any("powertools" in arn.lower() for arn in foreign) else "an unknown layer"
        results.append(
            failed(
                check,
                f"{configuration.get('FunctionName', logical)} carries {kind}: {', '.join(foreign)}",
                "deploy this repository's template.yaml with sam build (it bundles the pinned "
                "aws-lambda-powertools and attaches no layer)",
            )
        )
    return results


# -- alerting -----------------------------------------------------------------------------------------------------


def check_incident_store(table: Mapping[str, Any], ttl: Mapping[str, Any]) -> CheckResult:
    """The incident table the Lambdas announce through (functions/incidents.py): ACTIVE, encrypted with KMS, and
    expiring items on `expires_at` (DescribeTable / DescribeTimeToLive, botocore dynamodb service-2.json)."""
    check = "incident store"
    name = table.get("TableName", "?")
    problems = []
    if table.get("TableStatus") != "ACTIVE":
        problems.append(f"status {table.get('TableStatus')}")
    sse = table.get("SSEDescription", {})
    if (sse.get("Status"), sse.get("SSEType")) != ("ENABLED", "KMS"):
        problems.append(f"encryption {sse.get('SSEType') or 'DEFAULT'} ({sse.get('Status') or 'AWS owned key'})")
    description = ttl.get("TimeToLiveDescription", {})
    if (description.get("TimeToLiveStatus"), description.get("AttributeName")) not in (
        ("ENABLED", "expires_at"),
        ("ENABLING", "expires_at"),
    ):
        problems.append(f"TTL {description.get('TimeToLiveStatus')} on {description.get('AttributeName')!r}")
    if problems:
        return failed(
            check,
            f"{name}: {', '.join(problems)}",
            "deploy this repository's template.yaml (IncidentTable: KMS, TTL on expires_at)",
        )
    return passed(check, f"{name}: ACTIVE, KMS, items expire on expires_at")


def check_failed_invocations(rule: str, statistics: Mapping[str, Any]) -> CheckResult:
    """AWS/Events FailedInvocations by RuleName, sent only when not zero
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html)."""
    check = f"rule {rule}"
    invocations = sum(point.get("Sum", 0.0) for point in statistics.get("Datapoints", []))
    if invocations > 0:
        return failed(
            check,
            f"{invocations:g} failed invocations in the last {FAILED_INVOCATIONS_DAYS} days",
            "see the failed-invocations queue (FailedInvocationsQueueUrl) and the key policy row",
        )
    return passed(check, f"no failed invocations in the last {FAILED_INVOCATIONS_DAYS} days")


def check_alert_sent(response: Mapping[str, Any] | None, topic: str) -> CheckResult:
    check = "test alert"
    if response and response.get("MessageId"):
        return passed(
            check,
            f"message {response['MessageId']} accepted by {topic.rsplit(':', 1)[-1]} "
            "(sent with your credentials, as the Lambdas send theirs through their own roles)",
        )
    return failed(check, f"no MessageId from {topic}", PUBLISH_ACCESS)
