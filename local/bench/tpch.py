"""TPC-H `lineitem` as an RDS snapshot export of Aurora PostgreSQL writes it: the typed-path workload of `make bench`.

The rows follow the TPC-H specification's generation rules for LINEITEM (TPC-H 3.0.1, clause 4.2.3: key ranges,
quantity 1-50, discount 0.00-0.10, tax 0.00-0.08, the ship/commit/receipt date offsets from the order date, the
return flag and line status from CURRENTDATE 1995-06-17, the ship instruction and mode word lists), drawn with numpy
so that scale factor 1 (6,001,215 rows) is written in seconds instead of dbgen's row-by-row C; `l_comment` is random
words of the specification's grammar vocabulary, 10-43 characters. It is not dbgen's exact output (no DuckDB `tpch`
extension is fetched: it is not on a package registry), but the same shape: 16 columns, the same types and ranges.

As the export writes a PostgreSQL table (local/export_emulator/conversion.py): numeric(15,2) and date columns are
UTF-8 text as PostgreSQL prints them ("17.00", "1996-03-13"), char(n) blank-padded to n as PostgreSQL prints it,
integers int32/int64; gzip like RDS writes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

SF1_ROWS = 6_001_215  # LINEITEM rows at scale factor 1 (dbgen's count; TPC-H 3.0.1 clause 4.2.5.1)
START, CURRENT = dt.date(1992, 1, 1), dt.date(1995, 6, 17)  # STARTDATE and CURRENTDATE (clause 4.2.3)
ORDER_DAYS = (dt.date(1998, 12, 31) - START).days - 151  # o_orderdate in [STARTDATE, ENDDATE - 151 days]
INSTRUCTIONS = ("DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN")
MODES = ("REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB")
WORDS = (
    "furiously", "sly", "careful", "blithe", "quick", "fluffy", "slow", "quiet", "ruthless", "thin", "close",
    "dogged", "daring", "brave", "stealthy", "permanent", "enticing", "idle", "busy", "regular", "final", "ironic",
    "even", "bold", "silent", "packages", "requests", "accounts", "deposits", "foxes", "ideas", "theodolites",
    "pinto", "beans", "instructions", "dependencies", "excuses", "platelets", "asymptotes", "courts", "dolphins",
    "sleep", "wake", "are", "cajole", "haggle", "nag", "use", "boost", "affix", "detect", "integrate", "about",
    "above", "according", "to", "across", "after", "against", "along", "among", "around", "at", "of", "the",
)  # fmt: skip
# What originalTypeMappings of the export says of each column (information_schema words, as conversion.py writes).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("l_orderkey", "bigint"), ("l_partkey", "integer"), ("l_suppkey", "integer"), ("l_linenumber", "integer"),
    ("l_quantity", "numeric(15,2)"), ("l_extendedprice", "numeric(15,2)"), ("l_discount", "numeric(15,2)"),
    ("l_tax", "numeric(15,2)"), ("l_returnflag", "character(1)"), ("l_linestatus", "character(1)"),
    ("l_shipdate", "date"), ("l_commitdate", "date"), ("l_receiptdate", "date"), ("l_shipinstruct", "character(25)"),
    ("l_shipmode", "character(10)"), ("l_comment", "character varying(44)"),
)  # fmt: skip
SOURCE_WRITER: dict[str, Any] = {"compression": "gzip", "store_schema": False}


def _dates(days: np.ndarray) -> pa.Array:
    """Days since STARTDATE as PostgreSQL prints a date (ISO, DateStyle's default)."""
    epoch = (START - dt.date(1970, 1, 1)).days
    return pc.cast(pa.array((days + epoch).astype(np.int32), pa.date32()), pa.string())


def lineitem(first_row: int, rows: int, seed: int) -> pa.Table:
    """Rows [first_row, first_row + rows) of LINEITEM in export form, deterministic in (first_row, seed)."""
    rng = np.random.default_rng([seed, first_row])
    index = np.arange(first_row, first_row + rows, dtype=np.int64)
    # About 4 lines per order (1-7, clause 4.2.3): the order key grows with the row, sparse like dbgen's (8 of 32).
    orderkey = (index // 4) // 8 * 32 + (index // 4) % 8 + 1
    linenumber = (index % 4 + 1).astype(np.int32)
    partkey = rng.integers(1, 200_001, rows, dtype=np.int32)
    suppkey = ((partkey.astype(np.int64) + rng.integers(0, 4, rows) * 2_501) % 10_000 + 1).astype(np.int32)
    quantity = rng.integers(1, 51, rows)
    retail_cents = 90_000 + (partkey // 10) % 20_001 + 100 * (partkey % 1_000)  # p_retailprice in cents
    orderdate = rng.integers(0, ORDER_DAYS + 1, rows)
    shipdate = orderdate + rng.integers(1, 122, rows)
    commitdate = orderdate + rng.integers(30, 91, rows)
    receiptdate = shipdate + rng.integers(1, 31, rows)
    current = (CURRENT - START).days
    returned = np.where(rng.integers(0, 2, rows) == 0, "R", "A")
    words = np.array(WORDS)
    comment = pc.utf8_slice_codeunits(
        pc.binary_join_element_wise(*[pa.array(words[rng.integers(0, len(WORDS), rows)]) for _ in range(6)], " "),
        0,
        43,
    )
    return pa.table({
        "l_orderkey": pa.array(orderkey, pa.int64()),
        "l_partkey": pa.array(partkey),
        "l_suppkey": pa.array(suppkey),
        "l_linenumber": pa.array(linenumber),
        "l_quantity": _decimal_text(quantity * 100),
        "l_extendedprice": _decimal_text(quantity * retail_cents),
        "l_discount": _decimal_text(rng.integers(0, 11, rows)),
        "l_tax": _decimal_text(rng.integers(0, 9, rows)),
        "l_returnflag": pa.array(np.where(receiptdate <= current, returned, "N")),
        "l_linestatus": pa.array(np.where(shipdate > current, "O", "F")),
        "l_shipdate": _dates(shipdate),
        "l_commitdate": _dates(commitdate),
        "l_receiptdate": _dates(receiptdate),
        "l_shipinstruct": pc.utf8_rpad(pa.array(np.array(INSTRUCTIONS)[rng.integers(0, len(INSTRUCTIONS), rows)]), 25),
        "l_shipmode": pc.utf8_rpad(pa.array(np.array(MODES)[rng.integers(0, len(MODES), rows)]), 10),
        "l_comment": comment,
    })  # fmt: skip


def _decimal_text(cents: np.ndarray) -> pa.Array:
    """Hundredths as numeric(15,2) text, the way PostgreSQL prints it: always two decimals ("17.00", "0.04")."""
    whole = pc.cast(pa.array(cents // 100, pa.int64()), pa.string())
    hundredths = pc.utf8_lpad(pc.cast(pa.array(cents % 100, pa.int64()), pa.string()), 2, "0")
    return pc.binary_join_element_wise(whole, hundredths, ".")


def write_lineitem(folder: Path, files: int, rows: int = SF1_ROWS, row_group_rows: int = 250_000) -> list[Path]:
    """`rows` rows of LINEITEM in `files` export files (part-NNNNN-tpch.gz.parquet), row groups of `row_group_rows`;
    the same rows whatever `files` is (row groups are generated by global row position)."""
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [rows * i // files for i in range(files + 1)]
    paths = []
    for number in range(files):
        path = folder / f"part-{number:05d}-tpch.gz.parquet"
        first, stop = bounds[number], bounds[number + 1]
        writer: pq.ParquetWriter | None = None
        for block in range(first // row_group_rows * row_group_rows, stop, row_group_rows):
            low, high = max(first, block), min(stop, block + row_group_rows)
            chunk = lineitem(block, row_group_rows, seed=1).slice(low - block, high - low)
            if writer is None:
                writer = pq.ParquetWriter(path, chunk.schema, **SOURCE_WRITER)
            writer.write_table(chunk, row_group_size=chunk.num_rows)
        if writer is not None:
            writer.close()
        paths.append(path)
    return paths


def type_mappings(columns: Sequence[tuple[str, str]] = COLUMNS) -> list[dict[str, Any]]:
    """originalTypeMappings as the export writes them for these PostgreSQL columns."""
    from local.export_emulator.conversion import exported_type

    mappings = []
    for name, source_type in columns:
        rule = exported_type("aurora-postgresql", source_type)
        mappings.append({
            "columnName": name, "originalType": rule.original_type,
            "originalNumPrecision": rule.num_precision, "originalDateTimePrecision": rule.datetime_precision,
        })  # fmt: skip
    return mappings
