"""A partitioned PostgreSQL table: the export holds its rows twice (the parent's folder, a batch per partition, and
each partition's own folder: docs/aws-facts.md "Partitioned tables"). The parent is published with all its rows, and
every partition the export also holds carries sor.partition_of, so no analyst sums the two without a sign
(glue/sor_job/partitioned.py)."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
from moto import mock_aws

from local.export_emulator.render import render_export
from local.postgres.sample_database import make_partitioned
from sor_job.column_types import FileSchema
from sor_job.outcomes import ExitCode
from sor_job.partitioned import fingerprint, partition_relations
from sor_job.plan import ExportedTable, S3Object
from tests.exports import export_kwargs, make_table
from tests.glue.in_process import DATABASE, manifest, publish, published

COLUMNS = {"id": "integer", "amount": "numeric(5,2)", "paid_at": "timestamp with time zone"}
JANUARY = [(1, "1.99", "2026-01-05 10:00:00+00"), (2, "4.99", "2026-01-20 11:30:00+00")]
FEBRUARY = [(3, "0.99", "2026-02-01 00:00:00+00")]
PAYMENT = make_partitioned(
    "payment", COLUMNS, {"payment_p2026_01": JANUARY, "payment_p2026_02": FEBRUARY, "payment_p2026_03": []}
)
# the same rows as February's partition under another name, and an ordinary table: neither is a partition
LOOKALIKE = make_table("refunds", COLUMNS, FEBRUARY)
OTHER = make_table("customers", {"id": "integer", "name": "text"}, [(1, "ana")])


def test_the_parent_holds_every_row_and_each_partition_says_whose_it_is(in_process_aws: None) -> None:
    with mock_aws():
        summary, code, job = publish(render_export(**export_kwargs(tables=[*PAYMENT, LOOKALIKE, OTHER])))
        assert code is ExitCode.SUCCEEDED, summary
        tables = {t["Name"]: t for t in job.glue.get_tables(DatabaseName=DATABASE)["TableList"]}
        parent = tables["public_payment"]
        assert "sor.partition_of" not in parent["Parameters"]
        amounts = published(job, "public_payment").column("amount").to_pylist()
        assert sorted(amounts) == [Decimal("0.99"), Decimal("1.99"), Decimal("4.99")]  # each row once: the truth
        for name in ("public_payment_p2026_01", "public_payment_p2026_02", "public_payment_p2026_03"):
            assert tables[name]["Parameters"]["sor.partition_of"] == "shop.public.payment", name
            assert tables[name]["Description"].startswith("PARTITION of shop.public.payment: every row here is also")
        for name in ("public_refunds", "public_customers"):
            assert "sor.partition_of" not in tables[name]["Parameters"], name
        entries = {t["name"]: t for t in manifest(job)["tables"]}
        assert entries["public_payment_p2026_02"]["partition_of"] == "shop.public.payment"
        assert entries["public_payment"]["partition_of"] is None
        # the independent check: every table whose rows could be summed with the parent's says so
        parent_rows = published(job, "public_payment").num_rows
        assert parent_rows == len(JANUARY) + len(FEBRUARY)
        unmarked = [
            n
            for n, t in tables.items()
            if n.startswith("public_payment_") and "sor.partition_of" not in t["Parameters"]
        ]
        assert unmarked == []


def test_an_export_of_the_parent_alone_is_an_ordinary_table(in_process_aws: None) -> None:
    """ExportOnly naming the parent only: no partition folders, nothing to mark (the field report saw exactly that)."""
    with mock_aws():
        summary, code, job = publish(render_export(**export_kwargs(tables=[PAYMENT[0], OTHER])))
        assert code is ExitCode.SUCCEEDED, summary
        parent = job.glue.get_table(DatabaseName=DATABASE, Name="public_payment")["Table"]
        assert "sor.partition_of" not in parent["Parameters"]
        assert published(job, "public_payment").num_rows == 3


# -- the rule, on footers alone ------------------------------------------------------------------------------------
def _schema(key: str, rows: int, low: int, high: int) -> FileSchema:
    summary = (("id", 0, low, high),) if rows else (("id", None, None, None),)
    return FileSchema(key, (("id", "int"),), rows, pa.schema([pa.field("id", pa.int32())]), {}, (), summary)


def _table(folder: str, files: dict[str, FileSchema]) -> tuple[ExportedTable, list[FileSchema]]:
    prefix = f"exports/e/db/{folder}/"
    objects = tuple(S3Object(prefix + relative, 100, relative) for relative in files)
    return ExportedTable("db", folder, prefix, objects, "COMPLETE"), list(files.values())


def test_the_rule_needs_every_batch_matched_and_a_name_for_a_single_batch() -> None:
    parent, parent_files = _table(
        "public.t", {"1/a.parquet": _schema("a", 2, 1, 2), "2/b.parquet": _schema("b", 1, 3, 3)}
    )
    p1, p1_files = _table("public.t_1", {"1/x.parquet": _schema("x", 2, 1, 2)})
    p2, p2_files = _table("public.other_name", {"1/y.parquet": _schema("y", 1, 3, 3)})
    empty, empty_files = _table("public.t_empty", {"1/z.parquet": _schema("z", 0, 0, 0)})
    schemas = {t.source: f for t, f in ((parent, parent_files), (p1, p1_files), (p2, p2_files), (empty, empty_files))}
    relations = partition_relations([parent, p1, p2, empty], schemas)
    assert relations == {p1.source: parent.source, p2.source: parent.source, empty.source: parent.source}
    # one batch unmatched: not a parent with its partitions exported
    assert partition_relations([parent, p1], {parent.source: parent_files, p1.source: p1_files}) == {}
    # a single batch: only a table named after it is its partition (an exact copy under another name is not)
    single, single_files = _table("public.s", {"1/a.parquet": _schema("a", 1, 3, 3)})
    assert partition_relations([single, p2], {single.source: single_files, p2.source: p2_files}) == {}
    named, named_files = _table("public.s_2026", {"1/c.parquet": _schema("c", 1, 3, 3)})
    assert partition_relations([single, named], {single.source: single_files, named.source: named_files}) == {
        named.source: single.source
    }
    assert fingerprint([_schema("a", 2, 1, 2), _schema("b", 1, 3, 3)]) == fingerprint([_schema("c", 3, 1, 3)])
