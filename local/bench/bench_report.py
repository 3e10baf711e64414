"""docs/benchmarks.md and the console summary from the figures `make bench` measured (local/bench/bench.py).

Pure: a BenchResult in, text out (the date printed is the run's own), so the same measurements always render the
same document. What the figures mean for a real account (prices, the modelled night) is local/bench/night_model.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from local.bench import storage_cost
from local.bench.bench import DEFAULT_COPY_CONCURRENCY, BenchResult, Measurement  # the report reads what it measured
from local.bench.latency import LatencyModel
from local.bench.night_model import (
    EXPORT_FILE_BYTES,
    GLUE_FLEX_PER_DPU_HOUR,
    GLUE_STANDARD_PER_DPU_HOUR,
    LARGEST_FILE_BYTES,
    MIB,
    REWRITE_SHARE,
    REWRITE_WORKERS,
    S3_COPY_PER_1000,
    S3_DERATING,
    S3_GET_PER_1000,
    estimate,
    rewrite_estimate,
)
from sor_job.config import JobConfig


def rewrite_run(report: dict[str, Any], peer: str, cores: int) -> dict[str, Any] | None:
    return next((r for r in report["runs"] if r["peer"] == peer and r["cores"] == cores), None)


# ==================================================================================================
# Tables and text
# ==================================================================================================
def _ops(values: dict[str, float], digits: int = 3) -> str:
    return ", ".join(f"{op} {v:.{digits}g}" for op, v in values.items()) or "-"


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def growth_rows(result: BenchResult) -> list[list[Any]]:
    rows = []
    for job, baseline in result.growth:
        rows.append([
            job.shape.label, job.files, f"{job.seconds:.2f}", f"{job.inner_seconds:.2f}", f"{baseline.seconds:.2f}",
            f"{baseline.seconds / job.seconds:.1f}x", f"{1000 * job.inner_seconds / job.files:.1f}",
            f"{1000 * baseline.seconds / baseline.files:.1f}",
        ])  # fmt: skip
    return rows


GROWTH_HEADERS = (
    "tables x files", "files", "job wall s", "job inner s", "baseline s", "baseline / job",
    "job ms/file", "baseline ms/file",
)  # fmt: skip


def sweep_rows(result: BenchResult) -> list[list[Any]]:
    base = next((j.seconds for j in result.sweep if j.copy_concurrency == DEFAULT_COPY_CONCURRENCY), None)
    return [
        [m.shape.label, m.copy_concurrency, f"{m.seconds:.2f}", f"{m.inner_seconds:.2f}",
         f"{m.seconds / base:.2f}" if base else "-"]
        for m in result.sweep
    ]  # fmt: skip


SWEEP_HEADERS = (
    "tables x files",
    "--copy_concurrency",
    "job wall s",
    "job inner s",
    f"vs default ({DEFAULT_COPY_CONCURRENCY})",
)


def request_rows(result: BenchResult) -> list[list[Any]]:
    rows = []
    pairs = [*result.growth, *([result.big] if result.big else [])]
    for job, baseline in pairs:
        for m in (job, baseline):
            rows.append([
                m.shape.label, m.who, _ops(m.per_file()), _ops(m.per_table()),
                _ops({k: v / m.files for k, v in m.counted.other.items()}, 3), m.counted.requests,
            ])  # fmt: skip
    return rows


REQUEST_HEADERS = (
    "export",
    "who",
    "S3 requests per data file",
    "Glue calls per table",
    "other per file",
    "total requests",
)


def read_rows(result: BenchResult) -> list[list[Any]]:
    rows = []
    pairs = [*result.growth, *([result.big] if result.big else [])]
    for job, baseline in pairs:
        rows.append([
            job.shape.label, job.bytes_published, f"{job.counted.data_gets / job.files:.2f}",
            job.counted.data_bytes_read, f"{job.read_per_published:.4f}",
            baseline.counted.data_bytes_read, f"{baseline.read_per_published:.4f}",
        ])  # fmt: skip
    return rows


READ_HEADERS = (
    "export",
    "bytes published",
    "job: data GETs per file",
    "job: data bytes read",
    "job: read / published",
    "baseline: read",
    "baseline: read / published",
)


def import_rows(result: BenchResult) -> list[list[Any]]:
    return [
        [
            i.module,
            f"{i.median_ms:.0f}" if i.median_ms is not None else "-",
            ", ".join(f"{r:.0f}" for r in i.runs) or "-",
            i.note or "-",
        ]
        for i in result.imports
    ]


IMPORT_HEADERS = ("handler module", "median ms", "runs ms", "note")


PEER_HEADERS = [
    "export", "ms a request / a copy", "AWS CLI copy s", "job s", "job / CLI", "job S3 requests per file",
    "requests CLI / job", "CPU s: emulator / job process",
]  # fmt: skip


def peer_rows(result: BenchResult) -> list[list[Any]]:
    return [
        [
            p.shape, f"{p.request_ms:g} / {p.copy_ms:g}", f"{p.cli_seconds:.2f}", f"{p.job_seconds:.2f}",
            f"{p.ratio:.2f}x", f"{p.job_s3_per_file:.2f}", f"{p.cli_requests} / {p.job_requests}",
            f"{p.emulator_cpu_seconds:.1f} / {p.job_cpu_seconds:.1f}",
        ]
        for p in result.peers
    ]  # fmt: skip


def peer_markdown(result: BenchResult) -> list[str]:
    """The copy path against the AWS CLI's copy (empty when it did not run)."""
    if not result.peers:
        return []
    machine_cpus = result.machine.get("cpus", "?")
    return [
        "## The copy path against the AWS CLI's copy",
        "",
        *_table(PEER_HEADERS, peer_rows(result)),
        "",
        "The peer is `aws s3 cp --recursive` as the CLI runs it: one listing, then s3transfer at the CLI's",
        "default of 10 requests in flight, one CopyObject per file, told each size and ETag by the listing so that it",
        "makes no HeadObject (local/bench/cli_peer.py). It publishes no catalog, reads no footer, verifies nothing and",
        "writes no manifest. The job runs with its defaults (`--copy_concurrency` 64, `--table_concurrency` 32) and",
        "does all of that: per table a footer read per file, one listing of the day's folder after the copies (a",
        "folder the table never held is not listed before), CreateTable and CreatePartition. *job s* is the job's own",
        "`seconds` (no interpreter start); the CLI's time is measured in-process, so it has no start either. Each row",
        "is one run.",
        "",
        "Where the time goes. With 0 ms of latency the run is bound by CPU alone: the emulator (moto, in the bench's",
        f"process) and the job's process share this machine's {machine_cpus} cores; the last column shows the CPU",
        "each spent while the job ran. When a row at 40 ms takes about what the 0 ms row takes, the delays are hidden",
        "by concurrency and the CPU of the emulator and of the clients is the bound, for the job and the CLI alike:",
        "the job makes 3 to 4 times the CLI's requests (the catalog, the footers and the verification the CLI does",
        "not do), each costing the emulator a few ms of CPU that real S3 and Glue do not charge to the caller. At",
        "300 ms a copy the delays bound the CLI (10 in flight) and the job has 64 in flight across 32 tables.",
        "",
    ]


def _tpch_run(child: dict[str, Any], peer: str, files: int) -> dict[str, Any]:
    return next(r for r in child["runs"] if r["peer"] == peer and r["files"] == files)


def tpch_rows(report: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for child in report["masters"]:
        peer, eight, one = _tpch_run(child, "peer", 8), _tpch_run(child, "job", 8), _tpch_run(child, "job", 1)
        identical = eight["byte_identical_reruns"] and one["byte_identical_reruns"]
        rows.append([
            child["master"], f"{peer['seconds']:.2f}", f"{eight['seconds']:.2f} ({eight['units']} units)",
            f"**{eight['seconds'] / peer['seconds']:.2f}x**", f"{one['seconds']:.2f} ({one['units']} units)",
            f"**{one['seconds'] / eight['seconds']:.2f}x**", f"{child['spark_start_seconds']:.1f}",
            f"{child['trivial_task_ms']:.0f}",
            "yes" if identical else "NO",
        ])  # fmt: skip
    return rows


TPCH_HEADERS = (
    "Spark", "peer, 8 files (s)", "job, 8 files (s)", "job / peer", "job, 1 file (s)", "1 file / 8 files",
    "Spark's own start (s)", "a trivial task (ms of a core)", "re-runs byte-identical",
)  # fmt: skip


def tpch_markdown(report: dict[str, Any] | None) -> list[str]:
    """The typed path at TPC-H scale factor 1, from local/bench/bench_tpch.py's report (empty when it did not run)."""
    if not report:
        return []
    eight, one = report["layouts"]["8 files"], report["layouts"]["1 file"]
    by_cores = {child["cores"]: child for child in report["masters"]}
    lines = [
        "## The typed path at TPC-H scale factor 1: the job against a minimal pyarrow peer",
        "",
        f"TPC-H `lineitem`, {report['rows']:,} rows, as an RDS export of Aurora PostgreSQL writes it (dates and",
        "numeric(15,2) as PostgreSQL's text, char(n) padded, gzip; `local/bench/tpch.py`), once as 8 files "
        f"({eight['bytes'] / 10**6:.0f} MB,",
        f"{eight['row_groups']} row groups) and once as 1 file ({one['bytes'] / 10**6:.0f} MB, {one['row_groups']} "
        "row groups). `local/bench/bench_tpch.py`",
        f"(its docstring says what each side does); Glue 5.0's pyarrow {report['pyarrow']}, pandas and Spark 3.5.4;",
        f"fastest of {report['repeats']} runs each.",
        "",
        "- **job**: from the footers to the verification, as the job publishes a table's day: footers, the cut into",
        f"  units (runs of row groups of at least {report['unit_bytes'] // 2**20} MiB), run_rewrites under Spark (the",
        "  job's restoration transform: exact or rejected values, sor_rejects, counters), verify_rewrites. Spark is",
        "  started and warm before the clock, as in Glue; its own start is the *Spark's own start* column.",
        "- **peer**: 40 lines of pyarrow, N threads, a file each: GET, `strptime` the dates, cast the numerics to",
        "  `decimal(15,2)`, zstd level 3, PUT. No catalog, no verification, no rejects.",
        "- Both read and write the same LocalS3 (a directory standing in for the buckets, the same calls): no",
        "  emulator's CPU in either.",
        "",
        *_table(TPCH_HEADERS, tpch_rows(report)),
        "",
    ]
    if 1 in by_cores and 2 in by_cores:
        one_1, one_2 = _tpch_run(by_cores[1], "job", 1), _tpch_run(by_cores[2], "job", 1)
        eight_1, eight_2 = _tpch_run(by_cores[1], "job", 8), _tpch_run(by_cores[2], "job", 8)
        lines += [
            f"Scaling from local[1] to local[2]: the one-file export {one_1['seconds'] / one_2['seconds']:.2f}x "
            f"({one_1['seconds']:.2f} s to {one_2['seconds']:.2f} s),",
            f"the 8-file export {eight_1['seconds'] / eight_2['seconds']:.2f}x. A one-file export used to be one task "
            "on one core whatever",
            "the cores (a unit was a file); now its row groups spread over every core. Catalog writes and the",
            "manifest are not in these times: a few requests per table, measured in the copy sections above.",
            "",
        ]
    profile = report["profile"]
    lines += [
        f"### Where one file's time goes (cProfile, one core, {profile['job']['rows']:,} rows)",
        "",
        *_table(
            ("", "read (decode gzip pages)", "transform", "write (encode, zstd, upload)", "total"),
            [
                [name, *(f"{profile[name][k]:.2f} s" for k in ("read", "transform", "write", "total"))]
                for name in ("job", "peer")
            ],
        ),
        "",
        "The job's transform does what the peer's casts do plus what makes it exact or loud: a shape check per",
        "value of each numeric column (RE2, so that no text outside PostgreSQL's output is taken for a number),",
        "the range check of each date, counters and samples for the format check, the UTF-8 check of every string",
        "column, and `sor_rejects`. Removed after profiling: a module search for pandas on every pyarrow call with",
        "a Python scalar when pandas is absent (the Glue 5.0 runtime ships pandas; the local Spark environment now",
        "does too), the date shape check (Arrow's date cast accepts exactly the dates the check let through), and a",
        "Spark task per unit (units now travel in tasks of about 256 MiB, `rewrite.py` `task_groups`).",
        "",
    ]
    return lines


def console_report(result: BenchResult) -> str:
    sections = [
        (
            f"Wall time, job (copy_concurrency {DEFAULT_COPY_CONCURRENCY}) vs naive sequential baseline",
            GROWTH_HEADERS,
            growth_rows(result),
        ),
        ("Job at several --copy_concurrency settings", SWEEP_HEADERS, sweep_rows(result)),
        ("Requests counted at the server", REQUEST_HEADERS, request_rows(result)),
        ("Table data read per byte published", READ_HEADERS, read_rows(result)),
        ("Cold import of the Lambda handler modules", IMPORT_HEADERS, import_rows(result)),
        ("The copy path against the AWS CLI's copy", PEER_HEADERS, peer_rows(result)),
    ]
    out = []
    for title, headers, rows in sections:
        widths = [
            max(len(str(h)), *(len(str(r[i])) for r in rows)) if rows else len(str(h)) for i, h in enumerate(headers)
        ]
        out.append(f"\n{title}")
        out.append("  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)))
        out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if result.rewrite:
        out.append("\nTyped rewrite (rows/s per core, source MB/s per core, best s)")
        out += [
            f"{r['peer']:<10} {r['cores']} core(s)  {r['rows_per_s_per_core']:>12,.0f}  {r['mb_per_s_per_core']:7.2f}  "
            f"{r['seconds']:.2f}"
            for r in result.rewrite["runs"]
        ]
    if result.tpch:
        out.append("\nTPC-H lineitem SF1: " + "  ".join(TPCH_HEADERS))
        out += ["  ".join(map(str, row)).replace("**", "") for row in tpch_rows(result.tpch)]
    return "\n".join(out)


def rewrite_markdown(result: BenchResult) -> list[str]:
    """The typed-rewrite sections of docs/benchmarks.md (empty when the comparison did not run)."""
    report = result.rewrite
    if not report:
        return []
    floor, job = rewrite_run(report, "arrow", 1), rewrite_run(report, "job", 1)
    spark1, spark2 = rewrite_run(report, "spark", 1), rewrite_run(report, "spark", 2)
    jobspark1, jobspark2 = rewrite_run(report, "job-spark", 1), rewrite_run(report, "job-spark", 2)
    names = {
        "job": "job: rewrite_unit + restoration_transform (1 process)",
        "job-spark": "job: run_rewrites under Spark",
        "spark": "plain Spark: read, to_date/to_timestamp/cast, write",
        "arrow": "codec floor: pyarrow read + write, no parsing",
    }
    rows = []
    for run in report["runs"]:
        cpu = run["cpu_seconds"]
        rows.append([
            names[run["peer"]], f"local[{run['cores']}]" if run["peer"] in {"spark", "job-spark"} else "1 process",
            f"{run['seconds']:.2f}", ", ".join(f"{t:.2f}" for t in run["all_seconds"]),
            f"{run['rows_per_s_per_core']:,.0f}", f"{run['mb_per_s_per_core']:.2f}",
            f"{cpu:.2f}" if cpu is not None else "-",
            f"{run['rows'] / cpu:,.0f}" if cpu else "-", f"{run['output_bytes'] / 10**6:.1f}",
        ])  # fmt: skip
    lines = [
        "## Typed rewrite: the job against its peers",
        "",
        f"Same input for every peer: {report['files']} files x {report['rows'] // report['files']:,} rows "
        f"({report['rows']:,} rows, {report['source_bytes'] / 10**6:.1f} MB of gzip Parquet, "
        f"{report['row_groups_per_file']} row groups of {report['row_group_rows']:,} rows per file) of a PostgreSQL",
        "table as the export writes it (local/export_emulator/): `date`, `timestamp`, `timestamp with time zone` with",
        "offsets other than +00 and `numeric(12,2)` as text, plus bigint, integer, double and text columns. Every",
        "peer reads and writes local files (S3 emulation would otherwise dominate; S3 is modelled below), writes",
        f"zstd Parquet, runs under the Glue 5.0 runtime's pyarrow {report['pyarrow']} and Spark 3.5.4; fastest of "
        f"{report['repeats']} runs (all runs listed).",
        "",
        *_table(
            (
                "peer",
                "where",
                "best s",
                "runs s",
                "rows/s per core",
                "source MB/s per core",
                "CPU s",
                "rows/s per CPU s",
                "output MB",
            ),
            rows,
        ),
        "",
    ]
    if floor and job and spark1:
        cpu_ratio = (floor["cpu_seconds"] / job["cpu_seconds"]) if floor["cpu_seconds"] and job["cpu_seconds"] else 0
        lines += [
            f"- Job vs codec floor: **{job['seconds'] and floor['seconds'] / job['seconds']:.2f}x** by wall time, "
            f"{cpu_ratio:.2f}x by CPU time (goal: >= 0.5x).",
            "- Job vs plain Spark, one core each: "
            f"**{job['rows_per_s_per_core'] / spark1['rows_per_s_per_core']:.2f}x**"
            + (
                f" (rewrite_unit alone); through the job's own run_rewrites under local[1] "
                f"{jobspark1['rows_per_s_per_core'] / spark1['rows_per_s_per_core']:.2f}x"
                if jobspark1
                else ""
            )
            + ".",
        ]
    if spark1 and spark2 and jobspark1 and jobspark2:
        lines += [
            f"- Scaling local[1] -> local[2] (wall time ratio, 2.0 would be perfect): plain Spark "
            f"{spark1['seconds'] / spark2['seconds']:.2f}x, the job's run_rewrites "
            f"{jobspark1['seconds'] / jobspark2['seconds']:.2f}x. The machine has 2 vCPUs shared with other sessions,",
            "  and local[1] is not one core: the JVM's JIT and GC threads and the Python worker run beside the task",
            "  thread, so local[1] already uses part of the second vCPU and the ratio understates what more",
            "  executors give on Glue, where each worker brings its own 4 vCPUs. The job's units are whole files:",
            f"  {report['files']} files on 2 task slots scale only if both slots get equal work.",
        ]
    comparison = report["comparison"]
    lines += [
        f"- Same rows, same values: every peer wrote {comparison['rows']['source']:,} rows; the restored columns",
        f"  ({', '.join(comparison['compared_columns'])}) of the job's output equal plain Spark's, row by row (Spark",
        "  writes timestamps as UTC instants, the job as UTC wall time: equal values). This input has no value",
        "  Spark would silently NULL (infinity, BC dates, NaN, malformed text): where it has, the job keeps it in",
        "  `sor_rejects` and counts it, plain Spark loses it.",
        "",
        "*CPU s* is the process's own CPU time, given for the in-process peers: on this shared machine the wall time",
        "of a run includes waiting for the CPU, so CPU-based rates are the better per-core figure. The Spark peers",
        "are timed from the action's start in a warm session (a warm-up run first), JVM start-up excluded.",
        "",
    ]
    requests = report.get("requests")
    if requests:
        first, rerun = requests["first"], requests["rerun"]
        lines += [
            "### Requests of one rewrite unit against the emulator",
            "",
            f"One file of {requests['rows']:,} rows ({requests['source_bytes'] / 10**6:.1f} MB, "
            f"{requests['row_groups']} row groups) through rewrite_unit with the job's transform, against the",
            f"embedded emulator, parts of {requests['part_size'] // MIB} MiB (the job's default is 64 MiB), "
            "counted at the server:",
            "",
            *_table(
                ("run", "S3 requests", "source bytes read", "skipped"),
                [
                    ["first", _ops(first["s3"]), f"{first['source_bytes_read']:,}", first["skipped"]],
                    ["re-run", _ops(rerun["s3"]), f"{rerun['source_bytes_read']:,}", rerun["skipped"]],
                ],
            ),
            "",
            "The first run reads the source once (its footer by one suffix-range GET, then a few ranged GETs per",
            "row group: pre_buffer coalesces the column chunks) and writes one object; the re-run finds the object",
            "with this source's ETag and plan digest and reads only its footer.",
            "",
        ]
    memory = report.get("memory") or []
    lines += ["### Peak memory of the job's rewrite", ""]
    if memory:
        lines += [
            *_table(
                (
                    "source file",
                    "rows",
                    "row groups",
                    "largest row group (uncompressed)",
                    "rewrite s",
                    "VmHWM before",
                    "VmHWM after",
                ),
                [
                    [
                        f"{m['file_bytes'] / 10**9:.2f} GB",
                        f"{m['rows']:,}",
                        m["row_groups"],
                        f"{m['largest_row_group_uncompressed_bytes'] / 10**6:.0f} MB",
                        f"{m['seconds']:.0f}",
                        f"{m['vm_hwm_before_mib']:.0f} MiB",
                        f"{m['vm_hwm_mib']:.0f} MiB",
                    ]
                    for m in memory
                ],
            ),
            "",
            "Each file is written streamed (row group by row group), rewritten by rewrite_unit in a fresh child",
            "process, and deleted. VmHWM is the child's own peak resident set (/proc/self/status; ru_maxrss would",
            "report the parent's, inherited through fork). The peak follows the row group, not the file: a file",
            "several times larger needs about the same memory.",
            "",
        ]
    else:
        lines += ["Not run this time (`BENCH_ARGS=--full`, or `--memory-mb 250,1100`).", ""]
    if job:
        lines += rewrite_model_markdown(result, job)
    return lines


def rewrite_model_markdown(result: BenchResult, job: dict[str, Any]) -> list[str]:
    per_core = job["mb_per_s_per_core"]
    nights = [rewrite_estimate(per_core, w, result.config.model) for w in REWRITE_WORKERS]
    return [
        "### The typed SOR on a real account",
        "",
        "Model (`local/bench/night_model.py` `rewrite_estimate`): the 2 TB, 500-table export; "
        f"{REWRITE_SHARE:.0%} of the bytes",
        "are in tables with a restorable column and are rewritten, the rest keeps the server-side copy (modelled",
        "as above). Why most bytes: a PostgreSQL OLTP schema puts a `created_at`/`updated_at` timestamp or a",
        "numeric amount on nearly every table of size, while the tables without one are mostly small lookup and",
        f"join tables. Rewrite rate: the job's measured {per_core:.2f} MB/s of source per core (rewrite_unit, wall",
        f"time, gzip source) x {S3_DERATING} for S3 instead of local disk (ranged GETs and part uploads wait",
        "synchronously in the task; an assumption until the first real night). Workers are G.1X: 1 DPU, 4 vCPUs,",
        "16 GB (https://docs.aws.amazon.com/glue/latest/dg/worker-types.html), one executor each; one worker is",
        "taken by the driver (the usual Glue layout, not stated there: modelled so, the pessimistic reading). The",
        f"export holds a {LARGEST_FILE_BYTES // 10**9} GB file (Aurora MySQL's faster export; the others ~"
        f"{EXPORT_FILE_BYTES // 10**9} GB):",
        f"units are runs of row groups of at least {JobConfig.rewrite_unit_bytes // 2**20} MiB (`--rewrite_unit_mb`), "
        "so that file spreads over every",
        "core like any other bytes.",
        "",
        *_table(
            (
                "G.1X workers",
                "task cores",
                "units",
                "waves",
                "one unit",
                "rewrite",
                "copy",
                "job time",
                "Glue standard",
                "Glue Flex",
                "the 200 GB file as one unit (before)",
            ),
            [
                [
                    n.workers,
                    n.cores,
                    f"{n.units:,}",
                    f"{n.waves:,}",
                    f"{n.unit_seconds:.1f} s",
                    f"{n.rewrite_seconds / 3600:.1f} h",
                    f"{n.copy_seconds / 60:.0f} min",
                    f"{n.seconds / 3600:.1f} h",
                    f"${n.glue_standard_usd:.2f}",
                    f"${n.glue_flex_usd:.2f}",
                    f"{n.whole_file_seconds / 3600:.1f} h",
                ]
                for n in nights
            ],
        ),
        "",
        f"- Glue at ${GLUE_STANDARD_PER_DPU_HOUR}/DPU-hour standard, ${GLUE_FLEX_PER_DPU_HOUR} Flex (sources above);",
        "  the RDS export fee ($20-26 a night) is unchanged by the rewrite.",
        "- With units cut from row groups, the night is total / (cores x rate): more workers finish sooner at about",
        "  the same DPU-hours. When a unit was a whole file, the 200 GB file alone took the last column's time on one",
        "  core whatever the worker count. Tasks carry about 256 MiB of units each (rewrite.py `TASK_BYTES`), so a",
        "  task's own cost (the *trivial task* column of the TPC-H section below) is a fraction of a percent.",
        "",
    ]


def markdown_report(result: BenchResult) -> str:
    config, model = result.config, result.config.model
    big_job = result.big[0] if result.big else None
    non_copy = 2.0
    glue_per_table = 2.0
    if result.growth:
        job = result.growth[-1][0]
        non_copy = sum(v for op, v in job.per_file().items() if op not in {"CopyObject", "UploadPartCopy"})
        glue_per_table = sum(job.per_table().values())
    night = estimate(model, non_copy_requests_per_file=non_copy, glue_calls_per_table=glue_per_table)
    slow = estimate(
        LatencyModel(model.request_ms, model.copy_ms, 16.0),
        non_copy_requests_per_file=non_copy, glue_calls_per_table=glue_per_table,
    )  # fmt: skip
    floor = ""
    if result.growth:
        job = result.growth[-1][0]
        floor_ms = 1000 * job.latency_seconds / (job.copy_concurrency or 1) / job.files
        floor = (
            f" Here, on {job.shape.label}, the delays alone would allow {floor_ms:.1f} ms per file at "
            f"{job.copy_concurrency} requests in flight; the measured {1000 * job.inner_seconds / job.files:.1f} ms "
            "is the CPU of the emulator and of the job."
        )
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`local/bench/bench.py`); do not edit by hand, run it again. What is measured and",
        "how is explained below the figures; the latency model is documented in `local/bench/latency.py`.",
        "",
        f"- Command: `{result.command}` (whole run: {result.seconds:.0f} s)",
        f"- Date: {result.ended:%Y-%m-%d %H:%M} UTC",
        "- Machine: " + ", ".join(f"{k} {v}" for k, v in result.machine.items()),
        f"- Latency model: {model.describe()}",
        f"- Sizes: {', '.join(s.label for s in config.sizes)}; concurrency sweep "
        f"{', '.join(map(str, config.concurrency))} on the largest; "
        f"big files {config.big.label} with `{' '.join(config.big_job_args)}`",
        "",
        "## Job vs naive baseline (wall time)",
        "",
        *_table(GROWTH_HEADERS, growth_rows(result)),
        "",
        "*job wall* is the whole child process (interpreter start and imports included, about a second); *job inner*",
        "is the job's own `seconds` from its summary line. The ratio uses the wall time, which favours the baseline.",
        "",
        "## The job at several `--copy_concurrency` settings",
        "",
        *_table(SWEEP_HEADERS, sweep_rows(result)),
        "",
        "## Requests counted at the server",
        "",
        *_table(REQUEST_HEADERS, request_rows(result)),
        "",
        "## Table data read per byte published",
        "",
        *_table(READ_HEADERS, read_rows(result)),
        "",
        "Data bytes read = bytes GetObject sent back for the export's `.parquet` objects (counted by the emulator).",
        "The job reads each file's footer with one suffix-range GET of at most `--footer_read_kb` (64 KiB), so tiny",
        "files are read whole (ratio 1) while for MB-sized files the ratio falls to 64 KiB / file size"
        + (f" ({big_job.read_per_published:.4f} here)." if big_job else "."),
        "On real exports (files of ~20 GB) it is about 3e-6: the job never downloads table data.",
        "",
        *peer_markdown(result),
        "## Cold import of the Lambda handler modules",
        "",
        *_table(IMPORT_HEADERS, import_rows(result)),
        "",
        f"Median of {config.import_repeats} fresh interpreters (`{Path(config.job_python).name}`), time around",
        "`import <module>` with `functions/` on `sys.path`; the OS file cache is warm, so a real cold start",
        "(Lambda's python3.13, code from a fresh sandbox) is slower. Modules come from `Handler:` in template.yaml.",
        "",
        "## What is measured",
        "",
        "- **Job**: `glue/dist/sor_job.py` as a child process against the embedded emulator (`AWS_ENDPOINT_URL`),",
        "  default options except `--copy_concurrency`; each run publishes into a fresh SOR bucket and catalog",
        "  database.",
        "- **Baseline** (`publish_naively`): list the export; for each table, for each file in order: GetObject the",
        "  whole file and read its schema, CopyObject it to the key the job uses; then CreateTable and CreatePartition",
        "  per table. Sequential, no checks, no verification, no manifest: strictly less work than the job, with",
        "  the same catalog calls per table. Each comparison checks that both published the same keys and bytes.",
        "- **Latency**: every request waits `request_ms` in the emulator's request thread before it is served,",
        "  copies also `copy_ms` plus bytes at `copy_mib_per_s` (per request); the server is threaded, so",
        "  concurrent requests wait concurrently. The emulator's own CPU time adds to that (moto on 2 cores).",
        "- **Counts**: from the emulator's request log (service, operation, bytes sent back), not from the job.",
        "",
        "How to read the growth: the baseline costs about the same per file at every size (it is sequential:",
        "one whole-file GET plus one copy per file, each paying the latency), so its time grows linearly with",
        "files. The job's time per file falls as the export grows (a fixed start-up and per-run cost is spread",
        "over more files) until the emulator's CPU on this 2-core machine, not the latency, becomes the limit;",
        "there the ratio stops growing. Against AWS, whose capacity does not run out at "
        f"{DEFAULT_COPY_CONCURRENCY} requests in flight,",
        "the job's time is `copy_concurrency`-bound instead, as modelled below." + floor,
        "",
        "## What it means for a real account",
        "",
        f"Model (`local/bench/night_model.py` `estimate`): a {night.total_bytes / 10**12:g} TB, "
        f"{night.tables}-table export, "
        f"laid out as {night.files} files (one small file per table plus the bulk in ~20 GB files, docs/aws-facts.md",
        f'"The export in S3"), copied with the job\'s defaults: multipart above 1024 MiB in 512 MiB parts '
        f"({night.parts} UploadPartCopy requests), {night.copy_concurrency} copy requests in flight, each at",
        f"{night.copy_mib_per_s:g} MiB/s, plus the measured request mix ({non_copy:.1f} other S3 requests per file,",
        f"{glue_per_table:.1f} Glue calls per table) at {model.request_ms:g} ms each.",
        "",
        *_table(
            (
                "per-request copy throughput",
                "job time",
                "Glue standard (2 x G.1X)",
                "Glue Flex (2 x G.1X)",
                "RDS export fee",
                "S3 requests",
            ),
            [
                [
                    f"{e.copy_mib_per_s:g} MiB/s",
                    f"{e.seconds / 60:.0f} min",
                    f"${e.glue_standard_usd:.2f}",
                    f"${e.glue_flex_usd:.2f}",
                    f"${e.export_usd[0]:.0f}-{e.export_usd[1]:.0f}",
                    f"${e.s3_requests_usd:.2f}",
                ]
                for e in (night, slow)
            ],
        ),
        "",
        f"- A naive sequential publisher of the same export would spend about {night.baseline_hours:.0f} h at",
        f"  {night.copy_mib_per_s:g} MiB/s ({slow.baseline_hours:.0f} h at 16 MiB/s) reading and copying every byte",
        "  one request at a time (each file read whole through one GET stream at that same rate, then copied by one",
        "  CopyObject: a single CopyObject also stops at 5 GB): it does not fit in a night; the job does.",
        "- The nightly bill is dominated by the export fee, per GB of snapshot size (about $0.010-0.013/GB,",
        '  docs/aws-facts.md "StartExportTask"; exact sa-east-1 rate unverified), '
        f"{night.export_usd[0] / night.glue_standard_usd:.0f}x the Glue compute (standard). Per month (30 nights):",
        "  export"
        f" ${30 * night.export_usd[0]:.0f}-{30 * night.export_usd[1]:.0f}, "
        f"Glue ${30 * night.glue_flex_usd:.0f} (Flex) or ${30 * night.glue_standard_usd:.0f} (standard).",
        "- Glue: 2 G.1X workers (template.yaml defaults; 1 DPU each) x job time, billed per second with a 1-minute",
        f'  minimum; ${GLUE_STANDARD_PER_DPU_HOUR}/DPU-hour standard (docs/aws-facts.md "Glue"), '
        f"${GLUE_FLEX_PER_DPU_HOUR}/DPU-hour Flex",
        "  (https://aws.amazon.com/glue/pricing/, us-east-1 list prices; Flex was announced in",
        "  https://aws.amazon.com/blogs/big-data/introducing-aws-glue-flex-jobs-cost-savings-on-etl-workloads/).",
        "  Glue start-up (and Flex's wait for spare capacity) comes on top of the job time and is not modelled.",
        f"- S3 requests: ${S3_COPY_PER_1000} per 1,000 COPY/PUT and ${S3_GET_PER_1000} per 1,000 GET (S3 Standard,",
        "  us-east-1 list prices, https://aws.amazon.com/s3/pricing/). The copies are server-side: no table data",
        "  passes through the Glue workers.",
        "",
        "Assumptions to check against your account: the per-request copy throughput (AWS publishes none; 64 MiB/s",
        "follows awslabs/aws-c-s3 PR #288, which copied 1 GiB as one 1024 MiB UploadPartCopy in 15.6 s; 16 MiB/s is",
        "the pessimistic row, near the ~1 GB/min reported in HumanCellAtlas/data-store issue 393); the snapshot size",
        "equal to the exported bytes (the export fee is charged on the snapshot, which is usually larger than the",
        "compressed Parquet); the file layout above. The job's own log prints bytes and seconds per table: the first",
        "real night gives the true throughput to put back into `--copy-mib-per-s`.",
        "",
    ]
    lines += rewrite_markdown(result)
    lines += tpch_markdown(result.tpch)
    return "\n".join(lines) + "\n" + storage_cost.markdown()


def result_json(result: BenchResult) -> dict[str, Any]:
    def measurement(m: Measurement) -> dict[str, Any]:
        data = asdict(m)
        data["keys"] = len(m.keys)
        data["shape"] = m.shape.label
        return data

    return {
        "command": result.command,
        "machine": result.machine,
        "model": asdict(result.config.model),
        "growth": [{"job": measurement(j), "baseline": measurement(b)} for j, b in result.growth],
        "sweep": [measurement(m) for m in result.sweep],
        "big": {"job": measurement(result.big[0]), "baseline": measurement(result.big[1])} if result.big else None,
        "imports": [asdict(i) for i in result.imports],
        "rewrite": result.rewrite,
        "tpch": result.tpch,
        "peers": [asdict(p) | {"ratio": round(p.ratio, 3)} for p in result.peers],
        "seconds": result.seconds,
    }
