"""The declared outcome vocabulary: one place for the JSON words and the metrics, and README names every metric."""

from __future__ import annotations

import re
from pathlib import Path

import botocore.session
import config
import export_only
import on_export_event_reconcile
import pytest
import rds_events
import sources
import start_request
from export_tasks import FAILED_STATES, RUNNING_STATES, ExportTaskStatus
from outcomes import (
    EXPORT_SECONDS_METRIC,
    FAILED_STATUS_OUTCOMES,
    PROBLEMS_METRIC,
    ExportOutcome,
    Outcome,
    Result,
)
from refusals import RefusedError

README = Path(__file__).resolve().parents[2] / "README.md"
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def test_readme_names_every_metric_the_lambdas_count() -> None:
    metrics_paragraph = README.read_text().split("Metrics (namespace", 1)[1].split("\n\n", 1)[0]
    documented = set(re.findall(r"`([A-Z][A-Za-z]+)`", metrics_paragraph))
    counted = {o.metric for o in Outcome if o.metric} | {PROBLEMS_METRIC, EXPORT_SECONDS_METRIC}
    assert counted == documented


def test_every_failed_status_has_its_outcome() -> None:
    assert set(FAILED_STATUS_OUTCOMES) == FAILED_STATES


def test_the_export_task_statuses_are_the_ones_botocore_lists_and_each_is_judged_once() -> None:
    status = botocore.session.get_session().get_service_model("rds").shape_for("ExportTask").members["Status"]
    # A String in the model; the statuses are listed in its documentation.
    assert set(re.findall(r"<code>([A-Z_]+)</code>", status.documentation)) == set(ExportTaskStatus)
    groups = [{ExportTaskStatus.COMPLETE}, RUNNING_STATES, FAILED_STATES]
    assert sorted(s for group in groups for s in group) == sorted(ExportTaskStatus)


def test_only_outcomes_spells_a_metric() -> None:
    # Handlers count Result.metrics(); none reads an Outcome's metric or names one itself.
    names = {o.metric for o in Outcome if o.metric} | {PROBLEMS_METRIC}
    for module in sorted(FUNCTIONS.glob("*.py")):
        if module.name == "outcomes.py":
            continue
        text = module.read_text()
        assert not re.search(r"\.metric\b", text), module.name
        assert not [name for name in names if f'"{name}"' in text], module.name


def test_the_declared_vocabularies_keep_the_words_the_json_and_the_template_use() -> None:
    assert [str(k) for k in rds_events.EventKind] == ["completed", "failed", "canceled", "table_extraction_failed"]
    assert [str(k) for k in sources.SourceKind] == ["cluster", "cluster-snapshot", "snapshot"]
    assert [str(s) for s in config.ExportSource] == ["latest-automated-snapshot", "cluster"]
    assert [str(s) for s in ExportTaskStatus] == [
        "STARTING",
        "IN_PROGRESS",
        "COMPLETE",
        "CANCELING",
        "CANCELED",
        "FAILED",
    ]


@pytest.mark.parametrize(
    "error",
    [
        config.ConfigError,
        export_only.InvalidExportOnlyError,
        start_request.InvalidRequestError,
        sources.InvalidSourceError,
        sources.SourceRefusedError,
        rds_events.InvalidEventError,
        on_export_event_reconcile.InvalidReconcileRequestError,
    ],
)
def test_refusals_share_one_base_and_stay_what_they_were(error: type[Exception]) -> None:
    assert issubclass(error, RefusedError)
    assert issubclass(error, ValueError | RuntimeError)


def test_a_result_carries_only_the_fields_its_flow_set_and_counts_each_outcome_once() -> None:
    result = Result(
        Outcome.RECONCILED,
        window=["2026-11-23", "2026-11-26"],
        actions=[
            ExportOutcome("aurora-sor-c-2026-11-25", Outcome.RUN_STARTED, ingestion_date="2026-11-25", job_run_id="jr"),
            ExportOutcome("aurora-sor-c-2026-11-26", Outcome.EXPORTING, hours=1.5),
            ExportOutcome("aurora-sor-c-2026-11-24", Outcome.ALREADY_PUBLISHED, ingestion_date="2026-11-24"),
        ],
        problems=[],
    )
    assert result.as_dict() == {
        "status": "reconciled",
        "window": ["2026-11-23", "2026-11-26"],
        "actions": [
            {
                "export_id": "aurora-sor-c-2026-11-25",
                "ingestion_date": "2026-11-25",
                "action": "started",
                "job_run_id": "jr",
            },
            {"export_id": "aurora-sor-c-2026-11-26", "action": "exporting", "hours": 1.5},
            {"export_id": "aurora-sor-c-2026-11-24", "ingestion_date": "2026-11-24", "action": "already_published"},
        ],
        "problems": [],
    }
    assert result.metrics() == [("ReconcileProblems", 0), ("GlueRunStarted", 1), ("GlueRunSkipped", 1)]


def test_one_word_may_name_two_outcomes_that_count_different_metrics() -> None:
    # An export started (start_export) and a Glue run started (on_export_event) both read "started".
    assert Outcome.EXPORT_STARTED.word == Outcome.RUN_STARTED.word == "started"
    assert Outcome.EXPORT_STARTED is not Outcome.RUN_STARTED
    assert (Outcome.EXPORT_STARTED.metric, Outcome.RUN_STARTED.metric) == ("ExportStarted", "GlueRunStarted")


def test_an_export_whose_run_starts_reports_how_long_it_ran_in_seconds() -> None:
    started = ExportOutcome("aurora-sor-shop-2026-11-26", Outcome.RUN_STARTED, export_seconds=5400.0)
    skipped = ExportOutcome("aurora-sor-shop-2026-11-25", Outcome.ALREADY_PUBLISHED)
    result = Result(Outcome.EVENT_HANDLED, tasks=[started, skipped])
    assert result.durations() == [(EXPORT_SECONDS_METRIC, 5400.0)]
    assert (EXPORT_SECONDS_METRIC, 5400.0) not in result.metrics()  # a duration, not a count
    assert "export_seconds" not in started.as_dict()  # the JSON result stays as documented
