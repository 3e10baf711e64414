"""An analyst's workload, TPC-H style, to check that SOR answers equal the source database's answers.

`load_workload(dsn)` creates a small TPC-H-shaped schema in a PostgreSQL database (region, nation, customer, part,
orders, lineitem: a few thousand rows from a fixed seed, so every run loads the same rows) with the types the SOR
must restore: `date`, `numeric(15,2)` prices, discounts and taxes, a `timestamp with time zone`. `QUERIES` are
standard analytic queries in the style of TPC-H Q1, Q3, Q6, Q10, Q12 and Q14 plus two that read dates, decimals
and the timestamptz column row by row. Each is written ONCE and runs unmodified on PostgreSQL and on the Athena
stand-in (local/emulator/athena_duckdb.py); only the table names are bound per engine (`bind_sor_tables`: a view named
`lineitem` on the SOR table, as an Athena analyst would pick the SOR database as the query's context).

What "equal" means (`compare_answers`): same rows in the same order; exact values equal exactly (decimals digit for
digit, dates, integers, text); a value that either engine computes in floating point (avg of a decimal, a ratio of
decimals in DuckDB) equal to 1e-9 relative; timestamps at the millisecond, as Athena shows them (the files keep
microseconds), timestamptz converted to UTC (the SOR's rule) and the PostgreSQL session in UTC (pg_source's, so a
`TIMESTAMP '...'` literal means the same instant on both sides).

Kept free of the test harness so `make bench` can reuse the generator and the queries.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql

from local.emulator.athena_duckdb import _ident

SEED = 20261127
TABLES = ("region", "nation", "customer", "part", "orders", "lineitem")
CURRENT_DATE = dt.date(1995, 6, 17)  # TPC-H's "current date": decides return flag and line status
FLOAT_TOLERANCE = 1e-9

_DDL = """
CREATE TABLE region (r_regionkey integer NOT NULL, r_name varchar(25) NOT NULL, r_comment varchar(152));
CREATE TABLE nation (n_nationkey integer NOT NULL, n_name varchar(25) NOT NULL, n_regionkey integer NOT NULL,
                     n_comment varchar(152));
CREATE TABLE customer (c_custkey integer NOT NULL, c_name varchar(25) NOT NULL, c_address varchar(40) NOT NULL,
                       c_nationkey integer NOT NULL, c_phone varchar(15) NOT NULL, c_acctbal numeric(15,2) NOT NULL,
                       c_mktsegment varchar(10) NOT NULL, c_comment varchar(117));
CREATE TABLE part (p_partkey integer NOT NULL, p_name varchar(55) NOT NULL, p_type varchar(25) NOT NULL,
                   p_size integer NOT NULL, p_retailprice numeric(15,2) NOT NULL);
CREATE TABLE orders (o_orderkey bigint NOT NULL, o_custkey integer NOT NULL, o_orderstatus varchar(1) NOT NULL,
                     o_totalprice numeric(15,2) NOT NULL, o_orderdate date NOT NULL,
                     o_orderpriority varchar(15) NOT NULL, o_shippriority integer NOT NULL,
                     o_orderts timestamp with time zone NOT NULL, o_comment varchar(79));
CREATE TABLE lineitem (l_orderkey bigint NOT NULL, l_partkey integer NOT NULL, l_linenumber integer NOT NULL,
                       l_quantity numeric(15,2) NOT NULL, l_extendedprice numeric(15,2) NOT NULL,
                       l_discount numeric(15,2) NOT NULL, l_tax numeric(15,2) NOT NULL,
                       l_returnflag varchar(1) NOT NULL, l_linestatus varchar(1) NOT NULL, l_shipdate date NOT NULL,
                       l_commitdate date NOT NULL, l_receiptdate date NOT NULL, l_shipinstruct varchar(25) NOT NULL,
                       l_shipmode varchar(10) NOT NULL, l_comment varchar(44));
"""

_REGIONS = ("AFRICA", "AMERICA", "ASIA", "EUROPE", "MIDDLE EAST")
_NATIONS = (
    ("ALGERIA", 0), ("ARGENTINA", 1), ("BRAZIL", 1), ("CANADA", 1), ("EGYPT", 4), ("ETHIOPIA", 0), ("FRANCE", 3),
    ("GERMANY", 3), ("INDIA", 2), ("INDONESIA", 2), ("IRAN", 4), ("IRAQ", 4), ("JAPAN", 2), ("JORDAN", 4),
    ("KENYA", 0), ("MOROCCO", 0), ("MOZAMBIQUE", 0), ("PERU", 1), ("CHINA", 2), ("ROMANIA", 3), ("SAUDI ARABIA", 4),
    ("VIETNAM", 2), ("RUSSIA", 3), ("UNITED KINGDOM", 3), ("UNITED STATES", 1),
)  # fmt: skip
_SEGMENTS = ("AUTOMOBILE", "BUILDING", "FURNITURE", "HOUSEHOLD", "MACHINERY")
_PRIORITIES = ("1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW")
_TYPE_WORDS = (("STANDARD", "SMALL", "MEDIUM", "LARGE", "ECONOMY", "PROMO"), ("ANODIZED", "BURNISHED", "PLATED",
               "POLISHED", "BRUSHED"), ("TIN", "NICKEL", "BRASS", "STEEL", "COPPER"))  # fmt: skip
_SHIP_MODES = ("REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB")
_INSTRUCTIONS = ("DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN")
# Orders are placed in several zones: the stored instant is what counts, and PostgreSQL prints it in the session's
# zone; offsets of :30 and :45 make a dropped or half-applied offset visible.
_ZONES = tuple(dt.timezone(dt.timedelta(minutes=m)) for m in (0, -180, 330, 345, -570, 60))
_FIRST_ORDER = dt.date(1992, 1, 1)
_LAST_ORDER = dt.date(1998, 8, 2)


@dataclass(frozen=True)
class Scale:
    """Row counts; lineitem has 1..7 lines per order (about 4 per order on average)."""

    customers: int = 150
    parts: int = 200
    orders: int = 1500


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)).scaleb(-2)


def generate(scale: Scale = Scale(), seed: int = SEED) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in TABLES order, from `seed` alone (same seed, same rows)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    region = [(i, name, f"region {name.lower()}") for i, name in enumerate(_REGIONS)]
    nation = [(i, name, r, None if i % 7 == 0 else f"nation {i}") for i, (name, r) in enumerate(_NATIONS)]
    customer = [
        (
            key,
            f"Customer#{key:09d}",
            f"{rng.randint(1, 999)} Street {rng.randint(1, 99)}",
            rng.randrange(len(_NATIONS)),
            f"{rng.randint(10, 34)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            _cents(rng, -99999, 999999),
            rng.choice(_SEGMENTS),
            None if key % 11 == 0 else f"comment {key}",
        )
        for key in range(1, scale.customers + 1)
    ]
    part = []
    for key in range(1, scale.parts + 1):
        p_type = " ".join(rng.choice(words) for words in _TYPE_WORDS)
        retail = Decimal(90000 + (key // 10) % 20001 + 100 * (key % 1000)).scaleb(-2)  # TPC-H's p_retailprice
        part.append((key, f"part {key}", p_type, rng.randint(1, 50), retail))
    span = (_LAST_ORDER - _FIRST_ORDER).days
    orders, lineitem = [], []
    for index in range(scale.orders):
        orderkey = index * 4 + 1  # TPC-H keys are sparse
        orderdate = _FIRST_ORDER + dt.timedelta(days=rng.randint(0, span))
        placed = dt.datetime.combine(orderdate, dt.time(), tzinfo=rng.choice(_ZONES)) + dt.timedelta(
            microseconds=rng.randint(0, 86_400_000_000 - 1)
        )
        lines = []
        for number in range(1, rng.randint(1, 7) + 1):
            partkey = rng.randint(1, scale.parts)
            quantity = Decimal(rng.randint(1, 50))
            shipdate = orderdate + dt.timedelta(days=rng.randint(1, 121))
            commitdate = orderdate + dt.timedelta(days=rng.randint(30, 90))
            receiptdate = shipdate + dt.timedelta(days=rng.randint(1, 30))
            returned = rng.choice("RA") if receiptdate <= CURRENT_DATE else "N"
            lines.append(
                (
                    orderkey,
                    partkey,
                    number,
                    quantity.quantize(Decimal("0.01")),
                    (quantity * part[partkey - 1][4]).quantize(Decimal("0.01")),
                    _cents(rng, 0, 10),
                    _cents(rng, 0, 8),
                    returned,
                    "F" if shipdate <= CURRENT_DATE else "O",
                    shipdate,
                    commitdate,
                    receiptdate,
                    rng.choice(_INSTRUCTIONS),
                    rng.choice(_SHIP_MODES),
                    None if rng.random() < 0.1 else f"line {orderkey}-{number}",
                )
            )
        total = sum((line[4] * (1 - line[5]) * (1 + line[6]) for line in lines), Decimal(0))
        statuses = {line[8] for line in lines}
        orders.append(
            (
                orderkey,
                rng.randint(1, scale.customers),
                statuses.pop() if len(statuses) == 1 else "P",
                total.quantize(Decimal("0.01")),
                orderdate,
                rng.choice(_PRIORITIES),
                0,
                placed,
                None if index % 13 == 0 else f"order {orderkey}",
            )
        )
        lineitem.extend(lines)
    return {"region": region, "nation": nation, "customer": customer, "part": part, "orders": orders,
            "lineitem": lineitem}  # fmt: skip


def load_workload(dsn: str, scale: Scale = Scale(), seed: int = SEED) -> dict[str, int]:
    """Creates the workload's tables in the (empty) database `dsn` names and loads them; returns rows per table."""
    rows_of = generate(scale, seed)
    with psycopg.connect(dsn, autocommit=False) as connection:
        connection.execute(_DDL)
        for table in TABLES:
            query = sql.SQL("COPY {} FROM STDIN").format(sql.Identifier(table))
            with connection.cursor().copy(query) as copy:
                for row in rows_of[table]:
                    copy.write_row(row)
        connection.commit()
    return {table: len(rows) for table, rows in rows_of.items()}


# -- the queries: standard SQL, written once --------------------------------------------------------------------------
# Tie-breakers were added to ORDER BY where TPC-H's own order can tie (the spec leaves ties in any order), so that
# both engines must return the same rows in the same order, LIMIT included.
QUERIES: dict[str, str] = {
    "q1_pricing_summary": """
SELECT l_returnflag, l_linestatus,
       sum(l_quantity) AS sum_qty,
       sum(l_extendedprice) AS sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) AS sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) AS sum_charge,
       avg(l_quantity) AS avg_qty,
       avg(l_extendedprice) AS avg_price,
       avg(l_discount) AS avg_disc,
       count(*) AS count_order
FROM lineitem
WHERE l_shipdate <= DATE '1998-12-01' - INTERVAL '90' DAY
GROUP BY l_returnflag, l_linestatus
ORDER BY l_returnflag, l_linestatus
""",
    "q3_shipping_priority": """
SELECT l_orderkey, sum(l_extendedprice * (1 - l_discount)) AS revenue, o_orderdate, o_shippriority
FROM customer, orders, lineitem
WHERE c_mktsegment = 'BUILDING'
  AND c_custkey = o_custkey
  AND l_orderkey = o_orderkey
  AND o_orderdate < DATE '1995-03-15'
  AND l_shipdate > DATE '1995-03-15'
GROUP BY l_orderkey, o_orderdate, o_shippriority
ORDER BY revenue DESC, o_orderdate, l_orderkey
LIMIT 10
""",
    "q6_forecast_revenue": """
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01'
  AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR
  AND l_discount BETWEEN 0.06 - 0.01 AND 0.06 + 0.01
  AND l_quantity < 24
""",
    "q10_returned_items": """
SELECT c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) AS revenue, c_acctbal, n_name, c_address,
       c_phone, c_comment
FROM customer, orders, lineitem, nation
WHERE c_custkey = o_custkey
  AND l_orderkey = o_orderkey
  AND o_orderdate >= DATE '1993-10-01'
  AND o_orderdate < DATE '1993-10-01' + INTERVAL '3' MONTH
  AND l_returnflag = 'R'
  AND c_nationkey = n_nationkey
GROUP BY c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
ORDER BY revenue DESC, c_custkey
LIMIT 20
""",
    "q12_shipping_modes": """
SELECT l_shipmode,
       sum(CASE WHEN o_orderpriority = '1-URGENT' OR o_orderpriority = '2-HIGH' THEN 1 ELSE 0 END) AS high_line_count,
       sum(CASE WHEN o_orderpriority <> '1-URGENT' AND o_orderpriority <> '2-HIGH' THEN 1 ELSE 0 END)
           AS low_line_count
FROM orders, lineitem
WHERE o_orderkey = l_orderkey
  AND l_shipmode IN ('MAIL', 'SHIP')
  AND l_commitdate < l_receiptdate
  AND l_shipdate < l_commitdate
  AND l_receiptdate >= DATE '1994-01-01'
  AND l_receiptdate < DATE '1994-01-01' + INTERVAL '1' YEAR
GROUP BY l_shipmode
ORDER BY l_shipmode
""",
    "q14_promotion_effect": """
SELECT 100.00 * sum(CASE WHEN p_type LIKE 'PROMO%' THEN l_extendedprice * (1 - l_discount) ELSE 0 END)
       / sum(l_extendedprice * (1 - l_discount)) AS promo_revenue
FROM lineitem, part
WHERE l_partkey = p_partkey
  AND l_shipdate >= DATE '1995-09-01'
  AND l_shipdate < DATE '1995-09-01' + INTERVAL '1' MONTH
""",
    "orders_placed_by_priority": """
SELECT o_orderpriority, count(*) AS orders, min(o_orderts) AS first_placed, max(o_orderts) AS last_placed,
       sum(o_totalprice) AS total
FROM orders
WHERE o_orderts >= TIMESTAMP '1995-03-15 00:00:00'
  AND o_orderts < TIMESTAMP '1995-03-15 00:00:00' + INTERVAL '6' MONTH
GROUP BY o_orderpriority
ORDER BY o_orderpriority
""",
    "orders_in_a_quarter": """
SELECT o_orderkey, o_orderdate, o_totalprice, o_orderts, c_acctbal
FROM orders JOIN customer ON c_custkey = o_custkey
WHERE o_orderdate BETWEEN DATE '1996-01-01' AND DATE '1996-03-31'
  AND o_totalprice BETWEEN 1000.00 AND 150000.00
  AND c_acctbal > -500.50
ORDER BY o_orderkey
""",
}


# -- running and comparing -----------------------------------------------------------------------------------------
def run_postgres(dsn: str, queries: Mapping[str, str] = QUERIES) -> dict[str, list[tuple[Any, ...]]]:
    """Every query's rows from PostgreSQL itself, the session in UTC (as pg_source reads the export's text)."""
    with psycopg.connect(dsn) as connection:
        connection.execute("SET TimeZone = 'UTC'")
        return {name: connection.execute(text).fetchall() for name, text in queries.items()}  # type: ignore[arg-type]


def bind_sor_tables(con: Any, names: Mapping[str, str], database: str) -> None:
    """In a connection from local.emulator.athena_duckdb.connect: a view `<table>` on `<database>.<SOR name>` per
    table, so
    the queries' unqualified names resolve as they do in PostgreSQL's search_path (Athena: the query's database)."""
    for table, sor_name in names.items():
        # identifiers quoted (catalog names are [a-z0-9_], the table names ours): nothing runs as SQL
        con.execute(f"CREATE OR REPLACE VIEW {_ident(table)} AS SELECT * FROM {_ident(database)}.{_ident(sor_name)}")  # noqa: S608


def run_duckdb(con: Any, queries: Mapping[str, str] = QUERIES) -> dict[str, list[tuple[Any, ...]]]:
    return {name: con.execute(text).fetchall() for name, text in queries.items()}


def _shown(value: Any) -> Any:
    """A value as Athena shows it: timestamps in UTC without a zone, to the millisecond."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return value


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None:
            return expected is actual
        return math.isclose(float(expected), float(actual), rel_tol=FLOAT_TOLERANCE)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, (int, Decimal)) and isinstance(actual, (int, Decimal)):
        return Decimal(expected) == Decimal(actual)  # digit for digit; 2 == 2.00 (a count vs a numeric extract)
    if isinstance(expected, dt.datetime) or isinstance(actual, dt.datetime):
        return (
            isinstance(expected, dt.datetime) and isinstance(actual, dt.datetime) and _shown(expected) == _shown(actual)
        )
    return type(expected) is type(actual) and expected == actual


def compare_answers(expected: Sequence[tuple[Any, ...]], actual: Sequence[tuple[Any, ...]]) -> list[str]:
    """Differences between PostgreSQL's rows and the SOR's, [] when the answers are equal (see the module doc)."""
    if len(expected) != len(actual):
        return [f"{len(expected)} rows from PostgreSQL, {len(actual)} from the SOR"]
    problems = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
        if len(want) != len(got) or not all(_same(w, g) for w, g in zip(want, got, strict=True)):
            problems.append(f"row {index}: PostgreSQL {want!r}, SOR {got!r}")
    return problems


def compare_workload(
    expected: Mapping[str, list[tuple[Any, ...]]], actual: Mapping[str, list[tuple[Any, ...]]]
) -> dict[str, list[str]]:
    """Per query, its differences; only queries with some."""
    return {name: problems for name in expected if (problems := compare_answers(expected[name], actual[name]))}


def nonempty(answers: Mapping[str, Iterable[Any]]) -> list[str]:
    """Queries whose answer has rows with something other than NULLs (a query that finds nothing proves nothing)."""
    return [name for name, rows in answers.items() if any(any(v is not None for v in row) for row in rows)]
