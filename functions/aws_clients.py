"""AWS clients, created on first use (never at import) so tests and AWS_ENDPOINT_URL can point them anywhere.

botocore reads AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>) itself, so the emulator needs no code path
of its own here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

# Standard retry mode backs off on throttling and 5xx; what still fails is raised to the handler, which fails
# the invocation so Lambda's own retry (and the reconcile schedule) try again.
_BOTO_CONFIG = BotoConfig(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@dataclass
class LambdaClients:
    """One lazily created client per service; pass a pre-built one in to replace it."""

    session: boto3.Session | None = None
    _made: dict[str, Any] = field(default_factory=dict)

    def _client(self, service: str) -> Any:
        if service not in self._made:
            session = self.session or boto3.Session()
            self._made[service] = session.client(service, config=_BOTO_CONFIG)
        return self._made[service]

    @property
    def rds(self) -> Any:
        return self._client("rds")

    @property
    def glue(self) -> Any:
        return self._client("glue")

    @property
    def s3(self) -> Any:
        return self._client("s3")

    @property
    def sns(self) -> Any:
        return self._client("sns")

    @property
    def dynamodb(self) -> Any:
        return self._client("dynamodb")


_shared: LambdaClients | None = None


def shared_clients() -> LambdaClients:
    """One LambdaClients per Lambda execution environment, made on the first invocation (not at import) and kept
    warm for the next ones; tests replace `_shared`."""
    global _shared
    if _shared is None:
        _shared = LambdaClients()
    return _shared


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for anything else)."""
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


# The IAM action each API operation of the Lambdas needs (Service Authorization Reference, "Actions defined by"
# S3 / Glue / RDS / SNS: https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html;
# ListObjectsV2 is authorised as s3:ListBucket: https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html).
_IAM_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "GetObject": "s3:GetObject",
    "GetJobRuns": "glue:GetJobRuns",
    "StartJobRun": "glue:StartJobRun",
    "DescribeExportTasks": "rds:DescribeExportTasks",
    "Publish": "sns:Publish",
    "GetItem": "dynamodb:GetItem",
    "PutItem": "dynamodb:PutItem",
    "UpdateItem": "dynamodb:UpdateItem",
    "DeleteItem": "dynamodb:DeleteItem",
    "Scan": "dynamodb:Scan",
}
# S3 answers AccessDenied, the JSON protocols AccessDeniedException (botocore models' error shapes).
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException"})


def operation_name(error: Exception) -> str:
    """The API operation a botocore ClientError came from ('' for anything else)."""
    return str(getattr(error, "operation_name", "") or "")


def denied_action(error: Exception) -> str | None:
    """The IAM action an AccessDenied error was about, or None when the error is not a denial."""
    if error_code(error) not in _ACCESS_DENIED:
        return None
    operation = operation_name(error)
    return _IAM_ACTIONS.get(operation, f"the permission for {operation or 'the call'}")
