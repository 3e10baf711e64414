"""publish_table's pure stages called on their own: refusing a table, the day's columns, the method, and the
table's result from how far its stages got (what the manifest shows of a table that failed half-way)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from sor_job.catalog_writes import PartitionAction, TableAction
from sor_job.column_types import FileSchema
from sor_job.errors import TableError
from sor_job.outcomes import DayWritten, PublishMethod
from sor_job.plan import ExportedTable, S3Object
from sor_job.publish_table import (
    ColumnPlan,
    Footers,
    TableStages,
    TypePlan,
    plan_columns,
    publish_method,
    refuse_table,
    table_result,
)
from sor_job.restore import Restoration, Restore
from sor_job.restore_transform import REJECTS_CATALOG_TYPE, REJECTS_COLUMN, RestorationPlan, TextColumn, TextReason
from sor_job.retype import RetypeReport

PREFIX = "exports/aurora-sor-shop-2026-11-26/shop/public.orders/"
FILES = (
    S3Object(PREFIX + "1/part-00000.gz.parquet", 2695, "e1"),
    S3Object(PREFIX + "2/part-00000.gz.parquet", 2701, "e2"),
)
TABLE = ExportedTable("shop", "public.orders", PREFIX, FILES, "COMPLETE", {"id": "bigint", "placed_on": "date"})
SCHEMAS = tuple(FileSchema(f.key, (("id", "bigint"), ("placed_on", "string")), 3) for f in FILES)
DATE_RULE = Restoration("placed_on", Restore.DATE, "date", pa.date32(), "date")
LOCATION = "s3://aurora-sor-sor/sor/public_orders/"
PARTITIONED = {"Name": "public_orders", "PartitionKeys": [{"Name": "ingestion_date", "Type": "date"}]}


def types(
    rules: dict[str, Restoration] | None = None,
    catalog: list[dict[str, str]] | None = None,
    retype: dict[str, Restoration] | None = None,
    warnings: tuple[str, ...] = (),
) -> TypePlan:
    rules = {"placed_on": DATE_RULE} if rules is None else rules
    return TypePlan(RestorationPlan(rules, ()), retype or {}, catalog or [], warnings)


# -- refuse_table ------------------------------------------------------------------------------------------------
def test_a_table_the_export_did_not_complete_is_refused() -> None:
    failed = ExportedTable("shop", "public.orders", PREFIX, FILES, "FAILED")
    with pytest.raises(TableError, match="the export reports this table as FAILED"):
        refuse_table(failed, None)


def test_a_catalog_table_partitioned_otherwise_is_refused() -> None:
    other = {"Name": "public_orders", "PartitionKeys": [{"Name": "dt", "Type": "string"}]}
    with pytest.raises(TableError, match=r"partitioned by \[\('dt', 'string'\)\]"):
        refuse_table(TABLE, other)


def test_a_complete_or_unlisted_table_with_its_own_partitioning_is_not_refused() -> None:
    refuse_table(TABLE, PARTITIONED)
    refuse_table(ExportedTable("shop", "public.orders", PREFIX, FILES, "UNKNOWN"), None)


# -- plan_columns and publish_method --------------------------------------------------------------------------
def test_restored_columns_take_their_type_and_the_day_gets_the_rejects_column() -> None:
    columns = plan_columns(TABLE, SCHEMAS, types())

    assert [(c["Name"], c["Type"]) for c in columns.day] == [
        ("id", "bigint"),
        ("placed_on", "date"),
        (REJECTS_COLUMN, REJECTS_CATALOG_TYPE),
    ]
    assert columns.day[1]["Comment"] == "source type: date, restored as date"
    assert columns.merged == columns.day  # a new table
    assert columns.warnings == ()
    assert publish_method(types()) is PublishMethod.REWRITE


def test_a_type_change_fails_the_table_when_the_columns_are_planned() -> None:
    catalog = [{"Name": "id", "Type": "bigint"}, {"Name": "placed_on", "Type": "string"}]
    with pytest.raises(TableError, match="placed_on: string -> date"):
        plan_columns(TABLE, SCHEMAS, types(catalog=catalog))


def test_a_day_without_files_keeps_the_table_schema() -> None:
    catalog = [{"Name": "id", "Type": "bigint"}, {"Name": "Note", "Type": "string"}]
    no_files = ExportedTable("shop", "public.orders", PREFIX, (), "COMPLETE")

    columns = plan_columns(no_files, (), types(rules={}, catalog=catalog))

    assert columns.day == columns.merged == catalog
    assert columns.warnings == ("columns need double quotes in Athena (outside its documented names): ['Note']",)
    assert publish_method(types(rules={})) is PublishMethod.COPY


# -- table_result ----------------------------------------------------------------------------------------------
def test_a_table_with_no_files_and_no_catalog_table_is_empty() -> None:
    result = table_result("public_orders", TABLE, LOCATION, TableStages(nothing_to_publish=True), None, 0.1)

    assert (result.status, result.error, result.files) == ("EMPTY", None, 0)
    assert result.warnings == ["no Parquet files and no catalog table yet: nothing published for this table"]


def test_a_table_failed_in_its_rewrite_shows_its_plan_and_nothing_written() -> None:
    text = TextColumn("note", "text", TextReason.BY_RULE, "text in the source (or no exact catalog type)")
    plan = TypePlan(RestorationPlan({"placed_on": DATE_RULE}, (text,)), {}, [], ("a types warning",))
    stages = TableStages(
        footers=Footers(SCHEMAS, 1234),
        types=plan,
        columns=ColumnPlan([{"Name": "id", "Type": "bigint"}], [], ("a columns warning",)),
    )

    result = table_result("public_orders", TABLE, LOCATION, stages, "rewrite failed (...)", 2.5)

    assert (result.status, result.error, result.source) == ("FAILED", "rewrite failed (...)", "shop.public.orders")
    assert result.footer_bytes_read == 1234
    assert result.restored_columns == {"placed_on": "date"}
    assert result.kept_as_text == [{"column": "note", "source_type": "text", "kind": "by_rule",
                                    "reason": "text in the source (or no exact catalog type)"}]  # fmt: skip
    assert result.warnings == ["a types warning", "a columns warning"]
    assert (result.method, result.files, result.copied, result.columns, result.catalog) == ("copy", 0, 0, [], "")


def test_a_retyped_table_adds_its_earlier_days_rejects_once_they_are_written() -> None:
    day = DayWritten(PublishMethod.REWRITE, 2, 9000, 6, written=1, skipped=1, rejected_values={"placed_on": 1})
    columns = ColumnPlan([{"Name": "placed_on", "Type": "date"}], [{"Name": "placed_on", "Type": "date"}], ())
    retype = types(retype={"placed_on": DATE_RULE})
    stopped = TableStages(footers=Footers(SCHEMAS, 10), types=retype, columns=columns, day=day)

    failed = table_result("public_orders", TABLE, LOCATION, stopped, "retype of 2026-11-20 failed", 1.0)

    # the retype of an earlier day failed: tonight's rewrite shows, the table's columns and warning do not
    assert (failed.status, failed.method, failed.files, failed.copied, failed.skipped) == ("FAILED", "rewrite", 2, 1, 1)
    assert failed.rejected_values == {"placed_on": 1}
    assert (failed.columns, failed.warnings, failed.retyped_history) == ([], [], {})

    history = RetypeReport(partitions=3, files_rewritten=6, rejected_values={"placed_on": 2})
    done = TableStages(
        footers=Footers(SCHEMAS, 10), types=retype, columns=columns, day=day, history=history,
        table_action=TableAction.UPDATED_UNARCHIVED, partition_action=PartitionAction.CREATED,
    )  # fmt: skip

    result = table_result("public_orders", TABLE, LOCATION, done, None, 1.0)

    assert (result.status, result.error) == ("PUBLISHED", None)
    assert result.rejected_values == {"placed_on": 3}
    assert result.retyped_history["files_rewritten"] == 6
    assert result.columns == columns.day
    assert result.warnings[0] == f"values kept in {REJECTS_COLUMN} (their typed column is NULL): {{'placed_on': 3}}"
    assert result.warnings[1].startswith("the Glue table version quota is reached")
    assert result.catalog == f"table {TableAction.UPDATED_UNARCHIVED.value}, partition created"
