"""`make bench` machinery: the latency model, the counting, the baseline, the report, at the smallest size.

No timing assertions: only structure and invariants (the same keys published by the job and the baseline,
footer-only reads of big files, requests counted at the server, the model's delays applied).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from local.bench.bench import (
    DEFAULT_COPY_CONCURRENCY,
    EXPORT_BUCKET,
    BenchConfig,
    BenchError,
    BenchWorld,
    Counted,
    Export,
    Measurement,
    RewriteConfig,
    Shape,
    count,
    handler_modules,
    import_times,
    measure_job,
    parse_args,
    rewrite_requests,
    run_bench,
    run_rewrite_bench,
    same_publication,
)
from local.bench.bench_report import (
    console_report,
    markdown_report,
    result_json,
)
from local.bench.latency import LatencyHook, LatencyModel, copied_bytes, copy_source, latency
from local.emulator.aws_emulator import Emulator, Request
from tests.prerequisites import spark_python_or_skip


def request(operation: str, service: str = "s3", path: str = "/b/k", **headers: str) -> Request:
    return Request(service, operation, "GET", path, {}, dict(headers))


# -- latency model --------------------------------------------------------------------------------------
def test_delay_is_per_request_plus_copy_cost() -> None:
    model = LatencyModel(request_ms=10, copy_ms=5, copy_mib_per_s=2)
    assert model.delay("GetObject", 999) == pytest.approx(0.010)
    assert model.delay("CopyObject", 0) == pytest.approx(0.015)
    assert model.delay("UploadPartCopy", 4 * 2**20) == pytest.approx(0.015 + 2.0)


@pytest.mark.parametrize(
    "kwargs", [{"request_ms": -1}, {"copy_ms": -0.5}, {"copy_mib_per_s": 0}, {"copy_mib_per_s": -3}]
)
def test_model_rejects_impossible_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LatencyModel(**kwargs)


def test_copied_bytes_from_range_or_source_size() -> None:
    sizes = {("src", "a/b c.parquet"): 1234}

    def size_of(bucket: str, key: str) -> int | None:
        return sizes.get((bucket, key))

    part = request("UploadPartCopy", **{"x-amz-copy-source": "src/x", "x-amz-copy-source-range": "bytes=10-19"})
    assert copied_bytes(part, size_of) == 10
    whole = request("CopyObject", **{"x-amz-copy-source": "/src/a/b%20c.parquet?versionId=3"})
    assert copy_source(whole.headers) == ("src", "a/b c.parquet")
    assert copied_bytes(whole, size_of) == 1234
    assert copied_bytes(request("CopyObject", **{"x-amz-copy-source": "src/unknown"}), size_of) == 0
    assert copied_bytes(request("GetObject"), size_of) == 0


def test_hook_totals_delays_and_spares_the_control_api() -> None:
    hook = LatencyHook(LatencyModel(request_ms=1, copy_ms=1, copy_mib_per_s=100), lambda bucket, key: 2**20)
    hook(request("GetObject"))
    hook(request("CopyObject", **{"x-amz-copy-source": "b/k"}))
    hook(request("reset", service="moto-api"))
    assert hook.requests == 2
    assert hook.seconds == pytest.approx(0.001 + 0.002 + 0.01)


def test_latency_applies_only_inside_the_block(emulator: Emulator) -> None:
    hook = LatencyHook(LatencyModel(request_ms=0, copy_ms=0))
    with latency(emulator, hook):
        assert hook in emulator.hooks
    assert hook not in emulator.hooks


# -- shapes, counting, comparison ------------------------------------------------------------------------
def test_shape_parsing() -> None:
    assert Shape.parse("300x20") == Shape(300, 20)
    assert Shape.parse("4x2x8") == Shape(4, 2, 8)
    assert Shape.parse("4x2x8").label == "4x2 of 8 MiB"
    for bad in ("10", "0x5", "3x0", "axb", "1x2x3x4"):
        with pytest.raises(ValueError, match="TABLESxFILES"):
            Shape.parse(bad)


def test_command_line_validation() -> None:
    config, _ = parse_args(["--sizes", "3x2", "--concurrency", "2,32", "--request-ms", "7"])
    assert config.sizes == (Shape(3, 2),)
    assert config.concurrency == (2, 32)
    assert config.model.request_ms == 7
    assert parse_args(["--full"])[0].sizes[-1] == Shape(300, 20)
    for bad in (["--big", "2x2"], ["--sizes", "2x2x8"], ["--concurrency", "0"], ["--copy-mib-per-s", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)


def test_count_separates_services_and_data_reads() -> None:
    data = request("GetObject", path=f"/{EXPORT_BUCKET}/exports/x/shop/public.t/1/part-0.gz.parquet")
    data.response_bytes = 100
    meta = request("GetObject", path=f"/{EXPORT_BUCKET}/exports/x/export_info_x.json")
    meta.response_bytes = 7
    counted = count(
        [data, meta, request("CreateTable", service="glue"), request("PutMetricData", service="monitoring"),
         request("reset", service="moto-api")],
        EXPORT_BUCKET,
        frozenset({"exports/x/shop/public.t/1/part-0.gz.parquet"}),
    )  # fmt: skip
    assert counted.s3 == {"GetObject": 2}
    assert counted.glue == {"CreateTable": 1}
    assert counted.other == {"monitoring:PutMetricData": 1}
    assert (counted.data_gets, counted.data_bytes_read, counted.requests) == (1, 100, 4)


def _measurement(keys: set[str], files: int = 2) -> Measurement:
    return Measurement(
        "job", Shape(1, files), 32, 1.0, 1.0, 1, files, 10, Counted({}, {}, {}, 0, 0), 0.0, frozenset(keys)
    )


def test_publications_must_match() -> None:
    same_publication(_measurement({"t/a", "t/b"}), _measurement({"t/a", "t/b"}))
    with pytest.raises(BenchError, match="different keys"):
        same_publication(_measurement({"t/a", "t/b"}), _measurement({"t/a", "t/c"}))
    with pytest.raises(BenchError, match="files/bytes"):
        same_publication(_measurement({"t/a"}, files=1), _measurement({"t/a"}, files=2))


# -- handler imports --------------------------------------------------------------------------------------
def test_handler_modules_come_from_the_template(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text("A:\n  Properties:\n    Handler: start_export.handler\nB:\n  Handler: 'x.y.main'\n")
    assert handler_modules(template) == ["start_export", "x.y"]
    assert handler_modules(tmp_path / "missing.yaml") == []


def test_missing_handler_module_is_skipped_with_a_message() -> None:
    [result] = import_times(["no_such_handler_module"], repeats=1)
    assert result.median_ms is None
    assert "does not exist yet" in result.note


# -- the whole bench at the smallest size -------------------------------------------------------------------
def test_a_failing_job_is_an_error(emulator: Emulator) -> None:
    world = BenchWorld(emulator)
    missing = Export(Shape(1, 1), f"s3://{EXPORT_BUCKET}/exports/nothing-here/", "exports/nothing-here/", {})
    with pytest.raises(BenchError, match="the job failed"):
        measure_job(world, missing, LatencyHook(LatencyModel(request_ms=0, copy_ms=0)), 4)


def test_bench_at_the_smallest_size(emulator: Emulator, tmp_path: Path) -> None:
    config = BenchConfig(
        sizes=(Shape(2, 3),),
        concurrency=(2, DEFAULT_COPY_CONCURRENCY),
        big=Shape(2, 1, 6),
        model=LatencyModel(request_ms=2, copy_ms=1, copy_mib_per_s=1024),
        import_repeats=1,
        peer_sizes=(Shape(2, 2),),
        peer_copy_ms=(0.0, 5.0),
    )
    result = run_bench(emulator, config, "python -m local.bench.bench --test", log=lambda _: None)

    # the copy path against the AWS CLI's copy: the same keys (checked by measure_peers), the CLI one CopyObject a file
    assert [(p.shape, p.copy_ms) for p in result.peers] == [("2x2", 0.0), ("2x2", 5.0)]
    for peer in result.peers:
        assert peer.cli_requests == 4 + 1  # one listing, one CopyObject per file, no HeadObject
        assert peer.job_requests > peer.cli_requests
        # per file: footer GET, copy, half a listing (2 files a table); per run a few: export listing and metadata,
        # the day's record folder, its marker, manifest and run-history row
        assert 0 < peer.job_s3_per_file * 4 <= 4 * 2.5 + 10
        assert peer.cli_seconds > 0
        assert peer.job_seconds > 0

    [(job, baseline)] = result.growth
    assert job.keys == baseline.keys
    assert len(job.keys) == job.files == baseline.files == 6
    assert job.tables == baseline.tables == 2
    assert job.bytes_published == baseline.bytes_published > 0
    assert job.counted.requests > 0
    assert job.latency_seconds > 0
    assert baseline.latency_seconds > 0
    assert job.counted.s3["CopyObject"] == baseline.counted.s3["CopyObject"] == 6
    assert job.counted.data_gets == baseline.counted.data_gets == 6
    assert baseline.read_per_published == pytest.approx(1.0)
    for m in (job, baseline):
        assert m.counted.glue["CreateTable"] == m.counted.glue["CreatePartition"] == 2

    assert [m.copy_concurrency for m in result.sweep] == [2, DEFAULT_COPY_CONCURRENCY]
    assert result.sweep[1] is job  # the default setting is the growth run, not a second one
    assert result.sweep[0].keys == job.keys

    assert result.big is not None
    big_job, big_baseline = result.big
    assert big_job.keys == big_baseline.keys
    assert big_job.read_per_published < 0.05  # footers only
    assert big_baseline.read_per_published == pytest.approx(1.0)
    assert big_job.counted.data_gets == big_job.files  # one suffix-range GET per file
    assert big_job.counted.s3["UploadPartCopy"] >= 2 * big_job.files  # the multipart path, > 5 MiB in 5 MiB parts
    assert "CopyObject" not in big_job.counted.s3

    assert [i.module for i in result.imports] == handler_modules()
    assert all(i.median_ms is not None or i.note.startswith("skipped") for i in result.imports)

    text = console_report(result)
    assert "baseline / job" in text
    assert "2x3" in text
    markdown = markdown_report(result)
    assert "python -m local.bench.bench --test" in markdown
    assert "## What it means for a real account" in markdown
    assert result_json(result)["growth"][0]["job"]["keys"] == 6


# -- the typed rewrite against its peers (wiring, not speed) ---------------------------------------------------------
def test_rewrite_options() -> None:
    config, _ = parse_args(["--rewrite-files", "3", "--rewrite-rows", "500", "--memory-mb", "5,9"])
    assert config.rewrite == RewriteConfig(files=3, rows=500, row_group_rows=500, memory_mb=(5, 9))
    assert parse_args(["--no-rewrite"])[0].rewrite is None
    assert parse_args(["--full"])[0].rewrite.memory_mb == (250, 1100)  # type: ignore[union-attr]
    with pytest.raises(SystemExit):
        parse_args(["--memory-mb", "x"])


def test_local_s3_serves_what_rewrite_unit_asks(tmp_path: Path) -> None:
    from local.bench.bench_rewrite import LocalS3

    s3 = LocalS3(tmp_path)
    s3.put_object(Bucket="b", Key="k/a", Body=b"0123456789", Metadata={"m": "1"})
    head = s3.head_object(Bucket="b", Key="k/a")
    assert (head["ContentLength"], head["Metadata"]) == (10, {"m": "1"})
    assert s3.get_object(Bucket="b", Key="k/a", Range="bytes=2-4", IfMatch=head["ETag"])["Body"].read() == b"234"
    with pytest.raises(ValueError, match="PreconditionFailed"):
        s3.get_object(Bucket="b", Key="k/a", Range="bytes=0-1", IfMatch='"other"')
    assert s3.list_objects_v2(Bucket="b", Prefix="k/a", MaxKeys=1)["Contents"][0]["Key"] == "k/a"
    assert s3.list_objects_v2(Bucket="b", Prefix="k/missing")["Contents"] == []
    s3.create_multipart_upload(Bucket="b", Key="k/m", Metadata={"x": "y"})
    s3.upload_part(Bucket="b", Key="k/m", UploadId="local", PartNumber=1, Body=b"ab")
    assert s3.list_objects_v2(Bucket="b", Prefix="k/m")["Contents"] == []  # nothing at the key before completion
    s3.upload_part(Bucket="b", Key="k/m", UploadId="local", PartNumber=2, Body=b"cd")
    s3.complete_multipart_upload(Bucket="b", Key="k/m", UploadId="local", MultipartUpload={})
    assert (tmp_path / "b" / "k" / "m").read_bytes() == b"abcd"
    assert s3.head_object(Bucket="b", Key="k/m")["Metadata"] == {"x": "y"}


def test_the_rewrite_peers_run_on_the_same_files_and_agree() -> None:
    """Every peer (the job in-process and under Spark local[1], plain Spark, the codec floor) at a tiny size: the same
    row counts, the job's restored values equal plain Spark's, the job's transform restored the typed columns."""
    spark_python_or_skip()
    report = run_rewrite_bench(
        RewriteConfig(
            files=2,
            rows=3000,
            row_group_rows=1000,
            repeats=1,
            masters=("local[1]",),
            memory_mb=(1,),
            memory_row_group_rows=2000,
        ),
        log=lambda _: None,
    )
    assert {(r["peer"], r["cores"]) for r in report["runs"]} == {
        ("job", 1),
        ("arrow", 1),
        ("spark", 1),
        ("job-spark", 1),
    }
    assert all(r["rows"] == 6000 and r["output_bytes"] > 0 for r in report["runs"])
    assert report["comparison"]["equal"]
    assert report["comparison"]["compared_columns"] == ["id", "ordered_on", "created_at", "updated_at", "amount"]
    assert report["comparison"]["rows"] == {"source": 6000, "job": 6000, "spark": 6000, "arrow": 6000}
    [memory] = report["memory"]
    assert memory["file_bytes"] >= 10**6
    assert memory["vm_hwm_mib"] >= memory["vm_hwm_before_mib"] > 0


def test_rewrite_requests_against_the_emulator(emulator: Emulator) -> None:
    world = BenchWorld(emulator)
    counts = rewrite_requests(world, rows=2000)
    assert counts["first"]["s3"]["GetObject"] >= 2  # the footer, then the row groups
    assert counts["first"]["source_bytes_read"] >= counts["source_bytes"]
    assert counts["first"]["s3"].get("PutObject", 0) + counts["first"]["s3"].get("CompleteMultipartUpload", 0) == 1
    assert not counts["first"]["skipped"]
    assert counts["rerun"]["skipped"]
    assert counts["rerun"]["source_bytes_read"] == 0
    assert "PutObject" not in counts["rerun"]["s3"]
