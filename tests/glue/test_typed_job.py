"""The job with typed columns on (the default), run the way Glue runs it (local/emulator/job_runner.py, Spark local[2]),
against the emulator as the Glue role: exact values through the catalog, rejects, a table whose format
assumption breaks, and a re-run. Each job run costs a JVM start (~10 s): the assertions share few runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from local.export_emulator.source import SourceColumn, SourceTable
from local.postgres.pg_text import PgText, from_json, source_tables
from sor_job.restore_transform import REJECTS_CATALOG_TYPE, REJECTS_COLUMN
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, SorWorld

# No glue_job marker: this module runs the job under the Spark venv, which already carries the Glue 5.0 pins
# (pyarrow 17, boto3 1.34), so the second pass of `make test` under SOR_JOB_PYTHON would only run it twice.
GROUND_TRUTH = Path(__file__).resolve().parents[1] / "data" / "pg_text.json"
TIME_ZONE = "America/St_Johns"  # offsets of -03:30 / -02:30: a converted timestamptz cannot pass by accident
EPOCH = dt.datetime(1970, 1, 1)


def expected_value(case: PgText) -> Any:
    """The value Athena must read for a case, or None when the text must land in sor_rejects instead."""
    if case.text is None:
        return None
    if case.kind == "numeric":
        if case.exact in {None, "NaN"}:
            return None
        # numeric(3,-2): the real metadata has no scale key, so the job sees numeric precision 3, scale 0 from
        # the data: values beyond 3 digits go to sor_rejects (kept exactly, never rounded)
        if ",-" in case.source_type and len(case.exact.lstrip("-")) > int(case.source_type.split("(")[1].split(",")[0]):
            return None
        return Decimal(case.exact)
    micros = case.epoch_microseconds()
    if micros is None:
        return None
    try:
        value = EPOCH + dt.timedelta(microseconds=micros)
    except OverflowError:  # before 0001 or after 9999: rejected (docs/sor-job.md "Restored types")
        return None
    if case.kind != "date" and micros % 86_400_000_000 >= 86_400_000_000 - 500:
        return None  # Athena's half-up millisecond rounding would show the next day: rejected
    return value.date() if case.kind == "date" else value


def broken_table() -> SourceTable:
    """A date column whose text is not PostgreSQL's ISO output: the format assumption is wrong for it."""
    rows = [(i, f"{i % 28 + 1:02d}/11/2026") for i in range(10)] + [(10, "2026-11-27")]
    return SourceTable("pg_text", "public", "dmy_dates", [SourceColumn("id", "integer"), SourceColumn("d", "date")],
                       rows)  # fmt: skip


@pytest.fixture
def typed_night(world: SorWorld) -> tuple[SorWorld, list[PgText], Any, Any]:
    cases = [c for c in from_json(GROUND_TRUTH.read_text()) if c.time_zone == TIME_ZONE]
    tables = source_tables(cases, TIME_ZONE)
    uri = world.export([*tables, broken_table()], export_id="aurora-sor-pg-text-2026-11-26", row_group_rows=4)
    first = world.spark_run(uri)
    state = world.state()
    second = world.spark_run(uri)
    return world, cases, (first, state), (second, world.state())


def test_typed_night_end_to_end(typed_night: tuple[SorWorld, list[PgText], Any, Any]) -> None:
    world, cases, (first, state), (second, state_again) = typed_night
    assert first.code == 1, first.stderr[-3000:]  # the dmy_dates table fails, every other one is published
    failed = first.summary["failed_tables"]
    assert [f["name"] for f in failed] == ["public_dmy_dates"]
    assert "10 of 11 values are not date text" in failed[0]["error"]
    assert "01/11/2026" in failed[0]["error"]  # samples in the error (the manifest), never in metrics
    assert "nothing of the day is published" in failed[0]["error"]
    assert not [k for k in state["objects"] if "/public_dmy_dates/" in k]
    assert "public_dmy_dates" not in state["catalog"]

    by_column: dict[str, list[PgText]] = {}
    for case in cases:
        by_column.setdefault(case.column, []).append(case)
    rejected_total = 0
    for column, column_cases in by_column.items():
        name = f"ground_truth_{column}"
        table = first.table(name)
        assert table["status"] == "PUBLISHED", table
        assert table["method"] == "rewrite"
        catalog = {c["Name"]: c for c in state["catalog"][name]["columns"]}
        assert catalog[REJECTS_COLUMN]["Type"] == REJECTS_CATALOG_TYPE
        assert catalog["v"]["Type"] == table["restored_columns"]["v"]
        if column_cases[0].kind == "numeric":
            scale = max(len((c.text or "").partition(".")[2]) for c in column_cases if c.text not in {None, "NaN"})
            assert catalog["v"]["Type"].endswith(f",{scale})"), catalog["v"]
        rows = world.query(f"SELECT id, v, {REJECTS_COLUMN} FROM {DATABASE}.{name} ORDER BY id")
        assert len(rows) == len(column_cases)
        for case, (row_id, value, rejects) in zip(sorted(column_cases, key=lambda c: c.id), rows, strict=True):
            assert row_id == case.id
            assert value == expected_value(case), (column, case)
            if case.text is not None and expected_value(case) is None:
                assert rejects["raw_values"] == {"v": case.text}, (column, case)
                assert rejects["source_file"].startswith("s3://")
                assert rejects["row_index"] >= 0
                rejected_total += 1
            else:
                assert rejects is None, (column, case)
        assert table["rejected_values"] == {"v": sum(1 for c in column_cases
                                                     if c.text is not None and expected_value(c) is None)}  # fmt: skip
    assert first.summary["rejected_values"] == rejected_total > 0

    # a re-run reads no data and changes nothing
    assert second.code == 1
    assert state_again == state
    for column in by_column:
        table = second.table(f"ground_truth_{column}")
        assert table["skipped"] == table["files"] > 0
        assert table["copied"] == 0
    assert second.summary["rejected_values"] == rejected_total
    assert SOR_BUCKET in first.summary["manifest_uri"]
    assert DAY in first.summary["manifest_uri"]
