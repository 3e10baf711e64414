"""The job's failures and how they are told apart: the run cannot go on (ExportError), one table cannot be
published (TableError), and whether a later run may publish it unchanged (FailureKind)."""

from __future__ import annotations

from enum import StrEnum

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError


class ExportError(Exception):
    """The run cannot start or cannot continue at all (exit code 2)."""


class TableError(Exception):
    """One table cannot be published; the others go on (exit code 1 at the end). `transient` says a later run may
    publish it unchanged (FailureKind)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class FailureKind(StrEnum):
    """Why a table failed, for whoever decides whether to run the night again (docs/contracts.md "Run manifest")."""

    TRANSIENT = "transient"  # throttling, a 5xx, a lost connection, a Spark job that lost its tasks: may pass alone
    DETERMINISTIC = "deterministic"  # the data, the catalog or the code: the same run fails the same way


# Error codes botocore's standard retry mode treats as throttling or transient (botocore/retries/standard.py,
# ThrottledRetryableChecker and TransientRetryableChecker); the job's clients already retried them
# (boto_config: adaptive, 10 attempts), so one that still surfaces is a service having a bad night, not the data.
_TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "TransactionInProgressException", "RequestLimitExceeded",
    "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown", "PriorRequestNotComplete",
    "EC2ThrottledException", "RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure",
    "ServiceUnavailable", "InternalServiceException",
})  # fmt: skip


def failure_kind(exc: BaseException) -> FailureKind:
    """TRANSIENT for what a later run may not meet again (see FailureKind), DETERMINISTIC for everything else, bugs
    included: a re-run is started automatically only for transient failures (bounded), never to retry a bug."""
    if isinstance(exc, TableError):
        return FailureKind.TRANSIENT if exc.transient else FailureKind.DETERMINISTIC
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return FailureKind.TRANSIENT if code in _TRANSIENT_CODES or status >= 500 else FailureKind.DETERMINISTIC
    if isinstance(exc, BotoConnectionError | HTTPClientError):  # endpoint unreachable, timeouts, closed connections
        return FailureKind.TRANSIENT
    return FailureKind.DETERMINISTIC
