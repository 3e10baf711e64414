"""Type conversion: what the export writes for each source column type and value (docs/aws-facts.md "Type conversion
done by the export", from https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ExportSnapshot.data-types.html).

`exported_type` is the whole rule for one source type: the Arrow type whose Parquet encoding is what RDS writes, the
value converter (driver value -> stored value), and the originalTypeMappings words of export_tables_info.
`exported_table` converts every row of a SourceTable (the truth tests compare against). This module changes when a
type rule or a value's text form changes; where the converted rows land is `layout`'s business.

UNVERIFIED, marked next to the code:
- Text forms of PostgreSQL values exported as STRING (timestamps, intervals, money, arrays, json, numeric) follow
  PostgreSQL's own output with TimeZone=UTC, DateStyle ISO, IntervalStyle postgres.
- `originalType` is information_schema's data_type word (no modifiers): mirrored from a real PostgreSQL sample; for
  MySQL no real sample was found, so information_schema.COLUMNS.DATA_TYPE is an ASSUMPTION by analogy.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pyarrow as pa

from local.export_emulator.source import POSTGRESQL, SourceTable, normalize_engine

Converter = Callable[[Any], Any]
_T = TypeVar("_T")
_Clock = TypeVar("_Clock", dt.time, dt.datetime)


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


def _accepting(kind: str, accepted: tuple[type, ...], cast: Callable[[Any], _T]) -> Callable[[Any], _T]:
    """A converter that casts values of the `accepted` types and refuses every other value as a `kind`. bool is an
    int subclass to Python, but a driver's True is no number: it is accepted only where bool is named."""

    def convert(value: Any) -> _T:
        if isinstance(value, accepted) and (bool in accepted or not isinstance(value, bool)):
            return cast(value)
        raise _type_error(kind, value)

    return convert


_as_float = _accepting("floating point column", (int, float, decimal.Decimal), float)
_as_bool = _accepting("boolean column", (bool,), bool)
_as_bytes = _accepting("binary column", (bytes, bytearray, memoryview), bytes)
_as_text = _accepting("text column", (str,), str)


def _server_text_kept(convert: Callable[[Any], str]) -> Callable[[Any], str]:
    """`convert` for driver objects; a str is the server's own output text and is written as is. Where the driver
    hands back text (local/postgres/pg_source.py reads every column exported as STRING that way) nothing is
    re-printed."""

    @functools.wraps(convert)
    def keep_text_or_convert(value: Any) -> str:
        return value if isinstance(value, str) else convert(value)

    return keep_text_or_convert


@_server_text_kept
def _json_text(value: Any) -> str:
    # Drivers decode json/jsonb into dict/list/scalars; PostgreSQL jsonb and MySQL JSON print with ", " and
    # ": " separators, which is json.dumps' default. A str is taken as the server's own text. UNVERIFIED.
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


@_server_text_kept
def _pg_date(value: Any) -> str:
    # "infinity" and BC dates only reach here as the server's text.
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _type_error("date column", value)
    return _pg_date_text(value)


def _pg_date_text(value: dt.date) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _naive(kind: str, accepted: type[_Clock], value: Any) -> _Clock:
    """`value` for a `kind` without time zone column: an `accepted` (time or datetime) with no tzinfo."""
    if not isinstance(value, accepted):
        raise _type_error(f"{kind} column", value)
    if value.tzinfo is not None:
        raise ValueError(f"{kind} without time zone column got an aware value {value!r}")
    return value


@_server_text_kept
def _pg_time(value: Any) -> str:
    return _clock_text(_naive("time", dt.time, value))


def _clock_text(value: dt.time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}{pg_fraction(value.microsecond)}"


@_server_text_kept
def _pg_timetz(value: Any) -> str:
    if not isinstance(value, dt.time) or value.tzinfo is None:
        raise _type_error("time with time zone column (aware time required)", value)
    return _clock_text(value) + pg_offset(value.utcoffset())


@_server_text_kept
def _pg_timestamp(value: Any) -> str:
    moment = _naive("timestamp", dt.datetime, value)
    return f"{_pg_date_text(moment.date())} {_pg_time(moment.time())}"


@_server_text_kept
def _pg_timestamptz(value: Any) -> str:
    # UNVERIFIED: printed as PostgreSQL does with TimeZone=UTC ("2026-11-26 03:00:00.5+00"). A naive value
    # is refused: the driver always returns aware datetimes for timestamptz, so naive means a fixture bug.
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise _type_error("timestamp with time zone column (aware datetime required)", value)
    utc = value.astimezone(dt.UTC)
    return f"{_pg_date_text(utc.date())} {_pg_time(utc.time())}+00"


@_server_text_kept
def _pg_interval(value: Any) -> str:
    # UNVERIFIED: IntervalStyle "postgres" output of a timedelta ("1 day 02:03:04", "-00:00:01.5", "3 days").
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


@_server_text_kept
def _pg_money(value: Any) -> str:
    # UNVERIFIED: lc_monetary en_US.UTF-8 output ("$1,234.56", "-$0.50"). Drivers often return the text.
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


@_server_text_kept
def _pg_inet(value: Any) -> str:
    # PostgreSQL prints a host inet without its /32 (/128) and a network with its prefix.
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


@_server_text_kept
def _pg_array(value: Any) -> str:
    # PostgreSQL array literal, as text[]::text prints it: {a,"b c",NULL}.
    if not isinstance(value, (list, tuple)):
        raise _type_error("array column", value)
    return "{" + ",".join(_pg_array_element(v) for v in value) + "}"


def _str_of(value: Any) -> str:
    # Ranges, xml, macaddr, enums, composites: drivers return text or an object whose str() is the text.
    return value if isinstance(value, str) else str(value)


@_server_text_kept
def _mysql_date(value: Any) -> str:
    # Zero dates ("0000-00-00") only reach here as the server's text.
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _type_error("DATE column", value)
    return _pg_date_text(value)


@_server_text_kept
def _mysql_time(value: Any) -> str:
    # MySQL TIME is a duration (-838:59:59 .. 838:59:59); drivers return timedelta. UNVERIFIED: printed the
    # way MySQL prints it (hours may exceed 24, fraction only when non zero).
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

    @_server_text_kept
    def convert(value: Any) -> str:
        # Drivers return a SET as a Python set; MySQL prints members in definition order, comma separated.
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


# The rows of AWS's "PostgreSQL data type mapping to Parquet" table (Aurora User Guide, "Considerations for DB cluster
# snapshot exports"; docs/aws-facts.md "Type conversion done by the export") exported as BYTE_ARRAY STRING and not
# handled above: BIT, BIT VARYING, ENUM, TEXT SEARCH, XML; the geometric types BOX, CIRCLE, LINE, LINESEGMENT, PATH,
# POINT, POLYGON; COMPOSITE, MACADDR, PG_LSN. Their value is the server's text form (UNVERIFIED, as for every string).
_PG_TEXT_TYPES = frozenset({
    "bit", "bit varying", "varbit", "tsvector", "tsquery", "xml", "box", "circle", "line", "lseg", "path", "point",
    "polygon", "macaddr", "macaddr8", "pg_lsn", "enum", "user-defined", "composite",
})  # fmt: skip


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
    if base in _PG_TEXT_TYPES or base.endswith(("range", "multirange")):
        return ExportedType(string, _str_of, _UTF8)
    if base.startswith("domain ") and " over " in base:
        # "domain <name> over <base>" (local/postgres/pg_source.py): AWS's DOMAIN row says STRING whatever the base; the
        # lengths and precisions are the base's, as information_schema reports them for a domain column
        inner = _pg_type(_normalize_type(text.split(" over ", 1)[1]), source_type)
        return replace(inner, arrow_type=string, convert=_str_of, expected=_UTF8)
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
    "varbit": "bit varying",
}  # fmt: skip
# Ranges and multiranges PostgreSQL itself defines keep their name in information_schema; others are USER-DEFINED.
_PG_BUILTIN_RANGES = frozenset(
    f"{name}{suffix}" for name in ("int4", "int8", "num", "ts", "tstz", "date") for suffix in ("range", "multirange")
)


def _pg_data_type(text: str) -> str:
    """information_schema.columns.data_type of a PostgreSQL type spelled as format_type() does. For a domain,
    information_schema gives its base type's word (domain_name is another column, which the real sample's
    originalTypeMappings does not carry): UNVERIFIED what the export writes there; the first real night tells."""
    base = _strip_params(text)
    if base.startswith("domain ") and " over " in base:
        return _pg_data_type(text.split(" over ", 1)[1])
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
