"""One table's failure never stops the night, and a failure says whether a later run may pass it; no column changes
meaning silently (docs/sor-job.md "Exact or loud", docs/reliability.md)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError, ReadTimeoutError
from moto import mock_aws

from local.export_emulator.render import render_export
from sor_job import publish_table, typed_table
from sor_job.config import JobConfig
from sor_job.errors import FailureKind, TableError, failure_kind
from sor_job.outcomes import ExitCode
from sor_job.plan import ExportedTable, S3Object
from sor_job.publish_table import ColumnPlan
from sor_job.restore import Restoration, Restore, with_scale
from sor_job.restore_transform import (
    REJECTS_COLUMN,
    REJECTS_TYPE,
    MeaningChanged,
    TextReason,
    plan_restorations,
    restoration_transform,
    restored_schema,
)
from sor_job.retype import NULL_RETYPE_DIGEST, HistoryFile, HistoryStep, null_retype_transform, plan_history_partition
from sor_job.rewrite import SparkJobFailed, abort_unfinished_uploads, task_s3_client
from tests.exports import export_kwargs, export_with_text_table, make_table
from tests.glue.in_process import DATABASE, DAY, SOR_BUCKET, clients, manifest, publish, published

PG = "aurora-postgresql"
TSTZ = [{"columnName": "at", "originalType": "timestamp with time zone"}]
TS = [{"columnName": "at", "originalType": "timestamp without time zone"}]


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


# -- failure_kind -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_client_error("SlowDown", 503), FailureKind.TRANSIENT),
        (_client_error("ThrottlingException", 400), FailureKind.TRANSIENT),
        (_client_error("InternalError", 500), FailureKind.TRANSIENT),
        (_client_error("SomethingNew", 502), FailureKind.TRANSIENT),  # a 5xx, whatever its code
        (_client_error("AccessDenied", 403), FailureKind.DETERMINISTIC),
        (_client_error("EntityNotFoundException", 400), FailureKind.DETERMINISTIC),
        (EndpointConnectionError(endpoint_url="https://s3"), FailureKind.TRANSIENT),
        (ReadTimeoutError(endpoint_url="https://s3"), FailureKind.TRANSIENT),
        (ParamValidationError(report="bad"), FailureKind.DETERMINISTIC),
        (SparkJobFailed("executor lost"), FailureKind.TRANSIENT),
        (TableError("files disagree on the schema"), FailureKind.DETERMINISTIC),
        (TableError("a unit failed", transient=True), FailureKind.TRANSIENT),
        (ValueError("a bug"), FailureKind.DETERMINISTIC),
        (UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "bad"), FailureKind.DETERMINISTIC),
    ],
)
def test_a_failure_is_transient_only_when_a_later_run_may_not_meet_it(error: BaseException, kind: FailureKind) -> None:
    assert failure_kind(error) is kind


# -- a column never changes meaning under one name ----------------------------------------------------------------
WALL = {"Name": "at", "Type": "timestamp", "Comment": "source type: timestamp without time zone, restored as timestamp"}
UTC = {
    "Name": "at",
    "Type": "timestamp",
    "Comment": "source type: timestamp with time zone, restored as timestamp in UTC (converted from the source's "
    "offset)",
}


@pytest.mark.parametrize(("catalog", "tonight"), [(WALL, TSTZ), (UTC, TS)])
def test_a_timestamp_column_that_changes_between_wall_time_and_utc_fails_its_table(
    catalog: dict[str, str], tonight: list[dict[str, str]]
) -> None:
    with pytest.raises(MeaningChanged, match=r"column 'at' changed meaning: published as .* tonight's export holds"):
        plan_restorations(PG, tonight, ["at"], [catalog], lambda _: [])


@pytest.mark.parametrize(("catalog", "tonight", "restore"), [
    (WALL, TS, Restore.TIMESTAMP),
    (UTC, TSTZ, Restore.TIMESTAMP_FROM_UTC_OFFSET),
    (WALL, None, Restore.TIMESTAMP),  # no metadata tonight: the catalog's meaning
    (UTC, None, Restore.TIMESTAMP_FROM_UTC_OFFSET),
    ({"Name": "at", "Type": "timestamp"}, TSTZ, Restore.TIMESTAMP_FROM_UTC_OFFSET),  # an older table says nothing
])  # fmt: skip
def test_a_timestamp_column_keeps_its_meaning(
    catalog: dict[str, str], tonight: list[dict[str, str]] | None, restore: Restore
) -> None:
    plan = plan_restorations(PG, tonight, ["at"], [catalog], lambda _: [])
    assert plan.rules["at"].restore is restore


def test_the_engine_comes_from_the_argument_not_from_the_type_words() -> None:
    # a PostgreSQL bit(3) is "bit" in information_schema, a word MySQL uses too: it no longer makes the table MySQL
    mappings = [*TSTZ, {"columnName": "flags", "originalType": "bit"}]
    plan = plan_restorations(PG, mappings, ["at", "flags"], [], lambda _: [])
    assert plan.rules["at"].restore is Restore.TIMESTAMP_FROM_UTC_OFFSET
    mysql = plan_restorations("aurora-mysql", mappings, ["at", "flags"], [], lambda _: [])
    assert "at" not in mysql.rules  # MySQL writes its datetimes typed: a text column is text


def test_a_scale_past_38_digits_keeps_the_column_text_instead_of_crashing() -> None:
    # numeric(2,40): the real metadata carries the precision only, the data shows a scale of 40
    mappings = [{"columnName": "tiny", "originalType": "numeric", "originalNumPrecision": 2}]
    plan = plan_restorations(PG, mappings, ["tiny"], [], lambda _: ["0." + "0" * 38 + "12"])
    assert "tiny" not in plan.rules
    (text,) = plan.text
    assert text.kind is TextReason.BY_RULE
    assert "decimal(40,40)" in text.reason


# -- sor_rejects.raw_values is keyed by the catalog column name ------------------------------------------------------
def test_a_rejected_value_of_a_quoted_column_is_found_under_its_catalog_name() -> None:
    rule = with_scale(Restoration("Total", Restore.DECIMAL, "decimal", pa.string(), "numeric", 12, None), 2)
    source = pa.schema([pa.field("id", pa.int32()), pa.field("Total", pa.string())])
    output = restored_schema(source, {"Total": rule})
    batch = pa.record_batch([pa.array([1, 2], pa.int32()), pa.array(["1.50", "NaN"])], schema=source)
    out = restoration_transform({"Total": rule}, output, "s3://e/k.parquet")(batch, 0)
    rejects = out.batch.column(REJECTS_COLUMN).to_pylist()
    assert rejects[0] is None
    assert rejects[1]["raw_values"] == [("total", "NaN")]  # element_at(sor_rejects.raw_values, 'total')


# -- a numeric column that was only NULL: typed on the night that shows its scale --------------------------------
def test_a_typed_day_whose_pending_column_is_all_null_gets_the_type_swapped() -> None:
    amount = with_scale(Restoration("amount", Restore.DECIMAL, "decimal", pa.string(), "numeric", 12, None), 2)
    typed = pa.schema(
        [pa.field("id", pa.int32()), pa.field("amount", pa.string()), pa.field("d", pa.date32()),
         pa.field(REJECTS_COLUMN, REJECTS_TYPE)]
    )  # fmt: skip
    day = HistoryFile(S3Object("sor/t/ingestion_date=2026-11-25/a.parquet", 10, "e1"), typed, 3, "digest", {})
    plan = plan_history_partition([day], {"amount": amount})
    assert plan.steps == {day.obj.key: HistoryStep.NULL_RETYPE}
    (unit,) = plan.units
    assert unit.output_schema.field("amount").type == pa.decimal128(12, 2)
    assert unit.plan_digest.startswith(NULL_RETYPE_DIGEST)
    assert plan.null_retypes == {day.obj.key: ("amount",)}
    # a re-run finds it swapped: done, nothing rewritten again
    swapped = HistoryFile(day.obj, unit.output_schema, 3, unit.plan_digest, {})
    assert plan_history_partition([swapped], {"amount": amount}).steps == {day.obj.key: HistoryStep.DONE}
    # the swap itself: NULLs in the new type; a value there fails the unit instead of being dropped
    transform = null_retype_transform(unit.output_schema, ("amount",))
    rows = [pa.array([1, 2, 3], pa.int32()), pa.nulls(3, pa.string()), pa.nulls(3, pa.date32()),
            pa.nulls(3, REJECTS_TYPE)]  # fmt: skip
    out = transform(pa.record_batch(rows, schema=typed), 0)
    assert out.batch.column("amount").type == pa.decimal128(12, 2)
    assert out.batch.column("amount").null_count == 3
    rows[1] = pa.array([None, "NaN", None])
    with pytest.raises(TableError, match="'amount' holds values from row 0 on"):
        transform(pa.record_batch(rows, schema=typed), 0)


# -- the night goes on, whatever one table raises ---------------------------------------------------------------------
TABLES = [
    make_table("plain", {"id": "integer", "name": "text"}, [(1, "ana"), (2, "bo")]),
    make_table("dated", {"id": "integer", "d": "date"}, [(1, "2026-11-01"), (2, None)]),
    make_table("other", {"id": "integer", "d": "date"}, [(1, "2026-11-02")]),
]


def test_any_exception_in_one_table_fails_it_by_name_and_the_night_goes_on(
    in_process_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = publish_table.plan_columns

    def crash_on_other(table: ExportedTable, *args: Any) -> ColumnPlan:
        if table.source.endswith(".other"):
            raise ZeroDivisionError("a bug in one table's plan")
        return real(table, *args)

    monkeypatch.setattr(publish_table, "plan_columns", crash_on_other)
    with mock_aws():
        summary, code, job = publish(render_export(**export_kwargs(tables=TABLES)))
        assert code is ExitCode.TABLE_FAILED
        assert summary["failed_tables"] == [{
            "name": "public_other", "source": "shop.public.other", "failure": "deterministic",
            "error": "ZeroDivisionError: a bug in one table's plan",
        }]  # fmt: skip
        assert summary["retryable"] is False
        assert summary["tables"] == 2
        assert published(job, "public_plain").column("name").to_pylist() == ["ana", "bo"]
        assert published(job, "public_dated").num_rows == 2
        written = manifest(job)
        assert [t["name"] for t in written["tables"]] == ["public_dated", "public_other", "public_plain"]
        assert written["source_engine"] == PG


def test_a_spark_job_that_fails_fails_its_table_as_transient_and_aborts_what_its_tasks_left(
    in_process_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task that failed spark.task.maxFailures times raises Py4JJavaError out of collect(): run_rewrites turns it
    into SparkJobFailed; the table fails as transient (reconcile may run the night again), the multipart upload a
    killed task left under the day is aborted, and the other tables publish."""
    real = typed_table.run_rewrites  # run_in_process, as in_process_aws set it
    left: list[str] = []

    def spark_loses_other(units: Any, factory: Any, config: JobConfig, *args: Any) -> Any:
        if any("/public_other/" in u.destination for u in units):
            s3 = task_s3_client(config)
            upload = s3.create_multipart_upload(Bucket=SOR_BUCKET, Key=units[0].destination)
            left.append(upload["UploadId"])
            raise SparkJobFailed("the Spark job of 1 rewrite units failed: An error occurred while calling o87.collect")
        return real(units, factory, config, *args)

    monkeypatch.setattr(typed_table, "run_rewrites", spark_loses_other)
    with mock_aws():
        summary, code, job = publish(render_export(**export_kwargs(tables=TABLES)))
        assert code is ExitCode.TABLE_FAILED
        (failed,) = summary["failed_tables"]
        assert failed["name"] == "public_other"
        assert failed["failure"] == "transient"
        assert "o87.collect" in failed["error"]
        assert summary["retryable"] is True
        assert manifest(job)["retryable"] is True
        assert left
        assert job.s3.list_multipart_uploads(Bucket=SOR_BUCKET).get("Uploads", []) == []
        assert published(job, "public_dated").num_rows == 2


def test_abort_unfinished_uploads_touches_only_its_prefix(in_process_aws: None) -> None:
    with mock_aws():
        job = clients()
        job.s3.create_bucket(Bucket=SOR_BUCKET, CreateBucketConfiguration={"LocationConstraint": "sa-east-1"})
        mine = f"{DATABASE}/t/ingestion_date={DAY}/"
        for key in (f"{mine}a.parquet", f"{mine}b.parquet", f"{DATABASE}/u/ingestion_date={DAY}/a.parquet"):
            job.s3.create_multipart_upload(Bucket=SOR_BUCKET, Key=key)
        assert abort_unfinished_uploads(job.s3, SOR_BUCKET, mine) == 2
        (kept,) = job.s3.list_multipart_uploads(Bucket=SOR_BUCKET)["Uploads"]
        assert kept["Key"].startswith(f"{DATABASE}/u/")


def test_latin1_text_on_the_copy_path_is_published_byte_for_byte_and_counted(in_process_aws: None) -> None:
    """A SQL_ASCII database's Latin-1 text: the copy path publishes the bytes as exported, and the footer
    statistics that show such bytes make the job count them (the manifest names the column)."""
    latin1 = {"t": ["caf\xe9", "ok", "na\xefve"]}  # their Latin-1 bytes go into the file
    objects = export_with_text_table([], "notes", latin1, [{"columnName": "t", "originalType": "text"}])
    with mock_aws():
        summary, code, job = publish(objects, "--restore_types", "false")
        assert code is ExitCode.SUCCEEDED, summary
        assert summary["invalid_text_values"] == 2
        (table,) = manifest(job)["tables"]
        assert table["invalid_text"] == {"t": 2}
        assert any("not UTF-8" in w for w in table["warnings"])
        assert published(job, "public_notes").column("t").cast(pa.binary()).to_pylist() == [
            b"caf\xe9",
            b"ok",
            b"na\xefve",
        ]
