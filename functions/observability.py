"""Powertools Logger, Tracer and Metrics as every handler sets them up (cheap objects, no AWS calls)."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

DEFAULT_NAMESPACE = "aurora-sor"


def powertools() -> tuple[Logger, Tracer, Metrics]:
    """Service name from POWERTOOLS_SERVICE_NAME (read by Powertools), namespace defaults to aurora-sor."""
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE
    return Logger(), Tracer(), Metrics(namespace=namespace)


def count(metrics: Metrics, name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def seconds(metrics: Metrics, name: str, value: float) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Seconds, value=value)


def correlation_id(event: Any, context: Any) -> str:
    """EventBridge's event id when there is one, else the Lambda request id."""
    if isinstance(event, dict) and isinstance(event.get("id"), str):
        return event["id"]
    return str(getattr(context, "aws_request_id", "") or "")
