"""`make demo`: one night of the pipeline, end to end, on an embedded AWS emulator. No AWS account needed.

    python -m local.demo [--source postgresql://user@host:port/db] [--verbose]

1. start the embedded emulator (moto server on a free loopback port; stopped at the end, whatever happens);
2. create the stack of template.yaml in it (local/emulator/deploy.py: translated offline, no second copy of the config);
3. seed an Aurora PostgreSQL cluster and its automated snapshot;
4. invoke the real start_export handler with the event the nightly schedule sends;
5. complete the export with the export emulator (the sample database, or yours with --source);
6. deliver the documented completion event (RDS-EVENT-0164) to the real on_export_event handler, then run
   glue/dist/sor_job.py with exactly the arguments that handler gave StartJobRun, the way Glue runs it (under Spark,
   local/emulator/job_runner.py, in .venv-spark); show the typed columns the run manifest reports; deliver the event
   again
   (a duplicate) and run the reconcile schedule: neither may start a second run;
7. query the SOR tables with DuckDB, found only through the emulated Glue catalog: typed columns, no CAST.

Each `make demo` starts from an empty emulator, so running it again re-runs the same night from scratch.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import io
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import boto3

ROOT = Path(__file__).resolve().parents[2]
REGION = "sa-east-1"  # the template's evaluator and moto agree on this Region and account
CLUSTER = "demo-shop"
SAMPLE_DATABASE = "shop"


class DemoFailed(Exception):
    pass


# -- output ---------------------------------------------------------------------------------------------------
class Console:
    def __init__(self, total: int, verbose: bool) -> None:
        self.total, self.verbose, self.started = total, verbose, time.monotonic()
        self.number = 0

    def step(self, text: str) -> None:
        self.number += 1
        print(f"\n[{self.number}/{self.total}] {text}  (+{time.monotonic() - self.started:.1f}s)", flush=True)

    @staticmethod
    def say(text: str) -> None:
        print(f"      {text}", flush=True)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = 12) -> None:
        shown = [[_cell(v) for v in row] for row in rows[:limit]]
        widths = [max([len(h)] + [len(r[i]) for r in shown]) for i, h in enumerate(headers)]
        line = "      +" + "+".join("-" * (w + 2) for w in widths) + "+"
        print(line)
        print("      | " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
        print(line)
        for row in shown:
            print("      | " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        print(line)
        if len(rows) > limit:
            print(f"      ({len(rows) - limit} more rows)")


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return "0x" + value[:8].hex() + ("..." if len(value) > 8 else "")
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# -- the Lambda handlers, in-process --------------------------------------------------------------------------
@contextlib.contextmanager
def lambda_environment(variables: dict[str, str], service: str) -> Iterator[None]:
    """The function's environment from the template, Powertools quiet (its logs and EMF go to stdout)."""
    saved = dict(os.environ)
    os.environ.update(variables)
    os.environ.update(POWERTOOLS_SERVICE_NAME=service, POWERTOOLS_TRACE_DISABLED="true")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


class _Context:
    function_name = "demo"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:demo"
    aws_request_id = "00000000-0000-4000-8000-000000000000"


def invoke(module_name: str, environment: dict[str, str], event: Any, verbose: bool) -> Any:
    """Runs a handler in-process with the function's environment; `environment` carries its role's credentials."""
    if str(ROOT / "functions") not in sys.path:
        sys.path.insert(0, str(ROOT / "functions"))
    output = io.StringIO()
    with lambda_environment(environment, module_name), contextlib.redirect_stdout(output):
        aws_clients = importlib.import_module("aws_clients")
        aws_clients._shared = None  # each function's clients sign with its own role, as in its own sandbox
        module = importlib.import_module(module_name)
        try:
            result = module.handler(event, _Context())
        finally:
            aws_clients._shared = None
    if verbose:
        for line in output.getvalue().splitlines():
            print(f"      log| {line}")
    return result


# -- events ---------------------------------------------------------------------------------------------------
def completion_event(snapshot_arn: str, when: dt.datetime) -> dict[str, Any]:
    """RDS-EVENT-0164 as docs/aws-facts.md "Events" documents it: it names the snapshot, not the export task."""
    return {
        "version": "0",
        "id": "5d8b2e9c-0164-4f1c-9d1e-demo00000001",
        "detail-type": "RDS DB Cluster Snapshot Event",
        "source": "aws.rds",
        "account": "123456789012",
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [snapshot_arn],
        "detail": {
            "EventCategories": ["notification"],
            "SourceType": "CLUSTER_SNAPSHOT",
            "SourceArn": snapshot_arn,
            "Date": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "SourceIdentifier": snapshot_arn.split(":", 6)[-1],
            "Message": "Snapshot export task completed.",
            "EventID": "RDS-EVENT-0164",
        },
    }


# -- the Glue job -------------------------------------------------------------------------------------------------
def glue_command(glue: Any, script_s3: Any, job_name: str, run_id: str, scratch: Path) -> list[str]:
    """What Glue runs for a job run: the script the job points at (Command.ScriptLocation, what `sam deploy`
    uploaded), fetched with `script_s3` (signed as the job's role, as Glue reads it), under Spark
    (local/emulator/job_runner.py: local[2], the 2 cores of one G.1X worker) with the job's DefaultArguments
    overridden by the run's Arguments."""
    from local.emulator.job_runner import glue_run_args, spark_job_command

    job = glue.get_job(JobName=job_name)["Job"]
    run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    bucket, _, key = job["Command"]["ScriptLocation"].removeprefix("s3://").partition("/")
    script = scratch / "sor_job.py"
    script.write_bytes(script_s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    arguments = glue_run_args(job_name, run_id, job.get("DefaultArguments", {}), run.get("Arguments", {}))
    return spark_job_command(arguments, script=script)


def run_glue_job(argv: list[str], console: Console, credentials: dict[str, str]) -> dict[str, Any]:
    """Runs the job as Glue would, signed with the job role's credentials, its log shown as it comes."""
    from local.emulator.job_runner import job_environment, run

    def show(line: str) -> None:
        if not console.verbose and _spark_chatter(line):
            return
        message = line.rstrip().split(" ", 4)[-1] if " INFO " in line or " WARNING " in line else line.rstrip()
        if console.verbose or " INFO " not in line or "table " in line or "plan:" in line:
            console.say(f"job| {message}")

    done = run(argv, job_environment(credentials), on_stderr=show)
    if done.code != 0:
        raise DemoFailed(f"the Glue job exited {done.code}: {done.summary}")
    return done.summary


# Spark's own start-up lines on stderr (log4j's "yy/MM/dd HH:mm:ss LEVEL" layout of Spark 3.5, and the two
# lines pyspark prints about the log level): shown with --verbose. An ERROR from Spark is always shown.
_SPARK_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (?:INFO|WARN) ")
_SPARK_LOG_LEVEL_HINTS = ('Setting default log level to "WARN".', "To adjust logging level use sc.setLogLevel(")


def _spark_chatter(line: str) -> bool:
    return bool(_SPARK_LOG_LINE.match(line)) or line.startswith(_SPARK_LOG_LEVEL_HINTS)


def typed_columns_report(manifest: Mapping[str, Any], catalog: Mapping[str, Sequence[Mapping[str, str]]]) -> list[str]:
    """One line per table with restored columns (the run manifest's restored_columns), each with the type the Glue
    catalog now holds (`catalog`: table -> its StorageDescriptor Columns), then the night's totals: values kept in
    sor_rejects (rejected_values) and string columns kept as text for want of evidence (kept_as_text)."""
    lines, restored, rejected, without_evidence = [], 0, 0, 0
    for table in sorted(manifest.get("tables", []), key=lambda t: t["name"]):
        columns = table.get("restored_columns") or {}
        restored += len(columns)
        rejected += sum((table.get("rejected_values") or {}).values())
        without_evidence += sum(1 for t in table.get("kept_as_text") or [] if t.get("kind") == "no_evidence")
        if not columns:
            continue
        held = {c["Name"]: c for c in catalog.get(table["name"], [])}
        shown = []
        for name in sorted(columns):
            column = held.get(name, {})
            utc = " in UTC" if "timestamp in UTC" in column.get("Comment", "") else ""
            shown.append(f"{name} {column.get('Type', 'MISSING FROM THE CATALOG')}{utc}")
        lines.append(f"{table['name']} ({table.get('method', 'copy')}): {', '.join(shown)}")
    lines.append(
        f"{restored} columns restored to their source types; rejected_values {rejected} "
        f"(values no restored type holds exactly, kept in sor_rejects); {without_evidence} kept as text "
        "for want of evidence"
    )
    return lines


# -- the night ----------------------------------------------------------------------------------------------------
def run_demo(source_dsn: str | None, verbose: bool, unsupported_as_text: bool = False) -> int:
    from local.emulator.athena_duckdb import connect
    from local.emulator.aws_emulator import Emulator, fake_aws_environment
    from local.emulator.deploy import deploy
    from local.export_emulator.task import complete_export

    console = Console(total=8, verbose=verbose)
    console.step("Starting the embedded AWS emulator")
    with Emulator() as emulator:
        # Never a real account, whatever the shell has: fake credentials and the emulator's endpoint only.
        environment = fake_aws_environment(emulator.endpoint_url, region=REGION)
        os.environ.clear()
        os.environ.update(environment)
        console.say(f"moto server on {emulator.endpoint_url} (stopped when the demo ends)")
        session = boto3.Session(region_name=REGION)
        s3, glue, rds = session.client("s3"), session.client("glue"), session.client("rds")

        console.step("Deploying template.yaml into the emulator (translated offline, as sam deploy would)")
        deployment = deploy(session, {"ClusterIdentifier": CLUSTER})
        # From here on every call of the pipeline's code runs under its own role of the template, evaluated as
        # IAM evaluates it (local/emulator/enforcement.py); seeding the cluster and reading results stay the operator's.
        enforcer = emulator.enforcer = deployment.enforcer()
        kinds: dict[str, int] = {}
        for logical_id in deployment.created:
            kind = deployment.stack.resources[logical_id]["Type"]
            kinds[kind] = kinds.get(kind, 0) + 1
        console.say(", ".join(f"{n} {k.split('::', 1)[1]}" for k, n in sorted(kinds.items())))
        skipped = ", ".join(sorted({t.split("::", 1)[1] for t in deployment.not_emulated.values()}))
        console.say(f"not emulated (the Lambda functions run in-process): {skipped}")
        start_env = {
            **deployment.function_environment("StartExportFunction"),
            **enforcer.credentials("StartExportRole"),
        }
        event_env = {
            **deployment.function_environment("OnExportEventFunction"),
            **enforcer.credentials("OnExportEventRole"),
        }
        nightly = deployment.schedules_of("StartExportFunction")
        reconcile_schedules = deployment.schedules_of("OnExportEventFunction")
        rds_rules = [r for r in deployment.rules_of("OnExportEventFunction") if "aws.rds" in json.dumps(r)]
        if not (nightly and reconcile_schedules and rds_rules):
            raise DemoFailed("the template lost its nightly schedule, reconcile schedule or RDS rule")
        schedule = nightly[0]
        console.say(
            f"nightly schedule: {schedule['ScheduleExpression']} in {schedule['ScheduleExpressionTimezone']}; "
            f"SOR bucket {start_env['SOR_BUCKET']}, catalog database {start_env['CATALOG_DATABASE']}"
        )

        console.step(f"Seeding Aurora PostgreSQL cluster '{CLUSTER}' and its automated snapshot")
        engine, database, tables = _source_tables(source_dsn, unsupported_as_text)
        rds.create_db_cluster(
            DBClusterIdentifier=CLUSTER, Engine="aurora-postgresql", DatabaseName=database,
            MasterUsername="demo_admin", MasterUserPassword="not-a-secret-demo-only",
        )  # fmt: skip
        snapshots = rds.describe_db_cluster_snapshots(DBClusterIdentifier=CLUSTER, SnapshotType="automated")
        snapshot = snapshots["DBClusterSnapshots"][0]
        console.say(f"automated snapshot {snapshot['DBClusterSnapshotIdentifier']} ({snapshot['Status']})")
        console.say(
            f"source: {len(tables)} tables of database '{database}'"
            + (f" from {_shown(source_dsn)}" if source_dsn else " (built-in sample)")
        )

        console.step("03:00 America/Sao_Paulo: the schedule invokes start_export")
        schedule_input = json.loads(schedule["Target"].get("Input") or "{}")
        started = invoke("start_export", start_env, schedule_input, verbose)
        console.say(f"event {json.dumps(schedule_input)} -> {started['status']}: export {started['export_id']}")
        console.say(f"source {started['source_arn']}")
        if started["status"] != "started":
            raise DemoFailed(f"start_export did not start an export: {started}")

        console.step("RDS exports the snapshot to S3 (export emulator)")
        export_role = enforcer.credentials("ExportRole")
        export_s3 = boto3.Session(
            aws_access_key_id=export_role["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=export_role["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=export_role["AWS_SESSION_TOKEN"],
            region_name=REGION,
        ).client("s3")
        written = complete_export(export_s3, rds, started["export_id"], engine, tables)
        console.say(f"{written.parquet_files} Parquet files, {written.bytes:,} bytes, {written.objects} objects in all")
        console.say(f"at {written.uri}")

        console.step("RDS-EVENT-0164 (export completed) reaches on_export_event")
        event = completion_event(written.source_arn, written.ended_at)
        from ops.stack import rule_matches

        if not any(rule_matches(rule["EventPattern"], event) for rule in rds_rules):
            raise DemoFailed("the template's RDS rule does not match the documented completion event")
        console.say("the template's EventBridge rule matches the event")
        handled = invoke("on_export_event", event_env, event, verbose)
        actions = [(t["export_id"], t["action"]) for t in handled.get("tasks", [])]
        console.say(f"-> {actions}")
        runs = glue.get_job_runs(JobName=event_env["GLUE_JOB_NAME"])["JobRuns"]
        if [a for _, a in actions] != ["started"] or len(runs) != 1:
            raise DemoFailed(f"expected exactly one Glue run to start, got {actions} and {len(runs)} runs")
        run = runs[0]
        defaults = glue.get_job(JobName=event_env["GLUE_JOB_NAME"])["Job"].get("DefaultArguments", {})
        own = {k: v for k, v in run["Arguments"].items() if defaults.get(k) != v}
        console.say(f"StartJobRun {run['Id'][:16]}... with {json.dumps(own)} (+ the job's DefaultArguments)")

        console.step("Glue runs glue/dist/sor_job.py with exactly those arguments")
        glue_role = enforcer.credentials("GlueJobRole")
        script_s3 = boto3.client(
            "s3",
            region_name=REGION,
            aws_access_key_id=glue_role["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=glue_role["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=glue_role.get("AWS_SESSION_TOKEN"),
        )
        with tempfile.TemporaryDirectory(prefix="aurora-sor-glue-") as scratch:
            command = glue_command(glue, script_s3, event_env["GLUE_JOB_NAME"], run["Id"], Path(scratch))
            summary = run_glue_job(command, console, glue_role)
        console.say(
            f"{summary['status']}: {summary['tables']} tables, {summary['files']} files, {summary['bytes']:,} bytes, "
            f"{summary['rows']} rows in {summary['seconds']}s; footer bytes read {summary['footer_bytes_read']:,}"
        )
        bucket, _, key = summary["manifest_uri"].removeprefix("s3://").partition("/")
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        catalog = {
            t["Name"]: t["StorageDescriptor"]["Columns"]
            for page in glue.get_paginator("get_tables").paginate(DatabaseName=event_env["CATALOG_DATABASE"])
            for t in page["TableList"]
        }
        console.say("typed columns (the run manifest, with the types the Glue catalog now holds):")
        for line in typed_columns_report(manifest, catalog):
            console.say(f"  {line}")
        again = invoke("on_export_event", event_env, event, verbose)
        reconciled = invoke("on_export_event", event_env, {"action": "reconcile"}, verbose)
        runs_after = glue.get_job_runs(JobName=event_env["GLUE_JOB_NAME"])["JobRuns"]
        duplicate = [t["action"] for t in again.get("tasks", [])]
        console.say(f"duplicate event -> {duplicate}; reconcile -> {[a['action'] for a in reconciled['actions']]}, "
                    f"{len(reconciled['problems'])} problems")  # fmt: skip
        if len(runs_after) != 1:
            raise DemoFailed(f"a duplicate event or reconcile started another Glue run: {len(runs_after)} runs")

        console.step("Athena-style SQL (DuckDB over the tables the Glue catalog describes)")
        catalog_db = event_env["CATALOG_DATABASE"]
        latest_db = deployment.stack.ref("LatestCatalogDatabase")
        con, registered = connect(glue, s3, catalog_db, latest_db)
        sor_tables = [t.name for t in registered if t.database == catalog_db and not t.name.startswith("_")]
        queries = _queries(deployment, catalog_db, started["ingestion_date"], sor_tables, session)
        queries += _latest_queries(latest_db, sor_tables)
        queries.append((
            "the nights so far, from the run history (one row a run: status, duration, rows, tables failed)",
            f'SELECT ingestion_date, status, round(seconds, 1) AS seconds, "rows", tables_published, tables_failed\n'
            f'FROM {catalog_db}."_runs" ORDER BY finished_at DESC LIMIT 7',
        ))  # fmt: skip
        if source_dsn:
            queries += _own_table_queries(catalog_db, started["ingestion_date"], manifest)
        for title, sql in queries:
            console.say(f"-- {title}")
            console.say(sql.replace("\n", " "))
            cursor = con.execute(sql)
            console.table([d[0] for d in cursor.description], cursor.fetchall())

        _where_to_look(console, deployment, start_env, summary)
    return 0


def _source_tables(dsn: str | None, unsupported_as_text: bool) -> tuple[str, str, list[Any]]:
    if dsn:
        from local.postgres.pg_source import describe_dsn, pg_dsn_database, read_postgres_tables

        tables = read_postgres_tables(dsn, unsupported="text" if unsupported_as_text else "error")
        if not tables:
            raise DemoFailed(f"no tables found in {describe_dsn(dsn)}")
        return "aurora-postgresql", pg_dsn_database(dsn), tables
    from local.postgres.sample_database import pg_sample_tables

    return "aurora-postgresql", SAMPLE_DATABASE, pg_sample_tables()


def _shown(dsn: str) -> str:
    from local.postgres.pg_source import describe_dsn

    return describe_dsn(dsn)  # never the password


def _queries(
    deployment: Any, database: str, day: str, tables: list[str], session: boto3.Session
) -> list[tuple[str, str]]:
    """The template's named queries (on a concrete table), and one an analyst would write on day one."""
    athena = session.client("athena")
    named = {}
    workgroup = deployment.stack.ref("AthenaWorkGroup")
    for query_id in athena.list_named_queries(WorkGroup=workgroup)["NamedQueryIds"]:
        query = athena.get_named_query(NamedQueryId=query_id)["NamedQuery"]
        named[query["Name"]] = query["QueryString"]
    example = "public_order_lines" if "public_order_lines" in tables else sorted(tables)[0]
    queries = [
        (f"{name} (the template's named query{f', my_table = {example}' if 'my_table' in sql else ''})",
         sql.replace("my_table", example))
        for name, sql in sorted(named.items())
        if "$partitions" not in sql  # Athena's hidden partitions table has no DuckDB twin
    ]  # fmt: skip
    if {"public_orders", "public_order_lines"} <= set(tables):
        queries.append((
            "revenue per order on 1 Nov (UTC): numeric(10,2) is decimal(10,2), timestamptz a timestamp in UTC, no CAST",
            f"SELECT o.id, count(l.id) AS lines, sum(l.price * l.qty) AS revenue\n"
            f"FROM {database}.public_orders o JOIN {database}.public_order_lines l ON l.order_id = o.id\n"
            f"WHERE o.ingestion_date = DATE '{day}' AND l.ingestion_date = DATE '{day}'\n"
            f"  AND l.created_at >= TIMESTAMP '2026-11-01 00:00:00'\n"
            f"  AND l.created_at < TIMESTAMP '2026-11-01 00:00:00' + INTERVAL '1' DAY\n"
            f"GROUP BY o.id ORDER BY o.id",
        ))  # fmt: skip
    if "sales_orders" in tables:
        queries.append((
            "orders per channel in a date range: PostgreSQL date is a date, DATE literals compare with no CAST",
            f"SELECT channel, count(*) AS orders, min(created_on) AS first_day\n"
            f"FROM {database}.sales_orders\n"
            f"WHERE ingestion_date = DATE '{day}' AND created_on BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'\n"
            f"GROUP BY channel ORDER BY channel",
        ))  # fmt: skip
    return queries


def _latest_queries(latest_db: str, tables: list[str]) -> list[tuple[str, str]]:
    """The analyst's question with no date: the latest database reads each table's newest published day."""
    if "public_orders" not in tables:
        return []
    return [(
        f"the orders as of last night, no date to name ({latest_db}: each table's newest published day)",
        f"SELECT count(*) AS orders, sum(total) AS total, max(placed_at) AS last_order\n"
        f"FROM {latest_db}.public_orders",
    )]  # fmt: skip


def _own_table_queries(database: str, day: str, manifest: dict[str, Any]) -> list[tuple[str, str]]:
    """With --source: a query on the user's own tables, their typed columns first (up to three tables)."""
    published = [t for t in manifest.get("tables", []) if t.get("status") == "PUBLISHED"]
    typed = [t for t in published if t.get("restored_columns")]
    queries = []
    for table in (typed or published)[:3]:
        columns = list(table.get("restored_columns") or {})[:2]
        aggregates = "".join(f'min("{c}") AS "min {c}", max("{c}") AS "max {c}", ' for c in columns)
        what = f"typed columns {', '.join(columns)}" if columns else "no typed column"
        queries.append((
            f"your table {table['name']} ({table['source']}): {what}, no CAST",
            f"SELECT {aggregates}count(*) AS rows\nFROM {database}.{table['name']}\n"
            f"WHERE ingestion_date = DATE '{day}'",
        ))  # fmt: skip
    return queries


def _where_to_look(console: Console, deployment: Any, env: dict[str, str], summary: dict[str, Any]) -> None:
    print("\nDone. What the night created (in the emulator, gone when the demo exits):")
    database = env["CATALOG_DATABASE"]
    console.say(f"SOR data:        s3://{env['SOR_BUCKET']}/{database}/<table>/ingestion_date=YYYY-MM-DD/")
    console.say(f"run manifest:    {summary['manifest_uri']}")
    console.say(
        f"catalog:         Glue database '{database}', {summary['tables']} tables, partition key ingestion_date"
    )
    latest = deployment.stack.ref("LatestCatalogDatabase")
    console.say(f"latest tables:   Glue database '{latest}', the same names, each reading its newest published day")
    console.say(
        f"export staging:  s3://{env['EXPORT_BUCKET']}/{env['EXPORT_PREFIX']}/ (expires after ExportRetentionDays)"
    )
    console.say(f"alerts:          {env['ALERT_TOPIC_ARN']}")
    print("\nNext: README.md (Deploy: sam build && sam deploy --guided; Operations: backfill, re-run, alerts),")
    print("      docs/sor-job.md (naming and type rules), `make test` (the whole suite), `make demo ARGS=--verbose`.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--source", help="postgresql://... : export this PostgreSQL database instead of the sample")
    parser.add_argument(
        "--unsupported-as-text",
        action="store_true",
        help="with --source: export columns of types the export emulator does not know as text instead of failing",
    )
    parser.add_argument("--verbose", action="store_true", help="show the Lambda logs and every job log line")
    args = parser.parse_args(argv)
    try:
        return run_demo(args.source, args.verbose, args.unsupported_as_text)
    except Exception as error:  # noqa: BLE001 - a demo ends with one clear line, whatever broke
        print(f"\nDEMO FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
