"""glue/sor_job.py's main() in-process: logging under the Glue launcher, exit codes, a crash still reported."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local.emulator.aws_emulator import Fault
from local.emulator.job_runner import LocalRun
from sor_job import run
from sor_job.run import main
from tests.exports import make_table
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

pytestmark = pytest.mark.glue_job


def arguments(uri: str) -> list[str]:
    return ["--JOB_ID", "j_1", "--export_uri", uri, "--sor_bucket", SOR_BUCKET, "--catalog_database", DATABASE,
            "--ingestion_date", DAY, "--source_engine", "aurora-postgresql"]  # fmt: skip


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
    return LocalRun.parse(0, out, "").summary  # the exit code is asserted on its own


def test_info_lines_survive_a_root_logger_the_launcher_configured_first(world: SorWorld, launcher_logging, capsys):
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id="aurora-sor-shop-2026-11-26")

    code = main(arguments(uri))

    captured = capsys.readouterr()
    assert code == 0
    assert " INFO " in captured.err
    assert "plan: 1 tables" in captured.err
    assert "table 1/1 public_orders (shop.public.orders): PUBLISHED" in captured.err
    assert summary_line(captured.out)["status"] == "SUCCEEDED"


def crash_in_publish(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug of unknown kind in the middle of the run (the only patch: nothing in AWS raises a RuntimeError)."""

    def publish_table(*_: Any) -> Any:
        raise RuntimeError("a bug nobody foresaw")

    monkeypatch.setattr(run, "publish_table", publish_table)  # where run_job calls it


def test_an_unexpected_exception_still_writes_the_summary_line_and_a_failed_manifest(world, monkeypatch, capsys):
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id="aurora-sor-shop-2026-11-26")
    crash_in_publish(monkeypatch)

    code = main(arguments(uri))

    captured = capsys.readouterr()
    assert code == 2
    summary = summary_line(captured.out)
    assert summary["status"] == "FAILED"
    assert summary["error"] == "RuntimeError: a bug nobody foresaw"
    assert "Traceback" in captured.err  # the stack trace is in the log
    manifest = world.manifest()
    assert (manifest["status"], manifest["export_id"], manifest["error"]) == (
        "FAILED",
        "aurora-sor-shop-2026-11-26",
        "RuntimeError: a bug nobody foresaw",
    )
    assert manifest["ingestion_date"] == DAY
    assert manifest["tables"] == []


def test_a_manifest_that_cannot_be_written_after_a_crash_is_logged_and_the_crash_still_reported(
    world, monkeypatch, capsys
):
    uri = world.export([make_table("orders", {"id": "bigint"}, [(1,)])], export_id="aurora-sor-shop-2026-11-26")
    crash_in_publish(monkeypatch)
    manifest_put = Fault(
        lambda r: r.operation == "PutObject" and r.bucket_key[1].endswith("/manifest.json"),
        403,
        "AccessDenied",
        times=None,
    )
    world.emulator.add_fault(manifest_put)

    code = main(arguments(uri))

    captured = capsys.readouterr()
    assert code == 2
    assert summary_line(captured.out)["error"] == "RuntimeError: a bug nobody foresaw"  # not masked
    assert manifest_put.hits >= 1
    assert "could not write the run manifest" in captured.err
    assert "AccessDenied" in captured.err
    assert world.manifest() == {}
