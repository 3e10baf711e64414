"""Type conversion (local/export_emulator/conversion.py): the Parquet types, values and originalType words the
export writes for each source type, read back from the bytes.

Expected Parquet types are spelled out here from docs/aws-facts.md "Type conversion done by the export" (the
specification), never computed with the module under test.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import uuid
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.export_emulator.conversion import exported_arrow_type, exported_type, to_exported_values
from local.export_emulator.source import SourceColumn, SourceTable
from tests.export_emulator.reading import BINARY, MAPPING_KEYS, STRING, one_column_file, parts_of, render, tables_info
from tests.exports import MY, PG, make_table

# -- type conversion, read back from the Parquet footer ---------------------------------------------------------
PG_PHYSICAL = {
    "bigint": ("INT64", "NONE"),
    "integer": ("INT32", "NONE"),
    "int4": ("INT32", "NONE"),
    "smallint": ("INT32", "INT_16"),
    "real": ("FLOAT", "NONE"),
    "double precision": ("DOUBLE", "NONE"),
    "boolean": ("BOOLEAN", "NONE"),
    "bytea": BINARY,
    "numeric(12,2)": STRING,
    "numeric": STRING,
    "decimal(40,10)": STRING,
    "money": STRING,
    "date": STRING,
    "time": STRING,
    "time with time zone": STRING,
    "timestamp": STRING,
    "timestamp(3) without time zone": STRING,
    "timestamp with time zone": STRING,
    "timestamptz": STRING,
    "interval": STRING,
    "text[]": STRING,
    "integer[]": STRING,
    "json": STRING,
    "jsonb": STRING,
    "uuid": STRING,
    "xml": STRING,
    "inet": STRING,
    "cidr": STRING,
    "macaddr": STRING,
    "int4range": STRING,
    "tstzrange": STRING,
    "USER-DEFINED": STRING,
    "character varying(40)": STRING,
    "varchar(40)": STRING,
    "char(3)": STRING,
    "text": STRING,
}


MYSQL_PHYSICAL = {
    "bigint": ("INT64", "NONE"),
    "bigint(20)": ("INT64", "NONE"),
    "int unsigned": ("INT64", "NONE"),
    "int(10) unsigned": ("INT64", "NONE"),
    "mediumint unsigned": ("INT64", "NONE"),
    "int": ("INT32", "NONE"),
    "mediumint": ("INT32", "NONE"),
    "smallint": ("INT32", "NONE"),
    "tinyint": ("INT32", "NONE"),
    "tinyint(1)": ("INT32", "NONE"),
    "tinyint unsigned": ("INT32", "NONE"),
    "smallint(5) unsigned zerofill": ("INT32", "NONE"),
    "year": ("INT32", "NONE"),
    "float": ("DOUBLE", "NONE"),
    "double": ("DOUBLE", "NONE"),
    "float(7,4)": ("DOUBLE", "NONE"),
    "double unsigned": ("DOUBLE", "NONE"),
    "date": STRING,
    "time": STRING,
    "time(6)": STRING,
    "char(2)": STRING,
    "varchar(40)": STRING,
    "text": STRING,
    "longtext": STRING,
    "enum('a','b')": STRING,
    "set('x','y')": STRING,
    "json": STRING,
    "decimal(40,5)": STRING,
    "binary(16)": BINARY,
    "varbinary(255)": BINARY,
    "blob": BINARY,
    "longblob": BINARY,
    "bit(1)": BINARY,
    "geometry": BINARY,
}


@pytest.mark.parametrize(("source_type", "expected"), PG_PHYSICAL.items())
def test_postgresql_types_are_written_as_aws_documents(source_type: str, expected: tuple[str, str]) -> None:
    column = one_column_file(PG, source_type).schema.column(0)
    assert (column.physical_type, column.converted_type) == expected


@pytest.mark.parametrize(("source_type", "expected"), MYSQL_PHYSICAL.items())
def test_mysql_types_are_written_as_aws_documents(source_type: str, expected: tuple[str, str]) -> None:
    column = one_column_file(MY, source_type).schema.column(0)
    assert (column.physical_type, column.converted_type) == expected


@pytest.mark.parametrize(
    ("source_type", "physical", "length", "precision", "scale"),
    [
        ("bigint unsigned", "FIXED_LEN_BYTE_ARRAY", 9, 20, 0),  # AWS: FIXED_LEN_BYTE_ARRAY(9) DECIMAL(20,0)
        ("serial", "FIXED_LEN_BYTE_ARRAY", 9, 20, 0),
        ("decimal(9,2)", "INT32", 0, 9, 2),
        ("decimal(10,2)", "INT64", 0, 10, 2),
        ("numeric(18,4)", "INT64", 0, 18, 4),
        ("decimal(19,0)", "FIXED_LEN_BYTE_ARRAY", 9, 19, 0),
        ("decimal(38,10)", "FIXED_LEN_BYTE_ARRAY", 16, 38, 10),
        ("decimal", "INT64", 0, 10, 0),  # MySQL's bare DECIMAL is DECIMAL(10,0)
    ],
)
def test_mysql_decimals_use_integer_storage_by_precision(
    source_type: str, physical: str, length: int, precision: int, scale: int
) -> None:
    column = one_column_file(MY, source_type).schema.column(0)
    assert column.physical_type == physical
    assert column.converted_type == "DECIMAL"
    assert (column.precision, column.scale) == (precision, scale)
    if physical == "FIXED_LEN_BYTE_ARRAY":
        assert column.length == length


@pytest.mark.parametrize("source_type", ["datetime", "datetime(6)", "timestamp", "timestamp(3)"])
def test_mysql_datetimes_are_int64_micros_adjusted_to_utc(source_type: str) -> None:
    column = one_column_file(MY, source_type).schema.column(0)
    assert column.physical_type == "INT64"
    assert column.converted_type == "TIMESTAMP_MICROS"
    assert "isAdjustedToUTC=true" in str(column.logical_type)
    assert "microseconds" in str(column.logical_type)


@pytest.mark.parametrize(
    ("source_type", "original_type"),
    [
        ("bit(3)", "bit"), ("bit varying(5)", "bit varying"), ("varbit", "bit varying"), ("tsvector", "tsvector"),
        ("tsquery", "tsquery"), ("point", "point"), ("line", "line"), ("lseg", "lseg"), ("box", "box"),
        ("path", "path"), ("polygon", "polygon"), ("circle", "circle"), ("pg_lsn", "pg_lsn"),
        ("macaddr8", "macaddr8"), ("domain app.year over integer", "integer"),
        ("domain app.price over numeric(10,2)", "numeric"),
    ],
)  # fmt: skip
def test_every_type_of_aws_table_is_exported_as_a_string(source_type: str, original_type: str) -> None:
    """AWS's "PostgreSQL data type mapping to Parquet" rows BIT, BIT VARYING, TEXT SEARCH, the geometric types,
    PG_LSN, MACADDR and DOMAIN: BYTE_ARRAY STRING (docs/aws-facts.md), whatever a domain's base."""
    rule = exported_type(PG, source_type)
    assert rule.arrow_type == pa.string()
    assert rule.original_type == original_type


@pytest.mark.parametrize(
    ("engine", "source_type"),
    [
        (PG, "geometry"),  # PostGIS: not in AWS's table
        (PG, "hstore"),
        (PG, "regclass"),  # OBJECT IDENTIFIER: "N/A" in AWS's table
        (PG, "bigint unsigned"),
        (PG, ""),
        (MY, "uuid"),
        (MY, "jsonb"),
        (MY, "timestamptz"),
        (MY, "decimal(x,2)"),
    ],
)
def test_unknown_types_are_refused(engine: str, source_type: str) -> None:
    with pytest.raises(ValueError, match=r"documented conversions|empty source type|cannot read the precision"):
        exported_arrow_type(engine, source_type)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown engine"):
        exported_arrow_type("oracle-ee", "number")


def test_arrow_types_for_the_api() -> None:
    assert exported_arrow_type(PG, "smallint") == pa.int16()
    assert exported_arrow_type(PG, "timestamp with time zone") == pa.string()
    assert exported_arrow_type(MY, "bigint unsigned") == pa.decimal128(20, 0)
    assert exported_arrow_type(MY, "DATETIME") == pa.timestamp("us", tz="UTC")
    assert exported_arrow_type(MY, "Decimal(41, 2)") == pa.string()


# -- value conversion -------------------------------------------------------------------------------------------
BRT = dt.timezone(dt.timedelta(hours=-3))


PG_TEXT = [
    ("numeric(12,2)", Decimal("1.5"), "1.50"),
    ("numeric(12,2)", 7, "7.00"),
    ("numeric", Decimal("3.14159265358979323846264338327950288"), "3.14159265358979323846264338327950288"),
    ("numeric", Decimal("NaN"), "NaN"),
    ("numeric", Decimal("1E+3"), "1000"),
    ("money", Decimal("-1234.5"), "-$1,234.50"),
    ("money", "$3.00", "$3.00"),
    ("date", dt.date(33, 2, 1), "0033-02-01"),
    ("time", dt.time(3, 4, 5), "03:04:05"),
    ("time", dt.time(3, 4, 5, 120000), "03:04:05.12"),
    ("time with time zone", dt.time(3, 4, 5, tzinfo=BRT), "03:04:05-03"),
    ("timetz", dt.time(1, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))), "01:00:00+05:30"),
    ("timestamp", dt.datetime(2026, 11, 26, 23, 59, 59, 999999), "2026-11-26 23:59:59.999999"),
    ("timestamptz", dt.datetime(2026, 11, 26, 22, 30, tzinfo=BRT), "2026-11-27 01:30:00+00"),
    ("interval", dt.timedelta(days=1, hours=2, minutes=3, seconds=4), "1 day 02:03:04"),
    ("interval", dt.timedelta(days=3), "3 days"),
    ("interval", dt.timedelta(0), "00:00:00"),
    ("interval", dt.timedelta(seconds=-1.5), "-00:00:01.5"),
    ("uuid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("json", {"a": [1, None]}, '{"a": [1, null]}'),
    ("jsonb", {"ç": "ã"}, '{"ç": "ã"}'),
    ("jsonb", '{"raw":1}', '{"raw":1}'),
    ("text[]", ["a", "b c", None, "", "NULL", 'q"'], '{a,"b c",NULL,"","NULL","q\\""}'),
    ("integer[]", [[1, 2], [3, 4]], "{{1,2},{3,4}}"),
    ("inet", ipaddress.ip_interface("192.168.0.1/32"), "192.168.0.1"),
    ("inet", ipaddress.ip_interface("10.1.0.0/16"), "10.1.0.0/16"),
    ("cidr", ipaddress.ip_network("10.0.0.0/8"), "10.0.0.0/8"),
    ("varchar(5)", "ação", "ação"),
    ("USER-DEFINED", "happy", "happy"),
]


@pytest.mark.parametrize(("source_type", "value", "text"), PG_TEXT)
def test_postgresql_values_become_their_text(source_type: str, value: Any, text: str) -> None:
    assert to_exported_values(PG, source_type, [value, None]).to_pylist() == [text, None]


def test_postgresql_native_values_round_trip() -> None:
    table = make_table(
        "t",
        {
            "s": "smallint",
            "i": "integer",
            "b": "bigint",
            "r": "real",
            "d": "double precision",
            "f": "boolean",
            "y": "bytea",
        },
        [(-32768, 2**31 - 1, -(2**63), 0.5, 1e300, False, b"\x00\xff"), (None,) * 7],
    )
    (key,) = [k for k in render([table]) if k.endswith(".parquet")]
    back = pq.read_table(io.BytesIO(render([table])[key]))
    assert back.column("s").type == pa.int16()
    assert back.to_pylist()[0] == {
        "s": -32768,
        "i": 2**31 - 1,
        "b": -(2**63),
        "r": 0.5,
        "d": 1e300,
        "f": False,
        "y": b"\x00\xff",
    }
    assert set(back.to_pylist()[1].values()) == {None}


MYSQL_VALUES = [
    ("bigint unsigned", 2**64 - 1, Decimal(2**64 - 1)),
    ("int unsigned", 2**32 - 1, 2**32 - 1),
    ("tinyint(1)", True, 1),
    ("decimal(10,2)", Decimal("-12.5"), Decimal("-12.50")),
    ("decimal(40,5)", Decimal("1.5"), "1.50000"),
    ("datetime", dt.datetime(2026, 11, 26, 3, 0, 0, 5), dt.datetime(2026, 11, 26, 3, 0, 0, 5, tzinfo=dt.UTC)),
    ("timestamp", dt.datetime(2026, 11, 26, 0, 0, tzinfo=BRT), dt.datetime(2026, 11, 26, 3, 0, tzinfo=dt.UTC)),
    ("date", dt.date(2026, 2, 3), "2026-02-03"),
    ("date", "0000-00-00", "0000-00-00"),
    ("time", dt.timedelta(hours=-838, minutes=-59, seconds=-59), "-838:59:59"),
    ("time(6)", dt.timedelta(seconds=1, microseconds=500), "00:00:01.0005"),
    ("year", 2155, 2155),
    ("set('red','green','blue')", {"blue", "red"}, "red,blue"),
    ("enum('s','m')", "m", "m"),
    ("json", [1, {"a": "b"}], '[1, {"a": "b"}]'),
    ("bit(12)", 0b101010101010, b"\x0a\xaa"),
    ("bit(1)", b"\x01", b"\x01"),
    ("blob", bytearray(b"xy"), b"xy"),
    ("varbinary(4)", memoryview(b"ab"), b"ab"),
    ("double", Decimal("0.5"), 0.5),
]


@pytest.mark.parametrize(("source_type", "value", "expected"), MYSQL_VALUES)
def test_mysql_values_are_converted(source_type: str, value: Any, expected: Any) -> None:
    assert to_exported_values(MY, source_type, [value, None]).to_pylist() == [expected, None]


@pytest.mark.parametrize(
    ("engine", "source_type", "value", "message"),
    [
        (PG, "timestamptz", dt.datetime(2026, 1, 1), "aware"),
        (PG, "timestamp", dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "aware"),
        (PG, "numeric(5,2)", 1.5, "float"),
        (PG, "numeric(5,2)", Decimal("1.234"), "scale"),
        (PG, "smallint", 40000, "out of range"),
        (PG, "integer", "12", "str"),
        (PG, "boolean", 1, "int"),
        (PG, "uuid", 12, "int"),
        (PG, "double precision", True, "bool"),  # bool is an int to Python, no number to the export
        (PG, "real", "1.5", "str"),
        (PG, "bytea", "\\x00", "str"),
        (PG, "text", b"x", "bytes"),
        (PG, "boolean", "t", "str"),
        (MY, "bigint unsigned", -1, "range"),
        (MY, "bigint unsigned", 2**64, "range"),
        (MY, "decimal(10,2)", Decimal("1.001"), "scale"),
        (MY, "decimal(4,2)", Decimal("123.45"), "out of range"),
        (MY, "datetime", dt.date(2026, 1, 1), "date"),
        (MY, "set('a','b')", {"c"}, "not among"),
        (MY, "varchar(3)", 12, "int"),
    ],
)
def test_bad_values_are_refused(engine: str, source_type: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        to_exported_values(engine, source_type, [value])


def test_not_null_columns_are_required_fields_and_refuse_nulls() -> None:
    table = SourceTable(
        "shop", "public", "t", [SourceColumn("id", "bigint", not_null=True), SourceColumn("v", "text")], [(1, None)]
    )
    (key,) = parts_of(render([table]), "shop/public.t")
    schema = pq.ParquetFile(io.BytesIO(render([table])[key])).schema
    assert [schema.column(i).max_definition_level for i in range(2)] == [0, 1]  # 0 = REQUIRED
    table.rows = [(None, "x")]
    with pytest.raises(ValueError, match="NOT NULL"):
        render([table])


def test_a_table_without_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="no columns"):
        render([make_table("t", {})])


@given(
    precision=st.integers(min_value=1, max_value=38),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_mysql_decimals_round_trip_at_every_precision(precision: int, data: st.DataObject) -> None:
    scale = data.draw(st.integers(min_value=0, max_value=precision))
    unscaled = data.draw(st.integers(min_value=-(10**precision) + 1, max_value=10**precision - 1))
    value = Decimal(unscaled).scaleb(-scale, context=Context(prec=100))  # the default 28 digits would round
    table = make_table("t", {"d": f"decimal({precision},{scale})"}, [(value,)], schema=None)
    (key,) = parts_of(render([table], MY), "shop/shop.t")
    back = pq.read_table(io.BytesIO(render([table], MY)[key])).column("d").to_pylist()
    assert back == [value]


# -- originalType words and expectedExportedType ----------------------------------------------------------------
# Source type as declared -> (originalType, originalCharMaxLength, originalNumPrecision, originalDateTimePrecision),
# written from information_schema.columns of PostgreSQL 15 (data_type, character_maximum_length, numeric_precision
# of numeric only, datetime_precision; NULL -> 0), the words the real sample uses. tests/test_pg_source.py checks
# the same against a live server.
PG_ORIGINAL = {
    "numeric(12,2)": ("numeric", 0, 12, 0),
    "numeric(38,10)": ("numeric", 0, 38, 0),
    "decimal(5)": ("numeric", 0, 5, 0),
    "numeric": ("numeric", 0, 0, 0),
    "character varying(40)": ("character varying", 40, 0, 0),
    "varchar": ("character varying", 0, 0, 0),
    "character(3)": ("character", 3, 0, 0),
    "char": ("character", 1, 0, 0),
    "text": ("text", 0, 0, 0),
    "timestamp with time zone": ("timestamp with time zone", 0, 0, 6),
    "timestamptz(3)": ("timestamp with time zone", 0, 0, 3),
    "timestamp(0) without time zone": ("timestamp without time zone", 0, 0, 0),
    "time without time zone": ("time without time zone", 0, 0, 6),
    "time(2) with time zone": ("time with time zone", 0, 0, 2),
    "date": ("date", 0, 0, 0),
    "interval": ("interval", 0, 0, 6),
    "text[]": ("ARRAY", 0, 0, 0),
    "integer[]": ("ARRAY", 0, 0, 0),
    "USER-DEFINED": ("USER-DEFINED", 0, 0, 0),
    "jsonb": ("jsonb", 0, 0, 0),
    "uuid": ("uuid", 0, 0, 0),
    "money": ("money", 0, 0, 0),
    "tstzrange": ("tstzrange", 0, 0, 0),
    "int4": ("integer", 0, 0, 0),
    "float8": ("double precision", 0, 0, 0),
    "float(10)": ("real", 0, 0, 0),
    "bool": ("boolean", 0, 0, 0),
}


# ASSUMPTION (no real Aurora MySQL sample found): information_schema.COLUMNS.DATA_TYPE words, mirroring PostgreSQL.
MYSQL_ORIGINAL = {
    "decimal(12,2)": ("decimal", 0, 12, 0),
    "numeric(50,4)": ("decimal", 0, 50, 0),
    "varchar(80)": ("varchar", 80, 0, 0),
    "char(2)": ("char", 2, 0, 0),
    "bigint unsigned": ("bigint", 0, 0, 0),
    "int(11) unsigned zerofill": ("int", 0, 0, 0),
    "tinyint(1)": ("tinyint", 0, 0, 0),
    "bool": ("tinyint", 0, 0, 0),
    "datetime(3)": ("datetime", 0, 0, 3),
    "timestamp": ("timestamp", 0, 0, 0),
    "date": ("date", 0, 0, 0),
    "time(6)": ("time", 0, 0, 6),
    "enum('a','b')": ("enum", 0, 0, 0),
    "set('x','y')": ("set", 0, 0, 0),
    "json": ("json", 0, 0, 0),
    "double precision": ("double", 0, 0, 0),
    "longblob": ("longblob", 0, 0, 0),
    "year": ("year", 0, 0, 0),
}


@pytest.mark.parametrize(("engine", "expected"), [(PG, PG_ORIGINAL), (MY, MYSQL_ORIGINAL)], ids=["pg", "mysql"])
def test_original_type_mappings_use_information_schema_words(engine: str, expected: dict[str, tuple]) -> None:
    table = make_table("t", {f"c{i}": t for i, t in enumerate(expected)}, [], schema="public" if engine == PG else None)
    (status,) = tables_info(render([table], engine))
    mappings = status["schemaMetadata"]["originalTypeMappings"]
    assert all(set(m) == MAPPING_KEYS for m in mappings)  # in particular: no scale key, as in every real sample
    got = {
        source: (
            m["originalType"],
            m["originalCharMaxLength"],
            m["originalNumPrecision"],
            m["originalDateTimePrecision"],
        )
        for source, m in zip(expected, mappings, strict=True)
    }
    assert got == expected
    assert not [m for m in mappings if "(" in m["originalType"]]


def test_mysql_expected_exported_types_name_the_physical_storage() -> None:
    table = make_table("t", {"u": "bigint unsigned", "d": "decimal(9,2)", "ts": "datetime"}, [], schema=None)
    (status,) = tables_info(render([table], MY))
    expected = [m["expectedExportedType"] for m in status["schemaMetadata"]["originalTypeMappings"]]
    assert expected == ["fixed_len_byte_array(9) (DECIMAL(20,0))", "int32 (DECIMAL(9,2))", "int64 (TIMESTAMP_MICROS)"]
