"""Glue's table versions as AWS keeps them, where moto does not: UpdateTable with SkipArchive=True replaces the
current version instead of archiving it.

botocore's Glue model, UpdateTable SkipArchive: "By default, UpdateTable always creates an archived version of the
table before updating it. However, if skipArchive is set to true, UpdateTable does not create the archived
version." moto 5.2.5 ignores the parameter (moto/glue/responses.py update_table): every update adds a version, so
a test could not tell a move that archives from one that does not. `install()` makes the emulator (the moto server
in this process, and moto's in-process mock_aws) honour it; GetTableVersions then lists what AWS would.
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import EmptyResult
from moto.core.utils import utcnow
from moto.glue.responses import GlueResponse

_ORIGINAL_UPDATE_TABLE = GlueResponse.update_table


def _update_table(self: GlueResponse) -> Any:
    if not self.parameters.get("SkipArchive"):
        return _ORIGINAL_UPDATE_TABLE(self)
    table_input = self.parameters["TableInput"]
    table = self.glue_backend.get_table(self.parameters["DatabaseName"], table_input["Name"])
    table.versions[str(table._current_version)] = table_input
    table.updated_time = utcnow()
    return EmptyResult()


def install() -> None:
    """Idempotent: patches moto's Glue UpdateTable in this process."""
    GlueResponse.update_table = _update_table  # type: ignore[method-assign]
