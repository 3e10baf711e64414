"""Wiring of template.yaml: schedules, event rules, environment, job arguments, functions, alarms, outputs."""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import tomllib
from typing import Any

import pytest
from config import EXPORT_SOURCES, load_config
from glue_runs import job_arguments

from ops.stack import ACCOUNT, CLUSTER, REGION, ROOT, Stack, allows, role_statements, rule_matches
from sor_job.config import parse_args
from sor_job.errors import ExportError

# The Lambda contract (docs/contracts.md "Lambda configuration"): exactly these variables configure both functions.
CONTRACT_ENV = {
    "CLUSTER_IDENTIFIER",
    "EXPORT_SOURCE",
    "EXPORT_BUCKET",
    "EXPORT_PREFIX",
    "EXPORT_ROLE_ARN",
    "EXPORT_KMS_KEY_ARN",
    "EXPORT_ONLY",
    "SCHEDULE_TIMEZONE",
    "MAX_SNAPSHOT_AGE_HOURS",
    "GLUE_JOB_NAME",
    "SOR_BUCKET",
    "CATALOG_DATABASE",
    "ALERT_TOPIC_ARN",
    "INCIDENT_TABLE",
}
# Export outcome events (docs/contracts.md "on_export_event input"): completed, failed/canceled, table failed.
EXPORT_EVENT_IDS = {f"RDS-EVENT-{n}" for n in ("0164", "0236", "0161", "0162", "0163", "0234", "0235", "0159", "0160")}
EXPORT_EVENT_IDS.add("RDS-EVENT-0489")
EVENTS = ROOT / "tests" / "events"
FUNCTIONS = {"StartExportFunction": "start_export", "OnExportEventFunction": "on_export_event"}


def _targeting(stack: Stack, type_: str, function: str) -> list[dict[str, Any]]:
    function_arn = stack.get_att(function, "Arn")
    found = []
    for name in stack.of_type(type_):
        props = stack.props(name)
        targets = [props["Target"]] if "Target" in props else props.get("Targets", [])
        if any(t["Arn"] == function_arn for t in targets):
            found.append(props)
    return found


def _env(stack: Stack, function: str) -> dict[str, str]:
    return stack.props(function)["Environment"]["Variables"]


# -- schedules ------------------------------------------------------------------------------------------
def test_nightly_schedule_runs_start_export_at_3am_sao_paulo_with_retries_and_dlq(stack: Stack) -> None:
    (schedule,) = _targeting(stack, "AWS::Scheduler::Schedule", "StartExportFunction")
    assert schedule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert schedule["ScheduleExpressionTimezone"] == "America/Sao_Paulo"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    assert target["DeadLetterConfig"]["Arn"] == stack.get_att("FailedInvocationsQueue", "Arn")
    assert json.loads(target["Input"]) == {}
    # A fixed name would clash between two stacks in one account (default and prod environments).
    assert "Name" not in schedule


def test_schedule_role_may_invoke_only_its_function_and_write_its_dlq(stack: Stack) -> None:
    (schedule,) = _targeting(stack, "AWS::Scheduler::Schedule", "StartExportFunction")
    role = schedule["Target"]["RoleArn"].rsplit("/", 1)[-1]
    (logical,) = [n for n in stack.of_type("AWS::IAM::Role") if stack.ref(n) == role]
    statements = role_statements(stack, logical)
    assert {a for s in statements for a in s.actions} == {"lambda:InvokeFunction", "sqs:SendMessage"}
    assert allows(statements, "lambda:InvokeFunction", stack.get_att("StartExportFunction", "Arn"))
    assert allows(statements, "sqs:SendMessage", stack.get_att("FailedInvocationsQueue", "Arn"))


def test_reconcile_schedule_invokes_on_export_event_with_the_reconcile_action(stack: Stack) -> None:
    (schedule,) = _targeting(stack, "AWS::Scheduler::Schedule", "OnExportEventFunction")
    assert json.loads(schedule["Target"]["Input"]) == {"action": "reconcile"}
    assert schedule["ScheduleExpression"].startswith(("rate(", "cron("))
    assert schedule["Target"]["DeadLetterConfig"]["Arn"] == stack.get_att("FailedInvocationsQueue", "Arn")


# -- event rules, matched with moto's implementation of EventBridge event patterns ------------------------
@pytest.fixture
def rds_rule(stack: Stack) -> dict[str, Any]:
    (rule,) = [
        r
        for r in _targeting(stack, "AWS::Events::Rule", "OnExportEventFunction")
        if "aws.rds" in r["EventPattern"]["source"]
    ]
    return rule


def _fixture(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    "fixture",
    ["rds-event-0164-cluster-snapshot-export-completed.json", "rds-event-0236-cluster-export-completed.json"],
)
def test_rds_rule_matches_the_documented_completion_events(rds_rule: dict[str, Any], fixture: str) -> None:
    assert rule_matches(rds_rule["EventPattern"], _fixture(fixture))


def test_rds_rule_ignores_the_automated_snapshot_created_event(rds_rule: dict[str, Any]) -> None:
    event = _fixture("rds-event-0169-automated-cluster-snapshot-created.json")
    assert event["detail"]["EventID"] == "RDS-EVENT-0169"
    assert not rule_matches(rds_rule["EventPattern"], event)


def test_rds_rule_matches_every_export_event_fixture_and_nothing_else(rds_rule: dict[str, Any]) -> None:
    seen = set()
    for path in sorted(EVENTS.glob("*.json")):
        event = json.loads(path.read_text())
        if "detail" not in event:  # schedule payloads and manual invocations are not EventBridge events
            continue
        expected = event["source"] == "aws.rds" and event["detail"].get("EventID") in EXPORT_EVENT_IDS
        assert rule_matches(rds_rule["EventPattern"], event) is expected, path.name
        if expected:
            seen.add(event["detail"]["EventID"])
    assert seen == EXPORT_EVENT_IDS, "every export event of the contract has a fixture that the rule matches"


def test_rds_rule_lists_exactly_the_contract_event_ids(stack: Stack, rds_rule: dict[str, Any]) -> None:
    assert rds_rule["EventPattern"]["source"] == ["aws.rds"]
    assert set(rds_rule["EventPattern"]["detail"]["EventID"]) == EXPORT_EVENT_IDS
    (target,) = rds_rule["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == stack.get_att("FailedInvocationsQueue", "Arn")
    assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_glue_failure_rule_alerts_on_failed_timeout_error_of_our_job_only(stack: Stack) -> None:
    rule = stack.props("GlueJobFailedRule")
    job = stack.ref("SorJob")

    def glue_event(state: str, job_name: str = job) -> dict[str, Any]:
        return {
            "version": "0",
            "id": "1",
            "detail-type": "Glue Job State Change",
            "source": "aws.glue",
            "account": ACCOUNT,
            "time": "2026-11-26T09:00:00Z",
            "region": REGION,
            "resources": [],
            "detail": {"jobName": job_name, "state": state, "jobRunId": "jr_1", "message": "boom"},
        }

    for state in ("FAILED", "TIMEOUT", "ERROR"):
        assert rule_matches(rule["EventPattern"], glue_event(state)), state
    for state in ("SUCCEEDED", "STOPPED", "RUNNING"):
        assert not rule_matches(rule["EventPattern"], glue_event(state)), state
    assert not rule_matches(rule["EventPattern"], glue_event("FAILED", "someone-elses-job"))
    assert not rule_matches(rule["EventPattern"], _fixture("glue-job-state-change-foreign.json"))
    # To on_export_event, which announces the day's incident once (functions/glue_events.py), through a permission
    # scoped to this rule.
    (target,) = rule["Targets"]
    assert target["Arn"] == stack.get_att("OnExportEventFunction", "Arn")
    (permission,) = [
        stack.props(n)
        for n in stack.of_type("AWS::Lambda::Permission")
        if stack.props(n).get("SourceArn") == stack.get_att("GlueJobFailedRule", "Arn")
    ]
    assert permission["FunctionName"] == stack.ref("OnExportEventFunction")
    assert (permission["Action"], permission["Principal"]) == ("lambda:InvokeFunction", "events.amazonaws.com")


def test_only_alarms_and_the_lambdas_publish_to_the_topic(stack: Stack) -> None:
    policy = stack.props("AlertTopicPolicy")["PolicyDocument"]["Statement"]
    by_service = {
        s["Principal"]["Service"]: s for s in policy if s["Effect"] == "Allow" and "Service" in s.get("Principal", {})
    }
    assert set(by_service) == {"cloudwatch.amazonaws.com"}
    assert by_service["cloudwatch.amazonaws.com"]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT
    key_policy = stack.props("DataKey")["KeyPolicy"]["Statement"]
    services = {svc for s in key_policy for svc in _services(s)}
    assert "cloudwatch.amazonaws.com" in services, "alarms must be able to use the topic key"
    assert "events.amazonaws.com" not in services, "EventBridge no longer delivers to the topic"


TOPIC_KMS_ACTIONS = {"kms:GenerateDataKey*", "kms:Decrypt"}  # the statement of the SNS "Key management" page


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return set(action if isinstance(action, list) else [action])


def test_alarms_can_use_the_topic_key_through_their_own_statement(stack: Stack) -> None:
    key_policy = stack.props("DataKey")["KeyPolicy"]["Statement"]
    (for_alarms,) = [s for s in key_policy if s["Effect"] == "Allow" and "cloudwatch.amazonaws.com" in _services(s)]
    assert _services(for_alarms) == ["cloudwatch.amazonaws.com"]
    assert _actions(for_alarms) >= TOPIC_KMS_ACTIONS
    assert for_alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


@pytest.mark.parametrize("rule", ["GlueJobFailedRule", "OnExportEventFunctionRdsExportEvents"])
def test_a_rule_whose_deliveries_fail_raises_an_alarm(stack: Stack, rule: str) -> None:
    # AWS/Events FailedInvocations, dimension RuleName (default bus), sent only when non-zero
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-monitoring.html).
    assert stack.resources[rule]["Type"] == "AWS::Events::Rule"
    alarms = [stack.props(n) for n in stack.of_type("AWS::CloudWatch::Alarm")]
    (alarm,) = [
        a
        for a in alarms
        if (a["Namespace"], a["MetricName"]) == ("AWS/Events", "FailedInvocations")
        and a["Dimensions"] == [{"Name": "RuleName", "Value": stack.ref(rule)}]
    ]
    assert alarm["Statistic"] == "Sum"
    assert (alarm["ComparisonOperator"], float(alarm["Threshold"])) == ("GreaterThanOrEqualToThreshold", 1.0)
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [stack.ref("AlertTopic")]


def test_a_glue_failure_alert_that_cannot_be_delivered_is_kept_in_the_failed_invocations_queue(stack: Stack) -> None:
    (target,) = stack.props("GlueJobFailedRule")["Targets"]
    assert target["DeadLetterConfig"]["Arn"] == stack.get_att("FailedInvocationsQueue", "Arn")
    assert int(target["RetryPolicy"]["MaximumRetryAttempts"]) >= 1


def _services(statement: dict[str, Any]) -> list[str]:
    service = statement.get("Principal", {}).get("Service", [])
    return service if isinstance(service, list) else [service]


# -- environment and job arguments -------------------------------------------------------------------------
@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_contract_variable_is_set_and_accepted_by_the_functions_config(
    either_stack: Stack, function: str
) -> None:
    env = _env(either_stack, function)
    assert set(env) >= CONTRACT_ENV
    config = load_config(env)  # the functions' own validation: a value it would refuse fails here

    assert config.export_bucket == either_stack.ref("ExportBucket")
    assert config.export_role_arn == either_stack.get_att("ExportRole", "Arn")
    assert config.export_kms_key_arn == either_stack.get_att("DataKey", "Arn")
    assert config.glue_job_name == either_stack.ref("SorJob")
    assert config.catalog_database == either_stack.ref("CatalogDatabase")
    assert config.alert_topic_arn == either_stack.ref("AlertTopic")
    assert config.sor_bucket == _sor_bucket(either_stack)
    assert config.cluster_identifier == CLUSTER
    assert env["POWERTOOLS_SERVICE_NAME"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "aurora-sor"


def _sor_bucket(stack: Stack) -> str:
    existing = stack.values["ExistingSorBucketName"]
    if existing:
        assert "SorBucket" not in stack.resources, "an existing bucket replaces the stack's own"
        return existing
    return stack.ref("SorBucket")


def test_export_source_choices_are_the_ones_the_functions_know(raw_template: dict[str, Any]) -> None:
    assert tuple(raw_template["Parameters"]["ExportSource"]["AllowedValues"]) == EXPORT_SOURCES


def test_export_prefix_is_where_the_export_role_writes_and_the_glue_role_reads(either_stack: Stack) -> None:
    config = load_config(_env(either_stack, "StartExportFunction"))
    export_object = config.export_uri("aurora-sor-mycluster-2026-11-26").removeprefix("s3://") + "x.parquet"
    arn = f"arn:aws:s3:::{export_object}"
    assert allows(role_statements(either_stack, "ExportRole"), "s3:PutObject", arn)
    assert allows(role_statements(either_stack, "GlueJobRole"), "s3:GetObject", arn)
    outside = f"arn:aws:s3:::{config.export_bucket}/elsewhere/x.parquet"
    assert not allows(role_statements(either_stack, "ExportRole"), "s3:PutObject", outside)
    assert not allows(role_statements(either_stack, "GlueJobRole"), "s3:GetObject", outside)


def test_glue_run_arguments_parse_into_the_stack_resources(either_stack: Stack) -> None:
    """DefaultArguments + what on_export_event passes per run = a command line the job accepts."""
    config = load_config(_env(either_stack, "OnExportEventFunction"))
    export_uri = config.export_uri("aurora-sor-mycluster-2026-11-26")
    per_run = job_arguments(config, export_uri, dt.date(2026, 11, 26), "aurora-postgresql")
    arguments = {**either_stack.props("SorJob")["DefaultArguments"], **per_run}
    argv = [part for pair in arguments.items() for part in pair]

    job = parse_args(argv)
    assert job.export_bucket == either_stack.ref("ExportBucket")
    assert job.sor_bucket == _sor_bucket(either_stack)
    assert job.catalog_database == either_stack.ref("CatalogDatabase")
    assert job.sor_kms_key_arn == either_stack.get_att("DataKey", "Arn")
    assert job.metrics_namespace == "aurora-sor"


def test_default_arguments_alone_point_at_the_stack_resources(either_stack: Stack) -> None:
    """A run started by hand (console, CLI) passes the export, the date and the source engine (README Operations);
    the rest must be right. Without the engine it is refused before anything is read: the export does not say it."""
    defaults = either_stack.props("SorJob")["DefaultArguments"]
    export_uri = f"s3://{either_stack.ref('ExportBucket')}/exports/aurora-sor-mycluster-2026-11-26/"
    argv = [part for pair in defaults.items() for part in pair]
    argv += ["--export_uri", export_uri, "--ingestion_date", "2026-11-26"]
    job = parse_args([*argv, "--source_engine", "aurora-postgresql"])
    assert job.sor_bucket == _sor_bucket(either_stack)
    assert job.catalog_database == either_stack.ref("CatalogDatabase")
    assert job.sor_kms_key_arn == either_stack.get_att("DataKey", "Arn")
    assert job.source_engine == "aurora-postgresql"
    with pytest.raises(ExportError, match="--source_engine"):
        parse_args(argv)
    assert parse_args([*argv, "--restore_types", "false"]).source_engine == ""


def test_glue_job_shape(stack: Stack, raw_template: dict[str, Any]) -> None:
    raw = raw_template["Resources"]["SorJob"]["Properties"]
    assert raw["Command"]["ScriptLocation"] == "glue/dist/sor_job.py", "a local path, so sam package uploads it"
    assert (ROOT / raw["Command"]["ScriptLocation"]).is_file()
    job = stack.props("SorJob")
    assert job["Command"]["Name"] == "glueetl"
    assert job["Command"]["PythonVersion"] == "3"
    assert job["GlueVersion"].startswith("5.")
    assert (job["WorkerType"], job["NumberOfWorkers"]) == ("G.1X", "2")
    assert job["ExecutionClass"] == "FLEX"
    assert job["ExecutionProperty"]["MaxConcurrentRuns"] == 1
    # No Glue retry: a table failing the same way every night must not re-run the whole job, and retries count
    # against reconcile's automatic-run limit; reconcile re-runs interrupted runs that left no manifest.
    assert job["MaxRetries"] == 0
    assert int(job["Timeout"]) > 0
    args = job["DefaultArguments"]
    assert args["--job-bookmark-option"] == "job-bookmark-disable"
    assert args["--enable-metrics"] == "true"
    assert job["Role"] == stack.get_att("GlueJobRole", "Arn")


# -- functions ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("function", "module"), sorted(FUNCTIONS.items()))
def test_function_runtime_handler_bundle_logs_and_failure_destination(stack: Stack, function: str, module: str) -> None:
    props = stack.props(function)
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == f"{module}.handler"
    source = ROOT / "functions" / f"{module}.py"
    tree = ast.parse(source.read_text())
    assert any(isinstance(node, ast.FunctionDef) and node.name == "handler" for node in tree.body), source
    # Powertools is bundled at the pinned release (functions/requirements.txt, tests/test_pins.py), not layered.
    assert not props.get("Layers"), "a layer would shadow or diverge from the bundled, tested Powertools"
    assert props["TracingConfig"] == {"Mode": "Active"}
    log_group = props["LoggingConfig"]["LogGroup"]
    (logical,) = [n for n in stack.of_type("AWS::Logs::LogGroup") if stack.ref(n) == log_group]
    assert int(stack.props(logical)["RetentionInDays"]) > 0
    assert props["Role"] == stack.get_att(_role(function), "Arn")

    (invoke_config,) = [
        stack.props(n)
        for n in stack.of_type("AWS::Lambda::EventInvokeConfig")
        if stack.props(n)["FunctionName"] == stack.ref(function)
    ]
    destination = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == stack.get_att("FailedInvocationsQueue", "Arn")
    assert allows(role_statements(stack, _role(function)), "sqs:SendMessage", destination)


def _role(function: str) -> str:
    return f"{function.removesuffix('Function')}Role"


def test_lambda_error_alarms_and_no_publish_alarm_reach_the_topic(stack: Stack) -> None:
    alarms = {name: stack.props(name) for name in stack.of_type("AWS::CloudWatch::Alarm")}
    topic = stack.ref("AlertTopic")
    assert all(topic in a["AlarmActions"] for a in alarms.values())
    errors = {d["Value"] for a in alarms.values() if a["MetricName"] == "Errors" for d in a["Dimensions"]}
    assert errors == {stack.ref(f) for f in FUNCTIONS}

    (publish,) = [a for a in alarms.values() if a["MetricName"] == "PublishSucceeded"]
    assert publish["Namespace"] == "aurora-sor"
    assert publish["Dimensions"] == [{"Name": "CatalogDatabase", "Value": stack.ref("CatalogDatabase")}]
    assert publish["Statistic"] == "Maximum"
    assert (publish["ComparisonOperator"], float(publish["Threshold"])) == ("LessThanThreshold", 1.0)
    assert publish["TreatMissingData"] == "breaching"
    window = int(publish["Period"]) * int(publish["EvaluationPeriods"])
    assert window == 26 * 3600
    assert int(publish["DatapointsToAlarm"]) == int(publish["EvaluationPeriods"])
    # PutMetricAlarm: Period x EvaluationPeriods <= 7 days, and <= 1 day for periods under an hour.
    assert window <= 7 * 24 * 3600
    assert int(publish["Period"]) >= 3600


def test_athena_workgroup_enforces_encrypted_results_and_a_scan_limit(stack: Stack) -> None:
    config = stack.props("AthenaWorkGroup")["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert int(config["BytesScannedCutoffPerQuery"]) > 0
    results = config["ResultConfiguration"]
    assert results["OutputLocation"].startswith(f"s3://{stack.ref('AthenaResultsBucket')}/")
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": stack.get_att("DataKey", "Arn"),
    }
    queries = [stack.props(n) for n in stack.of_type("AWS::Athena::NamedQuery")]
    assert len(queries) >= 3
    assert all(q["WorkGroup"] == stack.ref("AthenaWorkGroup") for q in queries)
    latest = [q for q in queries if q["Database"] == "sor_latest"]  # the latest database: <db>_latest by default
    assert [q["Name"] for q in latest] == ["SOR - latest day of a table"]
    assert all(q["Database"] == "sor" for q in queries if q not in latest)


def test_the_latest_database_is_the_sor_databases_name_with_latest_unless_named(translated: dict[str, Any]) -> None:
    default = Stack(translated, {"ClusterIdentifier": CLUSTER, "CatalogDatabaseName": "lake"})
    named = Stack(translated, {"ClusterIdentifier": CLUSTER, "LatestCatalogDatabaseName": "current"})
    assert default.props("LatestCatalogDatabase")["DatabaseInput"]["Name"] == "lake_latest"
    assert named.props("LatestCatalogDatabase")["DatabaseInput"]["Name"] == "current"
    assert named.props("SorJob")["DefaultArguments"]["--latest_database"] == named.ref("LatestCatalogDatabase")
    statements = {s["Sid"]: s for s in named.props("GlueJobRole")["Policies"][0]["PolicyDocument"]["Statement"]}
    resources = statements["ManageLatestTables"]["Resource"]
    assert [r.rsplit(":", 1)[-1] for r in resources] == ["catalog", "database/current", "table/current/*"]


def test_email_subscription_only_when_an_address_is_given(translated: dict[str, Any]) -> None:
    without = Stack(translated, {"ClusterIdentifier": CLUSTER})
    with_mail = Stack(translated, {"ClusterIdentifier": CLUSTER, "AlertEmail": "ops@example.com"})
    assert not without.of_type("AWS::SNS::Subscription")
    (subscription,) = [with_mail.props(n) for n in with_mail.of_type("AWS::SNS::Subscription")]
    assert subscription == {"TopicArn": with_mail.ref("AlertTopic"), "Protocol": "email", "Endpoint": "ops@example.com"}


def test_outputs_name_what_operators_need(raw_template: dict[str, Any]) -> None:
    outputs = set(raw_template["Outputs"])
    assert {
        "ExportBucketName",
        "SorBucketName",
        "AthenaResultsBucketName",
        "CatalogDatabaseName",
        "AthenaWorkGroupName",
        "AlertTopicArn",
        "SorJobName",
    } <= outputs


def test_template_parameters_are_documented_in_the_deploy_section(raw_template: dict[str, Any]) -> None:
    text = (ROOT / "README.md").read_text()
    assert "sam deploy --guided" in text
    missing = [name for name in raw_template["Parameters"] if f"`{name}`" not in text]
    assert not missing, f"undocumented parameters: {missing}"


def test_samconfig_environments_override_only_real_parameters(raw_template: dict[str, Any]) -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    parameters = raw_template["Parameters"]
    required = {name for name, spec in parameters.items() if "Default" not in spec}
    for env in ("default", "prod"):
        deploy = config[env]["deploy"]["parameters"]
        overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])
        assert set(overrides) <= set(parameters), env
        assert required <= set(overrides), env
        assert deploy["resolve_s3"] is True
        assert "CAPABILITY_NAMED_IAM" in deploy["capabilities"].split()
        assert config[env]["global"]["parameters"]["stack_name"]
        for name, value in overrides.items():
            pattern = parameters[name].get("AllowedPattern")
            allowed = parameters[name].get("AllowedValues")
            if pattern:
                assert re.fullmatch(pattern, value), (env, name)
            if allowed:
                assert value in [str(v) for v in allowed], (env, name)


# -- Glue 5 logging ---------------------------------------------------------------------------------------
# "Logging for AWS Glue jobs" (https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html):
# Glue 5.0 writes driver/executor stdout and stderr to /aws-glue/jobs/output and system logs to /aws-glue/jobs/error,
# or to <prefix>/output and <prefix>/error with --custom-logGroup-prefix. The continuous-logging arguments are
# documented for Glue 4.0 and earlier only (monitor-continuous-logging-enable.html).
GLUE4_LOG_ARGUMENTS = {
    "--enable-continuous-cloudwatch-log",
    "--continuous-log-logGroup",
    "--enable-continuous-log-filter",
}


def _glue_log_groups(stack: Stack) -> dict[str, str]:
    prefix = stack.props("SorJob")["DefaultArguments"]["--custom-logGroup-prefix"]
    return {kind: f"{prefix}/{kind}" for kind in ("output", "error")}


def test_glue_5_logs_go_to_log_groups_the_stack_creates_encrypted_and_expiring(either_stack: Stack) -> None:
    args = either_stack.props("SorJob")["DefaultArguments"]
    assert not GLUE4_LOG_ARGUMENTS & set(args), "Glue 5 ignores these; they only mislead"
    groups = {either_stack.ref(n): either_stack.props(n) for n in either_stack.of_type("AWS::Logs::LogGroup")}
    for name in _glue_log_groups(either_stack).values():
        assert name in groups, f"{name} is not created by the stack (it would be unencrypted and never expire)"
        assert groups[name]["KmsKeyId"] == either_stack.get_att("DataKey", "Arn")
        assert groups[name]["RetentionInDays"] == either_stack.ref("LogRetentionDays")
    # Glue renames the groups when the security configuration encrypts CloudWatch logs itself
    # (JobRun.LogGroupName: /aws-glue/jobs-<role>-<security configuration>/); the groups above must stay the target.
    security = either_stack.props("SorJobSecurityConfiguration")["EncryptionConfiguration"]
    assert security["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "DISABLED"


def test_glue_role_may_write_only_its_own_log_groups(either_stack: Stack) -> None:
    statements = role_statements(either_stack, "GlueJobRole")
    logs = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group"
    for name in _glue_log_groups(either_stack).values():
        stream = f"{logs}:{name}:log-stream:jr_0123-driver"
        assert allows(statements, "logs:CreateLogStream", stream)
        assert allows(statements, "logs:PutLogEvents", stream)
        # the documented form for IAM policies: the group's ARN with a trailing ":*", and without it for the rest
        group_resources = {r for s in statements if "logs:CreateLogStream" in s.actions for r in s.resources}
        assert {f"{logs}:{name}:*", f"{logs}:{name}"} <= group_resources
    for other in ("/aws-glue/jobs/output", "/aws-glue/jobs/error", "/aws-glue/jobs/another-job/output"):
        assert not allows(statements, "logs:PutLogEvents", f"{logs}:{other}:log-stream:jr_0123-driver"), other
        assert not allows(statements, "logs:CreateLogGroup", f"{logs}:{other}"), other
    log_actions = {a for s in statements for a in s.actions if a.startswith("logs:")}
    assert log_actions <= {"logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"}


def test_no_parameter_names_a_powertools_layer(raw_template: dict[str, Any]) -> None:
    assert "PowertoolsLayerVersion" not in raw_template["Parameters"]
    assert "Layers" not in raw_template["Globals"]["Function"]
