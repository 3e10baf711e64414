"""The AWS CLI's copy, as a peer of the job's copy path: `aws s3 cp --recursive s3://export/ s3://sor/`.

The CLI's transfer engine is s3transfer: `aws s3 cp` lists the source prefix (ListObjectsV2, paginated) and hands
every object to a TransferManager whose `max_concurrent_requests` defaults to 10 ("AWS CLI S3 configuration",
https://docs.aws.amazon.com/cli/latest/topic/s3-config.html); an object below the multipart threshold (8 MB by
default) is one CopyObject. s3transfer's `CopySubmissionTask` (s3transfer/copies.py in the locked distribution)
makes a HeadObject of the source first unless the caller provides both the size and the ETag; the peer provides both
from its listing, so it makes no HeadObject: the strongest form of the CLI's copy. It lists, then makes one managed
copy per data file, 10 in flight, to the keys the job writes. It publishes no catalog, verifies nothing and writes
no manifest: strictly less work than the job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from sor_job.names import base_table_name


@dataclass(frozen=True)
class PeerRun:
    """The job and the CLI's copy on one export under one latency model (local/bench/bench.py measure_peers)."""

    shape: str  # tables x files
    request_ms: float
    copy_ms: float  # the whole delay of one copy request (request_ms included)
    cli_seconds: float
    cli_requests: int
    job_seconds: float  # the job's own seconds (its summary), without the interpreter's start
    job_wall_seconds: float
    job_requests: int
    job_s3_per_file: float  # S3 requests of the job per data file (its metadata reads, manifest and run row included)
    emulator_cpu_seconds: float  # CPU the emulator (this process) spent while the job ran
    job_cpu_seconds: float  # CPU of the job's process (interpreter start and imports included)

    @property
    def ratio(self) -> float:
        return self.job_seconds / self.cli_seconds if self.cli_seconds else 0.0


CLI_MAX_CONCURRENT_REQUESTS = 10  # `max_concurrent_requests`, the AWS CLI's default
CLI_MULTIPART_THRESHOLD = 8 * 2**20  # `multipart_threshold`, the AWS CLI's default


def sor_key(database: str, day: str, prefix: str, key: str) -> str:
    """Where the job puts an export object: <db>/<table>/ingestion_date=<day>/<file path with '/' as '_'>."""
    relative = key[len(prefix) :]
    source_database, folder, rest = relative.split("/", 2)
    del source_database
    return f"{database}/{base_table_name(folder)}/ingestion_date={day}/" + rest.replace("/", "_")


def copy_like_the_cli(s3: Any, export_uri: str, sor_bucket: str, database: str, day: str) -> tuple[int, int, float]:
    """Lists the export and copies every data file with s3transfer at the CLI's defaults. Returns (files, bytes,
    seconds)."""
    started = time.perf_counter()
    bucket, _, prefix = export_uri.removeprefix("s3://").partition("/")
    objects = [
        (item["Key"], int(item["Size"]), str(item["ETag"]))
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
        if item["Key"].endswith(".parquet")
    ]
    config = TransferConfig(
        max_request_concurrency=CLI_MAX_CONCURRENT_REQUESTS, multipart_threshold=CLI_MULTIPART_THRESHOLD
    )
    with TransferManager(s3, config) as manager:
        futures = [
            manager.copy(
                copy_source={"Bucket": bucket, "Key": key},
                bucket=sor_bucket,
                key=sor_key(database, day, prefix, key),
                subscribers=[_Listed(size, etag)],
            )
            for key, size, etag in objects
        ]
        for future in futures:
            future.result()
    return len(objects), sum(size for _, size, _ in objects), time.perf_counter() - started


class _Listed(BaseSubscriber):
    """Tells s3transfer the source's size and ETag from the listing (so it makes no HeadObject)."""

    def __init__(self, size: int, etag: str) -> None:
        self._size, self._etag = size, etag

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)
        future.meta.provide_object_etag(self._etag)
