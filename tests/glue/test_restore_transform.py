"""The restoration transform (glue/sor_job/restore_transform.py): restored columns, sor_rejects, counters and samples,
in-process (no Spark, no S3). Runs under the Glue 5.0 pins too:
`.venv-spark/bin/python -m pytest tests/glue/test_restore_transform.py --noconftest`."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sor_job.errors import TableError
from sor_job.restore import Restoration, format_assumption_broken, restoration_rules, with_scale
from sor_job.restore_transform import (
    REJECTS_COLUMN,
    REJECTS_TYPE,
    column_counts,
    restoration_spec,
    restoration_transform,
    restored_schema,
)
from sor_job.rewrite import MAX_SAMPLES

MAPPINGS = [
    {"columnName": "born", "originalType": "date"},
    {"columnName": "paid", "originalType": "numeric", "originalNumPrecision": 5},
    {"columnName": "at", "originalType": "timestamp with time zone"},
    {"columnName": "note", "originalType": "text"},
]
SOURCE = pa.schema([("id", pa.int64()), ("born", pa.string()), ("paid", pa.string()), ("at", pa.string()),
                    ("note", pa.string())])  # fmt: skip
FILE = "public.people/1/part-00000-1.gz.parquet"


def rules(scale: int = 2) -> dict[str, Restoration]:
    found = restoration_rules("aurora-postgresql", MAPPINGS, ["born", "paid", "at", "note"])
    restorations = {k: v for k, v in found.items() if isinstance(v, Restoration)}
    restorations["paid"] = with_scale(restorations["paid"], scale)
    return restorations


def batch(**columns: list) -> pa.RecordBatch:
    rows = len(next(iter(columns.values())))
    defaults = {name: [None] * rows for name in SOURCE.names}
    defaults["id"] = list(range(rows))
    return pa.record_batch([pa.array({**defaults, **columns}[f.name], f.type) for f in SOURCE], schema=SOURCE)


def test_restored_schema_types_the_restored_columns_in_place_and_appends_sor_rejects() -> None:
    schema = restored_schema(SOURCE, rules())
    assert schema.names == ["id", "born", "paid", "at", "note", REJECTS_COLUMN]
    assert schema.field("born").type == pa.date32()
    assert schema.field("paid").type == pa.decimal128(5, 2)
    assert schema.field("at").type == pa.timestamp("us")
    assert schema.field("note").type == pa.string()
    assert schema.field(REJECTS_COLUMN).type == REJECTS_TYPE


def test_a_source_column_named_sor_rejects_fails_the_table() -> None:
    with pytest.raises(TableError, match="reserved"):
        restored_schema(SOURCE.append(pa.field(REJECTS_COLUMN, pa.string())), rules())


def test_undecided_scale_or_non_text_column_is_refused() -> None:
    found = restoration_rules("aurora-postgresql", MAPPINGS, ["paid"])
    with pytest.raises(TableError, match="scale undecided"):
        restored_schema(SOURCE, {"paid": found["paid"]})  # type: ignore[dict-item]
    with pytest.raises(TableError, match="not text"):
        restored_schema(SOURCE.set(0, pa.field("born", pa.int64())).remove(1), rules())


def test_transform_restores_values_and_keeps_every_reject_as_exact_text_with_file_and_row_index() -> None:
    schema = restored_schema(SOURCE, rules())
    transform = restoration_transform(rules(), schema, FILE)
    out = transform(
        batch(
            born=["1500-01-01", "infinity", None, "0044-03-15 BC"],
            paid=["1.50", "NaN", "999.99", "1234.5"],
            at=["2024-03-10 01:30:00.123456-05", None, "2024-01-01 00:00:00+00", "garbage"],
            note=["a", "b", None, "d"],
        ),
        1000,
    )
    rows = out.batch.to_pylist()
    assert rows[0] == {"id": 0, "born": dt.date(1500, 1, 1), "paid": Decimal("1.50"),
                       "at": dt.datetime(2024, 3, 10, 6, 30, 0, 123456), "note": "a", REJECTS_COLUMN: None}  # fmt: skip
    assert rows[1]["born"] is None
    assert rows[1]["paid"] is None
    assert rows[1][REJECTS_COLUMN] == {"source_file": FILE, "row_index": 1001,
                                       "raw_values": [("born", "infinity"), ("paid", "NaN")]}  # fmt: skip
    assert rows[2][REJECTS_COLUMN] is None
    assert rows[2]["paid"] == Decimal("999.99")
    assert rows[3][REJECTS_COLUMN] == {"source_file": FILE, "row_index": 1003, "raw_values": [
        ("born", "0044-03-15 BC"), ("paid", "1234.5"), ("at", "garbage")]}  # fmt: skip
    assert out.counters == {
        "non_null:born": 3, "rejected:born": 2, "malformed:born": 0,
        "non_null:paid": 4, "rejected:paid": 2, "malformed:paid": 0,
        "non_null:at": 3, "rejected:at": 1, "malformed:at": 1,
    }  # fmt: skip
    assert out.samples == {"malformed:at": ["garbage"]}
    assert column_counts(out.counters, "at").malformed == 1


def test_a_batch_without_rejects_has_a_null_sor_rejects_column_and_it_round_trips_parquet() -> None:
    schema = restored_schema(SOURCE, rules())
    out = restoration_transform(rules(), schema, FILE)(batch(born=["2020-02-29", None]), 0)
    assert out.batch.column(REJECTS_COLUMN).null_count == 2
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_batches([out.batch]), sink)
    assert pq.read_table(io.BytesIO(sink.getvalue())).to_pylist() == out.batch.to_pylist()


def test_samples_are_bounded_and_a_mostly_malformed_column_breaks_the_format_assumption() -> None:
    schema = restored_schema(SOURCE, rules())
    out = restoration_transform(rules(), schema, FILE)(batch(born=[f"01/0{i}/2020" for i in range(1, 10)]), 0)
    assert out.samples["malformed:born"] == [f"01/0{i}/2020" for i in range(1, MAX_SAMPLES + 1)]
    assert format_assumption_broken(column_counts(out.counters, "born"))
    assert not format_assumption_broken(column_counts(out.counters, "paid"))


def test_restoration_spec_changes_with_a_rule_and_not_with_order() -> None:
    assert restoration_spec(rules()) == restoration_spec(dict(reversed(list(rules().items()))))
    assert restoration_spec(rules(2)) != restoration_spec(rules(3))


def test_plan_catalog_type_outranks_tonight_and_string_stays_string() -> None:
    from sor_job.restore_transform import TextReason, plan_restorations

    real = [{"columnName": "paid", "originalType": "numeric", "originalNumPrecision": 12},
            {"columnName": "born", "originalType": "date"}]  # fmt: skip
    pg = "aurora-postgresql"
    # a numeric column with no number yet waits, string and pending, for the night that shows its scale: not an alert
    no_number = plan_restorations(pg, real, ["paid", "born"], [], lambda _: [None, "NaN"])
    assert "paid" not in no_number.rules
    assert no_number.text[0].kind is TextReason.PENDING
    assert no_number.columns_without_evidence() == 0
    # no metadata for a column: nothing tells its type (alerted)
    no_evidence = plan_restorations(pg, [real[1]], ["paid", "born"], [], lambda _: ["1.50"])
    assert [(t.column, t.kind) for t in no_evidence.text] == [("paid", TextReason.NO_EVIDENCE)]
    assert no_evidence.columns_without_evidence() == 1
    from_stats = plan_restorations(pg, real, ["paid", "born"], [], lambda _: ["1.50", "99.25"])
    assert from_stats.restored_columns() == {"born": "date", "paid": "decimal(12,2)"}
    catalog = [{"Name": "paid", "Type": "decimal(12,3)"}, {"Name": "born", "Type": "string"}]
    # an all-NULL night without metadata keeps the catalog's decimal; a string column stays string
    night = plan_restorations(pg, None, ["paid", "born"], catalog, lambda _: [])
    assert night.restored_columns() == {"paid": "decimal(12,3)"}
    assert [(t.column, t.kind) for t in night.text] == [("born", TextReason.BY_RULE)]
    tonight = plan_restorations(pg, real, ["paid", "born"], catalog, lambda _: ["1.50"])
    assert tonight.restored_columns() == {"paid": "decimal(12,3)"}
    assert [(t.column, t.kind) for t in tonight.text] == [("born", TextReason.CATALOG_STRING)]
    retyped = plan_restorations(pg, real, ["paid", "born"], catalog, lambda _: [], True)
    assert retyped.restored_columns() == {"born": "date", "paid": "decimal(12,3)"}
