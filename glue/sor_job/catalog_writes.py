"""Catalog writes: tables and partitions created or updated in Glue, only when they differ."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from sor_job.catalog_definitions import as_table_input, same_definition
from sor_job.errors import ExportError

log = logging.getLogger(__name__)


def catalog_tables(glue: Any, database: str) -> dict[str, dict[str, Any]]:
    """Every table of the catalog database, in one paginated call (not one GetTable per table)."""
    try:
        glue.get_database(Name=database)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "EntityNotFoundException":
            raise ExportError(
                f"catalog database {database!r} does not exist (the stack creates it; create it by hand when running "
                "the job outside the stack)"
            ) from exc
        raise
    tables: dict[str, dict[str, Any]] = {}
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        tables.update({t["Name"]: t for t in page["TableList"]})
    return tables


class TableAction(Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    UPDATED_UNARCHIVED = "updated without archiving its previous version (table version quota reached)"


def created_unless_exists(create: Callable[[], Any]) -> bool:
    """True when `create` made the catalog object; False when Glue answers AlreadyExistsException (another run, or an
    earlier night, made it), which the caller then compares and updates."""
    try:
        create()
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "AlreadyExistsException":
            raise
        return False
    return True


def put_table(glue: Any, database: str, current: Mapping[str, Any] | None, wanted: dict[str, Any]) -> TableAction:
    """CreateTable, or UpdateTable only when the definition differs (a real schema change, or a one-time clean-up
    of parameters an earlier version kept on the table).

    SkipArchive stays False: with updates only on real changes, the archived versions are the table's schema history
    (GetTableVersions) and stay few. Should the account or table already be at its version quota (a deployment that
    updated every table every night before), the update is retried once with SkipArchive=True, which "does not create
    the archived version" (botocore glue model, UpdateTable SkipArchive), so the night still publishes.
    """
    if current is None:
        if created_unless_exists(functools.partial(glue.create_table, DatabaseName=database, TableInput=wanted)):
            return TableAction.CREATED
        # Another run created it between our listing and now: update it as if we had seen it.
    elif same_definition(as_table_input(current), wanted):
        return TableAction.UNCHANGED
    try:
        glue.update_table(DatabaseName=database, TableInput=wanted, SkipArchive=False)
        return TableAction.UPDATED
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNumberLimitExceededException":
            raise
        log.warning("table %s: %s; updating without archiving", wanted["Name"], exc)
    glue.update_table(DatabaseName=database, TableInput=wanted, SkipArchive=True)
    return TableAction.UPDATED_UNARCHIVED


class PartitionAction(Enum):
    CREATED = "created"
    UNCHANGED = "unchanged"
    REPLACED = "replaced"


def put_partition(glue: Any, database: str, name: str, wanted: dict[str, Any]) -> PartitionAction:
    """CreatePartition, else UpdatePartition only when the partition differs (a re-run writes nothing)."""
    create = functools.partial(glue.create_partition, DatabaseName=database, TableName=name, PartitionInput=wanted)
    if created_unless_exists(create):
        return PartitionAction.CREATED
    current = glue.get_partition(DatabaseName=database, TableName=name, PartitionValues=wanted["Values"])["Partition"]
    storage = {k: v for k, v in current.get("StorageDescriptor", {}).items() if k in wanted["StorageDescriptor"]}
    found = {"Values": current.get("Values"), "StorageDescriptor": storage, "Parameters": current.get("Parameters", {})}
    if same_definition(found, wanted):
        return PartitionAction.UNCHANGED
    glue.update_partition(
        DatabaseName=database, TableName=name, PartitionValueList=wanted["Values"], PartitionInput=wanted
    )
    return PartitionAction.REPLACED
