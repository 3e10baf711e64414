"""Typed tables: the rewrite of a table's day through the restoration transform."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from sor_job.column_types import FileSchema
from sor_job.config import JobConfig
from sor_job.context import RunContext
from sor_job.copy_day import destination_key, stale_keys
from sor_job.errors import TableError
from sor_job.outcomes import DayWritten, PublishMethod
from sor_job.plan import ExportedTable, S3Object
from sor_job.restore import NUMERIC_TEXT, Restoration, format_assumption_broken
from sor_job.restore_transform import (
    Counter,
    column_counts,
    invalid_text_by_column,
    restoration_spec,
    restoration_transform,
    restored_schema,
)
from sor_job.rewrite import (
    MAX_SAMPLES,
    RewriteUnit,
    SparkJobFailed,
    Transform,
    TransformFactory,
    UnitResult,
    abort_unfinished_uploads,
    file_units,
    head_of_listed,
    rewrite_plan_digest,
    run_rewrites,
    schema_ipc,
    unit_done,
    verify_rewrites,
)
from sor_job.s3_reads import RangeReader, list_objects

log = logging.getLogger(__name__)


REJECTS_COMMENT = "values the restored types cannot hold: source file, row index, exact source text by column"
FIRST_VALUES = 100  # non-NULL values read from the data when no footer statistic tells a decimal's scale


def first_values(s3: Any, bucket: str, files: Sequence[S3Object], column: str, prefetch: int) -> list[str]:
    """Up to FIRST_VALUES numbers of `column` in file and row group order: one ranged read of each column chunk
    until a row group holds a number (NULL, NaN and ±Infinity say nothing about the scale)."""
    found: list[str] = []
    for obj in files:
        parquet = pq.ParquetFile(RangeReader(s3, bucket, obj, prefetch))
        for group in range(parquet.metadata.num_row_groups):
            values = parquet.read_row_group(group, columns=[column]).column(0)
            numbers = pc.filter(values, pc.match_substring_regex(pc.cast(values, pa.string()), NUMERIC_TEXT.pattern))
            found += [str(v) for v in numbers.slice(0, FIRST_VALUES - len(found)).to_pylist()]
            if found:
                return found
    return found


def restoration_factory(rules: Mapping[str, Restoration], export_bucket: str) -> TransformFactory:
    """The transform of each unit, built on the executor; sor_rejects.source_file is the export object's URI."""
    plain_rules = dict(rules)

    def factory(unit: RewriteUnit) -> Transform:
        return restoration_transform(plain_rules, unit.output_schema, f"s3://{export_bucket}/{unit.source.key}")

    return factory


def sum_counters(results: Iterable[UnitResult]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for result in results:
        for key, value in result.counters.items():
            total[key] += value
    return dict(total)


def rejected_by_column(counters: Mapping[str, int], rules: Mapping[str, Restoration]) -> dict[str, int]:
    return {name.lower(): counters.get(Counter.REJECTED.of(name), 0) for name in sorted(rules)}


def broken_formats(
    counters: Mapping[str, int], results: Sequence[UnitResult], rules: Mapping[str, Restoration]
) -> list[str]:
    """One line per column whose format assumption does not hold over the whole table, with sample values (only
    fresh units carry samples: a unit skipped on a re-run read nothing)."""
    lines = []
    for name in sorted(rules):
        counts = column_counts(counters, name)
        if format_assumption_broken(counts):
            samples = [v for r in results for v in r.samples.get(Counter.MALFORMED.of(name), [])][:MAX_SAMPLES]
            lines.append(
                f"{name}: {counts.malformed} of {counts.non_null} values are not {rules[name].source_type} text as "
                f"PostgreSQL prints it (samples: {samples})"
            )
    return lines


def partition_registered(glue: Any, config: JobConfig, name: str) -> bool:
    try:
        glue.get_partition(
            DatabaseName=config.catalog_database, TableName=name, PartitionValues=[config.ingestion_date]
        )
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "EntityNotFoundException":
            return False
        raise


def folder_changes(s3: Any, bucket: str, listed: Sequence[S3Object], units: Sequence[RewriteUnit]) -> bool:
    """Whether rewriting `units` would write or remove anything in the folder `listed` lists: a unit not yet done
    (rewrite.py unit_done), or an object no unit writes."""
    if stale_keys(units, listed):
        return True
    present = {o.key for o in listed}  # listed once: each present object then needs its HeadObject only
    return any(
        u.destination not in present or not unit_done(u, head_of_listed(s3, bucket, u.destination)) for u in units
    )


def rewrite_partition(
    run: RunContext,
    table: ExportedTable,
    name: str,
    schemas: Sequence[FileSchema],
    rules: Mapping[str, Restoration],
    before_change: Callable[[], None] | None = None,
) -> DayWritten:
    """Rewrites the table's day: units -> Spark -> fail on errors or a broken format -> stale keys -> verify.
    `before_change` runs first when anything in the day's folder is to change (asked only when it is given: it costs
    a listing and a HeadObject per existing object).

    A failed table publishes nothing of its day: when no earlier run registered the day's partition, every object
    of the day's folder is removed before the error is raised (a folder Athena never lists, left for nobody); when
    one did, the folder is left as it is (its objects are units of the same sources and plan) and the partition
    keeps what the earlier run registered."""
    config, s3 = run.config, run.clients.s3
    reference = schemas[0].arrow_schema
    if reference is None:
        raise TableError("no Arrow schema read from the footer")
    output = restored_schema(reference, rules)
    digest = rewrite_plan_digest(output, restoration_spec(rules))
    # A re-run keeps a file's whole-file object when an earlier run (of a version that did not cut files into units)
    # made it from this source under this plan, rather than publish the same rows again under the units' keys.
    # The folder is listed once, before anything changes, when a re-run or `before_change` needs to know what it holds.
    prefix = config.partition_prefix(name)
    listed = (
        list_objects(s3, config.sor_bucket, prefix) if not run.first_run_of_the_day or before_change is not None else []
    )
    present = set() if run.first_run_of_the_day else {o.key for o in listed}
    output_ipc = schema_ipc(output)
    units: list[RewriteUnit] = []
    for obj, schema in zip(table.files, schemas, strict=True):
        whole = RewriteUnit(obj, destination_key(config, name, table, obj), output_ipc, digest, schema.rows)
        cut = file_units(whole, schema.row_groups, config.rewrite_unit_bytes)
        kept_whole = (
            len(cut) > 1
            and whole.destination in present
            and unit_done(whole, head_of_listed(s3, config.sor_bucket, whole.destination))
        )
        units += [whole] if kept_whole else cut
    if len({u.destination for u in units}) != len(units):
        raise TableError("two export files flatten to the same file name in the partition folder")
    if before_change is not None and folder_changes(s3, config.sor_bucket, listed, units):
        before_change()
    spark_failure: SparkJobFailed | None = None
    try:
        results = run_rewrites(units, restoration_factory(rules, config.export_bucket), config)
    except SparkJobFailed as exc:
        results, spark_failure = [], exc
    counters = sum_counters(r for r in results if r.error is None)
    formats = broken_formats(counters, results, rules) if spark_failure is None else []
    problems = [str(spark_failure)] if spark_failure else [r.error for r in results if r.error] + formats
    if problems:
        for line in problems:
            log.error("%s: %s", name, line)
        abort_unfinished_uploads(s3, config.sor_bucket, prefix)
        if partition_registered(run.clients.glue, config, name):
            kept = "the day's partition stays as an earlier run published it"
        else:
            run.copier.delete([o.key for o in list_objects(s3, config.sor_bucket, prefix)])
            kept = f"nothing of the day is published ({prefix} emptied)"
        # Transient only when nothing in the data is wrong: every failed unit (or the Spark job) failed for a
        # transient cause, and no column broke the format assumption.
        transient = spark_failure is not None or (not formats and all(r.transient for r in results if r.error))
        raise TableError(f"rewrite failed ({kept}): " + "; ".join(str(p) for p in problems[:5]), transient=transient)
    listed = list_objects(s3, config.sor_bucket, config.partition_prefix(name))
    run.copier.delete(stale_keys(units, listed))
    verify_rewrites(s3, config, units)
    run.copier.progress.add(len(table.files), sum(o.size for o in table.files))
    rewritten = sum(1 for r in results if not r.skipped)
    return DayWritten(
        PublishMethod.REWRITE, len(units), sum(r.bytes for r in results), sum(u.rows for u in units),
        written=rewritten, skipped=len(units) - rewritten, rejected_values=rejected_by_column(counters, rules),
        invalid_text=invalid_text_by_column(counters),
    )  # fmt: skip
