"""Restored types (pure): the export's text for dates, times and numerics -> exact typed values, or rejected."""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

# The export writes PostgreSQL date/time and numeric values (and MySQL DATE) as strings [FACTS "Type conversion
# done by the export"], LIKELY in PostgreSQL's own text output [FACTS "PostgreSQL values inside the export's
# string columns"]. These functions decide, per column, which catalog type restores the source type exactly
# (docs/sor-job.md "Restored types"), and turn a column's strings into that type with pyarrow.compute only (no
# Python loop per value). A value the target type cannot hold exactly, or that Athena would show differently
# from PostgreSQL, is never NULLed silently nor replaced by a sentinel: it is flagged in `Restored.rejected`, and
# the caller keeps it as text elsewhere.
#
# Calendar: PostgreSQL's is the proleptic Gregorian one, and so are Parquet DATE/TIMESTAMP (days/microseconds since
# 1970-01-01) and Trino's java.time. The day count is computed here with integer arithmetic (Hinnant's
# days_from_civil), never through a library that rebases to the Julian calendar before 1582.
#
# Accepted range: years 0001..9999 AD (for timestamptz: after conversion to UTC). Parquet and Trino hold more, but
# Athena shows a year outside it differently from PostgreSQL: Trino prints java.time's ISO-8601 proleptic years,
# so PostgreSQL's "0001-12-31 BC" shows as "0000-12-31" and year 10000 as "+10000-01-01"
# (https://github.com/trinodb/trino/issues/23853, run on Athena), and Hive documents DATE as 0000-01-01 to
# 9999-12-31 (https://hive.apache.org/docs/latest/languagemanual-types_27838462). A literal an analyst copies from
# PostgreSQL would then not find its row, so such values are rejected (kept as text), not shifted.
#
# Timestamp type: Arrow timestamp("us") with no zone, i.e. Parquet TIMESTAMP(isAdjustedToUTC=false, MICROS). That
# is Parquet's "local semantics" timestamp, the representation of a SQL `timestamp` (Trino writes its own Hive
# timestamps that way: https://github.com/trinodb/trino/issues/9438, https://github.com/trinodb/trino/pull/9465),
# so no reader shifts it by a zone; isAdjustedToUTC=true marks an instant that Trino's Hive connector may convert
# to hive.parquet.time-zone on read (https://github.com/trinodb/trino/pull/22577). timestamptz values are
# converted to UTC here and written the same way; the column comment says UTC.
POSTGRESQL = "postgresql"
MYSQL = "mysql"
MAX_DECIMAL_PRECISION = 38  # Athena/Trino decimal(p,s): 1 <= p <= 38 (docs/aws-facts.md "Athena ... and types")
MIN_YEAR, MAX_YEAR = 1, 9999  # see "Accepted range" above
# When more than this share of a column's non-NULL values does not even have the expected shape, the format
# assumption is wrong (not the data): the caller fails the table with sample values.
MALFORMED_SHARE_LIMIT = 0.5
_MICROS_PER_DAY = 86_400_000_000
_MIN_MICROS = -62_135_596_800_000_000  # 0001-01-01 00:00:00 UTC
_MAX_MICROS = 253_402_300_799_999_999  # 9999-12-31 23:59:59.999999 UTC
# Athena's view is the rule for sub-millisecond digits (docs/sor-job.md "Restored types", "Athena's millisecond
# view"): Athena reads and shows Hive timestamps at millisecond precision ("Currently, Amazon Athena and Glue can
# handle only millisecond precision for TIMESTAMP values", AWS DMS S3Settings.ParquetTimestampInMillisecond), and
# Trino turns epoch microseconds into milliseconds with Timestamps.epochMicrosToMillisWithRounding, i.e. roundDiv:
# (v + 500) / 1000 for v >= 0 and (v + 1 - 500) / 1000 below, half up towards the future on both sides of 1970.
# A value from hh:mm:59.9995 on is shown as the next millisecond, and at 23:59:59.9995 as the next day (on
# 9999-12-31, as year +10000): only those are rejected; every other value keeps its microseconds in the file.
_LAST_MICRO_SHOWN_SAME_DAY = _MICROS_PER_DAY - 500  # time-of-day micros from here on round into the next day
_WHOLE_CYCLES = 5 * 146_097 * _MICROS_PER_DAY  # 2000 Gregorian years of whole days: lifts year 1 above 1970


class Restore(StrEnum):
    """How a string column is restored."""

    DATE = "date"  # YYYY-MM-DD[ BC] -> date
    TIMESTAMP = "timestamp"  # YYYY-MM-DD HH:MM:SS[.f] [BC] -> timestamp (wall time, as PostgreSQL stores it)
    TIMESTAMP_FROM_UTC_OFFSET = "timestamp_from_utc_offset"  # ... ±HH[:MM[:SS]] -> timestamp in UTC (converted)
    DECIMAL = "decimal"  # [-]digits[.digits] -> decimal(p,s)


@dataclass(frozen=True)
class Restoration:
    """One string column to restore: its catalog type and the Arrow type written to Parquet."""

    column: str
    restore: Restore
    catalog_type: str  # "date" | "timestamp" | "decimal(p,s)"
    arrow_type: pa.DataType
    source_type: str  # originalType as the export metadata spells it (modifiers included when present)
    precision: int | None = None  # decimal only: the catalog precision
    scale: int | None = None  # decimal only: None until decided (from the metadata or the data: numeric_scale)

    def comment(self) -> str:
        if self.restore is Restore.TIMESTAMP_FROM_UTC_OFFSET:
            restored = "timestamp in UTC (converted from the source's offset)"
        else:
            restored = self.catalog_type
        return f"source type: {self.source_type}, restored as {restored}"


@dataclass(frozen=True)
class KeptAsText:
    """One string column that stays a string, and why."""

    column: str
    source_type: str
    reason: str


_STAYS_TEXT = {
    "time without time zone": "no catalog time type: Athena has no time column type for Hive tables",
    "time with time zone": "no catalog time type; an offset without a date cannot be converted to UTC",
    "interval": "no Athena column type holds a PostgreSQL interval (months, days and microseconds together)",
    "uuid": "Athena's uuid type is not a Hive column type; the text is the canonical form already",
    "json": "json is text in the catalog (query it with json_extract)",
    "jsonb": "json is text in the catalog (query it with json_extract)",
    "ARRAY": "the export writes arrays as PostgreSQL array text {...}, not Parquet lists",
    "money": "money text depends on the source's lc_monetary (currency symbol, separators)",
    "USER-DEFINED": "enums, composites and extension types have no fixed catalog type",
    "xml": "no Athena xml type",
}
_TEXT_WORDS = {"time": "time without time zone", "timetz": "time with time zone"}


def engine_family(engine: str) -> str | None:
    lowered = engine.lower()
    if "postgres" in lowered:
        return POSTGRESQL
    if "mysql" in lowered or "mariadb" in lowered:
        return MYSQL
    return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _split_type(original: str) -> tuple[str, list[int]]:
    """("numeric", [12, 2]) from "numeric(12,2)"; ("timestamp with time zone", [3]) from
    "timestamp(3) with time zone"; modifiers are what the older emulator shape carried."""
    text = " ".join(original.strip().split())
    params = [int(p) for p in re.findall(r"-?\d+", " ".join(re.findall(r"\(([^)]*)\)", text)))]
    base = " ".join(re.sub(r"\([^)]*\)", " ", text).split())
    return base, params


def _pg_rule(column: str, original: str, entry: Mapping[str, Any]) -> Restoration | KeptAsText:
    base, params = _split_type(original)
    lowered = base.lower()
    if lowered.endswith("[]") or lowered.startswith("_") or base == "ARRAY":
        return KeptAsText(column, original, _STAYS_TEXT["ARRAY"])
    if lowered in {"date"}:
        return Restoration(column, Restore.DATE, "date", pa.date32(), original)
    if lowered in {"timestamp", "timestamp without time zone"}:
        return Restoration(column, Restore.TIMESTAMP, "timestamp", pa.timestamp("us"), original)
    if lowered in {"timestamptz", "timestamp with time zone"}:
        return Restoration(column, Restore.TIMESTAMP_FROM_UTC_OFFSET, "timestamp", pa.timestamp("us"), original)
    if lowered in {"numeric", "decimal"}:
        precision = params[0] if params else _int_or_none(entry.get("originalNumPrecision"))
        if not precision or precision <= 0:
            return KeptAsText(column, original, "unconstrained numeric: any scale, up to 131072 digits")
        scale = params[1] if len(params) > 1 else (0 if len(params) == 1 else None)  # numeric(p) means scale 0
        if scale is not None and scale < 0:
            # numeric(p,-k) (PostgreSQL 15+) rounds to 10^k and prints an integer of up to p+k digits
            precision, scale = precision - scale, 0
        elif scale is not None and scale > precision:
            precision = scale  # numeric(p,s) with s > p holds |v| < 10^(p-s) < 1: decimal(s,s) holds it exactly
        if precision > MAX_DECIMAL_PRECISION:
            return KeptAsText(column, original, f"precision {precision} exceeds Athena's decimal limit of 38")
        rule = Restoration(column, Restore.DECIMAL, "decimal", pa.string(), original, precision, None)
        return rule if scale is None else with_scale(rule, scale)
    word = _TEXT_WORDS.get(lowered, lowered)
    for known, reason in _STAYS_TEXT.items():
        if word == known.lower():
            return KeptAsText(column, original, reason)
    if lowered.endswith("range") or lowered.endswith("multirange"):
        return KeptAsText(column, original, "no Athena range type")
    return KeptAsText(column, original, "no exact catalog type known for this source type: kept as the export's text")


def _mysql_rule(column: str, original: str) -> Restoration | KeptAsText:
    base, _ = _split_type(original)
    if base.lower() == "date":
        return Restoration(column, Restore.DATE, "date", pa.date32(), original)
    reasons = {
        "time": "MySQL TIME is a duration up to ±838:59:59: no Athena column type holds it",
        "decimal": "decimal above precision 38 (the export writes the others as Parquet DECIMAL)",
        "json": "json is text in the catalog (query it with json_extract)",
    }
    return KeptAsText(column, original, reasons.get(base.lower(), "text in the source (or no exact catalog type)"))


def restoration_rules(
    engine: str, mappings: Sequence[Mapping[str, Any]] | None, parquet_string_columns: Collection[str]
) -> dict[str, Restoration | KeptAsText]:
    """For every Parquet string column: how it is restored, or why it stays text.

    `mappings` is the table's originalTypeMappings (None when the entry, its schemaMetadata or the metadata file is
    missing). Both shapes are read: information_schema words with originalNumPrecision (the real export; no scale
    key) and the older modifiers form (`numeric(12,2)`, `timestamp(3) with time zone`). A decimal whose scale is
    not in the metadata comes back with scale None: decide it with numeric_scale and with_scale before restoring.
    Columns that are not strings in Parquet are never restored (a MySQL DATETIME is already a TIMESTAMP).
    """
    kind = engine_family(engine)
    by_name: dict[str, Mapping[str, Any]] = {}
    by_lower: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for entry in mappings or ():
        if isinstance(entry, Mapping) and isinstance(entry.get("columnName"), str):
            by_name[entry["columnName"]] = entry
            by_lower[entry["columnName"].lower()].append(entry)
    rules: dict[str, Restoration | KeptAsText] = {}
    for column in parquet_string_columns:
        entry = by_name.get(column) or (by_lower[column.lower()][0] if len(by_lower[column.lower()]) == 1 else None)
        original = str(entry.get("originalType") or "") if entry else ""
        if kind is None:
            rules[column] = KeptAsText(column, original, f"unknown source engine {engine!r}")
        elif mappings is None:
            rules[column] = KeptAsText(column, original, "no export metadata for this table: source type unknown")
        elif not original:
            rules[column] = KeptAsText(column, original, "the export metadata gives no source type for this column")
        elif kind == POSTGRESQL:
            rules[column] = _pg_rule(column, original, entry or {})
        else:
            rules[column] = _mysql_rule(column, original)
    return rules


NUMERIC_TEXT = re.compile(r"^-?(\d+)(?:\.(\d+))?$")


def numeric_scale(samples: Iterable[str | None]) -> int | None:
    """The scale of a numeric column from some of its values as text; None when no sample is a number.

    PostgreSQL prints numeric(p,s) with exactly s digits after the point (tests/data/pg_text.json), so one value
    decides; NULL, NaN, ±Infinity and text that is not a plain decimal say nothing. If samples disagree, the largest
    count wins: every value is then exact at that scale (a shorter fraction pads with zeros), none is rounded.
    Samples are a handful (footer statistics min/max, or the first values of the column): a loop is fine here.
    """
    scales = [len(m.group(2) or "") for s in samples if s is not None and (m := NUMERIC_TEXT.match(s.strip()))]
    return max(scales) if scales else None


def statistics_samples(metadata: pq.FileMetaData, column: str) -> tuple[list[str], bool]:
    """The min and max of a string column in every row group's footer statistics (no data read), and whether one
    of them is not UTF-8. The raw bytes are decoded here: pyarrow's own `min`/`max` raise UnicodeDecodeError on such
    a value (a SQL_ASCII database's Latin-1 text), which says nothing about a scale and must not stop the run."""
    names = [metadata.schema.column(i).path for i in range(metadata.num_columns)]
    if column not in names:
        return [], False
    index = names.index(column)
    samples: list[str] = []
    invalid = False
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_min_max:
            continue
        for raw in (stats.min_raw, stats.max_raw):
            try:
                samples.append(raw.decode() if isinstance(raw, bytes) else str(raw))
            except UnicodeDecodeError:
                invalid = True
    return samples, invalid


def with_scale(rule: Restoration, scale: int) -> Restoration:
    """The decimal rule with its scale decided; precision grows to the scale when s > p (see _pg_rule)."""
    if rule.restore is not Restore.DECIMAL or rule.precision is None:
        raise ValueError(f"column {rule.column!r} is not a decimal restoration")
    if scale < 0:
        raise ValueError(f"column {rule.column!r}: negative scale {scale}")
    precision = max(rule.precision, scale)
    if precision > MAX_DECIMAL_PRECISION:
        raise ValueError(f"column {rule.column!r}: scale {scale} needs decimal({precision},{scale}), above 38")
    return dataclasses.replace(
        rule, catalog_type=f"decimal({precision},{scale})", arrow_type=pa.decimal128(precision, scale),
        precision=precision, scale=scale,
    )  # fmt: skip


@dataclass(frozen=True)
class RestoreCounts:
    """Counts of one column's values; add those of several row groups to judge a whole column."""

    non_null: int = 0
    rejected: int = 0
    malformed: int = 0

    def __add__(self, other: RestoreCounts) -> RestoreCounts:
        return RestoreCounts(
            self.non_null + other.non_null, self.rejected + other.rejected, self.malformed + other.malformed
        )


@dataclass(frozen=True)
class Restored:
    """The restored values of one column (or row group) and what could not be restored."""

    values: pa.Array  # the rule's arrow_type; NULL where the source is NULL or the value was rejected
    rejected: pa.Array  # bool, never null: True where a non-NULL source value could not be held exactly
    malformed: pa.Array  # bool, never null: True where the text does not have the expected shape (subset of rejected)
    non_null: int = 0  # non-NULL source values

    def counts(self) -> RestoreCounts:
        return RestoreCounts(self.non_null, _true_count(self.rejected), _true_count(self.malformed))


def _true_count(mask: pa.Array) -> int:
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def format_assumption_broken(result: Restored | RestoreCounts) -> bool:
    """True when more than MALFORMED_SHARE_LIMIT of the non-NULL values do not have the expected shape at all:
    the text is not what this code assumes PostgreSQL prints, so the caller fails the table with sample values
    instead of publishing a column of rejects. Well-formed values that are only out of range (infinity, BC, NaN,
    digits beyond the precision) never count here."""
    counts = result.counts() if isinstance(result, Restored) else result
    return counts.non_null > 0 and counts.malformed > MALFORMED_SHARE_LIMIT * counts.non_null


_DATE_SHAPE = r"(?P<y>\d{4,7})-(?P<m>\d\d)-(?P<d>\d\d)"
_TIME_SHAPE = r" (?P<hh>\d\d):(?P<mi>\d\d):(?P<ss>\d\d)(?:\.(?P<f>\d{1,6}))?"
_OFFSET_SHAPE = r"(?P<sign>[+-])(?P<oh>\d\d)(?::(?P<om>\d\d))?(?::(?P<os>\d\d))?"
_SHAPES = {
    Restore.DATE: f"^{_DATE_SHAPE}(?P<bc> BC)?$",
    Restore.TIMESTAMP: f"^{_DATE_SHAPE}{_TIME_SHAPE}(?P<bc> BC)?$",
    Restore.TIMESTAMP_FROM_UTC_OFFSET: f"^{_DATE_SHAPE}{_TIME_SHAPE}{_OFFSET_SHAPE}(?P<bc> BC)?$",
    Restore.DECIMAL: r"^(?P<neg>-)?(?P<int>\d+)(?:\.(?P<frac>\d+))?$",
}
# Well-formed values that no target type holds: PostgreSQL's special values (numeric Infinity since PG 14).
_SPECIAL = {
    Restore.DATE: ["infinity", "-infinity"],
    Restore.TIMESTAMP: ["infinity", "-infinity"],
    Restore.TIMESTAMP_FROM_UTC_OFFSET: ["infinity", "-infinity"],
    Restore.DECIMAL: ["NaN", "Infinity", "-Infinity"],
}


def _field_int(parts: pa.StructArray, name: str, default: str = "0") -> pa.Array:
    """A regex group as int64; an empty group (optional, or a row that did not match) reads `default`."""
    text = parts.field(name)
    return pc.cast(pc.if_else(pc.equal(text, ""), default, text), pa.int64())


def _and(*masks: pa.Array) -> pa.Array:
    out = masks[0]
    for mask in masks[1:]:
        out = pc.and_(out, mask)
    return out


def _between(values: pa.Array, low: int, high: int) -> pa.Array:
    return pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))


def _days_from_civil(year: pa.Array, month: pa.Array, day: pa.Array) -> pa.Array:
    """Days since 1970-01-01 of proleptic Gregorian (astronomical year, month, day), Hinnant's days_from_civil.
    Years are shifted by 12 x 400 years (a whole number of Gregorian cycles of 146097 days) so every quotient is of
    non-negative numbers, where pyarrow's truncating integer division is floor division."""
    shift = 12
    y = pc.subtract(pc.add(year, 400 * shift), pc.cast(pc.less_equal(month, 2), pa.int64()))
    era = pc.divide(y, 400)
    yoe = pc.subtract(y, pc.multiply(era, 400))
    mp = pc.subtract(pc.add(month, 9), pc.multiply(pc.cast(pc.greater(month, 2), pa.int64()), 12))
    doy = pc.add(pc.divide(pc.add(pc.multiply(mp, 153), 2), 5), pc.subtract(day, 1))
    doe = pc.add(
        pc.subtract(pc.add(pc.multiply(yoe, 365), pc.divide(yoe, 4)), pc.divide(yoe, 100)),
        doy,
    )
    return pc.subtract(pc.add(pc.multiply(era, 146097), doe), 719468 + 146097 * shift)


def _days_in_month(year: pa.Array, month: pa.Array) -> pa.Array:
    leap = pc.and_(
        pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 4), 4)), 0),
        pc.or_(
            pc.not_equal(pc.subtract(year, pc.multiply(pc.divide(year, 100), 100)), 0),
            pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 400), 400)), 0),
        ),
    )
    lengths = pa.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
    base = pc.take(lengths, pc.subtract(pc.min_element_wise(pc.max_element_wise(month, 1), 12), 1))
    return pc.add(base, pc.cast(pc.and_(leap, pc.equal(month, 2)), pa.int64()))


def _datetime_micros(parts: pa.StructArray, rule: Restore) -> tuple[pa.Array, pa.Array]:
    """(microseconds since 1970-01-01 UTC, every field in range) of matched rows; other rows compute garbage."""
    year_of_era = _field_int(parts, "y", "1970")
    bc = pc.equal(parts.field("bc"), " BC")
    # PostgreSQL's BC years have no year 0: 1 BC is astronomical year 0 (a leap year, as the calendar says)
    year = pc.if_else(bc, pc.subtract(1, year_of_era), year_of_era)
    year_shifted = pc.add(year, 400 * 12)  # non-negative for _days_in_month's truncating divisions
    month, day = _field_int(parts, "m", "1"), _field_int(parts, "d", "1")
    valid = _and(
        pc.greater_equal(year_of_era, 1),
        _between(month, 1, 12),
        pc.greater_equal(day, 1),
        pc.less_equal(day, _days_in_month(year_shifted, month)),
    )
    # PostgreSQL dates reach 5874897 AD, where int64 microseconds overflow; past 9999 everything is rejected anyway,
    # so such rows compute from a placeholder year and cannot wrap around into the accepted range
    valid = pc.and_(valid, _between(year, -4712, MAX_YEAR + 1))
    safe_year = pc.if_else(valid, year, 1970)
    days = _days_from_civil(safe_year, pc.if_else(valid, month, 1), pc.if_else(valid, day, 1))
    if rule is Restore.DATE:
        return days, valid
    hh, mi, ss = _field_int(parts, "hh"), _field_int(parts, "mi"), _field_int(parts, "ss")
    fraction = pc.cast(pc.utf8_rpad(parts.field("f"), width=6, padding="0"), pa.int64())
    valid = _and(valid, _between(hh, 0, 23), _between(mi, 0, 59), _between(ss, 0, 59))
    seconds = pc.add(pc.add(pc.multiply(hh, 3600), pc.multiply(mi, 60)), ss)
    if rule is Restore.TIMESTAMP_FROM_UTC_OFFSET:
        oh, om, os_ = _field_int(parts, "oh"), _field_int(parts, "om"), _field_int(parts, "os")
        valid = _and(valid, _between(oh, 0, 15), _between(om, 0, 59), _between(os_, 0, 59))
        offset = pc.add(pc.add(pc.multiply(oh, 3600), pc.multiply(om, 60)), os_)
        # local = UTC + offset, so UTC = local - offset
        seconds = pc.subtract(seconds, pc.if_else(pc.equal(parts.field("sign"), "-"), pc.negate(offset), offset))
    micros = pc.add(pc.multiply(pc.add(pc.multiply(days, 86_400), seconds), 1_000_000), fraction)
    return micros, valid


def _decimal_values(parts: pa.StructArray, matched: pa.Array, rule: Restoration) -> tuple[pa.Array, pa.Array]:
    precision, scale = rule.precision or 0, rule.scale or 0
    integer = pc.utf8_ltrim(parts.field("int"), characters="0")
    fraction = parts.field("frac")
    significant = pc.utf8_rtrim(fraction, characters="0")
    fits = _and(
        pc.less_equal(pc.utf8_length(integer), precision - scale),
        pc.less_equal(pc.utf8_length(significant), scale),  # extra zeros after the scale lose nothing
    )
    ok = pc.and_(matched, fits)
    # Only rows that fit reach the cast (which would raise on the others); the text is exact at the scale.
    sign = pc.if_else(pc.equal(parts.field("neg"), "-"), "-", "")
    # no ".0" on integers: "<38 nines>.0" would need 39 digits before the cast rescales it
    point = pc.if_else(pc.equal(significant, ""), "", ".")
    whole = pc.if_else(pc.equal(integer, ""), "0", integer)
    normalized = pc.binary_join_element_wise(sign, whole, point, significant, "")
    values = pc.cast(pc.if_else(ok, normalized, "0"), rule.arrow_type)
    return values, ok


# Fast path. Almost every value has a common shape whose fields are all possible: a 4-digit year, a day that every
# year's month has (29 February is left to the regex path), an hour below 24, an offset within PostgreSQL's ±15:59.
# _FAST_SHAPES admits only those (a match without captures, which RE2 runs as a DFA, several times faster than
# extract_regex), so Arrow's own ISO-8601 cast parses them without raising; its proleptic Gregorian day count and
# its UTC conversion of the offset are the regex path's arithmetic, and the same range check follows. Every fast
# shape is a strict subset of its _SHAPES entry; every other value (BC, 5+ digit years, ±HH:MM:SS offsets, leap
# days, specials, malformed text) takes the regex path, so a value gets the same result on either path
# (tests/glue/test_restore.py compares them on mixed inputs).
_FAST_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])"  # months of 31 days
    r"|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)"  # of 30 days
    r"|02-(?:0[1-9]|1\d|2[0-8]))"  # February but its 29th
)
# Four digits but 0000: PostgreSQL never prints a year 0 (1 BC is "0001 BC"), and the regex path rejects it as an
# impossible field; left to that path, a year-0 value shifted into 0001 by a negative offset cannot be accepted here.
_FAST_YEAR = r"(?:[1-9]\d{3}|0[1-9]\d\d|00[1-9]\d|000[1-9])"
_FAST_TIMESTAMP = rf"{_FAST_YEAR}-{_FAST_MONTH_DAY} (?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{{1,6}})?"
_FAST_SHAPES = {
    Restore.DATE: rf"^{_FAST_YEAR}-{_FAST_MONTH_DAY}$",
    Restore.TIMESTAMP: f"^{_FAST_TIMESTAMP}$",
    Restore.TIMESTAMP_FROM_UTC_OFFSET: rf"^{_FAST_TIMESTAMP}[+-](?:0\d|1[0-5])(?::[0-5]\d)?$",
}
# What Arrow's cast parses each fast shape as (a zoned type makes it apply the offset); storage is days or micros.
_FAST_PARSED = {
    Restore.DATE: pa.date32(),
    Restore.TIMESTAMP: pa.timestamp("us"),
    Restore.TIMESTAMP_FROM_UTC_OFFSET: pa.timestamp("us", tz="UTC"),
}


def _fast_shape(rule: Restoration) -> str | None:
    """The regex of the values the fast path restores; None when the rule has no fast path."""
    if rule.restore is not Restore.DECIMAL:
        return _FAST_SHAPES[rule.restore]
    precision, scale = rule.precision or 0, rule.scale or 0
    if precision <= scale:  # decimal(s,s): "0.5" has a zero beyond its digits, left to the regex path
        return None
    # at most p-s digits before the point and s after it: the value fits, so the cast neither rounds nor raises
    fraction = rf"(?:\.\d{{1,{scale}}})?" if scale else ""
    return rf"^-?\d{{1,{precision - scale}}}{fraction}$"


def _same_day_in_athena(micros: pa.Array) -> pa.Array:
    """True where Athena's millisecond rounding keeps the timestamp on its own day (see _LAST_MICRO_SHOWN_SAME_DAY).
    The time of day is the floor modulo of a day, taken on values lifted by whole 400-year cycles so that pyarrow's
    truncating division is floor division for every accepted value (year 1 and later)."""
    lifted = pc.add(micros, _WHOLE_CYCLES)
    time_of_day = pc.subtract(lifted, pc.multiply(pc.divide(lifted, _MICROS_PER_DAY), _MICROS_PER_DAY))
    return pc.less(time_of_day, _LAST_MICRO_SHOWN_SAME_DAY)


def _accepted(number: pa.Array, rule: Restore) -> pa.Array:
    """The accepted range (years 0001..9999), and for timestamps the same day as Athena shows it."""
    low, high = _range(rule)
    inside = _between(number, low, high)
    return inside if rule is Restore.DATE else pc.and_(inside, _same_day_in_athena(number))


def _range(rule: Restore) -> tuple[int, int]:
    """The accepted values' storage range: days for a date, microseconds otherwise."""
    if rule is Restore.DATE:
        return _MIN_MICROS // _MICROS_PER_DAY, _MAX_MICROS // _MICROS_PER_DAY
    return _MIN_MICROS, _MAX_MICROS


def _restored(text: pa.Array, values: pa.Array, ok: pa.Array, malformed: pa.Array) -> Restored:
    """The Restored of `text` from `values`, kept where `ok` (a NULL in `ok` is not ok)."""
    ok = pc.fill_null(ok, False)
    return Restored(
        values=pc.if_else(ok, values, pa.nulls(len(text), values.type)),
        rejected=pc.and_(pc.is_valid(text), pc.invert(ok)),
        malformed=malformed,
        non_null=len(text) - text.null_count,
    )


def restore_values_by_regex(text: pa.Array, rule: Restoration) -> Restored:
    """restore_values' exact path for every shape, on a string array: the reference the fast path is tested
    against (restore_values checks the rule first)."""
    present = pc.is_valid(text)
    parts = pc.extract_regex(text, _SHAPES[rule.restore])
    matched = pc.fill_null(pc.is_valid(parts), False)
    special = pc.fill_null(pc.is_in(text, value_set=pa.array(_SPECIAL[rule.restore], pa.string())), False)
    if rule.restore is Restore.DECIMAL:
        restored, ok = _decimal_values(parts, matched, rule)
    else:
        number, in_range = _datetime_micros(parts, rule.restore)
        ok = _and(matched, in_range, _accepted(number, rule.restore))
        storage = pa.int32() if rule.restore is Restore.DATE else pa.int64()
        restored = pc.cast(pc.cast(pc.if_else(ok, number, 0), storage), rule.arrow_type)
    return _restored(text, restored, ok, _and(present, pc.invert(matched), pc.invert(special)))


def _restore_fast(text: pa.Array, rule: Restoration) -> Restored:
    """restore_values of values that are NULL or match _fast_shape(rule): none is malformed. Raises
    pa.ArrowInvalid if Arrow's cast refuses one (the fast shapes are chosen so that it cannot)."""
    never = pc.is_valid(pa.nulls(len(text)))  # all False
    if rule.restore is Restore.DECIMAL:
        return _restored(text, pc.cast(text, rule.arrow_type), pc.is_valid(text), never)
    storage = pa.int32() if rule.restore is Restore.DATE else pa.int64()
    number = pc.cast(text, _FAST_PARSED[rule.restore]).view(storage)
    return _restored(text, number.view(rule.arrow_type), _accepted(number, rule.restore), never)


def _scatter(where: pa.Array, when_true: pa.Array, when_false: pa.Array) -> pa.Array:
    """One array from two: `when_true` in order at the positions where `where` is True, `when_false` elsewhere."""
    out = pc.replace_with_mask(pa.nulls(len(where), when_true.type), where, when_true)
    return pc.replace_with_mask(out, pc.invert(where), when_false)


def restore_values(values: pa.Array | pa.ChunkedArray, rule: Restoration) -> Restored:
    """The column's strings as `rule.arrow_type`, exactly; see Restored for what is flagged.

    Shapes (PostgreSQL's ISO output, docs/sor-job.md "Restored types"): date `Y-MM-DD[ BC]` (4 to 7 year digits),
    timestamp `Y-MM-DD HH:MM:SS[.f{1,6}][ BC]`, timestamptz the same with `±HH[:MM[:SS]]` before ` BC`, numeric
    `[-]digits[.digits]`. Rejected but well-formed: infinity, -infinity, NaN, ±Infinity, impossible fields (month
    13, Feb 30, MySQL's 0000-00-00), years outside 0001..9999 AD (for timestamptz after conversion to UTC), digits
    beyond the decimal's precision or scale (trailing zeros beyond the scale are exact and accepted).
    Values of the common shapes take the fast path (_FAST_SHAPES), the others the regex path, with the same results.
    """
    if rule.restore is Restore.DECIMAL and rule.scale is None:
        raise ValueError(f"column {rule.column!r}: decide the scale first (numeric_scale, with_scale)")
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    text = pc.cast(text, pa.string())
    if rule.restore is Restore.DATE:
        # Arrow's date cast parses exactly `YYYY-MM-DD` of a real proleptic Gregorian day (leap days included) and
        # refuses the whole array otherwise, so when it takes every value each one is a fast-shaped date, a leap
        # day, or year 0000 (out of range: rejected, not malformed, as on the regex path): the shape check is not
        # needed (it was 2.9 ms of a 64 Ki-row column's 3.4, docs/benchmarks.md "The typed path").
        try:
            return _restore_fast(text, rule)
        except pa.ArrowInvalid:
            pass  # some value is not such a date: the shape check sorts them below
    shape = _fast_shape(rule)
    if shape is None:
        return restore_values_by_regex(text, rule)
    fast = pc.fill_null(pc.match_substring_regex(text, shape), True)  # a NULL has nothing to parse
    slow_count = len(text) - _true_count(fast)
    if slow_count == len(text):
        return restore_values_by_regex(text, rule)
    try:
        if slow_count == 0:
            return _restore_fast(text, rule)
        quick = _restore_fast(pc.filter(text, fast), rule)
    except pa.ArrowInvalid:  # not expected (see _FAST_SHAPES); the regex path is exact for every value
        return restore_values_by_regex(text, rule)
    slow = restore_values_by_regex(pc.filter(text, pc.invert(fast)), rule)
    return Restored(
        values=_scatter(fast, quick.values, slow.values),
        rejected=_scatter(fast, quick.rejected, slow.rejected),
        malformed=_scatter(fast, quick.malformed, slow.malformed),
        non_null=quick.non_null + slow.non_null,
    )
