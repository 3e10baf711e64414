"""Exact or loud, by generation: one table of random odd content beside ordinary tables, published by the job's own
run_job in-process (moto's in-process S3 and Glue), never crashes the night. The ordinary tables publish exactly;
the odd table publishes exactly (every value typed as its text says, or kept byte for byte: as text, or in
sor_rejects) or fails by name.

Odd content: text that is not UTF-8, originalTypeMappings of every shape (missing, not a list, entries that are not
objects, type words of both engines, PostgreSQL types the export writes as text, numeric scales past the
precision and past 38), timestamps of years 0000 to 10000 with offsets up to ±15:59:59 and microseconds at the
Athena day boundary. The Spark tasks are replaced by the same units run in this process (run_in_process): the
units, transforms and writer are the job's own; tests/glue/test_typed_end_to_end.py and test_typed_job.py run them
under Spark.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from moto import mock_aws

from sor_job.outcomes import ExitCode
from tests.exports import EXPORT_BUCKET, export_with_text_table, make_table
from tests.glue.conftest import SorWorld
from tests.glue.in_process import DATABASE, publish, published

PLAIN = make_table("plain", {"id": "integer", "name": "text"}, [(1, "ana"), (2, "bo"), (3, None)])
DATED_ROWS = [(1, "2026-11-01", "12.50"), (2, None, "-0.75"), (3, "0001-01-01", None)]
DATED = make_table("dated", {"id": "integer", "d": "date", "amount": "numeric(10,2)"}, DATED_ROWS)

# -- odd values ------------------------------------------------------------------------------------------------
_YEARS = st.one_of(st.sampled_from([0, 1, 2, 1582, 1899, 1969, 1970, 9998, 9999, 10000]), st.integers(0, 10000))
_BOUNDARY_FRACTIONS = st.sampled_from([".9995", ".99950", ".999500", ".9996", ".999999", ".999499", ".9994"])
_FRACTIONS = st.one_of(
    _BOUNDARY_FRACTIONS,
    _BOUNDARY_FRACTIONS,
    st.sampled_from(["", ".5", ".999", ".000001"]),
    st.integers(0, 999_999).map(lambda us: f".{us:06d}"),
)


_OFFSETS = ["+00", "+00", "+00", "-03", "+05:30", "-15:59", "+15:59:59", "-03:06:28", "+14", "-00:00:01", "+16"]


@st.composite
def dates(draw: st.DrawFn) -> str:
    """Text shaped like PostgreSQL's date output, with impossible fields now and then."""
    year = draw(_YEARS)
    month = draw(st.one_of(st.integers(1, 12), st.integers(0, 13)))
    day = draw(st.one_of(st.integers(1, 28), st.integers(0, 32)))
    return f"{year:04d}-{month:02d}-{day:02d}" + draw(st.sampled_from(["", "", "", " BC"]))


@st.composite
def timestamps(draw: st.DrawFn, offset: bool | None = None) -> str:
    """Text shaped like PostgreSQL's timestamp (offset False) or timestamptz (True) output; None draws either. Half
    of them sit on the last millisecond of a UTC day, where Athena's half-up rounding may show the next day."""
    date = draw(dates())
    bc = date.endswith(" BC")
    with_offset = draw(st.booleans()) if offset is None else offset
    if draw(st.booleans()):
        clock, fraction, zone = "23:59:59", draw(_BOUNDARY_FRACTIONS), "+00" if with_offset else ""
    else:
        clock = f"{draw(st.integers(0, 24)):02d}:{draw(st.integers(0, 60)):02d}:{draw(st.integers(0, 60)):02d}"
        fraction, zone = draw(_FRACTIONS), draw(st.sampled_from(_OFFSETS)) if with_offset else ""
    return f"{date.removesuffix(' BC')} {clock}{fraction}{zone}" + (" BC" if bc else "")


@st.composite
def numbers(draw: st.DrawFn) -> str:
    places = draw(st.one_of(st.integers(0, 4), st.integers(0, 45)))
    return str(draw(st.decimals(allow_nan=False, allow_infinity=False, places=places)))


_TEXT = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.binary(max_size=12).map(lambda b: b.decode("latin-1")),  # text; its Latin-1 bytes are what the file gets
    timestamps(),
    st.sampled_from(
        ["NaN", "infinity", "-infinity", "Infinity", "0.5", "-12.50", "1e5", "9" * 40, "0." + "0" * 39 + "1"]
    ),
    numbers(),
)
# A column's kind: its type word in the metadata and the text its values mostly have (odd values mixed in).
_KINDS = {
    "timestamp without time zone": timestamps(offset=False),
    "timestamp with time zone": timestamps(offset=True),
    "date": dates(),
    "numeric": numbers(),
    "text": _TEXT,
}
_TYPE_WORDS = [
    "numeric", "numeric(5,2)", "numeric(2,40)", "numeric(40,2)", "numeric(3,-2)", "decimal", "date", "timestamp",
    "timestamp without time zone", "timestamp with time zone", "timestamptz", "bit", "bit varying", "tsvector",
    "USER-DEFINED", "ARRAY", "text", "character varying", "varchar", "datetime", "interval", "time", "", "made up",
]  # fmt: skip


@st.composite
def type_mappings(draw: st.DrawFn, kinds: dict[str, str]) -> Any:
    """originalTypeMappings in every shape the job must survive: real (mostly each column's own kind), broken."""
    columns = list(kinds)
    shape = draw(st.sampled_from(["real", "real", "real", "missing", "not a list", "junk entries"]))
    if shape == "missing":
        return None
    if shape == "not a list":
        return draw(st.sampled_from([{}, "numeric", 7]))
    entries: list[Any] = []
    for column in columns:
        entry: dict[str, Any] = {"columnName": draw(st.sampled_from([column, column.upper(), column, "other"]))}
        own = st.just(kinds[column])
        entry["originalType"] = draw(st.one_of(own, own, st.sampled_from(_TYPE_WORDS)))
        precision = draw(st.sampled_from([12, 12, 38, 38, None, 0, 2, 39, 60, -1, "x"]))
        if precision is not None:
            entry["originalNumPrecision"] = precision
        entries.append(entry)
    if shape == "junk entries":
        entries += draw(st.lists(st.sampled_from([None, 3, "x", {"originalType": "date"}, []]), max_size=3))
    return entries


# -- the export: ordinary tables and the odd one --------------------------------------------------------------
def _odd_export(columns: dict[str, list[str | None]], mappings: Any) -> dict[str, bytes]:
    return export_with_text_table([PLAIN, DATED], "odd", columns, mappings)


# -- what "exact" means for a typed value: an oracle independent of the job's regexes and Arrow casts ---------
_TS = re.compile(
    r"^(\d{4,7})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?"
    r"(?:([+-])(\d\d)(?::(\d\d))?(?::(\d\d))?)?( BC)?$"
)


def _instant(text: str, with_offset: bool) -> dt.datetime | None:
    """The instant PostgreSQL's text names (UTC for an offset), or None when no accepted value holds it."""
    match = _TS.match(text)
    if match is None or match[12] or bool(match[8]) != with_offset:
        return None
    year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
    micros = int((match[7] or "").ljust(6, "0"))
    try:
        value = dt.datetime(year, month, day, hour, minute, second, micros)  # wall time, or UTC once shifted
        if with_offset:
            offset = dt.timedelta(hours=int(match[9]), minutes=int(match[10] or 0), seconds=int(match[11] or 0))
            if int(match[9]) > 15:
                return None
            value = value - offset if match[8] == "+" else value + offset
    except (ValueError, OverflowError):
        return None
    at_midnight = value.replace(hour=0, minute=0, second=0, microsecond=0)
    if (value - at_midnight) >= dt.timedelta(days=1) - dt.timedelta(microseconds=500):
        return None  # Athena would show the next day (half-up rounding to the millisecond)
    return value


def _exact(catalog_type: str, text: str, value: Any) -> bool:
    """Whether `value`, published in a column of `catalog_type`, is exactly what `text` says."""
    if catalog_type == "date":
        match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)", text)
        return match is not None and value == dt.date(int(match[1]), int(match[2]), int(match[3]))
    if catalog_type == "timestamp":
        return value in {_instant(text, False), _instant(text, True)} - {None}
    if catalog_type.startswith("decimal("):
        return re.fullmatch(r"-?\d+(\.\d+)?", text) is not None and Decimal(text) == value
    raise AssertionError(f"unexpected restored type {catalog_type}")


def _event(text: str) -> None:
    """A Hypothesis event (--hypothesis-show-statistics shows how often the odd table published, and as what);
    nothing outside a Hypothesis test."""
    with contextlib.suppress(InvalidArgument):
        event(text)


def check_odd_table(summary: dict[str, Any], clients: Any, columns: dict[str, list[str | None]]) -> None:
    failed = {f["name"]: f for f in summary["failed_tables"]}
    _event("odd table: failed" if "public_odd" in failed else "odd table: published")
    if "public_odd" in failed:
        assert failed["public_odd"]["error"], failed
        assert failed["public_odd"]["failure"] in {"transient", "deterministic"}
        return
    table = clients.glue.get_table(DatabaseName=DATABASE, Name="public_odd")["Table"]
    types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
    data = published(clients, "public_odd")
    assert data.column("id").to_pylist() == list(range(len(next(iter(columns.values())))))
    rejects = _raw_rejects(data)
    for name, texts in columns.items():
        catalog = types[name.lower()]
        _event(f"a published odd column: {catalog.split('(')[0]}")
        if catalog == "string":
            kept = pc_binary(data.column(name))
            assert kept == [None if t is None else t.encode("latin-1", "replace") for t in texts], name
            continue
        for row, (text, value) in enumerate(zip(texts, data.column(name).to_pylist(), strict=True)):
            raw = rejects[row]
            if text is None:
                assert value is None
                assert name.lower() not in raw
            elif value is None:  # rejected: the exact bytes, keyed by the catalog column name
                assert raw.get(name.lower()) == text.encode("latin-1", "replace")
            else:
                assert _exact(catalog, text, value), (name, catalog, text, value)


def _raw_rejects(data: pa.Table) -> list[dict[str, bytes]]:
    """Each row's sor_rejects.raw_values as column -> the exact bytes (read as binary: they need not be UTF-8)."""
    if "sor_rejects" not in data.column_names:
        return [{} for _ in range(data.num_rows)]
    binary = pa.struct([pa.field(f.name, pa.map_(pa.string(), pa.binary()) if f.name == "raw_values" else f.type)
                        for f in data.schema.field("sor_rejects").type])  # fmt: skip
    return [dict((r or {}).get("raw_values") or []) for r in data.column("sor_rejects").cast(binary).to_pylist()]


def pc_binary(column: pa.ChunkedArray) -> list[bytes | None]:
    return column.cast(pa.binary()).to_pylist()


def check_ordinary_tables(summary: dict[str, Any], clients: Any) -> None:
    assert "public_plain" not in {f["name"] for f in summary["failed_tables"]}
    assert "public_dated" not in {f["name"] for f in summary["failed_tables"]}
    plain = published(clients, "public_plain")
    assert plain.column("name").to_pylist() == ["ana", "bo", None]
    dated = published(clients, "public_dated")
    assert dated.column("d").to_pylist() == [dt.date(2026, 11, 1), None, dt.date(1, 1, 1)]
    assert dated.column("amount").to_pylist() == [Decimal("12.50"), Decimal("-0.75"), None]


@st.composite
def odd_tables(draw: st.DrawFn) -> tuple[dict[str, list[str | None]], Any]:
    rows = draw(st.integers(1, 6))
    names = draw(st.lists(st.sampled_from(["v", "Total", "created_at", "amount"]), min_size=1, max_size=3, unique=True))
    kinds = {name: draw(st.sampled_from(sorted(_KINDS))) for name in names}
    columns = {}
    for name in names:
        usual = _KINDS[kinds[name]]
        columns[name] = draw(st.lists(st.one_of(usual, usual, usual, st.none(), _TEXT), min_size=rows, max_size=rows))
    return columns, draw(type_mappings(kinds))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(odd=odd_tables())
def test_an_odd_table_never_costs_the_others_their_night(in_process_aws: None, odd: tuple[dict[str, Any], Any]) -> None:
    columns, mappings = odd
    with mock_aws():
        summary, code, clients = publish(_odd_export(columns, mappings))
        assert code in {ExitCode.SUCCEEDED, ExitCode.TABLE_FAILED}, summary
        check_ordinary_tables(summary, clients)
        check_odd_table(summary, clients, columns)


# The review's cases: numeric(2,40), Latin-1 text, year 0000 with a negative offset, 23:59:59.9995, the quoted
# column "Total", a PostgreSQL bit beside timestamptz.
REVIEW_COLUMNS = {
    "Total": ["0." + "0" * 39 + "1", None, "0." + "0" * 38 + "12"],
    "v": ["caf\xe9", "ok", None],
    "created_at": ["0000-12-31 23:00:00-05", "2026-11-27 23:59:59.9995+00", "2026-11-27 23:59:59.999499+00"],
    "amount": ["1", "0", None],
}
REVIEW_MAPPINGS = [
    {"columnName": "Total", "originalType": "numeric", "originalNumPrecision": 2},
    {"columnName": "v", "originalType": "text"},
    {"columnName": "created_at", "originalType": "timestamp with time zone"},
    {"columnName": "amount", "originalType": "bit"},
]


def test_the_examples_the_review_found(in_process_aws: None) -> None:
    """The review's cases, each beside the ordinary tables: numeric(2,40), Latin-1 text, year 0000 with a negative
    offset, 23:59:59.9995, the quoted column "Total", a PostgreSQL bit(3) beside timestamptz (engine from the
    argument, not the words)."""
    columns, mappings = REVIEW_COLUMNS, REVIEW_MAPPINGS
    with mock_aws():
        summary, code, clients = publish(_odd_export(columns, mappings))
        assert code == ExitCode.SUCCEEDED, summary
        check_ordinary_tables(summary, clients)
        check_odd_table(summary, clients, columns)
        table = clients.glue.get_table(DatabaseName=DATABASE, Name="public_odd")["Table"]
        types = {c["Name"]: c["Type"] for c in table["StorageDescriptor"]["Columns"]}
        assert types["total"] == "string"  # scale 40 needs decimal(40,40): text, by rule
        assert types["created_at"] == "timestamp"  # a bit column did not make it MySQL
        data = published(clients, "public_odd")
        assert data.column("created_at").to_pylist()[2] == dt.datetime(2026, 11, 27, 23, 59, 59, 999499)
        raw = _raw_rejects(data)
        assert raw[0] == {"created_at": b"0000-12-31 23:00:00-05"}
        assert raw[1] == {"created_at": b"2026-11-27 23:59:59.9995+00"}
        assert summary["invalid_text_values"] == 1
        assert summary["rejected_values"] == 2


def test_the_examples_the_review_found_as_glue_runs_them(world: SorWorld) -> None:
    """The same export, run as Glue runs the job (Spark, the emulator's IAM), read back as Athena would (DuckDB
    over the catalog): published, exact or in sor_rejects under the catalog column name."""
    objects = export_with_text_table([PLAIN, DATED], "odd", REVIEW_COLUMNS, REVIEW_MAPPINGS)
    world.bucket(EXPORT_BUCKET)
    for key, body in objects.items():
        world.s3.put_object(Bucket=EXPORT_BUCKET, Key=key, Body=body)
    root = "/".join(next(iter(objects)).split("/")[:2])
    run = world.spark_run(f"s3://{EXPORT_BUCKET}/{root}/")
    assert run.code == 0, run.stderr[-3000:]
    odd = run.table("public_odd")
    assert odd["restored_columns"] == {"created_at": "timestamp"}
    assert odd["invalid_text"] == {"v": 1}
    assert odd["rejected_values"] == {"created_at": 2}
    rows = world.query(
        f"SELECT id, created_at, element_at(sor_rejects.raw_values, 'created_at'), total, amount "
        f"FROM {DATABASE}.public_odd ORDER BY id"
    )
    assert rows == [
        (0, None, ["0000-12-31 23:00:00-05"], "0." + "0" * 39 + "1", "1"),
        (1, None, ["2026-11-27 23:59:59.9995+00"], None, "0"),
        (2, dt.datetime(2026, 11, 27, 23, 59, 59, 999499), None, "0." + "0" * 38 + "12", None),
    ]
    assert world.query(f"SELECT count(*) FROM {DATABASE}.public_plain") == [(3,)]
