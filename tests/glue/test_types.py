"""Parquet column -> Athena type, from real Parquet footers written the way the export writes them."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from local.export_emulator.conversion import exported_arrow_type
from sor_job.column_types import ParquetColumn, UnsupportedType, athena_type
from sor_job.errors import TableError


def footer_columns(schema: pa.Schema) -> dict[str, ParquetColumn]:
    """Writes an empty file with this schema the way the export does and reads its footer back."""
    buffer = io.BytesIO()
    pq.write_table(
        schema.empty_table(), buffer, compression="gzip", store_decimal_as_integer=True, coerce_timestamps=None
    )
    parquet_schema = pq.ParquetFile(io.BytesIO(buffer.getvalue())).schema
    return {
        parquet_schema.column(i).name: ParquetColumn.from_arrow(parquet_schema.column(i))
        for i in range(len(parquet_schema))
    }


def type_of(arrow_type: pa.DataType) -> str:
    return athena_type(footer_columns(pa.schema([("c", arrow_type)]))["c"])


@pytest.mark.parametrize(
    ("arrow_type", "physical", "expected"),
    [
        (pa.int8(), "INT32", "tinyint"),
        (pa.int16(), "INT32", "smallint"),
        (pa.int32(), "INT32", "int"),
        (pa.int64(), "INT64", "bigint"),
        (pa.uint8(), "INT32", "smallint"),
        (pa.uint16(), "INT32", "int"),
        (pa.uint32(), "INT32", "bigint"),
        (pa.float32(), "FLOAT", "float"),
        (pa.float64(), "DOUBLE", "double"),
        (pa.bool_(), "BOOLEAN", "boolean"),
        (pa.decimal128(9, 2), "INT32", "decimal(9,2)"),
        (pa.decimal128(18, 4), "INT64", "decimal(18,4)"),
        (pa.decimal128(20, 0), "FIXED_LEN_BYTE_ARRAY", "decimal(20,0)"),
        (pa.decimal128(38, 10), "FIXED_LEN_BYTE_ARRAY", "decimal(38,10)"),
        (pa.timestamp("ms"), "INT64", "timestamp"),
        (pa.timestamp("us", tz="UTC"), "INT64", "timestamp"),
        (pa.date32(), "INT32", "date"),
        (pa.string(), "BYTE_ARRAY", "string"),
        (pa.binary(), "BYTE_ARRAY", "binary"),
        (pa.binary(16), "FIXED_LEN_BYTE_ARRAY", "binary"),
    ],
)
def test_every_parquet_type_the_export_writes_maps_to_the_athena_type_that_reads_it(arrow_type, physical, expected):
    column = footer_columns(pa.schema([("c", arrow_type)]))["c"]
    assert column.physical == physical
    assert athena_type(column) == expected


# What docs/aws-facts.md says the export writes for each engine's source types, end to end through the writer.
POSTGRESQL = {
    "bigint": "bigint",
    "integer": "int",
    "smallint": "smallint",
    "real": "float",
    "double precision": "double",
    "boolean": "boolean",
    "bytea": "binary",
    "numeric(12,2)": "string",
    "money": "string",
    "date": "string",
    "timestamp with time zone": "string",
    "interval": "string",
    "uuid": "string",
    "jsonb": "string",
    "text[]": "string",
    "character varying(40)": "string",
}
MYSQL = {
    "bigint": "bigint",
    "bigint unsigned": "decimal(20,0)",
    "int unsigned": "bigint",
    "int": "int",
    "mediumint": "int",
    "smallint": "int",
    "tinyint": "int",
    "year": "int",
    "float": "double",
    "double": "double",
    "decimal(5,2)": "decimal(5,2)",
    "decimal(12,3)": "decimal(12,3)",
    "decimal(30,4)": "decimal(30,4)",
    "decimal(40,5)": "string",
    "datetime": "timestamp",
    "timestamp": "timestamp",
    "date": "string",
    "time": "string",
    "varchar(20)": "string",
    "json": "string",
    "blob": "binary",
}


@pytest.mark.parametrize(("engine", "source_type", "expected"), [
    *(("postgresql", s, e) for s, e in POSTGRESQL.items()),
    *(("mysql", s, e) for s, e in MYSQL.items()),
])  # fmt: skip
def test_source_types_of_both_engines_land_on_a_readable_athena_type(engine, source_type, expected):
    assert type_of(exported_arrow_type(engine, source_type)) == expected


@pytest.mark.parametrize(
    ("column", "expected"),
    [
        (ParquetColumn("s", "BYTE_ARRAY", {"Type": "None"}, converted="UTF8"), "string"),
        (ParquetColumn("d", "FIXED_LEN_BYTE_ARRAY", {"Type": "None"}, "DECIMAL", 20, 0), "decimal(20,0)"),
        (ParquetColumn("i", "INT32", {"Type": "None"}, converted="INT_16"), "smallint"),
        (ParquetColumn("t", "INT64", {"Type": "None"}, converted="TIMESTAMP_MILLIS"), "timestamp"),
        (ParquetColumn("t", "INT64", {"Type": "None"}, converted="TIMESTAMP_MICROS"), "timestamp"),
        (ParquetColumn("t", "INT96", {"Type": "None"}), "timestamp"),
        (ParquetColumn("e", "BYTE_ARRAY", {"Type": "Enum"}), "string"),
        (ParquetColumn("j", "BYTE_ARRAY", {"Type": "Json"}), "string"),
    ],
)
def test_legacy_converted_type_annotations_are_understood(column, expected):
    assert athena_type(column) == expected


@pytest.mark.parametrize(
    ("arrow_type", "words"),
    [
        (pa.time64("us"), "Time"),
        (pa.timestamp("ns"), "nanoseconds"),
        (pa.list_(pa.int32()), "nested"),
        (pa.struct([("a", pa.int32())]), "nested"),
        (pa.uint64(), "no Athena integer type"),
        (pa.float16(), "has no known Athena type"),
    ],
)
def test_types_no_athena_type_reads_correctly_fail_loudly_naming_the_column(arrow_type, words):
    columns = footer_columns(pa.schema([("odd_col", arrow_type)]))
    column = next(iter(columns.values()))
    with pytest.raises(UnsupportedType, match=words) as error:
        athena_type(column)
    assert "odd_col" in str(error.value)


def test_decimal_beyond_athena_precision_fails():
    column = ParquetColumn("big", "FIXED_LEN_BYTE_ARRAY", {"Type": "Decimal", "precision": 40, "scale": 2})
    with pytest.raises(UnsupportedType, match=r"decimal\(40,2\)"):
        athena_type(column)


def test_annotation_on_the_wrong_physical_type_is_not_guessed():
    with pytest.raises(UnsupportedType, match="string annotation"):
        athena_type(ParquetColumn("x", "INT32", {"Type": "String"}))
    with pytest.raises(UnsupportedType, match="date"):
        athena_type(ParquetColumn("x", "INT64", {"Type": "Date"}))
    with pytest.raises(UnsupportedType, match="integer"):
        athena_type(ParquetColumn("x", "INT64", {"Type": "Int", "bitWidth": 16, "isSigned": True}))


def test_unsupported_type_is_a_table_error_so_only_that_table_fails():
    assert issubclass(UnsupportedType, TableError)


def test_a_flat_column_whose_name_holds_a_dot_is_that_flat_column_not_a_nested_one():
    """pyarrow's ColumnSchema.path is the ColumnPath joined with '.', its .name is the leaf field's own name: a flat
    `a.b` has path == name, a field `b` inside a group `a` has path `a.b` and name `b`."""
    columns = footer_columns(pa.schema([("a.b", pa.int64()), ("s", pa.struct([("x", pa.int32())]))]))
    flat = columns["a.b"]
    assert (flat.name, flat.nested) == ("a.b", False)
    assert athena_type(flat) == "bigint"
    nested = next(c for c in columns.values() if c.name != "a.b")
    assert nested.nested
    with pytest.raises(UnsupportedType, match="nested"):
        athena_type(nested)
