"""The JSON metadata files (local/export_emulator/metadata.py): export_info and export_tables_info with the keys,
key order and formats docs/aws-facts.md "Export metadata files" quotes from a real export.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from tests.export_emulator.reading import MAPPING_KEYS, export_info, read_folder, render, tables_info
from tests.exports import EXPORT_BUCKET, EXPORT_ID, EXPORT_PREFIX, make_table

# -- JSON metadata ----------------------------------------------------------------------------------------------
EXPORT_INFO_KEYS = {  # docs/aws-facts.md "Export metadata files"
    "exportTaskIdentifier", "sourceArn", "exportOnly", "snapshotTime", "taskStartTime", "taskEndTime", "s3Bucket",
    "s3Prefix", "exportedFilesPath", "iamRoleArn", "kmsKeyId", "status", "percentProgress", "totalExportedDataInGB",
}  # fmt: skip


def test_export_info_has_the_keys_seen_in_real_exports() -> None:
    objects = render([make_table("t", {"id": "bigint"}, [(1,)])])
    info = export_info(objects)
    assert set(info) == EXPORT_INFO_KEYS
    assert info["exportTaskIdentifier"] == EXPORT_ID
    assert info["s3Bucket"] == EXPORT_BUCKET
    assert info["s3Prefix"] == EXPORT_PREFIX
    assert info["status"] == "COMPLETE"
    assert info["snapshotTime"] == "2026-11-26T06:05:12.000Z"
    assert info["taskStartTime"] < info["taskEndTime"]
    parquet_bytes = sum(len(v) for k, v in objects.items() if k.endswith(".parquet"))
    assert info["totalExportedDataInGB"] == pytest.approx(parquet_bytes / 2**30, rel=1e-3)


def test_tables_info_shape_matches_the_real_export_quoted_in_aws_facts() -> None:
    table = make_table(
        "t",
        {"created_on": "timestamp with time zone", "name": "varchar(40)", "price": "numeric(12,2)", "n": "smallint"},
        [(dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "x", Decimal(1), 1)],
        files_per_batch=1,
    )
    (status,) = tables_info(render([table]))
    # the real sample's key order: tableStatistics, schemaMetadata, status, sizeGB, target
    assert list(status) == ["tableStatistics", "schemaMetadata", "status", "sizeGB", "target"]
    assert status["target"] == "shop.public.t"
    assert status["status"] == "COMPLETE"
    assert status["sizeGB"] > 0
    stats = status["tableStatistics"]
    assert stats["partitioningInfo"] == {"numberOfPartitions": 1, "numberOfCompletedPartitions": 1}
    # the real sample's time format, "Jul 19, 2023, 11:21:00 PM"
    real_format = re.compile(r"[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M")
    assert real_format.fullmatch(stats["extractionStartTime"]), stats["extractionStartTime"]
    start, end = (
        dt.datetime.strptime(stats[k], "%b %d, %Y, %I:%M:%S %p") for k in ("extractionStartTime", "extractionEndTime")
    )
    assert start < end
    mappings = status["schemaMetadata"]["originalTypeMappings"]
    assert all(set(m) == MAPPING_KEYS for m in mappings)
    by_name = {m["columnName"]: m for m in mappings}
    # exactly the entry quoted from a real export in docs/aws-facts.md
    assert by_name["created_on"] == {
        "columnName": "created_on",
        "originalType": "timestamp with time zone",
        "expectedExportedType": "binary (UTF8)",
        "originalCharMaxLength": 0,
        "originalNumPrecision": 0,
        "originalDateTimePrecision": 6,
    }
    assert by_name["name"]["originalCharMaxLength"] == 40
    assert by_name["name"]["originalType"] == "character varying"
    assert by_name["price"]["originalNumPrecision"] == 12
    assert by_name["price"]["originalType"] == "numeric"  # no modifiers, and the scale is nowhere
    assert by_name["n"]["expectedExportedType"] == "int32 (INT_16)"


def test_a_table_can_lack_schema_metadata_like_some_real_entries() -> None:
    typed = make_table("typed", {"id": "bigint"}, [(1,)])
    bare = make_table("bare", {"id": "bigint", "at": "timestamptz"}, [(1, None)], schema_metadata=False)
    statuses = {s["target"]: s for s in tables_info(render([typed, bare]))}
    assert "schemaMetadata" not in statuses["shop.public.bare"]
    assert list(statuses["shop.public.bare"]) == ["tableStatistics", "status", "sizeGB", "target"]
    assert statuses["shop.public.typed"]["schemaMetadata"]["originalTypeMappings"][0]["originalType"] == "bigint"
    assert read_folder(render([bare]), "shop/public.bare").num_rows == 1  # the data is exported all the same


def test_tables_info_is_split_every_n_tables() -> None:
    tables = [make_table(f"t{i}", {"id": "bigint"}, [(i,)]) for i in range(5)]
    objects = render(tables, tables_per_info_file=2)
    names = sorted(k.rsplit("/", 1)[1] for k in objects if "export_tables_info_" in k)
    assert names == [
        f"export_tables_info_{EXPORT_ID}_from_1_to_2.json",
        f"export_tables_info_{EXPORT_ID}_from_3_to_4.json",
        f"export_tables_info_{EXPORT_ID}_from_5_to_5.json",
    ]
    assert [s["target"] for s in tables_info(objects)] == [f"shop.public.t{i}" for i in range(5)]
