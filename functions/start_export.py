"""Lambda: start tonight's (or a named day's) RDS export to S3. Logic lives in start_export_flow.py."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from aws_clients import shared_clients
from config import load_config
from observability import correlation_id, count, powertools
from outcomes import Outcome, Result
from refusals import RefusedError
from sources import SourceRefusedError
from start_export_flow import export_day

logger, tracer, metrics = powertools()


@logger.inject_lambda_context(log_event=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(raise_on_empty_metrics=False)
def handler(event: Any, context: Any) -> dict[str, Any]:
    logger.set_correlation_id(correlation_id(event, context))
    config = load_config(os.environ)
    try:
        result = export_day(config, shared_clients(), event, dt.datetime.now(dt.UTC))
    except SourceRefusedError as error:
        # Announced already (export_day, the day's incident). The refusal is deterministic: failing the invocation
        # would make Lambda retry it (MaximumRetryAttempts 2), then the on-failure destination and the Errors alarm
        # would speak too. So the invocation ends normally: one refused day, one message.
        logger.warning("export refused, announced", extra={"reason": str(error)})
        result = Result(Outcome.EXPORT_REFUSED, reason=str(error))
    except RefusedError as error:
        # Bad input from whoever invoked it by hand: the result's reason is the answer, nothing is announced, and the
        # invocation does not fail, so the Errors alarm keeps meaning "the code broke".
        logger.warning("export request refused", extra={"reason": str(error)})
        result = Result(Outcome.EXPORT_REFUSED, reason=str(error))
    for name, value in result.metrics():
        count(metrics, name, value)
    return result.as_dict()
