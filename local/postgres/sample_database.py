"""The sample source databases: what `make demo` exports, and what the tests publish.

Tables are described as the source database declares them (local/export_emulator/conversion.py converts them the way the
RDS export does). `make_table` builds one quickly.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import random
import uuid
from decimal import Decimal
from typing import Any

from local.export_emulator.source import SourceColumn, SourceTable

_UTC = dt.UTC
_BRT = dt.timezone(dt.timedelta(hours=-3))


def make_table(
    name: str,
    columns: dict[str, str] | list[tuple[str, str]],
    rows: list[tuple[Any, ...]] | None = None,
    *,
    database: str = "shop",
    schema: str | None = "public",
    **options: Any,
) -> SourceTable:
    """One table quickly: make_table("t", {"id": "bigint"}, [(1,), (2,)], batches=2). For MySQL pass schema=None."""
    pairs = list(columns.items()) if isinstance(columns, dict) else list(columns)
    return SourceTable(
        database=database,
        schema=schema,
        name=name,
        columns=[SourceColumn(n, t) for n, t in pairs],
        rows=list(rows or []),
        **options,
    )


def make_partitioned(
    name: str,
    columns: dict[str, str] | list[tuple[str, str]],
    partitions: dict[str, list[tuple[Any, ...]]],
    **options: Any,
) -> list[SourceTable]:
    """A PostgreSQL partitioned table as the export writes it: the parent with every partition's rows, one batch per
    partition, then each partition as its own table (docs/aws-facts.md "Partitioned tables")."""
    leaves = [make_table(leaf, columns, rows, **options) for leaf, rows in partitions.items()]
    every_row = [row for leaf in leaves for row in leaf.rows]
    batch_rows = tuple(len(leaf.rows) for leaf in leaves)
    parent = make_table(name, columns, every_row, batches=len(leaves), batch_rows=batch_rows, **options)
    return [parent, *leaves]


LARGE_ROW_BYTES = 256 * 1024


def make_large_table(
    name: str, min_file_bytes: int, *, seed: int = 0, files_per_batch: int = 1, **options: Any
) -> SourceTable:
    """A table whose every part file is at least `min_file_bytes` (random bytea, so gzip cannot shrink it).

    For the multipart-copy path: S3 parts must be >= 5 MiB except the last, so a copy test with a small
    threshold needs files of a few MiB. Deterministic from `seed`.
    """
    rng = random.Random(seed)  # noqa: S311 - sample data, not secrets
    files = files_per_batch * options.get("batches", 1)
    rows_per_file = -(-min_file_bytes // LARGE_ROW_BYTES)
    rows = [(n, rng.randbytes(LARGE_ROW_BYTES)) for n in range(rows_per_file * files)]
    return make_table(name, {"id": "bigint", "payload": "bytea"}, rows, files_per_batch=files_per_batch, **options)


# ---------------------------------------------------------------------------------------------------------
# PostgreSQL sample: several schemas, every type family, nulls, batches, empty table, odd names
# ---------------------------------------------------------------------------------------------------------
PG_ALL_TYPES: list[tuple[str, str]] = [
    ("id", "bigint"),
    ("c_smallint", "smallint"),
    ("c_integer", "integer"),
    ("c_real", "real"),
    ("c_double", "double precision"),
    ("c_boolean", "boolean"),
    ("c_numeric", "numeric(12,2)"),
    ("c_numeric_free", "numeric"),
    ("c_money", "money"),
    ("c_date", "date"),
    ("c_time", "time without time zone"),
    ("c_timetz", "time with time zone"),
    ("c_timestamp", "timestamp without time zone"),
    ("c_timestamptz", "timestamp with time zone"),
    ("c_interval", "interval"),
    ("c_uuid", "uuid"),
    ("c_json", "json"),
    ("c_jsonb", "jsonb"),
    ("c_text_array", "text[]"),
    ("c_bytea", "bytea"),
    ("c_varchar", "character varying(40)"),
    ("c_text", "text"),
    ("c_inet", "inet"),
    ("c_mood", "USER-DEFINED"),
]


def _pg_all_types_rows() -> list[tuple[Any, ...]]:
    return [
        (
            1,
            -32768,
            2147483647,
            1.5,
            2.718281828459045,
            True,
            Decimal("1234567890.12"),
            Decimal("3.14159265358979323846264338327950288419716939937510"),
            "$1,234.56",
            dt.date(2026, 11, 26),
            dt.time(3, 4, 5, 120000),
            dt.time(3, 4, 5, tzinfo=_BRT),
            dt.datetime(2026, 11, 26, 23, 59, 59, 999999),
            dt.datetime(2026, 11, 26, 0, 30, tzinfo=_BRT),
            dt.timedelta(days=1, hours=2, minutes=3, seconds=4),
            uuid.UUID("0b8e5a4e-8c1b-4f7e-9a53-6f0d2c1e7a10"),
            {"a": 1, "b": [1, 2]},
            {"nested": {"ok": True}, "ç": "ã"},
            ["a", "b c", None, ""],
            b"\x00\xffbinary",
            "São Paulo",
            "multi\nline\ttext",
            ipaddress.ip_interface("192.168.0.1/32"),
            "happy",
        ),
        (
            2,
            32767,
            -2147483648,
            -0.25,
            -1e300,
            False,
            Decimal("-0.01"),
            Decimal("0"),
            Decimal("-0.50"),
            dt.date(1900, 1, 1),
            dt.time(0, 0),
            dt.time(23, 59, 59, 500000, tzinfo=_UTC),
            dt.datetime(1970, 1, 1),
            dt.datetime(2026, 11, 26, 12, 0, 0, 1, tzinfo=_UTC),
            dt.timedelta(seconds=-1.5),
            uuid.UUID("ffffffff-ffff-4fff-bfff-ffffffffffff"),
            [1, "two", None],
            [],
            [],
            b"",
            "",
            "'quoted' \"double\"",
            ipaddress.ip_interface("10.0.0.0/8"),
            "sad",
        ),
        (3, *([None] * (len(PG_ALL_TYPES) - 1))),
    ]


def pg_sample_tables() -> list[SourceTable]:
    """The sample Aurora PostgreSQL database `shop`: 3 schemas, 9 tables, one of them skipped by the export.

    - public.all_types: every PostgreSQL type family, a row of extremes and a row of nulls
    - public.orders and sales.orders: the same table name in two schemas (different columns)
    - public.order_lines: 24 rows over 3 batch folders x 3 part files (indexes 00000, 00001, 00003: a gap)
    - public.empty_table: no rows
    - sales."Order Items": needs sanitising in the path (space -> "_"), 2 files
    - "inventário"."Clientes-ÇÃO": non-ASCII schema and table names (kept as is in the path)
    - public.events_flat: the older flat layout (part-00000-<uuid>-c000.gz.parquet)
    - public.bad_columns: a column named "unit price" -> the export skips the table (docs/aws-facts.md)
    """
    order_lines = [
        (n, 1000 + n // 3, Decimal(n) + Decimal("0.99"), n % 5, dt.datetime(2026, 11, 1, tzinfo=_UTC))
        for n in range(1, 25)
    ]
    return [
        make_table("all_types", PG_ALL_TYPES, _pg_all_types_rows()),
        make_table(
            "orders",
            {"id": "bigint", "customer_id": "integer", "total": "numeric(12,2)", "placed_at": "timestamptz"},
            [
                (1000, 7, Decimal("99.90"), dt.datetime(2026, 11, 25, 10, 0, tzinfo=_UTC)),
                (1001, 8, Decimal("10.00"), dt.datetime(2026, 11, 25, 11, 30, tzinfo=_BRT)),
                (1002, None, None, None),
            ],
        ),
        make_table(
            "orders",
            {"order_id": "integer", "channel": "varchar(20)", "created_on": "date"},
            [(1, "web", dt.date(2026, 11, 20)), (2, "store", dt.date(2026, 11, 21))],
            schema="sales",
        ),
        make_table(
            "order_lines",
            {
                "id": "bigint",
                "order_id": "bigint",
                "price": "numeric(10,2)",
                "qty": "smallint",
                "created_at": "timestamp with time zone",
            },
            order_lines,
            batches=3,
            files_per_batch=3,
        ),
        make_table("empty_table", {"id": "bigint", "note": "text"}, []),
        make_table(
            "Order Items",
            {"id": "bigint", "sku": "varchar(12)", "Weight": "real"},
            [(1, "SKU-1", 0.5), (2, "SKU-2", None), (3, None, 2.0)],
            schema="sales",
            files_per_batch=2,
        ),
        make_table(
            "Clientes-ÇÃO",
            {"id": "integer", "nome": "text", "ativo": "boolean"},
            [(1, "João", True), (2, "Conceição", False)],
            schema="inventário",
        ),
        make_table(
            "events_flat",
            {"id": "bigint", "payload": "jsonb"},
            [(1, {"kind": "click"}), (2, {"kind": "view"}), (3, None)],
            layout="flat",
            files_per_batch=2,
        ),
        make_table("bad_columns", {"id": "bigint", "unit price": "numeric(8,2)"}, [(1, Decimal("1.00"))]),
    ]


# ---------------------------------------------------------------------------------------------------------
# MySQL sample
# ---------------------------------------------------------------------------------------------------------
MYSQL_ALL_TYPES: list[tuple[str, str]] = [
    ("id", "bigint"),
    ("c_bigint_unsigned", "bigint unsigned"),
    ("c_int_unsigned", "int unsigned"),
    ("c_mediumint_unsigned", "mediumint unsigned"),
    ("c_int", "int(11)"),
    ("c_smallint", "smallint"),
    ("c_tinyint", "tinyint"),
    ("c_bool", "tinyint(1)"),
    ("c_float", "float"),
    ("c_double", "double"),
    ("c_decimal", "decimal(10,2)"),
    ("c_decimal_small", "decimal(9,4)"),
    ("c_decimal_wide", "decimal(30,6)"),
    ("c_decimal_huge", "decimal(40,5)"),
    ("c_datetime", "datetime(6)"),
    ("c_timestamp", "timestamp"),
    ("c_date", "date"),
    ("c_time", "time"),
    ("c_year", "year"),
    ("c_enum", "enum('small','medium','large')"),
    ("c_set", "set('red','green','blue')"),
    ("c_json", "json"),
    ("c_blob", "blob"),
    ("c_bit", "bit(12)"),
    ("c_varchar", "varchar(40)"),
    ("c_text", "longtext"),
]


def _mysql_all_types_rows() -> list[tuple[Any, ...]]:
    return [
        (
            1,
            2**64 - 1,
            2**32 - 1,
            2**24 - 1,
            -(2**31),
            -32768,
            -128,
            True,
            1.25,
            -2.5e-300,
            Decimal("12345678.90"),
            Decimal("-12345.6789"),
            Decimal("123456789012345678901234.123456"),
            Decimal("12345678901234567890123456789012345.12345"),
            dt.datetime(2026, 11, 26, 3, 0, 0, 123456),
            dt.datetime(2038, 1, 19, 3, 14, 7),
            dt.date(2026, 11, 26),
            dt.timedelta(hours=838, minutes=59, seconds=59),
            2026,
            "medium",
            {"blue", "red"},
            {"k": [1, 2, {"x": None}]},
            b"\x89PNG\r\n",
            0b101010101010,
            "Ação",
            "long " * 10,
        ),
        (
            2,
            0,
            0,
            0,
            2**31 - 1,
            32767,
            127,
            False,
            0.0,
            0.0,
            Decimal("-0.01"),
            Decimal("0.0001"),
            Decimal("0.000001"),
            Decimal("-0.00001"),
            dt.datetime(1000, 1, 1),
            dt.datetime(1970, 1, 1, 0, 0, 1),
            dt.date(1000, 1, 1),
            dt.timedelta(hours=-1, minutes=-30),
            1901,
            "small",
            set(),
            [],
            b"",
            0,
            "",
            "",
        ),
        (3, *([None] * (len(MYSQL_ALL_TYPES) - 1))),
    ]


def mysql_sample_tables() -> list[SourceTable]:
    """The sample Aurora MySQL database `shop` (folders `shop/shop.<table>`), 5 tables, one skipped:

    - all_types: every MySQL type family in docs/aws-facts.md, a row of extremes and a row of nulls
    - customers: 12 rows over 2 batch folders x 2 files
    - empty_table: no rows
    - `Sales Report`: a name with a space (path: shop.Sales_Report)
    - bad_columns: a column named "total(brl)" -> skipped by the export
    """
    return [
        make_table("all_types", MYSQL_ALL_TYPES, _mysql_all_types_rows(), schema=None),
        make_table(
            "customers",
            {"id": "int unsigned", "name": "varchar(80)", "created": "datetime", "balance": "decimal(10,2)"},
            [(n, f"customer {n}", dt.datetime(2026, 1, n), Decimal(n) / 4) for n in range(1, 13)],
            schema=None,
            batches=2,
            files_per_batch=2,
        ),
        make_table("empty_table", {"id": "bigint"}, [], schema=None),
        make_table(
            "Sales Report",
            {"day": "date", "amount": "decimal(12,2)"},
            [(dt.date(2026, 11, 25), Decimal("10.50"))],
            schema=None,
        ),
        make_table("bad_columns", {"id": "bigint", "total(brl)": "decimal(8,2)"}, [(1, Decimal("1.00"))], schema=None),
    ]
