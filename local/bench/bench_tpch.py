"""`make bench`, typed-path part: TPC-H lineitem (local/bench/tpch.py) published by the job's rewrite next to a minimal
pyarrow peer, and the same rows as one export file next to eight.

Runs in the Spark virtualenv (Glue 5.0's pyarrow 17, pandas 2.2.2 and Spark 3.5.4); local/bench/bench.py starts
`python -m local.bench.bench_tpch run ...`, which writes the files once and starts one child per Spark master
(`spark`), and prints one JSON document. Every peer reads and writes the same LocalS3 (local/bench/bench_rewrite.py: a
directory standing in for the buckets, the job's own calls with the network taken out), so neither pays for an S3
emulator's CPU.

- `job`: what the job does with a table's day on the typed path, timed from the footers to the verification: read
  every file's footer, cut the files into units (rewrite.py cut_file, the job's default unit size), run_rewrites
  under Spark local[N] (the job's restoration transform: exact or rejected values, counters, sor_rejects), then
  verify_rewrites (every object's metadata and footer row count). Spark is started and warm before the clock starts,
  as in Glue, where the JVM is up before the script runs; its own start is timed apart (`spark_start_seconds`).
- `peer`: the minimal rewrite a data engineer would write in 40 lines of pyarrow, N threads, one file each: GET the
  file, per row group cast the dates (`strptime`) and the numerics (`decimal(15,2)`), write zstd level 3, PUT. No
  catalog, no verification, no rejects (a value the cast cannot hold fails the whole file).
Each is run `repeats` times and the fastest counts; the job's repeats must leave byte-identical objects.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import cProfile
import hashlib
import io
import json
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from local.bench import tpch
from local.bench.bench_rewrite import (
    EXPORT_BUCKET,
    ROOT,
    SETTINGS,
    SOR_BUCKET,
    LocalS3,
    LocalS3Factory,
    child_env,
    restorations,
)
from sor_job import rewrite
from sor_job.config import JobConfig
from sor_job.plan import S3Object
from sor_job.restore import Restoration
from sor_job.restore_transform import restoration_spec, restored_schema
from sor_job.rewrite import (
    RewriteUnit,
    file_units,
    rewrite_plan_digest,
    run_rewrites,
    schema_ipc,
    verify_rewrites,
)
from sor_job.s3_reads import read_footer
from sor_job.typed_table import restoration_factory

LAYOUTS = {"8 files": 8, "1 file": 1}
MB = 10**6


def layout_prefix(files: int) -> str:
    return f"exports/tpch/tpch/public.lineitem/{files}/"


def config() -> JobConfig:
    return JobConfig(
        export_bucket=EXPORT_BUCKET, export_prefix="exports/tpch/", export_id="tpch", sor_bucket=SOR_BUCKET,
        catalog_database="tpch", ingestion_date="2026-11-26", metrics_namespace=None,
    )  # fmt: skip


def rules_of(path: Path) -> dict[str, Restoration]:
    """The job's rules for lineitem's text columns (bench_rewrite.restorations under lineitem's type mappings)."""
    return restorations(path, tpch.type_mappings())


def plan(s3: LocalS3, root: Path, files: int) -> tuple[list[RewriteUnit], dict[str, dict[str, Restoration]]]:
    """What the job plans for the table's day: footers (one ranged GET each), rules, the cut into units."""
    job = config()
    units, rules = [], {}
    for path in sorted((root / EXPORT_BUCKET / layout_prefix(files)).glob("*.parquet")):
        obj = S3Object(layout_prefix(files) + path.name, path.stat().st_size, LocalS3.etag(path))
        footer, _ = read_footer(s3, EXPORT_BUCKET, obj, job.footer_read_size)
        file_rules = rules_of(path)  # the statistics the job takes from the same footer
        output = restored_schema(footer.arrow_schema, file_rules)  # type: ignore[arg-type]
        digest = rewrite_plan_digest(output, restoration_spec(file_rules), SETTINGS)
        whole = RewriteUnit(obj, f"sor/lineitem/{files}/{path.name}", schema_ipc(output), digest, footer.rows)
        units += file_units(whole, footer.row_groups, job.rewrite_unit_bytes)
        rules[obj.key] = file_rules
    return units, rules


def output_digest(root: Path, units: Sequence[RewriteUnit]) -> str:
    """One SHA-256 over every object the units wrote, in unit order: equal digests are byte-identical runs."""
    digest = hashlib.sha256()
    for unit in units:
        digest.update((root / SOR_BUCKET / unit.destination).read_bytes())
    return digest.hexdigest()


def time_job(root: Path, files: int, repeats: int, expected_rows: int | None = None) -> dict[str, Any]:
    """The job's typed path over the layout: footers -> units -> run_rewrites -> verify_rewrites, `repeats` times."""
    s3, job = LocalS3(root), config()
    times, digests, units = [], [], []
    for _ in range(repeats):
        shutil.rmtree(root / SOR_BUCKET, ignore_errors=True)
        started = time.perf_counter()
        units, rules = plan(s3, root, files)
        (table_rules,) = {json.dumps(restoration_spec(r)): r for r in rules.values()}.values()  # one table, one plan
        results = run_rewrites(units, restoration_factory(table_rules, EXPORT_BUCKET), job, SETTINGS)
        errors = [r.error for r in results if r.error]
        if errors:
            raise RuntimeError(f"the job's rewrite failed: {errors[:2]}")
        verify_rewrites(s3, job, units)
        times.append(time.perf_counter() - started)
        digests.append(output_digest(root, units))
    rows = sum(u.rows for u in units)
    if expected_rows is not None and rows != expected_rows:
        raise RuntimeError(f"the job published {rows} rows of {expected_rows}")
    return {
        "peer": "job", "files": files, "units": len(units), "seconds": round(min(times), 3),
        "all_seconds": [round(t, 3) for t in times], "rows": rows,
        "output_bytes": sum((root / SOR_BUCKET / u.destination).stat().st_size for u in units),
        "byte_identical_reruns": len(set(digests)) == 1,
    }  # fmt: skip


def peer_file(s3: LocalS3, key: str, casts: Mapping[str, pa.DataType], out_key: str) -> int:
    """The minimal peer's work on one file: GET, cast the text columns row group by row group, zstd 3, PUT."""
    source = pq.ParquetFile(io.BytesIO(s3.get_object(Bucket=EXPORT_BUCKET, Key=key)["Body"].read()))
    schema = pa.schema([pa.field(f.name, casts.get(f.name, f.type)) for f in source.schema_arrow])
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, schema, compression="zstd", compression_level=3) as writer:
        for group in range(source.metadata.num_row_groups):
            table = source.read_row_group(group, use_threads=False)
            columns = []
            for name, column in zip(table.column_names, table.columns, strict=True):
                if casts.get(name) == pa.date32():
                    column = pc.cast(pc.strptime(column, format="%Y-%m-%d", unit="s"), pa.date32())
                elif name in casts:
                    column = pc.cast(column, casts[name])
                columns.append(column)
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    s3.put_object(Bucket=SOR_BUCKET, Key=out_key, Body=sink.getvalue())
    return source.metadata.num_rows


def time_peer(root: Path, files: int, threads: int, repeats: int) -> dict[str, Any]:
    s3 = LocalS3(root)
    folder = root / EXPORT_BUCKET / layout_prefix(files)
    keys = [layout_prefix(files) + p.name for p in sorted(folder.glob("*.parquet"))]
    casts = {name: rule.arrow_type for name, rule in rules_of(root / EXPORT_BUCKET / keys[0]).items()}
    times, rows = [], 0
    for _ in range(repeats):
        shutil.rmtree(root / SOR_BUCKET, ignore_errors=True)
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            rows = sum(pool.map(lambda k: peer_file(s3, k, casts, "peer/" + k.rsplit("/", 1)[-1]), keys))
        times.append(time.perf_counter() - started)
    return {
        "peer": "peer", "files": files, "threads": threads, "seconds": round(min(times), 3),
        "all_seconds": [round(t, 3) for t in times], "rows": rows,
        "output_bytes": sum(p.stat().st_size for p in (root / SOR_BUCKET / "peer").glob("*")),
    }  # fmt: skip


def _cumulative(stats: pstats.Stats, *names: tuple[str, str]) -> float:
    """Seconds spent in the functions named (file name's end, function name), callees included."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    return sum(row[3] for (file, _, function), row in table.items() if (Path(file).name, function) in names)


def profile_file(root: Path) -> dict[str, dict[str, float]]:
    """Where one export file's time goes, one core, in this process (cProfile): the job's rewrite_unit against the
    peer's work on the same file. `read` is the Parquet decoding (gzip, pages), `transform` the job's
    restoration_transform or the peer's casts, `write` the encoding (dictionary, zstd) and the upload."""
    s3, job = LocalS3(root), config()
    units, rules = plan(s3, root, LAYOUTS["8 files"])
    unit = next(u for u in units if u.row_groups is None or u.row_groups[0] == 0)
    factory = restoration_factory(rules[unit.source.key], EXPORT_BUCKET)
    casts = {name: rule.arrow_type for name, rule in rules[unit.source.key].items()}
    # (side, its call, its total, its transform, its write): functions named by (file name, function name)
    sides = (
        ("job", lambda: rewrite.rewrite_unit(unit, factory(unit), s3, job, SETTINGS), ("rewrite.py", "rewrite_unit"),
         [("restore_transform.py", "transform")], [("rewrite.py", "_write_row_group"), ("rewrite.py", "finish")]),
        ("peer", lambda: peer_file(s3, unit.source.key, casts, "peer/profile.parquet"), ("bench_tpch.py", "peer_file"),
         [("compute.py", "strptime"), ("compute.py", "cast")],
         [("core.py", "write_table"), ("bench_rewrite.py", "put_object")]),
    )  # fmt: skip
    figures = {}
    for side, call, whole, transforms, writes in sides:
        call()  # warm: first imports (pyarrow imports pandas on its first scalar conversion), compiled patterns
        shutil.rmtree(root / SOR_BUCKET, ignore_errors=True)  # else the job's unit is done: skipped, nothing read
        profiler = cProfile.Profile()
        profiler.runcall(call)
        stats = pstats.Stats(profiler)
        total, transform, write = (_cumulative(stats, *names) for names in ([whole], transforms, writes))
        figures[side] = {
            "rows": unit.rows, "total": round(total, 3), "transform": round(transform, 3), "write": round(write, 3),
            "read": round(total - transform - write, 3),
        }  # fmt: skip
    return figures


def trivial_task_ms(context: Any, cores: int, extra: int = 16) -> float:
    """What one Python task costs a core on its own: a job of `cores` + `extra` trivial tasks against one of `cores`
    (fastest of 3 each), the difference spread over the extra tasks' share of a core (rewrite.py TASK_BYTES)."""

    def job(tasks: int) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            context.parallelize(list(range(tasks)), tasks).map(lambda x: x).collect()
            times.append(time.perf_counter() - started)
        return min(times)

    base, more = job(cores), job(cores + extra)
    return round((more - base) / (extra / cores) * 1000, 1)


def spark_child(root: Path, master: str, repeats: int, rows: int) -> dict[str, Any]:
    """In a fresh process: Spark's own start timed, then every layout through the job and the peer at N threads."""
    from local.emulator.spark_env import local_session

    cores = int(re.fullmatch(r"local\[(\d+)\]", master).group(1))  # type: ignore[union-attr]
    started = time.perf_counter()
    session = local_session(master, app_name="aurora-sor-bench-tpch")
    session.sparkContext.parallelize([1], 1).map(lambda x: x).collect()  # one trivial task: the Python worker too
    spark_start = time.perf_counter() - started
    task_ms = trivial_task_ms(session.sparkContext, cores)
    rewrite.task_s3_client = LocalS3Factory(str(root))  # what run_rewrites' tasks call for their client
    time_job(root, 1, 1)  # warm-up, not measured: the workers' imports, the page cache
    runs = [time_peer(root, LAYOUTS["8 files"], cores, repeats)]
    runs += [time_job(root, files, repeats, rows) for files in LAYOUTS.values()]
    session.stop()
    return {
        "master": master, "cores": cores, "spark_start_seconds": round(spark_start, 2), "trivial_task_ms": task_ms,
        "runs": runs,
    }  # fmt: skip


def run_all(repeats: int, masters: Sequence[str], rows: int, log: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aurora-sor-bench-tpch-") as scratch:
        root = Path(scratch)
        sizes = {}
        for name, files in LAYOUTS.items():
            log(f"tpch: writing lineitem ({rows:,} rows) as {name} ...")
            paths = tpch.write_lineitem(root / EXPORT_BUCKET / layout_prefix(files), files, rows)
            sizes[name] = {
                "files": files, "bytes": sum(p.stat().st_size for p in paths),
                "row_groups": sum(pq.read_metadata(p).num_row_groups for p in paths),
            }  # fmt: skip
        log("tpch: where one file's time goes (cProfile, one core) ...")
        profile = profile_file(root)
        children = []
        for master in masters:
            log(f"tpch: Spark {master}: the job and the peer ...")
            done = subprocess.run(
                [sys.executable, "-m", "local.bench.bench_tpch", "spark", "--root", str(root), "--master", master,
                 "--repeats", str(repeats), "--rows", str(rows)],
                capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=3600, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"Spark {master} failed: {done.stderr[-3000:]}")
            children.append(json.loads(done.stdout.strip().splitlines()[-1]))
        return {
            "rows": rows, "layouts": sizes, "repeats": repeats, "unit_bytes": config().rewrite_unit_bytes,
            "pyarrow": pa.__version__, "python": sys.version.split()[0], "masters": children, "profile": profile,
        }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.bench.bench_tpch", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="write lineitem SF1 (8 files and 1 file), run every master; prints JSON")
    run.add_argument("--repeats", type=int, default=2)
    run.add_argument("--masters", type=lambda s: s.split(","), default=["local[1]", "local[2]"])
    run.add_argument("--rows", type=int, default=tpch.SF1_ROWS, help="lineitem rows (default: scale factor 1)")
    spark = commands.add_parser("spark", help="(internal) one Spark master's runs on files under --root")
    spark.add_argument("--root", type=Path, required=True)
    spark.add_argument("--master", required=True)
    spark.add_argument("--repeats", type=int, default=2)
    spark.add_argument("--rows", type=int, default=tpch.SF1_ROWS)
    args = parser.parse_args(argv)
    if args.command == "run":
        report = run_all(args.repeats, args.masters, args.rows, log=lambda m: print(m, file=sys.stderr, flush=True))
    else:
        report = spark_child(args.root, args.master, args.repeats, args.rows)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
