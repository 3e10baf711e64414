"""S3 reads: listing, the export's metadata files, Parquet footers by range reads."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

from sor_job.column_types import FileSchema, ParquetColumn, UnsupportedType, athena_type, is_text
from sor_job.config import JobConfig
from sor_job.errors import TableError
from sor_job.plan import S3Object
from sor_job.restore import statistics_samples


def list_objects(s3: Any, bucket: str, prefix: str) -> list[S3Object]:
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        objects += [S3Object(o["Key"], int(o["Size"]), o["ETag"].strip('"')) for o in page.get("Contents", [])]
    return objects


def read_metadata(
    s3: Any, config: JobConfig, objects: Sequence[S3Object]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]] | None, list[str]]:
    """export_info_<id>.json and every export_tables_info_<id>_from_<n>_to_<m>.json at the export root.

    Their schema is not documented by AWS [FACTS "The export in S3", UNVERIFIED], so they are read defensively:
    any problem is reported and the plan falls back to the folders.
    """
    root = config.export_prefix
    info_key = f"{root}export_info_{config.export_id}.json"
    pattern = re.compile(re.escape(f"{root}export_tables_info_{config.export_id}_from_") + r"(\d+)_to_(\d+)\.json$")
    problems: list[str] = []
    keys = {o.key for o in objects}
    export_info = None
    if info_key in keys:
        try:
            export_info = _read_json(s3, config.export_bucket, info_key)
        except (ValueError, ClientError) as exc:
            problems.append(f"{info_key} is unreadable ({exc})")
    else:
        problems.append(f"{info_key} is missing")
    info_keys = sorted((k for k in keys if pattern.match(k)), key=lambda k: int(pattern.match(k).group(1)))  # type: ignore[union-attr]
    entries: list[dict[str, Any]] | None = []
    if not info_keys:
        problems.append(f"no export_tables_info_{config.export_id}_from_*_to_*.json at the export root")
        entries = None
    for key in info_keys:
        try:
            document = _read_json(s3, config.export_bucket, key)
            per_table = document["perTableStatus"]
            if not isinstance(per_table, list):
                raise ValueError("perTableStatus is not a list")
            entries += per_table  # type: ignore[operator]
        except (ValueError, KeyError, TypeError, ClientError) as exc:
            problems.append(f"{key} is unreadable ({exc!r})")
            entries = None
            break
    return export_info, entries, problems


def _read_json(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    return document


class RangeReader(io.RawIOBase):
    """A read-only file over one S3 object that fetches only the byte ranges asked for.

    pyarrow reads a Parquet footer from the end of the file; the first read prefetches the last
    `prefetch` bytes in one ranged GET (suffix range), so a footer costs one request. IfMatch pins every read
    to the version that was listed, so the footer and the copy describe the same bytes.
    """

    def __init__(self, s3: Any, bucket: str, obj: S3Object, prefetch: int) -> None:
        super().__init__()
        self._s3, self._bucket, self._obj = s3, bucket, obj
        self._pos = 0
        self._tail_start = max(0, obj.size - prefetch)
        self._tail: bytes | None = None
        self.bytes_read = 0
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._obj.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _get(self, start: int, end: int) -> bytes:
        self.requests += 1
        response = self._s3.get_object(
            Bucket=self._bucket,
            Key=self._obj.key,
            Range=f"bytes={start}-{end - 1}",
            IfMatch=f'"{self._obj.etag}"',
        )
        data = response["Body"].read()
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), self._obj.size - self._pos)
        if size <= 0:
            return 0
        start, end = self._pos, self._pos + size
        if start >= self._tail_start:
            if self._tail is None:
                self._tail = self._get(self._tail_start, self._obj.size)
            chunk = self._tail[start - self._tail_start : end - self._tail_start]
        else:
            chunk = self._get(start, end)
        buffer[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)


def read_footer(s3: Any, bucket: str, obj: S3Object, prefetch: int) -> tuple[FileSchema, int]:
    """The schema and row count of one Parquet file, from its footer alone; also the bytes it took."""
    name = obj.key.rsplit("/", 1)[-1]
    if obj.size < 12:  # "PAR1" + footer length + "PAR1" at the very least
        raise TableError(f"{name} is not a Parquet file: {obj.size} bytes")
    reader = RangeReader(s3, bucket, obj, prefetch)
    try:
        metadata = pq.ParquetFile(reader).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TableError(f"{name} is not a readable Parquet file: {exc}") from exc
    schema = metadata.schema
    columns = []
    for index in range(len(schema)):
        column = ParquetColumn.from_arrow(schema.column(index))
        try:
            columns.append((column.name, athena_type(column)))
        except UnsupportedType as exc:
            raise UnsupportedType(f"{name}: {exc}") from exc
    arrow_schema = metadata.schema.to_arrow_schema()
    samples: dict[str, tuple[str, ...]] = {}
    invalid: list[str] = []
    for f in arrow_schema:
        if is_text(f.type):
            values, not_utf8 = statistics_samples(metadata, f.name)
            samples[f.name] = tuple(values)
            if not_utf8:
                invalid.append(f.name)
    try:
        summary = column_summary(metadata)
    except (pa.ArrowException, ValueError, TypeError):  # a statistic pyarrow cannot read: no fingerprint, no failure
        summary = ()
    groups = tuple(
        (group.num_rows, group.total_byte_size)
        for group in (metadata.row_group(i) for i in range(metadata.num_row_groups))
    )
    schema = FileSchema(
        obj.key, tuple(columns), metadata.num_rows, arrow_schema, samples, tuple(invalid), summary, groups
    )
    return schema, reader.bytes_read


# Physical types whose raw statistics (bytes) do not order as their values (a FIXED_LEN_BYTE_ARRAY decimal is signed,
# INT96 a legacy timestamp): their columns take part in a fingerprint by the row count only.
_UNORDERED_RAW = frozenset({"FIXED_LEN_BYTE_ARRAY", "INT96"})


def column_summary(metadata: pq.FileMetaData) -> tuple[tuple[str, int | None, Any, Any], ...]:
    """(column, null count, min, max) of every column over all row groups, from the footer statistics: the raw
    physical values (byte arrays need not be UTF-8, and pyarrow extracts no typed min/max for some logical types),
    (column, None, None, None) where a row group does not state them."""
    out = []
    for index in range(metadata.num_columns):
        name = metadata.schema.column(index).path
        nulls: int | None = 0
        low = high = None
        complete = metadata.num_row_groups > 0
        for group in range(metadata.num_row_groups):
            rows = metadata.row_group(group).num_rows
            stats = metadata.row_group(group).column(index).statistics
            if stats is None or not stats.has_null_count:
                complete = complete and rows == 0
                continue
            nulls = (nulls or 0) + stats.null_count
            if not stats.has_min_max:
                complete = complete and stats.null_count == rows  # an all-NULL row group states no min or max
                continue
            if stats.physical_type in _UNORDERED_RAW:
                complete = False  # their raw bytes do not sort as the writer compared them: no merged min/max
                continue
            lo, hi = stats.min_raw, stats.max_raw  # physical values: typed min/max are not extracted for every type
            low = lo if low is None or lo < low else low
            high = hi if high is None or hi > high else high
        out.append((name, nulls, low, high) if complete else (name, None, None, None))
    return tuple(out)
