"""Layout (local/export_emulator/layout.py): folders, part-file names and layouts, partition indexes, skipped,
failed and empty tables, the Parquet encoding and row groups of part files, as docs/aws-facts.md "The export in S3"
describes them; every check parses the rendered bytes back.
"""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal
from typing import Any

import pyarrow.parquet as pq
import pytest

from local.export_emulator.layout import default_partition_indexes, path_name, skip_reason, table_folder
from tests.export_emulator.reading import (
    ROOT,
    STRING,
    UUID,
    column_types,
    export_info,
    parts_of,
    read_folder,
    render,
    row_groups,
    tables_info,
)
from tests.exports import (
    MY,
    PG,
    make_large_table,
    make_table,
    mysql_sample_tables,
    pg_sample_tables,
    render_sample_export,
)


# -- folders, layouts, partition indexes ------------------------------------------------------------------------
def test_batched_layout_names_and_rows() -> None:
    rows = [(n, f"v{n}") for n in range(20)]
    table = make_table("t", {"id": "bigint", "v": "text"}, rows, batches=2, files_per_batch=3)
    objects = render([table])
    keys = parts_of(objects, "shop/public.t")
    pattern = re.compile(rf"^{ROOT}shop/public\.t/([12])/part-(\d{{5}})-{UUID}\.gz\.parquet$")
    found = sorted((m.group(1), m.group(2)) for m in map(pattern.match, keys) if m)
    assert len(found) == len(keys) == 6
    # partition indexes start at 00000 and have a gap (AWS: empty ranges write no file)
    assert found == [(b, i) for b in ("1", "2") for i in ("00000", "00001", "00003")]
    assert f"{ROOT}shop/public.t/1/_SUCCESS" in objects
    assert f"{ROOT}shop/public.t/2/_SUCCESS" in objects
    assert read_folder(objects, "shop/public.t").to_pylist() == [{"id": n, "v": f"v{n}"} for n in range(20)]


def test_explicit_partition_indexes_and_empty_ranges_write_no_file() -> None:
    table = make_table("t", {"id": "bigint"}, [(1,), (2,)], files_per_batch=4, partition_indexes=(0, 2, 5, 9))
    keys = parts_of(render([table]), "shop/public.t")
    assert [re.search(r"part-(\d{5})", k).group(1) for k in keys] == ["00000", "00002"]  # 2 rows: 2 files


def test_flat_layout_is_the_old_naming_in_the_table_folder() -> None:
    table = make_table("t", {"id": "bigint"}, [(n,) for n in range(5)], layout="flat", files_per_batch=2)
    objects = render([table])
    keys = parts_of(objects, "shop/public.t")
    pattern = re.compile(rf"^{ROOT}shop/public\.t/part-0000[01]-{UUID}-c000\.gz\.parquet$")
    assert len(keys) == 2
    assert all(pattern.match(k) for k in keys)
    assert f"{ROOT}shop/public.t/_SUCCESS" in objects
    assert sorted(r["id"] for r in read_folder(objects, "shop/public.t").to_pylist()) == list(range(5))


def test_cluster_layout_uses_alphanumeric_partition_folders() -> None:
    table = make_table("t", {"id": "bigint"}, [(n,) for n in range(9)], layout="cluster", batches=3)
    keys = parts_of(render([table]), "shop/public.t")
    assert [k.split("/")[-2] for k in keys] == ["1", "a", "b"]


def test_default_partition_indexes_have_gaps() -> None:
    assert default_partition_indexes(5) == (0, 1, 3, 4, 6)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"layout": "weird"}, "layout"),
        ({"batches": 0}, ">= 1"),
        ({"files_per_batch": 2, "partition_indexes": (0, 0)}, "distinct"),
        ({"files_per_batch": 2, "partition_indexes": (0,)}, "distinct"),
    ],
)
def test_bad_layout_options_are_refused(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render([make_table("t", {"id": "bigint"}, [(1,)], **options)])


def test_mysql_folder_repeats_the_database_and_target_has_no_schema() -> None:
    objects = render([make_table("Orders", {"id": "bigint"}, [(1,)], database="shop", schema=None)], MY)
    assert parts_of(objects, "shop/shop.Orders")
    assert [s["target"] for s in tables_info(objects)] == ["shop.Orders"]


def test_postgresql_table_needs_a_schema() -> None:
    with pytest.raises(ValueError, match="schema"):
        table_folder(PG, make_table("t", {"id": "bigint"}, schema=None))


def test_path_characters_become_underscores() -> None:
    assert path_name('a b`c"d\\e') == "a_b_c_d_e"
    table = make_table('My "Table"', {"id": "bigint"}, [(1,)], database="my db", schema="Sales Dept")
    objects = render([table])
    assert parts_of(objects, "my_db/Sales_Dept.My__Table_")
    # the target keeps the real names: it names the source, not the path
    assert tables_info(objects)[0]["target"] == 'my db.Sales Dept.My "Table"'


def test_non_ascii_names_are_kept_in_the_path() -> None:
    objects = render([make_table("Clientes-ÇÃO", {"id": "integer"}, [(1,)], schema="inventário")])
    assert parts_of(objects, "shop/inventário.Clientes-ÇÃO")


def test_two_tables_in_the_same_folder_are_refused() -> None:
    tables = [make_table("a b", {"id": "bigint"}, [(1,)]), make_table("a_b", {"id": "bigint"}, [(1,)])]
    with pytest.raises(ValueError, match="both land in folder"):
        render(tables)


# -- skipped tables ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("column", ["a,b", "a;b", "a{b", "a}b", "a(b", "a)b", "a\nb", "a\tb", "a=b", "a b"])
def test_tables_with_unsupported_column_names_are_skipped(column: str) -> None:
    kept = make_table("kept", {"id": "bigint"}, [(1,)])
    bad = make_table("bad", {"id": "bigint", column: "text"}, [(1, "x")])
    objects = render([kept, bad])
    assert not [k for k in objects if "/public.bad/" in k]
    assert [s["target"] for s in tables_info(objects)] == ["shop.public.kept"]
    warning = json.loads(export_info(objects)["warningMessage"])
    assert warning == {
        "skippedTables": [{"target": "shop.public.bad", "reason": "UNSUPPORTED_CHARACTERS_IN_COLUMN_NAME"}],
        "skippedObjectives": [],
        "general": [],
    }


def test_table_names_with_a_slash_and_unlogged_tables_are_skipped() -> None:
    assert skip_reason(PG, make_table("a/b", {"id": "bigint"})) == "TABLE_NAME_CONTAINS_SLASH"
    assert skip_reason(PG, make_table("t", {"id": "bigint"}, persistence="unlogged")) == "UNLOGGED_TABLE"
    assert skip_reason(PG, make_table("t", {"id": "bigint"}, persistence="temporary")) == "TEMPORARY_TABLE"
    assert skip_reason(PG, make_table("t", {"Odd-Name_ç$": "bigint"})) is None
    objects = render([make_table("a/b", {"id": "bigint"}, [(1,)])])
    assert not [k for k in objects if k.endswith(".parquet")]
    assert json.loads(export_info(objects)["warningMessage"])["skippedTables"][0]["target"] == "shop.public.a/b"


def test_no_warning_message_when_nothing_is_skipped() -> None:
    assert "warningMessage" not in export_info(render([make_table("t", {"id": "bigint"}, [(1,)])]))


# -- failed and empty tables ------------------------------------------------------------------------------------
def test_failed_table_is_listed_and_writes_no_data_by_default() -> None:
    ok = make_table("ok", {"id": "bigint"}, [(1,)])
    failed = make_table("broken", {"id": "bigint"}, [(n,) for n in range(6)], files_per_batch=3, status="FAILED")
    objects = render([ok, failed])
    assert not [k for k in objects if "/public.broken/" in k]
    statuses = {s["target"]: s for s in tables_info(objects)}
    assert statuses["shop.public.broken"]["status"] == "FAILED"
    assert statuses["shop.public.broken"]["tableStatistics"]["partitioningInfo"] == {
        "numberOfPartitions": 3,
        "numberOfCompletedPartitions": 0,
    }
    assert statuses["shop.public.ok"]["status"] == "COMPLETE"


def test_failed_table_can_leave_partial_data_without_success_markers() -> None:
    failed = make_table(
        "broken", {"id": "bigint"}, [(n,) for n in range(6)], files_per_batch=3, status="FAILED", failed_files_written=1
    )
    objects = render([failed])
    assert len(parts_of(objects, "shop/public.broken")) == 1
    assert not [k for k in objects if k.endswith("_SUCCESS")]
    (status,) = tables_info(objects)
    assert status["tableStatistics"]["partitioningInfo"]["numberOfCompletedPartitions"] == 1


def test_empty_table_writes_one_schema_only_part_file_by_default() -> None:
    objects = render([make_table("e", {"id": "bigint", "n": "numeric(5,2)"}, [])])
    (key,) = parts_of(objects, "shop/public.e")
    assert key.startswith(f"{ROOT}shop/public.e/1/part-00000-")
    parquet = pq.ParquetFile(io.BytesIO(objects[key]))
    assert parquet.metadata.num_rows == 0
    assert column_types(objects[key]) == {"id": ("INT64", "NONE"), "n": STRING}


@pytest.mark.parametrize("layout", ["batched", "flat", "cluster"])
def test_empty_table_can_write_no_file_at_all(layout: str) -> None:
    table = make_table("e", {"id": "bigint"}, [], layout=layout)
    objects = render([table], empty_table_part_file=False)
    assert not parts_of(objects, "shop/public.e")
    assert [s["target"] for s in tables_info(objects)] == ["shop.public.e"]  # still listed as exported
    table.empty_part_file = True  # per-table override wins over the export-wide flag
    assert len(parts_of(render([table], empty_table_part_file=False), "shop/public.e")) == 1


# -- Parquet file properties ------------------------------------------------------------------------------------
def test_every_column_chunk_is_gzip_and_there_is_no_arrow_schema_blob() -> None:
    objects = render_sample_export()
    for key in (k for k in objects if k.endswith(".parquet")):
        metadata = pq.ParquetFile(io.BytesIO(objects[key])).metadata
        for group in range(metadata.num_row_groups):
            row_group = metadata.row_group(group)
            assert {row_group.column(c).compression for c in range(row_group.num_columns)} == {"GZIP"}
        assert b"ARROW:schema" not in (metadata.metadata or {})


def test_large_table_files_are_at_least_the_requested_size() -> None:
    minimum = 5 * 2**20 + 1
    table = make_large_table("big", minimum, files_per_batch=2)
    objects = render([table])
    sizes = [len(objects[k]) for k in parts_of(objects, "shop/public.big")]
    assert len(sizes) == 2
    assert min(sizes) >= minimum
    assert make_large_table("big", 1000, seed=3).rows == make_large_table("big", 1000, seed=3).rows


# -- row groups -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("engine", "folder"), [(PG, "shop/public.order_lines"), (PG, "shop/public.all_types"), (MY, "shop/shop.customers")]
)
def test_sample_part_files_hold_several_row_groups_by_default(engine: str, folder: str) -> None:
    tables = pg_sample_tables() if engine == PG else mysql_sample_tables()
    objects = render(tables, engine)
    groups = [row_groups(objects[k]) for k in parts_of(objects, folder)]
    assert max(len(g) for g in groups) >= 2, groups
    table = read_folder(objects, folder)
    assert table.num_rows == sum(sum(g) for g in groups)


def test_row_group_rows_sets_the_row_group_size_and_keeps_the_rows_in_order() -> None:
    table = make_table("t", {"id": "bigint", "v": "numeric(5,2)"}, [(n, Decimal(n)) for n in range(10)])
    objects = render([table], row_group_rows=4)
    (key,) = parts_of(objects, "shop/public.t")
    assert row_groups(objects[key]) == [4, 4, 2]
    reader = pq.ParquetFile(io.BytesIO(objects[key]))
    streamed = [reader.read_row_group(i).column("id").to_pylist() for i in range(reader.num_row_groups)]
    assert streamed == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    (whole,) = parts_of(render([table], row_group_rows=100), "shop/public.t")
    assert row_groups(render([table], row_group_rows=100)[whole]) == [10]
    with pytest.raises(ValueError, match="row_group_rows"):
        render([table], row_group_rows=0)
