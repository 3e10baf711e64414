"""Configuration from the environment (names fixed by the issue contract), validated once per invocation.

Every problem names the variable, so a bad deployment fails with a message that says what to fix.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from export_only import InvalidExportOnlyError, parse_export_only_setting
from refusals import RefusedError


class ExportSource(StrEnum):
    """EXPORT_SOURCE: what the nightly export reads when the request names no source_arn."""

    LATEST_AUTOMATED_SNAPSHOT = "latest-automated-snapshot"
    CLUSTER = "cluster"


EXPORT_SOURCES = tuple(ExportSource)

# S3 bucket naming rules (general purpose buckets): 3-63 chars, lower-case letters, digits, dots, hyphens,
# starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}(\.fifo)?$")
# docs/contracts.md: the catalog database is also the top folder of the SOR bucket.
_CATALOG_DB = re.compile(r"^[a-z][a-z0-9_]{0,254}$")
# RDS stores DB cluster identifiers in lower case (botocore rds service-2.json, CreateDBCluster
# DBClusterIdentifier: "stored as a lowercase string"; 1-63 letters, digits or hyphens, first a letter, no trailing
# hyphen, no two consecutive hyphens). The IAM ARNs in template.yaml are built from the same text, so an upper-case
# letter would make them name a cluster that cannot exist.
_CLUSTER_ID = re.compile(r"^[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$")
# Glue NameString: 1-255 characters of the "single line string" pattern (botocore glue service-2.json).
_GLUE_JOB = re.compile(r"^[^\x00-\x08\x0a-\x1f]{1,255}$")
# DynamoDB TableName: 3-255 of [a-zA-Z0-9_.-] (botocore dynamodb service-2.json, TableName).
_DYNAMODB_TABLE = re.compile(r"^[a-zA-Z0-9_.-]{3,255}$")


class ConfigError(RefusedError, ValueError):
    """The function's environment is missing a variable or holds an invalid value."""


@dataclass(frozen=True)
class Config:
    cluster_identifier: str
    export_source: ExportSource
    export_bucket: str
    export_prefix: str
    export_role_arn: str
    export_kms_key_arn: str
    export_only: tuple[str, ...]
    schedule_timezone: ZoneInfo
    max_snapshot_age_hours: float
    glue_job_name: str
    sor_bucket: str
    catalog_database: str
    alert_topic_arn: str
    incident_table: str  # the incident store (functions/incidents.py)

    def export_uri(self, export_id: str, *, bucket: str | None = None, prefix: str | None = None) -> str:
        """s3://<bucket>/<prefix>/<export id>/ ; a task's own bucket/prefix win over the current settings."""
        prefix = self.export_prefix if prefix is None else prefix.strip("/")
        path = f"{prefix}/{export_id}" if prefix else export_id
        return f"s3://{bucket or self.export_bucket}/{path}/"

    def today(self, now: dt.datetime) -> dt.date:
        """The calendar day `now` falls on in the schedule's time zone: the ingestion date of tonight's export."""
        return now.astimezone(self.schedule_timezone).date()

    def day_end(self, day: dt.date) -> dt.datetime:
        """The first instant after `day` in the schedule's time zone, in UTC."""
        midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=self.schedule_timezone)
        return midnight.astimezone(dt.UTC)


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigError(f"environment variable {name} is missing or empty")
    return value


def _matching(env: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str:
    value = _required(env, name)
    if not pattern.match(value):
        raise ConfigError(f"environment variable {name}={value!r} is not {what}")
    return value


def load_config(env: Mapping[str, str]) -> Config:
    cluster = _required(env, "CLUSTER_IDENTIFIER")
    if cluster != cluster.lower():
        raise ConfigError(
            f"environment variable CLUSTER_IDENTIFIER={cluster!r} must be lower case ({cluster.lower()!r}): RDS "
            "stores cluster identifiers in lower case, and the IAM policies are built from this exact text"
        )
    if not _CLUSTER_ID.match(cluster):
        raise ConfigError(
            f"environment variable CLUSTER_IDENTIFIER={cluster!r} is not a DB cluster identifier (1-63 letters, "
            "digits or hyphens, starting with a letter, no trailing or double hyphen)"
        )
    source = _required(env, "EXPORT_SOURCE")
    if source not in EXPORT_SOURCES:
        raise ConfigError(f"environment variable EXPORT_SOURCE={source!r} must be one of {', '.join(EXPORT_SOURCES)}")

    # Empty is allowed (export at the bucket root); StartExportTask refuses ':' in S3Prefix (docs/aws-facts.md).
    prefix = env.get("EXPORT_PREFIX", "").strip().strip("/")
    if ":" in prefix or "//" in prefix:
        raise ConfigError(f"environment variable EXPORT_PREFIX={prefix!r} must not contain ':' or '//'")

    try:
        export_only = tuple(parse_export_only_setting(env.get("EXPORT_ONLY", ""), origin="EXPORT_ONLY"))
    except InvalidExportOnlyError as error:
        raise ConfigError(f"environment variable {error}") from error

    zone_name = _required(env, "SCHEDULE_TIMEZONE")
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ConfigError(
            f"environment variable SCHEDULE_TIMEZONE={zone_name!r} is not an IANA time zone this runtime knows "
            "(if the name is right, the function package lacks tzdata: pyproject.toml's lambda extra, then make lock)"
        ) from error

    raw_age = _required(env, "MAX_SNAPSHOT_AGE_HOURS")
    try:
        max_age = float(raw_age)
    except ValueError:
        max_age = math.nan
    if not math.isfinite(max_age) or max_age <= 0:
        raise ConfigError(f"environment variable MAX_SNAPSHOT_AGE_HOURS={raw_age!r} must be a positive number")

    return Config(
        cluster_identifier=cluster,
        export_source=ExportSource(source),
        export_bucket=_matching(env, "EXPORT_BUCKET", _BUCKET, "a valid S3 bucket name"),
        export_prefix=prefix,
        export_role_arn=_matching(env, "EXPORT_ROLE_ARN", _ROLE_ARN, "an IAM role ARN"),
        export_kms_key_arn=_matching(env, "EXPORT_KMS_KEY_ARN", _KMS_ARN, "a KMS key or alias ARN"),
        export_only=export_only,
        schedule_timezone=zone,
        max_snapshot_age_hours=max_age,
        glue_job_name=_matching(env, "GLUE_JOB_NAME", _GLUE_JOB, "a Glue job name"),
        sor_bucket=_matching(env, "SOR_BUCKET", _BUCKET, "a valid S3 bucket name"),
        catalog_database=_matching(env, "CATALOG_DATABASE", _CATALOG_DB, "a catalog database name ([a-z][a-z0-9_]*)"),
        alert_topic_arn=_matching(env, "ALERT_TOPIC_ARN", _TOPIC_ARN, "an SNS topic ARN"),
        incident_table=_matching(env, "INCIDENT_TABLE", _DYNAMODB_TABLE, "a DynamoDB table name"),
    )
