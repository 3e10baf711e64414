"""Ground truth for restoring types: what PostgreSQL 15 prints for every restorable type's edge values, and the exact
value beside it in a form PostgreSQL itself computes, so tests can assert exact round trips.

The export writes date, timestamp, timestamptz and numeric as strings; their text is LIKELY PostgreSQL's normal
output (docs/aws-facts.md "PostgreSQL values inside the export's string columns"). This module makes those texts on
a real server (`local/postgres/pg_server.py`), the way `local/postgres/pg_source.py` reads them for the export
emulator: COPY text
output with DateStyle ISO, under several session TimeZone settings (timestamptz prints its offset in the session's
zone, including historical LMT offsets such as America/Sao_Paulo's -03:06:28 before 1914).

Each `PgText` holds:
- `text`: what COPY prints for the value (None for NULL), i.e. the string the export would write;
- `exact`: the value computed by PostgreSQL, independent of the text's format:
  - date, timestamp, timestamptz: `extract(epoch FROM v)::text`, exact seconds (6 decimals at most) since
    1970-01-01 00:00 UTC (a date at its midnight; a timestamp read as UTC wall time), `Infinity` / `-Infinity`;
  - numeric: `v::text` with its scale (`scale` holds `scale(v)`, None for NaN and infinities);
- `utc`: `to_char` of the UTC wall clock with every microsecond digit and the era (`2026-11-27 13:00:00.000000 AD`),
  None for infinities: a second, human-readable truth for dates and timestamps.

MySQL is not available locally, so only PostgreSQL is covered. `python -m local.postgres.pg_text --write <file>`
stores the
cases as JSON for tests that run without PostgreSQL (tests/test_pg_text.py checks the stored file against a live
server, so it cannot go stale).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg
from psycopg import sql

from local.export_emulator.source import SourceColumn, SourceTable
from local.postgres.pg_server import start_postgres

SCHEMA = "ground_truth"  # "pg_" prefixes are reserved for system schemas
# UTC; a whole-hour negative zone with an LMT of -03:06:28 before 1914; +05:30; -03:30/-02:30 with DST.
TIME_ZONES = ("UTC", "America/Sao_Paulo", "Asia/Kolkata", "America/St_Johns")

_FRACTIONS = [f"2026-11-27 10:00:00.{'123456'[:n]}" for n in range(1, 7)]
_DATES = [
    "2026-11-27", "1970-01-01", "1969-12-31", "2024-02-29", "1900-01-01", "1899-12-31", "1582-10-04", "1582-10-10",
    "1582-10-15", "0001-01-01", "0001-12-31 BC", "0044-03-15 BC", "4713-01-01 BC", "9999-12-31", "10000-01-01",
    "5874897-12-31", "infinity", "-infinity",
]  # fmt: skip
_TIMESTAMPS = [
    "2026-11-27 10:00:00", *_FRACTIONS, "2026-11-27 23:59:59.999999", "1970-01-01 00:00:00", "1969-12-31 23:59:59.5",
    "1900-01-01 00:00:00", "1899-12-31 23:59:59.999999", "1850-06-01 12:00:00", "1582-10-10 12:00:00",
    "0001-01-01 00:00:00", "0001-12-31 23:59:59 BC", "4713-01-01 00:00:00 BC", "9999-12-31 23:59:59.999999",
    "10000-01-01 00:00:00", "294276-12-31 23:59:59.999999", "infinity", "-infinity",
]  # fmt: skip
_TIMESTAMPTZS = [
    "2026-11-27 10:00:00+00", *(f"{f}+00" for f in _FRACTIONS), "2026-11-27 10:00:00.5-03", "2026-11-27 10:00:00+05:30",
    "2026-07-01 12:00:00+00", "2026-01-15 12:00:00+00", "1970-01-01 00:00:00+00", "1913-12-31 23:59:59+00",
    "1900-01-01 00:00:00+00", "1850-06-01 12:00:00.25+00", "1582-10-10 00:00:00+00", "0001-01-01 00:00:00+00",
    "0044-03-15 12:00:00+00 BC", "9999-12-31 23:59:59.999999+00", "infinity", "-infinity",
]  # fmt: skip


@dataclass(frozen=True)
class Column:
    """One fixture table `ground_truth.<name>` (id, v <source_type>) and the literals inserted into v, in id order."""

    name: str
    source_type: str
    literals: tuple[str | None, ...]
    kind: str  # "date" | "timestamp" | "timestamptz" | "numeric"


def _numeric(name: str, source_type: str, *literals: str) -> Column:
    return Column(name, source_type, (*literals, "NaN", None), "numeric")


COLUMNS: tuple[Column, ...] = (
    Column("c_date", "date", (*_DATES, None), "date"),
    Column("c_timestamp", "timestamp without time zone", (*_TIMESTAMPS, None), "timestamp"),
    # declared precision 3: PostgreSQL rounds the input to 3 digits, half away from its internal epoch 2000-01-01
    # (so .1235 -> .124 in 2026 but .9995 -> .999 in 1899), and prints at most 3
    Column(
        "c_timestamp_3",
        "timestamp(3) without time zone",
        (*_FRACTIONS, "2026-11-27 10:00:00.1235", "1899-12-31 23:59:59.9995", None),
        "timestamp",
    ),
    Column("c_timestamptz", "timestamp with time zone", (*_TIMESTAMPTZS, None), "timestamptz"),
    Column(
        "c_timestamptz_0",
        "timestamp(0) with time zone",
        ("2026-11-27 10:00:00.5+00", "1900-01-01 00:00:00+00", None),
        "timestamptz",
    ),
    _numeric(
        "c_numeric_12_2", "numeric(12,2)", "0", "0.00", "-0.05", "1.5", "1234567890.12", "-9999999999.99", "0.005"
    ),
    _numeric("c_numeric_10_0", "numeric(10,0)", "0", "-1", "9999999999", "2.5"),
    _numeric("c_numeric_5_5", "numeric(5,5)", "0", "0.12345", "-0.99999", "0.000001"),
    _numeric(
        "c_numeric_38_0",
        "numeric(38,0)",
        "0",
        "99999999999999999999999999999999999999",
        "-99999999999999999999999999999999999999",
    ),
    _numeric(
        "c_numeric_38_10",
        "numeric(38,10)",
        "0",
        "1234567890123456789012345678.0123456789",
        "-1234567890123456789012345678.0123456789",
        "0.0000000001",
        "-0.00000000005",
    ),
    # Infinity fits only an unconstrained numeric ("cannot hold an infinite value"); NaN fits every numeric(p,s).
    _numeric("c_numeric_18_6", "numeric(18,6)", "0", "123456789012.123456", "-0.000001", "0.0000005"),
    # PostgreSQL 15 allows a negative scale: rounds to tens/hundreds, prints no decimals
    _numeric("c_numeric_3_neg2", "numeric(3,-2)", "0", "12345", "-99949"),
)


@dataclass(frozen=True)
class PgText:
    """One value of one fixture column as printed under one session TimeZone (see the module docstring)."""

    column: str
    source_type: str
    kind: str
    id: int
    literal: str | None
    time_zone: str
    text: str | None
    exact: str | None
    utc: str | None
    scale: int | None

    def epoch_microseconds(self) -> int | None:
        """The exact instant as whole microseconds since 1970-01-01 00:00 UTC; None for NULL and infinities."""
        if self.kind == "numeric" or self.exact is None or self.exact in {"Infinity", "-Infinity"}:
            return None
        micros = Decimal(self.exact) * 1_000_000
        if micros != micros.to_integral_value():
            raise ValueError(f"{self.column} #{self.id}: epoch {self.exact} has more than 6 decimals")
        return int(micros)


def create_fixture(dsn: str) -> None:
    """(Re)creates schema ground_truth with one table per entry of COLUMNS, its literals inserted in id order."""
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(SCHEMA)))
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(SCHEMA)))
        # The literals of timestamptz carry their own offsets; UTC only decides how the others would be read.
        connection.execute("SET TimeZone = 'UTC'")
        for column in COLUMNS:
            table = sql.Identifier(SCHEMA, column.name)
            connection.execute(
                sql.SQL("CREATE TABLE {} (id integer PRIMARY KEY, v {})").format(table, sql.SQL(column.source_type))
            )
            with connection.cursor() as cursor:
                cursor.executemany(
                    sql.SQL("INSERT INTO {} (id, v) VALUES (%s, %s::{})").format(table, sql.SQL(column.source_type)),
                    list(enumerate(column.literals)),
                )


def _exact_sql(column: Column) -> sql.Composable:
    if column.kind == "numeric":
        return sql.SQL("v::text, NULL::text, scale(v)")
    utc = {
        "timestamptz": sql.SQL("v AT TIME ZONE 'UTC'"),
        # dates reach year 5874897, timestamps (and so to_char) only 294276: no utc text beyond
        "date": sql.SQL("CASE WHEN v <= '294276-12-31'::date THEN v::timestamp END"),
    }.get(column.kind, sql.SQL("v"))
    return sql.SQL("extract(epoch FROM v)::text, to_char({}, 'YYYY-MM-DD HH24:MI:SS.US BC'), NULL::integer").format(utc)


def read_fixture(dsn: str, time_zones: Sequence[str] = TIME_ZONES) -> list[PgText]:
    """Every fixture value as COPY prints it under each session TimeZone, with PostgreSQL's exact value beside it."""
    cases = []
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SET DateStyle = 'ISO, MDY'")
        for zone in time_zones:
            connection.execute(sql.SQL("SET TimeZone = {}").format(sql.Literal(zone)))
            for column in COLUMNS:
                query = sql.SQL("COPY (SELECT id, v, {} FROM {} ORDER BY id) TO STDOUT").format(
                    _exact_sql(column), sql.Identifier(SCHEMA, column.name)
                )
                with connection.cursor() as cursor, cursor.copy(query) as copy:
                    copy.set_types(["int4", "text", "text", "text", "int4"])
                    for row_id, text, exact, utc, scale in copy.rows():
                        cases.append(
                            PgText(
                                column.name,
                                column.source_type,
                                column.kind,
                                row_id,
                                column.literals[row_id],
                                zone,
                                text,
                                exact,
                                utc,
                                scale,
                            )
                        )
    return cases


def source_tables(cases: Iterable[PgText], time_zone: str, database: str = "pg_text") -> list[SourceTable]:
    """The cases printed under `time_zone` as export emulator tables (`ground_truth.<column>`: id integer,
    v <type>) whose values are PostgreSQL's own text, which local/export_emulator/ writes unchanged as strings."""
    by_column: dict[str, list[PgText]] = {}
    for case in cases:
        if case.time_zone == time_zone:
            by_column.setdefault(case.column, []).append(case)
    if not by_column:
        raise ValueError(f"no case was printed under time zone {time_zone!r}")
    return [
        SourceTable(
            database=database,
            schema=SCHEMA,
            name=name,
            columns=[SourceColumn("id", "integer", not_null=True), SourceColumn("v", rows[0].source_type)],
            rows=[(c.id, c.text) for c in sorted(rows, key=lambda c: c.id)],
        )
        for name, rows in by_column.items()
    ]


def to_json(cases: Iterable[PgText]) -> str:
    """A JSON list with one case per line (diffs stay readable when PostgreSQL's output changes)."""
    lines = [json.dumps(dataclasses.asdict(c), ensure_ascii=False) for c in cases]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def from_json(text: str) -> list[PgText]:
    return [PgText(**item) for item in json.loads(text)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--write", type=Path, required=True, help="JSON file to write the cases to")
    args = parser.parse_args(argv)
    with start_postgres() as server:
        dsn = server.dsn()
        create_fixture(dsn)
        cases = read_fixture(dsn)
        server_version = server.version
    args.write.write_text(to_json(cases), encoding="utf-8")
    print(f"{len(cases)} cases from PostgreSQL {server_version} -> {args.write}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
