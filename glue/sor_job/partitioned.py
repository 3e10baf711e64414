"""Partitioned tables (pure): which exported tables are partitions of another one, told from their footers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sor_job.column_types import FileSchema
from sor_job.plan import ExportedTable, S3Object


# A PostgreSQL partitioned table is exported as its parent's folder holding every partition's rows, one batch index
# per partition (AWS, "Exporting DB snapshot data to Amazon S3", file naming: "There will be multiple batch indexes,
# one for each of the table partitions of your main table"), and, without ExportOnly, each partition's own folder too
# (a field report: "AWS exports all table data into the parent table folder, as well as each partitioned table's
# data into its own folder", docs/aws-facts.md "Partitioned tables"). Publishing both with no sign would let an
# analyst sum the parent and its partitions: double the truth. The export says nothing of the relation in its
# metadata, and the database is never queried, so it is told from the data's own footprint: a table T is the parent
# of tables S1..Sn when every batch folder of T holds exactly the rows of one of them, by the fingerprint of the
# footers (the same columns and types, row count, and per column the null count, minimum and maximum); with one
# batch only, S's name must also start with T's (PostgreSQL's usual naming), so that a table and its exact copy are
# not taken for a parent and its partition. An empty partition writes no batch in its parent: it is claimed when
# its columns are the parent's and its name starts with the parent's (it holds no row to count twice anyway).
# The parent is published as one table with all its rows; each partition is published too, as its own export
# folder says, with the table parameter `sor.partition_of` = the parent's `sor.source` and a Description saying so.
@dataclass(frozen=True)
class Fingerprint:
    """What the footers say of a group of files: enough to tell the same rows exported twice."""

    columns: tuple[tuple[str, str], ...]
    rows: int
    summary: tuple[tuple[str, int | None, Any, Any], ...]


def fingerprint(schemas: Sequence[FileSchema]) -> Fingerprint | None:
    """The fingerprint of files that agree on their columns; None when they do not (no relation is guessed)."""
    if not schemas or any(s.columns != schemas[0].columns for s in schemas):
        return None
    with_rows = [s for s in schemas if s.rows]
    merged: list[tuple[str, int | None, Any, Any]] = []
    for index, (name, _) in enumerate(schemas[0].columns):
        entries = [s.summary[index] if len(s.summary) > index else (name, None, None, None) for s in with_rows]
        if any(e[1] is None for e in entries):
            merged.append((name, None, None, None))
            continue
        lows = [e[2] for e in entries if e[2] is not None]
        highs = [e[3] for e in entries if e[3] is not None]
        merged.append((name, sum(e[1] for e in entries), min(lows) if lows else None, max(highs) if highs else None))
    return Fingerprint(schemas[0].columns, sum(s.rows for s in schemas), tuple(merged))


def batch_folder(table: ExportedTable, obj: S3Object) -> str | None:
    """The batch index folder of one of the table's files, None for a file directly in the table folder."""
    relative = obj.key[len(table.prefix) :]
    return relative.split("/", 1)[0] if "/" in relative else None


def _schema_and_name(table: ExportedTable) -> tuple[str, str]:
    schema, _, name = table.folder.partition(".")
    return (f"{table.database}.{schema}", name) if name else (table.database, schema)


def partition_relations(tables: Sequence[ExportedTable], schemas: Mapping[str, Sequence[FileSchema]]) -> dict[str, str]:
    """partition's source -> its parent's source, for the tables the export holds both of (see above). `schemas`:
    each table's file schemas by source, in file order (a table whose footers could not be read is left out).

    Tables are indexed once per schema by fingerprint, so a database of n tables costs about n lookups, not n * n
    comparisons (an export of thousands of tables is common)."""
    by_schema: dict[str, list[ExportedTable]] = defaultdict(list)
    for table in tables:
        if table.source in schemas:
            by_schema[_schema_and_name(table)[0]].append(table)
    relations: dict[str, str] = {}
    taken: set[str] = set()  # parents and partitions already related: each table has one role
    for group in by_schema.values():
        prints = {t.source: fingerprint(schemas[t.source]) for t in group}
        index = _Index(group, prints)
        # the table with the most batch folders first: a parent has one per partition
        for parent in sorted(group, key=lambda t: (-len({batch_folder(t, o) for o in t.files}), t.source)):
            if parent.source in taken:
                continue
            partitions = _partitions_of(parent, index, taken, schemas[parent.source])
            for partition in partitions:
                relations[partition.source] = parent.source
            taken.update({parent.source} if partitions else set(), (p.source for p in partitions))
    return relations


@dataclass
class _Index:
    """One schema's tables by fingerprint and by columns, in export order."""

    group: Sequence[ExportedTable]
    prints: Mapping[str, Fingerprint | None]

    def __post_init__(self) -> None:
        self.by_print: dict[Fingerprint, list[ExportedTable]] = defaultdict(list)
        self.by_columns: dict[tuple[tuple[str, str], ...], list[ExportedTable]] = defaultdict(list)
        for table in self.group:
            found = self.prints[table.source]
            if found is not None:
                self.by_print[found].append(table)
                self.by_columns[found.columns].append(table)


def _partitions_of(
    parent: ExportedTable, index: _Index, taken: set[str], parent_schemas: Sequence[FileSchema]
) -> list[ExportedTable]:
    """The tables that are `parent`'s partitions (among those not `taken`): every non-empty batch folder of the
    parent matched by one of them (two at least, or one whose name starts with the parent's), then the empty ones
    named after it."""
    whole = index.prints[parent.source]
    if whole is None or not parent.files or any(batch_folder(parent, o) is None for o in parent.files):
        return []
    batches: dict[str, list[FileSchema]] = defaultdict(list)
    for obj, schema in zip(parent.files, parent_schemas, strict=True):
        batches[batch_folder(parent, obj) or ""].append(schema)
    parent_name = _schema_and_name(parent)[1]
    claimed: list[ExportedTable] = []
    claimed_sources: set[str] = set()
    for batch in sorted(b for b, items in batches.items() if sum(i.rows for i in items)):
        batch_print = fingerprint(batches[batch])
        same = (
            index.by_print.get(batch_print)
            if batch_print is not None and batch_print.columns == whole.columns
            else None
        )
        # each table matches one batch: the first in export order that is free
        match = next(
            (t for t in same or () if t.source not in taken and t.source != parent.source
             and t.source not in claimed_sources),
            None,
        )  # fmt: skip
        if match is None:
            return []  # a batch that no table matches: not a parent whose partitions were exported
        claimed.append(match)
        claimed_sources.add(match.source)
    if not claimed or (len(claimed) == 1 and not _schema_and_name(claimed[0])[1].startswith(parent_name)):
        return []
    empties = [
        t for t in index.by_columns[whole.columns]
        if t.source not in taken and t.source != parent.source and t.source not in claimed_sources
        and (p := index.prints[t.source]) is not None and p.rows == 0
        and _schema_and_name(t)[1].startswith(parent_name)
    ]  # fmt: skip
    return [*claimed, *empties]
