"""Restored types (glue/sor_job/restore.py): export text -> exact typed values.

Ground truth is tests/data/pg_text.json: what PostgreSQL 15 itself prints for edge values, with the exact value
PostgreSQL computes beside it (local/postgres/pg_text.py). The JSON is read directly (no psycopg), so this file also
runs
under the Glue 5.0 pins (pyarrow 17): `.venv-spark/bin/python -m pytest tests/glue/test_restore.py --noconftest`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections import defaultdict
from decimal import Context, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

# The export emulator prints values the way PostgreSQL does (checked against a real server by tests/test_pg_text.py).
from local.export_emulator.conversion import pg_fraction, pg_offset
from sor_job.restore import (
    _FAST_SHAPES,
    KeptAsText,
    Restoration,
    Restore,
    RestoreCounts,
    _fast_shape,
    _restore_fast,
    format_assumption_broken,
    numeric_scale,
    restoration_rules,
    restore_values,
    restore_values_by_regex,
    statistics_samples,
    with_scale,
)
from sor_job.restore_transform import invalid_text_count

STORED = Path(__file__).resolve().parents[1] / "data" / "pg_text.json"
EPOCH = dt.datetime(1970, 1, 1)
WIDE = Context(prec=100)


def load_cases() -> list[dict[str, Any]]:
    return json.loads(STORED.read_text(encoding="utf-8"))


CASES = load_cases()
BY_COLUMN_AND_ZONE: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
for _case in CASES:
    BY_COLUMN_AND_ZONE[(_case["column"], _case["time_zone"])].append(_case)


def real_shape(source_type: str) -> dict[str, Any]:
    """The originalTypeMappings entry the real export writes: information_schema words, precision, no scale."""
    base = re.sub(r"\([^)]*\)", "", source_type).strip()
    base = " ".join(base.split())
    params = [int(p) for p in re.findall(r"-?\d+", source_type)]
    entry: dict[str, Any] = {"columnName": "v", "originalType": base, "expectedExportedType": "binary (UTF8)"}
    entry["originalNumPrecision"] = params[0] if base == "numeric" and params else 0
    entry["originalDateTimePrecision"] = params[0] if base.startswith("timestamp") and params else 6
    entry["originalCharMaxLength"] = 0
    return entry


def rule_for(source_type: str, texts: list[str | None], shape: str) -> Restoration:
    entry = real_shape(source_type) if shape == "real" else {"columnName": "v", "originalType": source_type}
    rule = restoration_rules("postgresql", [entry], ["v"])["v"]
    assert isinstance(rule, Restoration), rule
    if rule.restore is Restore.DECIMAL and rule.scale is None:
        scale = numeric_scale(texts)
        assert scale is not None
        rule = with_scale(rule, scale)
    return rule


def expected_accepted(case: dict[str, Any]) -> bool:
    """The documented reject list: infinities, NaN, instants outside 0001-01-01 .. 9999-12-31 (UTC), and timestamps
    that Athena's half-up rounding to the millisecond shows on the next day (from 23:59:59.9995 on)."""
    if case["kind"] == "numeric":
        return case["text"] != "NaN"
    utc = case["utc"]
    if utc is None or not utc.endswith(" AD") or len(utc.split("-", 1)[0]) != 4:
        return False
    if case["kind"] == "date":
        return True
    clock = utc.split(" ")[1]  # HH:MM:SS.ffffff
    return clock < "23:59:59.999500"


def epoch_micros(case: dict[str, Any]) -> int:
    micros = Decimal(case["exact"]) * 1_000_000
    assert micros == micros.to_integral_value()
    return int(micros)


def as_micros(value: dt.date | dt.datetime) -> int:
    if isinstance(value, dt.datetime):
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    return (value - EPOCH.date()).days * 86_400_000_000


# numeric(3,-2) in the real shape is test_negative_scale_needs_the_modifier
GROUND_TRUTH = [
    (column, zone, shape)
    for column, zone in sorted(BY_COLUMN_AND_ZONE)
    for shape in ("modifiers", "real")
    if not (column == "c_numeric_3_neg2" and shape == "real")
]


@pytest.mark.parametrize(("column", "zone", "shape"), GROUND_TRUTH)
def test_every_ground_truth_value_is_restored_exactly_or_rejected(column: str, zone: str, shape: str) -> None:
    cases = BY_COLUMN_AND_ZONE[(column, zone)]
    texts = [c["text"] for c in cases]
    rule = rule_for(cases[0]["source_type"], texts, shape)
    restored = restore_values(pa.array(texts, pa.string()), rule)
    assert restored.values.type == rule.arrow_type
    assert not any(restored.malformed.to_pylist()), "PostgreSQL's own text must always have the expected shape"
    for case, value, rejected in zip(cases, restored.values.to_pylist(), restored.rejected.to_pylist(), strict=True):
        if case["text"] is None:
            assert value is None
            assert not rejected
            continue
        assert rejected == (not expected_accepted(case)), case
        if rejected:
            assert value is None
        elif case["kind"] == "numeric":
            assert value == Decimal(case["exact"]), case
            assert value.as_tuple().exponent == -rule.scale
        else:
            assert as_micros(value) == epoch_micros(case), case


def test_the_ground_truth_is_covered() -> None:
    kinds = {c["kind"] for c in CASES}
    assert kinds == {"date", "timestamp", "timestamptz", "numeric"}
    accepted = sum(1 for c in CASES if c["text"] is not None and expected_accepted(c))
    assert accepted > 300


def test_an_offset_crossing_into_1_bc_lands_on_ad_1_in_utc() -> None:
    """PostgreSQL prints 0001-01-01 00:00 UTC as 1 BC in Sao Paulo (LMT -03:06:28): converted, it is AD 1."""
    rule = rule_for("timestamp with time zone", [], "real")
    restored = restore_values(pa.array(["0001-12-31 20:53:32-03:06:28 BC"]), rule)
    assert restored.values.to_pylist() == [dt.datetime(1, 1, 1)]
    assert restored.rejected.to_pylist() == [False]


def test_negative_scale_needs_the_modifier() -> None:
    """numeric(3,-2) prints integers up to 5 digits. With the modifier that is decimal(5,0); the real metadata says
    only precision 3 and the data shows scale 0, so values above 3 digits are rejected (counted, never lost)."""
    old = restoration_rules("postgresql", [{"columnName": "v", "originalType": "numeric(3,-2)"}], ["v"])["v"]
    assert isinstance(old, Restoration)
    assert old.catalog_type == "decimal(5,0)"
    real = rule_for("numeric(3,-2)", ["0", "12300"], "real")
    assert real.catalog_type == "decimal(3,0)"
    restored = restore_values(pa.array(["0", "12300", "-99900"]), real)
    assert restored.rejected.to_pylist() == [False, True, True]
    assert restored.malformed.to_pylist() == [False, False, False]


# -- rules -------------------------------------------------------------------------------------------------------
def test_rules_from_the_real_shape() -> None:
    mappings = [
        real_shape("date"),
        {**real_shape("timestamp without time zone"), "columnName": "ts"},
        {**real_shape("timestamp(3) with time zone"), "columnName": "tstz"},
        {**real_shape("numeric(12,2)"), "columnName": "price"},
        {**real_shape("numeric"), "columnName": "free"},
        {**real_shape("numeric(50,2)"), "columnName": "huge"},
        {"columnName": "tags", "originalType": "ARRAY"},
        {"columnName": "mood", "originalType": "USER-DEFINED"},
        {"columnName": "id", "originalType": "uuid"},
        {"columnName": "t", "originalType": "time without time zone"},
        {"columnName": "iv", "originalType": "interval"},
        {"columnName": "m", "originalType": "money"},
        {"columnName": "doc", "originalType": "jsonb"},
        {"columnName": "name", "originalType": "character varying", "originalCharMaxLength": 20},
        {"columnName": "n", "originalType": "integer"},  # not a Parquet string: never restored
    ]
    strings = ["v", "ts", "tstz", "price", "free", "huge", "tags", "mood", "id", "t", "iv", "m", "doc", "name"]
    rules = restoration_rules("postgresql", mappings, strings)
    assert set(rules) == set(strings)
    restored = {k: (v.restore, v.catalog_type) for k, v in rules.items() if isinstance(v, Restoration)}
    assert restored == {
        "v": (Restore.DATE, "date"),
        "ts": (Restore.TIMESTAMP, "timestamp"),
        "tstz": (Restore.TIMESTAMP_FROM_UTC_OFFSET, "timestamp"),
        "price": (Restore.DECIMAL, "decimal"),  # scale not known yet: from the data
    }
    price = rules["price"]
    assert isinstance(price, Restoration)
    assert price.precision == 12
    assert price.scale is None
    assert all(isinstance(rules[k], KeptAsText) and rules[k].reason for k in set(strings) - set(restored))
    assert "unconstrained" in rules["free"].reason
    assert "38" in rules["huge"].reason
    tstz = rules["tstz"]
    assert "UTC" in tstz.comment()
    assert tstz.comment().startswith("source type: timestamp with time zone")
    assert tstz.arrow_type == pa.timestamp("us")


def test_rules_from_the_older_modifiers_shape() -> None:
    mappings = [
        {"columnName": "price", "originalType": "numeric(12,2)"},
        {"columnName": "whole", "originalType": "numeric(10)"},
        {"columnName": "tiny", "originalType": "numeric(2,5)"},
        {"columnName": "tstz", "originalType": "timestamp(3) with time zone"},
        {"columnName": "ts", "originalType": "timestamp(6) without time zone"},
        {"columnName": "free", "originalType": "numeric"},
        {"columnName": "arr", "originalType": "integer[]"},
    ]
    rules = restoration_rules("aurora-postgresql", mappings, [m["columnName"] for m in mappings])
    types = {k: v.catalog_type for k, v in rules.items() if isinstance(v, Restoration)}
    assert types == {
        "price": "decimal(12,2)",
        "whole": "decimal(10,0)",
        "tiny": "decimal(5,5)",  # numeric(2,5) holds |v| < 0.001: exact in decimal(5,5)
        "tstz": "timestamp",
        "ts": "timestamp",
    }
    assert rules["price"].arrow_type == pa.decimal128(12, 2)
    assert isinstance(rules["free"], KeptAsText)
    assert isinstance(rules["arr"], KeptAsText)


def test_missing_metadata_keeps_text_and_says_why() -> None:
    assert restoration_rules("postgresql", None, ["a"]) == {
        "a": KeptAsText("a", "", "no export metadata for this table: source type unknown")
    }
    rules = restoration_rules("postgresql", [{"columnName": "b", "originalType": "date"}, {"columnName": "a"}], ["a"])
    assert isinstance(rules["a"], KeptAsText)
    assert "no source type" in rules["a"].reason
    assert isinstance(restoration_rules("oracle", [real_shape("date")], ["v"])["v"], KeptAsText)


def test_column_names_match_case_insensitively_when_unambiguous() -> None:
    rules = restoration_rules("postgresql", [{"columnName": "Created", "originalType": "date"}], ["created"])
    assert isinstance(rules["created"], Restoration)


def test_mysql_date_is_restored_and_the_rest_stays() -> None:
    mappings = [
        {"columnName": "d", "originalType": "date"},
        {"columnName": "t", "originalType": "time"},
        {"columnName": "big", "originalType": "decimal", "originalNumPrecision": 65},
        {"columnName": "dt", "originalType": "datetime"},  # INT64 TIMESTAMP_MICROS in Parquet: not a string
    ]
    rules = restoration_rules("mysql", mappings, ["d", "t", "big"])
    assert set(rules) == {"d", "t", "big"}
    assert isinstance(rules["d"], Restoration)
    assert rules["d"].catalog_type == "date"
    assert isinstance(rules["t"], KeptAsText)
    assert isinstance(rules["big"], KeptAsText)
    restored = restore_values(pa.array(["2026-11-27", "0000-00-00", "2026-02-31", None]), rules["d"])
    assert restored.values.to_pylist() == [dt.date(2026, 11, 27), None, None, None]
    assert restored.rejected.to_pylist() == [False, True, True, False]  # MySQL's zero date: no date holds it
    assert restored.malformed.to_pylist() == [False, False, False, False]


# -- scale -------------------------------------------------------------------------------------------------------
def test_numeric_scale_from_samples() -> None:
    assert numeric_scale([None, "NaN", "Infinity", ""]) is None
    assert numeric_scale([None, "NaN", "-0.05"]) == 2
    assert numeric_scale(["12300"]) == 0
    assert numeric_scale(["1.5", "1.500"]) == 3  # disagreement: the larger scale loses nothing


def test_statistics_reveal_the_scale_without_reading_data() -> None:
    buffer = io.BytesIO()
    table = pa.table({"v": pa.array(["NaN", "-12.50", None, "3.25", "0.00", "NaN"]), "n": pa.array(range(6))})
    pq.write_table(table, buffer, row_group_size=2)
    metadata = pq.ParquetFile(io.BytesIO(buffer.getvalue())).metadata
    samples, not_utf8 = statistics_samples(metadata, "v")
    assert set(samples) == {"NaN", "-12.50", "0.00", "3.25"}
    assert not not_utf8
    assert numeric_scale(samples) == 2
    assert statistics_samples(metadata, "absent") == ([], False)
    bare = io.BytesIO()
    pq.write_table(table, bare, write_statistics=False)
    assert statistics_samples(pq.ParquetFile(io.BytesIO(bare.getvalue())).metadata, "v") == ([], False)


def test_statistics_that_are_not_utf8_flag_the_column_instead_of_raising() -> None:
    # A SQL_ASCII database's Latin-1 text: pyarrow's own Statistics.min raises UnicodeDecodeError on it.
    latin1 = pa.array([b"caf\xe9", b"12.5", None], pa.binary()).view(pa.string())
    buffer = io.BytesIO()
    pq.write_table(pa.table({"v": latin1}), buffer)
    metadata = pq.ParquetFile(io.BytesIO(buffer.getvalue())).metadata
    with pytest.raises(UnicodeDecodeError):
        _ = metadata.row_group(0).column(0).statistics.max
    samples, not_utf8 = statistics_samples(metadata, "v")
    assert samples == ["12.5"]
    assert not_utf8
    assert invalid_text_count(latin1) == 1
    assert invalid_text_count(pa.chunked_array([latin1, latin1])) == 2
    assert invalid_text_count(pa.array(["ok", None])) == 0


def test_with_scale_checks_its_input() -> None:
    rule = rule_for("numeric(10,2)", [], "modifiers")
    assert with_scale(rule, 4).catalog_type == "decimal(10,4)"
    assert with_scale(rule, 12).catalog_type == "decimal(12,12)"
    with pytest.raises(ValueError, match="above 38"):
        with_scale(rule, 39)
    with pytest.raises(ValueError, match="negative"):
        with_scale(rule, -1)
    with pytest.raises(ValueError, match="not a decimal"):
        with_scale(rule_for("date", [], "real"), 2)
    undecided = restoration_rules("postgresql", [real_shape("numeric(10,2)")], ["v"])["v"]
    with pytest.raises(ValueError, match="decide the scale"):
        restore_values(pa.array(["1.00"]), undecided)


# -- values: rejected vs malformed -------------------------------------------------------------------------------
def test_decimal_edges() -> None:
    rule = rule_for("numeric(5,2)", [], "modifiers")
    texts = ["123.45", "-0.05", "1.5", "1.500", "1.501", "1234.5", "NaN", "Infinity", "1e5", "$1.00", " 1.00", None]
    restored = restore_values(pa.array(texts), rule)
    assert restored.values.to_pylist() == [
        Decimal("123.45"), Decimal("-0.05"), Decimal("1.50"), Decimal("1.50"), *[None] * 8,
    ]  # fmt: skip
    assert restored.rejected.to_pylist() == [False] * 4 + [True] * 7 + [False]
    assert restored.malformed.to_pylist() == [False] * 8 + [True] * 3 + [False]


def test_timestamp_shapes() -> None:
    plain = rule_for("timestamp without time zone", [], "real")
    texts = [
        "2026-11-27 10:00:00.5",
        "2026-11-27 10:00:00+00",  # an offset on a timestamp without time zone: wrong format assumption
        "2026-11-27T10:00:00",
        "2026-11-27 10:00:00.1234567",
        "2026-11-27 24:00:00",  # right shape, impossible field
        "2026-11-27",
    ]
    restored = restore_values(pa.array(texts), plain)
    assert restored.values.to_pylist()[0] == dt.datetime(2026, 11, 27, 10, 0, 0, 500000)
    assert restored.rejected.to_pylist() == [False, True, True, True, True, True]
    assert restored.malformed.to_pylist() == [False, True, True, True, False, True]
    zoned = rule_for("timestamp with time zone", [], "real")
    restored = restore_values(pa.array(["2026-11-27 10:00:00-03:30", "2026-11-27 10:00:00", None]), zoned)
    assert restored.values.to_pylist() == [dt.datetime(2026, 11, 27, 13, 30), None, None]
    assert restored.malformed.to_pylist() == [False, True, False]


def test_chunked_input_and_empty_input() -> None:
    rule = rule_for("date", [], "real")
    chunked = pa.chunked_array([["2026-11-27"], [None, "1970-01-01"]])
    assert restore_values(chunked, rule).values.to_pylist() == [dt.date(2026, 11, 27), None, dt.date(1970, 1, 1)]
    empty = restore_values(pa.array([], pa.string()), rule)
    assert len(empty.values) == 0
    assert not format_assumption_broken(empty)


def test_the_written_parquet_types_are_what_athena_reads() -> None:
    """date -> INT32 DATE, timestamp -> INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false), decimal -> DECIMAL."""
    columns = {
        "d": restore_values(pa.array(["2026-11-27"]), rule_for("date", [], "real")).values,
        "t": restore_values(pa.array(["2026-11-27 10:00:00+01"]), rule_for("timestamptz", [], "modifiers")).values,
        "n": restore_values(pa.array(["1.25"]), rule_for("numeric(12,2)", [], "modifiers")).values,
    }
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer, store_decimal_as_integer=True)
    schema = pq.ParquetFile(io.BytesIO(buffer.getvalue())).schema
    logical = {schema.column(i).name: json.loads(schema.column(i).logical_type.to_json()) for i in range(3)}
    assert logical["d"]["Type"] == "Date"
    assert logical["t"] == {"Type": "Timestamp", "isAdjustedToUTC": False, "timeUnit": "microseconds"} or (
        logical["t"]["Type"] == "Timestamp" and logical["t"]["isAdjustedToUTC"] is False
    )
    assert logical["n"]["Type"] == "Decimal"
    assert schema.column(2).physical_type == "INT64"


# -- the threshold -----------------------------------------------------------------------------------------------
def test_format_assumption_threshold_is_more_than_half_of_non_null_values() -> None:
    rule = rule_for("date", [], "real")
    half = restore_values(pa.array(["2026-11-27", "27/11/2026", None, None]), rule)
    assert half.counts() == RestoreCounts(non_null=2, rejected=1, malformed=1)
    assert not format_assumption_broken(half)
    most = restore_values(pa.array(["2026-11-27", "27/11/2026", "28/11/2026"]), rule)
    assert format_assumption_broken(most)
    specials = restore_values(pa.array(["infinity", "-infinity", "0044-03-15 BC"]), rule)
    assert specials.counts() == RestoreCounts(3, 3, 0)
    assert not format_assumption_broken(specials)  # all rejected, none malformed: the format is right
    assert format_assumption_broken(half.counts() + most.counts())  # 3 of 5 over two row groups
    assert not format_assumption_broken(RestoreCounts())


# -- properties: random values printed the way PostgreSQL prints them --------------------------------------------
def pg_date(year: int, month: int, day: int) -> str:
    """Astronomical year -> PostgreSQL's text (year 0 is 1 BC)."""
    return f"{year:04d}-{month:02d}-{day:02d}" if year > 0 else f"{1 - year:04d}-{month:02d}-{day:02d} BC"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999))))
def test_random_timestamps_round_trip(moments: list[dt.datetime]) -> None:
    texts = [f"{m.year:04d}-{m:%m-%d %H:%M:%S}{pg_fraction(m.microsecond)}" for m in moments]
    restored = restore_values(pa.array(texts, pa.string()), rule_for("timestamp", [], "modifiers"))
    assert restored.values.to_pylist() == moments
    assert not any(restored.rejected.to_pylist())


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30)),
            st.integers(min_value=-(15 * 3600 + 59 * 60 + 59), max_value=15 * 3600 + 59 * 60 + 59),
        )
    )
)
def test_random_timestamptz_convert_to_utc(pairs: list[tuple[dt.datetime, int]]) -> None:
    texts = [
        f"{m.year:04d}-{m:%m-%d %H:%M:%S}{pg_fraction(m.microsecond)}{pg_offset(dt.timedelta(seconds=o))}"
        for m, o in pairs
    ]
    restored = restore_values(pa.array(texts, pa.string()), rule_for("timestamp with time zone", [], "real"))
    assert restored.values.to_pylist() == [m - dt.timedelta(seconds=o) for m, o in pairs]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=-4712, max_value=12000).flatmap(lambda y: st.tuples(st.just(y), st.dates()))))
def test_random_dates_including_bc_and_far_years(pairs: list[tuple[int, dt.date]]) -> None:
    """The year is drawn on its own (astronomical, -4712 .. 12000), month and day from a real date; Feb 29 is kept
    only in leap years of the proleptic Gregorian calendar (1 BC = year 0 is one)."""
    cases = []
    for year, day in pairs:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        if day.month == 2 and day.day == 29 and not leap:
            continue
        cases.append((year, day.month, day.day))
    restored = restore_values(pa.array([pg_date(*c) for c in cases], pa.string()), rule_for("date", [], "real"))
    for (year, month, day), value, rejected in zip(
        cases, restored.values.to_pylist(), restored.rejected.to_pylist(), strict=True
    ):
        if 1 <= year <= 9999:
            assert value == dt.date(year, month, day)
        else:
            assert rejected
            assert value is None
    assert not any(restored.malformed.to_pylist())


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=38)
    .flatmap(lambda p: st.tuples(st.just(p), st.integers(min_value=0, max_value=p)))
    .flatmap(
        lambda ps: st.tuples(
            st.just(ps),
            st.lists(st.integers(min_value=-(10 ** ps[0]) + 1, max_value=10 ** ps[0] - 1)),
            st.lists(st.integers(min_value=10 ** ps[0], max_value=10 ** (ps[0] + 3))),
        )
    )
)
def test_random_decimals_round_trip_and_overflow_is_rejected(
    case: tuple[tuple[int, int], list[int], list[int]],
) -> None:
    (precision, scale), fitting, too_big = case
    as_text = [f"{Decimal(u).scaleb(-scale, WIDE):.{scale}f}" for u in fitting + too_big]  # exactly s digits
    rule = rule_for(f"numeric({precision},{scale})", [], "modifiers")
    restored = restore_values(pa.array(as_text, pa.string()), rule)
    values = restored.values.to_pylist()
    assert values[: len(fitting)] == [Decimal(u).scaleb(-scale, WIDE) for u in fitting]
    assert restored.rejected.to_pylist() == [False] * len(fitting) + [True] * len(too_big)
    assert not any(restored.malformed.to_pylist())


# --------------------------------------------------------------------------------------------------
# Fast path (common shapes: a match, then Arrow's cast) against the regex path: identical on every value
# --------------------------------------------------------------------------------------------------
def same_as_regex_path(texts: list[str | None], rule: Restoration, *, cast_may_refuse: bool = False) -> None:
    """restore_values (fast path where it applies) and restore_values_by_regex agree on every output, also on a
    sliced array (non-zero offset) and with the values split across chunks."""
    array = pa.array(["padding", *texts], pa.string()).slice(1)
    reference = restore_values_by_regex(array, rule)
    shape = _fast_shape(rule)
    if shape is not None and not cast_may_refuse:  # Arrow's cast takes every fast-shaped value: no fallback needed
        _restore_fast(pc.filter(array, pc.fill_null(pc.match_substring_regex(array, shape), True)), rule)
    for given_values in (array, pa.chunked_array([array.slice(0, len(texts) // 2), array.slice(len(texts) // 2)])):
        fast = restore_values(given_values, rule)
        assert fast.values.type == reference.values.type == rule.arrow_type
        assert fast.values.to_pylist() == reference.values.to_pylist(), texts
        assert fast.values.is_null().to_pylist() == reference.values.is_null().to_pylist()
        assert fast.rejected.to_pylist() == reference.rejected.to_pylist(), texts
        assert fast.malformed.to_pylist() == reference.malformed.to_pylist(), texts
        assert fast.rejected.null_count == fast.malformed.null_count == 0
        assert fast.non_null == reference.non_null


NUMBERS = st.integers(min_value=0, max_value=99)
EDGE_TEXT = st.sampled_from([
    "", " ", "infinity", "-infinity", "Infinity", "NaN", "-Infinity", "BC", " BC", "2021-02-29", "2020-02-29",
    "2021-02-30", "2021-04-31", "0000-00-00", "0000-01-01", "0001-01-01", "9999-12-31", "10000-01-01",
    "0001-01-01 BC", "2024-01-01 00:00:00", "2024-01-01 24:00:00", "2024-01-01 23:59:60", "2024-01-01T00:00:00",
    "2024-01-01 00:00:00.1234567", "2024-01-01 00:00:00.", "2024-01-01 00:00:00+16", "2024-01-01 00:00:00+15:59",
    "2024-01-01 00:00:00+15:59:59", "2024-01-01 00:00:00-00:60", "2024-01-01 00:00:00Z", "2024-01-01 00:00:00+0530",
    "0001-01-01 00:00:00+01", "9999-12-31 23:59:59.999999-01", "\uff12\uff10\uff12\uff14-01-01", "2024-1-1",
    " 2024-01-01", "2024-01-01 ", "2024-01-01\n", "-0", "-0.00", "0", "00", ".5", "5.", "+1", "1e5", "1,5", "-.5",
    "99999999999999999999999999999999999999", "0.000000000000000000000000000000000000001",
])  # fmt: skip


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    year = draw(st.one_of(st.integers(min_value=0, max_value=9999), st.integers(min_value=10000, max_value=99999)))
    text = f"{year:04d}-{draw(NUMBERS.map(lambda n: n % 14)):02d}-{draw(NUMBERS.map(lambda n: n % 33)):02d}"
    return text + draw(st.sampled_from(["", "", "", " BC"]))


@st.composite
def timestamp_texts(draw: st.DrawFn, with_offset: bool) -> str:
    date = draw(date_texts()).removesuffix(" BC")
    hh, mi, ss = draw(NUMBERS.map(lambda n: n % 26)), draw(NUMBERS.map(lambda n: n % 62)), draw(NUMBERS)
    digits = st.text("0123456789", min_size=1, max_size=7).map(lambda f: "." + f)
    fraction = draw(st.sampled_from(["", "", "."]) | digits)
    offset = ""
    if with_offset:
        sign = draw(st.sampled_from("+-"))
        offset = f"{sign}{draw(NUMBERS.map(lambda n: n % 18)):02d}"
        offset += draw(st.sampled_from(["", "", ":00", ":30", ":45", ":59", ":60", ":30:15", ":00:00"]))
    return f"{date} {hh:02d}:{mi:02d}:{ss:02d}{fraction}{offset}" + draw(st.sampled_from(["", "", "", " BC"]))


@st.composite
def numeric_texts(draw: st.DrawFn) -> str:
    integer = draw(st.text("0123456789", min_size=0, max_size=40))
    fraction = draw(st.none() | st.text("0123456789", min_size=0, max_size=40))
    sign = draw(st.sampled_from(["", "", "-"]))
    return sign + integer + ("" if fraction is None else "." + fraction)


def mixed(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str | None]]:
    return st.lists(st.one_of(values, values, values, EDGE_TEXT, st.none(), st.text(max_size=12)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(mixed(date_texts()))
def test_fast_path_equals_regex_path_for_dates(texts: list[str | None]) -> None:
    same_as_regex_path(texts, rule_for("date", [], "real"))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.dates().map(lambda d: f"{d.year:04d}-{d.month:02d}-{d.day:02d}"),
            st.sampled_from(["2024-02-29", "2000-02-29", "1600-02-29", "0004-02-29", "0000-01-01", "0000-02-29",
                             "9999-12-31", "0001-01-01"]),
            st.none(),
        ),
        max_size=40,
    )
)  # fmt: skip
def test_a_column_arrow_parses_whole_as_dates_gets_what_the_regex_path_gives(texts: list[str | None]) -> None:
    """Every value a date Arrow's cast takes (no fallback): leap days, year 0000 and the range's ends included."""
    pc.cast(pa.array(texts, pa.string()), pa.date32())  # the cast takes them all: the path under test is the cast's
    same_as_regex_path(texts, rule_for("date", [], "real"))


@settings(max_examples=300, deadline=None)
@given(mixed(timestamp_texts(with_offset=False)))
def test_fast_path_equals_regex_path_for_timestamps(texts: list[str | None]) -> None:
    same_as_regex_path(texts, rule_for("timestamp", [], "real"))


@settings(max_examples=300, deadline=None)
@given(mixed(timestamp_texts(with_offset=True)))
def test_fast_path_equals_regex_path_for_timestamptz(texts: list[str | None]) -> None:
    same_as_regex_path(texts, rule_for("timestamp with time zone", [], "real"))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=1, max_value=38).flatmap(lambda p: st.tuples(st.just(p), st.integers(0, p))),
    mixed(numeric_texts()),
)
def test_fast_path_equals_regex_path_for_numerics(precision_scale: tuple[int, int], texts: list[str | None]) -> None:
    precision, scale = precision_scale
    same_as_regex_path(texts, rule_for(f"numeric({precision},{scale})", [], "modifiers"))


@st.composite
def boundary_timestamps(draw: st.DrawFn, with_offset: bool) -> str:
    """Timestamps drawn on purpose where the two paths could part: years 0000-0002 and 9998-10000, the first and
    last second of a day, fractions at Athena's millisecond rounding, offsets that carry a value across a year."""
    year = draw(st.sampled_from([0, 1, 2, 9998, 9999, 10000]))
    month, day = draw(st.sampled_from([(1, 1), (12, 31), (2, 28), (2, 29), (6, 15)]))
    clock = draw(st.sampled_from(["00:00:00", "23:59:59", "12:00:00", "00:59:59", "23:00:00"]))
    fraction = draw(st.sampled_from(["", ".0004", ".0005", ".9994", ".9995", ".999499", ".9995", ".999999", ".5"]))
    offset = ""
    if with_offset:
        offset = draw(st.sampled_from(["+00", "-00", "+01", "-01", "+15:59", "-15:59", "+15:59:59", "-15:59:59",
                                       "-00:00:01", "+00:00:01", "+14:30", "-03:06:28"]))  # fmt: skip
    return f"{year:04d}-{month:02d}-{day:02d} {clock}{fraction}{offset}" + draw(st.sampled_from(["", "", " BC"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(boundary_timestamps(with_offset=True), min_size=1, max_size=20))
def test_fast_path_equals_regex_path_at_the_boundary_years_and_offsets(texts: list[str]) -> None:
    same_as_regex_path(texts, rule_for("timestamp with time zone", [], "real"))


@settings(max_examples=300, deadline=None)
@given(st.lists(boundary_timestamps(with_offset=False), min_size=1, max_size=20))
def test_fast_path_equals_regex_path_at_the_boundary_years(texts: list[str]) -> None:
    same_as_regex_path(texts, rule_for("timestamp", [], "real"))


@pytest.mark.parametrize(
    ("text", "kind", "accepted"),
    [
        ("2026-11-27 23:59:59.9995", "timestamp", False),  # Athena would show 2026-11-28 00:00:00.000
        ("2026-11-27 23:59:59.999499", "timestamp", True),  # shows 23:59:59.999; the file keeps the microseconds
        ("2026-11-27 12:00:00.9995", "timestamp", True),  # rounds within the day: kept
        ("9999-12-31 23:59:59.9995", "timestamp", False),  # would show +10000-01-01
        ("1969-12-31 23:59:59.9995", "timestamp", False),  # before 1970: half up towards the future as well
        ("0001-01-01 00:00:00.0004", "timestamp", True),
        ("2026-11-27 20:59:59.9995-03", "timestamp with time zone", False),  # 23:59:59.9995 in UTC
        ("2026-11-28 02:59:59.9995+03", "timestamp with time zone", False),  # 2026-11-27 23:59:59.9995 in UTC
        ("2026-11-28 02:59:59.9995+02", "timestamp with time zone", True),  # 00:59:59.9995 in UTC: same day
        ("0000-12-31 23:00:00-05", "timestamp with time zone", False),  # year 0 does not exist in PostgreSQL's text
        ("0001-01-01 04:00:00+05", "timestamp with time zone", False),  # 0000-12-31 23:00 UTC: before year 1
    ],
)
def test_athena_millisecond_view_and_year_zero(text: str, kind: str, accepted: bool) -> None:
    rule = rule_for(kind, [], "real")
    fast, regex = restore_values(pa.array([text]), rule), restore_values_by_regex(pa.array([text]), rule)
    assert fast.rejected.to_pylist() == regex.rejected.to_pylist() == [not accepted]
    assert fast.values.to_pylist() == regex.values.to_pylist()
    assert not fast.malformed.to_pylist()[0] or text.startswith("0000")


def test_common_postgresql_values_take_the_fast_path() -> None:
    """The speed rests on the values PostgreSQL prints most often matching the fast shapes."""
    common = {
        "date": ["2024-02-28", "1999-12-31", "0001-01-01"],
        "timestamp": ["2024-02-28 13:45:00", "2024-02-28 13:45:00.5", "2024-02-28 13:45:00.123456"],
        "timestamp with time zone": ["2024-02-28 13:45:00+00", "2024-02-28 13:45:00.2-03:30", "2024-02-28 13:45:00+15"],
        "numeric(12,2)": ["0.00", "-1.50", "9999999999.99"],
        "numeric(10)": ["0", "-42", "9999999999"],
    }  # fmt: skip
    for source_type, texts in common.items():
        rule = rule_for(source_type, texts, "modifiers")
        shape = _fast_shape(rule)
        assert shape is not None
        assert all(re.fullmatch(shape.strip("^$"), text) for text in texts), (source_type, shape)
    assert _fast_shape(rule_for("numeric(3,3)", ["0.500"], "modifiers")) is None  # regex path only


def test_a_cast_refused_on_the_fast_path_falls_back_to_the_regex_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fast shape looser than Arrow's parser (here one admitting 30 February) costs speed, never a wrong value."""
    monkeypatch.setitem(_FAST_SHAPES, Restore.DATE, r"^\d{4}-\d\d-\d\d$")
    texts = ["2021-02-30", "2021-02-28", None, "2021-13-01", "nope", "2021-02-28 BC"]
    same_as_regex_path(texts, rule_for("date", [], "real"), cast_may_refuse=True)
