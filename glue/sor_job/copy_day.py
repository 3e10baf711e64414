"""Copy, clean and verify a day's partition: server-side copies of the export's files, stale keys removed."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.manager import TransferConfig, TransferManager
from s3transfer.subscribers import BaseSubscriber

from sor_job.config import JobConfig
from sor_job.errors import TableError
from sor_job.layout import SOURCE_ETAG_META
from sor_job.plan import ExportedTable, S3Object
from sor_job.rewrite import RewriteUnit

log = logging.getLogger(__name__)


def destination_key(config: JobConfig, name: str, table: ExportedTable, obj: S3Object) -> str:
    """Flat file names under the partition folder: Athena and Hive do not promise to read sub-folders."""
    relative = obj.key[len(table.prefix) :]
    return config.partition_prefix(name) + relative.replace("/", "_")


class Progress:
    """Counts what is in place in the SOR (copied now or kept from an earlier attempt) for the heartbeat log."""

    def __init__(self, files: int, size: int) -> None:
        self._lock = threading.Lock()
        self.planned_files, self.planned_bytes = files, size
        self.files = self.bytes = 0

    def add(self, files: int, size: int) -> None:
        with self._lock:
            self.files += files
            self.bytes += size

    def line(self, tables_done: int, tables: int, seconds: float) -> str:
        with self._lock:
            share = self.bytes / self.planned_bytes if self.planned_bytes else 1.0
            return (
                f"progress: {tables_done}/{tables} tables done, {self.files}/{self.planned_files} files and "
                f"{self.bytes}/{self.planned_bytes} bytes in place ({share:.0%}) after {seconds:.0f}s"
            )


def heartbeat(every: float, line: Callable[[], str], stop: threading.Event) -> threading.Thread:
    """Logs `line()` every `every` seconds until `stop` is set: a long copy stays visible in CloudWatch."""

    def beat() -> None:
        while not stop.wait(every):
            log.info("%s", line())

    thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
    thread.start()
    return thread


class _KnownSource(BaseSubscriber):
    """Tells s3transfer the size and ETag we already listed, sparing one HeadObject per copy, and counts
    the copy in the run's progress once it is done.

    s3transfer >= 0.11 wants the ETag too (it pins multipart copies to it); 0.10 (Glue 5.0) only the size.
    """

    def __init__(self, obj: S3Object, progress: Progress) -> None:
        self._obj = obj
        self._progress = progress

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._obj.size)
        if hasattr(future.meta, "provide_object_etag"):
            future.meta.provide_object_etag(f'"{self._obj.etag}"')

    def on_done(self, future: Any, **kwargs: Any) -> None:
        try:
            future.result()
        except Exception:  # noqa: BLE001 - a failed copy is reported by Copier.copy; here it just does not count
            return
        self._progress.add(1, self._obj.size)


@dataclass(frozen=True)
class CopyStep:
    source: S3Object
    destination: str


def copy_steps_needed(steps: Sequence[CopyStep], present: Mapping[str, str | None]) -> list[CopyStep]:
    """Steps whose destination does not already hold this exact source object (by its recorded ETag)."""
    return [s for s in steps if present.get(s.destination) != s.source.etag]


def stale_keys(steps: Sequence[CopyStep] | Sequence[RewriteUnit], existing: Iterable[S3Object]) -> list[str]:
    wanted = {s.destination for s in steps}
    return sorted(o.key for o in existing if o.key not in wanted)


def verify_partition(steps: Sequence[CopyStep], listed: Sequence[S3Object]) -> None:
    """After copy and clean-up the partition folder holds exactly the planned objects, byte for byte in size."""
    wanted = {s.destination: s.source.size for s in steps}
    found = {o.key: o.size for o in listed}
    missing = sorted(set(wanted) - set(found))
    extra = sorted(set(found) - set(wanted))
    wrong = sorted(k for k in set(wanted) & set(found) if wanted[k] != found[k])
    if missing or extra or wrong:
        raise TableError(
            f"verification failed: {len(missing)} missing {missing[:3]}, {len(extra)} unexpected {extra[:3]}, "
            f"{len(wrong)} with a different size {wrong[:3]}"
        )


class Copier:
    """Server-side copies through s3transfer's managed copy: CopyObject below the multipart threshold,
    UploadPartCopy in parallel parts above it (a single CopyObject stops at 5 GB, [FACTS "The export in S3"]).
    One manager for the whole run bounds concurrency across files and tables."""

    def __init__(self, s3: Any, config: JobConfig, progress: Progress | None = None) -> None:
        self._s3 = s3
        self._config = config
        self.progress = progress or Progress(0, 0)
        self._manager = TransferManager(
            s3,
            TransferConfig(
                multipart_threshold=config.multipart_threshold,
                multipart_chunksize=config.multipart_chunksize,
                max_request_concurrency=config.copy_concurrency,
                max_submission_concurrency=max(2, config.copy_concurrency // 2),
            ),
        )

    def source_etags(self, keys: Iterable[str]) -> dict[str, str | None]:
        """The source ETag each existing destination object was copied from (HeadObject each)."""
        result: dict[str, str | None] = {}
        for key in keys:
            head = self._s3.head_object(Bucket=self._config.sor_bucket, Key=key)
            result[key] = head.get("Metadata", {}).get(SOURCE_ETAG_META)
        return result

    def copy(self, steps: Sequence[CopyStep]) -> None:
        extra: dict[str, Any] = {"MetadataDirective": "REPLACE", **self._config.sse_arguments}
        futures = [
            self._manager.copy(
                copy_source={"Bucket": self._config.export_bucket, "Key": step.source.key},
                bucket=self._config.sor_bucket,
                key=step.destination,
                extra_args={
                    **extra,
                    "Metadata": {SOURCE_ETAG_META: step.source.etag},
                    "CopySourceIfMatch": f'"{step.source.etag}"',
                },
                subscribers=[_KnownSource(step.source, self.progress)],
            )
            for step in steps
        ]
        errors = []
        for step, future in zip(steps, futures, strict=True):
            try:
                future.result()
            except (ClientError, BotoCoreError) as exc:
                errors.append(f"{step.source.key}: {exc}")
        if errors:
            raise TableError(f"{len(errors)} of {len(steps)} copies failed after retries, first: {errors[0]}")

    def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            response = self._s3.delete_objects(
                Bucket=self._config.sor_bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            if response.get("Errors"):
                raise TableError(f"could not remove stale objects: {response['Errors'][:3]}")

    def shutdown(self) -> None:
        self._manager.shutdown()
