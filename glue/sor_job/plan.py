"""Plan (pure): what the export holds, from its listing and its metadata files, and what it says it skipped."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class S3Object:
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class ExportedTable:
    """One exported table: its folder and Parquet files, and what the export's metadata says of it."""

    database: str
    folder: str  # "<schema>.<table>" or "<database>.<table>", as in S3
    prefix: str  # key prefix of the table folder, ending with "/"
    files: tuple[S3Object, ...]
    export_status: str  # upper-case, as the export metadata says; "UNKNOWN" when the metadata does not list the table
    original_types: Mapping[str, str] = field(default_factory=dict)
    # originalTypeMappings exactly as the metadata gives them; None when the metadata, the table's entry or its
    # schemaMetadata is missing (restoration_rules then keeps every string column as text)
    type_mappings: tuple[Mapping[str, Any], ...] | None = None

    @property
    def source(self) -> str:
        return f"{self.database}.{self.folder}"


@dataclass(frozen=True)
class ExportPlan:
    tables: tuple[ExportedTable, ...]
    snapshot_time: str | None
    warnings: tuple[str, ...]
    ignored_objects: int


def is_hidden(relative_key: str) -> bool:
    """Hadoop/Hive convention: path components starting with '_' or '.' are not data."""
    return any(part.startswith(("_", ".")) for part in relative_key.split("/")[:-1]) or relative_key.rsplit("/", 1)[
        -1
    ].startswith(("_", "."))


# S3 paths replace \ ` " and space with "_" in the names they carry.
_TARGET_UNSAFE = re.compile(r'[\\`" ]')


def _metadata_targets(database: str, folder: str) -> tuple[str, ...]:
    """The metadata targets (cleaned as S3 paths clean names) that name this folder. PostgreSQL targets read
    "db.schema.table" = "<database>.<folder>"; MySQL ones may read "db.table" = the folder itself [FACTS "The export
    in S3", shape UNVERIFIED]."""
    return (f"{database}.{folder}", folder) if folder.startswith(f"{database}.") else (f"{database}.{folder}",)


def type_mappings(entry: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...] | None:
    """A perTableStatus entry's originalTypeMappings: its entries that are objects, or None when the entry has no
    such list (undocumented shapes, docs/aws-facts.md "Export metadata files": the table's columns then have no
    source type, and no column is restored for want of evidence)."""
    schema_metadata = entry.get("schemaMetadata")
    mappings = schema_metadata.get("originalTypeMappings") if isinstance(schema_metadata, Mapping) else None
    if not isinstance(mappings, list):
        return None
    return tuple(m for m in mappings if isinstance(m, Mapping))


def plan_export(
    root_prefix: str,
    objects: Iterable[S3Object],
    export_info: Mapping[str, Any] | None,
    tables_info: Sequence[Mapping[str, Any]] | None,
    metadata_problems: Sequence[str] = (),
) -> ExportPlan:
    """Groups the export's Parquet objects into tables and joins them with the metadata's per-table status.

    `tables_info` is the concatenated perTableStatus entries, or None when the metadata is missing or unreadable:
    then every folder with Parquet files is taken as complete, with a warning.
    """
    warnings = list(metadata_problems)
    grouped: dict[tuple[str, str], list[S3Object]] = defaultdict(list)
    ignored = 0
    for obj in objects:
        relative = obj.key[len(root_prefix) :]
        parts = relative.split("/")
        if len(parts) < 3 or not obj.key.endswith(".parquet") or is_hidden("/".join(parts[2:])):
            ignored += 1
            continue
        grouped[(parts[0], parts[1])].append(obj)

    statuses: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
    raw_mappings: dict[tuple[str, str], tuple[Mapping[str, Any], ...]] = {}
    unmatched: list[Mapping[str, Any]] = []
    if tables_info is not None:
        # every name a metadata target may give a folder by, the first folder in sorted order winning a shared one
        by_target: dict[str, tuple[str, str]] = {}
        for folder in sorted(grouped):
            for name in _metadata_targets(*folder):
                by_target.setdefault(name, folder)
        for entry in tables_info:
            if not isinstance(entry, Mapping):
                warnings.append(f"export_tables_info has an entry that is not an object, ignored: {entry!r}"[:300])
                continue
            target = str(entry.get("target", ""))
            status = str(entry.get("status", "UNKNOWN")).upper()
            mappings = type_mappings(entry)
            types = {str(m.get("columnName", "")).lower(): str(m.get("originalType", "")) for m in mappings or ()}
            match = by_target.get(re.sub(_TARGET_UNSAFE, "_", target))
            if match is None:
                unmatched.append(entry)
                continue
            statuses[match] = (status, types)
            if mappings is not None:
                raw_mappings[match] = mappings
        for entry in unmatched:
            target = str(entry.get("target", ""))
            status = str(entry.get("status", "UNKNOWN")).upper()
            database, _, rest = target.partition(".")
            folder = rest if rest.count(".") >= 1 else target  # MySQL "db.table" is the folder itself
            key = (database, re.sub(r'[\\`" ]', "_", folder))
            if not database or not rest:
                warnings.append(f"export_tables_info has an entry without a usable target: {dict(entry)}")
                continue
            statuses[key] = (status, {})
    else:
        warnings.append("export metadata unavailable: publishing every table folder that holds Parquet files")

    tables = []
    for database, folder in sorted(set(grouped) | set(statuses)):
        files = tuple(sorted(grouped.get((database, folder), []), key=lambda o: o.key))
        status, types = statuses.get((database, folder), ("COMPLETE" if tables_info is None else "UNKNOWN", {}))
        if status == "UNKNOWN":
            warnings.append(f"{database}.{folder} has data but is not listed in export_tables_info")
        tables.append(
            ExportedTable(
                database, folder, f"{root_prefix}{database}/{folder}/", files, status, types,
                raw_mappings.get((database, folder)),
            )
        )  # fmt: skip
    warnings += export_warnings((export_info or {}).get("warningMessage"))
    snapshot_time = (export_info or {}).get("snapshotTime")
    return ExportPlan(tuple(tables), str(snapshot_time) if snapshot_time else None, tuple(warnings), ignored)


def skipped_table_name(entry: Any) -> str:
    """How one skippedTables entry names its table; the Lambdas name it the same way (tests/test_contracts.py)."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("target"), str):
        return entry["target"]
    return json.dumps(entry, sort_keys=True)


def export_warnings(message: Any) -> list[str]:
    """Skipped tables and general warnings, from a WarningMessage-shaped text [FACTS "DescribeExportTasks"].

    Where export_info carries it is UNVERIFIED: read it when present, in any of the shapes seen, never fail on it.
    """
    if not message:
        return []
    try:
        document = json.loads(message) if isinstance(message, str) else message
    except ValueError:
        return [f"export warning: {message}"]
    if not isinstance(document, dict):
        return [f"export warning: {message}"]
    warnings = []
    for entry in document.get("skippedTables") or []:
        reason = entry.get("reason") if isinstance(entry, dict) else None
        name = skipped_table_name(entry)
        warnings.append(f"the export skipped {name}: {reason}" if reason else f"the export skipped {name}")
    for entry in document.get("general") or []:
        reason = entry.get("reason", entry) if isinstance(entry, dict) else entry
        warnings.append(f"export warning: {reason}")
    return warnings
