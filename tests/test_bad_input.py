"""Bad-input cases of docs/reliability.md that no component test covered end to end.

Each runs the real thing (the Glue job as a subprocess, the Lambda handler) against the emulator and checks both
the outcome and that nothing already published moved.
"""

from __future__ import annotations

import datetime as dt
import io

import aws_clients
import pyarrow.parquet as pq
import pytest
import start_export

from local.export_emulator.conversion import exported_table
from tests.exports import PG, make_table
from tests.faults.scenario import day_snapshot
from tests.functions.conftest import FakeContext, Pipeline, context, env, pipeline  # noqa: F401 - fixtures
from tests.glue.conftest import DATABASE, DAY, SorWorld

EARLIER = "2026-11-25"


@pytest.mark.glue_job
def test_a_truncated_parquet_file_fails_its_table_by_name_and_leaves_earlier_days_alone(world: SorWorld) -> None:
    def day_tables(day: str) -> list:
        return [
            make_table("orders", {"id": "bigint"}, [(1,), (2,)], files_per_batch=2),
            make_table("fine", {"id": "bigint", "day": "text"}, [(1, day)]),
        ]

    assert world.run(world.export(day_tables(EARLIER), export_id=f"aurora-sor-shop-{EARLIER}"), EARLIER).code == 0
    earlier = day_snapshot(world, EARLIER)
    whole = io.BytesIO()
    pq.write_table(exported_table(PG, make_table("orders", {"id": "bigint"}, [(3,)] * 500)), whole, compression="gzip")
    cut = whole.getvalue()[: len(whole.getvalue()) // 2]  # a valid file cut in half: no footer, no end magic
    uri = world.export(
        day_tables(DAY),
        export_id=f"aurora-sor-shop-{DAY}",
        extra_objects={"shop/public.orders/2/part-00000-cut.gz.parquet": cut},
    )

    run = world.run(uri)

    assert run.code == 1
    [failure] = run.summary["failed_tables"]
    assert failure["name"] == "public_orders"
    assert "part-00000-cut.gz.parquet is not a readable Parquet file" in failure["error"]
    # The failed table still counts the footers it read before the cut file (tiny files are read whole).
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    listed = world.s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    readable = [o["Size"] for o in listed if o["Key"].endswith(".parquet") and not o["Key"].endswith("-cut.gz.parquet")]
    assert run.summary["footer_bytes_read"] == sum(readable)
    assert world.query(f"SELECT day FROM {DATABASE}.public_fine ORDER BY ingestion_date") == [(EARLIER,), (DAY,)]
    assert world.query(f"SELECT count(*) FROM {DATABASE}.public_orders") == [(2,)]  # the earlier day only
    assert day_snapshot(world, EARLIER) == earlier


ODD = [
    # (schema, table) -> catalog name: dots, hyphens, spaces (the export writes "_"), upper case, non-ASCII
    (("public", "orders.v2"), "public_orders_v2"),
    (("public", "order-items"), "public_order_items"),
    (("public", "Order Lines"), "public_order_lines"),
    (("Vendas", "Clientes-ÇÃO"), "vendas_clientes_cao"),
]


@pytest.mark.glue_job
def test_odd_table_names_publish_end_to_end_under_their_documented_names(world: SorWorld) -> None:
    tables = [
        make_table(name, {"id": "bigint", "Label": "text"}, [(i, name) for i in range(n + 1)], schema=schema)
        for n, ((schema, name), _) in enumerate(ODD)
    ]
    run = world.run(world.export(tables, export_id=f"aurora-sor-shop-{DAY}"))

    assert run.code == 0, run.stderr[-3000:]
    for n, ((_schema, name), catalog_name) in enumerate(ODD):
        table = world.glue.get_table(DatabaseName=DATABASE, Name=catalog_name)["Table"]
        source = table["Parameters"]["sor.source"]
        assert source.startswith("shop."), source
        assert [c["Name"] for c in table["StorageDescriptor"]["Columns"]] == ["id", "label"]  # lower-cased
        rows = world.query(f"SELECT label, count(*) FROM {DATABASE}.{catalog_name} GROUP BY label")
        assert rows == [(name, n + 1)], catalog_name


def test_a_backfill_date_in_the_future_is_refused_and_exports_nothing(
    pipeline: Pipeline,  # noqa: F811 - the fixture imported above
    context: FakeContext,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aws_clients, "_shared", pipeline.clients)
    tomorrow = (dt.datetime.now(pipeline.config.schedule_timezone) + dt.timedelta(days=1)).date()
    pipeline.emulator.clear()

    # A refusal, not an error: the reason is the answer, and the Errors alarm keeps meaning "the code broke".
    result = start_export.handler({"ingestion_date": tomorrow.isoformat()}, context)
    assert result["status"] == "refused"
    assert "in the future" in result["reason"]
    assert pipeline.alerts() == []

    assert pipeline.emulator.calls("rds") == []
    assert pipeline.tasks() == []
