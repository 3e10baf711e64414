"""What each role's code asks of AWS: the one declaration behind the emulator's IAM enforcement and the verifier.

Every AWS request a component makes (start_export, on_export_event, the Glue job, RDS export writing as the export
role) is one `Call`: the role it runs as, the IAM action, the resource ARN and the request context keys AWS puts on
it. The emulator's enforcement (local/iam.py) refuses any request that is not declared here, and the deployment
verifier (local/verify_deployment.py) asks `iam:SimulatePrincipalPolicy` about exactly these calls in a real
account, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Names:
    """The physical names of one deployed stack (from its outputs and resources): what a resource ARN is built of."""

    partition: str
    region: str
    account: str
    cluster_identifier: str
    export_bucket: str
    export_prefix: str
    sor_bucket: str
    catalog_database: str
    key_arn: str
    alert_topic_arn: str
    glue_job_name: str
    role_arns: Mapping[str, str]  # role logical id in template.yaml -> role ARN


@dataclass(frozen=True)
class Call:
    """One kind of request a role's code makes, as IAM sees it."""

    role: str  # logical id of the role in template.yaml, e.g. "OnExportEventRole"
    action: str  # e.g. "s3:GetObject"
    resource: str  # a concrete ARN for the given Names (an example key where the code builds keys per day)
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # condition keys the request carries
    why: str = ""  # which code path makes it


def declared_calls(names: Names) -> list[Call]:
    """Every call of every role, for the stack `names` describes."""
    raise NotImplementedError("filled in by the IAM enforcement work (issue 9)")
