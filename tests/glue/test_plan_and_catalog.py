"""Pure parts of the job: arguments, planning from a listing, schemas, copy bookkeeping, catalog definitions."""

from __future__ import annotations

import pytest

from sor_job.catalog_definitions import as_table_input, merge_columns, partition_input, same_definition, table_input
from sor_job.column_types import FileSchema, table_columns
from sor_job.config import parse_args
from sor_job.copy_day import CopyStep, copy_steps_needed, destination_key, stale_keys, verify_partition
from sor_job.errors import ExportError, TableError
from sor_job.layout import PARQUET_SERDE
from sor_job.plan import S3Object, plan_export

ROOT = "exports/aurora-sor-c-20261126/"
REQUIRED = [
    "--export_uri", f"s3://exp/{ROOT}", "--sor_bucket", "sor-bucket",
    "--catalog_database", "sor", "--ingestion_date", "2026-11-26", "--source_engine", "aurora-postgresql",
]  # fmt: skip


def obj(relative: str, size: int = 100) -> S3Object:
    return S3Object(ROOT + relative, size, f"etag-{relative}")


# -- arguments ------------------------------------------------------------------------------------------------
def test_arguments_glue_adds_are_ignored_and_ours_are_parsed():
    glue_owned = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_9", "--TempDir", "s3://t/", "--enable-metrics", "true"]
    config = parse_args(glue_owned + REQUIRED + ["--multipart_threshold_mb", "8"])
    assert (config.export_bucket, config.export_prefix, config.export_id) == ("exp", ROOT, "aurora-sor-c-20261126")
    assert config.job_run_id == "jr_9"
    assert config.multipart_threshold == 8 * 1024**2
    assert config.partition_prefix("t") == "sor/t/ingestion_date=2026-11-26/"
    assert config.manifest_key == "_manifests/sor/ingestion_date=2026-11-26/manifest.json"


def test_export_uri_without_trailing_slash_means_the_same_root():
    config = parse_args([*REQUIRED[:1], f"s3://exp/{ROOT}".rstrip("/"), *REQUIRED[2:]])
    assert config.export_prefix == ROOT


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [
        ("--ingestion_date", "2026-13-01", "YYYY-MM-DD"),
        ("--ingestion_date", "2026-1-1", "YYYY-MM-DD"),
        ("--catalog_database", "Sor", "lower case"),
        ("--catalog_database", "_manifests", "letter first"),
        ("--export_uri", "exp/prefix/", "s3://"),
        ("--sor_bucket", "Bad_Bucket", "bucket name"),
        ("--copy_concurrency", "0", "must be >= 1"),
    ],
)
def test_bad_arguments_are_clear_errors(flag, value, words):
    argv = list(REQUIRED)
    if flag in argv:
        argv[argv.index(flag) + 1] = value
    else:
        argv += [flag, value]
    with pytest.raises(ExportError, match=words):
        parse_args(argv)


def test_a_missing_required_argument_names_it():
    with pytest.raises(ExportError, match="--sor_bucket"):
        parse_args([a for a in REQUIRED if a not in {"--sor_bucket", "sor-bucket"}])


# -- planning -------------------------------------------------------------------------------------------------
def test_plan_reads_every_parquet_object_recursively_in_every_layout():
    objects = [
        obj("app/public.orders/1/part-00000-a.gz.parquet"),
        obj("app/public.orders/2/part-00003-b.gz.parquet"),  # gaps in partition indexes are normal
        obj("app/public.old/part-00000-c-c000.gz.parquet"),  # older flat layout
        obj("app/public.live/a/part-00000-d.gz.parquet"),  # live-cluster alphanumeric folder
        obj("app/public.orders/_SUCCESS"),
        obj("app/public.orders/1/notes.txt"),
        obj("app/public.orders/_temporary/0/part-9.gz.parquet"),  # hidden by the Hadoop convention
        obj("export_info_aurora-sor-c-20261126.json"),
    ]
    plan = plan_export(ROOT, objects, None, None)
    by_folder = {t.folder: [o.key.rsplit("/", 1)[-1] for o in t.files] for t in plan.tables}
    assert by_folder == {
        "public.live": ["part-00000-d.gz.parquet"],
        "public.old": ["part-00000-c-c000.gz.parquet"],
        "public.orders": ["part-00000-a.gz.parquet", "part-00003-b.gz.parquet"],
    }
    assert plan.ignored_objects == 4
    assert any("metadata unavailable" in w for w in plan.warnings)
    assert {t.export_status for t in plan.tables} == {"COMPLETE"}


def test_plan_joins_metadata_status_for_both_engines_and_odd_names():
    objects = [
        obj("app/public.orders/1/part-0.gz.parquet"),
        obj("app/public.Order_Items/1/part-0.gz.parquet"),  # space became "_" in the path
        obj("shop/shop.customers/1/part-0.gz.parquet"),
        obj("app/public.broken/1/part-0.gz.parquet"),
    ]
    tables_info = [
        {"target": "app.public.orders", "status": "COMPLETE",
         "schemaMetadata": {"originalTypeMappings": [{"columnName": "Total", "originalType": "numeric(12,2)"}]}},
        {"target": "app.public.Order Items", "status": "complete"},
        {"target": "shop.customers", "status": "COMPLETE"},  # Aurora MySQL: db.table
        {"target": "app.public.broken", "status": "FAILED"},
        {"target": "app.public.empty", "status": "COMPLETE"},
    ]  # fmt: skip
    plan = plan_export(ROOT, objects, {"snapshotTime": "2026-11-26T06:00:00Z"}, tables_info)
    status = {t.source: t.export_status for t in plan.tables}
    assert status == {
        "app.public.orders": "COMPLETE",
        "app.public.Order_Items": "COMPLETE",
        "shop.shop.customers": "COMPLETE",
        "app.public.broken": "FAILED",
        "app.public.empty": "COMPLETE",
    }
    orders = next(t for t in plan.tables if t.folder == "public.orders")
    assert orders.original_types == {"total": "numeric(12,2)"}
    assert next(t for t in plan.tables if t.folder == "public.empty").files == ()
    assert plan.snapshot_time == "2026-11-26T06:00:00Z"
    assert plan.warnings == ()


def test_a_folder_the_metadata_does_not_list_is_published_with_a_warning():
    plan = plan_export(ROOT, [obj("app/public.extra/1/p.gz.parquet")], {}, [])
    assert plan.tables[0].export_status == "UNKNOWN"
    assert "not listed in export_tables_info" in plan.warnings[0]


def test_destination_names_are_flat_and_deterministic():
    config = parse_args(REQUIRED)
    plan = plan_export(ROOT, [obj("app/public.orders/12/part-00001-u.gz.parquet")], None, None)
    table = plan.tables[0]
    key = destination_key(config, "public_orders", table, table.files[0])
    assert key == "sor/public_orders/ingestion_date=2026-11-26/12_part-00001-u.gz.parquet"


# -- schemas --------------------------------------------------------------------------------------------------
def test_files_that_agree_give_lower_case_catalog_columns():
    files = [FileSchema(f"k{i}", (("Id", "bigint"), ("Total", "decimal(12,2)")), 5) for i in range(3)]
    assert table_columns(files) == [("id", "bigint"), ("total", "decimal(12,2)")]


def test_files_that_disagree_fail_the_table_naming_files_and_columns():
    first = FileSchema("a.parquet", (("id", "bigint"), ("total", "decimal(12,2)")), 1)
    second = FileSchema("b.parquet", (("id", "bigint"), ("total", "string"), ("note", "string")), 1)
    with pytest.raises(TableError) as error:
        table_columns([first, second])
    message = str(error.value)
    assert "a.parquet" in message
    assert "b.parquet" in message
    assert "total: decimal(12,2) vs string" in message
    assert "note: (absent) vs string" in message


def test_columns_equal_but_for_case_fail_the_table():
    with pytest.raises(TableError, match="equal but for case"):
        table_columns([FileSchema("a", (("Name", "string"), ("name", "string")), 1)])


def test_a_source_column_named_like_the_partition_key_fails_the_table():
    with pytest.raises(TableError, match="partition key"):
        table_columns([FileSchema("a", (("Ingestion_Date", "string"),), 1)])


# -- schema evolution -----------------------------------------------------------------------------------------
def test_new_columns_are_appended_and_vanished_ones_kept():
    existing = [{"Name": "id", "Type": "bigint"}, {"Name": "legacy", "Type": "string"}]
    merged = merge_columns(existing, [("id", "bigint"), ("added", "date")], {"added": "source type: date"})
    assert merged == [
        {"Name": "id", "Type": "bigint"},
        {"Name": "legacy", "Type": "string"},
        {"Name": "added", "Type": "date", "Comment": "source type: date"},
    ]


def test_a_type_change_names_both_types():
    with pytest.raises(TableError, match=r"amount: decimal\(12,2\) -> string"):
        merge_columns([{"Name": "amount", "Type": "decimal(12,2)"}], [("amount", "string")], {})


# -- copy bookkeeping -----------------------------------------------------------------------------------------
def test_only_missing_or_different_objects_are_copied_and_strays_removed():
    steps = [CopyStep(S3Object(f"src/{i}", 10, f"e{i}"), f"dst/{i}") for i in range(3)]
    present = {"dst/0": "e0", "dst/1": "other-source"}
    assert [s.destination for s in copy_steps_needed(steps, present)] == ["dst/1", "dst/2"]
    existing = [S3Object("dst/0", 10, "x"), S3Object("dst/old", 5, "y")]
    assert stale_keys(steps, existing) == ["dst/old"]


def test_verification_catches_missing_extra_and_resized_objects():
    steps = [CopyStep(S3Object("src/a", 10, "e"), "dst/a"), CopyStep(S3Object("src/b", 20, "e"), "dst/b")]
    verify_partition(steps, [S3Object("dst/a", 10, "x"), S3Object("dst/b", 20, "y")])
    with pytest.raises(TableError, match="1 missing"):
        verify_partition(steps, [S3Object("dst/a", 10, "x")])
    with pytest.raises(TableError, match="1 unexpected"):
        verify_partition(steps, [S3Object("dst/a", 10, "x"), S3Object("dst/b", 20, "y"), S3Object("dst/c", 1, "z")])
    with pytest.raises(TableError, match="1 with a different size"):
        verify_partition(steps, [S3Object("dst/a", 10, "x"), S3Object("dst/b", 19, "y")])


# -- catalog definitions --------------------------------------------------------------------------------------
def test_table_definition_is_an_external_parquet_table_partitioned_by_date():
    columns = [{"Name": "id", "Type": "bigint"}]
    definition = table_input("public_orders", "s3://sor/db/public_orders/", columns, "app.public.orders")
    assert definition["TableType"] == "EXTERNAL_TABLE"
    assert definition["PartitionKeys"] == [{"Name": "ingestion_date", "Type": "date"}]
    assert definition["Parameters"] == {
        "EXTERNAL": "TRUE",
        "classification": "parquet",
        "sor.source": "app.public.orders",
        "sor.managed_by": "aurora-sor",
    }  # nothing of one run: each UpdateTable would archive a table version
    storage = definition["StorageDescriptor"]
    assert storage["Location"] == "s3://sor/db/public_orders/"
    assert storage["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert storage["InputFormat"].endswith("MapredParquetInputFormat")


def test_partition_definition_points_at_the_day_folder():
    columns, totals = [{"Name": "id", "Type": "bigint"}], {"files": 2, "bytes": 9, "rows": 3}
    partition = partition_input("s3://sor/db/t/", "2026-11-26", columns, "x-1", totals, "2026-11-26T06:05:12Z")
    assert partition["Values"] == ["2026-11-26"]
    assert partition["StorageDescriptor"]["Location"] == "s3://sor/db/t/ingestion_date=2026-11-26/"
    assert partition["Parameters"] == {
        "sor.export_id": "x-1",
        "sor.snapshot_time": "2026-11-26T06:05:12Z",
        "sor.files": "2",
        "sor.bytes": "9",
        "sor.rows": "3",
    }
    assert (
        "sor.snapshot_time" not in partition_input("s3://sor/db/t/", "2026-11-26", columns, "x-1", totals)["Parameters"]
    )


def test_a_catalog_table_read_back_compares_equal_to_its_definition():
    wanted = table_input("t", "s3://b/db/t/", [{"Name": "id", "Type": "bigint"}], "a.b.t")
    as_returned = {**wanted, "DatabaseName": "db", "CreateTime": "now", "VersionId": "1"}
    as_returned["StorageDescriptor"] = {**wanted["StorageDescriptor"], "NumberOfBuckets": -1}
    assert same_definition(as_table_input(as_returned), wanted)
    changed = table_input(
        "t", "s3://b/db/t/", [{"Name": "id", "Type": "bigint"}, {"Name": "n", "Type": "int"}], "a.b.t"
    )
    assert not same_definition(as_table_input(as_returned), changed)


def test_a_missing_comment_keeps_the_one_the_table_has():
    existing = [{"Name": "id", "Type": "bigint", "Comment": "source type: bigint"}, {"Name": "n", "Type": "string"}]
    assert merge_columns(existing, [("id", "bigint"), ("n", "string")], {}) == existing
    assert merge_columns(existing, [("id", "bigint")], {"n": "source type: text"})[1]["Comment"] == "source type: text"
