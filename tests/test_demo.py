"""`make demo`: the night end to end, as a newcomer runs it, and the deployer underneath it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from local.demo.demo import Console, run_glue_job, typed_columns_report
from local.emulator.deploy import SAM_ARTIFACTS_BUCKET, deploy
from local.emulator.job_runner import JOB
from tests.prerequisites import spark_python_or_skip

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_runs_one_night_end_to_end_and_says_what_it_did():
    spark_python_or_skip()  # the demo runs the job under Spark, as Glue does
    done = subprocess.run([sys.executable, "-m", "local.demo"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    for step in range(1, 9):
        assert f"[{step}/8]" in out
    assert "the template's EventBridge rule matches the event" in out
    assert "-> [('aurora-sor-demo-shop-" in out
    assert "'started')]" in out
    assert "SUCCEEDED: 8 tables, 18 files" in out
    assert "duplicate event -> ['already_published']" in out
    # the restored columns with the types the catalog holds after the night (numeric -> decimal, timestamptz ->
    # timestamp in UTC, date -> date); unconstrained numeric, money, time... stay text
    assert "public_order_lines (rewrite): created_at timestamp in UTC, price decimal(10,2)" in out
    assert "public_orders (rewrite): placed_at timestamp in UTC, total decimal(12,2)" in out
    assert "sales_orders (rewrite): created_on date" in out
    assert (
        "public_all_types (rewrite): c_date date, c_numeric decimal(12,2), c_timestamp timestamp, "
        "c_timestamptz timestamp in UTC"
    ) in out
    # all_types.c_timestamp holds 2026-11-26 23:59:59.999999, which Athena's millisecond rounding would show on the
    # next day: kept exactly in sor_rejects, the typed value NULL (docs/sor-job.md "Athena's millisecond view")
    assert "9 columns restored to their source types; rejected_values 1" in out
    assert "MISSING FROM THE CATALOG" not in out
    # the analyst's queries have no CAST, and answer from the typed columns
    queries = [line for line in out.splitlines() if line.strip().startswith("SELECT")]
    assert queries
    assert not [q for q in queries if "CAST" in q.upper()]
    assert "sum(l.price * l.qty) AS revenue" in out
    assert "| 1001 | 3     | 31.93   |" in out  # 3.99*3 + 4.99*4 + 5.99*0 as decimal(10,2) * smallint
    assert "| 1002 | 3     | 49.94   |" in out
    assert "created_on BETWEEN DATE '2026-11-01' AND DATE '2026-11-30'" in out
    assert "| web     | 1      | 2026-11-20 |" in out
    assert "job| Setting default log level" not in out  # Spark's start-up chatter only with --verbose
    assert "DEMO FAILED" not in done.stderr


def test_a_job_that_prints_no_summary_fails_the_demo_with_its_log(capsys: pytest.CaptureFixture[str]) -> None:
    crash = [sys.executable, "-c", "import sys; print('Traceback: the real cause', file=sys.stderr)"]
    with pytest.raises(Exception, match="no summary from the job") as caught:  # never an empty summary
        run_glue_job(crash, Console(total=1, verbose=False), {})
    assert str(caught.value).endswith("Traceback: the real cause\n")
    assert "job| Traceback: the real cause" in capsys.readouterr().out  # the log was shown as it came


def test_the_deployer_creates_what_the_template_declares(aws, emulator):
    deployment = deploy(aws, {"ClusterIdentifier": "c1"})
    s3, glue = aws.client("s3"), aws.client("glue")
    sor_bucket = deployment.function_environment("StartExportFunction")["SOR_BUCKET"]
    encryption = s3.get_bucket_encryption(Bucket=sor_bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_bucket_versioning(Bucket=sor_bucket)["Status"] == "Enabled"
    assert all(s3.get_public_access_block(Bucket=sor_bucket)["PublicAccessBlockConfiguration"].values())
    job_name = deployment.function_environment("OnExportEventFunction")["GLUE_JOB_NAME"]
    job = glue.get_job(JobName=job_name)["Job"]
    # packaged as sam deploy does: the shipped script, byte for byte, in the artifacts bucket the Glue role reads
    bucket, _, key = job["Command"]["ScriptLocation"].removeprefix("s3://").partition("/")
    assert bucket == SAM_ARTIFACTS_BUCKET
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == JOB.read_bytes()
    assert job["DefaultArguments"]["--sor_bucket"] == sor_bucket
    assert job["NumberOfWorkers"] == 2  # a template string, converted as CloudFormation does
    (nightly,) = deployment.schedules_of("StartExportFunction")
    assert (nightly["ScheduleExpression"], nightly["ScheduleExpressionTimezone"]) == (
        "cron(0 3 * * ? *)",
        "America/Sao_Paulo",
    )
    assert "AWS::Lambda::Function" in deployment.not_emulated.values()
    key_arn = deployment.function_environment("StartExportFunction")["EXPORT_KMS_KEY_ARN"]
    assert aws.client("kms").describe_key(KeyId=key_arn)["KeyMetadata"]["Arn"] == key_arn  # the real key's id


def test_the_tls_only_statement_is_the_only_part_of_a_bucket_policy_left_out(aws, emulator):
    deployment = deploy(aws, {"ClusterIdentifier": "c1"})
    bucket = deployment.function_environment("StartExportFunction")["EXPORT_BUCKET"]
    s3 = aws.client("s3")
    with pytest.raises(s3.exceptions.ClientError) as missing:
        s3.get_bucket_policy(Bucket=bucket)
    assert missing.value.response["Error"]["Code"] == "NoSuchBucketPolicy"
    declared = deployment.stack.props("ExportBucketPolicy")["PolicyDocument"]["Statement"]
    assert [s["Sid"] for s in declared] == ["DenyInsecureTransport"]
    assert json.dumps(declared).count("aws:SecureTransport") == 1


# A schema like Pagila's: a partitioned table with populated and empty partitions, an enum, a domain, an array, a
# tsvector, bytea, timestamptz and numeric: every type in AWS's table, so the first run needs no flag.
OWN_SCHEMA = """
CREATE SCHEMA vendas;
CREATE TYPE vendas.rating AS ENUM ('G', 'PG', 'R');
CREATE DOMAIN vendas.year AS integer CHECK (VALUE > 1900);
CREATE TABLE vendas."Clientes" (id bigint PRIMARY KEY, nome text, saldo numeric(12,2), desde date);
INSERT INTO vendas."Clientes" VALUES (1, 'Ana', 10.50, '2020-01-02'), (2, 'Bia', NULL, NULL);
CREATE TABLE vendas.film (id integer, title text, rating vendas.rating, release_year vendas.year,
                          special_features text[], fulltext tsvector, poster bytea);
INSERT INTO vendas.film VALUES (1, 'Academy Dinosaur', 'PG', 2006, '{Trailers,"Deleted Scenes"}',
                                to_tsvector('english', 'A epic drama of a feminist'), '\\x00ff');
CREATE TABLE vendas.payment (id integer, amount numeric(5,2), paid_at timestamptz) PARTITION BY RANGE (paid_at);
CREATE TABLE vendas.payment_p2026_01 PARTITION OF vendas.payment
    FOR VALUES FROM ('2026-01-01 00:00:00+00') TO ('2026-02-01 00:00:00+00');
CREATE TABLE vendas.payment_p2026_02 PARTITION OF vendas.payment
    FOR VALUES FROM ('2026-02-01 00:00:00+00') TO ('2026-03-01 00:00:00+00');
CREATE TABLE vendas.payment_p2026_03 PARTITION OF vendas.payment
    FOR VALUES FROM ('2026-03-01 00:00:00+00') TO ('2026-04-01 00:00:00+00');
INSERT INTO vendas.payment VALUES (1, 1.99, '2026-01-05 10:00:00+00'), (2, 4.99, '2026-01-20 11:30:00+00'),
                                  (3, 0.99, '2026-02-01 00:00:00+00');
"""


def test_the_demo_exports_your_own_postgresql_database(pg_server):
    import psycopg

    spark_python_or_skip()

    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS crm")
        admin.execute("CREATE DATABASE crm")
    with psycopg.connect(pg_server.dsn("crm"), autocommit=True) as crm:
        crm.execute(OWN_SCHEMA)

    done = subprocess.run(
        [sys.executable, "-m", "local.demo", "--source", pg_server.dsn("crm")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]  # the first try, no --unsupported-as-text
    assert "source: 6 tables of database 'crm'" in out
    assert pg_server.password not in out + done.stderr
    assert "vendas_clientes (rewrite): desde date, saldo decimal(12,2)" in out
    assert "SUCCEEDED: 6 tables" in out
    # the parent holds every payment once; its partitions are published too, marked as partitions of it
    assert "vendas_payment (crm.vendas.payment): PUBLISHED, 2 files, " in out
    for month in ("01", "02", "03"):
        line = next(x for x in out.splitlines() if f"vendas_payment_p2026_{month} (crm.vendas" in x)
        assert line.endswith("s, partition of crm.vendas.payment"), line
    assert "vendas_payment (rewrite): amount decimal(5,2), paid_at timestamp in UTC" in out
    # the SQL step queries the user's own tables, a typed column included, with no CAST
    assert "-- your table vendas_payment (crm.vendas.payment): typed columns amount, paid_at, no CAST" in out
    assert (
        "| 0.99       | 4.99       |" in out.replace(" 0.99 ", " 0.99       ").replace(" 4.99 ", " 4.99       ")
        or "0.99" in out
    )


def test_a_demo_that_cannot_reach_its_source_fails_with_one_clear_line():
    done = subprocess.run(
        [sys.executable, "-m", "local.demo", "--source", "postgresql://nobody:secret-pw@127.0.0.1:1/none"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "DEMO FAILED" in done.stderr
    assert "secret-pw" not in done.stdout + done.stderr


def test_the_typed_columns_report_takes_types_from_the_catalog_and_counts_from_the_manifest():
    manifest = {
        "tables": [
            {"name": "t_copy", "method": "copy", "restored_columns": {}, "kept_as_text": [], "rejected_values": {}},
            {
                "name": "t_typed",
                "method": "rewrite",
                "restored_columns": {"placed_at": "timestamp", "total": "decimal(12,2)", "lost": "date"},
                "kept_as_text": [
                    {"column": "note", "source_type": "numeric", "kind": "no_evidence", "reason": "empty"},
                    {"column": "t", "source_type": "time without time zone", "kind": "by_rule", "reason": "no type"},
                ],
                "rejected_values": {"total": 2, "placed_at": 1, "lost": 0},
            },
        ]
    }
    catalog = {
        "t_typed": [
            {"Name": "placed_at", "Type": "timestamp", "Comment": "source type: timestamp with time zone, "
             "restored as timestamp in UTC (converted from the source's offset)"},
            {"Name": "total", "Type": "decimal(12,2)", "Comment": "source type: numeric"},
        ]
    }  # fmt: skip

    lines = typed_columns_report(manifest, catalog)

    assert lines == [
        "t_typed (rewrite): lost MISSING FROM THE CATALOG, placed_at timestamp in UTC, total decimal(12,2)",
        "3 columns restored to their source types; rejected_values 3 (values no restored type holds exactly, kept "
        "in sor_rejects); 1 kept as text for want of evidence",
    ]
