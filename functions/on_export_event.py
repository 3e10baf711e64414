"""Lambda: RDS export events (EventBridge) and the reconcile schedule.

Logic: on_export_event_flow.py (RDS events), glue_events.py (the SOR job's failed runs) and
on_export_event_reconcile.py (the schedule).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from aws_clients import shared_clients
from config import load_config
from glue_events import handle_glue_event, is_glue_event
from observability import correlation_id, count, powertools, seconds
from on_export_event_flow import handle_rds_event
from on_export_event_reconcile import is_reconcile, parse_reconcile, reconcile

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event, context))
    config = load_config(os.environ)
    now = dt.datetime.now(dt.UTC)
    if is_reconcile(event):
        result = reconcile(config, shared_clients(), parse_reconcile(event), now)
    elif is_glue_event(event):
        result = handle_glue_event(config, shared_clients(), event, now)
    else:
        result = handle_rds_event(config, shared_clients(), event, now)
    for name, value in result.metrics():
        count(metrics, name, value)
    for name, value in result.durations():
        seconds(metrics, name, value)
    return result.as_dict()
