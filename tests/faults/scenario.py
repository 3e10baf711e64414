"""A small two-day SOR for the Glue fault tests, and what "exactly a clean run" means for it.

EARLIER is published first and must come out of every fault byte-for-byte untouched; DAY is the day under
fault. The reference is what a clean, fault-free run of EARLIER then DAY leaves behind. The exports are
deterministic (local/export_emulator/ renders the same bytes for the same tables and seed), so the reference is
computed once per session, in a fresh emulator, and every test compares its own outcome with it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.emulator.aws_emulator import Fault, Request, wait_for
from local.export_emulator.source import SourceTable
from sor_job.catalog_definitions import as_table_input
from tests.exports import EXPORT_BUCKET, make_large_table, make_table, shop_export_id
from tests.glue.conftest import DATABASE, DAY, SOR_BUCKET, LocalRunWithManifest, SorWorld

EARLIER = "2026-11-25"
# 6 MiB files against a 5 MiB threshold: the blobs table takes the multipart UploadPartCopy path (2 parts).
MULTIPART = ("--multipart_threshold_mb", "5", "--multipart_chunksize_mb", "5")
TABLES = ("public_blobs", "public_customers", "public_items", "public_orders", "public_payments")


def tables_for(day: str) -> list[SourceTable]:
    """Five small tables whose rows depend on the day (so the two days' files differ)."""
    n = int(day[-2:])
    return [
        make_table(
            "orders", {"id": "bigint", "note": "text"}, [(i, f"{day} #{i}") for i in range(n)], files_per_batch=2
        ),
        make_table("customers", {"id": "bigint", "name": "text"}, [(1, "Ana"), (2, "Bo"), (n, day)]),
        make_table("items", {"id": "bigint", "qty": "integer"}, [(i, i * n) for i in range(5)]),
        make_table("payments", {"id": "bigint", "paid": "boolean"}, [(i, i % 2 == 0) for i in range(4)]),
        make_large_table("blobs", 6 * 1024 * 1024, seed=n),
    ]


def write_day_export(world: SorWorld, day: str) -> str:
    return world.export(tables_for(day), export_id=shop_export_id(day))


def run_day(world: SorWorld, uri: str, day: str = DAY, *extra: str) -> LocalRunWithManifest:
    return world.run(uri, day, *MULTIPART, *extra)


def start_day(world: SorWorld, uri: str, day: str = DAY, *extra: str) -> subprocess.Popen[str]:
    return world.start(uri, day, *MULTIPART, *extra)


# -- what a run leaves behind ------------------------------------------------------------------------------
def exact_state(world: SorWorld, day: str) -> dict[str, Any]:
    """world.state() (keys, sizes, source ETags, catalog schema and partitions) plus a checksum of every body."""
    state = world.state((day,))
    state["sha256"] = {
        key: hashlib.sha256(world.s3.get_object(Bucket=SOR_BUCKET, Key=key)["Body"].read()).hexdigest()
        for key in state["objects"]
    }
    return state


def day_snapshot(world: SorWorld, day: str) -> dict[str, Any]:
    """Everything of one published day, as it must stay: objects (ETag, size, LastModified, bytes) and partitions.

    LastModified catches an object rewritten with the same bytes; the full GetPartition answer catches a
    partition replaced with the same values.
    """
    objects = {}
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET, Prefix=f"{DATABASE}/"):
        for item in page.get("Contents", []):
            if f"ingestion_date={day}/" in item["Key"]:
                body = world.s3.get_object(Bucket=SOR_BUCKET, Key=item["Key"])["Body"].read()
                digest = hashlib.sha256(body).hexdigest()
                objects[item["Key"]] = (item["ETag"], item["Size"], item["LastModified"], digest)
    partitions = {}
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        got = world.glue.get_partitions(DatabaseName=DATABASE, TableName=table["Name"])["Partitions"]
        partitions[table["Name"]] = [p for p in got if p["Values"] == [day]]
    assert objects, "the day has no objects"
    assert all(partitions.values()), "the day is not registered in every table"
    return {"objects": objects, "partitions": partitions}


def wipe(world: SorWorld) -> None:
    """Empties the SOR bucket and the catalog database (the exports stay)."""
    for page in world.s3.get_paginator("list_objects_v2").paginate(Bucket=SOR_BUCKET):
        for item in page.get("Contents", []):
            world.s3.delete_object(Bucket=SOR_BUCKET, Key=item["Key"])
    for upload in world.s3.list_multipart_uploads(Bucket=SOR_BUCKET).get("Uploads", []):
        world.s3.abort_multipart_upload(Bucket=SOR_BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        world.glue.delete_table(DatabaseName=DATABASE, Name=table["Name"])


_REFERENCE: dict[str, dict[str, Any]] = {}


@dataclass
class Scene:
    """DAY's export in place, EARLIER published (and snapshotted), the clean reference at hand."""

    world: SorWorld
    uri: str
    earlier_uri: str
    earlier: dict[str, Any] | None
    reference: dict[str, dict[str, Any]]

    def assert_converged(self) -> None:
        """The final state is exactly a clean run's, and the earlier day was not touched."""
        assert exact_state(self.world, DAY) == self.reference[DAY]
        if self.earlier is not None:
            assert day_snapshot(self.world, EARLIER) == self.earlier
        manifest = self.world.manifest()
        assert (manifest["status"], manifest["export_id"]) == ("SUCCEEDED", shop_export_id(DAY))
        assert [t["name"] for t in manifest["tables"] if t["status"] == "PUBLISHED"] == list(TABLES)


def scene(world: SorWorld, *, publish_earlier: bool = True) -> Scene:
    earlier_uri, uri = write_day_export(world, EARLIER), write_day_export(world, DAY)
    if not _REFERENCE:
        for day, day_uri in ((EARLIER, earlier_uri), (DAY, uri)):
            clean = run_day(world, day_uri, day)
            assert clean.code == 0, clean.stderr[-3000:]
        _REFERENCE.update({day: exact_state(world, day) for day in (EARLIER, DAY)})
        assert sorted(_REFERENCE[DAY]["catalog"]) == list(TABLES)
        wipe(world)
    earlier = None
    if publish_earlier:
        first = run_day(world, earlier_uri, EARLIER)
        assert first.code == 0, first.stderr[-3000:]
        earlier = day_snapshot(world, EARLIER)
    world.emulator.requests.clear()
    return Scene(world, uri, earlier_uri, earlier, dict(_REFERENCE))


def with_legacy_run_parameters(world: SorWorld) -> None:
    """Puts back the per-run table parameters earlier versions of the job kept on every table (the first night after
    an upgrade): the job cleans them with one UpdateTable per table, which is the only way to make a night whose
    schema did not change call UpdateTable at all."""
    for table in world.glue.get_tables(DatabaseName=DATABASE)["TableList"]:
        legacy = as_table_input(table)
        legacy["Parameters"] |= {
            "sor.last_export_id": shop_export_id(EARLIER),
            "sor.last_snapshot_time": "2026-11-25T06:05Z",
        }
        world.glue.update_table(DatabaseName=DATABASE, TableInput=legacy)
    world.emulator.requests.clear()


# -- faults --------------------------------------------------------------------------------------------------
def copy_into(table: str) -> Callable[[Request], bool]:
    """Copy requests (CopyObject, UploadPartCopy) writing into `table`'s folder for DAY."""
    return lambda r: (
        r.operation in {"CopyObject", "UploadPartCopy"}
        and r.bucket_key[0] == SOR_BUCKET
        and r.bucket_key[1].startswith(f"{DATABASE}/{table}/ingestion_date={DAY}/")
    )


def footer_read_of(folder: str) -> Callable[[Request], bool]:
    """Ranged GETs of the export's Parquet files of one table folder (e.g. "public.customers")."""
    return lambda r: (
        r.operation == "GetObject"
        and "range" in r.headers
        and r.bucket_key[0] == EXPORT_BUCKET
        and f"/{folder}/" in r.bucket_key[1]
        and r.bucket_key[1].endswith(".parquet")
    )


def one_call(operation: str, taken: list[str], skip: int = 0) -> Callable[[Request], bool]:
    """Every attempt (botocore retries included) of one logical call of `operation`: the (skip+1)-th one.

    botocore sends the same amz-sdk-invocation-id header on every retry of a call, so a fault keyed on it is
    persistent for that call (one table's CreatePartition, say) and leaves every other call alone. Glue's
    JSON bodies are not recorded by the emulator, so which table's call it is comes from the run's summary.
    """

    def match(request: Request) -> bool:
        if request.operation != operation:
            return False
        invocation = request.headers.get("amz-sdk-invocation-id", "")
        if invocation not in taken:
            taken.append(invocation)
        return taken.index(invocation) == skip

    return match


@dataclass
class Crash:
    """Holds the first request matching `match` until the test has SIGKILLed the job, then lets it go.

    With `lands=False` the held request never takes effect (a fault answers it, to a dead client): the job died
    before that write. With `lands=True` moto serves it after the kill: the job died just after that write.
    """

    world: SorWorld
    match: Callable[[Request], bool]
    lands: bool

    def __post_init__(self) -> None:
        self.gate, self.reached = threading.Event(), threading.Event()
        self.chosen: list[Request] = []
        self._lock = threading.Lock()

    def _choose(self, request: Request) -> bool:
        with self._lock:
            if not self.chosen and self.match(request):
                self.chosen.append(request)
            return bool(self.chosen) and self.chosen[0] is request

    def _hold(self, request: Request) -> None:
        if self._choose(request) if self.lands else any(request is r for r in self.chosen):
            self.reached.set()
            self.gate.wait(30)

    def kill_job_at_it(self, process: subprocess.Popen[str]) -> None:
        emulator = self.world.emulator
        if not self.lands:
            # The emulator picks faults before it runs hooks, so the fault makes the choice here.
            emulator.add_fault(Fault(self._choose, status=500, code="InternalError", times=1))
        emulator.hooks.append(self._hold)
        try:
            assert wait_for(self.reached.is_set, timeout=60), "the job never reached the crash point"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(30)
        finally:
            self.gate.set()
            emulator.hooks.remove(self._hold)
        assert process.returncode == -signal.SIGKILL
