"""A faithful writer of RDS/Aurora snapshot exports, as AWS writes them to S3.

Used by the Glue job's tests (fixtures) and by `make demo` (the "export emulator"). Every layout and type
rule here comes from docs/aws-facts.md, sections "The export in S3" and "Type conversion done by the
export", which cite the AWS pages:
- https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-export-snapshot.html
  (Considerations: FileNames, skipped tables, path character replacement)
- https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.data-types.html

What AWS does not document, and what this module therefore chose, is marked UNVERIFIED next to the code
(text formats of PostgreSQL values converted to STRING, the JSON metadata beyond the keys quoted in
docs/aws-facts.md, `_SUCCESS` placement, what an empty table writes). Readers of exports must not depend on those.

The core is pure: `render_export` returns {S3 key: bytes}; `write_export` only puts those objects.

Fidelity limits (what real RDS does that this writer does not, or may do differently):
- Files are written by pyarrow (footer `created_by` "parquet-cpp-arrow ..."), not by RDS's own writer; no
  Spark row metadata in the footer; files are tiny instead of ~20-200 GB, and cut into row groups by row count
  (DEFAULT_ROW_GROUPS_PER_FILE per file, or `row_group_rows`), not by byte size.
- Rows are spread evenly over part files in input order, not by ranges of a numeric key; which files
  exist (gaps) is chosen by `partition_indexes`, not by where the data falls.
- Text forms of PostgreSQL values exported as STRING (timestamps, intervals, money, arrays, json, numeric)
  follow PostgreSQL's own output with TimeZone=UTC, DateStyle ISO, IntervalStyle postgres: UNVERIFIED.
- `originalType` is information_schema's data_type word (no modifiers): mirrored from a real PostgreSQL sample;
  for MySQL no real sample was found, so information_schema.COLUMNS.DATA_TYPE is an ASSUMPTION by analogy.
- The JSON documents carry only the keys docs/aws-facts.md quotes from a real export; time formats, GB units,
  `from_<n>_to_<m>` numbering, `warningMessage` placement and skipped-table reasons are UNVERIFIED.
- Nothing of an export in progress (no partial objects while "IN_PROGRESS"), no export-wide failure,
  no LOB >= 500 MB / row >= 2 GB behaviour, no `ExportOnly` filtering (the caller passes the tables).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import io
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

POSTGRESQL = "postgresql"
MYSQL = "mysql"
_ENGINE_ALIASES = {
    "postgresql": POSTGRESQL,
    "postgres": POSTGRESQL,
    "aurora-postgresql": POSTGRESQL,
    "mysql": MYSQL,
    "aurora-mysql": MYSQL,
    "aurora": MYSQL,
}

LAYOUTS = ("batched", "flat", "cluster")

# docs/aws-facts.md "The export in S3": these characters in names become "_" in the S3 path.
_PATH_REPLACED = str.maketrans({"\\": "_", "`": "_", '"': "_", " ": "_"})
# docs/aws-facts.md "The export in S3": a column name with any of these makes the export skip the table.
_BAD_COLUMN_CHARS = frozenset(",;{}()\n\t= ")


def normalize_engine(engine: str) -> str:
    """Maps an RDS engine name ("aurora-postgresql", "aurora-mysql", ...) to POSTGRESQL or MYSQL."""
    try:
        return _ENGINE_ALIASES[engine.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown engine {engine!r}; expected one of {sorted(_ENGINE_ALIASES)}") from None


# ---------------------------------------------------------------------------------------------------------
# Source model
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourceColumn:
    """A column as the source database declares it (type text as information_schema/SHOW COLUMNS spell it)."""

    name: str
    source_type: str
    not_null: bool = False  # written as a REQUIRED Parquet field (UNVERIFIED that RDS does; Spark would)


@dataclass
class SourceTable:
    """One source table and how the export lays it out.

    rows hold Python values as the DB driver returns them. `layout`:
    - "batched": `<batch>/part-<partition index>-<uuid>.gz.parquet` (current convention)
    - "flat": `part-<i>-<uuid>-c000.gz.parquet` directly in the table folder (older exports)
    - "cluster": alphanumeric partition folders `1/`, `a/`, `b/` ... (live cluster exports)
    `partition_indexes`, when given, are the part numbers used in every batch folder; by default they have
    gaps (0, 1, 3, 4, 6, ...) because AWS documents gaps as normal (empty ranges write no file).
    `status` other than COMPLETE lists the table with that status in export_tables_info; such a table writes
    only its first `failed_files_written` part files (0 = no data at all).
    `persistence` "temporary"/"unlogged" (PostgreSQL) makes the export skip the table (docs/aws-facts.md).
    `empty_part_file` overrides render_export's `empty_table_part_file` for this table.
    `schema_metadata` False leaves `schemaMetadata` out of the table's export_tables_info entry, as some entries
    of real exports do (docs/aws-facts.md "Export metadata files"): readers must cope without the original types.
    """

    database: str
    schema: str | None
    name: str
    columns: list[SourceColumn]
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    batches: int = 1
    files_per_batch: int = 1
    layout: str = "batched"
    status: str = "COMPLETE"
    partition_indexes: tuple[int, ...] | None = None
    failed_files_written: int = 0
    persistence: str = "permanent"
    empty_part_file: bool | None = None
    schema_metadata: bool = True


# ---------------------------------------------------------------------------------------------------------
# Type conversion (docs/aws-facts.md "Type conversion done by the export")
# ---------------------------------------------------------------------------------------------------------
Converter = Callable[[Any], Any]


@dataclass(frozen=True)
class ExportedType:
    """How the export writes one source type: Arrow type, value converter and the originalTypeMappings entry."""

    arrow_type: pa.DataType
    convert: Converter
    expected: str  # expectedExportedType, parquet-mr style ("binary (UTF8)" is the one seen in a real export)
    char_max_length: int = 0
    num_precision: int = 0
    datetime_precision: int = 0
    original_type: str = ""  # originalType: information_schema's data_type word, no modifiers (`original_type`)


_PARAMS = re.compile(r"\(([^()]*)\)")


def _normalize_type(source_type: str) -> str:
    return re.sub(r"\s+", " ", source_type.strip().lower())


def _params(text: str) -> list[str]:
    match = _PARAMS.search(text)
    return [p.strip() for p in match.group(1).split(",")] if match else []


def _int_params(text: str, source_type: str) -> list[int]:
    try:
        return [int(p) for p in _params(text) if p]
    except ValueError:
        raise ValueError(f"cannot read the precision/length of {source_type!r}") from None


def _strip_params(text: str) -> str:
    return _normalize_type(_PARAMS.sub(" ", text))


# -- value converters (driver value -> what the export stores) --------------------------------------------
def _type_error(kind: str, value: Any) -> ValueError:
    return ValueError(f"{kind}: cannot export a {type(value).__name__} value {value!r}")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)  # MySQL BOOL is TINYINT(1): drivers may hand back True/False
    if isinstance(value, int):
        return value
    if isinstance(value, decimal.Decimal) and value == value.to_integral_value():
        return int(value)
    raise _type_error("integer column", value)


def _as_float(value: Any) -> float:
    if isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool):
        return float(value)
    raise _type_error("floating point column", value)


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise _type_error("boolean column", value)


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise _type_error("binary column", value)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    raise _type_error("text column", value)


def _json_text(value: Any) -> str:
    # Drivers decode json/jsonb into dict/list/scalars; PostgreSQL jsonb and MySQL JSON print with ", " and
    # ": " separators, which is json.dumps' default. A str is taken as the server's own text. UNVERIFIED.
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _decimal_text(value: Any, scale: int | None) -> str:
    if isinstance(value, str):
        decimal.Decimal(value)  # raises on garbage; the text itself is kept as the server printed it
        return value
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        raise _type_error("numeric column", value)  # floats would silently lose digits
    number = decimal.Decimal(value)
    if not number.is_finite():
        return "NaN" if number.is_nan() else ("Infinity" if number > 0 else "-Infinity")
    if scale is not None:
        number = _quantize(number, scale)
    return format(number, "f")


def _quantize(number: decimal.Decimal, scale: int) -> decimal.Decimal:
    exact = number.quantize(decimal.Decimal(1).scaleb(-scale), context=decimal.Context(prec=1000))
    if exact != number:
        raise ValueError(f"decimal value {number} does not fit scale {scale}")
    return exact


def pg_offset(offset: dt.timedelta | None) -> str:
    # PostgreSQL prints UTC offsets as +HH, +HH:MM or +HH:MM:SS.
    if offset is None:
        raise ValueError("a time zone aware value is required")
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{sign}{hours:02d}"
    if minutes or secs:
        text += f":{minutes:02d}"
    if secs:
        text += f":{secs:02d}"
    return text


def pg_fraction(microsecond: int) -> str:
    # PostgreSQL drops trailing zeros of the fractional second and the dot when it is zero.
    return f".{microsecond:06d}".rstrip("0") if microsecond else ""


def _pg_date(value: Any) -> str:
    if isinstance(value, str):
        return value  # "infinity", BC dates: only the server's text can say them
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _type_error("date column", value)
    return _pg_date_text(value)


def _pg_date_text(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _pg_time(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.time):
        raise _type_error("time column", value)
    if value.tzinfo is not None:
        raise ValueError(f"time without time zone column got an aware value {value!r}")
    return _clock_text(value)


def _clock_text(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{pg_fraction(value.microsecond)}"


def _pg_timetz(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.time) or value.tzinfo is None:
        raise _type_error("time with time zone column (aware time required)", value)
    return _clock_text(value) + pg_offset(value.utcoffset())


def _pg_timestamp(value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.datetime):
        raise _type_error("timestamp column", value)
    if value.tzinfo is not None:
        raise ValueError(f"timestamp without time zone column got an aware value {value!r}")
    return f"{_pg_date_text(value.date())} {_pg_time(value.time())}"


def _pg_timestamptz(value: Any) -> str:
    # UNVERIFIED: printed as PostgreSQL does with TimeZone=UTC ("2026-11-26 03:00:00.5+00"). A naive value
    # is refused: the driver always returns aware datetimes for timestamptz, so naive means a fixture bug.
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _type_error("timestamp with time zone column (aware datetime required)", value)
    utc = value.astimezone(dt.UTC)
    return f"{_pg_date_text(utc.date())} {_pg_time(utc.time())}+00"


def _pg_interval(value: Any) -> str:
    # UNVERIFIED: IntervalStyle "postgres" output of a timedelta ("1 day 02:03:04", "-00:00:01.5", "3 days").
    if isinstance(value, str):
        return value
    if not isinstance(value, dt.timedelta):
        raise _type_error("interval column", value)
    negative = value < dt.timedelta(0)
    magnitude = -value if negative else value
    days = magnitude.days
    hours, rest = divmod(magnitude.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    sign = "-" if negative else ""
    parts = []
    if days:
        parts.append(f"{sign}{days} day{'s' if days != 1 else ''}")
    if magnitude.seconds or magnitude.microseconds or not days:
        parts.append(f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}{pg_fraction(magnitude.microseconds)}")
    return " ".join(parts)


def _pg_money(value: Any) -> str:
    # UNVERIFIED: lc_monetary en_US.UTF-8 output ("$1,234.56", "-$0.50"). Drivers often return the text.
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal)):
        raise _type_error("money column", value)
    number = _quantize(decimal.Decimal(value), 2)
    text = f"${abs(number):,.2f}"
    return f"-{text}" if number < 0 else text


def _pg_uuid(value: Any) -> str:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return str(uuid.UUID(value))
    raise _type_error("uuid column", value)


def _pg_inet(value: Any) -> str:
    # PostgreSQL prints a host inet without its /32 (/128) and a network with its prefix.
    if isinstance(value, str):
        return value
    if isinstance(value, (ipaddress.IPv4Interface, ipaddress.IPv6Interface)):
        full = value.network.max_prefixlen
        return str(value.ip) if value.network.prefixlen == full else value.with_prefixlen
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address, ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return str(value)
    raise _type_error("network address column", value)


_ARRAY_NEEDS_QUOTES = re.compile(r'[{},"\\\s]')


def _pg_array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, (list, tuple)):
        return _pg_array(value)
    if isinstance(value, bool):
        text = "t" if value else "f"
    elif isinstance(value, dt.datetime):
        text = _pg_timestamptz(value) if value.tzinfo else _pg_timestamp(value)
    elif isinstance(value, dt.date):
        text = _pg_date_text(value)
    elif isinstance(value, bytes):
        text = "\\x" + value.hex()
    else:
        text = str(value)
    if text == "" or text.upper() == "NULL" or _ARRAY_NEEDS_QUOTES.search(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _pg_array(value: Any) -> str:
    # PostgreSQL array literal, as text[]::text prints it: {a,"b c",NULL}.
    if isinstance(value, str):
        return value
    if not isinstance(value, (list, tuple)):
        raise _type_error("array column", value)
    return "{" + ",".join(_pg_array_element(v) for v in value) + "}"


def _str_of(value: Any) -> str:
    # Ranges, xml, macaddr, enums, composites: drivers return text or an object whose str() is the text.
    return value if isinstance(value, str) else str(value)


def _mysql_date(value: Any) -> str:
    if isinstance(value, str):
        return value  # zero dates ("0000-00-00") only exist as text
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _type_error("DATE column", value)
    return _pg_date_text(value)


def _mysql_time(value: Any) -> str:
    # MySQL TIME is a duration (-838:59:59 .. 838:59:59); drivers return timedelta. UNVERIFIED: printed the
    # way MySQL prints it (hours may exceed 24, fraction only when non zero).
    if isinstance(value, str):
        return value
    if isinstance(value, dt.time):
        return _pg_time(value)
    if not isinstance(value, dt.timedelta):
        raise _type_error("TIME column", value)
    negative = value < dt.timedelta(0)
    magnitude = -value if negative else value
    total = magnitude.days * 86400 + magnitude.seconds
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{'-' if negative else ''}{hours:02d}:{minutes:02d}:{seconds:02d}{pg_fraction(magnitude.microseconds)}"


def _mysql_datetime(value: Any) -> dt.datetime:
    # DATETIME has no zone: the wall clock is written as if it were UTC; an aware value is converted.
    if not isinstance(value, dt.datetime):
        raise _type_error("DATETIME/TIMESTAMP column", value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value.replace(tzinfo=dt.UTC)


def _mysql_decimal(scale: int) -> Converter:
    def convert(value: Any) -> decimal.Decimal:
        if isinstance(value, bool) or not isinstance(value, (int, decimal.Decimal, str)):
            raise _type_error("DECIMAL column", value)
        return _quantize(decimal.Decimal(value), scale)

    return convert


def _mysql_unsigned_bigint(value: Any) -> decimal.Decimal:
    number = _as_int(value)
    if not 0 <= number < 2**64:
        raise ValueError(f"BIGINT UNSIGNED value out of range: {number}")
    return decimal.Decimal(number)


def _mysql_set(members: list[str]) -> Converter:
    order = {m: i for i, m in enumerate(members)}

    def convert(value: Any) -> str:
        # Drivers return a SET as a Python set; MySQL prints members in definition order, comma separated.
        if isinstance(value, str):
            return value
        if not isinstance(value, (set, frozenset, list, tuple)):
            raise _type_error("SET column", value)
        unknown = [v for v in value if v not in order] if order else []
        if unknown:
            raise ValueError(f"SET column: {unknown} not among the members {members}")
        return ",".join(sorted(value, key=lambda v: (order.get(v, len(order)), v)))

    return convert


def _mysql_bit(width: int) -> Converter:
    def convert(value: Any) -> bytes:
        if isinstance(value, int) and not isinstance(value, bool):
            return value.to_bytes(max(1, (width + 7) // 8), "big")
        return _as_bytes(value)

    return convert


def _quoted_members(text: str) -> list[str]:
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", text)]


# -- the two engines ------------------------------------------------------------------------------------------
_STRING = pa.string()
_UTF8 = "binary (UTF8)"
_PG_DT_DEFAULT = 6


def _decimal_expected(precision: int, scale: int) -> tuple[pa.DataType, str]:
    # Spark and store_decimal_as_integer: INT32 up to 9 digits, INT64 up to 18, FLBA(minimal bytes) above.
    arrow = pa.decimal128(precision, scale)
    if precision <= 9:
        physical = "int32"
    elif precision <= 18:
        physical = "int64"
    else:
        physical = f"fixed_len_byte_array({_decimal_bytes(precision)})"
    return arrow, f"{physical} (DECIMAL({precision},{scale}))"


def _decimal_bytes(precision: int) -> int:
    size = 1
    while 2 ** (8 * size - 1) <= 10**precision - 1:
        size += 1
    return size


def _pg_type(text: str, source_type: str) -> ExportedType:
    base = _strip_params(text)
    nums = _int_params(text, source_type)
    string = _STRING
    if base.endswith("[]") or base.startswith("_") or base == "array":
        return ExportedType(string, _pg_array, _UTF8)
    if base in {"smallint", "int2", "smallserial", "serial2"}:
        return ExportedType(pa.int16(), _as_int, "int32 (INT_16)")
    if base in {"integer", "int", "int4", "serial", "serial4"}:
        return ExportedType(pa.int32(), _as_int, "int32")
    if base in {"bigint", "int8", "bigserial", "serial8"}:
        return ExportedType(pa.int64(), _as_int, "int64")
    if base in {"real", "float4"} or (base == "float" and nums and nums[0] <= 24):
        return ExportedType(pa.float32(), _as_float, "float")
    if base in {"double precision", "float8", "float"}:
        return ExportedType(pa.float64(), _as_float, "double")
    if base in {"boolean", "bool"}:
        return ExportedType(pa.bool_(), _as_bool, "boolean")
    if base == "bytea":
        return ExportedType(pa.binary(), _as_bytes, "binary")
    if base in {"numeric", "decimal"}:
        precision = nums[0] if nums else 0
        scale = nums[1] if len(nums) > 1 else (0 if nums else None)
        return ExportedType(string, lambda v, s=scale: _decimal_text(v, s), _UTF8, num_precision=precision)
    if base == "money":
        return ExportedType(string, _pg_money, _UTF8)
    if base in {"character varying", "varchar", "character", "char", "bpchar", "text", "name", "citext"}:
        length = nums[0] if nums else (1 if base in {"character", "char"} and "(" not in text else 0)
        return ExportedType(string, _as_text, _UTF8, char_max_length=length)
    precision = nums[0] if nums else _PG_DT_DEFAULT
    if base == "date":
        return ExportedType(string, _pg_date, _UTF8)
    if base in {"time", "time without time zone"}:
        return ExportedType(string, _pg_time, _UTF8, datetime_precision=precision)
    if base in {"timetz", "time with time zone"}:
        return ExportedType(string, _pg_timetz, _UTF8, datetime_precision=precision)
    if base in {"timestamp", "timestamp without time zone"}:
        return ExportedType(string, _pg_timestamp, _UTF8, datetime_precision=precision)
    if base in {"timestamptz", "timestamp with time zone"}:
        return ExportedType(string, _pg_timestamptz, _UTF8, datetime_precision=precision)
    if base.startswith("interval"):
        return ExportedType(string, _pg_interval, _UTF8, datetime_precision=precision)
    if base in {"json", "jsonb"}:
        return ExportedType(string, _json_text, _UTF8)
    if base == "uuid":
        return ExportedType(string, _pg_uuid, _UTF8)
    if base in {"inet", "cidr"}:
        return ExportedType(string, _pg_inet, _UTF8)
    if base in {"xml", "macaddr", "macaddr8", "enum", "user-defined", "composite"} or base.endswith(
        ("range", "multirange")
    ):
        return ExportedType(string, _str_of, _UTF8)
    raise ValueError(
        f"PostgreSQL type {source_type!r} is not in the export's documented conversions (docs/aws-facts.md); "
        "declare enums and composites as 'USER-DEFINED'"
    )


_MYSQL_TEXT = {"char", "varchar", "tinytext", "text", "mediumtext", "longtext", "national char", "nchar"}
_MYSQL_BINARY = {"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"}
_MYSQL_GEOMETRY = {
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
}


def _mysql_type(text: str, source_type: str) -> ExportedType:
    head = text.split("(", 1)[0].strip()
    if head in {"enum", "set"}:
        members = _quoted_members(text)
        convert = _as_text if head == "enum" else _mysql_set(members)
        return ExportedType(_STRING, convert, _UTF8)
    words = _strip_params(text).split()
    unsigned = "unsigned" in words
    words = [w for w in words if w not in {"unsigned", "signed", "zerofill"}]
    base = " ".join(words)
    nums = _int_params(text, source_type)
    if base == "serial":  # BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE
        base, unsigned = "bigint", True
    if base == "bigint":
        if unsigned:
            arrow, expected = _decimal_expected(20, 0)
            return ExportedType(arrow, _mysql_unsigned_bigint, expected)
        return ExportedType(pa.int64(), _as_int, "int64")
    if base in {"int", "integer", "mediumint"} and unsigned:
        return ExportedType(pa.int64(), _as_int, "int64")
    if base in {"int", "integer", "mediumint", "smallint", "tinyint", "bool", "boolean", "year"}:
        return ExportedType(pa.int32(), _as_int, "int32")
    if base in {"float", "double", "double precision", "real"}:
        return ExportedType(pa.float64(), _as_float, "double")
    if base in {"decimal", "numeric", "dec", "fixed"}:
        precision = nums[0] if nums else 10  # MySQL's default DECIMAL is DECIMAL(10,0)
        scale = nums[1] if len(nums) > 1 else 0
        if precision > 38:
            return ExportedType(_STRING, lambda v, s=scale: _decimal_text(v, s), _UTF8, num_precision=precision)
        arrow, expected = _decimal_expected(precision, scale)
        return ExportedType(arrow, _mysql_decimal(scale), expected, num_precision=precision)
    if base in {"datetime", "timestamp"}:
        precision = nums[0] if nums else 0
        return ExportedType(
            pa.timestamp("us", tz="UTC"), _mysql_datetime, "int64 (TIMESTAMP_MICROS)", datetime_precision=precision
        )
    if base == "date":
        return ExportedType(_STRING, _mysql_date, _UTF8)
    if base == "time":
        return ExportedType(_STRING, _mysql_time, _UTF8, datetime_precision=nums[0] if nums else 0)
    if base in _MYSQL_TEXT or base == "json":
        length = nums[0] if nums and base in {"char", "varchar", "nchar", "national char"} else 0
        convert = _json_text if base == "json" else _as_text
        return ExportedType(_STRING, convert, _UTF8, char_max_length=length)
    if base in _MYSQL_BINARY or base in _MYSQL_GEOMETRY:
        return ExportedType(pa.binary(), _as_bytes, "binary")
    if base == "bit":
        return ExportedType(pa.binary(), _mysql_bit(nums[0] if nums else 1), "binary")
    raise ValueError(f"MySQL type {source_type!r} is not in the export's documented conversions (docs/aws-facts.md)")


def exported_type(engine: str, source_type: str) -> ExportedType:
    """The full conversion rule for one source column type; ValueError for a type the export does not list."""
    text = _normalize_type(source_type)
    if not text:
        raise ValueError("empty source type")
    if normalize_engine(engine) == POSTGRESQL:
        return replace(_pg_type(text, source_type), original_type=_pg_data_type(text))
    return replace(_mysql_type(text, source_type), original_type=_mysql_data_type(text))


# -- originalType: the information_schema word ------------------------------------------------------------------
# The real export_tables_info sample (docs/aws-facts.md "Export metadata files") writes originalType the way
# information_schema.columns.data_type spells it: no modifiers ("numeric", "character varying"), "ARRAY" for every
# array, "USER-DEFINED" for enums, composites and extension types; length and precision travel in
# originalCharMaxLength / originalNumPrecision / originalDateTimePrecision, and the numeric scale nowhere.
_PG_DATA_TYPE = {
    "smallint": "smallint", "int2": "smallint", "smallserial": "smallint", "serial2": "smallint",
    "integer": "integer", "int": "integer", "int4": "integer", "serial": "integer", "serial4": "integer",
    "bigint": "bigint", "int8": "bigint", "bigserial": "bigint", "serial8": "bigint",
    "real": "real", "float4": "real", "double precision": "double precision", "float8": "double precision",
    "boolean": "boolean", "bool": "boolean", "decimal": "numeric",
    "character varying": "character varying", "varchar": "character varying",
    "character": "character", "char": "character", "bpchar": "character",
    "time": "time without time zone", "timetz": "time with time zone",
    "timestamp": "timestamp without time zone", "timestamptz": "timestamp with time zone",
    "enum": "USER-DEFINED", "user-defined": "USER-DEFINED", "composite": "USER-DEFINED", "citext": "USER-DEFINED",
}  # fmt: skip
# Ranges and multiranges PostgreSQL itself defines keep their name in information_schema; others are USER-DEFINED.
_PG_BUILTIN_RANGES = frozenset(
    f"{name}{suffix}" for name in ("int4", "int8", "num", "ts", "tstz", "date") for suffix in ("range", "multirange")
)


def _pg_data_type(text: str) -> str:
    """information_schema.columns.data_type of a PostgreSQL type spelled as format_type() does."""
    base = _strip_params(text)
    if base.endswith("[]") or base.startswith("_") or base == "array":
        return "ARRAY"
    if base == "float":  # float(p): real up to 24 bits, double precision above (and without p)
        nums = _params(text)
        return "real" if nums and nums[0].isdigit() and int(nums[0]) <= 24 else "double precision"
    if base.startswith("interval"):  # "interval year to month" and the like
        return "interval"
    if base.endswith(("range", "multirange")):
        return base if base in _PG_BUILTIN_RANGES else "USER-DEFINED"
    return _PG_DATA_TYPE.get(base, base)


_MYSQL_DATA_TYPE = {
    "integer": "int", "bool": "tinyint", "boolean": "tinyint", "serial": "bigint",
    "numeric": "decimal", "dec": "decimal", "fixed": "decimal",
    "double precision": "double", "real": "double",  # REAL is DOUBLE unless sql_mode REAL_AS_FLOAT
    "national char": "char", "nchar": "char", "national varchar": "varchar", "nvarchar": "varchar",
}  # fmt: skip


def _mysql_data_type(text: str) -> str:
    """information_schema.COLUMNS.DATA_TYPE of a MySQL column type (COLUMN_TYPE minus modifiers and attributes)."""
    head = text.split("(", 1)[0].strip()
    if head in {"enum", "set"}:
        return head
    words = [w for w in _strip_params(text).split() if w not in {"unsigned", "signed", "zerofill"}]
    base = " ".join(words)
    return _MYSQL_DATA_TYPE.get(base, base)


def exported_arrow_type(engine: str, source_type: str) -> pa.DataType:
    """The Arrow type whose Parquet encoding is what the export writes for `source_type` (docs/aws-facts.md)."""
    return exported_type(engine, source_type).arrow_type


def to_exported_values(engine: str, source_type: str, values: Iterable[Any]) -> pa.Array:
    """Converts driver values of one column to what the export writes (None stays null)."""
    rule = exported_type(engine, source_type)
    converted = []
    for index, value in enumerate(values):
        try:
            converted.append(None if value is None else rule.convert(value))
        except (ValueError, TypeError, ArithmeticError) as error:
            raise ValueError(f"{source_type} value #{index}: {error}") from error
    try:
        return pa.array(converted, type=rule.arrow_type)
    except (pa.ArrowInvalid, OverflowError) as error:
        raise ValueError(f"{source_type}: value out of range for {rule.arrow_type}: {error}") from error


# ---------------------------------------------------------------------------------------------------------
# Names and folders
# ---------------------------------------------------------------------------------------------------------
def path_name(name: str) -> str:
    """A database/schema/table name as it appears in the S3 path (docs/aws-facts.md: \\ ` " and space -> _)."""
    return name.translate(_PATH_REPLACED)


def table_folder(engine: str, table: SourceTable) -> str:
    """`<database>/<schema>.<table>` (PostgreSQL) or `<database>/<database>.<table>` (MySQL), no slashes."""
    middle = table.schema if normalize_engine(engine) == POSTGRESQL else table.database
    if middle is None:
        raise ValueError(f"PostgreSQL table {table.name!r} needs a schema")
    return f"{path_name(table.database)}/{path_name(middle)}.{path_name(table.name)}"


def target_name(engine: str, table: SourceTable) -> str:
    """perTableStatus "target": "db.schema.table" (PostgreSQL, seen in a real export) or "db.table" (MySQL,
    ASSUMPTION: by analogy with ExportOnly's `database.table` format for Aurora MySQL)."""
    if normalize_engine(engine) == POSTGRESQL:
        return f"{table.database}.{table.schema}.{table.name}"
    return f"{table.database}.{table.name}"


def skip_reason(engine: str, table: SourceTable) -> str | None:
    """Why the export skips this table (docs/aws-facts.md "The export in S3"), or None when it is exported."""
    if "/" in table.name:
        return "TABLE_NAME_CONTAINS_SLASH"
    for column in table.columns:
        if _BAD_COLUMN_CHARS.intersection(column.name):
            return "UNSUPPORTED_CHARACTERS_IN_COLUMN_NAME"
    if normalize_engine(engine) == POSTGRESQL and table.persistence in {"temporary", "unlogged"}:
        return f"{table.persistence.upper()}_TABLE"
    return None


# ---------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------
_CLUSTER_FOLDERS = "1abcdefghijklmnopqrstuvwxyz"


def _deterministic_uuid(seed: int, *parts: str) -> str:
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def default_partition_indexes(count: int) -> tuple[int, ...]:
    """0, 1, 3, 4, 6, 7, ...: starts at 00000 and has gaps, as AWS documents for ranged partitions."""
    return tuple(i + i // 2 for i in range(count))


def exported_table(engine: str, table: SourceTable) -> pa.Table:
    """All rows of `table` converted as the export writes them (the truth tests compare against)."""
    names = [c.name for c in table.columns]
    if not names:
        raise ValueError(f"table {table.name!r} has no columns (what RDS exports for it is unknown)")
    if len(set(names)) != len(names):
        raise ValueError(f"table {table.name!r} declares a column twice: {names}")
    width = len(table.columns)
    for number, row in enumerate(table.rows):
        if len(row) != width:
            raise ValueError(f"table {table.name!r} row #{number} has {len(row)} values for {width} columns")
    arrays, fields = [], []
    for position, column in enumerate(table.columns):
        try:
            array = to_exported_values(engine, column.source_type, (r[position] for r in table.rows))
        except ValueError as error:
            raise ValueError(f"table {table.name!r} column {column.name!r}: {error}") from error
        if column.not_null and array.null_count:
            raise ValueError(f"table {table.name!r} column {column.name!r} is NOT NULL but has nulls")
        arrays.append(array)
        fields.append(pa.field(column.name, array.type, nullable=not column.not_null))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


# Real part files are ~20-200 GB, so they hold many row groups; the fixtures are tiny, so by default each file is cut
# into this many row groups (fewer when it has fewer rows), which lets readers that stream by row group be tested.
DEFAULT_ROW_GROUPS_PER_FILE = 3


def row_group_rows_for(rows: int, row_group_rows: int | None = None) -> int:
    """Rows per row group of a part file of `rows` rows: `row_group_rows`, else DEFAULT_ROW_GROUPS_PER_FILE groups."""
    if row_group_rows is not None:
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows must be >= 1, got {row_group_rows}")
        return row_group_rows
    return max(1, -(-rows // DEFAULT_ROW_GROUPS_PER_FILE))


def parquet_bytes(table: pa.Table, row_group_rows: int | None = None) -> bytes:
    """One part file: gzip (the ".gz.parquet" names), decimals on INT32/INT64/FLBA by precision, timestamps as
    INT64 micros adjusted to UTC, no Arrow schema blob (Spark, which writes these files, stores none), row groups
    of `row_group_rows_for(rows, row_group_rows)` rows. Same input, same bytes."""
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        row_group_size=row_group_rows_for(table.num_rows, row_group_rows),
        compression="gzip",
        store_decimal_as_integer=True,
        coerce_timestamps="us",
        allow_truncated_timestamps=False,
        store_schema=False,
    )
    return sink.getvalue()


@dataclass(frozen=True)
class _Part:
    folder: str  # "" for the flat layout
    name: str
    rows: pa.Table


def _split(table: pa.Table, pieces: int) -> list[pa.Table]:
    size, extra = divmod(table.num_rows, pieces)
    out, start = [], 0
    for i in range(pieces):
        length = size + (1 if i < extra else 0)
        out.append(table.slice(start, length))
        start += length
    return out


def _parts(engine: str, table: SourceTable, data: pa.Table, seed: int, export_id: str, empty_file: bool) -> list[_Part]:
    if table.layout not in LAYOUTS:
        raise ValueError(f"table {table.name!r}: unknown layout {table.layout!r}; expected one of {LAYOUTS}")
    if table.batches < 1 or table.files_per_batch < 1:
        raise ValueError(f"table {table.name!r}: batches and files_per_batch must be >= 1")
    folder_of_table = table_folder(engine, table)

    def uid(*parts: str) -> str:
        return _deterministic_uuid(seed, export_id, folder_of_table, *parts)

    if table.layout == "flat":
        count = table.batches * table.files_per_batch
        return [
            _Part("", f"part-{i:05d}-{uid(str(i))}-c000.gz.parquet", piece)
            for i, piece in enumerate(_split(data, count))
            if piece.num_rows or (i == 0 and data.num_rows == 0 and empty_file)
        ]
    if table.layout == "cluster" and table.batches > len(_CLUSTER_FOLDERS):
        raise ValueError(f"table {table.name!r}: at most {len(_CLUSTER_FOLDERS)} cluster partition folders")
    indexes = table.partition_indexes or default_partition_indexes(table.files_per_batch)
    if len(indexes) != table.files_per_batch or len(set(indexes)) != len(indexes) or min(indexes) < 0:
        raise ValueError(f"table {table.name!r}: partition_indexes must be {table.files_per_batch} distinct ints >= 0")
    parts = []
    pieces = _split(data, table.batches * table.files_per_batch)
    for b in range(table.batches):
        folder = str(b + 1) if table.layout == "batched" else _CLUSTER_FOLDERS[b]
        for f, index in enumerate(indexes):
            piece = pieces[b * table.files_per_batch + f]
            first = b == 0 and f == 0
            if piece.num_rows or (first and data.num_rows == 0 and empty_file):
                parts.append(_Part(folder, f"part-{index:05d}-{uid(folder, str(index))}.gz.parquet", piece))
    return parts


def _iso(moment: dt.datetime) -> str:
    # UNVERIFIED format: ISO 8601 UTC with milliseconds, like the other AWS JSON documents.
    if moment.tzinfo is None:
        raise ValueError(f"time {moment!r} must be time zone aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _arn_parts(source_arn: str) -> tuple[str, str]:
    parts = source_arn.split(":")
    if len(parts) < 7 or parts[0] != "arn" or parts[2] != "rds":
        raise ValueError(f"source_arn {source_arn!r} is not an RDS ARN")
    return parts[3], parts[4]


def default_kms_key_id(source_arn: str) -> str:
    """The KMS key ARN the writer records (and encrypts with) when none is given: same account and Region."""
    region, account = _arn_parts(source_arn)
    return f"arn:aws:kms:{region}:{account}:key/00000000-0000-4000-8000-000000000000"


def _gb(size: int) -> float:
    return size / 2**30  # GiB; AWS does not say GB or GiB (UNVERIFIED)


def export_root(s3_prefix: str, export_id: str) -> str:
    """The key prefix of the export: `<S3Prefix>/<export id>/` (no prefix -> `<export id>/`)."""
    prefix = s3_prefix.strip("/")
    return f"{prefix}/{export_id}/" if prefix else f"{export_id}/"


def render_export(
    *,
    engine: str,
    export_id: str,
    source_arn: str,
    s3_bucket: str,
    s3_prefix: str,
    tables: Sequence[SourceTable],
    snapshot_time: dt.datetime,
    tables_per_info_file: int = 100,
    extra_objects: dict[str, bytes] | None = None,
    write_success_markers: bool = True,
    seed: int = 0,
    empty_table_part_file: bool = True,
    export_status: str = "COMPLETE",
    iam_role_arn: str | None = None,
    kms_key_id: str | None = None,
    export_only: Sequence[str] = (),
    task_start_time: dt.datetime | None = None,
    row_group_rows: int | None = None,
) -> dict[str, bytes]:
    """Everything RDS writes under `<s3_prefix>/<export_id>/`, as {S3 key: body}. Pure and deterministic.

    - Part files per table and layout (see SourceTable), gzip Parquet (`parquet_bytes`), each cut into row groups
      of `row_group_rows` rows (default: DEFAULT_ROW_GROUPS_PER_FILE groups per file).
    - `_SUCCESS` (empty) in every folder that holds part files, when `write_success_markers`. UNVERIFIED:
      docs/aws-facts.md only says such markers are seen in practice; this is where Spark writes them.
    - Empty tables: one part file with the schema and 0 rows when `empty_table_part_file` (what Spark does
      for an empty result), else no file at all. UNVERIFIED which one RDS does: readers must accept both.
    - Skipped tables (docs/aws-facts.md rules, see `skip_reason`) write nothing and are not in perTableStatus;
      export_info gets a `warningMessage`, a JSON text shaped like DescribeExportTasks' WarningMessage
      (docs/aws-facts.md) with `skippedTables: [{"target", "reason"}]`. The key and element shape are UNVERIFIED.
    - export_tables_info_<id>_from_<n>_to_<m>.json per `tables_per_info_file` tables, n and m 1-based and
      inclusive (UNVERIFIED numbering), each `{"perTableStatus": [...]}` shaped as docs/aws-facts.md quotes.
    - export_info_<id>.json with the keys docs/aws-facts.md lists.
    `extra_objects` (key relative to the export root -> body) are added as is, e.g. to plant junk files.
    """
    engine = normalize_engine(engine)
    if tables_per_info_file < 1:
        raise ValueError("tables_per_info_file must be >= 1")
    if ":" in s3_prefix:
        raise ValueError("S3Prefix must not contain ':' (docs/aws-facts.md)")
    account = _arn_parts(source_arn)[1]
    root = export_root(s3_prefix, export_id)
    started = task_start_time or snapshot_time + dt.timedelta(minutes=5)
    clock = started + dt.timedelta(minutes=10)  # the restore before the first table (docs/aws-facts.md: long STARTING)
    objects: dict[str, bytes] = {}
    statuses: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    folders_seen: dict[str, str] = {}
    total_bytes = 0
    for table in tables:
        reason = skip_reason(engine, table)
        if reason is not None:
            skipped.append({"target": target_name(engine, table), "reason": reason})
            continue
        folder = table_folder(engine, table)
        if folder in folders_seen:
            raise ValueError(f"tables {folders_seen[folder]!r} and {table.name!r} both land in folder {folder!r}")
        folders_seen[folder] = table.name
        data = exported_table(engine, table)
        empty_file = empty_table_part_file if table.empty_part_file is None else table.empty_part_file
        parts = _parts(engine, table, data, seed, export_id, empty_file)
        complete = table.status == "COMPLETE"
        if not complete:
            parts = parts[: table.failed_files_written]
        table_bytes = 0
        for part in parts:
            directory = f"{root}{folder}/" + (f"{part.folder}/" if part.folder else "")
            body = parquet_bytes(part.rows, row_group_rows)
            objects[directory + part.name] = body
            table_bytes += len(body)
            if write_success_markers and complete:
                objects[directory + "_SUCCESS"] = b""
        total_bytes += table_bytes
        extraction_start = clock
        clock += dt.timedelta(seconds=30 + len(parts))
        statuses.append(_table_status(engine, table, parts, complete, table_bytes, extraction_start, clock))
    for index in range(0, len(statuses), tables_per_info_file):
        chunk = statuses[index : index + tables_per_info_file]
        name = f"export_tables_info_{export_id}_from_{index + 1}_to_{index + len(chunk)}.json"
        objects[root + name] = _json_bytes({"perTableStatus": chunk})
    info: dict[str, Any] = {
        "exportTaskIdentifier": export_id,
        "sourceArn": source_arn,
        "exportOnly": list(export_only),
        "snapshotTime": _iso(snapshot_time),
        "taskStartTime": _iso(started),
        "taskEndTime": _iso(clock + dt.timedelta(seconds=5)),
        "s3Bucket": s3_bucket,
        "s3Prefix": s3_prefix,
        "exportedFilesPath": f"s3://{s3_bucket}/{root}",
        "iamRoleArn": iam_role_arn or f"arn:aws:iam::{account}:role/rds-s3-export",
        "kmsKeyId": kms_key_id or default_kms_key_id(source_arn),
        "status": export_status,
        "percentProgress": 100,
        "totalExportedDataInGB": _gb(total_bytes),
    }
    if skipped:
        info["warningMessage"] = json.dumps(
            {"skippedTables": skipped, "skippedObjectives": [], "general": []}, separators=(",", ":")
        )
    objects[f"{root}export_info_{export_id}.json"] = _json_bytes(info)
    for key, body in (extra_objects or {}).items():
        objects[root + key.lstrip("/")] = body
    return dict(sorted(objects.items()))


def _table_status(
    engine: str,
    table: SourceTable,
    parts: list[_Part],
    complete: bool,
    size: int,
    start: dt.datetime,
    end: dt.datetime,
) -> dict[str, Any]:
    planned = table.batches * table.files_per_batch
    mappings = []
    for column in table.columns:
        rule = exported_type(engine, column.source_type)
        mappings.append(
            {
                "columnName": column.name,
                "originalType": rule.original_type,
                "expectedExportedType": rule.expected,
                "originalCharMaxLength": rule.char_max_length,
                "originalNumPrecision": rule.num_precision,
                "originalDateTimePrecision": rule.datetime_precision,
            }
        )
    # Key order and the time format are those of the real sample (docs/aws-facts.md "Export metadata files").
    entry: dict[str, Any] = {
        "tableStatistics": {
            "extractionStartTime": _table_time(start),
            "extractionEndTime": _table_time(end),
            "partitioningInfo": {
                "numberOfPartitions": planned,
                "numberOfCompletedPartitions": planned if complete else len(parts),
            },
        },
    }
    if table.schema_metadata:
        entry["schemaMetadata"] = {"originalTypeMappings": mappings}
    entry.update({"status": table.status, "sizeGB": _gb(size), "target": target_name(engine, table)})
    return entry


def _table_time(moment: dt.datetime) -> str:
    # The real sample prints "Jul 19, 2023, 11:21:00 PM" (English month, 12-hour clock, no zone: taken as UTC here,
    # UNVERIFIED). Built by hand: strftime's %b and %p follow the process locale.
    utc = moment.astimezone(dt.UTC)
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[utc.month - 1]
    hour = utc.hour % 12 or 12
    return f"{month} {utc.day}, {utc.year}, {hour}:{utc.minute:02d}:{utc.second:02d} {'AM' if utc.hour < 12 else 'PM'}"


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def write_export(s3_client: Any, *, sse_kms: bool = False, **kwargs: Any) -> str:
    """Puts every object of `render_export(**kwargs)` into the bucket; returns "s3://bucket/prefix/id/".

    RDS encrypts what it exports with the task's KMS key (docs/aws-facts.md "IAM and KMS": readers need kms:Decrypt);
    `sse_kms=True` does the same (SSE-KMS with `kms_key_id`, or `default_kms_key_id`), so a reader's copy
    path meets SSE-KMS sources. Off by default: the bucket's default encryption applies.
    """
    objects = render_export(**kwargs)
    bucket = kwargs["s3_bucket"]
    encryption: dict[str, str] = {}
    if sse_kms:
        key_id = kwargs.get("kms_key_id") or default_kms_key_id(kwargs["source_arn"])
        encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    for key, body in objects.items():
        s3_client.put_object(Bucket=bucket, Key=key, Body=body, **encryption)
    return f"s3://{bucket}/{export_root(kwargs['s3_prefix'], kwargs['export_id'])}"
