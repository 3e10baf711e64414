"""Catalog definitions (pure): the TableInput and PartitionInput the job sends to Glue."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sor_job.errors import TableError
from sor_job.layout import MANAGED_BY, PARQUET_INPUT, PARQUET_OUTPUT, PARQUET_SERDE, PARTITION_KEY


def merge_columns(
    existing: Sequence[Mapping[str, Any]], new: Sequence[tuple[str, str]], comments: Mapping[str, str]
) -> list[dict[str, str]]:
    """Schema evolution: keep every existing column in place, append new ones; a type change is an error.

    Columns missing from today's files stay (older partitions still hold them; Athena returns NULL for them in
    newer ones). Comments carry the source type from the export's metadata; a night whose metadata is missing or
    silent about a column keeps the comment the table has, so the definition does not flip from night to night.
    """
    new_types = dict(new)
    changes = [
        f"{col['Name']}: {col['Type']} -> {new_types[col['Name']]}"
        for col in existing
        if col["Name"] in new_types and col["Type"] != new_types[col["Name"]]
    ]
    if changes:
        raise TableError(
            "column type changed since the table was created (" + "; ".join(changes) + "); earlier partitions "
            "are left untouched. Create a new table (rename the old one) or restore the old type at the source."
        )
    merged = [
        catalog_column(col["Name"], col["Type"], comments.get(col["Name"], col.get("Comment", ""))) for col in existing
    ]
    known = {col["Name"] for col in existing}
    merged += [catalog_column(name, type_, comments.get(name, "")) for name, type_ in new if name not in known]
    return merged


def catalog_column(name: str, type_: str, comment: str) -> dict[str, str]:
    column = {"Name": name, "Type": type_}
    if comment:
        column["Comment"] = comment[:255]
    return column


def storage_descriptor(location: str, columns: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    return {
        "Columns": [dict(c) for c in columns],
        "Location": location,
        "InputFormat": PARQUET_INPUT,
        "OutputFormat": PARQUET_OUTPUT,
        "Compressed": False,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        "StoredAsSubDirectories": False,
    }


def table_input(
    name: str,
    location: str,
    columns: Sequence[Mapping[str, str]],
    source: str,
    partition_of: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The table's definition: nothing in it may change from one night to the next unless the schema does.
    `partition_of` (the parent's sor.source and catalog name) marks a partition whose rows its parent holds too
    (sor_job/partitioned.py): the parameter `sor.partition_of` and the Description say so.

    Every UpdateTable archives a table version, and Glue stops at 100,000 versions a table and 1,000,000 an account
    (ResourceNumberLimitExceededException, https://repost.aws/knowledge-center/glue-table-version-errors). Facts of
    one run (export id, snapshot time, counts) therefore live on the day's partition (`partition_input`), never here.
    """
    parameters = {"EXTERNAL": "TRUE", "classification": "parquet", "sor.source": source, "sor.managed_by": MANAGED_BY}
    description = f"SOR copy of {source}, one partition per ingestion date (managed by aurora-sor)"
    if partition_of is not None:
        parent_source, parent_name = partition_of
        parameters["sor.partition_of"] = parent_source
        description = (
            f"PARTITION of {parent_source}: every row here is also in table {parent_name}; never add the two. "
            + description
        )
    return {
        "Name": name,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "StorageDescriptor": storage_descriptor(location, columns),
        "PartitionKeys": [{"Name": PARTITION_KEY, "Type": "date"}],
    }


def partition_input(
    table_location: str,
    ingestion_date: str,
    columns: Sequence[Mapping[str, str]],
    export_id: str,
    totals: Mapping[str, int],
    snapshot_time: str | None = None,
) -> dict[str, Any]:
    """The day's partition, which carries every per-run fact (partitions have no version quota)."""
    parameters = {
        "sor.export_id": export_id,
        "sor.files": str(totals["files"]),
        "sor.bytes": str(totals["bytes"]),
        "sor.rows": str(totals["rows"]),
    }
    if snapshot_time:
        parameters["sor.snapshot_time"] = snapshot_time
    return {
        "Values": [ingestion_date],
        "StorageDescriptor": storage_descriptor(f"{table_location}{PARTITION_KEY}={ingestion_date}/", columns),
        "Parameters": parameters,
    }


_TABLE_INPUT_KEYS = ("Name", "Description", "TableType", "Parameters", "StorageDescriptor", "PartitionKeys")


def as_table_input(current: Mapping[str, Any]) -> dict[str, Any]:
    """The TableInput that would recreate a GetTable result (to skip UpdateTable when nothing changed)."""
    result = {k: current[k] for k in _TABLE_INPUT_KEYS if k in current}
    if "StorageDescriptor" in result:
        result["StorageDescriptor"] = {
            k: v for k, v in result["StorageDescriptor"].items() if k in storage_descriptor("", [])
        }
    return result


def same_definition(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return json.dumps(current, sort_keys=True, default=str) == json.dumps(wanted, sort_keys=True, default=str)


def check_partition_keys(current: Mapping[str, Any]) -> None:
    keys = [(k.get("Name"), k.get("Type")) for k in current.get("PartitionKeys", [])]
    if keys != [(PARTITION_KEY, "date")]:
        raise TableError(f"catalog table {current.get('Name')!r} is partitioned by {keys}, not ({PARTITION_KEY}, date)")
