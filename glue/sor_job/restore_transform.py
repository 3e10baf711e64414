"""Restoration transform (pure): a table's restored columns and sor_rejects, and the catalog's say on
whether a column may be restored (a column never changes meaning between days)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from sor_job.column_types import is_text
from sor_job.errors import TableError
from sor_job.restore import (
    MAX_DECIMAL_PRECISION,
    Restoration,
    Restore,
    RestoreCounts,
    numeric_scale,
    restoration_rules,
    restore_values,
    with_scale,
)
from sor_job.rewrite import MAX_SAMPLES, Transform, TransformedBatch

# A value its restored type cannot hold exactly (Restored.rejected) is NULL in the typed column, and its row
# carries it, as the exact source text, in the struct column `sor_rejects` (NULL on rows with no reject): the
# source file and the row index find the row (the export has no primary key), the row's other columns are its
# neighbours, and Athena queries it with no sentinel (docs/sor-job.md "Rejected values"). The name is reserved
# in rewritten tables: a source column of that name fails its table.
REJECTS_COLUMN = "sor_rejects"
REJECTS_TYPE = pa.struct(
    [
        pa.field("source_file", pa.string()),
        pa.field("row_index", pa.int64()),
        pa.field("raw_values", pa.map_(pa.string(), pa.string())),
    ]
)
REJECTS_CATALOG_TYPE = "struct<source_file:string,row_index:bigint,raw_values:map<string,string>>"


class Counter(StrEnum):
    """Counter keys of a restoration transform, per column: `<kind>:<column>`."""

    REJECTED = "rejected"
    MALFORMED = "malformed"
    NON_NULL = "non_null"
    INVALID_TEXT = "invalid_text"  # values of a string column that are not UTF-8 (published byte for byte)

    def of(self, column: str) -> str:
        return f"{self.value}:{column}"


def invalid_text_count(values: pa.Array | pa.ChunkedArray) -> int:
    """How many values of a string array are not UTF-8. Arrow's full validation (C++, one pass) answers for the
    usual all-valid array; only an array that fails it is looked at value by value."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    count = 0
    for chunk in chunks:
        try:
            chunk.validate(full=True)
        except pa.ArrowInvalid:
            for raw in pc.cast(chunk, pa.binary()).to_pylist():
                if raw is None:
                    continue
                try:
                    raw.decode()
                except UnicodeDecodeError:
                    count += 1
    return count


def invalid_text_by_column(counters: Mapping[str, int]) -> dict[str, int]:
    """catalog column -> values that are not UTF-8, from a table's summed counters (only columns that have some)."""
    prefix = f"{Counter.INVALID_TEXT.value}:"
    return {k[len(prefix) :].lower(): v for k, v in sorted(counters.items()) if k.startswith(prefix) and v}


def column_counts(counters: Mapping[str, int], column: str) -> RestoreCounts:
    """One column's RestoreCounts from a unit's (or a table's summed) counters."""
    return RestoreCounts(
        counters.get(Counter.NON_NULL.of(column), 0),
        counters.get(Counter.REJECTED.of(column), 0),
        counters.get(Counter.MALFORMED.of(column), 0),
    )


def restored_schema(source_schema: pa.Schema, rules: Mapping[str, Restoration]) -> pa.Schema:
    """The rewritten file's schema: the source's columns in order, each restored column in its rule's Arrow type,
    then `sor_rejects`. Raises TableError when the source already has a `sor_rejects` column, when a rule names a
    column that is not a string in the source, or when a decimal's scale is still undecided."""
    if REJECTS_COLUMN in source_schema.names:
        raise TableError(f"the source has a column named {REJECTS_COLUMN!r}, a name reserved for rejected values")
    for name, rule in rules.items():
        if name not in source_schema.names:
            raise TableError(f"restored column {name!r} is not in the source file")
        if not is_text(source_schema.field(name).type):
            raise TableError(f"restored column {name!r} is {source_schema.field(name).type} in the source, not text")
        if rule.restore is Restore.DECIMAL and rule.scale is None:
            raise TableError(f"restored column {name!r}: decimal scale undecided")
    fields = [pa.field(f.name, rules[f.name].arrow_type) if f.name in rules else f for f in source_schema]
    return pa.schema([*fields, pa.field(REJECTS_COLUMN, REJECTS_TYPE)])


def restoration_spec(rules: Mapping[str, Restoration]) -> str:
    """A stable text naming the restorations, for rewrite_plan_digest (changes when a rule or its type does)."""
    return json.dumps(
        {name: [rule.restore.value, rule.catalog_type] for name, rule in sorted(rules.items())}, sort_keys=True
    )


def _rejects_array(
    rejected: Mapping[str, tuple[pa.Array, pa.Array]], rows: int, source_file: str, first_row_index: int
) -> pa.Array:
    """sor_rejects for one batch: `rejected` maps column -> (rejected mask, source text). Vectorized: the
    (row, column) pairs of every reject are gathered column by column, then ordered by row (stable, so columns
    keep the schema's order inside a row) to become the map entries."""
    row_ids, keys, values = [], [], []
    for name, (mask, text) in rejected.items():
        where = pc.indices_nonzero(mask)
        row_ids.append(pc.cast(where, pa.int64()))
        keys.append(pa.repeat(pa.scalar(name, pa.string()), len(where)))
        values.append(pc.take(text, where))
    lengths = pa.repeat(pa.scalar(0, pa.int32()), rows)
    for mask, _ in rejected.values():
        lengths = pc.add(lengths, pc.cast(mask, pa.int32()))
    if row_ids:
        row_id = pa.concat_arrays(row_ids)
        order = pc.sort_indices(row_id)  # stable (Arrow's sort_indices): columns stay in order within a row
        key, value = pc.take(pa.concat_arrays(keys), order), pc.take(pa.concat_arrays(values), order)
    else:
        key, value = pa.array([], pa.string()), pa.array([], pa.string())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(lengths)])
    has_reject = pc.greater(lengths, 0)
    raw_values = pa.MapArray.from_arrays(offsets, key, value)
    return pa.StructArray.from_arrays(
        [
            pa.repeat(pa.scalar(source_file, pa.string()), rows),
            pc.add(pc.cumulative_sum(pa.repeat(pa.scalar(1, pa.int64()), rows)), first_row_index - 1),
            raw_values,
        ],
        fields=list(REJECTS_TYPE),
        mask=pc.invert(has_reject),
    )


def restoration_transform(rules: Mapping[str, Restoration], output_schema: pa.Schema, source_file: str) -> Transform:
    """The rewrite transform of a table: restores each rule's column with restore_values, fills `sor_rejects`,
    and counts per column `rejected:<col>`, `malformed:<col>`, `non_null:<col>` (Counter), with up to MAX_SAMPLES
    malformed source values per column under `malformed:<col>` (for the format assumption check's error; rows
    may hold personal data, so samples go to the manifest's error and the log only, never to metrics).

    `output_schema` is restored_schema(source schema, rules); `source_file` is what sor_rejects.source_file holds
    (the export object's key under the export). Pure and picklable: called on the executors."""
    names = [f.name for f in output_schema if f.name != REJECTS_COLUMN]

    def transform(batch: pa.RecordBatch, first_row_index: int) -> TransformedBatch:
        columns: list[pa.Array] = []
        counters: dict[str, int] = {}
        samples: dict[str, list[str]] = {}
        rejected: dict[str, tuple[pa.Array, pa.Array]] = {}
        for name in names:
            column = batch.column(name)
            rule = rules.get(name)
            if is_text(column.type):
                invalid = invalid_text_count(column)
                if invalid:  # published byte for byte (a restored column rejects them: not a shape it reads)
                    counters[Counter.INVALID_TEXT.of(name)] = invalid
            if rule is None:
                columns.append(column)
                continue
            restored = restore_values(column, rule)
            columns.append(restored.values)
            counts = restored.counts()
            counters[Counter.NON_NULL.of(name)] = counts.non_null
            counters[Counter.REJECTED.of(name)] = counts.rejected
            counters[Counter.MALFORMED.of(name)] = counts.malformed
            if counts.malformed:
                bad = pc.cast(pc.filter(column, restored.malformed).slice(0, MAX_SAMPLES), pa.binary())
                # for messages only: bytes that are not UTF-8 show as U+FFFD here (the data keeps them exactly)
                samples[Counter.MALFORMED.of(name)] = [v.decode(errors="replace") for v in bad.to_pylist()]
            if counts.rejected:
                # keyed by the catalog column name (lower case), the name an analyst queries with element_at
                rejected[name.lower()] = (restored.rejected, pc.cast(column, pa.string()))
        columns.append(_rejects_array(rejected, batch.num_rows, source_file, first_row_index))
        return TransformedBatch(pa.RecordBatch.from_arrays(columns, schema=output_schema), counters, samples)

    return transform


class TextReason(StrEnum):
    """Why a string column of a rewritten (or copied) table stays a string."""

    BY_RULE = "by_rule"  # the source type has no exact catalog type (time, uuid, json, arrays, ...)
    NO_EVIDENCE = "no_evidence"  # no catalog type, and tonight's metadata or data cannot decide one: alerted
    CATALOG_STRING = "catalog_string"  # restorable, but the catalog already says string: run the retype
    # a numeric column with no number yet (empty, all NULL): string in the catalog with TYPE_PENDING in its comment
    # until the first night that shows its scale, which types it and retypes its earlier days with no operator step
    PENDING = "pending"


# In the catalog comment of a numeric column that is string only because no value has shown its scale yet.
TYPE_PENDING = "type pending: decimal once a value shows its scale"


@dataclass(frozen=True)
class TextColumn:
    column: str  # the Parquet column name
    source_type: str
    kind: TextReason
    reason: str


@dataclass(frozen=True)
class RestorationPlan:
    """A table's restorations for one night: rules by Parquet column name, and the string columns kept as text."""

    rules: Mapping[str, Restoration]
    text: tuple[TextColumn, ...]

    def restored_columns(self) -> dict[str, str]:
        return {name.lower(): rule.catalog_type for name, rule in sorted(self.rules.items())}

    def kept_as_text(self) -> list[dict[str, str]]:
        return [{"column": t.column.lower(), "source_type": t.source_type, "kind": t.kind.value, "reason": t.reason}
                for t in self.text]  # fmt: skip

    def columns_without_evidence(self) -> int:
        return sum(1 for t in self.text if t.kind is TextReason.NO_EVIDENCE)


_DECIMAL_TYPE = re.compile(r"^decimal\((\d+),(\d+)\)$")
_SOURCE_COMMENT = re.compile(r"^source type: (?P<type>.*?)(?:, restored as .*)?$")


class MeaningChanged(TableError):
    """A column whose values would change meaning between days under one catalog name (wall time vs UTC)."""


_WALL_TIME = "wall time, as the source stored it (timestamp without time zone)"
_UTC = "an instant converted to UTC (timestamp with time zone)"


def _catalog_timestamp_meaning(comment: str) -> bool | None:
    """True when the catalog column holds UTC instants, False for wall time, None when its comment (written by
    Restoration.comment) does not say."""
    if "restored as timestamp in UTC" in comment:
        return True
    if comment.endswith("restored as timestamp"):
        return False
    return None


def _catalog_rule(column: str, catalog_type: str, comment: str, tonight: Restoration | None) -> Restoration | None:
    """The rule the catalog's column type imposes on a string column (None when the type is not a restored one).

    Wall time and UTC are two meanings of one catalog type `timestamp`: the catalog's (from the comment this job
    wrote) must be tonight's, or the table fails (MeaningChanged) rather than publish both under one name. The zone
    the source used is not in the export, so earlier days cannot be converted (docs/sor-job.md "A timestamp column
    that changes meaning")."""
    source_type = tonight.source_type if tonight else ((m := _SOURCE_COMMENT.match(comment)) and m.group("type")) or ""
    if catalog_type == "date":
        return Restoration(column, Restore.DATE, "date", pa.date32(), source_type)
    if catalog_type == "timestamp":
        published = _catalog_timestamp_meaning(comment)
        arriving = (tonight.restore is Restore.TIMESTAMP_FROM_UTC_OFFSET) if tonight else None
        if published is not None and arriving is not None and published != arriving:
            raise MeaningChanged(
                f"column {column.lower()!r} changed meaning: published as {_UTC if published else _WALL_TIME}, "
                f"tonight's export holds {_UTC if arriving else _WALL_TIME} (source type {source_type}); "
                "one catalog column cannot hold both. Either revert the source column's type, or keep the new "
                "meaning under a new table: drop or rename this catalog table (its days stay in S3) and re-run the "
                'day (docs/sor-job.md "A timestamp column that changes meaning")'
            )
        utc = arriving if arriving is not None else bool(published)
        kind = Restore.TIMESTAMP_FROM_UTC_OFFSET if utc else Restore.TIMESTAMP
        return Restoration(column, kind, "timestamp", pa.timestamp("us"), source_type)
    if match := _DECIMAL_TYPE.match(catalog_type):
        precision, scale = int(match.group(1)), int(match.group(2))
        rule = Restoration(column, Restore.DECIMAL, "decimal", pa.string(), source_type, precision, None)
        return with_scale(rule, scale)
    return None


def plan_restorations(
    engine: str,
    mappings: Sequence[Mapping[str, Any]] | None,
    string_columns: Sequence[str],
    catalog_columns: Sequence[Mapping[str, str]],
    scale_evidence: Callable[[str], Iterable[str | None]],
    retype_history: bool = False,
) -> RestorationPlan:
    """Which string columns are restored tonight, and as what (docs/sor-job.md "How the plan decides").

    The catalog's type outranks tonight's metadata, so a column keeps one type every night: a catalog date,
    timestamp or decimal(p,s) restores the column that way even with no metadata tonight; a catalog `string` keeps a
    restorable column a string (CATALOG_STRING) unless `retype_history` retypes the table tonight. A column new to
    the catalog takes tonight's rule; a decimal's scale then comes from `scale_evidence(column)` (footer statistics,
    else the first values), and with none it stays text (NO_EVIDENCE), like a column with no source type.
    """
    tonight = restoration_rules(engine, mappings, string_columns)
    catalog = {c["Name"]: c for c in catalog_columns}
    rules: dict[str, Restoration] = {}
    text: list[TextColumn] = []
    for column in string_columns:
        rule = tonight[column]
        current = catalog.get(column.lower())
        restorable = rule if isinstance(rule, Restoration) else None
        if current is not None and current["Type"] != "string":
            imposed = _catalog_rule(column, current["Type"], current.get("Comment", ""), restorable)
            if imposed is not None:
                rules[column] = imposed
                continue
        if restorable is None:
            unknown = mappings is None or not rule.source_type
            kind = TextReason.NO_EVIDENCE if unknown and current is None else TextReason.BY_RULE
            text.append(TextColumn(column, rule.source_type, kind, rule.reason))
            continue
        pending = (
            current is not None and TYPE_PENDING in current.get("Comment", "") and restorable.restore is Restore.DECIMAL
        )
        if current is not None and not retype_history and not pending:
            reason = (
                f"restorable as {restorable.catalog_type}, but the catalog column is string: run the retype "
                "(--retype_history true)"
            )
            text.append(TextColumn(column, restorable.source_type, TextReason.CATALOG_STRING, reason))
            continue
        if restorable.restore is Restore.DECIMAL and restorable.scale is None:
            scale = numeric_scale(scale_evidence(column))
            if scale is None:
                # Nothing is lost by waiting: the column holds no number. It stays string, marked TYPE_PENDING, and
                # the first night with a number types it and retypes the earlier days (retype_history).
                text.append(TextColumn(column, restorable.source_type, TextReason.PENDING,
                                       "numeric scale unknown yet: no scale in the metadata and no number in the "
                                       "column so far (empty, all NULL or all NaN); typed on the first night that "
                                       "shows one"))  # fmt: skip
                continue
            widest = max(restorable.precision or 0, scale)
            if widest > MAX_DECIMAL_PRECISION:
                # numeric(p,s) with s > p (PostgreSQL allows it); the metadata carries no scale, the data shows it
                text.append(TextColumn(column, restorable.source_type, TextReason.BY_RULE,
                                       f"scale {scale} needs decimal({widest},{scale}): Athena's decimals stop at "
                                       f"precision {MAX_DECIMAL_PRECISION}"))  # fmt: skip
                continue
            restorable = with_scale(restorable, scale)
        rules[column] = restorable
    return RestorationPlan(rules, tuple(text))
