"""Types (pure): Parquet column -> Athena/Glue type, and a file's columns."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from sor_job.errors import TableError
from sor_job.layout import PARTITION_KEY

# What the export writes [FACTS "Type conversion done by the export"] and what Athena reads for it. The type
# is derived from the file, never guessed: a Parquet column whose physical/logical type Athena cannot read
# under any catalog type fails its table (HIVE_BAD_DATA otherwise, [FACTS "Athena and the Glue Data Catalog"]).


@dataclass(frozen=True)
class ParquetColumn:
    """The parts of a Parquet column descriptor that decide its catalog type."""

    name: str
    physical: str  # BOOLEAN INT32 INT64 INT96 FLOAT DOUBLE BYTE_ARRAY FIXED_LEN_BYTE_ARRAY
    logical: Mapping[str, Any]  # pyarrow LogicalType.to_json(), {"Type": "None"} when absent
    converted: str = "NONE"  # legacy ConvertedType (UTF8, DECIMAL, INT_16, TIMESTAMP_MICROS, ...)
    precision: int = -1
    scale: int = -1
    nested: bool = False  # repeated or inside a group: not something the export writes
    path: str = ""  # the dotted ColumnPath, for messages about nested fields (name is the leaf's own name)

    @classmethod
    def from_arrow(cls, column: Any) -> ParquetColumn:
        """From a pyarrow.parquet.ColumnSchema.

        `column.name` is the leaf field's own name; `column.path` is its ColumnPath joined with "." (Parquet C++
        `ColumnPath::ToDotString`). A top-level column's path is its name alone, so a flat column named "a.b" has
        path == name, while a field "b" inside a group "a" has path "a.b" and name "b". Comparing the two, not
        looking for a ".", is what tells nested from flat; the catalog column takes the field's name.
        """
        logical = json.loads(column.logical_type.to_json())
        return cls(
            name=column.name,
            physical=str(column.physical_type),
            logical=logical,
            converted=str(column.converted_type),
            precision=column.precision,
            scale=column.scale,
            nested=column.max_repetition_level > 0 or column.path != column.name,
            path=column.path,
        )


class UnsupportedType(TableError):
    pass


_INT_TYPES = {(8, True): "tinyint", (16, True): "smallint", (32, True): "int", (64, True): "bigint"}
# Unsigned integers widen to the next signed type Athena can read from the same physical type.
_UINT_TYPES = {(8, False): "smallint", (16, False): "int", (32, False): "bigint"}
_CONVERTED_INT = {
    f"{'U' if not signed else ''}INT_{width}": (width, signed) for width in (8, 16, 32, 64) for signed in (True, False)
}
_STRING_LOGICAL = {"String", "Enum", "Json"}
_STRING_CONVERTED = {"UTF8", "ENUM", "JSON"}


def athena_type(column: ParquetColumn) -> str:
    """The Glue/Athena type that reads this Parquet column correctly; UnsupportedType otherwise."""
    kind = str(column.logical.get("Type", "None"))
    physical = column.physical

    def unsupported(why: str) -> UnsupportedType:
        return UnsupportedType(
            f"column {column.path or column.name!r}: {physical} {kind if kind != 'None' else column.converted} {why}"
        )

    if column.nested:
        raise unsupported("is nested (repeated or in a group); the export writes flat columns only")
    if kind == "Decimal" or column.converted == "DECIMAL":
        precision = int(column.logical.get("precision", column.precision))
        scale = int(column.logical.get("scale", column.scale))
        if physical not in {"INT32", "INT64", "FIXED_LEN_BYTE_ARRAY", "BYTE_ARRAY"}:
            raise unsupported("is a decimal on a physical type Athena does not read as decimal")
        if not 1 <= precision <= 38 or not 0 <= scale <= precision:
            raise unsupported(f"is decimal({precision},{scale}); Athena decimals stop at precision 38")
        return f"decimal({precision},{scale})"
    if kind == "Int" or column.converted in _CONVERTED_INT:
        if kind == "Int":
            width, signed = int(column.logical["bitWidth"]), bool(column.logical["isSigned"])
        else:
            width, signed = _CONVERTED_INT[column.converted]
        mapped = _INT_TYPES.get((width, signed)) or _UINT_TYPES.get((width, signed))
        expected_physical = "INT64" if width == 64 else "INT32"
        if mapped is None or physical != expected_physical:
            raise unsupported("has no Athena integer type that holds every value")
        return mapped
    if kind in _STRING_LOGICAL or column.converted in _STRING_CONVERTED:
        if physical != "BYTE_ARRAY":
            raise unsupported("is a string annotation on a non-BYTE_ARRAY column")
        return "string"
    if kind == "Date" or column.converted == "DATE":
        if physical != "INT32":
            raise unsupported("is a date on a physical type other than INT32")
        return "date"
    if kind == "Timestamp" or column.converted in {"TIMESTAMP_MILLIS", "TIMESTAMP_MICROS"}:
        unit = str(column.logical.get("timeUnit", column.converted.rsplit("_", 1)[-1].lower()))
        if physical != "INT64" or unit not in {"milliseconds", "microseconds", "millis", "micros"}:
            raise unsupported(f"is a timestamp in {unit}; Athena reads INT64 millis or micros")
        return "timestamp"
    if kind != "None" or column.converted not in {"NONE", "None"}:
        # Time, UUID, Interval, Map, List, Float16, Bson, Unknown ...: nothing in the export writes them, and no
        # catalog type is known to read them correctly.
        raise unsupported("has no known Athena type")
    plain = {
        "BOOLEAN": "boolean",
        "INT32": "int",
        "INT64": "bigint",
        "INT96": "timestamp",  # legacy Impala/Spark timestamps, read by Athena as timestamp
        "FLOAT": "float",
        "DOUBLE": "double",
        "BYTE_ARRAY": "binary",
        "FIXED_LEN_BYTE_ARRAY": "binary",
    }
    if physical not in plain:
        raise unsupported("is an unknown physical type")
    return plain[physical]


def is_text(type_: pa.DataType) -> bool:
    """An Arrow string column (the export's BYTE_ARRAY UTF8, read as string or large_string)."""
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


@dataclass(frozen=True)
class FileSchema:
    """What the footer of one Parquet file says."""

    key: str
    columns: tuple[tuple[str, str], ...]  # (original name, athena type), in file order
    rows: int
    arrow_schema: pa.Schema | None = field(default=None, compare=False)  # what pyarrow reads (restored_schema)
    # min/max of every string column in the row groups' statistics: scale evidence read with the footer
    text_samples: Mapping[str, tuple[str, ...]] = field(default_factory=dict, compare=False)
    # string columns whose statistics hold a value that is not UTF-8: their values are counted (count_invalid_text)
    invalid_text: tuple[str, ...] = field(default=(), compare=False)
    # per column (name, nulls, min, max) over the row groups' statistics, None where a statistic is missing: with the
    # row count, the fingerprint that tells a partition's rows inside its parent's export (partition_relations)
    summary: tuple[tuple[str, int | None, Any, Any], ...] = field(default=(), compare=False)
    # (rows, uncompressed bytes) of each row group, in file order: where a rewrite may cut the file into units
    row_groups: tuple[tuple[int, int], ...] = field(default=(), compare=False)


def table_columns(files: Sequence[FileSchema]) -> list[tuple[str, str]]:
    """The table's columns (catalog name, type) once every file agrees; TableError naming what differs."""
    if not files:
        raise TableError("no Parquet files to take a schema from")
    reference = files[0]
    for other in files[1:]:
        if other.columns != reference.columns:
            ref, oth = dict(reference.columns), dict(other.columns)
            diffs = [
                f"{name}: {ref.get(name, '(absent)')} vs {oth.get(name, '(absent)')}"
                for name in sorted(set(ref) | set(oth))
                if ref.get(name) != oth.get(name)
            ] or ["same columns in a different order"]
            raise TableError(f"files disagree on the schema: {reference.key} vs {other.key}: {'; '.join(diffs)}")
    seen: dict[str, str] = {}
    columns = []
    for name, type_ in reference.columns:
        lowered = name.lower()
        if lowered in seen:
            raise TableError(
                f"columns {seen[lowered]!r} and {name!r} are equal but for case; Athena cannot tell them apart"
            )
        if lowered == PARTITION_KEY:
            raise TableError(f"column {name!r} clashes with the partition key {PARTITION_KEY!r}")
        seen[lowered] = name
        columns.append((lowered, type_))
    return columns
