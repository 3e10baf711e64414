"""Rewrite (Spark tasks): one export file, or a run of its row groups, -> one typed Parquet object, streamed through
a transform."""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import io
import json
import logging
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from sor_job.clients import boto_config
from sor_job.config import JobConfig
from sor_job.errors import ExportError, FailureKind, TableError, failure_kind
from sor_job.layout import SOURCE_ETAG_META
from sor_job.plan import S3Object
from sor_job.s3_reads import RangeReader

log = logging.getLogger(__name__)


# Spark's own DataFrame writer names files with a per-job UUID and cuts the input by parallelism, so a re-run
# could neither find nor reproduce what an earlier attempt wrote. Here Spark only distributes units of work (an export
# file, or a run of its row groups: cut_file) whose destination keys derive from the source key and the run
# (destination_key, unit_destination); every task reads and
# writes S3 through boto3 and pyarrow, the same code path locally and in Glue (local Spark cannot load the S3
# connector jars without a Maven repository). Memory per task is bounded: the source is read row group by row
# group in batches, and the output leaves in fixed-size multipart parts, so a 200 GB file never needs 200 GB.
PLAN_DIGEST_META = "sor-plan-digest"  # with SOURCE_ETAG_META: what a re-run compares to skip a unit
# The unit's counters go in the Parquet footer's key-value metadata: they are known only at the end, after the
# multipart upload (and its S3 metadata) began, and a re-run that skips the unit reads them back from the footer.
COUNTERS_KEY = "aurora-sor.counters"
MAX_SAMPLES = 5  # per counter key: enough to show a wrong format assumption, few enough for a log line
REWRITE_FORMAT = 2  # part of every plan digest: bump it when what a rewrite writes changes, to redo every object
# (2: sor_rejects.raw_values keyed by the catalog column name; rejects by Athena's millisecond view; no year 0000)
# Spark 3.5 writes and reads dates before 1582-10-15 and timestamps before 1900-01-01 according to these
# (default EXCEPTION; https://spark.apache.org/docs/3.5.4/sql-migration-guide.html, "Upgrading from Spark SQL
# 3.0 to 3.1"; https://spark.apache.org/docs/3.5.4/configuration.html). CORRECTED keeps the proleptic Gregorian
# calendar that PostgreSQL uses. They do not act on this path, where pyarrow reads and writes every byte and
# Spark only distributes units: they are set so that any DataFrame code added to the job later cannot rebase.
SPARK_REBASE_CONF = {
    "spark.sql.parquet.datetimeRebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.datetimeRebaseModeInRead": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInWrite": "CORRECTED",
    "spark.sql.parquet.int96RebaseModeInRead": "CORRECTED",
}
# Fixed writer settings, so the same input gives the same bytes. No Arrow schema blob (store_schema=False, as
# Spark's files have none) and no wall-clock value anywhere: pyarrow's footer holds only `created_by`
# ("parquet-cpp-arrow version <v>"), so objects are byte-identical for one pyarrow version. ZSTD: Athena engine 3
# reads it for Parquet (https://docs.aws.amazon.com/athena/latest/ug/compression-support-hive.html); level 3 is
# Athena's own default write level (https://docs.aws.amazon.com/athena/latest/ug/compression-formats.html).
WRITER_OPTIONS: dict[str, Any] = {
    "version": "2.6",
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "data_page_version": "1.0",
    "store_schema": False,
    "store_decimal_as_integer": True,
    "coerce_timestamps": "us",
    "allow_truncated_timestamps": False,
}


@dataclass(frozen=True)
class RewriteSettings:
    """How units are cut and uploaded. batch_rows and row_group_bytes shape the bytes (they enter the plan
    digest); part_size only shapes the upload."""

    batch_rows: int = 64 * 1024  # rows per source batch handed to the transform
    row_group_bytes: int = 128 * 1024**2  # in-memory size at which an output row group is cut
    # S3 parts are 5 MiB to 5 GiB, at most 10,000 per upload, the last one may be smaller
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html): 64 MiB parts hold objects up to 625 GiB.
    part_size: int = 64 * 1024**2

    def __post_init__(self) -> None:
        if not 5 * 1024**2 <= self.part_size <= 5 * 1024**3:
            raise ValueError(f"part_size must be 5 MiB to 5 GiB, got {self.part_size}")
        if self.batch_rows < 1 or self.row_group_bytes < 1:
            raise ValueError("batch_rows and row_group_bytes must be >= 1")


@dataclass(frozen=True)
class RewriteUnit:
    """One export file, or a run of its row groups, -> one SOR object. Picklable as plain values (the schema travels
    as Arrow IPC bytes)."""

    source: S3Object
    destination: str  # destination_key(...) of the source, like the copy path; unit_destination(...) of a run
    output_schema_ipc: bytes  # schema_ipc(output schema)
    plan_digest: str  # rewrite_plan_digest(...): the transform and output schema; stored on the object
    rows: int  # the unit's row count from the source's footer; the written object must hold exactly as many
    row_groups: tuple[int, int] | None = None  # [first, stop) of the source's row groups; None: the whole file
    first_row: int = 0  # the source-file index of the unit's first row: what sor_rejects.row_index counts from

    @property
    def output_schema(self) -> pa.Schema:
        return pa.ipc.read_schema(pa.py_buffer(self.output_schema_ipc))


@dataclass(frozen=True)
class TransformedBatch:
    """What a transform returns for one batch: the batch in the unit's output schema, counters (e.g. rejected
    values per column) and a few sample values per counter key (bounded by the engine to MAX_SAMPLES)."""

    batch: pa.RecordBatch
    counters: Mapping[str, int] = field(default_factory=dict)
    samples: Mapping[str, Sequence[str]] = field(default_factory=dict)


# (batch, index of its first row in the source file) -> output. A plain (batch, counters) tuple is accepted too.
# Raising aborts the unit: no object is written for it.
Transform = Callable[[pa.RecordBatch, int], "TransformedBatch | tuple[pa.RecordBatch, Mapping[str, int]]"]
TransformFactory = Callable[[RewriteUnit], Transform]


@dataclass
class UnitResult:
    destination: str
    rows: int = 0
    bytes: int = 0
    skipped: bool = False  # the destination already held this source under this plan: nothing was read
    counters: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[str]] = field(default_factory=dict)
    source_bytes_read: int = 0
    seconds: float = 0.0
    error: str | None = None  # set by run_rewrites when the unit failed; rewrite_unit raises instead
    transient: bool = False  # with error: the unit failed for a transient cause (failure_kind)


@dataclass(frozen=True)
class UnitCut:
    """Where a unit lies in its source file (cut_file)."""

    row_groups: tuple[int, int] | None  # [first, stop); None: the whole file
    first_row: int
    rows: int


def cut_file(row_groups: Sequence[tuple[int, int]], file_size: int, unit_bytes: int) -> list[UnitCut]:
    """Pure: a file's row groups ((rows, uncompressed bytes) each, in order) cut into consecutive runs of at least
    `unit_bytes` of the file, a row group's share of the file estimated by its uncompressed size; a last run under
    half of that joins the run before it. A file that makes a single run is one whole-file unit (row_groups None), so
    a file the job once rewrote whole keeps its object's key. Depends only on the footer, so re-runs cut the same."""
    total_rows = sum(rows for rows, _ in row_groups)
    uncompressed = sum(size for _, size in row_groups)
    runs: list[tuple[int, int]] = []
    start, held = 0, 0.0
    for index, (rows, size) in enumerate(row_groups):
        held += file_size * (size / uncompressed if uncompressed else rows / max(total_rows, 1))
        if held >= unit_bytes:
            runs.append((start, index + 1))
            start, held = index + 1, 0.0
    if start < len(row_groups):
        if runs and held < unit_bytes / 2:
            runs[-1] = (runs[-1][0], len(row_groups))
        else:
            runs.append((start, len(row_groups)))
    if len(runs) <= 1:
        return [UnitCut(None, 0, total_rows)]
    cuts, first_row = [], 0
    for first, stop in runs:
        rows = sum(r for r, _ in row_groups[first:stop])
        cuts.append(UnitCut((first, stop), first_row, rows))
        first_row += rows
    return cuts


def file_units(whole: RewriteUnit, row_groups: Sequence[tuple[int, int]], unit_bytes: int) -> list[RewriteUnit]:
    """The units of one file (`whole`, its whole-file unit), as cut_file cuts its row groups: `[whole]` when the
    file makes a single run."""
    return [
        dataclasses.replace(
            whole,
            destination=unit_destination(whole.destination, cut.row_groups),
            rows=cut.rows,
            row_groups=cut.row_groups,
            first_row=cut.first_row,
        )
        for cut in cut_file(row_groups, whole.source.size, unit_bytes)
    ]


def unit_destination(destination: str, row_groups: tuple[int, int] | None) -> str:
    """The key of a unit: the whole file's key, or for a run of row groups that key with the run before `.parquet`
    (`part-00000-x.gz.rg00004-00007.parquet`): unique per run, flat like every key in a partition folder."""
    if row_groups is None:
        return destination
    first, stop = row_groups
    stem = destination[: -len(".parquet")] if destination.endswith(".parquet") else destination
    return f"{stem}.rg{first:05d}-{stop - 1:05d}.parquet"


def schema_ipc(schema: pa.Schema) -> bytes:
    return bytes(schema.serialize().to_pybytes())


def rewrite_plan_digest(
    output_schema: pa.Schema, transform_spec: str, settings: RewriteSettings = RewriteSettings()
) -> str:
    """Names what makes the bytes: the transform (`transform_spec`, a stable text the caller derives from its
    rules, e.g. JSON of the column restorations), the output schema, the writer settings and row group cuts."""
    text = json.dumps(
        {
            "format": REWRITE_FORMAT,
            "transform": transform_spec,
            "schema": output_schema.to_string(show_field_metadata=True, show_schema_metadata=True),
            "writer": WRITER_OPTIONS,
            "batch_rows": settings.batch_rows,
            "row_group_bytes": settings.row_group_bytes,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class MultipartSink(io.RawIOBase):
    """A write-only file that streams into S3: fixed-size parts of a multipart upload, started at the first full
    part; a body smaller than one part becomes one PutObject. Nothing exists at the key until finish(); abort()
    removes the parts of an unfinished upload (an upload a killed process leaves behind is removed by the bucket's
    AbortIncompleteMultipartUpload lifecycle rule), so a failed unit never leaves a partial object.
    """

    def __init__(self, s3: Any, bucket: str, key: str, part_size: int, extra: Mapping[str, Any]) -> None:
        super().__init__()
        self._s3, self._bucket, self._key, self._part_size, self._extra = s3, bucket, key, part_size, dict(extra)
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload_id: str | None = None
        self.size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.size

    def write(self, data: Any) -> int:
        self._buffer += data
        written = len(data) if not isinstance(data, memoryview) else data.nbytes
        self.size += written
        while len(self._buffer) >= self._part_size:
            self._upload_part(bytes(self._buffer[: self._part_size]))
            del self._buffer[: self._part_size]
        return written

    def close(self) -> None:
        # pyarrow closes its sink when the Parquet writer closes; the upload is completed by finish() only.
        super().close()

    def _upload_part(self, body: bytes) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._extra)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        response = self._s3.upload_part(
            Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"ETag": response["ETag"], "PartNumber": number})

    def finish(self) -> None:
        if self._upload_id is None:
            self._s3.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._buffer), **self._extra)
        else:
            if self._buffer:
                self._upload_part(bytes(self._buffer))
            self._s3.complete_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": self._parts}
            )
        self._buffer = bytearray()

    def abort(self) -> None:
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
            self._upload_id = None


def head_if_present(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject of `key`, or None when it does not exist. A listing asks first: without s3:ListBucket on the
    key, a HeadObject of a missing key answers 403, not 404
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, "Permissions"), and the job's role may
    list only under its own prefixes."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not listed or listed[0]["Key"] != key:
        return None
    return head_of_listed(s3, bucket, key)


def head_of_listed(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """HeadObject of a key a listing just showed; None when it was removed since the listing."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if exc.response["Error"]["Code"] in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def unit_done(unit: RewriteUnit, head: Mapping[str, Any] | None) -> bool:
    """The destination already holds this source under this plan (by the metadata a rewrite stores)."""
    metadata = (head or {}).get("Metadata", {})
    return metadata.get(SOURCE_ETAG_META) == unit.source.etag and metadata.get(PLAN_DIGEST_META) == unit.plan_digest


def read_rewritten_footer(
    s3: Any, bucket: str, key: str, head: Mapping[str, Any], prefetch: int
) -> tuple[int, dict[str, int]]:
    """Row count and counters of a rewritten object, from its footer alone (one ranged GET of the version `head`
    describes)."""
    obj = S3Object(key, int(head["ContentLength"]), str(head["ETag"]).strip('"'))
    reader = RangeReader(s3, bucket, obj, prefetch)
    metadata = pq.ParquetFile(reader).metadata
    stored = (metadata.metadata or {}).get(COUNTERS_KEY.encode())
    return metadata.num_rows, json.loads(stored) if stored else {}


def _as_transformed(output: Any) -> TransformedBatch:
    if isinstance(output, TransformedBatch):
        return output
    batch, counters = output
    return TransformedBatch(batch, counters)


def rewrite_unit(
    unit: RewriteUnit, transform: Transform, s3: Any, config: JobConfig, settings: RewriteSettings = RewriteSettings()
) -> UnitResult:
    """Streams one export file through `transform` into its SOR object; skips it when already done.

    Output row groups follow the source's: each source row group is read in batches of settings.batch_rows,
    transformed, and written as one row group, cut earlier when its batches reach settings.row_group_bytes. Both
    depend only on the input, so a re-run writes the same bytes. Raises TableError (or the transform's own
    exception, or a botocore error) after aborting the upload: no object is left for a failed unit.
    """
    started = time.monotonic()
    head = head_if_present(s3, config.sor_bucket, unit.destination)
    if head is not None and unit_done(unit, head):
        rows, counters = read_rewritten_footer(s3, config.sor_bucket, unit.destination, head, config.footer_read_size)
        return UnitResult(
            unit.destination,
            rows,
            int(head["ContentLength"]),
            skipped=True,
            counters=counters,
            seconds=round(time.monotonic() - started, 3),
        )
    schema = unit.output_schema
    reader = RangeReader(s3, config.export_bucket, unit.source, config.footer_read_size)
    counters: dict[str, int] = defaultdict(int)
    samples: dict[str, list[str]] = defaultdict(list)
    rows = 0
    metadata = {SOURCE_ETAG_META: unit.source.etag, PLAN_DIGEST_META: unit.plan_digest}
    sink = MultipartSink(
        s3, config.sor_bucket, unit.destination, settings.part_size, {**config.sse_arguments, "Metadata": metadata}
    )
    try:
        # pre_buffer coalesces the column chunks of a row group into few ranged GETs.
        source = pq.ParquetFile(reader, pre_buffer=True)
        pending: list[pa.RecordBatch] = []
        with pq.ParquetWriter(sink, schema, **WRITER_OPTIONS) as writer:
            for group in unit_row_groups(unit, source.metadata):
                for batch in source.iter_batches(settings.batch_rows, row_groups=[group], use_threads=False):
                    out = _as_transformed(transform(batch, unit.first_row + rows))
                    if out.batch.num_rows != batch.num_rows or not out.batch.schema.equals(schema):
                        raise TableError(
                            f"{unit.source.key}: the transform returned {out.batch.num_rows} rows of "
                            f"({out.batch.schema.to_string(show_schema_metadata=False)}) for {batch.num_rows} rows "
                            f"of ({schema.to_string(show_schema_metadata=False)})"
                        )
                    rows += batch.num_rows
                    for key, count in out.counters.items():
                        counters[key] += count
                    for key, values in out.samples.items():
                        samples[key].extend(str(v) for v in list(values)[: MAX_SAMPLES - len(samples[key])])
                    pending.append(out.batch)
                    if sum(b.nbytes for b in pending) >= settings.row_group_bytes:
                        _write_row_group(writer, pending, schema)
                _write_row_group(writer, pending, schema)
            writer.add_key_value_metadata({COUNTERS_KEY: json.dumps(dict(sorted(counters.items())))})
        if rows != unit.rows:
            raise TableError(f"{unit.source.key}: read {rows} rows, its footer says {unit.rows}")
        sink.finish()
    except BaseException:
        sink.abort()
        raise
    return UnitResult(
        unit.destination,
        rows=rows,
        bytes=sink.size,
        counters=dict(counters),
        samples={k: v for k, v in samples.items() if v},
        source_bytes_read=reader.bytes_read,
        seconds=round(time.monotonic() - started, 3),
    )


def unit_row_groups(unit: RewriteUnit, metadata: pq.FileMetaData) -> range:
    """The source's row groups the unit reads, once the footer confirms where the plan put the unit (its first row
    and row count); TableError otherwise."""
    count = metadata.num_row_groups
    first, stop = unit.row_groups or (0, count)
    if unit.row_groups is not None and not 0 <= first < stop <= count:
        raise TableError(f"{unit.source.key}: row groups {first}-{stop - 1} planned, its footer has {count}")
    before = sum(metadata.row_group(g).num_rows for g in range(first))
    held = sum(metadata.row_group(g).num_rows for g in range(first, stop))
    if (before, held) != (unit.first_row, unit.rows):
        where = "" if unit.row_groups is None else f" in row groups {first}-{stop - 1} from row {before}"
        raise TableError(f"{unit.source.key}: its footer holds {held} rows{where}, planned {unit.rows}")
    return range(first, stop)


def _write_row_group(writer: pq.ParquetWriter, pending: list[pa.RecordBatch], schema: pa.Schema) -> None:
    """One row group of the pending batches (write_table cuts row groups of at most row_group_size rows)."""
    if pending:
        table = pa.Table.from_batches(pending, schema)
        writer.write_table(table, row_group_size=max(1, table.num_rows))
        pending.clear()


def verify_rewrites(s3: Any, config: JobConfig, units: Sequence[RewriteUnit]) -> None:
    """After the units: every destination exists with this source's ETag and this plan's digest, and the row count
    in its footer equals the source's. Reads only metadata and footers."""
    problems = []
    for unit in units:
        head = head_if_present(s3, config.sor_bucket, unit.destination)
        if head is None:
            problems.append(f"{unit.destination} is missing")
        elif not unit_done(unit, head):
            problems.append(
                f"{unit.destination} does not carry source ETag {unit.source.etag} and plan {unit.plan_digest}"
            )
        else:
            rows, _ = read_rewritten_footer(s3, config.sor_bucket, unit.destination, head, config.footer_read_size)
            if rows != unit.rows:
                problems.append(f"{unit.destination} holds {rows} rows, its source {unit.rows}")
    if problems:
        raise TableError(f"verification failed for {len(problems)} of {len(units)} rewritten files: {problems[:3]}")


def task_s3_client(config: JobConfig) -> Any:
    """The S3 client of one Spark task, from plain configuration: the endpoint from AWS_ENDPOINT_URL (the emulator
    here), credentials from the environment or the worker's role, as boto3 finds them in Glue."""
    return boto3.session.Session().client("s3", config=boto_config(pool=10))


def _plain_unit(unit: RewriteUnit) -> dict[str, Any]:
    return dataclasses.asdict(unit)


def _unit_of(plain: Mapping[str, Any]) -> RewriteUnit:
    groups = plain.get("row_groups")
    return RewriteUnit(
        **{**plain, "source": S3Object(**plain["source"]), "row_groups": tuple(groups) if groups else None}
    )


# A Spark task costs a core about a tenth of a second of its own (a trivial Python task on local Spark:
# docs/benchmarks.md "The typed path at TPC-H scale factor 1"), several percent of a 16 MiB unit's second of work.
# So a table's units travel in tasks of about TASK_BYTES of source each, and at least as many tasks as Spark has
# cores, balanced by rows (units of one table share a schema, so rows measure the work): the overhead is paid per
# 256 MiB (about 15 s of one core), and every core still gets its share. A task that fails is retried whole; the
# units it had finished are skipped then (unit_done).
TASK_BYTES = 256 * 1024**2


def task_groups(units: Sequence[RewriteUnit], slots: int) -> list[list[int]]:
    """Pure: the units' indexes in tasks, the largest unit first into the least loaded task (longest processing time
    first, within 4/3 of the best balance), deterministic for the same units and slots."""
    if not units:
        return []
    source_bytes = sum({u.source.key: u.source.size for u in units}.values())
    count = min(len(units), max(1, slots, -(-source_bytes // TASK_BYTES)))
    loads = [(0, task) for task in range(count)]
    groups: list[list[int]] = [[] for _ in range(count)]
    for index in sorted(range(len(units)), key=lambda i: (-units[i].rows, i)):
        load, task = heapq.heappop(loads)
        groups[task].append(index)
        heapq.heappush(loads, (load + units[index].rows, task))
    return [group for group in groups if group]


def run_rewrites(
    units: Sequence[RewriteUnit],
    transform_factory: TransformFactory,
    config: JobConfig,
    settings: RewriteSettings = RewriteSettings(),
) -> list[UnitResult]:
    """Runs rewrite_unit for every unit as Spark tasks (task_groups: several units per task, at least one task per
    core), and returns their results in the order of `units`. A failed unit comes back with `error` set (its upload
    aborted); the others still finish.

    pyspark is imported only here, so a night with nothing to rewrite needs no Spark. In Glue the job's Spark
    context exists; locally local/emulator/spark_env.py sets the master (PYSPARK_SUBMIT_ARGS).

    Glue's executors never see this package: Glue runs the one script on the driver, and only `--extra-py-files`
    reach the executors (docs/sor-job.md "How the job ships"). So the package is registered with the cloudpickle
    that pyspark bundles (2.2.1 in Spark 3.5) to travel by value: a task's function carries the package's functions
    and classes it uses, as a __main__ script's do. Units and results cross as plain dicts, because plain pickle
    (Spark's serializer for data) pickles a class by reference, which an executor could not import.
    """
    if not units:
        return []
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise ExportError(
            "rewriting tables needs pyspark: run the job in Glue (glueetl), or locally under the Spark virtualenv "
            "(make spark-venv; local/emulator/spark_env.py)"
        ) from exc
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__.partition(".")[0]])
    # No console progress bar in Glue's logs (a context Glue already started keeps its own setting).
    session = SparkSession.builder.config("spark.ui.showConsoleProgress", "false").getOrCreate()
    for key, value in SPARK_REBASE_CONF.items():
        session.conf.set(key, value)

    def run_partition(groups: Iterable[list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
        s3 = task_s3_client(config)  # one client per partition, never pickled
        for plain in (plain for group in groups for plain in group):
            unit = _unit_of(plain)
            try:
                result = rewrite_unit(unit, transform_factory(unit), s3, config, settings)
            except Exception as exc:  # noqa: BLE001 - reported per unit; the table fails, the other units go on
                result = UnitResult(
                    unit.destination,
                    error=f"{unit.source.key}: {type(exc).__name__}: {exc}",
                    transient=failure_kind(exc) is FailureKind.TRANSIENT,
                )
            # vars(), not dataclasses.asdict: the class arrives by value, and the cloudpickle bundled with pyspark
            # 3.5 does not keep dataclasses' field-type sentinels, so fields() of it is empty on an executor.
            yield dict(vars(result))

    slots = session.sparkContext.defaultParallelism
    groups = [[_plain_unit(units[i]) for i in group] for group in task_groups(units, slots)]
    try:
        collected = session.sparkContext.parallelize(groups, len(groups)).mapPartitions(run_partition).collect()
    except Exception as exc:
        # The Spark job failed as a whole: a task failed spark.task.maxFailures times (an executor lost, out of
        # memory, a Flex worker reclaimed), and collect() raises Py4JJavaError. No unit's result came back, and a
        # killed task cannot abort its upload: the caller aborts what is left (abort_unfinished_uploads).
        raise SparkJobFailed(f"the Spark job of {len(units)} rewrite units failed: {_first_lines(exc)}") from exc
    by_destination = {r["destination"]: UnitResult(**r) for r in collected}
    return [by_destination[u.destination] for u in units]


class SparkJobFailed(TableError):
    """The Spark job of a table's units failed as a whole (see run_rewrites): transient, a later run may pass."""

    def __init__(self, message: str) -> None:
        super().__init__(message, transient=True)


def _first_lines(exc: BaseException, limit: int = 600) -> str:
    """The start of an error's text: a Py4JJavaError carries the whole Java stack trace."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " | ".join(lines[:3])[:limit] or type(exc).__name__


def abort_unfinished_uploads(s3: Any, bucket: str, prefix: str) -> int:
    """Aborts the multipart uploads in progress under `prefix` (a table's day folder), which tasks killed before
    MultipartSink.abort leave behind, billed until aborted; returns how many. The job runs one run at a time
    (MaxConcurrentRuns 1), so no upload under the prefix belongs to anyone else."""
    aborted = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket, Prefix=prefix):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            aborted += 1
    if aborted:
        log.warning("aborted %d unfinished multipart uploads under s3://%s/%s", aborted, bucket, prefix)
    return aborted
