"""Configuration from the environment: every variable checked, every error names its variable."""

from __future__ import annotations

import datetime as dt

import pytest
from config import ConfigError, load_config
from export_only import InvalidExportOnlyError, parse_export_only_setting, validate_export_only

from tests.functions.conftest import ENV


def test_a_complete_environment_loads() -> None:
    config = load_config(ENV)
    assert config.cluster_identifier == "mycluster"
    assert config.export_only == ()
    assert config.max_snapshot_age_hours == 26
    assert str(config.schedule_timezone) == "America/Sao_Paulo"
    assert config.export_uri("aurora-sor-mycluster-2026-11-26") == (
        "s3://aurora-sor-exports/exports/aurora-sor-mycluster-2026-11-26/"
    )


def test_prefix_slashes_are_normalised_and_empty_prefix_means_bucket_root() -> None:
    assert load_config({**ENV, "EXPORT_PREFIX": "/a/b/"}).export_uri("x") == "s3://aurora-sor-exports/a/b/x/"
    assert load_config({**ENV, "EXPORT_PREFIX": ""}).export_uri("x") == "s3://aurora-sor-exports/x/"


def test_today_and_day_end_follow_the_schedule_time_zone() -> None:
    # 01:30 UTC on the 27th is still the 26th in Sao Paulo (UTC-3), and the 26th ends at 03:00 UTC on the 27th.
    config = load_config({**ENV, "SCHEDULE_TIMEZONE": "America/Sao_Paulo"})
    assert config.today(dt.datetime(2026, 11, 27, 1, 30, tzinfo=dt.UTC)) == dt.date(2026, 11, 26)
    assert config.today(dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)) == dt.date(2026, 11, 27)
    assert config.day_end(dt.date(2026, 11, 26)) == dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
    # New York starts DST at 02:00 on 2026-03-08: that day ends at midnight EDT (UTC-4), not EST (UTC-5).
    new_york = load_config({**ENV, "SCHEDULE_TIMEZONE": "America/New_York"})
    assert new_york.day_end(dt.date(2026, 3, 8)) == dt.datetime(2026, 3, 9, 4, 0, tzinfo=dt.UTC)


def test_export_only_setting_is_split_and_checked() -> None:
    config = load_config({**ENV, "EXPORT_ONLY": "mydb.public, mydb.sales.orders ,other"})
    assert config.export_only == ("mydb.public", "mydb.sales.orders", "other")


@pytest.mark.parametrize("name", sorted(set(ENV) - {"EXPORT_PREFIX", "EXPORT_ONLY"}))
def test_every_required_variable_missing_or_blank_is_named(name: str) -> None:
    missing = {k: v for k, v in ENV.items() if k != name}
    with pytest.raises(ConfigError, match=name):
        load_config(missing)
    with pytest.raises(ConfigError, match=name):
        load_config({**ENV, name: "  "})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EXPORT_SOURCE", "snapshot"),
        ("EXPORT_BUCKET", "Not_A_Bucket"),
        ("EXPORT_PREFIX", "exports:today"),
        ("EXPORT_ROLE_ARN", "aurora-sor-export"),
        ("EXPORT_KMS_KEY_ARN", "0b6f5a4e-1111-4222-8333-944455556666"),
        ("EXPORT_ONLY", "mydb.public,my db"),
        ("EXPORT_ONLY", "a.b.c.d"),
        ("SCHEDULE_TIMEZONE", "Mars/Olympus_Mons"),
        ("SCHEDULE_TIMEZONE", "/etc/localtime"),
        ("MAX_SNAPSHOT_AGE_HOURS", "abc"),
        ("MAX_SNAPSHOT_AGE_HOURS", "0"),
        ("MAX_SNAPSHOT_AGE_HOURS", "-3"),
        ("MAX_SNAPSHOT_AGE_HOURS", "nan"),
        ("MAX_SNAPSHOT_AGE_HOURS", "inf"),
        ("SOR_BUCKET", "s3://aurora-sor-sor"),
        ("CATALOG_DATABASE", "Sor-DB"),
        ("GLUE_JOB_NAME", "two\nlines"),
        ("GLUE_JOB_NAME", "x" * 256),
        ("ALERT_TOPIC_ARN", "arn:aws:sqs:sa-east-1:123456789012:queue"),
    ],
)
def test_invalid_values_are_named(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({**ENV, name: value})


@pytest.mark.parametrize("entry", ["mydb", "mydb.orders", "mydb.public", "mydb.public.orders", "my$db._t1"])
def test_documented_export_only_formats_pass(entry: str) -> None:
    assert validate_export_only([entry], origin="test") == [entry]


@pytest.mark.parametrize("entry", ["", "a.b.c.d", "my db", "db.sch-ema", ".db", "db.", 'db."Quoted"', 7, None])
def test_other_export_only_entries_fail_before_aws(entry: object) -> None:
    with pytest.raises(InvalidExportOnlyError, match="entry 0"):
        validate_export_only([entry], origin="test")


def test_export_only_duplicates_and_size_limit() -> None:
    with pytest.raises(InvalidExportOnlyError, match="duplicate"):
        validate_export_only(["a", "a"], origin="test")
    with pytest.raises(InvalidExportOnlyError, match="200 KB"):
        validate_export_only([f"db{i:06d}.{'t' * 100}" for i in range(2100)], origin="test")
    assert parse_export_only_setting("  ", origin="test") == []


@pytest.mark.parametrize("cluster", ["MyCluster", "MYCLUSTER", "prod-Aurora"])
def test_an_upper_case_cluster_identifier_is_refused_with_the_lower_case_form(
    env: dict[str, str], cluster: str
) -> None:
    with pytest.raises(
        ConfigError, match=f"CLUSTER_IDENTIFIER='{cluster}' must be lower case \\('{cluster.lower()}'\\)"
    ):
        load_config({**env, "CLUSTER_IDENTIFIER": cluster})


@pytest.mark.parametrize("cluster", ["1cluster", "my--cluster", "cluster-", "my_cluster", "a" * 64])
def test_an_invalid_cluster_identifier_is_refused(env: dict[str, str], cluster: str) -> None:
    with pytest.raises(ConfigError, match="is not a DB cluster identifier"):
        load_config({**env, "CLUSTER_IDENTIFIER": cluster})


@pytest.mark.parametrize("cluster", ["a", "my-cluster-1", "a" * 63])
def test_valid_cluster_identifiers(env: dict[str, str], cluster: str) -> None:
    assert load_config({**env, "CLUSTER_IDENTIFIER": cluster}).cluster_identifier == cluster
