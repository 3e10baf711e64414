"""Athena-style SQL on the SOR layer, locally: DuckDB over the tables the Glue Data Catalog describes.

Everything is found through the catalog, as Athena finds it: the table's columns and types, its partitions and
each partition's location. Files are then read the way Athena reads Parquet for a Hive table:
- columns are matched by name, case-insensitively; a catalog column missing from a file reads as NULL;
- a Parquet column whose type the catalog type cannot read is an error (Athena: HIVE_BAD_DATA), never a
  silent cast [docs/aws-facts.md "Athena and the Glue Data Catalog"];
- objects whose name starts with "_" or "." are not data (Hive's hidden-file rule).
So a wrong catalog (location, column, type, partition) makes the queries fail, which is the point.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq


class CatalogMismatch(Exception):
    """What Athena would reject at query time (HIVE_BAD_DATA and friends)."""


_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "float": "FLOAT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "binary": "BLOB",
}


def _split_top(text: str) -> list[str]:
    """`a:int,b:map<string,string>` -> ["a:int", "b:map<string,string>"]: commas outside angle brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"<": 1, ">": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _nested(athena_type: str) -> tuple[str, list[tuple[str, str]]] | None:
    """("struct", [(field, type), ...]) / ("map", [("key", k), ("value", v)]) / ("array", [("item", t)]) of a Hive
    type string (https://docs.aws.amazon.com/athena/latest/ug/data-types.html); None for a primitive type."""
    match = re.fullmatch(r"(struct|map|array)<(.*)>", athena_type)
    if not match:
        return None
    kind, inner = match.group(1), match.group(2)
    parts = _split_top(inner)
    if kind == "struct":
        fields = [tuple(p.split(":", 1)) for p in parts]
        if any(len(f) != 2 for f in fields):
            raise CatalogMismatch(f"malformed struct type {athena_type!r}")
        return kind, [(f[0], f[1]) for f in fields]
    if kind == "map" and len(parts) == 2:
        return kind, [("key", parts[0]), ("value", parts[1])]
    if kind == "array" and len(parts) == 1:
        return kind, [("item", parts[0])]
    raise CatalogMismatch(f"malformed {kind} type {athena_type!r}")


def duckdb_type(athena_type: str) -> str:
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", athena_type)
    if decimal:
        return f"DECIMAL({decimal.group(1)},{decimal.group(2)})"
    nested = _nested(athena_type)
    if nested is not None:
        kind, parts = nested
        if kind == "struct":
            return "STRUCT(" + ", ".join(f"{_ident(n)} {duckdb_type(t)}" for n, t in parts) + ")"
        if kind == "map":
            return f"MAP({duckdb_type(parts[0][1])}, {duckdb_type(parts[1][1])})"
        return f"{duckdb_type(parts[0][1])}[]"
    if athena_type not in _DUCKDB_TYPES:
        raise CatalogMismatch(f"catalog type {athena_type!r} is not one aurora-sor writes")
    return _DUCKDB_TYPES[athena_type]


def readable_as(athena_type: str, arrow_type: pa.DataType) -> bool:
    """Whether a Parquet column read as `arrow_type` is readable by Athena as the catalog's `athena_type`.

    Nested types match field by field: a struct's fields by name (Athena's Parquet reader maps struct fields by
    name, so a catalog field absent from the file reads NULL, but one present must have a readable type), a map's
    key and value, an array's item."""
    nested = _nested(athena_type)
    if nested is not None:
        kind, parts = nested
        if kind == "struct":
            if not pa.types.is_struct(arrow_type):
                return False
            by_name = {arrow_type.field(i).name.lower(): arrow_type.field(i).type for i in range(arrow_type.num_fields)}
            return all(n not in by_name or readable_as(t, by_name[n]) for n, t in parts)
        if kind == "map":
            return (
                pa.types.is_map(arrow_type)
                and readable_as(parts[0][1], arrow_type.key_type)
                and readable_as(parts[1][1], arrow_type.item_type)
            )
        return pa.types.is_list(arrow_type) and readable_as(parts[0][1], arrow_type.value_type)
    checks = {
        "string": lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        "binary": lambda t: pa.types.is_binary(t) or pa.types.is_fixed_size_binary(t) or pa.types.is_large_binary(t),
        "boolean": pa.types.is_boolean,
        "tinyint": lambda t: t in (pa.int8(),),
        "smallint": lambda t: t in (pa.int16(), pa.uint8()),
        "int": lambda t: t in (pa.int32(), pa.uint16()),
        "bigint": lambda t: t in (pa.int64(), pa.uint32()),
        "float": pa.types.is_float32,
        "double": pa.types.is_float64,
        "date": pa.types.is_date32,
        "timestamp": lambda t: pa.types.is_timestamp(t) and t.unit in ("ms", "us"),
    }
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", athena_type)
    if decimal:
        return pa.types.is_decimal(arrow_type) and (arrow_type.precision, arrow_type.scale) == (
            int(decimal.group(1)),
            int(decimal.group(2)),
        )
    return athena_type in checks and bool(checks[athena_type](arrow_type))


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _split_s3(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/(.*)", uri)
    if not match:
        raise CatalogMismatch(f"not an S3 location: {uri!r}")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class SorTable:
    database: str
    name: str
    columns: tuple[tuple[str, str], ...]
    partitions: dict[str, int]  # ingestion_date -> rows read


def read_partition(s3: Any, location: str, columns: Iterable[tuple[str, str]]) -> pa.Table:
    """Every data object under a partition location, read by catalog column name, checked against its type."""
    bucket, prefix = _split_s3(location if location.endswith("/") else location + "/")
    pieces = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"][len(prefix) :]
            if "/" in name or name.startswith(("_", ".")):
                continue
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            pieces.append((item["Key"], pq.read_table(io.BytesIO(body))))
    wanted = list(columns)
    arrays: dict[str, list[pa.Array]] = {name: [] for name, _ in wanted}
    for key, table in pieces:
        by_lower = {field.name.lower(): field for field in table.schema}
        for name, athena_type in wanted:
            field = by_lower.get(name)
            if field is None:
                arrays[name].append(pa.nulls(table.num_rows))
                continue
            if not readable_as(athena_type, field.type):
                raise CatalogMismatch(
                    f"HIVE_BAD_DATA: {key}: column {field.name!r} is {field.type} in the file but {athena_type} "
                    "in the catalog"
                )
            arrays[name].append(table.column(field.name).combine_chunks())
    return pa.table({name: _concat(parts) for name, parts in arrays.items()})


def _concat(parts: list[pa.Array]) -> pa.ChunkedArray:
    """Chunks of one column; NULL chunks (files written before the column existed) take the others' type."""
    typed = next((p.type for p in parts if p.type != pa.null()), pa.null())
    return pa.chunked_array([p.cast(typed) if p.type == pa.null() else p for p in parts], type=typed)


def register_catalog(con: duckdb.DuckDBPyConnection, glue: Any, s3: Any, database: str) -> list[SorTable]:
    """Creates DuckDB schema `<database>` with one view per catalog table (partitions as `ingestion_date`)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(database)}")
    registered = []
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page["TableList"]:
            registered.append(_register_table(con, glue, s3, database, table))
    return registered


def _register_table(
    con: duckdb.DuckDBPyConnection, glue: Any, s3: Any, database: str, table: dict[str, Any]
) -> SorTable:
    name = table["Name"]
    columns = tuple((c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"])
    keys = [(k["Name"], k["Type"]) for k in table.get("PartitionKeys", [])]
    casts = ", ".join(f"CAST({_ident(c)} AS {duckdb_type(t)}) AS {_ident(c)}" for c, t in columns)
    if not keys:  # an unpartitioned table (a latest table): every object under its location
        data = read_partition(s3, table["StorageDescriptor"]["Location"], columns)
        view = f"__{database}__{name}"
        con.register(view, data)
        # identifiers quoted by _ident: nothing from the catalog runs as SQL
        sql = f"CREATE OR REPLACE VIEW {_ident(database)}.{_ident(name)} AS SELECT {casts} FROM {_ident(view)}"  # noqa: S608
        con.execute(sql)
        return SorTable(database, name, columns, {})
    if keys != [("ingestion_date", "date")]:
        raise CatalogMismatch(f"{database}.{name} is partitioned by {keys}, expected ingestion_date date or nothing")
    selects: list[str] = []
    partitions: dict[str, int] = {}
    paginator = glue.get_paginator("get_partitions")
    for page in paginator.paginate(DatabaseName=database, TableName=name):
        for partition in sorted(page["Partitions"], key=lambda p: p["Values"][0]):
            day = partition["Values"][0]
            data = read_partition(s3, partition["StorageDescriptor"]["Location"], columns)
            partitions[day] = data.num_rows
            view = f"__{database}__{name}__{day.replace('-', '_')}"
            con.register(view, data)
            day_literal = dt.date.fromisoformat(day).isoformat()  # a partition value is a date, nothing else
            selects.append(f"SELECT {casts}, DATE '{day_literal}' AS ingestion_date FROM {_ident(view)}")  # noqa: S608
    if not selects:  # a table with no partition yet: empty, but with the right columns
        casts = ", ".join(f"CAST(NULL AS {duckdb_type(t)}) AS {_ident(c)}" for c, t in columns)
        selects.append(f"SELECT {casts}, CAST(NULL AS DATE) AS ingestion_date WHERE false")
    # Identifiers are quoted and partition values parsed as dates: nothing from the catalog runs as SQL.
    sql = f"CREATE OR REPLACE VIEW {_ident(database)}.{_ident(name)} AS " + " UNION ALL ".join(selects)
    con.execute(sql)
    return SorTable(database, name, columns, partitions)


def connect(glue: Any, s3: Any, *databases: str) -> tuple[duckdb.DuckDBPyConnection, list[SorTable]]:
    """DuckDB with one schema per catalog database (the SOR database, and its latest database when given)."""
    con = duckdb.connect(":memory:")
    return con, [t for database in databases for t in register_catalog(con, glue, s3, database)]
