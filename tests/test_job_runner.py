"""local/emulator/job_runner.py: the one local runner of the shipped job glue/dist/sor_job.py (its command,
environment and summary).

The job itself runs through it in tests/glue (SorWorld), the demo and the bench; here, its own contract with a
stand-in child process, so each rule is seen failing on its own.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from local.emulator.aws_emulator import wait_for
from local.emulator.job_runner import (
    JOB,
    JOB_PYTHON_VARIABLE,
    STDERR_TAIL,
    LocalRun,
    SummaryMissing,
    finish,
    glue_run_args,
    job_args,
    job_command,
    job_environment,
    run,
    spark_job_command,
    start,
)
from local.emulator.spark_env import REPO_ROOT


def child(code: str) -> list[str]:
    return [sys.executable, "-c", code]


# -- the summary ----------------------------------------------------------------------------------------------------
def test_the_summary_is_the_last_stdout_line() -> None:
    parsed = LocalRun.parse(1, 'a progress line\n{"status": "FAILED", "tables": 2}\n\n', "log\n")
    assert parsed == LocalRun(1, {"status": "FAILED", "tables": 2}, parsed.stdout, "log\n")


@pytest.mark.parametrize(
    ("stdout", "said"),
    [
        ("", "nothing on stdout"),
        ("  \n", "nothing on stdout"),
        ('{"status": "SUCC', "not a JSON object"),  # cut short: the job was killed while printing
        ('{"status": "SUCCEEDED"}\nTraceback (most recent call last):', "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_a_missing_or_garbled_summary_is_an_error_with_stderrs_tail(stdout: str, said: str) -> None:
    stderr = "x" * 5000 + "\nRuntimeError: the real cause\n"
    with pytest.raises(SummaryMissing, match=said) as caught:
        LocalRun.parse(2, stdout, stderr)
    message = str(caught.value)
    assert "exit 2" in message
    assert message.endswith(stderr[-STDERR_TAIL:])
    assert "x" * 3000 not in message  # the tail, not the whole log


# -- commands and environment ------------------------------------------------------------------------------------------
def test_the_plain_command_runs_the_script_in_the_chosen_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JOB_PYTHON_VARIABLE, raising=False)
    assert job_command(["--a", "1"]) == [sys.executable, str(JOB), "--a", "1"]
    monkeypatch.setenv(JOB_PYTHON_VARIABLE, "/opt/glue5/bin/python")
    assert job_command(["--a", "1"]) == ["/opt/glue5/bin/python", str(JOB), "--a", "1"]
    assert job_command([], python=Path("/usr/bin/python3")) == ["/usr/bin/python3", str(JOB)]
    assert JOB == REPO_ROOT / "glue" / "dist" / "sor_job.py"
    assert JOB.is_file()


def test_the_spark_command_is_this_modules_entry() -> None:
    python = Path("/venv-spark/bin/python")
    assert spark_job_command(["--x", "y"], python=python) == [
        str(python), "-m", "local.emulator.job_runner", "--master", "local[2]", "--", "--x", "y",
    ]  # fmt: skip
    assert spark_job_command([], master="local[1]", python=python)[4] == "local[1]"


def test_the_environment_is_this_processs_signed_with_the_role() -> None:
    base = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_ACCESS_KEY_ID": "testing", "PATH": "/bin"}
    credentials = {"AWS_ACCESS_KEY_ID": "ASIAROLE", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    assert job_environment(credentials, base) == {**base, **credentials}
    assert base["AWS_ACCESS_KEY_ID"] == "testing"  # not changed in place


# -- running ----------------------------------------------------------------------------------------------------------
ECHO = r"""
import os, sys
print("starting", file=sys.stderr, flush=True)
print("not the summary")
print('{"status": "SUCCEEDED", "key": "%s", "cwd": "%s"}' % (os.environ["ROLE_KEY"], os.getcwd()))
print("done", file=sys.stderr)
sys.exit(3)
"""


def test_run_returns_the_code_the_summary_and_both_outputs() -> None:
    done = run(child(ECHO), {"ROLE_KEY": "k1"}, timeout=60)
    assert done.code == 3  # the caller decides what a code means
    assert done.summary == {"status": "SUCCEEDED", "key": "k1", "cwd": str(REPO_ROOT)}
    assert done.stdout.splitlines()[0] == "not the summary"
    assert done.stderr == "starting\ndone\n"


def test_run_shows_each_log_line_as_it_comes() -> None:
    seen: list[str] = []
    done = run(child(ECHO), {"ROLE_KEY": "k2"}, timeout=60, on_stderr=seen.append)
    assert seen == ["starting\n", "done\n"]
    assert done.stderr == "starting\ndone\n"
    assert done.summary["key"] == "k2"


def test_a_job_that_floods_stdout_while_its_log_is_shown_does_not_hang() -> None:
    flood = 'import sys; sys.stdout.write("x" * 1_000_000 + "\\n"); print("{}"); print("end", file=sys.stderr)'
    seen: list[str] = []
    done = run(child(flood), {}, timeout=60, on_stderr=seen.append)
    assert (done.summary, seen) == ({}, ["end\n"])


@pytest.mark.parametrize("on_stderr", [None, print])
def test_a_job_past_its_timeout_is_killed(on_stderr: object) -> None:
    process = start(child("import time; time.sleep(60)"), {})
    with pytest.raises(subprocess.TimeoutExpired):
        finish(process, timeout=0.5, on_stderr=on_stderr)  # type: ignore[arg-type]
    assert process.returncode is not None


def test_a_killed_job_is_an_error_not_an_empty_summary(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    logged = f"import sys, time; print('half a log', file=sys.stderr, flush=True); open({str(ready)!r}, 'w')"
    process = start(child(f"{logged}; time.sleep(60)"), {})
    assert wait_for(ready.exists, timeout=30)
    process.kill()
    with pytest.raises(SummaryMissing, match=r"exit -9\): nothing on stdout; its stderr ends:\nhalf a log"):
        finish(process, timeout=30)


# -- the script it runs ------------------------------------------------------------------------------------------------
def test_it_runs_the_script_sam_deploy_uploads() -> None:
    template = (REPO_ROOT / "template.yaml").read_text()
    assert f"ScriptLocation: {JOB.relative_to(REPO_ROOT)}" in template
    assert job_command(["--x"], python="/py") == ["/py", str(JOB), "--x"]


def test_another_copy_of_the_script_is_passed_to_the_spark_entry() -> None:
    python, copy = Path("/venv-spark/bin/python"), Path("/tmp/alone/sor_job.py")
    assert spark_job_command(["--x"], python=python, script=copy) == [
        str(python), "-m", "local.emulator.job_runner", "--master", "local[2]", "--script", str(copy), "--", "--x",
    ]  # fmt: skip
    assert job_command(["--x"], python="/py", script=copy) == ["/py", str(copy), "--x"]


def test_a_glue_runs_arguments_replace_the_jobs_defaults_after_its_name_and_run_id() -> None:
    args = glue_run_args("sor", "jr_1", {"--sor_bucket": "b", "--restore_types": "true"}, {"--restore_types": "false"})
    assert args == ["--JOB_NAME", "sor", "--JOB_RUN_ID", "jr_1", "--sor_bucket", "b", "--restore_types", "false"]


def test_every_run_starts_with_the_five_contract_arguments() -> None:
    assert job_args("s3://e/x/", "sor-b", "sor", "2026-11-26", "aurora-mysql", "--copy_concurrency", "8") == [
        "--export_uri", "s3://e/x/", "--sor_bucket", "sor-b", "--catalog_database", "sor",
        "--ingestion_date", "2026-11-26", "--source_engine", "aurora-mysql", "--copy_concurrency", "8",
    ]  # fmt: skip
