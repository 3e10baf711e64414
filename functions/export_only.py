"""ExportOnly entries, checked against the formats StartExportTask documents before AWS sees them.

Formats (botocore rds service-2.json, StartExportTask.ExportOnly; docs/aws-facts.md "StartExportTask"):
`database`, `database.table` (Aurora MySQL), `database.schema`, `database.schema.table` (Aurora PostgreSQL).
Partial export only works for names made of A-Z a-z 0-9 $ _ (aurora-export-snapshot.html, Considerations),
so anything else is refused here instead of failing hours later inside the export.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from refusals import RefusedError

_NAME = r"[A-Za-z0-9$_]+"
_ENTRY = re.compile(rf"^{_NAME}(\.{_NAME}){{0,2}}$")
# The whole list must stay under 200 KB (docs/aws-facts.md); measured as the request would carry it.
MAX_TOTAL_BYTES = 200 * 1024


class InvalidExportOnlyError(RefusedError, ValueError):
    """An ExportOnly entry or list AWS would reject (or silently mis-handle)."""


def validate_export_only(entries: Iterable[object], *, origin: str) -> list[str]:
    """Returns the entries unchanged when every one matches a documented format; `origin` names the input."""
    checked: list[str] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, str) or not _ENTRY.match(entry):
            raise InvalidExportOnlyError(
                f"{origin}: entry {position} ({entry!r}) is not database, database.table, database.schema or "
                "database.schema.table made of A-Z a-z 0-9 $ _"
            )
        checked.append(entry)
    if len(set(checked)) != len(checked):
        raise InvalidExportOnlyError(f"{origin}: duplicate entries in {checked!r}")
    if sum(len(e.encode()) for e in checked) > MAX_TOTAL_BYTES:
        raise InvalidExportOnlyError(f"{origin}: the list is larger than 200 KB")
    return checked


def parse_export_only_setting(raw: str, *, origin: str) -> list[str]:
    """Comma-separated setting (blank = export everything); blanks around commas are tolerated."""
    if not raw.strip():
        return []
    return validate_export_only([part.strip() for part in raw.split(",")], origin=origin)
