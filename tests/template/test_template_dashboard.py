"""The stack's dashboard shows every metric the code emits, by name, namespace and dimensions, and nothing the code
does not emit; and every alarm's state. What is emitted is read from the code itself: the job's metric_data for a
run of the stack's arguments, and for each Lambda the outcomes its modules count (Powertools adds the `service`
dimension, POWERTOOLS_SERVICE_NAME of the function)."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

from outcomes import EXPORT_SECONDS_METRIC, PROBLEMS_METRIC, Outcome

from ops.stack import Stack
from sor_job.config import parse_args
from sor_job.run import metric_data

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
Metric = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, dimensions


def dashboard(stack: Stack) -> dict[str, Any]:
    return json.loads(stack.props("Dashboard")["DashboardBody"])


def shown(stack: Stack) -> set[Metric]:
    found = set()
    for widget in dashboard(stack)["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            namespace, name, *pairs = row
            found.add((namespace, name, frozenset(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def job_metrics(stack: Stack) -> set[Metric]:
    """What the job emits for a run with the stack's DefaultArguments and retention on (every metric there is)."""
    defaults = stack.props("SorJob")["DefaultArguments"]
    argv = [part for pair in defaults.items() for part in pair]
    export_uri = f"s3://{stack.ref('ExportBucket')}/exports/aurora-sor-mycluster-2026-11-26/"
    config = parse_args([*argv, "--export_uri", export_uri, "--ingestion_date", "2026-11-26",
                         "--source_engine", "aurora-postgresql", "--keep_daily", "7"])  # fmt: skip
    summary = {"status": "SUCCEEDED", "tables": 1, "failed_tables": [], "bytes": 1, "rows": 1, "seconds": 1.0,
               "retention": {"enabled": True, "removed_days": 0, "failed_days": 0}}  # fmt: skip
    assert config.metrics_namespace is not None
    return {
        (config.metrics_namespace, d["MetricName"], frozenset((x["Name"], x["Value"]) for x in d["Dimensions"]))
        for d in metric_data(config, summary)
    }


def _reachable(handler: str) -> list[Path]:
    """The handler's module and every functions/ module it imports, transitively (outcomes.py, the declarations,
    aside)."""
    seen, todo = set(), [handler]
    while todo:
        name = todo.pop()
        if name in seen or not (FUNCTIONS / f"{name}.py").exists():
            continue
        seen.add(name)
        tree = ast.parse((FUNCTIONS / f"{name}.py").read_text())
        todo += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
        todo += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    return [FUNCTIONS / f"{name}.py" for name in sorted(seen - {"outcomes"})]


def counted_by(handler: str) -> set[str]:
    """The metric names a Lambda's code can count: its outcomes, the reconcile problems, durations."""
    names: set[str] = set()
    for path in _reachable(handler):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Outcome":
                metric = Outcome[node.attr].metric
                if metric:
                    names.add(metric)
        if "problems=" in text:
            names.add(PROBLEMS_METRIC)
        if "export_seconds =" in text:
            names.add(EXPORT_SECONDS_METRIC)
    return names


def lambda_metrics(stack: Stack) -> set[Metric]:
    found = set()
    for function in ("StartExportFunction", "OnExportEventFunction"):
        props = stack.props(function)
        namespace = props["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
        service = props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        handler = props["Handler"].split(".")[0]
        found |= {(namespace, name, frozenset({("service", service)})) for name in counted_by(handler)}
    return found


def test_every_emitted_metric_has_a_widget_and_every_widget_an_emitted_metric(stack: Stack) -> None:
    emitted = job_metrics(stack) | lambda_metrics(stack)
    assert len(emitted) > 20, "the emitted metrics were not found"
    assert emitted - shown(stack) == set(), "metrics the code emits that no widget shows"
    assert shown(stack) - emitted == set(), "widgets for metrics nothing emits (a name or a dimension drifted)"


def test_the_lambda_metric_finder_sees_each_handlers_own_outcomes() -> None:
    start, event = counted_by("start_export"), counted_by("on_export_event")
    assert {"ExportStarted", "ExportRefused"} <= start
    assert {"GlueRunStarted", PROBLEMS_METRIC, EXPORT_SECONDS_METRIC} <= event
    assert "GlueRunStarted" not in start
    assert "ExportRefused" not in event


def test_every_alarm_is_on_the_dashboard(stack: Stack) -> None:
    widgets = [w for w in dashboard(stack)["widgets"] if w["type"] == "alarm"]
    alarms = {stack.get_att(name, "Arn") for name in stack.of_type("AWS::CloudWatch::Alarm")}
    assert {a for w in widgets for a in w["properties"]["alarms"]} == alarms
