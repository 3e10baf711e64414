"""Alarms on the typed-column metrics of the SOR job: they watch exactly the datum the job emits, with the stack's own
job arguments, and tell the alert topic when a night kept values in sor_rejects or kept columns as text for want of
evidence (README "What each alert means")."""

from __future__ import annotations

from typing import Any

import pytest

from ops.stack import Stack
from sor_job.config import parse_args
from sor_job.run import metric_data

# (metric, the summary key the job counts it from)
TYPED_METRICS = [
    ("RejectedValues", "rejected_values"),
    ("ColumnsKeptAsText", "columns_kept_as_text"),
    ("InvalidTextValues", "invalid_text_values"),
]


def _emitted(stack: Stack, summary_key: str, count: int) -> tuple[str | None, dict[str, Any]]:
    """The namespace and the datum the job emits for a run with `count` in `summary_key`, run with the stack's
    DefaultArguments (what a run started by the export event or by hand gets)."""
    defaults = stack.props("SorJob")["DefaultArguments"]
    argv = [part for pair in defaults.items() for part in pair]
    export_uri = f"s3://{stack.ref('ExportBucket')}/exports/aurora-sor-mycluster-2026-11-26/"
    config = parse_args(
        [*argv, "--export_uri", export_uri, "--ingestion_date", "2026-11-26", "--source_engine", "aurora-postgresql"]
    )
    summary = {"status": "SUCCEEDED", "tables": 3, "failed_tables": [], "bytes": 10, "rows": 5, summary_key: count}
    return config.metrics_namespace, {d["MetricName"]: d for d in metric_data(config, summary)}


def _alarms_on(stack: Stack, metric: str) -> list[dict[str, Any]]:
    alarms = [stack.props(name) for name in stack.of_type("AWS::CloudWatch::Alarm")]
    return [a for a in alarms if a["MetricName"] == metric]


@pytest.mark.parametrize(("metric", "summary_key"), TYPED_METRICS)
def test_each_typed_metric_has_one_alarm_on_the_datum_the_job_emits(
    either_stack: Stack, metric: str, summary_key: str
) -> None:
    namespace, emitted = _emitted(either_stack, summary_key, 4)
    (alarm,) = _alarms_on(either_stack, metric)
    assert alarm["Namespace"] == namespace == "aurora-sor"
    assert alarm["Dimensions"] == emitted[metric]["Dimensions"]  # same dimension name and value, or no data at all
    assert emitted[metric]["Value"] == 4
    assert alarm["AlarmActions"] == [either_stack.ref("AlertTopic")]


@pytest.mark.parametrize(("metric", "summary_key"), TYPED_METRICS)
def test_a_night_with_any_count_alarms_and_a_night_without_does_not(
    stack: Stack, metric: str, summary_key: str
) -> None:
    (alarm,) = _alarms_on(stack, metric)
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    threshold = float(alarm["Threshold"])
    assert alarm["Statistic"] == "Maximum"  # a re-run in the same hour does not add the count twice
    for count, breaches in ((0, False), (1, True), (250, True)):
        _, emitted = _emitted(stack, summary_key, count)
        assert (emitted[metric]["Value"] > threshold) is breaches, count
    # no run in the period is not a problem: NoSorPublishAlarm watches for missing nights
    assert alarm["TreatMissingData"] == "notBreaching"
    assert int(alarm["EvaluationPeriods"]) == 1


@pytest.mark.parametrize("metric", [m for m, _ in TYPED_METRICS])
def test_the_alarm_says_where_to_look_and_carries_no_values(stack: Stack, metric: str) -> None:
    (alarm,) = _alarms_on(stack, metric)
    description = alarm["AlarmDescription"]
    assert "manifest" in description
    assert 'README "What each alert means"' in description
    if metric == "RejectedValues":
        assert "sor_rejects" in description
        assert "rejected_values" in description
    elif metric == "InvalidTextValues":
        assert "invalid_text" in description
        assert "byte for byte" in description
    else:
        assert "kept_as_text" in description
    # an alarm's notification has the metric's statistic only; the job never puts values in a dimension
    _, emitted = _emitted(stack, "rejected_values", 2)
    assert [d["Name"] for d in emitted[metric]["Dimensions"]] == ["CatalogDatabase"]
