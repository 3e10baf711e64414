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
    except RefusedError as error:
        # A refused source (SourceRefusedError, announced already as the day's incident by export_day) or bad input
        # from whoever invoked it by hand (the result's reason is the answer). Both are deterministic: failing the
        # invocation would make Lambda retry it (MaximumRetryAttempts 2), then the on-failure destination and the
        # Errors alarm would speak too. So the invocation ends normally, and the Errors alarm means "the code broke".
        logger.warning("export refused", extra={"reason": str(error)})
        result = Result(Outcome.EXPORT_REFUSED, reason=str(error))
    for name, value in result.metrics():
        count(metrics, name, value)
    return result.as_dict()
