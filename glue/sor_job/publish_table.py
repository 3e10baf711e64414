"""One table's publication, stage by stage (publish_table)."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from sor_job.catalog_definitions import (
    catalog_column,
    check_partition_keys,
    merge_columns,
    partition_input,
    table_input,
)
from sor_job.catalog_writes import PartitionAction, TableAction, put_partition, put_table
from sor_job.column_types import FileSchema, table_columns
from sor_job.context import RunContext
from sor_job.copy_day import CopyStep, copy_steps_needed, destination_key, stale_keys, verify_partition
from sor_job.errors import FailureKind, TableError, failure_kind
from sor_job.latest import LatestTable, latest_day
from sor_job.outcomes import DayWritten, PublishMethod, TableResult, TableStatus
from sor_job.plan import ExportedTable
from sor_job.restore import Restoration, numeric_scale
from sor_job.restore_transform import (
    REJECTS_CATALOG_TYPE,
    REJECTS_COLUMN,
    TYPE_PENDING,
    RestorationPlan,
    TextReason,
    invalid_text_count,
    plan_restorations,
)
from sor_job.retype import RetypeReport, retype_history, retyped_columns, retyped_rules
from sor_job.s3_reads import RangeReader, list_objects
from sor_job.typed_table import REJECTS_COMMENT, first_values, rewrite_partition

log = logging.getLogger(__name__)


# One table's publication, stage by stage (publish_table runs them). Plan: refuse_table -> read_footers -> plan_types
# -> plan_columns -> publish_method; actions: copy_partition or rewrite_partition (then retype_history) -> write_table
# -> write_partition -> the latest table moved (latest.py); result: table_result. Each stage returns a value and
# TableStages holds them, so the manifest entry of a table that failed half-way shows how far it got.
@dataclass(frozen=True)
class Footers:
    """The day's file schemas in file order, and the bytes read to get them (ranged reads of the footers)."""

    schemas: tuple[FileSchema, ...] = ()
    bytes_read: int = 0


@dataclass(frozen=True)
class TypePlan:
    """The day's restorations, and what they do to the table's catalog columns."""

    restoration: RestorationPlan
    retype: Mapping[str, Restoration]  # rules on columns the catalog holds as string: earlier days to rewrite
    catalog_columns: Sequence[Mapping[str, str]]  # the catalog table's columns, retyped where `retype` says
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class ColumnPlan:
    """The day's partition columns, and the table's columns once the day is merged in."""

    day: list[dict[str, str]]
    merged: list[dict[str, str]]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class TableStages:
    """The output of each stage of one table's publication; None (or empty) for a stage not reached."""

    nothing_to_publish: bool = False
    footers: Footers = Footers()
    types: TypePlan | None = None
    columns: ColumnPlan | None = None
    day: DayWritten | None = None
    history: RetypeReport | None = None
    table_action: TableAction | None = None
    partition_action: PartitionAction | None = None
    latest: LatestTable | None = None  # None: the run keeps no latest tables (no --latest_database)

    @property
    def data_written(self) -> bool:
        """Tonight's objects are in place, and the earlier days' too when the table is retyped."""
        retyping = self.types is not None and bool(self.types.retype)
        return self.day is not None and (not retyping or self.history is not None)


def refuse_table(table: ExportedTable, current: Mapping[str, Any] | None) -> None:
    """Raises TableError for a table this run must not publish: the export did not complete it, or its catalog
    table is not partitioned the way this job partitions."""
    if table.export_status != "COMPLETE" and table.export_status != "UNKNOWN":
        raise TableError(f"the export reports this table as {table.export_status}")
    if current is not None:
        check_partition_keys(current)


def read_footers(run: RunContext, table: ExportedTable) -> Iterator[tuple[FileSchema, int]]:
    """(schema, bytes read) of each file's footer, in file order, from the reads relate_partitions submitted to the
    footer pool before any table was published."""
    for future in run.footer_reads[table.source]:
        yield future.result()


def plan_types(
    run: RunContext, table: ExportedTable, current: Mapping[str, Any] | None, schemas: Sequence[FileSchema]
) -> TypePlan:
    """Which string columns take a restored type tonight (--restore_types), from the export's metadata and the
    data's evidence (footer statistics, else the first values: ranged reads)."""
    config = run.config
    existing_columns = current["StorageDescriptor"]["Columns"] if current else []
    plan = RestorationPlan({}, ())
    if config.restore_types and schemas and schemas[0].arrow_schema is not None:
        texts = [n for n, t in schemas[0].columns if t == "string"]

        def evidence(column: str) -> list[str]:
            stats = [v for schema in schemas for v in schema.text_samples.get(column, ())]
            if numeric_scale(stats) is not None:
                return stats
            return first_values(run.clients.s3, config.export_bucket, table.files, column, config.footer_read_size)

        plan = plan_restorations(
            config.source_engine, table.type_mappings, texts, existing_columns, evidence, config.retype_history
        )
        if REJECTS_COLUMN in {n.lower() for n, _ in schemas[0].columns} and plan.rules:
            raise TableError(
                f"the source has a column named {REJECTS_COLUMN!r}, a name this job reserves for the values "
                'restored types cannot hold (docs/sor-job.md "Rejected values")'
            )
    # --retype_history: the earlier days are rewritten (retype_history); the table's columns take the restored
    # types now, so the schema merge sees no type change.
    retype = retyped_rules(plan.rules, existing_columns)
    warnings = []
    restorable_strings = [t.column.lower() for t in plan.text if t.kind is TextReason.CATALOG_STRING]
    if restorable_strings:
        warnings.append(
            f"restorable columns stay string because the catalog says string: {restorable_strings}; run the "
            'retype (--retype_history true, README "Turn on typed columns on an existing deployment")'
        )
    without = [t.column.lower() for t in plan.text if t.kind is TextReason.NO_EVIDENCE]
    if without:
        warnings.append(f"columns kept as text for want of evidence of their type: {without}")
    pending = {c["Name"] for c in existing_columns if TYPE_PENDING in c.get("Comment", "")}
    resolved = [name.lower() for name in retype if name.lower() in pending]
    if resolved:
        warnings.append(
            f"numeric columns typed tonight, the first night that shows their scale: {resolved}; their earlier days "
            "(no number in them) are retyped in place"
        )
    catalog_columns = retyped_columns(existing_columns, retype) if retype else existing_columns
    return TypePlan(plan, retype, catalog_columns, tuple(warnings))


# originalType words of the PostgreSQL types the export writes as native Parquet types (docs/aws-facts.md)
_NATIVELY_EXPORTED = frozenset({"smallint", "integer", "bigint", "real", "double precision", "boolean", "bytea"})


def plan_columns(table: ExportedTable, schemas: Sequence[FileSchema], types: TypePlan) -> ColumnPlan:
    """The day's columns (restored types, sor_rejects) merged into the table's; raises TableError on a type
    change, before any data is read or written."""
    rules = types.restoration.rules
    columns_of_day = table_columns(schemas) if schemas else []
    comments = {k: f"source type: {v}" for k, v in table.original_types.items() if v}
    for name, type_ in columns_of_day:
        if type_ == "string" and table.original_types.get(name) in _NATIVELY_EXPORTED:
            # The export writes these types as native Parquet types; as text, the column is a domain over one (AWS's
            # table: DOMAIN -> STRING), whose name the metadata does not carry
            comments[name] += " (a domain over it: the export writes domains as text)"
    for column_name, rule in rules.items():
        comments[column_name.lower()] = rule.comment()
    for text in types.restoration.text:
        if text.kind is TextReason.PENDING:
            comments[text.column.lower()] = f"source type: {text.source_type}, {TYPE_PENDING}"
    day_columns = [catalog_column(n, t, comments.get(n, "")) for n, t in columns_of_day]
    if rules:
        restored = types.restoration.restored_columns()
        day_columns = [
            catalog_column(c["Name"], restored.get(c["Name"], c["Type"]), c.get("Comment", "")) for c in day_columns
        ]
        day_columns.append(catalog_column(REJECTS_COLUMN, REJECTS_CATALOG_TYPE, REJECTS_COMMENT))
        comments[REJECTS_COLUMN] = REJECTS_COMMENT
    if schemas:
        merged = merge_columns(types.catalog_columns, [(c["Name"], c["Type"]) for c in day_columns], comments)
    else:
        merged = [dict(c) for c in types.catalog_columns]
        day_columns = merged  # an empty day keeps the table's schema
    warnings = []
    unusual = [c["Name"] for c in day_columns if not re.fullmatch(r"[a-z_][a-z0-9_]*", c["Name"])]
    if unusual:
        # Glue takes any single-line UTF-8 name; Athena documents only [a-z0-9_] and warns that other names can
        # fail in queries (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html).
        # The name cannot be changed: Athena finds a Parquet column by its name.
        warnings.append(f"columns need double quotes in Athena (outside its documented names): {unusual}")
    return ColumnPlan(day_columns, merged, tuple(warnings))


def publish_method(types: TypePlan) -> PublishMethod:
    """A day with restored columns is rewritten (Spark); any other day is copied server-side."""
    return PublishMethod.REWRITE if types.restoration.rules else PublishMethod.COPY


def copy_partition(
    run: RunContext,
    table: ExportedTable,
    name: str,
    schemas: Sequence[FileSchema],
    before_change: Callable[[], None] | None = None,
) -> DayWritten:
    """Copies the day's files into the partition folder, removes stale objects, verifies the folder.

    On the first run of a day (RunContext.first_run_of_the_day) the folder is empty: every file is copied and the
    folder listed once, after the copies, to verify it; should it hold anything else all the same (a run of an older
    version killed before it wrote a record), that is removed and the folder listed and verified again. Any other
    run of the day is a re-run: the folder is listed first, so files an earlier attempt copied are kept rather than
    copied again, and `before_change` runs first when anything in the folder is to change."""
    config, copier = run.config, run.copier
    steps = [CopyStep(obj, destination_key(config, name, table, obj)) for obj in table.files]
    if len({s.destination for s in steps}) != len(steps):
        raise TableError("two export files flatten to the same file name in the partition folder")
    if run.first_run_of_the_day and before_change is None:
        needed = steps
        copier.copy(needed)
        listed = list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name))
        stale = stale_keys(steps, listed)
        if stale:
            copier.delete(stale)
            listed = list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name))
        verify_partition(steps, listed)
    else:
        listed = list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name))
        sizes = {o.key: o.size for o in listed}
        # Only objects whose size could match are asked about: a first run pays nothing here.
        wanted = [s.destination for s in steps if sizes.get(s.destination) == s.source.size]
        present = copier.source_etags(wanted)
        needed = copy_steps_needed(steps, present)
        copying = {s.destination for s in needed}  # destinations are unique (checked above): a set, not a list scan
        kept = [s for s in steps if s.destination not in copying]
        copier.progress.add(len(kept), sum(s.source.size for s in kept))
        stale = stale_keys(steps, listed)
        if before_change is not None and (needed or stale):
            before_change()
        copier.copy(needed)
        copier.delete(stale)
        verify_partition(steps, list_objects(run.clients.s3, config.sor_bucket, config.partition_prefix(name)))
    return DayWritten(
        PublishMethod.COPY, len(steps), sum(s.source.size for s in steps), sum(s.rows for s in schemas),
        written=len(needed), skipped=len(steps) - len(needed), removed=len(stale),
        invalid_text=count_invalid_text(run, table, schemas),
    )  # fmt: skip


def count_invalid_text(run: RunContext, table: ExportedTable, schemas: Sequence[FileSchema]) -> dict[str, int]:
    """catalog column -> values that are not UTF-8, for the string columns whose footer statistics showed one in
    any file of the day; those columns alone are read, row group by row group, in every file (the copy path reads
    no other data, so text whose bytes are never a row group's min or max goes uncounted here: docs/sor-job.md
    "Text that is not UTF-8")."""
    flagged = sorted({name for schema in schemas for name in schema.invalid_text})
    if not flagged:
        return {}
    config, counts = run.config, defaultdict(int)
    for obj in table.files:
        parquet = pq.ParquetFile(RangeReader(run.clients.s3, config.export_bucket, obj, config.footer_read_size))
        present = [name for name in flagged if name in parquet.schema_arrow.names]
        for group in range(parquet.metadata.num_row_groups):
            data = parquet.read_row_group(group, columns=present)
            for name in present:
                counts[name.lower()] += invalid_text_count(data.column(name))
    return {name: count for name, count in counts.items() if count}


def sor_table_input(run: RunContext, name: str, table: ExportedTable, columns: ColumnPlan) -> dict[str, Any]:
    config = run.config
    return table_input(
        name, config.table_location(name), columns.merged, table.source, run.partition_of.get(table.source)
    )


def day_partition_input(run: RunContext, name: str, columns: ColumnPlan, day: DayWritten) -> dict[str, Any]:
    config = run.config
    totals = {"files": day.files, "bytes": day.bytes, "rows": day.rows}
    return partition_input(
        config.table_location(name), config.ingestion_date, columns.day, config.export_id, totals, run.snapshot_time
    )


def write_table(run: RunContext, name: str, current: Mapping[str, Any] | None, wanted: dict[str, Any]) -> TableAction:
    return put_table(run.clients.glue, run.config.catalog_database, current, wanted)


def write_partition(run: RunContext, name: str, wanted: dict[str, Any]) -> PartitionAction:
    return put_partition(run.clients.glue, run.config.catalog_database, name, wanted)


def latest_table(run: RunContext, name: str) -> LatestTable | None:
    """The table's latest table for this run, as the run found it (None: the run keeps no latest tables)."""
    config = run.config
    if not config.latest_database:
        return None
    return LatestTable(
        run.clients.glue, config.latest_database, config.catalog_database, name, config.ingestion_date,
        run.latest.get(name),
    )  # fmt: skip


def table_result(
    name: str, table: ExportedTable, location: str, stages: TableStages, error: str | None, seconds: float
) -> TableResult:
    """The table's manifest entry, from the stages' outputs: a table that failed shows what was done before."""
    result = TableResult(name=name, source=table.source, location=location, error=error, seconds=seconds)
    if stages.nothing_to_publish:
        result.status = TableStatus.EMPTY
        result.warnings.append("no Parquet files and no catalog table yet: nothing published for this table")
        return result
    result.footer_bytes_read = stages.footers.bytes_read
    if stages.types is not None:
        plan = stages.types.restoration
        result.restored_columns, result.kept_as_text = plan.restored_columns(), plan.kept_as_text()
        result.columns_without_evidence = plan.columns_without_evidence()
        result.warnings += stages.types.warnings
    if stages.columns is not None:
        result.warnings += stages.columns.warnings
    if stages.day is not None:
        day = stages.day
        result.method, result.files, result.bytes, result.rows = day.method, day.files, day.bytes, day.rows
        result.copied, result.skipped, result.removed = day.written, day.skipped, day.removed
        result.rejected_values = dict(day.rejected_values)
        result.invalid_text = dict(day.invalid_text)
        if day.invalid_text:
            result.warnings.append(
                f"text that is not UTF-8, published byte for byte (how Athena shows such bytes is not documented): "
                f"{dict(day.invalid_text)}"
            )
    if stages.history is not None:
        result.retyped_history = stages.history.manifest()
        for column, count in stages.history.rejected_values.items():
            result.rejected_values[column] += count
    if stages.data_written and stages.columns is not None:
        if any(result.rejected_values.values()):
            result.warnings.append(
                f"values kept in {REJECTS_COLUMN} (their typed column is NULL): {result.rejected_values}"
            )
        result.columns = stages.columns.day
    if stages.table_action is TableAction.UPDATED_UNARCHIVED:
        result.warnings.append(
            "the Glue table version quota is reached: the table was updated without archiving its previous "
            "version; delete old versions (BatchDeleteTableVersion) to keep the schema history"
        )
    if stages.table_action is not None and stages.partition_action is not None:
        result.catalog = f"table {stages.table_action.value}, partition {stages.partition_action.value}"
        if error is None:  # an error after the partition (moving the latest table) still fails the table
            result.status = TableStatus.PUBLISHED if table.files else TableStatus.EMPTY
    if stages.latest is not None:
        result.latest_day = latest_day(stages.latest.current)
        if stages.latest.actions:
            result.catalog += f"; latest {', '.join(a.value for a in stages.latest.actions)}"
    return result


def publish_table(run: RunContext, table: ExportedTable, name: str, total: int) -> TableResult:
    """Publishes one table's day: the stages above in order, then its result and its log line. Any exception in a
    stage (a TableError, an AWS error, a Spark job's failure, a bug) fails this table only, named with its error and
    its FailureKind; the run goes on with the others."""
    started = time.monotonic()
    stages, error, failure = TableStages(latest=latest_table(run, name)), None, None
    try:
        current = run.catalog.get(name)
        refuse_table(table, current)
        if not table.files and current is None:
            # Nothing to take a schema from and no table yet: publishing would mean guessing types.
            stages = dataclasses.replace(stages, nothing_to_publish=True)
        else:
            schemas_read: list[FileSchema] = []
            bytes_read = 0
            try:
                for schema, read in read_footers(run, table):
                    schemas_read.append(schema)
                    bytes_read += read
            finally:  # a footer that fails the table still leaves the bytes read before it in the manifest
                stages = dataclasses.replace(stages, footers=Footers(tuple(schemas_read), bytes_read))
            schemas = stages.footers.schemas
            types = plan_types(run, table, current, schemas)
            stages = dataclasses.replace(stages, types=types)
            columns = plan_columns(table, schemas, types)
            stages = dataclasses.replace(stages, columns=columns)
            latest = stages.latest
            # before anything changes in the folder the latest table may read (a re-run of its day)
            guard = (lambda: latest.before_change(current)) if latest is not None and latest.reads_the_day else None
            if publish_method(types) is PublishMethod.REWRITE:
                day = rewrite_partition(run, table, name, schemas, types.restoration.rules, guard)
                stages = dataclasses.replace(stages, day=day)
                if types.retype:
                    # after tonight's rewrite, whose format check fails the table before any earlier day is touched
                    stages = dataclasses.replace(stages, history=retype_history(run, name, types.retype))
            else:
                day = copy_partition(run, table, name, schemas, guard)
                stages = dataclasses.replace(stages, day=day)
            sor_table = sor_table_input(run, name, table, columns)
            stages = dataclasses.replace(stages, table_action=write_table(run, name, current, sor_table))
            partition = day_partition_input(run, name, columns, day)
            stages = dataclasses.replace(stages, partition_action=write_partition(run, name, partition))
            if latest is not None:
                latest.after_publish(sor_table, partition)
    except Exception as exc:  # whatever one table raises, the other tables still publish tonight
        expected = isinstance(exc, TableError | ClientError | BotoCoreError)
        if not expected:  # a bug or an unforeseen input: the stack trace goes to the log, the table fails by name
            log.exception("table %s (%s) failed on an unexpected error", name, table.source)
        error = str(exc) if expected else f"{type(exc).__name__}: {exc}"
        failure = failure_kind(exc)
    finally:
        seconds = round(time.monotonic() - started, 3)
        result = table_result(name, table, run.config.table_location(name), stages, error, seconds)
        result.partition_of = run.partition_of.get(table.source, (None, None))[0]
        if result.status is TableStatus.FAILED:
            result.failure = failure or FailureKind.DETERMINISTIC
        with run.progress_lock:
            run.done += 1
            log.info(
                "table %d/%d %s (%s): %s, %d files, %d bytes, %d rows, %s %d, kept %d, removed %d, %.1fs%s",
                run.done, total, name, table.source, result.status, result.files, result.bytes, result.rows,
                "rewrote" if result.method is PublishMethod.REWRITE else "copied", result.copied, result.skipped,
                result.removed, result.seconds,
                (f", partition of {result.partition_of}" if result.partition_of else "")
                + (f" - {result.error}" if result.error else ""),
            )  # fmt: skip
    return result
