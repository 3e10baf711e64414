"""What each role's code asks of AWS: the one declaration behind the emulator's IAM enforcement and the verifier.

Every AWS request a component makes (start_export, on_export_event, the Glue job, RDS export writing as the export
role) is one `Call`: the role it runs as, the IAM action, the resource ARN and the request context keys AWS puts on
it. The emulator's enforcement (ops/iam.py) refuses any request that is not declared here, and the deployment
verifier (ops/verify_deployment.py) asks `iam:SimulatePrincipalPolicy` about exactly these calls in a real
account, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ops.iam import Policies, Principal, like
from ops.stack import Stack, policy_statements, role_statements


@dataclass(frozen=True)
class Names:
    """The physical names of one deployed stack (from its outputs and resources): what a resource ARN is built of."""

    partition: str
    region: str
    account: str
    cluster_identifier: str
    export_bucket: str
    export_prefix: str
    sor_bucket: str
    catalog_database: str
    key_arn: str
    alert_topic_arn: str
    glue_job_name: str
    role_arns: Mapping[str, str]  # role logical id in template.yaml -> role ARN
    glue_job_metrics: bool = True  # the job runs with --enable-metrics: Glue publishes its own metrics as the role
    glue_log_prefix: str = ""  # the job's --custom-logGroup-prefix: Glue writes <prefix>/output and <prefix>/error
    glue_script: str = ""  # the job's Command.ScriptLocation once packaged (s3://bucket/key): Glue reads it as the role
    latest_database: str = ""  # the job's --latest_database: where it keeps the latest tables (empty: none)
    incident_table: str = ""  # the Lambdas' INCIDENT_TABLE: the incident store (functions/incidents.py)


@dataclass(frozen=True)
class Call:
    """One kind of request a role's code makes, as IAM sees it."""

    role: str  # logical id of the role in template.yaml, e.g. "OnExportEventRole"
    action: str  # e.g. "s3:GetObject"
    resource: str  # a concrete ARN for the given Names (an example key where the code builds keys per day)
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # condition keys the request carries
    why: str = ""  # which code path makes it
    # IAM-style wildcard pattern of every resource this kind of call may name (the code builds keys per day and
    # per table); empty means exactly `resource`. The emulator refuses a request that no declared call covers.
    pattern: str = ""

    def covers(self, role: str, action: str, resource: str) -> bool:
        return role == self.role and action == self.action and like(self.pattern or self.resource, resource)


# Roles whose code the project runs (ExportRole: what RDS writes as it, done locally by local/export_emulator/task.py).
ROLES = ("StartExportRole", "OnExportEventRole", "GlueJobRole", "ExportRole")

EXAMPLE_DAY = "2026-11-26"
_TLS = {"aws:SecureTransport": ("true",)}  # real SDKs call AWS over HTTPS


def declared_calls(names: Names) -> list[Call]:
    """Every call of every role, for the stack `names` describes."""
    return [
        *_start_export(names),
        *_on_export_event(names),
        *_glue_job(names),
        *_export_role(names),
    ]


def kms_via(names: Names, service: str, context: Mapping[str, str] | None = None) -> dict[str, tuple[str, ...]]:
    """What an AWS service adds when it calls KMS for the caller: kms:ViaService and kms:CallerAccount (KMS
    condition keys, https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html), plus the
    service's encryption context as kms:EncryptionContext:<key>."""
    keys = {
        "kms:ViaService": (f"{service}.{names.region}.amazonaws.com",),
        "kms:CallerAccount": (names.account,),
        **_TLS,
    }
    keys.update({f"kms:EncryptionContext:{k}": (v,) for k, v in (context or {}).items()})
    return keys


def _arn(names: Names, service: str, resource: str, *, region: bool = True) -> str:
    return f"arn:{names.partition}:{service}:{names.region if region else ''}:{names.account}:{resource}"


def _s3(names: Names, bucket: str, key: str | None = None) -> str:
    return f"arn:{names.partition}:s3:::{bucket}" + (f"/{key}" if key is not None else "")


def _alerts(names: Names, role: str, why: str) -> list[Call]:
    """sns:Publish to the alert topic, and the KMS use SNS makes for an encrypted topic: GenerateDataKey and
    Decrypt via sns.<region>.amazonaws.com, context aws:sns:topicArn (SNS developer guide, "Key management",
    https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html)."""
    kms = kms_via(names, "sns", {"aws:sns:topicArn": names.alert_topic_arn})
    return [
        Call(role, "sns:Publish", names.alert_topic_arn, _TLS, why),
        Call(role, "kms:GenerateDataKey", names.key_arn, kms, f"{why} (encrypted topic)"),
        Call(role, "kms:Decrypt", names.key_arn, kms, f"{why} (encrypted topic)"),
    ]


def _incidents(names: Names, role: str, why: str, *, scan: bool = False) -> list[Call]:
    """The incident store (functions/incidents.py): GetItem, a conditional PutItem, DeleteItem to undo a claim SNS
    refused, and reconcile's Scan. The table is encrypted with the AWS managed key aws/dynamodb, which DynamoDB uses
    for any principal of the account allowed the table, so the calls carry no KMS request of the caller's
    ("DynamoDB encryption at rest", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html)."""
    if not names.incident_table:
        return []
    table = _arn(names, "dynamodb", f"table/{names.incident_table}")
    actions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"] + (["dynamodb:Scan"] if scan else [])
    return [Call(role, action, table, _TLS, why) for action in actions]


def _start_export(names: Names) -> list[Call]:
    role = "StartExportRole"
    cluster = _arn(names, "rds", f"cluster:{names.cluster_identifier}")
    snapshot = _arn(names, "rds", f"cluster-snapshot:rds:{names.cluster_identifier}-{EXAMPLE_DAY}-03-05")
    snapshots = _arn(names, "rds", "cluster-snapshot:*")
    export_role = names.role_arns["ExportRole"]
    rds_kms = {"kms:ViaService": (f"rds.{names.region}.amazonaws.com",), "kms:CallerAccount": (names.account,)}
    return [
        Call(role, "rds:DescribeDBClusters", cluster, _TLS, "sources: the cluster's engine and status"),
        # SAR-RDS: DescribeDBClusterSnapshots is authorized on the cluster and on cluster snapshots.
        Call(role, "rds:DescribeDBClusterSnapshots", cluster, _TLS, "sources: the newest automated snapshot"),
        Call(role, "rds:DescribeDBClusterSnapshots", snapshots, _TLS, "sources: the newest automated snapshot"),
        Call(role, "rds:DescribeExportTasks", "*", _TLS, "export_tasks: tasks already started for the day"),
        Call(role, "rds:StartExportTask", snapshot, _TLS, "export_tasks: export the automated snapshot",
             pattern=_arn(names, "rds", f"cluster-snapshot:rds:{names.cluster_identifier}-*")),
        Call(role, "rds:StartExportTask", cluster, _TLS, "export_tasks: ExportSource=cluster"),
        Call(role, "rds:StartExportTask", _arn(names, "rds", f"cluster-snapshot:{names.cluster_identifier}-manual"),
             _TLS, "export_tasks: a backfill naming a manual snapshot <cluster>-... (payload source_arn)",
             pattern=_arn(names, "rds", f"cluster-snapshot:{names.cluster_identifier}-*")),
        # StartExportTask passes the export role and lets RDS use the key through a grant (API_StartExportTask,
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_StartExportTask.html).
        Call(role, "iam:PassRole", export_role, _TLS, "StartExportTask's IamRoleArn"),
        Call(role, "kms:CreateGrant", names.key_arn, {**rds_kms, "kms:GrantIsForAWSResource": ("true",)},
             "StartExportTask's KmsKeyId: RDS creates a grant for the export"),
        Call(role, "kms:DescribeKey", names.key_arn, rds_kms, "StartExportTask's KmsKeyId"),
        *_alerts(names, role, "alerts: a refused start"),
        *_incidents(names, role, "incidents: a refused day is announced once"),
    ]  # fmt: skip


def example_manifest_key(names: Names, day: str = EXAMPLE_DAY) -> str:
    return f"_manifests/{names.catalog_database}/ingestion_date={day}/manifest.json"


def _on_export_event(names: Names) -> list[Call]:
    role = "OnExportEventRole"
    job = _arn(names, "glue", f"job/{names.glue_job_name}")
    cluster = _arn(names, "rds", f"cluster:{names.cluster_identifier}")
    snapshot = _arn(names, "rds", f"cluster-snapshot:rds:{names.cluster_identifier}-{EXAMPLE_DAY}-03-05")
    manifests = f"_manifests/{names.catalog_database}/"
    key = example_manifest_key(names)
    s3_kms = kms_via(names, "s3", {"aws:s3:arn": _s3(names, names.sor_bucket)})
    return [
        Call(role, "rds:DescribeExportTasks", "*", _TLS, "export_tasks: the tasks of an event's source"),
        Call(role, "rds:DescribeDBClusters", cluster, _TLS, "sources: the cluster's engine (--source_engine)"),
        Call(role, "rds:DescribeDBClusterSnapshots", snapshot, _TLS,
             "sources: a snapshot's engine when the cluster is gone (--source_engine)",
             pattern=_arn(names, "rds", "cluster-snapshot:*")),
        Call(role, "glue:StartJobRun", job, _TLS, "glue_runs: start a run for a completed export"),
        Call(role, "glue:GetJobRuns", job, _TLS, "glue_runs: is a run already going?"),
        Call(role, "glue:GetJobRun", job, _TLS, "reconcile: a run's outcome"),
        # The manifest is looked up by listing its exact key first (the prefix condition holds), then read.
        Call(role, "s3:ListBucket", _s3(names, names.sor_bucket), {"s3:prefix": (key,), **_TLS},
             "manifests: is the day's manifest there?"),
        Call(role, "s3:GetObject", _s3(names, names.sor_bucket, key), _TLS, "manifests: read the day's manifest",
             pattern=_s3(names, names.sor_bucket, f"{manifests}*")),
        Call(role, "kms:Decrypt", names.key_arn, s3_kms, "manifests: the manifest is SSE-KMS"),
        *_alerts(names, role, "alerts: failed exports and runs, reconcile findings"),
        *_incidents(names, role, "incidents: each problem announced once, reminded daily, its end said", scan=True),
    ]  # fmt: skip


def _glue_job(names: Names) -> list[Call]:
    role = "GlueJobRole"
    export_id = f"aurora-sor-{names.cluster_identifier}-{EXAMPLE_DAY}"
    export_root = f"{names.export_prefix}/{export_id}/" if names.export_prefix else f"{export_id}/"
    export_object = f"{export_root}shop/public.orders/1/part-00000-0.gz.parquet"
    db = names.catalog_database
    table = f"{db}/public_orders/ingestion_date={EXAMPLE_DAY}/part-00000-0.gz.parquet"
    sor_kms = kms_via(names, "s3", {"aws:s3:arn": _s3(names, names.sor_bucket)})
    export_kms = kms_via(names, "s3", {"aws:s3:arn": _s3(names, names.export_bucket)})
    catalog = _arn(names, "glue", "catalog")
    database = _arn(names, "glue", f"database/{db}")
    a_table = _arn(names, "glue", f"table/{db}/public_orders")
    any_table = _arn(names, "glue", f"table/{db}/*")
    sor = _s3(names, names.sor_bucket)
    calls = [
        Call(role, "s3:ListBucket", _s3(names, names.export_bucket), {"s3:prefix": (export_root,), **_TLS},
             "read the export's listing", pattern=_s3(names, names.export_bucket)),
        Call(role, "s3:GetObject", _s3(names, names.export_bucket, export_object), _TLS,
             "read export metadata, Parquet footers, copy sources",
             pattern=_s3(names, names.export_bucket, f"{names.export_prefix}/*" if names.export_prefix else "*")),
        Call(role, "kms:Decrypt", names.key_arn, export_kms, "the export is SSE-KMS (RDS writes it with the key)"),
        Call(role, "s3:ListBucket", sor, {"s3:prefix": (f"{db}/public_orders/ingestion_date={EXAMPLE_DAY}/",), **_TLS},
             "list a partition before and after the copy"),
        Call(role, "s3:ListBucket", sor, {"s3:prefix": (f"_manifests/{db}/ingestion_date={EXAMPLE_DAY}/",), **_TLS},
             "list the day's manifest folder"),
        Call(role, "kms:Decrypt", names.key_arn, sor_kms, "read or copy SOR objects (SSE-KMS)"),
        Call(role, "kms:GenerateDataKey", names.key_arn, sor_kms, "write SOR objects with the key"),
        Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ("aurora-sor",), **_TLS},
             "the run's metrics"),
    ]  # fmt: skip
    if names.glue_job_metrics:
        # --enable-metrics: Glue itself publishes the job metrics, as the job's role, in the "Glue" namespace
        # ("Monitoring AWS Glue using Amazon CloudWatch metrics",
        # https://docs.aws.amazon.com/glue/latest/dg/monitoring-awsglue-with-cloudwatch-metrics.html).
        calls.append(Call(role, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": ("Glue",), **_TLS},
                          "Glue's own job metrics (--enable-metrics)"))  # fmt: skip
    if names.glue_script:
        # Glue reads Command.ScriptLocation as the job's role: the role's permissions include "access to Amazon S3 for
        # any sources, targets, scripts, and temporary directories" ("Step 2: Create an IAM role for AWS Glue",
        # https://docs.aws.amazon.com/glue/latest/dg/create-an-iam-role.html). The job's own code never reads it.
        script_bucket, _, script_key = names.glue_script.removeprefix("s3://").partition("/")
        script_arn = f"arn:{names.partition}:s3:::{script_bucket}/{script_key}"
        calls.append(
            Call(role, "s3:GetObject", script_arn, dict(_TLS), "Glue reads the job's script as the job's role")
        )
    if names.glue_log_prefix:
        # Glue 5 writes the run's logs to <prefix>/output and <prefix>/error as the job's role ("Logging for AWS Glue
        # jobs", https://docs.aws.amazon.com/glue/latest/dg/monitor-continuous-logging.html). The script never makes
        # these calls (the emulator sees none); they are declared for the verifier. Both actions are declared on the
        # group in both documented ARN forms (with and without the trailing ":*", CloudWatch Logs User Guide, "Overview
        # of managing access permissions") and on a stream ARN, so the simulation holds whichever CloudWatch Logs uses.
        for stream in ("output", "error"):
            group = (
                f"arn:{names.partition}:logs:{names.region}:{names.account}:log-group:{names.glue_log_prefix}/{stream}"
            )
            for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
                for resource in (group, f"{group}:*", f"{group}:log-stream:jr_0123456789abcdef-driver"):
                    calls.append(Call(role, action, resource, dict(_TLS), f"Glue's own {stream} log lines"))
    for key, why in ((table, "SOR data"), (example_manifest_key(names), "the run manifest")):
        prefix = f"{db}/*" if key == table else f"_manifests/{db}/*"
        for action, what in (
            ("s3:GetObject", "HeadObject: the source ETag of what is there"),
            ("s3:PutObject", "CopyObject / UploadPartCopy / PutObject"),
            ("s3:DeleteObject", "DeleteObjects: stale files of a re-run"),
            ("s3:AbortMultipartUpload", "a failed multipart copy"),
        ):
            calls.append(Call(role, action, _s3(names, names.sor_bucket, key), _TLS, f"{why}: {what}",
                              pattern=_s3(names, names.sor_bucket, prefix)))  # fmt: skip
    calls.append(Call(role, "s3:ListBucketMultipartUploads", _s3(names, names.sor_bucket), _TLS,
                      "rewrite: the uploads a failed Spark job's tasks left, to abort them"))  # fmt: skip
    # Data Catalog calls are authorized on the catalog, the database and the table ("Specifying AWS Glue resource
    # ARNs", https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html; Service Authorization
    # Reference, https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsglue.html).
    calls += [
        Call(role, "glue:GetDatabase", catalog, _TLS, "catalog: the database exists"),
        Call(role, "glue:GetDatabase", database, _TLS, "catalog: the database exists"),
        Call(role, "glue:GetTables", catalog, _TLS, "catalog: every table in one paginated call"),
        Call(role, "glue:GetTables", database, _TLS, "catalog: every table in one paginated call"),
        Call(role, "glue:GetTables", any_table, _TLS, "catalog: every table in one paginated call"),
    ]
    tables = (catalog, database, a_table, any_table)
    for action in ("glue:CreateTable", "glue:UpdateTable", "glue:CreatePartition", "glue:UpdatePartition"):
        calls += _on_a_table(role, action, "catalog: publish a table and its partition", *tables)
    # Retention (glue/sor_job/retention.py): the partitions of each managed table, its day folders (a delimited
    # listing of the table prefix), then BatchDeletePartition before the day folder's DeleteObjects (declared above).
    for action, why in (
        ("glue:GetPartitions", "retention: the days a managed table holds"),
        ("glue:BatchDeletePartition", "retention: remove the partitions the keep rules drop"),
        ("glue:GetPartition", "typed tables: is the day of a failed rewrite already registered (sor_job/typed_table)"),
    ):
        calls += _on_a_table(role, action, why, *tables)
    calls.append(
        Call(role, "s3:ListBucket", sor, {"s3:prefix": (f"{db}/public_orders/",), **_TLS},
             "retention: the day folders of a managed table")
    )  # fmt: skip
    if names.latest_database:
        calls += _latest_tables(names, role, catalog)
    return calls


def _latest_tables(names: Names, role: str, catalog: str) -> list[Call]:
    """The job's calls on the latest database (glue/sor_job/latest.py): its tables listed at the start of a run and
    by retention, one created or moved after a table's day publishes, removed only while its only day is re-run."""
    latest = names.latest_database
    database = _arn(names, "glue", f"database/{latest}")
    a_table, any_table = _arn(names, "glue", f"table/{latest}/public_orders"), _arn(names, "glue", f"table/{latest}/*")
    calls = [
        Call(role, "glue:GetDatabase", catalog, _TLS, "latest tables: the database exists"),
        Call(role, "glue:GetDatabase", database, _TLS, "latest tables: the database exists"),
    ]
    for action, why in (
        ("glue:GetTables", "latest tables: the day each reads, in one paginated call"),
        ("glue:GetTable", "latest tables: one another run created meanwhile"),
        ("glue:CreateTable", "latest tables: the first day of a table"),
        ("glue:UpdateTable", "latest tables: moved to the day just published, or parked while its day is re-run"),
        ("glue:DeleteTable", "latest tables: removed while the only day it reads is re-run"),
    ):
        calls += _on_a_table(role, action, why, catalog, database, a_table, any_table)
    return calls


def _on_a_table(role: str, action: str, why: str, catalog: str, database: str, table: str, tables: str) -> list[Call]:
    """A Data Catalog call on a table, as IAM authorizes it: on the catalog, the database and the table (`table` an
    example, `tables` the pattern of every table the code may name)."""
    return [
        Call(role, action, catalog, _TLS, why),
        Call(role, action, database, _TLS, why),
        Call(role, action, table, _TLS, why, pattern=tables),
    ]


def _export_role(names: Names) -> list[Call]:
    """What RDS does as the export role, as far as local/export_emulator/task.py reproduces it: one PutObject per
    file, encrypted with the task's key."""
    role = "ExportRole"
    root = f"{names.export_prefix}/" if names.export_prefix else ""
    key = f"{root}aurora-sor-{names.cluster_identifier}-{EXAMPLE_DAY}/export_info_aurora-sor.json"
    kms = kms_via(names, "s3", {"aws:s3:arn": _s3(names, names.export_bucket)})
    return [
        Call(role, "s3:PutObject", _s3(names, names.export_bucket, key), _TLS, "write the export's files",
             pattern=_s3(names, names.export_bucket, f"{root}*")),
        Call(role, "kms:GenerateDataKey", names.key_arn, kms, "the export's files are SSE-KMS with the task's key"),
    ]  # fmt: skip


GLUE_LOG_PREFIX_ARGUMENT = "--custom-logGroup-prefix"


def glue_runtime_names(job_arguments: Mapping[str, Any]) -> dict[str, Any]:
    """What the Glue job's default arguments say about the calls Glue itself makes as the job's role (its own
    metrics, its log groups): the `Names` fields read from a template here and from a deployed job by the verifier."""
    return {
        "glue_job_metrics": str(job_arguments.get("--enable-metrics", "false")).lower() == "true",
        "glue_log_prefix": str(job_arguments.get(GLUE_LOG_PREFIX_ARGUMENT, "")),
        "latest_database": str(job_arguments.get("--latest_database", "")),
    }


# -- from an evaluated template --------------------------------------------------------------------------------
def names_of(stack: Stack) -> Names:
    """The names a (translated, evaluated) template gives its resources: the functions' environment, the roles."""
    env = {k: str(v) for k, v in stack.props("StartExportFunction")["Environment"]["Variables"].items()}
    key_arn = env["EXPORT_KMS_KEY_ARN"]
    job = stack.props("SorJob")
    job_args = job.get("DefaultArguments", {})
    script = str(job["Command"]["ScriptLocation"])
    return Names(
        partition=key_arn.split(":")[1],
        region=key_arn.split(":")[3],
        account=key_arn.split(":")[4],
        cluster_identifier=env["CLUSTER_IDENTIFIER"],
        export_bucket=env["EXPORT_BUCKET"],
        export_prefix=env["EXPORT_PREFIX"].strip("/"),
        sor_bucket=env["SOR_BUCKET"],
        catalog_database=env["CATALOG_DATABASE"],
        key_arn=key_arn,
        alert_topic_arn=env["ALERT_TOPIC_ARN"],
        glue_job_name=env["GLUE_JOB_NAME"],
        incident_table=env.get("INCIDENT_TABLE", ""),
        role_arns={role: stack.get_att(role, "Arn") for role in ROLES},
        glue_script=script if script.startswith("s3://") else "",  # a local path until sam package uploads it
        **glue_runtime_names(job_args),
    )


def policies_of(stack: Stack, names: Names) -> Policies:
    """The identity policies of the roles, the key policy, the bucket policies and the topic policy, resolved."""
    resource_policies: dict[str, list[object]] = {}
    for logical_id in stack.of_type("AWS::S3::BucketPolicy"):
        props = stack.props(logical_id)
        arn = f"arn:{names.partition}:s3:::{props['Bucket']}"
        resource_policies.setdefault(arn, []).extend(policy_statements(logical_id, props["PolicyDocument"]))
    for logical_id in stack.of_type("AWS::SNS::TopicPolicy"):
        props = stack.props(logical_id)
        for topic in props["Topics"]:
            resource_policies.setdefault(topic, []).extend(policy_statements(logical_id, props["PolicyDocument"]))
    key_arns = set()
    for logical_id in stack.of_type("AWS::KMS::Key"):
        arn = stack.get_att(logical_id, "Arn")
        key_arns.add(arn)
        resource_policies[arn] = policy_statements(logical_id, stack.props(logical_id)["KeyPolicy"])
    principals = {role: Principal(arn, names.account, name=role) for role, arn in names.role_arns.items()}
    identity = {role: role_statements(stack, role) for role in names.role_arns}
    return Policies(principals, identity, resource_policies, frozenset(key_arns))  # type: ignore[arg-type]
