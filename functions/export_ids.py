"""The export task id: deterministic per (cluster, ingestion date, attempt), and ours at a glance.

Format (docs/contracts.md, "Export task id"):

    aurora-sor-<cluster part>-<YYYY-MM-DD>[-r<attempt>]

- `aurora-sor-` marks our tasks among everyone else's in the account.
- `<cluster part>` is the cluster identifier lower-cased when it already is letters/digits/single hyphens
  and at most 34 characters; otherwise a slug of it (at most 25 characters) plus `-` and 8 hex digits of
  SHA-256 of the exact identifier, so every possible string maps to a valid, stable id.
- `-r<n>` (n = 2..99) only for a deliberate re-export of a day (an id can never be reused, even after a
  failed or canceled export); attempt 1 has no suffix.

AWS rule for the id (docs/aws-facts.md "StartExportTask", the service's own error text): begins with a letter;
only ASCII letters, digits and hyphens; no trailing hyphen, no two consecutive hyphens; we keep <= 60
characters because that is the longest practitioners report working (UNVERIFIED in AWS docs).
The id is also the top folder of the export in S3.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

PREFIX = "aurora-sor-"
MAX_LENGTH = 60
MAX_ATTEMPT = 99
_DATE_LENGTH = 10
_ATTEMPT_SUFFIX_MAX = len(f"-r{MAX_ATTEMPT}")
# 11 (prefix) + body + 1 + 10 (date) + 4 (-r99) <= 60
MAX_CLUSTER_PART = MAX_LENGTH - len(PREFIX) - 1 - _DATE_LENGTH - _ATTEMPT_SUFFIX_MAX
_HASH_LENGTH = 8
_CLEAN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_PARSE = re.compile(
    rf"^{re.escape(PREFIX)}(?P<part>[a-z0-9]+(?:-[a-z0-9]+)*)-(?P<date>\d{{4}}-\d{{2}}-\d{{2}})"
    r"(?:-r(?P<attempt>[1-9][0-9]?))?$"
)
# The AWS rule, for tests and defensive checks.
AWS_ID_RULE = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$")


@dataclass(frozen=True)
class ExportId:
    cluster_part: str
    ingestion_date: dt.date
    attempt: int

    def __str__(self) -> str:
        suffix = f"-r{self.attempt}" if self.attempt > 1 else ""
        return f"{PREFIX}{self.cluster_part}-{self.ingestion_date.isoformat()}{suffix}"


def cluster_part(cluster_identifier: str) -> str:
    """The cluster's piece of the id. Lower-casing is lossless for AWS: cluster identifiers are case-insensitive."""
    lowered = cluster_identifier.lower()
    if _CLEAN.match(lowered) and len(lowered) <= MAX_CLUSTER_PART:
        return lowered
    digest = hashlib.sha256(cluster_identifier.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_LENGTH]
    # str.lower() can turn non-ASCII into ASCII and back again; the slug only keeps a-z0-9 runs.
    slug = _NOT_ALNUM.sub("-", lowered.encode("ascii", "ignore").decode()).strip("-")
    slug = slug[: MAX_CLUSTER_PART - _HASH_LENGTH - 1].rstrip("-")
    return f"{slug}-{digest}" if slug else digest


def make_export_id(cluster_identifier: str, ingestion_date: dt.date, attempt: int = 1) -> str:
    if isinstance(attempt, bool) or not 1 <= attempt <= MAX_ATTEMPT:
        raise ValueError(f"attempt must be an integer from 1 to {MAX_ATTEMPT}, got {attempt!r}")
    return str(ExportId(cluster_part(cluster_identifier), ingestion_date, attempt))


def parse_export_id(identifier: str) -> ExportId | None:
    """The parts of one of our ids, or None for anything else (someone else's export, a malformed id)."""
    match = _PARSE.match(identifier)
    if match is None:
        return None
    try:
        day = dt.date.fromisoformat(match["date"])
    except ValueError:
        return None
    attempt = int(match["attempt"]) if match["attempt"] else 1
    if match["attempt"] == "1":  # attempt 1 is written without a suffix; "-r1" is not one of ours
        return None
    return ExportId(match["part"], day, attempt)


def parse_for_cluster(identifier: str, cluster_identifier: str) -> ExportId | None:
    """The parts of the id when it is one of ours for this cluster, else None."""
    parsed = parse_export_id(identifier)
    if parsed is None or parsed.cluster_part != cluster_part(cluster_identifier):
        return None
    return parsed
