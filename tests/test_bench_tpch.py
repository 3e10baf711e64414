"""`make bench`'s typed-path comparison (local/bench/bench_tpch.py) at a small size: the job and the peer publish every
row, the job's re-runs are byte-identical, and the report renders. The figures themselves come from `make bench`."""

from __future__ import annotations

import json
from pathlib import Path

from local.bench.bench import spark_venv_report
from local.bench.bench_report import tpch_markdown
from tests.prerequisites import run_in_spark_venv, spark_python_or_skip

# In the Spark venv: the generator draws with numpy, which the dev environment does not carry (pyarrow needs none).
LINEITEM_CHECK = r"""
import json, sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from local.bench import tpch
folder = Path(sys.argv[1])
(one,) = tpch.write_lineitem(folder / "one", 1, rows=25_000, row_group_rows=10_000)
eight = tpch.write_lineitem(folder / "eight", 8, rows=25_000, row_group_rows=10_000)
whole = pq.read_table(one)
print(json.dumps({
    "rows": whole.num_rows, "row_groups": pq.read_metadata(one).num_row_groups,
    "same_rows": pa.concat_tables(pq.read_table(p) for p in eight).equals(whole),
    "types": {f.name: str(f.type) for f in whole.schema}, "first": whole.slice(0, 1).to_pylist()[0],
}))
"""


def test_lineitem_is_written_as_the_export_writes_postgresql_text(tmp_path: Path) -> None:
    done = run_in_spark_venv(LINEITEM_CHECK, str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    written = json.loads(done.stdout.strip().splitlines()[-1])
    assert (written["rows"], written["row_groups"]) == (25_000, 3)
    assert written["same_rows"]  # the same rows whatever the layout
    assert written["types"] == {
        "l_orderkey": "int64", "l_partkey": "int32", "l_suppkey": "int32", "l_linenumber": "int32",
        **dict.fromkeys(["l_quantity", "l_extendedprice", "l_discount", "l_tax", "l_returnflag", "l_linestatus",
                         "l_shipdate", "l_commitdate", "l_receiptdate", "l_shipinstruct", "l_shipmode",
                         "l_comment"], "string"),
    }  # fmt: skip
    row = written["first"]
    assert row["l_quantity"].endswith(".00")  # numeric(15,2) as PostgreSQL prints it
    assert len(row["l_shipinstruct"]) == 25  # character(25), blank-padded
    assert row["l_shipdate"][4] == "-"
    assert row["l_receiptdate"] > row["l_shipdate"]  # received 1-30 days after shipping (ISO text orders)


def test_the_tpch_comparison_at_a_small_size() -> None:
    spark_python_or_skip()
    report = spark_venv_report(
        "local.bench.bench_tpch", ["--repeats", "2", "--rows", "40000", "--masters", "local[2]"], ("tpch:",),
        lambda _: None,
    )  # fmt: skip
    (child,) = report["masters"]
    assert child["master"] == "local[2]"
    runs = {(r["peer"], r["files"]): r for r in child["runs"]}
    assert set(runs) == {("peer", 8), ("job", 8), ("job", 1)}
    assert all(r["rows"] == 40_000 for r in runs.values())
    assert runs["job", 8]["byte_identical_reruns"]
    assert runs["job", 1]["byte_identical_reruns"]
    assert runs["job", 8]["units"] == 8
    assert set(report["profile"]) == {"job", "peer"}
    text = "\n".join(tpch_markdown(report))
    assert "| local[2] |" in text
    assert "### Where one file's time goes" in text
