"""glue/sor_job.py's main() in-process: logging under the Glue launcher, exit codes, a crash still reported."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sor_job

from tests.exports import make_table
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

pytestmark = pytest.mark.glue_job


def arguments(uri: str) -> list[str]:
    return ["--JOB_ID", "j_1", "--export_uri", uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE,
            "--ingestion_date", DAY]  # fmt: skip


@pytest.fixture
def launcher_logging() -> Iterator[logging.Handler]:
    """The root logger as a launcher leaves it before the script runs: its own handler, level WARNING."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    handler = logging.StreamHandler()  # the launcher's, bound to the stderr of its time
    root.handlers = [handler]
    root.setLevel(logging.WARNING)
    yield handler
    root.handlers, _ = saved
    root.setLevel(saved[1])


def summary_line(out: str) -> dict[str, Any]:
    return json.loads(out.strip().splitlines()[-1])


def test_info_lines_survive_a_root_logger_the_launcher_configured_first(world: SorWorld, launcher_logging, capsys):
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id="aurora-sor-shop-2026-11-26")

    code = sor_job.main(arguments(uri))

    captured = capsys.readouterr()
    assert code == 0
    assert " INFO " in captured.err
    assert "plan: 1 tables" in captured.err
    assert "table 1/1 public_orders (shop.public.orders): PUBLISHED" in captured.err
    assert summary_line(captured.out)["status"] == "SUCCEEDED"
