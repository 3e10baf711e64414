"""local/bench/bench_report.py: docs/benchmarks.md from a bench run's figures, and the real-account model it prints
(local/bench/night_model.py).

The report is pure: a fixed result set renders to the same text every time, whatever the clock says.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math

import pytest

from local.bench.bench import (
    BIG_JOB_ARGS,
    DEFAULT_COPY_CONCURRENCY,
    BenchConfig,
    BenchResult,
    Counted,
    ImportTime,
    Measurement,
    Shape,
)
from local.bench.bench_report import console_report, markdown_report, result_json, rewrite_markdown
from local.bench.cli_peer import PeerRun
from local.bench.latency import LatencyModel
from local.bench.night_model import (
    GLUE_FLEX_PER_DPU_HOUR,
    GLUE_MINIMUM_SECONDS,
    GLUE_STANDARD_PER_DPU_HOUR,
    S3_DERATING,
    estimate,
    rewrite_estimate,
)

MIB = 2**20
SMALL, BIG = Shape(2, 3), Shape(2, 1, 6)


def measured(who: str, shape: Shape, concurrency: int | None, seconds: float, inner: float, read: int) -> Measurement:
    files = shape.tables * shape.files
    size = files * (6 * MIB if shape.file_mib else 100)
    s3 = {"CopyObject": files, "GetObject": files + (1 if who == "job" else 0), "ListObjectsV2": 1}
    glue = {"CreateTable": shape.tables, "CreatePartition": shape.tables}
    counted = Counted(s3, glue, {"monitoring:PutMetricData": 1} if who == "job" else {}, files, read)
    keys = frozenset(f"t{n}/f{n}" for n in range(files))
    return Measurement(who, shape, concurrency, seconds, inner, shape.tables, files, size, counted, 0.25, keys)


def fixed_result() -> BenchResult:
    default = DEFAULT_COPY_CONCURRENCY
    job = measured("job", SMALL, default, 1.5, 0.7, 600)
    config = BenchConfig(
        (SMALL,), (2, default), BIG, LatencyModel(2, 1, 64), import_repeats=3, job_python="/v/bin/python"
    )
    return BenchResult(
        config, "python -m local.bench.bench --fixed", {"cpus": "2", "python": "3.11"},
        growth=[(job, measured("baseline", SMALL, None, 2.5, 2.5, 600))],
        sweep=[measured("job", SMALL, 2, 3.0, 2.1, 600), job],
        big=(measured("job", BIG, default, 4.0, 3.0, 131072), measured("baseline", BIG, None, 9.0, 9.0, 12 * MIB)),
        peers=[PeerRun("40x5", 20, 300, 6.4, 201, 2.2, 3.3, 528, 2.23, 1.6, 2.1)],
        imports=[ImportTime("start_export", 120.0, (110.0, 120.0, 130.0)), ImportTime("gone", None, (), "skipped")],
        seconds=42.0, ended=dt.datetime(2026, 11, 26, 7, 5, tzinfo=dt.UTC),
    )  # fmt: skip


def test_a_fixed_result_renders_the_same_document_every_time() -> None:
    result = fixed_result()
    markdown = markdown_report(result)
    assert markdown == markdown_report(dataclasses.replace(result))  # nothing but the result goes in
    lines = markdown.splitlines()
    assert lines[0] == "# Benchmarks"
    assert "- Date: 2026-11-26 07:05 UTC" in lines  # the run's own date, not the clock's when rendering
    assert "- Command: `python -m local.bench.bench --fixed` (whole run: 42 s)" in lines
    assert f"big files 2x1 of 6 MiB with `{' '.join(BIG_JOB_ARGS)}`" in markdown
    assert "| 2x3 | 6 | 1.50 | 0.70 | 2.50 | 1.7x | 116.7 | 416.7 |" in lines  # growth: wall ratio, ms per file
    assert "| 2x3 | 2 | 3.00 | 2.10 | 2.00 |" in lines  # the sweep against the job's default concurrency
    assert f"| 2x3 | {DEFAULT_COPY_CONCURRENCY} | 1.50 | 0.70 | 1.00 |" in lines
    assert "## The copy path against the AWS CLI's copy" in lines
    assert "| 40x5 | 20 / 300 | 6.40 | 2.20 | 0.34x | 2.23 | 201 / 528 | 1.6 / 2.1 |" in lines
    assert "| 2x1 of 6 MiB | 12582912 | 1.00 | 131072 | 0.0104 | 12582912 | 1.0000 |" in lines
    assert (
        "files are read whole (ratio 1) while for MB-sized files the ratio falls to 64 KiB / file size (0.0104 here)."
        in lines
    )
    assert "| start_export | 120 | 110, 120, 130 | - |" in lines
    assert "Median of 3 fresh interpreters (`python`), time around" in lines
    assert "## What it means for a real account" in lines
    assert "## Storage per month (model)" in lines
    assert "Typed rewrite" not in markdown  # not run


def test_the_console_summary_and_the_json_of_a_fixed_result() -> None:
    result = fixed_result()
    text = console_report(result)
    assert text == console_report(result)
    assert f"\nWall time, job (copy_concurrency {DEFAULT_COPY_CONCURRENCY}) vs naive sequential baseline" in text
    assert "2x3             6      1.50        0.70         2.50        1.7x" in text
    data = json.loads(json.dumps(result_json(result), default=str))
    assert data["growth"][0]["job"]["keys"] == 6
    assert data["big"]["baseline"]["shape"] == "2x1 of 6 MiB"
    assert [m["copy_concurrency"] for m in data["sweep"]] == [2, DEFAULT_COPY_CONCURRENCY]
    assert data["peers"][0]["ratio"] == pytest.approx(2.2 / 6.4, abs=1e-3)


# -- the real-account model ----------------------------------------------------------------------------------------
def test_estimate_costs() -> None:
    model = LatencyModel()
    night = estimate(model, total_bytes=2 * 10**12, tables=500)
    assert night.files == 500 + 100
    assert night.parts == 100 * 38  # 20 GB files in 512 MiB parts
    faster = estimate(dataclasses.replace(model, copy_mib_per_s=2 * model.copy_mib_per_s))
    assert faster.seconds < night.seconds
    hours = night.seconds / 3600
    assert night.glue_standard_usd == pytest.approx(2 * hours * GLUE_STANDARD_PER_DPU_HOUR)
    assert night.glue_flex_usd == pytest.approx(2 * hours * GLUE_FLEX_PER_DPU_HOUR)
    assert night.export_usd == pytest.approx((20.0, 26.0))
    tiny = estimate(model, total_bytes=10**6, tables=1)
    assert tiny.seconds < GLUE_MINIMUM_SECONDS
    assert tiny.glue_standard_usd == pytest.approx(2 * GLUE_MINIMUM_SECONDS / 3600 * GLUE_STANDARD_PER_DPU_HOUR)


def test_rewrite_model_spreads_units_of_row_groups_over_every_core() -> None:
    model = LatencyModel()
    two, ten, twenty = (rewrite_estimate(10.0, w, model) for w in (2, 10, 20))
    assert (two.cores, ten.cores, twenty.cores) == (4, 36, 76)  # one G.1X worker holds the driver
    unit = 16 * 2**20
    assert two.units == math.ceil(1.6e12 / unit)  # 80% of 2 TB in 16 MiB units
    assert (two.waves, ten.waves, twenty.waves) == tuple(math.ceil(two.units / c) for c in (4, 36, 76))
    assert two.unit_seconds == pytest.approx(unit / (10e6 * S3_DERATING))
    assert twenty.rewrite_seconds == pytest.approx(twenty.waves * twenty.unit_seconds)
    # more workers, sooner: the rewrite scales with the cores (the last wave's rounding aside)
    assert twenty.rewrite_seconds == pytest.approx(two.rewrite_seconds * 4 / 76, rel=0.01)
    # the 200 GB file as one unit took this long alone, on one core, whatever the workers
    assert twenty.whole_file_seconds == pytest.approx(200e9 / (10e6 * S3_DERATING))
    assert twenty.whole_file_seconds > 9 * twenty.rewrite_seconds
    assert twenty.glue_standard_usd == pytest.approx(20 * twenty.seconds / 3600 * GLUE_STANDARD_PER_DPU_HOUR)
    with pytest.raises(ValueError, match="at least 2 workers"):
        rewrite_estimate(10.0, 1, model)


def test_rewrite_sections_of_the_report() -> None:
    run = {"rows": 10, "source_bytes": 10**6, "output_bytes": 10**6, "all_seconds": [1.0]}
    report = {
        "files": 2, "rows": 10, "source_bytes": 10**6, "row_groups_per_file": 1, "row_group_rows": 5, "repeats": 1,
        "pyarrow": "17.0.0",
        "runs": [
            {**run, "peer": "job", "cores": 1, "seconds": 2.0, "cpu_seconds": 1.5, "rows_per_s_per_core": 5.0,
             "mb_per_s_per_core": 0.5},
            {**run, "peer": "arrow", "cores": 1, "seconds": 1.0, "cpu_seconds": 1.0, "rows_per_s_per_core": 10.0,
             "mb_per_s_per_core": 1.0},
            {**run, "peer": "spark", "cores": 1, "seconds": 4.0, "cpu_seconds": None, "rows_per_s_per_core": 2.5,
             "mb_per_s_per_core": 0.25},
        ],
        "comparison": {"rows": {"source": 10}, "compared_columns": ["id"], "equal": True},
        "memory": [],
    }  # fmt: skip
    config = BenchConfig((Shape(1, 1),), (32,), Shape(1, 1, 6), LatencyModel())
    result = BenchResult(config, "python -m local.bench.bench", {}, rewrite=report)
    text = "\n".join(rewrite_markdown(result))
    assert "Job vs codec floor: **0.50x** by wall time, 0.67x by CPU time" in text
    assert "Job vs plain Spark, one core each: **2.00x**" in text
    assert "| 20 | 76 |" in text  # the model at 20 workers
    assert "Not run this time" in text
