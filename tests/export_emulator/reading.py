"""Reading rendered exports back for the export emulator's tests: every check parses the bytes with pyarrow/json."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from local.export_emulator.source import SourceTable
from tests.exports import EXPORT_ID, EXPORT_PREFIX, PG, make_table, render_sample_export

ROOT = f"{EXPORT_PREFIX}/{EXPORT_ID}/"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
STRING = ("BYTE_ARRAY", "UTF8")
BINARY = ("BYTE_ARRAY", "NONE")
# The keys of an originalTypeMappings entry (docs/aws-facts.md "Export metadata files").
MAPPING_KEYS = {
    "columnName", "originalType", "expectedExportedType", "originalCharMaxLength", "originalNumPrecision",
    "originalDateTimePrecision",
}  # fmt: skip


def render(tables: list[SourceTable], engine: str = PG, **kwargs: Any) -> dict[str, bytes]:
    return render_sample_export(engine=engine, tables=tables, **kwargs)


def parts_of(objects: dict[str, bytes], folder: str) -> list[str]:
    return sorted(k for k in objects if k.startswith(f"{ROOT}{folder}/") and k.endswith(".parquet"))


def read_folder(objects: dict[str, bytes], folder: str) -> pa.Table:
    files = [pq.read_table(io.BytesIO(objects[k])) for k in parts_of(objects, folder)]
    assert files, f"no part files under {folder}"
    return pa.concat_tables(files)


def column_types(body: bytes) -> dict[str, tuple[str, str]]:
    schema = pq.ParquetFile(io.BytesIO(body)).schema
    return {
        schema.column(i).name: (schema.column(i).physical_type, schema.column(i).converted_type)
        for i in range(len(schema))
    }


def one_column_file(engine: str, source_type: str) -> pq.ParquetFile:
    table = make_table("t", {"c": source_type}, [(None,)], schema="public" if engine == PG else None)
    objects = render([table], engine)
    (key,) = [k for k in objects if k.endswith(".parquet")]
    return pq.ParquetFile(io.BytesIO(objects[key]))


def tables_info(objects: dict[str, bytes]) -> list[dict[str, Any]]:
    keys = sorted(k for k in objects if "/export_tables_info_" in k)
    return [s for k in keys for s in json.loads(objects[k])["perTableStatus"]]


def export_info(objects: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(objects[f"{ROOT}export_info_{EXPORT_ID}.json"])


def row_groups(body: bytes) -> list[int]:
    metadata = pq.ParquetFile(io.BytesIO(body)).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
