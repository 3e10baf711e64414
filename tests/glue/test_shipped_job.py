"""The one script `sam deploy` uploads (glue/dist/sor_job.py) runs on its own: copied alone into an empty folder, with
no source tree on any path, it publishes a night, and under Spark its rewrite tasks reach the executors by value (an
executor could not import the package: `sor_job` there would be the script itself, not a package)."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from local.emulator.job_runner import JOB, job_command, run, spark_job_command
from tests.exports import make_table
from tests.glue.conftest import DATABASE, DAY, JOB_TIMEOUT_S, SorWorld
from tests.prerequisites import spark_python_or_skip


@pytest.fixture
def shipped_alone(tmp_path: Path) -> Path:
    alone = tmp_path / "alone" / "sor_job.py"
    alone.parent.mkdir()
    shutil.copyfile(JOB, alone)
    return alone


def environment(world: SorWorld) -> dict[str, str]:
    env = world.job_environment()
    env.pop("PYTHONPATH", None)  # nothing of the repository on any path but the runner's own (below)
    return env


@pytest.mark.glue_job
def test_the_shipped_script_alone_publishes_a_night(world: SorWorld, shipped_alone: Path) -> None:
    uri = world.export([make_table("orders", {"id": "bigint", "name": "text"}, [(1, "ana"), (2, "bo")])])
    done = run(job_command(world.job_args(uri), script=shipped_alone), environment(world), timeout=JOB_TIMEOUT_S)
    assert done.code == 0, done.stderr[-3000:]
    assert world.query(f"SELECT id, name FROM {DATABASE}.public_orders ORDER BY id") == [(1, "ana"), (2, "bo")]


def test_the_shipped_script_alone_rewrites_typed_columns_under_spark(world: SorWorld, shipped_alone: Path) -> None:
    table = make_table("sales", {"id": "integer", "day": "date", "amount": "numeric(10,2)"},
                       [(1, "2026-11-25", "10.50"), (2, "0044-03-15 BC", "-0.01")])  # fmt: skip
    uri = world.export([table])
    args = world.job_args(uri, DAY, "--restore_types", "true")
    command = spark_job_command(args, python=spark_python_or_skip(), script=shipped_alone)
    env = environment(world)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])  # for `-m local.emulator.job_runner` only
    done = run(command, env, timeout=JOB_TIMEOUT_S)
    assert done.code == 0, done.stderr[-3000:]
    published = done.summary
    assert published["status"] == "SUCCEEDED", published
    assert world.query(f"SELECT id, amount FROM {DATABASE}.public_sales ORDER BY id") == [
        (1, Decimal("10.50")), (2, Decimal("-0.01")),
    ]  # fmt: skip
    rejected = world.query(f"SELECT id, sor_rejects.raw_values['day'] FROM {DATABASE}.public_sales WHERE day IS NULL")
    assert rejected == [(2, "0044-03-15 BC")]  # a BC date: kept as text in sor_rejects, never shifted
