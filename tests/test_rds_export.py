"""The export writer writes what docs/aws-facts.md says RDS writes; every check parses the bytes back with pyarrow.

Expected Parquet types are spelled out here from docs/aws-facts.md "Type conversion done by the export" (the
specification), never computed with the module under test.
"""

from __future__ import annotations

import datetime as dt
import io
import ipaddress
import json
import os
import re
import subprocess
import sys
import uuid
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from local.export_emulator.conversion import exported_arrow_type, exported_table, to_exported_values
from local.export_emulator.layout import default_partition_indexes, path_name, skip_reason, table_folder
from local.export_emulator.render import render_export
from local.export_emulator.source import SourceColumn, SourceTable
from tests.exports import (
    EXPORT_BUCKET,
    EXPORT_ID,
    EXPORT_PREFIX,
    MY,
    PG,
    export_kwargs,
    make_large_table,
    make_table,
    mysql_sample_tables,
    pg_sample_tables,
    render_sample_export,
    write_sample_export,
)

ROOT = f"{EXPORT_PREFIX}/{EXPORT_ID}/"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
STRING = ("BYTE_ARRAY", "UTF8")
BINARY = ("BYTE_ARRAY", "NONE")


# -- helpers -------------------------------------------------------------------------------------------------
def render(tables: list[SourceTable], engine: str = PG, **kwargs: Any) -> dict[str, bytes]:
    return render_sample_export(engine=engine, tables=tables, **kwargs)


def parts_of(objects: dict[str, bytes], folder: str) -> list[str]:
    return sorted(k for k in objects if k.startswith(f"{ROOT}{folder}/") and k.endswith(".parquet"))


def read_folder(objects: dict[str, bytes], folder: str) -> pa.Table:
    files = [pq.read_table(io.BytesIO(objects[k])) for k in parts_of(objects, folder)]
    assert files, f"no part files under {folder}"
    return pa.concat_tables(files)


def column_types(body: bytes) -> dict[str, tuple[str, str]]:
    schema = pq.ParquetFile(io.BytesIO(body)).schema
    return {
        schema.column(i).name: (schema.column(i).physical_type, schema.column(i).converted_type)
        for i in range(len(schema))
    }


def one_column_file(engine: str, source_type: str) -> pq.ParquetFile:
    table = make_table("t", {"c": source_type}, [(None,)], schema="public" if engine == PG else None)
    objects = render([table], engine)
    (key,) = [k for k in objects if k.endswith(".parquet")]
    return pq.ParquetFile(io.BytesIO(objects[key]))


def tables_info(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    keys = sorted(k for k in objects if "/export_tables_info_" in k)
    return [s for k in keys for s in json.loads(objects[k])["perTableStatus"]]


def export_info(objects: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(objects[f"{ROOT}export_info_{EXPORT_ID}.json"])


# -- type conversion, read back from the Parquet footer ------------------------------------------------------
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
    ("engine", "source_type"),
    [
        (PG, "tsvector"),
        (PG, "geometry"),
        (PG, "point"),
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


# -- value conversion ----------------------------------------------------------------------------------------
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


# -- folders, layouts, partition indexes ---------------------------------------------------------------------
def test_batched_layout_names_and_rows() -> None:
    rows = [(n, f"v{n}") for n in range(20)]
    table = make_table("t", {"id": "bigint", "v": "text"}, rows, batches=2, files_per_batch=3)
    objects = render([table])
    keys = parts_of(objects, "shop/public.t")
    pattern = re.compile(rf"^{ROOT}shop/public\.t/([12])/part-(\d{{5}})-{UUID}\.gz\.parquet$")
    found = sorted((m.group(1), m.group(2)) for m in map(pattern.match, keys) if m)
    assert len(found) == len(keys) == 6
    # partition indexes start at 00000 and have a gap (AWS: empty ranges write no file)
    assert found == [(b, i) for b in ("1", "2") for i in ("00000", "00001", "00003")]
    assert f"{ROOT}shop/public.t/1/_SUCCESS" in objects
    assert f"{ROOT}shop/public.t/2/_SUCCESS" in objects
    assert read_folder(objects, "shop/public.t").to_pylist() == [{"id": n, "v": f"v{n}"} for n in range(20)]


def test_explicit_partition_indexes_and_empty_ranges_write_no_file() -> None:
    table = make_table("t", {"id": "bigint"}, [(1,), (2,)], files_per_batch=4, partition_indexes=(0, 2, 5, 9))
    keys = parts_of(render([table]), "shop/public.t")
    assert [re.search(r"part-(\d{5})", k).group(1) for k in keys] == ["00000", "00002"]  # 2 rows: 2 files


def test_flat_layout_is_the_old_naming_in_the_table_folder() -> None:
    table = make_table("t", {"id": "bigint"}, [(n,) for n in range(5)], layout="flat", files_per_batch=2)
    objects = render([table])
    keys = parts_of(objects, "shop/public.t")
    pattern = re.compile(rf"^{ROOT}shop/public\.t/part-0000[01]-{UUID}-c000\.gz\.parquet$")
    assert len(keys) == 2
    assert all(pattern.match(k) for k in keys)
    assert f"{ROOT}shop/public.t/_SUCCESS" in objects
    assert sorted(r["id"] for r in read_folder(objects, "shop/public.t").to_pylist()) == list(range(5))


def test_cluster_layout_uses_alphanumeric_partition_folders() -> None:
    table = make_table("t", {"id": "bigint"}, [(n,) for n in range(9)], layout="cluster", batches=3)
    keys = parts_of(render([table]), "shop/public.t")
    assert [k.split("/")[-2] for k in keys] == ["1", "a", "b"]


def test_default_partition_indexes_have_gaps() -> None:
    assert default_partition_indexes(5) == (0, 1, 3, 4, 6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "weird"}, "layout"),
        ({"batches": 0}, ">= 1"),
        ({"files_per_batch": 2, "partition_indexes": (0, 0)}, "distinct"),
        ({"files_per_batch": 2, "partition_indexes": (0,)}, "distinct"),
    ],
)
def test_bad_layout_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render([make_table("t", {"id": "bigint"}, [(1,)], **options)])


def test_mysql_folder_repeats_the_database_and_target_has_no_schema() -> None:
    objects = render([make_table("Orders", {"id": "bigint"}, [(1,)], database="shop", schema=None)], MY)
    assert parts_of(objects, "shop/shop.Orders")
    assert [s["target"] for s in tables_info(objects)] == ["shop.Orders"]


def test_postgresql_table_needs_a_schema() -> None:
    with pytest.raises(ValueError, match="schema"):
        table_folder(PG, make_table("t", {"id": "bigint"}, schema=None))


def test_path_characters_become_underscores() -> None:
    assert path_name('a b`c"d\\e') == "a_b_c_d_e"
    table = make_table('My "Table"', {"id": "bigint"}, [(1,)], database="my db", schema="Sales Dept")
    objects = render([table])
    assert parts_of(objects, "my_db/Sales_Dept.My__Table_")
    # the target keeps the real names: it names the source, not the path
    assert tables_info(objects)[0]["target"] == 'my db.Sales Dept.My "Table"'


def test_non_ascii_names_are_kept_in_the_path() -> None:
    objects = render([make_table("Clientes-ÇÃO", {"id": "integer"}, [(1,)], schema="inventário")])
    assert parts_of(objects, "shop/inventário.Clientes-ÇÃO")


def test_two_tables_in_the_same_folder_are_refused() -> None:
    tables = [make_table("a b", {"id": "bigint"}, [(1,)]), make_table("a_b", {"id": "bigint"}, [(1,)])]
    with pytest.raises(ValueError, match="both land in folder"):
        render(tables)


# -- skipped tables ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["a,b", "a;b", "a{b", "a}b", "a(b", "a)b", "a\nb", "a\tb", "a=b", "a b"])
def test_tables_with_unsupported_column_names_are_skipped(column: str) -> None:
    kept = make_table("kept", {"id": "bigint"}, [(1,)])
    bad = make_table("bad", {"id": "bigint", column: "text"}, [(1, "x")])
    objects = render([kept, bad])
    assert not [k for k in objects if "/public.bad/" in k]
    assert [s["target"] for s in tables_info(objects)] == ["shop.public.kept"]
    warning = json.loads(export_info(objects)["warningMessage"])
    assert warning == {
        "skippedTables": [{"target": "shop.public.bad", "reason": "UNSUPPORTED_CHARACTERS_IN_COLUMN_NAME"}],
        "skippedObjectives": [],
        "general": [],
    }


def test_table_names_with_a_slash_and_unlogged_tables_are_skipped() -> None:
    assert skip_reason(PG, make_table("a/b", {"id": "bigint"})) == "TABLE_NAME_CONTAINS_SLASH"
    assert skip_reason(PG, make_table("t", {"id": "bigint"}, persistence="unlogged")) == "UNLOGGED_TABLE"
    assert skip_reason(PG, make_table("t", {"id": "bigint"}, persistence="temporary")) == "TEMPORARY_TABLE"
    assert skip_reason(PG, make_table("t", {"Odd-Name_ç$": "bigint"})) is None
    objects = render([make_table("a/b", {"id": "bigint"}, [(1,)])])
    assert not [k for k in objects if k.endswith(".parquet")]
    assert json.loads(export_info(objects)["warningMessage"])["skippedTables"][0]["target"] == "shop.public.a/b"


def test_no_warning_message_when_nothing_is_skipped() -> None:
    assert "warningMessage" not in export_info(render([make_table("t", {"id": "bigint"}, [(1,)])]))


# -- JSON metadata -------------------------------------------------------------------------------------------
EXPORT_INFO_KEYS = {  # docs/aws-facts.md "Export metadata files"
    "exportTaskIdentifier", "sourceArn", "exportOnly", "snapshotTime", "taskStartTime", "taskEndTime", "s3Bucket",
    "s3Prefix", "exportedFilesPath", "iamRoleArn", "kmsKeyId", "status", "percentProgress", "totalExportedDataInGB",
}  # fmt: skip
MAPPING_KEYS = {
    "columnName", "originalType", "expectedExportedType", "originalCharMaxLength", "originalNumPrecision",
    "originalDateTimePrecision",
}  # fmt: skip


def test_export_info_has_the_keys_seen_in_real_exports() -> None:
    objects = render([make_table("t", {"id": "bigint"}, [(1,)])])
    info = export_info(objects)
    assert set(info) == EXPORT_INFO_KEYS
    assert info["exportTaskIdentifier"] == EXPORT_ID
    assert info["s3Bucket"] == EXPORT_BUCKET
    assert info["s3Prefix"] == EXPORT_PREFIX
    assert info["status"] == "COMPLETE"
    assert info["snapshotTime"] == "2026-11-26T06:05:12.000Z"
    assert info["taskStartTime"] < info["taskEndTime"]
    parquet_bytes = sum(len(v) for k, v in objects.items() if k.endswith(".parquet"))
    assert info["totalExportedDataInGB"] == pytest.approx(parquet_bytes / 2**30, rel=1e-3)


def test_tables_info_shape_matches_the_real_export_quoted_in_aws_facts() -> None:
    table = make_table(
        "t",
        {"created_on": "timestamp with time zone", "name": "varchar(40)", "price": "numeric(12,2)", "n": "smallint"},
        [(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "x", Decimal(1), 1)],
        files_per_batch=1,
    )
    (status,) = tables_info(render([table]))
    # the real sample's key order: tableStatistics, schemaMetadata, status, sizeGB, target
    assert list(status) == ["tableStatistics", "schemaMetadata", "status", "sizeGB", "target"]
    assert status["target"] == "shop.public.t"
    assert status["status"] == "COMPLETE"
    assert status["sizeGB"] > 0
    stats = status["tableStatistics"]
    assert stats["partitioningInfo"] == {"numberOfPartitions": 1, "numberOfCompletedPartitions": 1}
    # the real sample's time format, "Jul 19, 2023, 11:21:00 PM"
    real_format = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M")
    assert real_format.fullmatch(stats["extractionStartTime"]), stats["extractionStartTime"]
    start, end = (
        dt.datetime.strptime(stats[k], "%b %d, %Y, %I:%M:%S %p") for k in ("extractionStartTime", "extractionEndTime")
    )
    assert start < end
    mappings = status["schemaMetadata"]["originalTypeMappings"]
    assert all(set(m) == MAPPING_KEYS for m in mappings)
    by_name = {m["columnName"]: m for m in mappings}
    # exactly the entry quoted from a real export in docs/aws-facts.md
    assert by_name["created_on"] == {
        "columnName": "created_on",
        "originalType": "timestamp with time zone",
        "expectedExportedType": "binary (UTF8)",
        "originalCharMaxLength": 0,
        "originalNumPrecision": 0,
        "originalDateTimePrecision": 6,
    }
    assert by_name["name"]["originalCharMaxLength"] == 40
    assert by_name["name"]["originalType"] == "character varying"
    assert by_name["price"]["originalNumPrecision"] == 12
    assert by_name["price"]["originalType"] == "numeric"  # no modifiers, and the scale is nowhere
    assert by_name["n"]["expectedExportedType"] == "int32 (INT_16)"


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


def test_a_table_can_lack_schema_metadata_like_some_real_entries() -> None:
    typed = make_table("typed", {"id": "bigint"}, [(1,)])
    bare = make_table("bare", {"id": "bigint", "at": "timestamptz"}, [(1, None)], schema_metadata=False)
    statuses = {s["target"]: s for s in tables_info(render([typed, bare]))}
    assert "schemaMetadata" not in statuses["shop.public.bare"]
    assert list(statuses["shop.public.bare"]) == ["tableStatistics", "status", "sizeGB", "target"]
    assert statuses["shop.public.typed"]["schemaMetadata"]["originalTypeMappings"][0]["originalType"] == "bigint"
    assert read_folder(render([bare]), "shop/public.bare").num_rows == 1  # the data is exported all the same


def test_mysql_expected_exported_types_name_the_physical_storage() -> None:
    table = make_table("t", {"u": "bigint unsigned", "d": "decimal(9,2)", "ts": "datetime"}, [], schema=None)
    (status,) = tables_info(render([table], MY))
    expected = [m["expectedExportedType"] for m in status["schemaMetadata"]["originalTypeMappings"]]
    assert expected == ["fixed_len_byte_array(9) (DECIMAL(20,0))", "int32 (DECIMAL(9,2))", "int64 (TIMESTAMP_MICROS)"]


def test_tables_info_is_split_every_n_tables() -> None:
    tables = [make_table(f"t{i}", {"id": "bigint"}, [(i,)]) for i in range(5)]
    objects = render(tables, tables_per_info_file=2)
    names = sorted(k.rsplit("/", 1)[1] for k in objects if "export_tables_info_" in k)
    assert names == [
        f"export_tables_info_{EXPORT_ID}_from_1_to_2.json",
        f"export_tables_info_{EXPORT_ID}_from_3_to_4.json",
        f"export_tables_info_{EXPORT_ID}_from_5_to_5.json",
    ]
    assert [s["target"] for s in tables_info(objects)] == [f"shop.public.t{i}" for i in range(5)]


# -- failed and empty tables ---------------------------------------------------------------------------------
def test_failed_table_is_listed_and_writes_no_data_by_default() -> None:
    ok = make_table("ok", {"id": "bigint"}, [(1,)])
    failed = make_table("broken", {"id": "bigint"}, [(n,) for n in range(6)], files_per_batch=3, status="FAILED")
    objects = render([ok, failed])
    assert not [k for k in objects if "/public.broken/" in k]
    statuses = {s["target"]: s for s in tables_info(objects)}
    assert statuses["shop.public.broken"]["status"] == "FAILED"
    assert statuses["shop.public.broken"]["tableStatistics"]["partitioningInfo"] == {
        "numberOfPartitions": 3,
        "numberOfCompletedPartitions": 0,
    }
    assert statuses["shop.public.ok"]["status"] == "COMPLETE"


def test_failed_table_can_leave_partial_data_without_success_markers() -> None:
    failed = make_table(
        "broken", {"id": "bigint"}, [(n,) for n in range(6)], files_per_batch=3, status="FAILED", failed_files_written=1
    )
    objects = render([failed])
    assert len(parts_of(objects, "shop/public.broken")) == 1
    assert not [k for k in objects if k.endswith("_SUCCESS")]
    (status,) = tables_info(objects)
    assert status["tableStatistics"]["partitioningInfo"]["numberOfCompletedPartitions"] == 1


def test_empty_table_writes_one_schema_only_part_file_by_default() -> None:
    objects = render([make_table("e", {"id": "bigint", "n": "numeric(5,2)"}, [])])
    (key,) = parts_of(objects, "shop/public.e")
    assert key.startswith(f"{ROOT}shop/public.e/1/part-00000-")
    parquet = pq.ParquetFile(io.BytesIO(objects[key]))
    assert parquet.metadata.num_rows == 0
    assert column_types(objects[key]) == {"id": ("INT64", "NONE"), "n": STRING}


@pytest.mark.parametrize("layout", ["batched", "flat", "cluster"])
def test_empty_table_can_write_no_file_at_all(layout: str) -> None:
    table = make_table("e", {"id": "bigint"}, [], layout=layout)
    objects = render([table], empty_table_part_file=False)
    assert not parts_of(objects, "shop/public.e")
    assert [s["target"] for s in tables_info(objects)] == ["shop.public.e"]  # still listed as exported
    table.empty_part_file = True  # per-table override wins over the export-wide flag
    assert len(parts_of(render([table], empty_table_part_file=False), "shop/public.e")) == 1


# -- Parquet file properties ---------------------------------------------------------------------------------
def test_every_column_chunk_is_gzip_and_there_is_no_arrow_schema_blob() -> None:
    objects = render_sample_export()
    for key in (k for k in objects if k.endswith(".parquet")):
        metadata = pq.ParquetFile(io.BytesIO(objects[key])).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            assert {row_group.column(c).compression for c in range(row_group.num_columns)} == {"GZIP"}
        assert b"ARROW:schema" not in (metadata.metadata or {})


def test_bad_table_definitions_are_refused() -> None:
    with pytest.raises(ValueError, match="has 1 values for 2 columns"):
        render([make_table("t", {"a": "bigint", "b": "bigint"}, [(1,)])])
    with pytest.raises(ValueError, match="declares a column twice"):
        exported_table(PG, SourceTable("db", "s", "t", [SourceColumn("a", "int"), SourceColumn("a", "int")]))
    with pytest.raises(ValueError, match="column 'c'"):
        render([make_table("t", {"c": "timestamptz"}, [(dt.datetime(2026, 1, 1),)])])
    with pytest.raises(ValueError, match="':'"):
        render([], s3_prefix="a:b")
    with pytest.raises(ValueError, match="not an RDS ARN"):
        render([], source_arn="arn:aws:s3:::bucket")


# -- the samples ---------------------------------------------------------------------------------------------
def test_pg_sample_covers_every_type_family_and_odd_case() -> None:
    tables = pg_sample_tables()
    declared = {c.source_type for t in tables for c in t.columns}
    for family in [
        "smallint",
        "integer",
        "bigint",
        "real",
        "double precision",
        "boolean",
        "numeric(12,2)",
        "money",
        "date",
        "time without time zone",
        "timestamp without time zone",
        "timestamp with time zone",
        "interval",
        "uuid",
        "json",
        "jsonb",
        "text[]",
        "bytea",
        "character varying(40)",
        "inet",
    ]:
        assert family in declared
    assert {t.schema for t in tables if t.name == "orders"} == {"public", "sales"}
    assert any(t.batches > 1 for t in tables)
    assert any(not t.rows for t in tables)
    assert any(path_name(t.name) != t.name for t in tables)
    assert any(skip_reason(PG, t) for t in tables)


def test_mysql_sample_covers_every_type_family() -> None:
    declared = {c.source_type.split("(")[0] for t in mysql_sample_tables() for c in t.columns}
    assert {
        "bigint unsigned",
        "int unsigned",
        "tinyint",
        "decimal",
        "datetime",
        "timestamp",
        "date",
        "time",
        "year",
        "enum",
        "set",
        "json",
        "blob",
        "bit",
        "varchar",
    } <= declared


@pytest.mark.parametrize(("engine", "sample"), [(PG, pg_sample_tables), (MY, mysql_sample_tables)])
def test_sample_exports_read_back_equal_to_their_source(engine: str, sample: Any) -> None:
    tables = sample()
    objects = render(tables, engine)
    exported = [t for t in tables if skip_reason(engine, t) is None]
    assert len(tables_info(objects)) == len(exported)
    for table in exported:
        expected = exported_table(engine, table)
        back = read_folder(objects, table_folder(engine, table))
        assert back.num_rows == len(table.rows)
        assert back.schema.names == [c.name for c in table.columns]
        assert back.cast(expected.schema).to_pylist() == expected.to_pylist()


def test_pg_sample_all_types_row_reads_back_as_aws_converts_it() -> None:
    objects = render_sample_export()
    row = read_folder(objects, "shop/public.all_types").to_pylist()[0]
    assert row["c_smallint"] == -32768
    assert row["c_numeric"] == "1234567890.12"
    assert row["c_timestamptz"] == "2026-11-26 03:30:00+00"
    assert row["c_timetz"] == "03:04:05-03"
    assert row["c_interval"] == "1 day 02:03:04"
    assert row["c_uuid"] == "0b8e5a4e-8c1b-4f7e-9a53-6f0d2c1e7a10"
    assert row["c_text_array"] == '{a,"b c",NULL,""}'
    assert row["c_inet"] == "192.168.0.1"
    assert row["c_bytea"] == b"\x00\xffbinary"


# -- row groups ----------------------------------------------------------------------------------------------
def row_groups(body: bytes) -> list[int]:
    metadata = pq.ParquetFile(io.BytesIO(body)).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


@pytest.mark.parametrize(
    ("engine", "folder"), [(PG, "shop/public.order_lines"), (PG, "shop/public.all_types"), (MY, "shop/shop.customers")]
)
def test_sample_part_files_hold_several_row_groups_by_default(engine: str, folder: str) -> None:
    tables = pg_sample_tables() if engine == PG else mysql_sample_tables()
    objects = render(tables, engine)
    groups = [row_groups(objects[k]) for k in parts_of(objects, folder)]
    assert max(len(g) for g in groups) >= 2, groups
    table = read_folder(objects, folder)
    assert table.num_rows == sum(sum(g) for g in groups)


def test_row_group_rows_sets_the_row_group_size_and_keeps_the_rows_in_order() -> None:
    table = make_table("t", {"id": "bigint", "v": "numeric(5,2)"}, [(n, Decimal(n)) for n in range(10)])
    objects = render([table], row_group_rows=4)
    (key,) = parts_of(objects, "shop/public.t")
    assert row_groups(objects[key]) == [4, 4, 2]
    reader = pq.ParquetFile(io.BytesIO(objects[key]))
    streamed = [reader.read_row_group(i).column("id").to_pylist() for i in range(reader.num_row_groups)]
    assert streamed == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    (whole,) = parts_of(render([table], row_group_rows=100), "shop/public.t")
    assert row_groups(render([table], row_group_rows=100)[whole]) == [10]
    with pytest.raises(ValueError, match="row_group_rows"):
        render([table], row_group_rows=0)


# -- determinism ---------------------------------------------------------------------------------------------
def test_same_inputs_give_byte_identical_exports() -> None:
    first = render_sample_export()
    second = render_sample_export()
    assert first == second
    reseeded = render_sample_export(seed=1)
    assert sorted(reseeded) != sorted(first)
    assert sorted(reseeded.values()) == sorted(first.values())  # only the file uuids change


# -- into the emulator ---------------------------------------------------------------------------------------
def test_write_export_puts_every_object_into_moto(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    uri = write_sample_export(s3)
    assert uri == f"s3://{EXPORT_BUCKET}/{ROOT}"
    expected = render_export(**export_kwargs())
    listed = {
        o["Key"]: o["Size"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=EXPORT_BUCKET)
        for o in page.get("Contents", [])
    }
    assert listed == {k: len(v) for k, v in expected.items()}
    assert len(emulator.calls("s3", "PutObject")) == len(expected)
    key = next(k for k in expected if "Clientes" in k and k.endswith(".parquet"))
    assert s3.get_object(Bucket=EXPORT_BUCKET, Key=key)["Body"].read() == expected[key]


def test_write_export_without_prefix_and_extra_objects(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    junk = {"shop/public.orders/1/notes.txt": b"not parquet"}
    uri = write_sample_export(
        s3, s3_prefix="", tables=[make_table("orders", {"id": "bigint"}, [(1,)])], extra_objects=junk
    )
    assert uri == f"s3://{EXPORT_BUCKET}/{EXPORT_ID}/"
    body = s3.get_object(Bucket=EXPORT_BUCKET, Key=f"{EXPORT_ID}/shop/public.orders/1/notes.txt")["Body"].read()
    assert body == b"not parquet"


def test_write_export_can_encrypt_like_rds_with_the_task_kms_key(emulator: Any, aws: Any) -> None:
    s3 = aws.client("s3")
    key_arn = aws.client("kms").create_key()["KeyMetadata"]["Arn"]
    write_sample_export(s3, sse_kms=True, kms_key_id=key_arn, tables=[make_table("t", {"id": "bigint"}, [(1,)])])
    head = s3.head_object(Bucket=EXPORT_BUCKET, Key=f"{ROOT}export_info_{EXPORT_ID}.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key_arn
    info = json.loads(s3.get_object(Bucket=EXPORT_BUCKET, Key=f"{ROOT}export_info_{EXPORT_ID}.json")["Body"].read())
    assert info["kmsKeyId"] == key_arn


def test_large_table_files_are_at_least_the_requested_size() -> None:
    minimum = 5 * 2**20 + 1
    table = make_large_table("big", minimum, files_per_batch=2)
    objects = render([table])
    sizes = [len(objects[k]) for k in parts_of(objects, "shop/public.big")]
    assert len(sizes) == 2
    assert min(sizes) >= minimum
    assert make_large_table("big", 1000, seed=3).rows == make_large_table("big", 1000, seed=3).rows


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


def test_exports_are_byte_identical_across_processes_and_hash_seeds() -> None:
    script = (
        "import hashlib, sys\n"
        "from tests.exports import render_sample_export, MY\n"
        "h = hashlib.sha256()\n"
        "for engine in ('aurora-postgresql', MY):\n"
        "    for key, body in render_sample_export(engine=engine).items():\n"
        "        h.update(key.encode()); h.update(body)\n"
        "print(h.hexdigest())\n"
    )
    root = Path(__file__).resolve().parents[1]
    # The same import paths pytest gives the tests (pyproject: pythonpath = [".", "glue", "functions"]).
    import_paths = os.pathsep.join(str(root / part) for part in (".", "glue", "functions"))
    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            env={**os.environ, "PYTHONPATH": import_paths, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1


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
