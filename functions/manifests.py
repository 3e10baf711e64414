"""Has the Glue job already published an ingestion date from a given export? (docs/contracts.md, Run manifest)

"Already published" = s3://<SOR bucket>/_manifests/<catalog db>/ingestion_date=YYYY-MM-DD/manifest.json exists
and its `export_id` is the export's id, whatever its status (a FAILED run already alerted through the Glue
job state rule; re-running it is an operator's decision), except a FAILED manifest the job marked `retryable`:
every table it failed, it failed for a transient cause (throttling, a 5xx, a Spark job that lost its tasks), so
run_requests may run the night again, a bounded number of times.

The manifest is listed before it is read. S3 answers GetObject on a missing key with 404 NoSuchKey only when the
caller also has s3:ListBucket on the bucket, and with 403 AccessDenied otherwise
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, "Permissions"). This role's s3:ListBucket
is conditioned on `s3:prefix` (template.yaml, ListRunManifests), and a GetObject request carries no `s3:prefix`:
a condition whose key is absent from the request is false
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
So "missing" can only be told apart from "denied" by ListObjectsV2 with Prefix = the exact key, which the
condition `_manifests/<db>/*` allows (ListObjectsV2 needs s3:ListBucket:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from aws_clients import error_code
from aws_lambda_powertools import Logger

logger = Logger(child=True)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def manifest_key(catalog_database: str, ingestion_date: dt.date) -> str:
    return f"_manifests/{catalog_database}/ingestion_date={ingestion_date.isoformat()}/manifest.json"


def _listed(s3: Any, bucket: str, key: str) -> bool:
    # Keys are listed in UTF-8 binary order and the exact key sorts before every longer key it prefixes, so the
    # first result is the manifest itself whenever it exists.
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(entry.get("Key") == key for entry in listing.get("Contents", []))


@dataclass(frozen=True)
class PublishedRun:
    """What the day's manifest says of the run that wrote it."""

    export_id: str
    status: str = "SUCCEEDED"  # the run's status: SUCCEEDED or FAILED
    retryable: bool = False  # FAILED, and only for transient causes (the job's manifest key "retryable")
    failed_tables: tuple[str, ...] = ()


def published_run(s3: Any, sor_bucket: str, catalog_database: str, ingestion_date: dt.date) -> PublishedRun | None:
    """The run the day's manifest records, or None when there is no (readable) manifest naming an export.

    A missing manifest is normal; any other S3 error (AccessDenied included) is raised so the invocation fails
    and is retried, because guessing "not published" could double a day and guessing "published" could lose one.
    """
    key = manifest_key(catalog_database, ingestion_date)
    if not _listed(s3, sor_bucket, key):
        return None
    try:
        body = s3.get_object(Bucket=sor_bucket, Key=key)["Body"].read()
    except Exception as error:
        # Deleted between the listing and the read: the same as never written.
        if error_code(error) in _MISSING:
            return None
        raise
    try:
        manifest = json.loads(body)
    except ValueError:
        # The job writes the manifest in one PutObject, so this is damage, not a partial write: a new run
        # rewrites it, which is the safe outcome.
        logger.warning("unreadable run manifest, treating the day as unpublished", extra={"key": key})
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("export_id"), str):
        return None
    failed = [t.get("name") for t in manifest.get("tables", []) if isinstance(t, dict) and t.get("status") == "FAILED"]
    return PublishedRun(
        manifest["export_id"],
        status=str(manifest.get("status", "")),
        retryable=manifest.get("status") == "FAILED" and manifest.get("retryable") is True,
        failed_tables=tuple(str(name) for name in failed),
    )
