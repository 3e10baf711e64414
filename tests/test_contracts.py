"""Contracts the Lambdas and the Glue job each write on their own side: one test per pair, so neither can change alone.

docs/contracts.md describes each contract; these tests hold the two implementations (and template.yaml) to it.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from config import _BUCKET, _CATALOG_DB, _CLUSTER_ID, load_config
from export_tasks import parse_warning_message
from glue_runs import job_arguments
from manifests import manifest_key
from rds_events import EVENT_KINDS

from local.emulator.job_runner import job_args
from ops.stack import load_raw
from sor_job.config import _BUCKET_NAME, _DATABASE_NAME, JobConfig
from sor_job.plan import export_warnings
from tests.functions.conftest import ENV


@pytest.mark.parametrize("database", ["sor", "a", "sales_2026", "x" * 255])
@pytest.mark.parametrize("day", [dt.date(2026, 11, 26), dt.date(2000, 1, 1), dt.date(2026, 2, 28)])
def test_the_run_manifest_key_is_the_same_on_both_sides(database: str, day: dt.date) -> None:
    job = JobConfig(
        export_bucket="exports",
        export_prefix="exports/aurora-sor-mycluster-2026-11-26/",
        export_id="aurora-sor-mycluster-2026-11-26",
        sor_bucket="sor-bucket",
        catalog_database=database,
        ingestion_date=day.isoformat(),
    )
    assert manifest_key(database, day) == job.manifest_key


WARNING_MESSAGES = [
    "",
    '{"skippedTables":[],"skippedObjectives":[],"general":[{"reason":"FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]}',
    '{"skippedTables":["mydb.public.weird table","mydb.public.t2"],"general":[]}',
    '{"skippedTables":[{"target":"mydb.public.big_blobs","reason":"ROW_TOO_LARGE"}]}',
    '{"skippedTables":[{"reason":"no target given"},{"target":7}]}',
    '{"skippedTables":null}',
    "not json at all",
    '["a list"]',
]


@pytest.mark.parametrize("message", WARNING_MESSAGES)
def test_the_export_warning_message_names_the_same_skipped_tables_on_both_sides(message: str) -> None:
    prefix = "the export skipped "
    lambdas = parse_warning_message(message).skipped_tables
    job = [w for w in export_warnings(message) if w.startswith(prefix)]
    assert len(job) == len(lambdas)
    for name, line in zip(lambdas, job, strict=True):
        assert line == prefix + name or line.startswith(f"{prefix}{name}: ")


def test_the_skipped_tables_are_read_from_every_shape_seen() -> None:
    assert parse_warning_message(WARNING_MESSAGES[3]).skipped_tables == ["mydb.public.big_blobs"]
    assert parse_warning_message(WARNING_MESSAGES[4]).skipped_tables == [
        '{"reason": "no target given"}',
        '{"target": 7}',
    ]


def _allowed(parameter: str) -> re.Pattern[str]:
    # CloudFormation AllowedPattern is a Java regular expression; ours use nothing Python reads differently.
    return re.compile(load_raw()["Parameters"][parameter]["AllowedPattern"])


DATABASE_NAMES = ["sor", "a", "sales_2026", "x" * 255, "x" * 256, "Sor", "1sor", "_sor", "sor-db", "sor.db", ""]
BUCKET_NAMES = [
    "aurora-sor-sor",
    "abc",
    "a.b.c",
    "a" * 63,
    "a" * 64,
    "ab",
    "Aurora-sor",
    "-abc",
    "abc-",
    "abc.",
    "a_b_c",
    "my bucket",
]


@pytest.mark.parametrize("name", DATABASE_NAMES)
def test_the_catalog_database_rule_is_the_same_in_the_template_the_lambdas_and_the_job(name: str) -> None:
    template = bool(_allowed("CatalogDatabaseName").match(name))
    assert bool(_CATALOG_DB.match(name)) == template
    assert bool(_DATABASE_NAME.match(name)) == template


@pytest.mark.parametrize("name", BUCKET_NAMES)
def test_the_bucket_rule_is_the_same_in_the_template_the_lambdas_and_the_job(name: str) -> None:
    template = bool(_allowed("ExistingSorBucketName").match(name))
    assert bool(_BUCKET.match(name)) == template
    assert bool(_BUCKET_NAME.match(name)) == template


def test_the_empty_bucket_parameter_means_create_one_and_is_no_bucket_name() -> None:
    assert _allowed("ExistingSorBucketName").match("")
    assert not _BUCKET.match("")
    assert not _BUCKET_NAME.match("")


def test_the_rds_event_ids_handled_are_exactly_those_the_rule_delivers() -> None:
    pattern = load_raw()["Resources"]["OnExportEventFunction"]["Properties"]["Events"]["RdsExportEvents"]
    assert sorted(pattern["Properties"]["Pattern"]["detail"]["EventID"]) == sorted(EVENT_KINDS)


CLUSTER_IDS = ["mycluster", "a", "db-1", "a" * 63, "a" * 64, "MyCluster", "1db", "db-", "db--1", "db_1", "-db", ""]


@pytest.mark.parametrize("identifier", CLUSTER_IDS)
def test_the_cluster_identifier_rule_is_the_same_in_the_template_and_the_lambdas(identifier: str) -> None:
    """The template builds the IAM ARNs from ClusterIdentifier; the Lambdas name the cluster with CLUSTER_IDENTIFIER."""
    spec = load_raw()["Parameters"]["ClusterIdentifier"]
    template = bool(_allowed("ClusterIdentifier").match(identifier)) and len(identifier) <= spec["MaxLength"]
    assert bool(_CLUSTER_ID.match(identifier)) == template


def test_the_local_runner_gives_the_job_the_arguments_the_lambda_starts_it_with() -> None:
    """local/emulator/job_runner.py job_args (the demo, the tests and the bench) against functions/glue_runs.py
    job_arguments
    (StartJobRun in AWS): the same five pairs, so a local run is the run AWS would start."""
    config = load_config(ENV)
    started = job_arguments(config, "s3://aurora-sor-exports/exports/x/", dt.date(2026, 11, 26), "aurora-postgresql")
    local = job_args(
        "s3://aurora-sor-exports/exports/x/", config.sor_bucket, config.catalog_database, "2026-11-26",
        "aurora-postgresql",
    )  # fmt: skip
    assert dict(zip(local[::2], local[1::2], strict=True)) == started
