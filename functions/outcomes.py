"""Every outcome the Lambdas report, declared once: the word their JSON result carries and the metric it counts.

A handler returns `Result.as_dict()` and counts `Result.metrics()`, refusals included (they are results, not errors,
so a function's Errors alarm means the code broke). Nothing else spells an outcome or a metric name.
Metric names are the ones README (Operations, Metrics) documents; namespace and dimensions come from Powertools.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from export_tasks import ExportTaskStatus

if TYPE_CHECKING:
    # Annotations only (rds_events.py does not import this module: RefusedError lives in refusals.py).
    from rds_events import EventKind


class Outcome(Enum):
    """One outcome: `word` goes into the JSON result, `metric` (None: not counted) is counted once per occurrence.

    Two outcomes may share a word when they describe different things (an export started vs a Glue run started);
    the member, not the word, is the identity.
    """

    word: str
    metric: str | None

    def __init__(self, word: str, metric: str | None) -> None:
        self.word = word
        self.metric = metric

    # start_export, the invocation's outcome (Result.outcome, the JSON's "status").
    EXPORT_STARTED = ("started", "ExportStarted")
    EXPORT_ALREADY_STARTED = ("already_started", "ExportSkipped")
    # No export, on purpose: a refused source (announced once as the day's incident, not retried) or bad input
    # (the "reason" says what to fix; nothing announced). Neither fails the invocation.
    EXPORT_REFUSED = ("refused", "ExportRefused")

    # on_export_event, the invocation's outcome (Result.outcome, the JSON's "status").
    EVENT_HANDLED = ("handled", None)
    EVENT_IGNORED = ("ignored", "EventsIgnored")
    RECONCILED = ("reconciled", None)

    # One export's outcome (ExportOutcome.outcome), the "action" of an entry in "tasks" (an RDS event) or "actions"
    # (reconcile).
    RUN_STARTED = ("started", "GlueRunStarted")
    ALREADY_PUBLISHED = ("already_published", "GlueRunSkipped")
    ALREADY_RUNNING = ("already_running", "GlueRunSkipped")
    # The day's manifest names a later attempt of the same day: this older export must never replace it.
    SUPERSEDED = ("superseded", "GlueRunSkipped")
    GAVE_UP = ("gave_up", "GlueRunGaveUp")
    NOT_COMPLETE = ("not_complete", None)
    # The job (MaxConcurrentRuns 1) is busy with another day, so no run was started: two outcomes because the two
    # paths do different things about it. The event path hands the export over to reconcile (which starts a run
    # for a COMPLETE export without a manifest) instead of failing into Lambda's retries and the dead-letter
    # queue; counted, since a run now waits up to a reconcile period. Decided in on_export_event_flow.py.
    DEFERRED_TO_RECONCILE = ("deferred_to_reconcile", "GlueRunDeferred")
    # Reconcile itself found the job busy: its own next run retries the day, so nothing is handed over and nothing
    # is counted (the day stays in its window). Decided in on_export_event_reconcile.py.
    GLUE_BUSY = ("glue_busy", None)
    # The day could not be judged: an AWS call failed (reconcile alerts it, then fails the invocation). Decided in
    # on_export_event_reconcile.py.
    NOT_JUDGED = ("not_judged", None)
    # A failure, cancellation or table-extraction incident was seen (announced, or already announced).
    ALERTED = ("alerted", "ExportFailed")
    # A Glue run of the SOR job failed, timed out or errored: the day's publish-failed incident was seen
    # (functions/glue_events.py). The job's own PublishSucceeded=0 counts it.
    PUBLISH_FAILED = ("publish_failed", None)
    # A failure event about a task whose status is not a failed one; the entry's "status" says which.
    STATUS_DIFFERS = ("status_differs", None)
    # reconcile: the latest attempt of a day is still exporting ("hours" since it started), ended badly, or has a
    # status this code does not know ("status" says which).
    EXPORTING = ("exporting", None)
    EXPORT_FAILED = ("failed", None)
    EXPORT_CANCELED = ("canceled", None)
    EXPORT_CANCELING = ("canceling", None)
    UNKNOWN_STATUS = ("unknown_status", None)


# The outcome of a day whose latest attempt ended badly, by its RDS status (export_tasks.FAILED_STATES).
FAILED_STATUS_OUTCOMES: dict[ExportTaskStatus, Outcome] = {
    ExportTaskStatus.FAILED: Outcome.EXPORT_FAILED,
    ExportTaskStatus.CANCELED: Outcome.EXPORT_CANCELED,
    ExportTaskStatus.CANCELING: Outcome.EXPORT_CANCELING,
}


# Reconcile's problem count, counted on every reconcile (0 included) so the alarm has data.
PROBLEMS_METRIC = "ReconcileProblems"
EXPORT_SECONDS_METRIC = "ExportSeconds"  # unit Seconds: how long an export ran, when on_export_event starts its run


def _plain(items: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in items.items() if value is not None}


@dataclass
class ExportOutcome:
    """What one invocation did about one export."""

    export_id: str
    outcome: Outcome  # JSON "action"
    ingestion_date: str | None = None
    job_run_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    hours: float | None = None  # EXPORTING: hours since the task started
    task_status: str | None = None  # STATUS_DIFFERS, UNKNOWN_STATUS: the RDS export task's status
    # RUN_STARTED: how long the export took (TaskEndTime - TaskStartTime), counted once, when its run starts
    export_seconds: float | None = None
    # The day's run manifest status (SUCCEEDED or FAILED) when one was read: how reconcile tells a publish failure has
    # ended. Not in the JSON, which says what this invocation did.
    manifest_status: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return _plain(
            {
                "export_id": self.export_id,
                "ingestion_date": self.ingestion_date,
                "action": self.outcome.word,
                "job_run_id": self.job_run_id,
                "warnings": self.warnings or None,
                "hours": self.hours,
                "status": self.task_status,
            }
        )


@dataclass
class Result:
    """One invocation's result. Each flow fills its own fields; the JSON carries only the fields that are set."""

    outcome: Outcome  # JSON "status"
    # start_export: the export it started (or found started).
    export_id: str | None = None
    ingestion_date: str | None = None
    source_arn: str | None = None
    export_uri: str | None = None
    # on_export_event, an RDS event: which one, why it was ignored, and the exports it was about.
    event: str | None = None
    kind: EventKind | None = None
    reason: str | None = None
    tasks: list[ExportOutcome] | None = None
    # on_export_event, reconcile: the days it judged, what it did about each, and the problems it alerted.
    window: list[str] | None = None
    actions: list[ExportOutcome] | None = None
    problems: list[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        return _plain(
            {
                "export_id": self.export_id,
                "ingestion_date": self.ingestion_date,
                "source_arn": self.source_arn,
                "export_uri": self.export_uri,
                "status": self.outcome.word,
                "event": self.event,
                "kind": self.kind,
                "reason": self.reason,
                "tasks": None if self.tasks is None else [t.as_dict() for t in self.tasks],
                "window": self.window,
                "actions": None if self.actions is None else [a.as_dict() for a in self.actions],
                "problems": self.problems,
            }
        )

    def metrics(self) -> list[tuple[str, float]]:
        """(metric name, value) to count for this invocation: its outcome, each export's outcome, the problems."""
        counted: list[tuple[str, float]] = []
        if self.problems is not None:
            counted.append((PROBLEMS_METRIC, len(self.problems)))
        entries = [*(self.tasks or []), *(self.actions or [])]
        for outcome in [self.outcome, *(entry.outcome for entry in entries)]:
            if outcome.metric:
                counted.append((outcome.metric, 1))
        return counted

    def durations(self) -> list[tuple[str, float]]:
        """(metric name, seconds) for this invocation: the duration of each export whose run it started."""
        entries = [*(self.tasks or []), *(self.actions or [])]
        return [(EXPORT_SECONDS_METRIC, e.export_seconds) for e in entries if e.export_seconds is not None]
