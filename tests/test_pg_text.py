"""The PostgreSQL text ground truth (local/postgres/pg_text.py): the stored cases are what a live PostgreSQL 15
prints, and
they say what the typed restore relies on (proleptic Gregorian calendar, offsets in the session's zone, numeric
printed with its declared scale).

The stored file (tests/data/pg_text.json) lets Spark and job tests assert exact round trips without a server; the
first test regenerates it on the session's private server (the `pg_server` fixture of tests/conftest.py: skips
without PostgreSQL binaries, fails under CI=true) so it cannot go stale.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Context, Decimal
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from local.export_emulator.render import render_export
from local.export_emulator.source import POSTGRESQL
from local.postgres.pg_server import PostgresServer
from local.postgres.pg_text import (
    COLUMNS,
    TIME_ZONES,
    PgText,
    create_fixture,
    from_json,
    read_fixture,
    source_tables,
    to_json,
)
from tests.exports import export_kwargs

STORED = Path(__file__).parent / "data" / "pg_text.json"
WIDE = Context(prec=100)  # numeric(38,s) needs more than the default 28 digits
REGENERATE = "python -m local.postgres.pg_text --write tests/data/pg_text.json"


@pytest.fixture(scope="module")
def stored() -> list[PgText]:
    return from_json(STORED.read_text(encoding="utf-8"))


def test_stored_cases_are_what_a_live_postgresql_prints(pg_server: PostgresServer, stored: list[PgText]) -> None:
    with psycopg.connect(pg_server.dsn(), autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS ground_truth")
        admin.execute("CREATE DATABASE ground_truth")
    dsn = pg_server.dsn("ground_truth")
    create_fixture(dsn)
    live = read_fixture(dsn)
    assert to_json(live) == to_json(stored), f"PostgreSQL prints differently now: regenerate with `{REGENERATE}`"


def test_every_column_literal_and_time_zone_is_recorded(stored: list[PgText]) -> None:
    recorded = {(c.column, c.id, c.time_zone) for c in stored}
    wanted = {(col.name, i, zone) for col in COLUMNS for i in range(len(col.literals)) for zone in TIME_ZONES}
    assert recorded == wanted


def test_only_timestamptz_text_depends_on_the_session_time_zone(stored: list[PgText]) -> None:
    texts: dict[tuple[str, int], set[str | None]] = defaultdict(set)
    exacts: dict[tuple[str, int], set[str | None]] = defaultdict(set)
    for case in stored:
        texts[(case.column, case.id)].add(case.text)
        exacts[(case.column, case.id)].add(case.exact)
    assert all(len(v) == 1 for v in exacts.values())  # the value never depends on the zone
    varying = {column for (column, _), v in texts.items() if len(v) > 1}
    assert varying == {"c_timestamptz", "c_timestamptz_0"}


def test_offsets_include_half_hours_negative_hours_and_lmt_seconds(stored: list[PgText]) -> None:
    offsets = {
        m.group(1)
        for c in stored
        if c.kind == "timestamptz" and c.text and (m := re.search(r"([+-]\d\d(?::\d\d){0,2})(?: BC)?$", c.text))
    }
    assert {"+00", "-03", "+05:30", "-03:30", "-02:30", "-03:06:28", "+05:53:28", "-03:30:52"} <= offsets
    sao_paulo_bc = next(
        c for c in stored if c.literal == "0001-01-01 00:00:00+00" and c.time_zone == "America/Sao_Paulo"
    )
    assert sao_paulo_bc.text == "0001-12-31 20:53:32-03:06:28 BC"  # crossing into 1 BC by the offset alone


def test_calendar_is_proleptic_gregorian_with_no_year_zero(stored: list[PgText]) -> None:
    """Python's datetime is proleptic Gregorian too: wherever both can count, they agree to the microsecond."""
    epoch = dt.datetime(1970, 1, 1)
    checked = 0
    for case in stored:
        if case.kind == "numeric" or case.utc is None or not case.utc.endswith(" AD"):
            continue
        wall = case.utc.removesuffix(" AD")
        if len(wall.split("-", 1)[0]) > 4:  # year 10000 and beyond: not in datetime's range
            continue
        moment = dt.datetime.strptime(wall, "%Y-%m-%d %H:%M:%S.%f")
        assert case.epoch_microseconds() == (moment - epoch) // dt.timedelta(microseconds=1), case
        checked += 1
    assert checked > 100
    date_of = {c.literal: c for c in stored if c.column == "c_date" and c.time_zone == "UTC"}
    assert date_of["1582-10-10"].text == "1582-10-10"  # no Julian gap: the day exists
    one_bc, one_ad = date_of["0001-12-31 BC"].epoch_microseconds(), date_of["0001-01-01"].epoch_microseconds()
    assert one_bc is not None
    assert one_ad is not None
    assert one_ad - one_bc == 86_400_000_000  # 1 BC is followed by AD 1: no year 0


def test_fractions_print_with_trailing_zeros_dropped_and_declared_precision_rounds(stored: list[PgText]) -> None:
    utc = {(c.column, c.literal): c for c in stored if c.time_zone == "UTC"}
    for digits in range(1, 7):
        literal = "2026-11-27 10:00:00." + "123456"[:digits]
        assert utc[("c_timestamp", literal)].text == literal
        assert utc[("c_timestamp", literal)].epoch_microseconds() == 1795773600_000000 + int(
            "123456"[:digits].ljust(6, "0")
        )
    assert utc[("c_timestamp_3", "2026-11-27 10:00:00.123456")].text == "2026-11-27 10:00:00.123"
    assert (
        utc[("c_timestamp_3", "1899-12-31 23:59:59.9995")].text == "1899-12-31 23:59:59.999"
    )  # half-even? no: .9995 -> .999 (PG rounds the binary double)
    assert utc[("c_timestamptz_0", "2026-11-27 10:00:00.5+00")].text == "2026-11-27 10:00:01+00"
    for special in ("infinity", "-infinity"):
        for column in ("c_date", "c_timestamp", "c_timestamptz"):
            case = utc[(column, special)]
            assert case.text == special
            assert case.exact == special.replace("i", "I", 1)
            assert case.epoch_microseconds() is None


def test_numeric_prints_exactly_its_declared_scale(stored: list[PgText]) -> None:
    for case in stored:
        if case.kind != "numeric" or case.text in {None, "NaN"}:
            continue
        declared = int(re.fullmatch(r"numeric\(\d+,(-?\d+)\)", case.source_type).group(1))
        assert case.scale == max(declared, 0)
        assert case.text == case.exact
        decimals = case.text.partition(".")[2]
        assert len(decimals) == max(declared, 0), case
        # input beyond the scale is rounded half away from zero (0.005 -> 0.01, 2.5 -> 3, 12345 at scale -2 -> 12300)
        assert Decimal(case.text) == Decimal(case.literal).quantize(
            Decimal(1).scaleb(-declared), ROUND_HALF_UP, WIDE
        ), case
    nan = [c for c in stored if c.kind == "numeric" and c.literal == "NaN"]
    assert nan
    assert all(c.text == "NaN" and c.scale is None for c in nan)


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo"])
def test_the_export_emulator_writes_the_printed_text_unchanged(stored: list[PgText], zone: str) -> None:
    tables = source_tables(stored, zone)
    objects = render_export(**export_kwargs(engine=POSTGRESQL, tables=tables))
    for table in tables:
        folder = f"/{table.database}/{table.schema}.{table.name}/"
        files = sorted(k for k in objects if folder in k and k.endswith(".parquet"))
        values = [v for k in files for v in pq.read_table(io.BytesIO(objects[k])).column("v").to_pylist()]
        assert values == [row[1] for row in table.rows], table.name
