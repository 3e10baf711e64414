"""What to export: the day's automated cluster snapshot, the live cluster, or an ARN an operator names.

DescribeDBClusterSnapshots(SnapshotType="automated") lists automated snapshots with SnapshotCreateTime (UTC)
and Status (`available` when usable) (docs/aws-facts.md "Events"; botocore rds service-2.json).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_clients import error_code
from config import Config
from refusals import RefusedError


class SourceKind(StrEnum):
    """What an export's source is: the resource type its ARN names (arn:aws:rds:<region>:<account>:<resourcetype>:
    <name>, https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/USER_Tagging.ARN.Constructing.html)."""

    CLUSTER = "cluster"
    CLUSTER_SNAPSHOT = "cluster-snapshot"
    SNAPSHOT = "snapshot"  # a DB instance snapshot


_KINDS = "|".join(map(re.escape, SourceKind))
_RDS_ARN = re.compile(rf"^arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{{12}}:(?P<kind>{_KINDS}):(?P<name>.+)$")


class SourceRefusedError(RefusedError, RuntimeError):
    """No source fit to publish as this day; alerted, and the invocation fails."""


class InvalidSourceError(RefusedError, ValueError):
    """An operator-supplied source ARN that cannot be this cluster's data."""


@dataclass(frozen=True)
class Source:
    arn: str
    kind: SourceKind
    snapshot_time: dt.datetime | None = None


def automated_snapshot_for_day(rds: Any, config: Config, day: dt.date, now: dt.datetime) -> Source:
    """The newest available automated snapshot taken before the day ended, if it is fresh enough.

    For today that is simply the newest one; for a backfill it is the one that held that day's data.
    Fresh enough = at most MAX_SNAPSHOT_AGE_HOURS older than min(now, end of day): publishing stale data
    under a day's date is worse than publishing nothing (the refusal alerts).
    """
    reference = min(now, config.day_end(day))
    candidates: list[tuple[dt.datetime, str]] = []
    paginator = rds.get_paginator("describe_db_cluster_snapshots")
    pages = paginator.paginate(DBClusterIdentifier=config.cluster_identifier, SnapshotType="automated")
    for page in pages:
        for snap in page.get("DBClusterSnapshots", []):
            created = snap.get("SnapshotCreateTime")
            if str(snap.get("Status", "")).lower() != "available" or not isinstance(created, dt.datetime):
                continue
            if created <= reference:
                candidates.append((created, snap["DBClusterSnapshotArn"]))
    if not candidates:
        raise SourceRefusedError(
            f"no available automated snapshot of cluster {config.cluster_identifier} taken before "
            f"{reference.isoformat()}"
        )
    created, arn = max(candidates)
    age_hours = (reference - created).total_seconds() / 3600
    if age_hours > config.max_snapshot_age_hours:
        raise SourceRefusedError(
            f"newest automated snapshot {arn} was taken {created.isoformat()}, {age_hours:.1f} h before "
            f"{reference.isoformat()}, more than MAX_SNAPSHOT_AGE_HOURS={config.max_snapshot_age_hours:g}"
        )
    return Source(arn, SourceKind.CLUSTER_SNAPSHOT, created)


def live_cluster(rds: Any, config: Config) -> Source:
    clusters = rds.describe_db_clusters(DBClusterIdentifier=config.cluster_identifier)["DBClusters"]
    return Source(clusters[0]["DBClusterArn"], SourceKind.CLUSTER)


def _cluster_snapshot(rds: Any, identifier: str) -> dict[str, Any]:
    """DescribeDBClusterSnapshots of one snapshot ({} when none answers). It takes the identifier (an ARN's last part)
    and, for automated snapshots (ids `rds:...`), SnapshotType="automated" (botocore rds service-2.json,
    DBClusterSnapshotIdentifier)."""
    kwargs = {"DBClusterSnapshotIdentifier": identifier}
    if identifier.startswith("rds:"):
        kwargs["SnapshotType"] = "automated"
    snapshots = rds.describe_db_cluster_snapshots(**kwargs)["DBClusterSnapshots"]
    return dict(snapshots[0]) if snapshots else {}


def named_source(rds: Any, config: Config, arn: str) -> Source:
    """An operator's ARN, checked to be this cluster's data before anything is exported under its id."""
    match = _RDS_ARN.match(arn)
    if match is None:
        raise InvalidSourceError(f"source_arn {arn!r} is not an RDS cluster, cluster snapshot or snapshot ARN")
    kind, name = SourceKind(match["kind"]), match["name"]
    if kind is SourceKind.CLUSTER:
        if name.lower() != config.cluster_identifier.lower():
            raise InvalidSourceError(f"source_arn {arn!r} is not cluster {config.cluster_identifier}")
        return Source(arn, kind)
    if kind is SourceKind.CLUSTER_SNAPSHOT:
        snapshot = _cluster_snapshot(rds, name)
        owner = str(snapshot.get("DBClusterIdentifier", ""))
        if owner.lower() != config.cluster_identifier.lower():
            raise InvalidSourceError(
                f"source_arn {arn!r} is a snapshot of {owner or 'an unknown cluster'}, "
                f"not of {config.cluster_identifier}"
            )
        return Source(arn, kind, snapshot.get("SnapshotCreateTime"))
    # DB instance snapshots have no cluster to check against; the operator named it on purpose.
    return Source(arn, kind)


def source_engine(rds: Any, config: Config, source_arn: str) -> str:
    """The source's RDS engine (DBCluster.Engine: aurora-postgresql, aurora-mysql, ...; botocore rds service-2.json)
    for the Glue job's --source_engine: the export's files do not say which engine wrote them, and the restored
    types depend on it. The configured cluster's engine; when the cluster no longer exists, the engine of the
    cluster snapshot the export was made from (DBClusterSnapshot.Engine)."""
    try:
        clusters = rds.describe_db_clusters(DBClusterIdentifier=config.cluster_identifier)["DBClusters"]
        return str(clusters[0]["Engine"])
    except Exception as error:
        if error_code(error) != "DBClusterNotFoundFault":
            raise
    match = _RDS_ARN.match(source_arn)
    if match is not None and match["kind"] == SourceKind.CLUSTER_SNAPSHOT:
        engine = _cluster_snapshot(rds, match["name"]).get("Engine")
        if engine:
            return str(engine)
    raise SourceRefusedError(
        f"cluster {config.cluster_identifier} no longer exists and the export's source {source_arn} tells no engine: "
        "start the Glue run by hand with --source_engine (README Operations)"
    )
