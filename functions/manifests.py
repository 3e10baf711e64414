"""Has the Glue job already published an ingestion date from a given export? (docs/contracts.md, Run manifest)

"Already published" = s3://<SOR bucket>/_manifests/<catalog db>/ingestion_date=YYYY-MM-DD/manifest.json exists
and its `export_id` is the export's id, whatever its status (a FAILED run already alerted through the Glue
job state rule; re-running it is an operator's decision).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from aws_clients import error_code
from aws_lambda_powertools import Logger

logger = Logger(child=True)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})


def manifest_key(catalog_database: str, ingestion_date: dt.date) -> str:
    return f"_manifests/{catalog_database}/ingestion_date={ingestion_date.isoformat()}/manifest.json"


def published_export_id(s3: Any, sor_bucket: str, catalog_database: str, ingestion_date: dt.date) -> str | None:
    """The export id the day's manifest names, or None when there is no (readable) manifest.

    A missing manifest is normal; any other S3 error is raised so the invocation fails and is retried,
    because guessing "not published" could double a day and guessing "published" could lose one.
    """
    key = manifest_key(catalog_database, ingestion_date)
    try:
        body = s3.get_object(Bucket=sor_bucket, Key=key)["Body"].read()
    except Exception as error:
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
    export_id = manifest.get("export_id") if isinstance(manifest, dict) else None
    return export_id if isinstance(export_id, str) else None


def is_published(s3: Any, sor_bucket: str, catalog_database: str, ingestion_date: dt.date, export_id: str) -> bool:
    return published_export_id(s3, sor_bucket, catalog_database, ingestion_date) == export_id
