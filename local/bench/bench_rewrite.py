"""`make bench`, rewrite part: the job's typed rewrite next to its peers, on the same local files.

Runs in the Spark virtualenv (`.venv-spark`: the Glue 5.0 runtime's pyarrow 17 and Spark 3.5.4), started by
local/bench/bench.py as a child process (`python -m local.bench.bench_rewrite run ...`), and prints one JSON document.

The input is what an RDS snapshot export of a PostgreSQL table looks like (local/export_emulator/ converts every value
as the export does): text dates, timestamps, timestamptz with offsets other than +00, numeric(12,2) as text, plus
ordinary integer, float and text columns; gzip like RDS writes, several row groups per file. Row groups are cut by
rows here, and a few distinct generated chunks are cycled (ids stay unique) so that a 1 GB file is written in
about a minute, streamed row group by row group.

Peers, each reading the same files and writing zstd Parquet to local disk (so that S3 emulation does not dominate):
- `job`: the job's own rewrite_unit with the job's restoration_transform, in this process (one core), its S3
  client replaced by LocalS3 (a directory standing in for the buckets: same calls, no HTTP);
- `job-spark`: the same units through the job's run_rewrites under Spark local[N] (units are files);
- `spark`: what a Glue user would write: spark.read.parquet -> withColumn(to_date / to_timestamp /
  cast decimal(p,s)) -> write.parquet, under local[N];
- `arrow`: pyarrow read and write of the same row groups with the job's writer settings and no parsing: the codec
  floor.
Each is run `repeats` times; the fastest run counts (the machine is shared, slower runs measure the neighbours).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import decimal
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from local.export_emulator.conversion import exported_table, exported_type
from local.export_emulator.source import SourceColumn, SourceTable
from sor_job import rewrite
from sor_job.config import JobConfig
from sor_job.plan import S3Object
from sor_job.restore import Restoration, Restore, numeric_scale, restoration_rules, statistics_samples, with_scale
from sor_job.restore_transform import REJECTS_COLUMN, restoration_spec, restoration_transform, restored_schema
from sor_job.rewrite import (
    WRITER_OPTIONS,
    RewriteSettings,
    RewriteUnit,
    Transform,
    rewrite_plan_digest,
    rewrite_unit,
    run_rewrites,
    schema_ipc,
)

ROOT = Path(__file__).resolve().parents[2]

ENGINE = "aurora-postgresql"
EXPORT_BUCKET, SOR_BUCKET = "bench-exports", "bench-sor"
TABLE_PREFIX = "exports/bench/shop/public.orders/1/"
MB = 10**6
# A handful of distinct generated chunks, cycled: converting values one by one (the export's own rules) costs
# ~15 us per row, so a 1 GB file (~15 M rows) is assembled from chunks, never generated row by row.
DISTINCT_CHUNKS = 4
TIMEZONE_OFFSETS = ("+00", "-03", "+05:30", "+01", "-08")  # a session TimeZone other than UTC prints these
COLUMNS = (
    SourceColumn("id", "bigint", not_null=True),
    SourceColumn("customer_id", "integer"),
    SourceColumn("status", "character varying(16)"),
    SourceColumn("note", "text"),
    SourceColumn("ordered_on", "date"),
    SourceColumn("created_at", "timestamp"),
    SourceColumn("updated_at", "timestamp with time zone"),
    SourceColumn("amount", "numeric(12,2)"),
    SourceColumn("qty", "integer"),
    SourceColumn("score", "double precision"),
)
# As parquet_bytes (local/export_emulator/layout.py) writes part files, but streamed by row group, not whole.
SOURCE_WRITER = {
    "compression": "gzip",
    "store_decimal_as_integer": True,
    "coerce_timestamps": "us",
    "allow_truncated_timestamps": False,
    "store_schema": False,
}
SETTINGS = RewriteSettings()  # the job's defaults: 64 Ki-row batches, 128 MiB row groups, 64 MiB parts


# ==================================================================================================
# The input: PostgreSQL-export-like files
# ==================================================================================================
def _row(rng: random.Random, number: int) -> tuple[Any, ...]:
    moment = dt.datetime(2020, 1, 1) + dt.timedelta(
        seconds=rng.randrange(6 * 365 * 86400), microseconds=rng.choice((0, rng.randrange(1_000_000)))
    )
    later = moment + dt.timedelta(hours=rng.randrange(48))
    fraction = f".{later.microsecond:06d}".rstrip("0").rstrip(".")
    # timestamptz as PostgreSQL prints it with a session TimeZone other than UTC (offset trimmed to hours when whole)
    updated = f"{later:%Y-%m-%d %H:%M:%S}{fraction}{rng.choice(TIMEZONE_OFFSETS)}"
    return (
        number,
        rng.randrange(1, 10**6),
        rng.choice(("new", "paid", "shipped", "cancelled")),
        f"order {number} note {rng.getrandbits(48):x}",
        moment.date(),
        moment,
        updated,
        decimal.Decimal(rng.randrange(-(10**9), 10**10)) / 100,
        rng.randrange(1, 50),
        rng.random() * 100,
    )


def export_chunk(rows: int, seed: int) -> pa.Table:
    """`rows` rows converted as the export converts them (export_emulator.conversion), deterministic in `seed`."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    table = SourceTable("shop", "public", "orders", list(COLUMNS), [_row(rng, n) for n in range(rows)])
    return exported_table(ENGINE, table)


def type_mappings() -> list[dict[str, Any]]:
    """originalTypeMappings of the table as the export emulator writes them (information_schema words, no scale)."""
    mappings = []
    for column in COLUMNS:
        rule = exported_type(ENGINE, column.source_type)
        mappings.append({
            "columnName": column.name, "originalType": rule.original_type,
            "originalNumPrecision": rule.num_precision, "originalDateTimePrecision": rule.datetime_precision,
        })  # fmt: skip
    return mappings


def write_source(
    path: Path, rows: int, row_group_rows: int, chunks: Sequence[pa.Table] | None = None, first_id: int = 0
) -> int:
    """One gzip part file of `rows` rows in row groups of `row_group_rows`, streamed; returns its size. Ids run
    from `first_id`, so the files of one table never share an id (the peers' outputs are compared by id)."""
    chunks = list(chunks) if chunks else [export_chunk(row_group_rows, seed) for seed in range(DISTINCT_CHUNKS)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, chunks[0].schema, **SOURCE_WRITER) as writer:
        written = 0
        for group in range(-(-rows // row_group_rows)):
            size = min(row_group_rows, rows - written)
            chunk = chunks[group % len(chunks)].slice(0, size)
            ids = pa.array(range(first_id + written, first_id + written + size), pa.int64())
            writer.write_table(chunk.set_column(0, chunk.schema.field(0), ids), row_group_size=size)
            written += size
    return path.stat().st_size


def source_files(folder: Path, files: int, rows: int, row_group_rows: int) -> list[Path]:
    chunks = [export_chunk(row_group_rows, seed) for seed in range(DISTINCT_CHUNKS)]
    paths = [folder / f"part-{i:05d}-bench.gz.parquet" for i in range(files)]
    for number, path in enumerate(paths):
        rotated = chunks[number % len(chunks) :] + chunks[: number % len(chunks)]
        write_source(path, rows, row_group_rows, rotated, first_id=number * rows)
    return paths


def restorations(path: Path, mappings: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Restoration]:
    """The job's rules for the file's string columns under `mappings` (originalTypeMappings; default: this
    module's table); a decimal's scale from the footer statistics, as the job decides it when the metadata has no
    scale key."""
    metadata = pq.read_metadata(path)
    schema = metadata.schema.to_arrow_schema()
    strings = [f.name for f in schema if pa.types.is_string(f.type)]
    rules = {}
    for name, rule in restoration_rules(ENGINE, type_mappings() if mappings is None else mappings, strings).items():
        if isinstance(rule, Restoration):
            if rule.restore is Restore.DECIMAL and rule.scale is None:
                scale = numeric_scale(statistics_samples(metadata, name)[0])
                if scale is None:
                    continue
                rule = with_scale(rule, scale)
            rules[name] = rule
    return rules


# ==================================================================================================
# LocalS3: a directory standing in for the buckets, for the calls rewrite_unit makes
# ==================================================================================================
class LocalS3:
    """The S3 calls rewrite_unit and its helpers make (list one key, head, ranged get with IfMatch, put, multipart
    upload), served from `root/<bucket>/<key>`: the job's own code path with the network taken out. ETags are
    size and mtime (S3 computes its own server-side; a client never hashes)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.calls: dict[str, int] = {}

    def _path(self, bucket: str, key: str) -> Path:
        return self.root / bucket / key

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    @staticmethod
    def etag(path: Path) -> str:
        stat = path.stat()
        return f"{stat.st_size:x}-{stat.st_mtime_ns:x}"

    def _metadata(self, path: Path) -> dict[str, str]:
        side = path.with_name(path.name + ".metadata.json")
        return json.loads(side.read_text()) if side.exists() else {}

    def _finish(self, path: Path, metadata: Mapping[str, str] | None) -> None:
        path.with_name(path.name + ".metadata.json").write_text(json.dumps(dict(metadata or {})))

    def list_objects_v2(self, Bucket: str, Prefix: str, MaxKeys: int = 1000, **_: Any) -> dict[str, Any]:
        self._count("ListObjectsV2")
        path = self._path(Bucket, Prefix)
        if not path.is_file():  # only the exact-key listing rewrite_unit asks for (_head)
            return {"Contents": []}
        return {"Contents": [{"Key": Prefix, "Size": path.stat().st_size, "ETag": f'"{self.etag(path)}"'}]}

    def head_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self._count("HeadObject")
        path = self._path(Bucket, Key)
        return {"ContentLength": path.stat().st_size, "ETag": f'"{self.etag(path)}"', "Metadata": self._metadata(path)}

    def get_object(self, Bucket: str, Key: str, Range: str = "", IfMatch: str = "", **_: Any) -> dict[str, Any]:
        self._count("GetObject")
        path = self._path(Bucket, Key)
        if IfMatch and IfMatch.strip('"') != self.etag(path):
            raise ValueError(f"PreconditionFailed: {Key} changed")
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", Range)
        with path.open("rb") as handle:
            if match:
                handle.seek(int(match.group(1)))
                data = handle.read(int(match.group(2)) - int(match.group(1)) + 1)
            else:
                data = handle.read()
        return {"Body": io.BytesIO(data), "ContentLength": len(data)}

    def put_object(
        self, Bucket: str, Key: str, Body: bytes, Metadata: Mapping[str, str] | None = None, **_: Any
    ) -> dict[str, Any]:
        self._count("PutObject")
        path = self._path(Bucket, Key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(Body)
        self._finish(path, Metadata)
        return {"ETag": f'"{self.etag(path)}"'}

    def create_multipart_upload(
        self, Bucket: str, Key: str, Metadata: Mapping[str, str] | None = None, **_: Any
    ) -> dict[str, Any]:
        self._count("CreateMultipartUpload")
        upload = self._path(Bucket, Key + ".upload")
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_bytes(b"")
        upload.with_name(upload.name + ".pending.json").write_text(json.dumps(dict(Metadata or {})))
        return {"UploadId": "local"}

    def upload_part(self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes) -> dict[str, Any]:
        self._count("UploadPart")
        with self._path(Bucket, Key + ".upload").open("ab") as handle:  # MultipartSink sends parts in order
            handle.write(Body)
        return {"ETag": f'"{PartNumber}"'}

    def complete_multipart_upload(self, Bucket: str, Key: str, UploadId: str, MultipartUpload: Any) -> dict[str, Any]:
        self._count("CompleteMultipartUpload")
        upload, path = self._path(Bucket, Key + ".upload"), self._path(Bucket, Key)
        pending = upload.with_name(upload.name + ".pending.json")
        upload.replace(path)
        self._finish(path, json.loads(pending.read_text()))
        pending.unlink()
        return {}

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> dict[str, Any]:
        self._count("AbortMultipartUpload")
        for leftover in (self._path(Bucket, Key + ".upload"), self._path(Bucket, Key + ".upload.pending.json")):
            leftover.unlink(missing_ok=True)
        return {}


@dataclass(frozen=True)
class LocalS3Factory:
    """Stands in for task_s3_client on the Spark executors (pickled by value with run_rewrites' task)."""

    root: str

    def __call__(self, config: JobConfig) -> LocalS3:
        return LocalS3(self.root)


@dataclass(frozen=True)
class RestorationFactory:
    """The job's transform factory for these units: restoration_transform of the unit's rules (picklable)."""

    rules: Mapping[str, Mapping[str, Restoration]]  # source key -> column -> rule

    def __call__(self, unit: RewriteUnit) -> Transform:
        return restoration_transform(self.rules[unit.source.key], unit.output_schema, unit.source.key)


# ==================================================================================================
# The peers
# ==================================================================================================
@dataclass(frozen=True)
class Workload:
    """The source files as export objects in a LocalS3 root, with the job's units and rules for them."""

    root: Path
    paths: tuple[Path, ...]
    units: tuple[RewriteUnit, ...]
    rules: Mapping[str, Mapping[str, Restoration]]
    rows: int
    source_bytes: int

    def config(self) -> JobConfig:
        return JobConfig(
            export_bucket=EXPORT_BUCKET, export_prefix="exports/bench/", export_id="bench", sor_bucket=SOR_BUCKET,
            catalog_database="bench", ingestion_date="2026-11-26", metrics_namespace=None,
        )  # fmt: skip


def workload(root: Path, files: int, rows: int, row_group_rows: int) -> Workload:
    """Writes the source files under `root`, then describes them (rebuild)."""
    source_files(root / EXPORT_BUCKET / TABLE_PREFIX, files, rows, row_group_rows)
    return rebuild(root, files)


@dataclass
class PeerRun:
    """One peer's fastest run over the whole workload."""

    peer: str  # "job", "job-spark", "spark", "arrow"
    cores: int  # Spark local[N]: N; in-process peers: 1
    seconds: float
    rows: int
    source_bytes: int
    output_bytes: int
    cpu_seconds: float | None = None  # this process's CPU time (in-process peers only)
    all_seconds: list[float] = field(default_factory=list)

    @property
    def rows_per_s_per_core(self) -> float:
        return self.rows / self.seconds / self.cores

    @property
    def mb_per_s_per_core(self) -> float:
        return self.source_bytes / MB / self.seconds / self.cores


def _tree_bytes(folder: Path, suffix: str = ".parquet") -> int:
    return sum(p.stat().st_size for p in folder.rglob(f"*{suffix}") if p.is_file())


def _fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _best(peer: str, cores: int, work: Workload, repeats: int, once: Callable[[], int]) -> PeerRun:
    """Runs `once` (which returns the output bytes) `repeats` times; keeps the fastest."""
    times, cpu_times, output = [], [], 0
    for _ in range(repeats):
        cpu, started = time.process_time(), time.perf_counter()
        output = once()
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu)
    best = times.index(min(times))
    cpu_seconds = cpu_times[best] if cores == 1 and peer in {"job", "arrow"} else None
    return PeerRun(
        peer, cores, times[best], work.rows, work.source_bytes, output, cpu_seconds, [round(t, 3) for t in times]
    )


def time_job(work: Workload, repeats: int) -> PeerRun:
    """rewrite_unit with the job's transform, unit after unit in this process."""
    s3, config, factory = LocalS3(work.root), work.config(), RestorationFactory(work.rules)

    def once() -> int:
        _fresh(work.root / SOR_BUCKET)
        results = [rewrite_unit(unit, factory(unit), s3, config, SETTINGS) for unit in work.units]
        if sum(r.rows for r in results) != work.rows:
            raise RuntimeError("the job's rewrite lost rows")
        return sum(r.bytes for r in results)

    return _best("job", 1, work, repeats, once)


def time_arrow(work: Workload, repeats: int, out: Path) -> PeerRun:
    """The codec floor: the same row groups read and written with the job's writer settings, nothing parsed."""

    def once() -> int:
        _fresh(out)
        for path in work.paths:
            source = pq.ParquetFile(path, pre_buffer=True)
            with pq.ParquetWriter(out / path.name, source.schema_arrow, **WRITER_OPTIONS) as writer:
                for group in range(source.metadata.num_row_groups):
                    batches = list(source.iter_batches(SETTINGS.batch_rows, row_groups=[group], use_threads=False))
                    table = pa.Table.from_batches(batches, source.schema_arrow)
                    writer.write_table(table, row_group_size=max(1, table.num_rows))
        return _tree_bytes(out)

    return _best("arrow", 1, work, repeats, once)


def spark_casts(rules: Mapping[str, Restoration]) -> dict[str, str]:
    """Column -> the Spark SQL a Glue user writes for it (to_date / to_timestamp / CAST AS decimal(p,s))."""
    sql = {}
    for name, rule in rules.items():
        if rule.restore is Restore.DATE:
            sql[name] = f"to_date(`{name}`)"
        elif rule.restore is Restore.DECIMAL:
            sql[name] = f"CAST(`{name}` AS {rule.catalog_type})"
        else:  # to_timestamp without a pattern is CAST AS timestamp: it parses a trailing ±HH[:MM] offset
            sql[name] = f"to_timestamp(`{name}`)"
    return sql


def time_spark(session: Any, cores: int, work: Workload, repeats: int, out: Path) -> PeerRun:
    """The plain Spark DataFrame rewrite: read, cast, write (zstd, as the job writes)."""
    from pyspark.sql import functions as F

    casts = spark_casts(next(iter(work.rules.values())))

    def once() -> int:
        shutil.rmtree(out, ignore_errors=True)
        frame = session.read.parquet(*[str(p) for p in work.paths])
        for name, expression in casts.items():
            frame = frame.withColumn(name, F.expr(expression))
        frame.write.mode("overwrite").option("compression", "zstd").parquet(str(out))
        return _tree_bytes(out)

    return _best("spark", cores, work, repeats, once)


def time_job_spark(cores: int, work: Workload, repeats: int) -> PeerRun:
    """The job's run_rewrites (one Spark task per unit) with LocalS3 in the tasks."""
    rewrite.task_s3_client = LocalS3Factory(str(work.root))  # what run_rewrites' tasks call for their client
    factory, config = RestorationFactory(work.rules), work.config()

    def once() -> int:
        _fresh(work.root / SOR_BUCKET)
        results = run_rewrites(list(work.units), factory, config, SETTINGS)
        errors = [r.error for r in results if r.error]
        if errors or sum(r.rows for r in results) != work.rows:
            raise RuntimeError(f"run_rewrites failed: {errors[:2]}")
        return sum(r.bytes for r in results)

    return _best("job-spark", cores, work, repeats, once)


# ==================================================================================================
# Same rows, same values
# ==================================================================================================
def compare_outputs(work: Workload, spark_out: Path, arrow_out: Path) -> dict[str, Any]:
    """Row counts of every peer's output, and the restored columns of the job's output against Spark's, by id.
    Spark writes timestamps as instants in UTC (isAdjustedToUTC), the job as UTC wall time: compared as values."""
    job = pa.concat_tables(pq.read_table(work.root / SOR_BUCKET / u.destination) for u in work.units).drop_columns(
        [REJECTS_COLUMN]
    )
    spark = pq.read_table(spark_out)
    arrow = pq.read_table(arrow_out)
    columns = ["id", *next(iter(work.rules.values()))]
    job, spark = job.select(columns).sort_by("id"), spark.select(columns).sort_by("id")
    unequal = []
    for name in columns:
        left, right = job.column(name), spark.column(name)
        if pa.types.is_timestamp(right.type):
            right = right.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us"))
        if left.type != right.type:
            right = right.cast(left.type)
        if not left.equals(right):
            unequal.append(name)
    return {
        "rows": {"source": work.rows, "job": job.num_rows, "spark": spark.num_rows, "arrow": arrow.num_rows},
        "compared_columns": columns,
        "unequal_columns": unequal,
        "equal": not unequal and job.num_rows == spark.num_rows == arrow.num_rows == work.rows,
    }


# ==================================================================================================
# Peak memory of the job's rewrite (a child process per file)
# ==================================================================================================
def vm_hwm_mib() -> float:
    """This process's peak resident set (VmHWM). Not ru_maxrss: a forked child inherits its parent's."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def child_env() -> dict[str, str]:
    """PYTHONPATH with the repository (local.*), for children and Spark's Python workers (which unpickle this
    module's classes by reference; the job's package travels by value, glue/sor_job/rewrite.py run_rewrites)."""
    paths = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths))}


def memory_probe(root: Path, key: str) -> dict[str, Any]:
    """In a fresh process: rewrite one file with the job's rewrite_unit and transform, report VmHWM."""
    path = root / EXPORT_BUCKET / key
    rules = restorations(path)
    schema = restored_schema(pq.read_schema(path), rules)
    metadata = pq.read_metadata(path)
    unit = RewriteUnit(
        S3Object(key, path.stat().st_size, LocalS3.etag(path)), f"sor/memory/{path.name}",
        schema_ipc(schema), "memory-probe", metadata.num_rows,
    )  # fmt: skip
    work = Workload(root, (path,), (unit,), {key: rules}, metadata.num_rows, path.stat().st_size)
    before = vm_hwm_mib()
    started = time.perf_counter()
    result = rewrite_unit(unit, RestorationFactory(work.rules)(unit), LocalS3(root), work.config(), SETTINGS)
    seconds = time.perf_counter() - started
    (root / SOR_BUCKET / unit.destination).unlink()
    largest_group = max(metadata.row_group(g).total_byte_size for g in range(metadata.num_row_groups))
    return {
        "file_bytes": path.stat().st_size, "rows": result.rows, "row_groups": metadata.num_row_groups,
        "largest_row_group_uncompressed_bytes": largest_group, "seconds": round(seconds, 2),
        "vm_hwm_before_mib": round(before, 1), "vm_hwm_mib": round(vm_hwm_mib(), 1),
    }  # fmt: skip


def measure_memory(
    root: Path, sizes_mb: Sequence[int], row_group_rows: int, log: Callable[[str], None]
) -> list[dict[str, Any]]:
    """For each size: write a file of at least that many MB (streamed), rewrite it in a child process, delete it."""
    results = []
    chunks = [export_chunk(row_group_rows, seed) for seed in range(DISTINCT_CHUNKS)]
    probe_rows = 50_000
    bytes_per_row = write_source(root / "probe.parquet", probe_rows, row_group_rows, chunks) / probe_rows
    (root / "probe.parquet").unlink()
    for size_mb in sizes_mb:
        # gzip packs big files tighter than the probe: aim 12% above, then add row groups until the size is reached
        rows = int(size_mb * MB / bytes_per_row * 1.12) // row_group_rows * row_group_rows + row_group_rows
        key = f"exports/memory/part-{size_mb}mb.gz.parquet"
        path = root / EXPORT_BUCKET / key
        log(f"memory: writing a {size_mb} MB source file ({rows} rows) ...")
        started = time.perf_counter()
        written = write_source(path, rows, row_group_rows, chunks)
        while written < size_mb * MB:  # "at least" the size asked: a file of 0.98 GB is not a 1 GB file
            rows += max(row_group_rows, int((size_mb * MB - written) / bytes_per_row))
            written = write_source(path, rows, row_group_rows, chunks)
        generated = time.perf_counter() - started
        log(f"memory: {written / MB:.0f} MB written in {generated:.0f} s; rewriting it in a child process ...")
        try:
            done = subprocess.run(
                [sys.executable, "-m", "local.bench.bench_rewrite", "memory", "--root", str(root), "--key", key],
                capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=3600, check=False,
            )  # fmt: skip
        finally:
            path.unlink(missing_ok=True)
        if done.returncode != 0:
            raise RuntimeError(f"memory probe failed: {done.stderr[-2000:]}")
        results.append({**json.loads(done.stdout.strip().splitlines()[-1]), "generate_seconds": round(generated, 1)})
    return results


# ==================================================================================================
# Spark children (one JVM per master) and the whole run
# ==================================================================================================
def spark_child(root: Path, master: str, repeats: int, files: int) -> dict[str, Any]:
    """In a fresh process: Spark local[N], the plain Spark rewrite then the job's run_rewrites, after a warm-up."""
    from local.emulator.spark_env import local_session

    # Spark's Python workers inherit it: they import sor_job and local.bench.bench_rewrite
    os.environ.update(child_env())
    session = local_session(master, app_name="aurora-sor-bench")
    cores = int(re.fullmatch(r"local\[(\d+)\]", master).group(1))  # type: ignore[union-attr]
    work = rebuild(root, files)
    warm = Workload(
        work.root, work.paths[:1], work.units[:1], work.rules, work.units[0].rows, work.units[0].source.size
    )
    time_spark(session, cores, warm, 1, root / "warm-spark")  # JIT, Python workers and file cache, not measured
    time_job_spark(cores, warm, 1)
    spark = time_spark(session, cores, work, repeats, root / f"spark-{cores}")
    job = time_job_spark(cores, work, repeats)
    session.stop()
    return {"runs": [dataclasses.asdict(spark), dataclasses.asdict(job)]}


def rebuild(root: Path, files: int) -> Workload:
    """The Workload of files already written under `root` (a Spark child reuses the parent's files)."""
    folder = root / EXPORT_BUCKET / TABLE_PREFIX
    paths = sorted(folder.glob("part-*-bench.gz.parquet"))[:files]
    units, rules = [], {}
    for path in paths:
        key = TABLE_PREFIX + path.name
        file_rules = restorations(path)
        schema = restored_schema(pq.read_schema(path), file_rules)
        obj = S3Object(key, path.stat().st_size, LocalS3.etag(path))
        digest = rewrite_plan_digest(schema, restoration_spec(file_rules), SETTINGS)
        units.append(
            RewriteUnit(obj, f"sor/orders/{path.name}", schema_ipc(schema), digest,
                                pq.read_metadata(path).num_rows)
        )  # fmt: skip
        rules[key] = file_rules
    return Workload(
        root, tuple(paths), tuple(units), rules, sum(u.rows for u in units), sum(u.source.size for u in units)
    )


def run_all(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aurora-sor-bench-") as scratch:
        root = Path(scratch)
        log(f"rewrite: writing {args.files} source files of {args.rows} rows ...")
        work = workload(root, args.files, args.rows, args.row_group_rows)
        log(f"rewrite: {work.rows} rows, {work.source_bytes / MB:.1f} MB of gzip Parquet; job (rewrite_unit) ...")
        runs = [time_job(work, args.repeats)]
        log("rewrite: codec floor (pyarrow) ...")
        runs.append(time_arrow(work, args.repeats, root / "arrow"))
        for master in args.masters:
            log(f"rewrite: Spark {master}: plain DataFrame rewrite and the job's run_rewrites ...")
            done = subprocess.run(
                [sys.executable, "-m", "local.bench.bench_rewrite", "spark", "--root", str(root), "--master", master,
                 "--repeats", str(args.repeats), "--files", str(args.files)],
                capture_output=True, text=True, env=child_env(), cwd=ROOT, timeout=3600, check=False,
            )  # fmt: skip
            if done.returncode != 0:
                raise RuntimeError(f"Spark {master} failed: {done.stderr[-3000:]}")
            runs += [PeerRun(**r) for r in json.loads(done.stdout.strip().splitlines()[-1])["runs"]]
        first = next(r for r in runs if r.peer == "spark")
        comparison = compare_outputs(work, root / f"spark-{first.cores}", root / "arrow")
        memory = measure_memory(root, args.memory_mb, args.memory_row_group_rows, log) if args.memory_mb else []
        return {
            "files": args.files, "rows": work.rows, "source_bytes": work.source_bytes,
            "row_groups_per_file": -(-args.rows // args.row_group_rows), "row_group_rows": args.row_group_rows,
            "repeats": args.repeats, "pyarrow": pa.__version__, "python": sys.version.split()[0],
            "runs": [{**dataclasses.asdict(r), "rows_per_s_per_core": r.rows_per_s_per_core,
                      "mb_per_s_per_core": r.mb_per_s_per_core} for r in runs],
            "comparison": comparison, "memory": memory,
        }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.bench.bench_rewrite", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="every peer on the same files; prints JSON")
    run.add_argument("--files", type=int, default=4)
    run.add_argument("--rows", type=int, default=400_000, help="rows per file")
    run.add_argument("--row-group-rows", type=int, default=100_000)
    run.add_argument("--repeats", type=int, default=2)
    run.add_argument("--masters", type=lambda s: s.split(","), default=["local[1]", "local[2]"])
    run.add_argument("--memory-mb", type=lambda s: [int(x) for x in s.split(",") if x], default=[],
                     help="source file sizes (MB) for the peak-memory probe, e.g. 250,1100")  # fmt: skip
    run.add_argument("--memory-row-group-rows", type=int, default=500_000)
    spark = commands.add_parser("spark", help="(internal) one Spark master's runs on files under --root")
    memory = commands.add_parser("memory", help="(internal) peak memory of the job's rewrite of one file")
    for sub in (spark, memory):
        sub.add_argument("--root", type=Path, required=True)
    spark.add_argument("--master", required=True)
    spark.add_argument("--repeats", type=int, default=2)
    spark.add_argument("--files", type=int, required=True)
    memory.add_argument("--key", required=True)
    args = parser.parse_args(argv)
    if args.command == "run":
        report = run_all(args, log=lambda m: print(m, file=sys.stderr, flush=True))
    elif args.command == "spark":
        report = spark_child(args.root, args.master, args.repeats, args.files)
    else:
        report = memory_probe(args.root, args.key)
    print(json.dumps(report))
    return 0


def iter_peer_runs(report: Mapping[str, Any]) -> Iterator[PeerRun]:
    """The runs of a `run` report as PeerRun objects."""
    for run in report["runs"]:
        yield PeerRun(**{k: v for k, v in run.items() if k in {f.name for f in dataclasses.fields(PeerRun)}})


if __name__ == "__main__":
    sys.exit(main())
