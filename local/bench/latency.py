"""A latency model for the embedded emulator, so that timings measured against it mean something.

moto answers in microseconds, which would make any parallel design look pointless and any sequential one look
free. The model adds, before each request is served (an `Emulator.hooks` callable, run in the server's request
thread; the server is threaded, so concurrent requests sleep concurrently, as they would against AWS):

    delay = request_ms                                          every request (S3, Glue, CloudWatch, ...)
          + copy_ms + copied_bytes / (copy_mib_per_s * 2**20)   CopyObject and UploadPartCopy only

- `request_ms`: the round trip plus service time of a small request. AWS says small S3 requests have median
  latencies "in the tens of milliseconds" (Best Practices Design Patterns: Optimizing Amazon S3 Performance,
  https://docs.aws.amazon.com/whitepapers/latest/s3-optimizing-performance-best-practices/timeouts-and-retries-for-latency-sensitive-applications.html);
  the default 30 ms sits in that range and is used for Glue and CloudWatch calls too (an assumption).
- `copy_ms`: what a server-side copy costs on top of a plain request even when tiny (it reads and writes
  an object); 20 ms is an assumption, not a published figure.
- `copy_mib_per_s`: server-side copy throughput of ONE request. AWS does not publish it. awslabs/aws-c-s3
  PR #288 (https://github.com/awslabs/aws-c-s3/pull/288) measured a 1 GiB copy done as one 1024 MiB
  UploadPartCopy in 15.6 s, about 66 MiB/s; the default 64 MiB/s follows it. Older reports are slower
  (about 1 GB/min for a sequential copy, HumanCellAtlas/data-store issue 393), so treat it as optimistic.

Bytes copied: UploadPartCopy names them in `x-amz-copy-source-range`; CopyObject does not, so the hook asks
`size_of(bucket, key)` for the source object's size (the benchmark knows what it wrote). Requests of the
emulator's own control API (service "moto-api") are not delayed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import unquote

from local.emulator.aws_emulator import Emulator, Request

COPY_OPERATIONS = frozenset({"CopyObject", "UploadPartCopy"})
_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")

SizeOf = Callable[[str, str], int | None]


@dataclass(frozen=True)
class LatencyModel:
    """Delays in milliseconds; throughput in MiB/s per copy request (see the module docstring)."""

    request_ms: float = 30.0
    copy_ms: float = 20.0
    copy_mib_per_s: float = 64.0

    def __post_init__(self) -> None:
        if self.request_ms < 0 or self.copy_ms < 0:
            raise ValueError(f"delays must be >= 0 ms, got request_ms={self.request_ms} copy_ms={self.copy_ms}")
        if self.copy_mib_per_s <= 0:
            raise ValueError(f"copy throughput must be > 0 MiB/s, got {self.copy_mib_per_s}")

    def delay(self, operation: str, copied_bytes: int = 0) -> float:
        """Seconds to wait before serving one request."""
        seconds = self.request_ms / 1000
        if operation in COPY_OPERATIONS:
            seconds += self.copy_ms / 1000 + copied_bytes / (self.copy_mib_per_s * 2**20)
        return seconds

    def describe(self) -> str:
        return (
            f"{self.request_ms:g} ms per request; copies +{self.copy_ms:g} ms "
            f"+ bytes at {self.copy_mib_per_s:g} MiB/s per request"
        )


def copy_source(headers: dict[str, str]) -> tuple[str, str] | None:
    """(bucket, key) named by `x-amz-copy-source` ("bucket/key" or "/bucket/key", URL-encoded, maybe ?versionId)."""
    value = headers.get("x-amz-copy-source")
    if not value:
        return None
    path = unquote(value.split("?", 1)[0]).lstrip("/")
    bucket, _, key = path.partition("/")
    return (bucket, key) if bucket and key else None


def copied_bytes(request: Request, size_of: SizeOf) -> int:
    """How many bytes a copy request moves: its source range (UploadPartCopy) or the whole source object."""
    if request.operation not in COPY_OPERATIONS:
        return 0
    match = _RANGE.match(request.headers.get("x-amz-copy-source-range", "").strip())
    if match:
        return int(match.group(2)) - int(match.group(1)) + 1
    source = copy_source(request.headers)
    if source is None:
        return 0
    return size_of(*source) or 0


class LatencyHook:
    """An `Emulator.hooks` entry applying a LatencyModel; also totals what it added (for the report)."""

    def __init__(self, model: LatencyModel, size_of: SizeOf = lambda bucket, key: None) -> None:
        self.model = model
        self._size_of = size_of
        self._lock = threading.Lock()
        self.requests = 0
        self.seconds = 0.0

    def __call__(self, request: Request) -> None:
        if request.service == "moto-api":
            return
        seconds = self.model.delay(request.operation, copied_bytes(request, self._size_of))
        with self._lock:
            self.requests += 1
            self.seconds += seconds
        time.sleep(seconds)


@contextmanager
def latency(emulator: Emulator, hook: LatencyHook) -> Iterator[LatencyHook]:
    """Applies the hook to every request served inside the block (and only there)."""
    emulator.hooks.append(hook)
    try:
        yield hook
    finally:
        emulator.hooks.remove(hook)
