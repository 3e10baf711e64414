"""`make bench`: what publishing an export costs, measured against the emulator under a latency model.

One run measures, side by side and under the same latency model (local/bench/latency.py):
- growth: exports of growing size (tables x files, tiny Parquet files) published by the Glue job
  (glue/dist/sor_job.py as a subprocess, default options) and by a naive sequential baseline (`publish_naively`);
- concurrency: the job again at other --copy_concurrency settings on the largest growth export;
- big files: a few tables of MB-sized incompressible files, the job's multipart path scaled down, to measure
  the table data the job reads per byte it publishes (footers only) against the baseline (whole files);
- cold import time of each Lambda handler module named in template.yaml (fresh interpreter each time).

Every count comes from the emulator's own request log (service, operation, bytes sent back), not from the
code under test. The emulator runs in this process; the job is a child process talking to it over loopback
(local/emulator/job_runner.py).

    python -m local.bench.bench_cli [--full] [--write-docs docs/benchmarks.md] [--json out.json] [options]

This module measures and returns a BenchResult; local/bench/bench_report.py renders it (docs/benchmarks.md, the console
summary, the JSON), with what the figures mean for a real account.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.config import Config

from local.bench.cli_peer import PeerRun, copy_like_the_cli, sor_key
from local.bench.latency import LatencyHook, LatencyModel, latency
from local.emulator import job_runner
from local.emulator.aws_emulator import Emulator, Request, fake_aws_environment
from local.export_emulator.layout import export_root
from local.export_emulator.render import render_export
from local.export_emulator.source import SourceColumn, SourceTable
from sor_job.catalog_definitions import partition_input, table_input
from sor_job.column_types import ParquetColumn, athena_type
from sor_job.config import JobConfig
from sor_job.names import base_table_name
from sor_job.plan import S3Object
from sor_job.restore_transform import restoration_spec, restoration_transform, restored_schema
from sor_job.rewrite import RewriteSettings, RewriteUnit, rewrite_plan_digest, rewrite_unit, schema_ipc

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
TEMPLATE = ROOT / "template.yaml"
REGION = "sa-east-1"
DAY = "2026-11-26"
ENGINE = "aurora-postgresql"
EXPORT_BUCKET = "bench-exports"
EXPORT_PREFIX = "exports"
SOURCE_ARN = "arn:aws:rds:sa-east-1:123456789012:cluster-snapshot:rds:bench-2026-11-26-06-05"
SNAPSHOT_TIME = dt.datetime(2026, 11, 26, 6, 5, tzinfo=dt.UTC)
ROWS_PER_SMALL_FILE = 4
LARGE_ROW_BYTES = 256 * 1024
MIB = 2**20
JOB_TIMEOUT_S = 3600
DEFAULT_COPY_CONCURRENCY: int = JobConfig.copy_concurrency  # the job's own default

DEFAULT_SIZES = ("10x10", "50x10", "100x10")
FULL_SIZES = ("10x10", "100x10", "300x20")
DEFAULT_CONCURRENCY = (1, 8, 64)
DEFAULT_BIG = "4x2x8"  # tables x files x MiB per file
# The copy path against the AWS CLI's copy (local/bench/cli_peer.py): exports, and the delay of one copy request
# (each other request takes PEER_REQUEST_MS); 0 measures the CPU bound of the emulator and the clients alone.
DEFAULT_PEER_SIZES = ("40x5", "500x2")
DEFAULT_PEER_COPY_MS = (0.0, 40.0, 300.0)
PEER_REQUEST_MS = 20.0
# The big-file case runs the job's multipart path scaled down (S3's minimum part is 5 MiB): what a 20 GB file
# does with the job's defaults (1024 MiB threshold, 512 MiB parts), an 8 MiB file does with 5 and 5.
BIG_JOB_ARGS = ("--multipart_threshold_mb", "5", "--multipart_chunksize_mb", "5")


class BenchError(Exception):
    """A measured run did not do what it must (the job failed, the two publishers disagree, ...)."""


# ==================================================================================================
# Shapes and exports
# ==================================================================================================
@dataclass(frozen=True)
class Shape:
    """`tables` tables of `files` Parquet files each; tiny files, or incompressible ones of >= file_mib MiB."""

    tables: int
    files: int
    file_mib: int = 0

    @classmethod
    def parse(cls, text: str) -> Shape:
        match = re.fullmatch(r"(\d+)x(\d+)(?:x(\d+))?", text.strip())
        if not match or int(match.group(1)) < 1 or int(match.group(2)) < 1:
            raise ValueError(f"a size is TABLESxFILES or TABLESxFILESxMIB with positive numbers, got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    @property
    def label(self) -> str:
        return f"{self.tables}x{self.files}" + (f" of {self.file_mib} MiB" if self.file_mib else "")

    @property
    def export_id(self) -> str:
        return f"bench-{self.tables}x{self.files}" + (f"x{self.file_mib}" if self.file_mib else "")

    def source_tables(self) -> list[SourceTable]:
        """Deterministic tables of this shape (PostgreSQL `shop.public.tNNNN`)."""
        tables = []
        for number in range(self.tables):
            name = f"t{number:04d}"
            if self.file_mib:
                rng = random.Random(number)  # noqa: S311 - reproducible test data, not secrets
                per_file = -(-self.file_mib * MIB // LARGE_ROW_BYTES)
                rows = [(n, rng.randbytes(LARGE_ROW_BYTES)) for n in range(per_file * self.files)]
                columns = [SourceColumn("id", "bigint"), SourceColumn("payload", "bytea")]
            else:
                count = ROWS_PER_SMALL_FILE * self.files
                rows = [(n, f"row {n} of {name}", n * 1.5) for n in range(count)]
                columns = [
                    SourceColumn("id", "bigint"),
                    SourceColumn("label", "text"),
                    SourceColumn("amount", "float8"),
                ]
            tables.append(SourceTable("shop", "public", name, columns, rows, files_per_batch=self.files))
        return tables


@dataclass(frozen=True)
class Export:
    shape: Shape
    uri: str
    prefix: str
    sizes: dict[str, int]  # every object key of the export -> size

    @property
    def data_keys(self) -> frozenset[str]:
        return frozenset(k for k in self.sizes if k.endswith(".parquet"))

    @property
    def data_bytes(self) -> int:
        return sum(self.sizes[k] for k in self.data_keys)


# ==================================================================================================
# The world: emulator, clients, buckets
# ==================================================================================================
class BenchWorld:
    """Clients on the emulator, the export bucket, and a fresh SOR bucket + catalog database per run."""

    def __init__(self, emulator: Emulator, job_python: str = sys.executable) -> None:
        self.emulator = emulator
        self.job_python = job_python
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the emulator's fake credentials
            region_name=REGION,
        )
        config = Config(max_pool_connections=32, retries={"mode": "standard"})
        self.s3 = session.client("s3", endpoint_url=emulator.endpoint_url, config=config)
        self.glue = session.client("glue", endpoint_url=emulator.endpoint_url, config=config)
        self._runs = 0
        self._exports: dict[Shape, Export] = {}
        self._sizes: dict[tuple[str, str], int] = {}
        self.bucket(EXPORT_BUCKET)

    def bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
        return name

    def size_of(self, bucket: str, key: str) -> int | None:
        """Sizes of what the bench wrote; the latency model's CopyObject cost (see local/bench/latency.py)."""
        return self._sizes.get((bucket, key))

    def export(self, shape: Shape) -> Export:
        """Writes the export of this shape once (without latency: setup is not measured)."""
        if shape not in self._exports:
            objects = render_export(
                engine=ENGINE,
                export_id=shape.export_id,
                source_arn=SOURCE_ARN,
                s3_bucket=EXPORT_BUCKET,
                s3_prefix=EXPORT_PREFIX,
                tables=shape.source_tables(),
                snapshot_time=SNAPSHOT_TIME,
            )
            with ThreadPoolExecutor(8) as pool:
                list(
                    pool.map(
                        lambda kv: self.s3.put_object(Bucket=EXPORT_BUCKET, Key=kv[0], Body=kv[1]), objects.items()
                    )
                )
            prefix = export_root(EXPORT_PREFIX, shape.export_id)
            sizes = {k: len(v) for k, v in objects.items()}
            self._sizes.update({(EXPORT_BUCKET, k): v for k, v in sizes.items()})
            self._exports[shape] = Export(shape, f"s3://{EXPORT_BUCKET}/{prefix}", prefix, sizes)
        return self._exports[shape]

    def destination(self, who: str) -> tuple[str, str]:
        """A fresh (SOR bucket, catalog database) for one measured run."""
        self._runs += 1
        bucket = self.bucket(f"bench-sor-{who}-{self._runs:03d}")
        database = f"bench_{who}_{self._runs:03d}"
        self.glue.create_database(DatabaseInput={"Name": database})
        return bucket, database

    def published(self, bucket: str, database: str) -> dict[str, int]:
        """Data objects under the catalog database's folder, keyed without the database (comparable across runs)."""
        found = {}
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{database}/"):
            for item in page.get("Contents", []):
                found[item["Key"][len(database) + 1 :]] = int(item["Size"])
        return found

    def requests_since(self, mark: int) -> list[Request]:
        return self.emulator.calls()[mark:]


# ==================================================================================================
# Counting at the server
# ==================================================================================================
@dataclass(frozen=True)
class Counted:
    s3: dict[str, int]  # S3 operation -> requests
    glue: dict[str, int]  # Glue operation -> requests
    other: dict[str, int]  # "service:operation" -> requests
    data_gets: int  # GetObject requests on the export's data files
    data_bytes_read: int  # bytes of export data files sent back by GetObject

    @property
    def requests(self) -> int:
        return sum(self.s3.values()) + sum(self.glue.values()) + sum(self.other.values())


def count(requests: Iterable[Request], export_bucket: str, data_keys: frozenset[str]) -> Counted:
    s3: Counter[str] = Counter()
    glue: Counter[str] = Counter()
    other: Counter[str] = Counter()
    data_objects = {(export_bucket, key) for key in data_keys}
    data_bytes = data_gets = 0
    for request in requests:
        if request.service == "s3":
            s3[request.operation] += 1
            if request.operation == "GetObject" and request.bucket_key in data_objects:
                data_gets += 1
                data_bytes += request.response_bytes
        elif request.service == "glue":
            glue[request.operation] += 1
        elif request.service != "moto-api":
            other[f"{request.service}:{request.operation}"] += 1
    return Counted(
        dict(sorted(s3.items())), dict(sorted(glue.items())), dict(sorted(other.items())), data_gets, data_bytes
    )


@dataclass(frozen=True)
class Measurement:
    who: str  # "job" or "baseline"
    shape: Shape
    copy_concurrency: int | None
    seconds: float  # wall time seen by the bench (the job: its whole process, interpreter start included)
    inner_seconds: float  # the job's own "seconds" (summary line); the baseline: same as seconds
    tables: int
    files: int
    bytes_published: int
    counted: Counted
    latency_seconds: float  # sum of the delays the model added (over all concurrent requests)
    keys: frozenset[str] = field(repr=False)

    def per_file(self) -> dict[str, float]:
        return {op: n / self.files for op, n in self.counted.s3.items()}

    def per_table(self) -> dict[str, float]:
        return {op: n / self.tables for op, n in self.counted.glue.items()}

    @property
    def read_per_published(self) -> float:
        return self.counted.data_bytes_read / self.bytes_published if self.bytes_published else 0.0


# ==================================================================================================
# The two publishers
# ==================================================================================================
def measure_job(
    world: BenchWorld, export: Export, hook: LatencyHook, copy_concurrency: int, *extra: str
) -> Measurement:
    """glue/dist/sor_job.py as a child process with its default options but --copy_concurrency (and `extra`)."""
    bucket, database = world.destination("job")
    args = job_runner.job_args(
        export.uri, bucket, database, DAY, ENGINE,
        "--copy_concurrency", str(copy_concurrency), "--metrics_namespace", "aurora-sor-bench", *extra,
    )  # fmt: skip
    command = job_runner.job_command(args, python=world.job_python)
    env = fake_aws_environment(world.emulator.endpoint_url, region=REGION)
    mark, before = len(world.emulator.calls()), hook.seconds
    with latency(world.emulator, hook):
        started = time.perf_counter()
        try:
            done = job_runner.run(command, env, timeout=JOB_TIMEOUT_S)
        except job_runner.SummaryMissing as error:
            raise BenchError(f"the job failed on {export.shape.label}: {error}") from None
        seconds = time.perf_counter() - started
    requests = world.requests_since(mark)
    summary = done.summary
    if done.code != 0 or summary.get("status") != "SUCCEEDED":
        raise BenchError(f"the job failed on {export.shape.label} (exit {done.code}):\n{done.stderr[-3000:]}")
    keys = world.published(bucket, database)
    return Measurement(
        "job", export.shape, copy_concurrency, seconds, float(summary["seconds"]), int(summary["tables"]),
        int(summary["files"]), int(summary["bytes"]), count(requests, EXPORT_BUCKET, export.data_keys),
        hook.seconds - before, frozenset(keys),
    )  # fmt: skip


def publish_naively(s3: Any, glue: Any, export_uri: str, sor_bucket: str, database: str) -> tuple[int, int, int]:
    """The baseline: what a straightforward script does, one thing at a time. Returns (tables, files, bytes).

    List the export; for each table folder in order, for each Parquet file in order: GetObject the whole file
    and read its schema from the bytes, then CopyObject it to the same key the job uses; then, per table,
    CreateTable (the first file's schema, the job's type mapping) and CreatePartition. No footer-only reads,
    no parallelism, no checks of what is already there, no verification listing, no manifest or metrics: it
    does strictly less work than the job, with the same catalog calls per table, so the ratio measures
    sequential whole-file I/O against the job's design, not extra features.
    """
    bucket, _, prefix = export_uri.removeprefix("s3://").partition("/")
    tables: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            relative = item["Key"][len(prefix) :]
            parts = relative.split("/")
            if len(parts) >= 3 and relative.endswith(".parquet"):
                tables[(parts[0], parts[1])].append((item["Key"], int(item["Size"])))
    files = size = 0
    for (source_database, folder), objects in sorted(tables.items()):
        name = base_table_name(folder)
        location = f"s3://{sor_bucket}/{database}/{name}/"
        table_prefix = f"{prefix}{source_database}/{folder}/"
        columns: list[dict[str, str]] = []
        rows = 0
        for key, object_size in sorted(objects):
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            metadata = pq.ParquetFile(pa.BufferReader(body)).metadata
            rows += metadata.num_rows
            if not columns:
                schema = metadata.schema
                parquet_columns = [ParquetColumn.from_arrow(schema.column(i)) for i in range(len(schema))]
                columns = [{"Name": c.name.lower(), "Type": athena_type(c)} for c in parquet_columns]
            destination = f"{database}/{name}/ingestion_date={DAY}/" + key[len(table_prefix) :].replace("/", "_")
            s3.copy_object(Bucket=sor_bucket, Key=destination, CopySource={"Bucket": bucket, "Key": key})
            files, size = files + 1, size + object_size
        source = f"{source_database}.{folder}"
        glue.create_table(DatabaseName=database, TableInput=table_input(name, location, columns, source))
        totals = {"files": len(objects), "bytes": sum(s for _, s in objects), "rows": rows}
        glue.create_partition(
            DatabaseName=database, TableName=name,
            PartitionInput=partition_input(location, DAY, columns, "baseline", totals),
        )  # fmt: skip
    return len(tables), files, size


def measure_baseline(world: BenchWorld, export: Export, hook: LatencyHook) -> Measurement:
    bucket, database = world.destination("naive")
    mark, before = len(world.emulator.calls()), hook.seconds
    with latency(world.emulator, hook):
        started = time.perf_counter()
        tables, files, size = publish_naively(world.s3, world.glue, export.uri, bucket, database)
        seconds = time.perf_counter() - started
    requests = world.requests_since(mark)
    keys = world.published(bucket, database)
    return Measurement(
        "baseline", export.shape, None, seconds, seconds, tables, files, size,
        count(requests, EXPORT_BUCKET, export.data_keys), hook.seconds - before, frozenset(keys),
    )  # fmt: skip


def measure_peers(world: BenchWorld, export: Export, request_ms: float, copy_ms: float) -> PeerRun:
    """The CLI's copy, then the job (default options), on one export under one latency model; plus the CPU the
    emulator and the job's process spent, which tells a CPU-bound run from a latency-bound one."""
    request_ms = min(request_ms, copy_ms)
    hook = LatencyHook(LatencyModel(request_ms, copy_ms - request_ms, 1e9), world.size_of)
    bucket, database = world.destination("cli")
    mark = len(world.emulator.calls())
    with latency(world.emulator, hook):
        files, _, cli_seconds = copy_like_the_cli(world.s3, export.uri, bucket, database, DAY)
    cli = count(world.requests_since(mark), EXPORT_BUCKET, export.data_keys)
    copied = set(world.published(bucket, database))
    before = os.times()
    job = measure_job(world, export, hook, DEFAULT_COPY_CONCURRENCY)
    after = os.times()
    expected = {sor_key(database, DAY, export.prefix, k)[len(database) + 1 :] for k in export.data_keys}
    if not copied == job.keys == expected:
        raise BenchError(f"the CLI's copy and the job published different keys for {export.shape.label}")
    return PeerRun(
        export.shape.label, request_ms, copy_ms, round(cli_seconds, 3), cli.requests, round(job.inner_seconds, 3),
        round(job.seconds, 3), job.counted.requests, round(sum(job.counted.s3.values()) / files, 3),
        round(after.user + after.system - before.user - before.system, 2),
        round(after.children_user + after.children_system - before.children_user - before.children_system, 2),
    )  # fmt: skip


def same_publication(job: Measurement, baseline: Measurement) -> None:
    """Both publishers must have put the same objects (keys and count) for the comparison to mean anything."""
    if job.keys != baseline.keys:
        only_job, only_base = sorted(job.keys - baseline.keys), sorted(baseline.keys - job.keys)
        raise BenchError(
            f"job and baseline published different keys: job only {only_job[:3]}, baseline only {only_base[:3]}"
        )
    if (job.files, job.bytes_published) != (baseline.files, baseline.bytes_published):
        raise BenchError(
            f"job and baseline disagree on files/bytes: {job.files}/{job.bytes_published} "
            f"vs {baseline.files}/{baseline.bytes_published}"
        )


# ==================================================================================================
# Lambda handler cold imports
# ==================================================================================================
@dataclass(frozen=True)
class ImportTime:
    module: str
    median_ms: float | None
    runs: tuple[float, ...]
    note: str = ""


_IMPORT_PROBE = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); "
    "__import__(sys.argv[2]); print((time.perf_counter() - t) * 1000)"
)


def handler_modules(template: Path = TEMPLATE) -> list[str]:
    """The module of every `Handler: module.function` in the SAM template (what Lambda imports cold)."""
    if not template.exists():
        return []
    names = re.findall(r"^\s*Handler:\s*['\"]?([A-Za-z_][\w.]*)\.\w+['\"]?\s*$", template.read_text(), re.MULTILINE)
    return sorted(set(names))


def import_times(modules: Sequence[str], repeats: int, python: str = sys.executable) -> list[ImportTime]:
    """Median import time of each module in a fresh interpreter (OS file cache warm: a best case for Lambda)."""
    results = []
    env = fake_aws_environment(
        "http://127.0.0.1:9", region=REGION
    )  # nothing may reach AWS at import time; port 9 discards
    env.update(POWERTOOLS_SERVICE_NAME="bench", POWERTOOLS_TRACE_DISABLED="true")
    for module in modules:
        if not (FUNCTIONS / f"{module.replace('.', '/')}.py").exists():
            results.append(ImportTime(module, None, (), f"skipped: functions/{module}.py does not exist yet"))
            continue
        runs, error = [], ""
        for _ in range(repeats):
            done = subprocess.run(
                [python, "-c", _IMPORT_PROBE, str(FUNCTIONS), module],
                capture_output=True, text=True, env=env, timeout=120, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
                break
            runs.append(float(done.stdout.strip().splitlines()[-1]))
        if error:
            results.append(ImportTime(module, None, (), f"skipped: import failed ({error})"))
        else:
            results.append(ImportTime(module, round(statistics.median(runs), 1), tuple(round(r, 1) for r in runs)))
    return results


# ==================================================================================================
# Typed rewrite: the job against its peers (local/bench/bench_rewrite.py, in the Spark venv) and its requests
# ==================================================================================================
def run_rewrite_bench(config: RewriteConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """local/bench/bench_rewrite.py `run` in the Spark venv (Glue 5.0's pyarrow and Spark); its JSON report."""
    report = spark_venv_report("local.bench.bench_rewrite", [
        "--files", str(config.files), "--rows", str(config.rows), "--row-group-rows", str(config.row_group_rows),
        "--repeats", str(config.repeats), "--masters", ",".join(config.masters),
        "--memory-mb", ",".join(map(str, config.memory_mb)),
        "--memory-row-group-rows", str(config.memory_row_group_rows),
    ], ("rewrite:", "memory:"), log)  # fmt: skip
    if not report["comparison"]["equal"]:
        raise BenchError(f"the job's rewrite and plain Spark disagree: {report['comparison']}")
    return report


def run_tpch_bench(repeats: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """local/bench/bench_tpch.py `run` in the Spark venv: TPC-H lineitem SF1, the job against a minimal pyarrow peer,
    eight files against one, local[1] and local[2]; its JSON report."""
    report = spark_venv_report("local.bench.bench_tpch", ["--repeats", str(repeats)], ("tpch:",), log)
    for child in report["masters"]:
        for run in child["runs"]:
            if run["rows"] != report["rows"] or run.get("byte_identical_reruns") is False:
                raise BenchError(f"the TPC-H run under {child['master']} lost rows or differs on a re-run: {run}")
    return report


def spark_venv_report(
    module: str, arguments: Sequence[str], progress: tuple[str, ...], log: Callable[[str], None]
) -> dict[str, Any]:
    """`python -m <module> run <arguments>` in the Spark venv; its progress lines passed on, its last line's JSON."""
    from local.emulator.spark_env import spark_python

    command = [str(spark_python()), "-m", module, "run", *arguments]
    # The child needs no AWS at all (local files only): the emulator's fake credentials are all it inherits.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as run:
        if run.stderr is None or run.stdout is None:  # Popen with PIPE gives both
            raise BenchError(f"no pipes to {module}")
        errors = []
        for line in run.stderr:  # progress lines, passed on as they come
            errors.append(line)
            if line.startswith(progress):
                log(line.rstrip())
        output = run.stdout.read()
    if run.returncode != 0:
        raise BenchError(f"{module} failed (exit {run.returncode}):\n{''.join(errors)[-3000:]}")
    return dict(json.loads(output.strip().splitlines()[-1]))


def rewrite_requests(world: BenchWorld, rows: int) -> dict[str, Any]:
    """One PostgreSQL-like export file through the job's rewrite_unit against the emulator (no latency model):
    the requests of one unit, counted at the server. 5 MiB parts, so that the multipart path shows at this size."""
    import tempfile

    from local.bench import bench_rewrite

    settings = RewriteSettings(part_size=5 * MIB)
    with tempfile.TemporaryDirectory(prefix="aurora-sor-bench-") as scratch:
        path = Path(scratch) / "part-00000-requests.gz.parquet"
        bench_rewrite.write_source(path, rows, min(rows, 100_000))
        rules = bench_rewrite.restorations(path)
        schema = restored_schema(pq.read_schema(path), rules)
        key = f"{EXPORT_PREFIX}/rewrite-requests/shop/public.orders/1/{path.name}"
        world.s3.put_object(Bucket=EXPORT_BUCKET, Key=key, Body=path.read_bytes())
        groups = pq.read_metadata(path).num_row_groups
    head = world.s3.head_object(Bucket=EXPORT_BUCKET, Key=key)
    source = S3Object(key, int(head["ContentLength"]), head["ETag"].strip('"'))
    unit = RewriteUnit(
        source, "bench/orders/ingestion_date=2026-11-26/" + path.name, schema_ipc(schema),
        rewrite_plan_digest(schema, restoration_spec(rules), settings), rows,
    )  # fmt: skip
    sor_bucket = world.bucket("bench-sor-rewrite")
    config = JobConfig(EXPORT_BUCKET, f"{EXPORT_PREFIX}/rewrite-requests/", "rewrite-requests", sor_bucket,
                           "bench", DAY, metrics_namespace=None)  # fmt: skip
    transform = restoration_transform(rules, schema, key)
    counted = {}
    for attempt in ("first", "rerun"):
        mark = len(world.emulator.calls())
        result = rewrite_unit(unit, transform, world.s3, config, settings)
        requests = world.requests_since(mark)
        counted[attempt] = {
            "s3": dict(sorted(Counter(r.operation for r in requests if r.service == "s3").items())),
            "source_bytes_read": sum(
                r.response_bytes
                for r in requests
                if r.operation == "GetObject" and r.bucket_key == (EXPORT_BUCKET, key)
            ),
            "skipped": result.skipped,
        }  # fmt: skip
    return {"rows": rows, "row_groups": groups, "source_bytes": source.size, "part_size": settings.part_size,
            "output_bytes": result.bytes, **counted}  # fmt: skip


# ==================================================================================================
# The run
# ==================================================================================================
@dataclass(frozen=True)
class RewriteConfig:
    """The typed-rewrite comparison (local/bench/bench_rewrite.py): files x rows of the PostgreSQL-like table."""

    files: int = 4
    rows: int = 400_000  # per file
    row_group_rows: int = 100_000
    repeats: int = 2
    masters: tuple[str, ...] = ("local[1]", "local[2]")
    memory_mb: tuple[int, ...] = ()  # source file sizes of the peak-memory probe (--full: 250 and 1100)
    memory_row_group_rows: int = 500_000  # row groups of the probe's files (~30 MB of gzip each)
    request_rows: int = 200_000  # the one file rewritten against the emulator, for the request counts


@dataclass(frozen=True)
class BenchConfig:
    sizes: tuple[Shape, ...]
    concurrency: tuple[int, ...]
    big: Shape
    model: LatencyModel
    import_repeats: int = 5
    job_python: str = sys.executable
    rewrite: RewriteConfig | None = None  # None: the rewrite comparison is not run
    big_job_args: tuple[str, ...] = BIG_JOB_ARGS
    peer_sizes: tuple[Shape, ...] = ()  # the copy path against the AWS CLI's copy (empty: not run)
    peer_copy_ms: tuple[float, ...] = DEFAULT_PEER_COPY_MS
    tpch_repeats: int = 0  # the TPC-H lineitem comparison's repeats (local/bench/bench_tpch.py); 0: not run


@dataclass
class BenchResult:
    config: BenchConfig
    command: str
    machine: dict[str, str]
    growth: list[tuple[Measurement, Measurement]] = field(default_factory=list)  # (job, baseline)
    sweep: list[Measurement] = field(default_factory=list)  # the job at each concurrency, largest size
    big: tuple[Measurement, Measurement] | None = None
    imports: list[ImportTime] = field(default_factory=list)
    rewrite: dict[str, Any] | None = None  # local/bench/bench_rewrite.py's report, plus "requests" (emulator counts)
    tpch: dict[str, Any] | None = None  # local/bench/bench_tpch.py's report
    peers: list[PeerRun] = field(default_factory=list)  # the copy path against the AWS CLI's copy
    seconds: float = 0.0
    ended: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))  # the report's date


def machine() -> dict[str, str]:
    def version(name: str) -> str:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return "absent"

    memory = "unknown"
    cpu = platform.processor() or "unknown"
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
        memory = f"{kib / 2**20:.1f} GiB"
        model_name = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = model_name.group(1).strip() if model_name else cpu
    except (OSError, AttributeError):
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        **{
            name: version(name)
            for name in ("boto3", "botocore", "s3transfer", "pyarrow", "moto", "aws-lambda-powertools")
        },
    }


def run_bench(emulator: Emulator, config: BenchConfig, command: str, log: Callable[[str], None] = print) -> BenchResult:
    started = time.perf_counter()
    world = BenchWorld(emulator, config.job_python)
    hook = LatencyHook(config.model, world.size_of)
    result = BenchResult(config, command, machine())
    log(f"latency model: {config.model.describe()}")
    for shape in config.sizes:
        export = world.export(shape)
        log(f"growth {shape.label}: job ...")
        job = measure_job(world, export, hook, DEFAULT_COPY_CONCURRENCY)
        log(f"growth {shape.label}: baseline ...")
        baseline = measure_baseline(world, export, hook)
        same_publication(job, baseline)
        result.growth.append((job, baseline))
        log(f"growth {shape.label}: job {job.seconds:.1f}s, baseline {baseline.seconds:.1f}s")
    largest = max(config.sizes, key=lambda s: (s.tables * s.files, s.tables))
    for concurrency in config.concurrency:
        reused = next((j for j, _ in result.growth if j.shape == largest and j.copy_concurrency == concurrency), None)
        if reused is None:
            log(f"concurrency {concurrency} on {largest.label} ...")
            reused = measure_job(world, world.export(largest), hook, concurrency)
        result.sweep.append(reused)
    log(f"big files {config.big.label}: writing the export ...")
    big_export = world.export(config.big)
    big_job = measure_job(world, big_export, hook, DEFAULT_COPY_CONCURRENCY, *config.big_job_args)
    big_baseline = measure_baseline(world, big_export, hook)
    same_publication(big_job, big_baseline)
    result.big = (big_job, big_baseline)
    for shape in config.peer_sizes:
        export = world.export(shape)
        for copy_ms in config.peer_copy_ms:
            log(f"against the AWS CLI's copy: {shape.label}, {copy_ms:g} ms a copy ...")
            peer = measure_peers(world, export, PEER_REQUEST_MS, copy_ms)
            log(f"  CLI {peer.cli_seconds:.2f}s, job {peer.job_seconds:.2f}s ({peer.ratio:.2f}x)")
            result.peers.append(peer)
    log("cold imports of the Lambda handlers ...")
    result.imports = import_times(handler_modules(), config.import_repeats, config.job_python)
    if config.rewrite is not None:
        result.rewrite = run_rewrite_bench(config.rewrite, log)
        log("rewrite: one file through rewrite_unit against the emulator, for the request counts ...")
        result.rewrite["requests"] = rewrite_requests(world, config.rewrite.request_rows)
    if config.tpch_repeats:
        result.tpch = run_tpch_bench(config.tpch_repeats, log)
    result.seconds = time.perf_counter() - started
    result.ended = dt.datetime.now(dt.UTC)
    return result


# ==================================================================================================
# Command line
# ==================================================================================================
def parse_args(argv: Sequence[str]) -> tuple[BenchConfig, argparse.Namespace]:
    parser = argparse.ArgumentParser(prog="python -m local.bench.bench_cli", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--full", action="store_true", help=f"the big sizes {', '.join(FULL_SIZES)} (slow: tens of minutes)"
    )
    parser.add_argument("--sizes", help=f"comma-separated TABLESxFILES (default {','.join(DEFAULT_SIZES)})")
    parser.add_argument(
        "--concurrency", default=",".join(map(str, DEFAULT_CONCURRENCY)), help="--copy_concurrency values"
    )
    parser.add_argument("--big", default=DEFAULT_BIG, help="big-file export TABLESxFILESxMIB (default %(default)s)")
    parser.add_argument("--request-ms", type=float, default=LatencyModel.request_ms, help="delay of every request")
    parser.add_argument("--copy-ms", type=float, default=LatencyModel.copy_ms, help="extra delay of every copy request")
    parser.add_argument(
        "--copy-mib-per-s", type=float, default=LatencyModel.copy_mib_per_s, help="copy throughput per request"
    )
    parser.add_argument("--import-repeats", type=int, default=5, help="fresh interpreters per handler module")
    parser.add_argument("--job-python", default=sys.executable, help="interpreter for the job and the import probes")
    parser.add_argument(
        "--no-rewrite", action="store_true", help="skip the typed-rewrite comparison (needs .venv-spark)"
    )
    parser.add_argument(
        "--no-tpch", action="store_true", help="skip the TPC-H lineitem comparison (needs .venv-spark; ~5 min)"
    )
    parser.add_argument("--rewrite-files", type=int, default=RewriteConfig.files, help="files of the rewrite input")
    parser.add_argument("--rewrite-rows", type=int, default=RewriteConfig.rows, help="rows per rewrite input file")
    parser.add_argument(
        "--memory-mb", help="source file sizes (MB) of the rewrite's peak-memory probe (--full: 250,1100)"
    )
    parser.add_argument(
        "--peer-sizes", default=",".join(DEFAULT_PEER_SIZES), help="exports for the AWS CLI comparison ('' to skip)"
    )
    parser.add_argument(
        "--peer-copy-ms", default=",".join(f"{m:g}" for m in DEFAULT_PEER_COPY_MS), help="delays of a copy request"
    )
    parser.add_argument("--write-docs", type=Path, help="write the Markdown report here (docs/benchmarks.md)")
    parser.add_argument("--json", type=Path, help="write every figure as JSON here")
    args = parser.parse_args(list(argv))
    try:
        sizes = tuple(
            Shape.parse(s)
            for s in (args.sizes.split(",") if args.sizes else (FULL_SIZES if args.full else DEFAULT_SIZES))
        )
        concurrency = tuple(int(c) for c in args.concurrency.split(","))
        big = Shape.parse(args.big)
        model = LatencyModel(args.request_ms, args.copy_ms, args.copy_mib_per_s)
        peer_sizes = tuple(Shape.parse(p) for p in args.peer_sizes.split(",") if p)
        peer_copy_ms = tuple(float(m) for m in args.peer_copy_ms.split(",") if m)
    except ValueError as exc:
        parser.error(str(exc))
    if any(s.file_mib for s in sizes):
        parser.error("--sizes are tiny-file exports (TABLESxFILES); use --big for MB-sized files")
    if not big.file_mib or big.file_mib < 6:
        parser.error("--big needs a file size of at least 6 MiB (the multipart path uses 5 MiB parts)")
    if any(c < 1 for c in concurrency) or args.import_repeats < 1:
        parser.error("--concurrency values and --import-repeats must be >= 1")
    try:
        memory = tuple(int(m) for m in (args.memory_mb or ("250,1100" if args.full else "")).split(",") if m)
    except ValueError:
        parser.error("--memory-mb is a comma-separated list of whole MB")
    if args.rewrite_files < 1 or args.rewrite_rows < 1 or any(m < 1 for m in memory):
        parser.error("--rewrite-files, --rewrite-rows and --memory-mb values must be >= 1")
    rewrite = None
    if not args.no_rewrite:
        rewrite = RewriteConfig(
            files=args.rewrite_files, rows=args.rewrite_rows,
            row_group_rows=min(RewriteConfig.row_group_rows, args.rewrite_rows), memory_mb=memory,
        )  # fmt: skip
    config = BenchConfig(
        sizes, concurrency, big, model, args.import_repeats, args.job_python, rewrite,
        peer_sizes=peer_sizes, peer_copy_ms=peer_copy_ms, tpch_repeats=0 if args.no_tpch else 2,
    )  # fmt: skip
    return config, args
