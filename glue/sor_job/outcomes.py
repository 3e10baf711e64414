"""Outcomes: the declared results of a table and of the run (status, failure kind, exit code, publish method)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from sor_job.errors import FailureKind


class TableStatus(StrEnum):
    """One table's outcome in the run manifest (docs/contracts.md "Run manifest")."""

    PUBLISHED = "PUBLISHED"
    EMPTY = "EMPTY"  # published with no rows tonight, or nothing to take a schema from yet
    FAILED = "FAILED"


class RunStatus(StrEnum):
    """The run's outcome: the summary line's and the manifest's `status` (exit 0 only when SUCCEEDED)."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class ExitCode(IntEnum):
    """The job's exit codes (docs/contracts.md "Exit codes and retries"): any non-zero ends the Glue run FAILED."""

    SUCCEEDED = 0  # every table published
    TABLE_FAILED = 1  # at least one table failed; the manifest and metrics say which
    NOT_STARTED = 2  # the run could not start, lost S3/Glue, or crashed


class PublishMethod(StrEnum):
    """How a table's day reaches the SOR."""

    COPY = "copy"  # server-side copies of the export's files: zero data bytes read
    REWRITE = (
        "rewrite"  # Spark units through the restoration transform (rewrite.py, restore_transform.py, typed_table.py)
    )


@dataclass
class TableResult:
    name: str
    source: str
    status: TableStatus = TableStatus.FAILED
    error: str | None = None
    failure: FailureKind | None = None  # set when status is FAILED
    files: int = 0
    bytes: int = 0
    rows: int = 0
    footer_bytes_read: int = 0
    copied: int = 0
    skipped: int = 0
    removed: int = 0
    location: str = ""
    columns: list[dict[str, str]] = field(default_factory=list)
    catalog: str = ""
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    method: PublishMethod = PublishMethod.COPY
    restored_columns: dict[str, str] = field(default_factory=dict)  # catalog column -> restored catalog type
    kept_as_text: list[dict[str, str]] = field(default_factory=list)  # string columns not restored, and why
    rejected_values: dict[str, int] = field(default_factory=dict)  # restored column -> values kept in sor_rejects
    invalid_text: dict[str, int] = field(default_factory=dict)  # string column -> values not UTF-8 (kept as bytes)
    partition_of: str | None = (
        None  # the parent's source when this table is one of its partitions (sor_job/partitioned.py)
    )
    columns_without_evidence: int = 0  # kept_as_text entries of kind no_evidence (the ColumnsKeptAsText metric)
    retyped_history: dict[str, Any] = field(default_factory=dict)  # RetypeReport.manifest() of a retype run
    latest_day: str | None = None  # the day the table's latest table reads after this run (None: none)


@dataclass(frozen=True)
class DayWritten:
    """What the copy or the rewrite left in the day's partition folder."""

    method: PublishMethod
    files: int
    bytes: int
    rows: int
    written: int  # objects this run wrote (copied or rewritten); the manifest calls them `copied`
    skipped: int  # objects an earlier attempt already wrote
    removed: int = 0  # stale objects deleted (counted on the copy path)
    rejected_values: Mapping[str, int] = field(default_factory=dict)  # restored column -> values in sor_rejects
    invalid_text: Mapping[str, int] = field(default_factory=dict)  # string column -> values that are not UTF-8
