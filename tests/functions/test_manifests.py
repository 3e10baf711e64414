"""The run manifest read path under IAM as template.yaml writes it: no s3:ListBucket for GetObject requests."""

from __future__ import annotations

import datetime as dt

import pytest
from botocore.exceptions import ClientError
from export_ids import make_export_id
from manifests import manifest_key, published_run

from local.emulator.aws_emulator import Fault
from tests.functions.conftest import CLUSTER, Pipeline

DAY = dt.date(2026, 11, 25)


def test_a_missing_manifest_is_not_published_even_where_s3_answers_403(pipeline: Pipeline) -> None:
    pipeline.deny_reads_of_missing_keys()
    assert published_run(pipeline.clients.s3, "aurora-sor-sor", "sor", DAY) is None


def test_an_existing_manifest_is_read(pipeline: Pipeline) -> None:
    pipeline.deny_reads_of_missing_keys()
    identifier = make_export_id(CLUSTER, DAY, 2)
    pipeline.write_manifest(DAY, identifier)
    # A longer key under the same prefix must not be taken for the manifest, nor hide it.
    pipeline.client("s3").put_object(Bucket="aurora-sor-sor", Key=manifest_key("sor", DAY) + ".bak", Body=b"{}")
    assert published_run(pipeline.clients.s3, "aurora-sor-sor", "sor", DAY).export_id == identifier
    [listing] = pipeline.emulator.calls("s3", "ListObjectsV2")
    assert listing.query["prefix"] == [manifest_key("sor", DAY)]


def test_only_a_longer_key_under_the_prefix_is_not_the_manifest(pipeline: Pipeline) -> None:
    pipeline.client("s3").put_object(Bucket="aurora-sor-sor", Key=manifest_key("sor", DAY) + ".bak", Body=b"{}")
    assert published_run(pipeline.clients.s3, "aurora-sor-sor", "sor", DAY) is None
    assert pipeline.emulator.calls("s3", "GetObject") == []


@pytest.mark.parametrize("operation", ["ListObjectsV2", "GetObject"])
def test_a_denied_read_is_raised_not_taken_for_missing(pipeline: Pipeline, operation: str) -> None:
    pipeline.write_manifest(DAY, make_export_id(CLUSTER, DAY))
    pipeline.emulator.add_fault(
        Fault(match=lambda r: r.operation == operation, status=403, code="AccessDenied", times=None)
    )
    with pytest.raises(ClientError, match="AccessDenied"):
        published_run(pipeline.no_retry_clients().s3, "aurora-sor-sor", "sor", DAY)
