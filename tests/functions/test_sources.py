"""sources.source_engine: the engine the Glue job is told (--source_engine) comes from RDS, never from type words,
signed as the on_export_event role under the emulator's IAM enforcement (template.yaml ReadTheSourceEngine)."""

from __future__ import annotations

import pytest
from sources import SourceRefusedError, source_engine

from tests.functions.conftest import CLUSTER, Pipeline


def test_the_engine_is_the_clusters(pipeline: Pipeline) -> None:
    assert source_engine(pipeline.clients.rds, pipeline.config, pipeline.snapshot_arn) == "aurora-postgresql"


def test_a_cluster_that_is_gone_leaves_the_engine_of_its_snapshot(pipeline: Pipeline) -> None:
    rds = pipeline.client("rds")
    manual = rds.create_db_cluster_snapshot(DBClusterIdentifier=CLUSTER, DBClusterSnapshotIdentifier=f"{CLUSTER}-keep")
    rds.delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    arn = manual["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    assert source_engine(pipeline.clients.rds, pipeline.config, arn) == "aurora-postgresql"
    with pytest.raises(SourceRefusedError, match="--source_engine"):
        source_engine(pipeline.clients.rds, pipeline.config, pipeline.cluster_arn)
