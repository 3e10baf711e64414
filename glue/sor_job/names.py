"""Names (pure): export path -> catalog table name."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from sor_job.layout import MAX_TABLE_NAME

# Rule (documented in README "Naming"): the table folder of the export is "<schema>.<table>" (PostgreSQL) or
# "<database>.<table>" (MySQL) [FACTS "The export in S3"]. Its catalog name is that folder, accents stripped,
# lower-cased, every character outside [a-z0-9_] replaced by "_", prefixed with "t_" unless it starts with a
# letter, cut to 128 characters with a hash of the full path when cut, or only "t_" + hash when nothing readable
# is left. Two sources that land on the same name are told apart with a short hash of their full source path;
# the one that already owns the catalog table (its `sor.source` parameter) keeps the plain name, so a published
# table is never renamed nor taken over.


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def base_table_name(folder: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", folder).encode("ascii", "ignore").decode("ascii")
    name = re.sub(r"[^a-z0-9_]", "_", ascii_text.lower())
    if not re.search(r"[a-z0-9]", name):  # nothing readable survived (e.g. a name in CJK): the hash alone
        return f"t_{_digest(folder)}"
    if not name[:1].isalpha():
        name = "t_" + name
    if len(name) > MAX_TABLE_NAME:
        name = f"{name[: MAX_TABLE_NAME - 9]}_{_digest(folder)}"
    return name


def _suffixed(base: str, source: str) -> str:
    return f"{base[: MAX_TABLE_NAME - 9]}_{_digest(source)}"


@dataclass(frozen=True)
class NameAssignment:
    names: dict[str, str]  # source -> catalog table name
    errors: dict[str, str]  # source -> why it gets no name
    warnings: tuple[str, ...]


def assign_table_names(folders: Mapping[str, str], existing: Mapping[str, str | None]) -> NameAssignment:
    """Maps each source ("db.schema.table") to a unique catalog table name.

    folders: source -> export folder name ("schema.table"). existing: catalog table name -> its `sor.source`
    parameter (None for a table aurora-sor does not manage). Deterministic for the same inputs.
    """
    by_base: dict[str, list[str]] = defaultdict(list)
    for source, folder in folders.items():
        by_base[base_table_name(folder)].append(source)
    names: dict[str, str] = {}
    warnings: list[str] = []
    for base, sources in sorted(by_base.items()):
        keeper = (existing.get(base) if existing.get(base) in sources else None) if base in existing else min(sources)
        for source in sorted(sources):
            if source == keeper:
                names[source] = base
                continue
            names[source] = _suffixed(base, source)
            owner = existing.get(base, "")
            why = (
                f"catalog table {base!r} belongs to {owner!r}"
                if base in existing
                else f"{len(sources)} sources share the name {base!r}: {', '.join(sorted(sources))}"
            )
            warnings.append(f"{source} is published as {names[source]!r} because {why}")
    errors: dict[str, str] = {}
    taken: dict[str, str] = {}
    for source, name in sorted(names.items()):
        if name in existing and existing[name] != source:
            errors[source] = f"catalog table {name!r} already exists and belongs to {existing[name]!r}"
        elif name in taken:
            errors[source] = f"catalog table name {name!r} collides with {taken[name]!r}"
        else:
            taken[name] = source
    return NameAssignment({s: n for s, n in names.items() if s not in errors}, errors, tuple(warnings))
