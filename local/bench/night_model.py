"""What `make bench`'s figures mean for a real account: list prices, and one night modelled from the measured request
mix and rewrite rate (`estimate`, `rewrite_estimate`). Pure; local/bench/bench_report.py prints it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from local.bench.bench import DEFAULT_COPY_CONCURRENCY
from local.bench.latency import LatencyModel
from sor_job.config import JobConfig

MIB = 2**20


# ==================================================================================================
# What it means for a real account
# ==================================================================================================
# Prices (USD, list prices; sa-east-1 is dearer than us-east-1 for most services, not verified here):
GLUE_STANDARD_PER_DPU_HOUR = 0.44  # docs/aws-facts.md "Glue"; https://aws.amazon.com/glue/pricing/
# Flex: $0.29 per DPU-hour (us-east-1 list price on https://aws.amazon.com/glue/pricing/, as announced with
# Flex in https://aws.amazon.com/blogs/big-data/introducing-aws-glue-flex-jobs-cost-savings-on-etl-workloads/).
GLUE_FLEX_PER_DPU_HOUR = 0.29
GLUE_MINIMUM_SECONDS = 60  # billed per second with a 1-minute minimum (Glue 2.0 and later; same pricing page)
EXPORT_PER_GB = (0.010, 0.013)  # docs/aws-facts.md "StartExportTask": per GB of snapshot size, by Region
S3_COPY_PER_1000 = 0.005  # PUT/COPY/POST/LIST requests, S3 Standard, us-east-1 (https://aws.amazon.com/s3/pricing/)
S3_GET_PER_1000 = 0.0004
EXPORT_FILE_BYTES = 20 * 10**9  # docs/aws-facts.md "The export in S3": files are "usually ~20 GB"
LARGEST_FILE_BYTES = 200 * 10**9  # the same: up to ~200 GB with Aurora MySQL's faster export
JOB_WORKERS_DPU = 2  # template.yaml defaults: G.1X (1 DPU each) x 2 workers, the glueetl minimum


@dataclass(frozen=True)
class Estimate:
    total_bytes: int
    tables: int
    files: int
    parts: int
    copy_concurrency: int
    copy_mib_per_s: float
    seconds: float
    glue_standard_usd: float
    glue_flex_usd: float
    export_usd: tuple[float, float]
    s3_requests_usd: float
    baseline_hours: float


def estimate(
    model: LatencyModel,
    total_bytes: int = 2 * 10**12,
    tables: int = 500,
    copy_concurrency: int = DEFAULT_COPY_CONCURRENCY,
    chunk_bytes: int = 512 * MIB,
    threshold_bytes: int = 1024 * MIB,
    non_copy_requests_per_file: float = 2.0,
    glue_calls_per_table: float = 2.0,
    table_concurrency: int = JobConfig.table_concurrency,
) -> Estimate:
    """A model of one night on a real account, from the same latency model and the measured request mix.

    Assumed layout: the bulk of the bytes in files of ~20 GB (multipart copies of `chunk_bytes` parts), plus one
    small file for every table (so `tables + total/20GB` files). The copy is bound by `copy_concurrency`
    requests in flight at `copy_mib_per_s` each; every other request costs `request_ms` spread over the same
    concurrency; catalog calls over `table_concurrency`. S3 request-rate limits (3,500 COPY/s per prefix) are
    far away at these rates and ignored.
    """
    big_files = math.ceil(total_bytes / EXPORT_FILE_BYTES)
    files = tables + big_files
    per_big = EXPORT_FILE_BYTES if threshold_bytes < EXPORT_FILE_BYTES else 0
    parts = big_files * math.ceil(per_big / chunk_bytes) if per_big else big_files
    copy_seconds = (
        total_bytes / (copy_concurrency * model.copy_mib_per_s * MIB)
        + parts * (model.copy_ms / 1000) / copy_concurrency
    )
    request_seconds = (files * non_copy_requests_per_file + parts) * (model.request_ms / 1000) / copy_concurrency
    catalog_seconds = tables * glue_calls_per_table * (model.request_ms / 1000) / table_concurrency
    seconds = copy_seconds + request_seconds + catalog_seconds
    billed_hours = max(seconds, GLUE_MINIMUM_SECONDS) / 3600
    gb = total_bytes / 10**9
    copy_requests = parts + tables + 2 * big_files  # parts + small CopyObjects + Create/Complete per multipart
    s3_usd = copy_requests / 1000 * S3_COPY_PER_1000 + files * non_copy_requests_per_file / 1000 * S3_GET_PER_1000
    # The baseline on the same account: every byte copied by one request at a time, and read once through the
    # client (at the same per-request rate, an optimistic assumption for a single GET stream).
    baseline_hours = 2 * total_bytes / (model.copy_mib_per_s * MIB) / 3600
    return Estimate(
        total_bytes, tables, files, parts, copy_concurrency, model.copy_mib_per_s, seconds,
        JOB_WORKERS_DPU * billed_hours * GLUE_STANDARD_PER_DPU_HOUR,
        JOB_WORKERS_DPU * billed_hours * GLUE_FLEX_PER_DPU_HOUR,
        (gb * EXPORT_PER_GB[0], gb * EXPORT_PER_GB[1]), s3_usd, baseline_hours,
    )  # fmt: skip


# ==================================================================================================
# The typed SOR on a real account
# ==================================================================================================
# The real-account model of the rewrite. Sources: G.1X is 1 DPU = 4 vCPUs and 16 GB
# (https://docs.aws.amazon.com/glue/latest/dg/worker-types.html), one executor per worker (the CDK's WorkerType
# documentation, https://docs.aws.amazon.com/cdk/api/v2/docs/@aws-cdk_aws-glue-alpha.WorkerType.html). That the
# driver takes one whole worker is the usual Glue layout but not stated on those pages: modelled so (fewer cores).
GLUE_WORKER_VCPUS = 4
REWRITE_WORKERS = (2, 10, 20)
# Share of the export's bytes in tables with at least one restorable column. A PostgreSQL OLTP schema puts a
# created_at/updated_at timestamp(tz) or a numeric amount on nearly every table of size; the tables without one are
# mostly small (lookup and join tables), so most bytes need the rewrite and a minority keeps the server-side copy.
REWRITE_SHARE = 0.8
# Local disk vs S3: a task reads a row group's column chunks with ranged GETs (pre_buffer) and uploads 64 MiB parts
# synchronously, so waiting for S3 adds to the CPU time; at a few MB/s of CPU per core against tens of MB/s per S3
# stream it costs on the order of a quarter. An assumption, to replace with the first real night's figures.
S3_DERATING = 0.75


@dataclass(frozen=True)
class RewriteNight:
    workers: int
    cores: int
    rewrite_bytes: int
    units: int
    waves: int
    unit_seconds: float
    rewrite_seconds: float
    copy_seconds: float
    seconds: float
    glue_standard_usd: float
    glue_flex_usd: float
    whole_file_seconds: float  # the largest file alone when a unit was a whole file (before units were cut)


def rewrite_estimate(
    per_core_mb_s: float,
    workers: int,
    model: LatencyModel,
    total_bytes: int = 2 * 10**12,
    tables: int = 500,
    share: float = REWRITE_SHARE,
    derating: float = S3_DERATING,
    unit_bytes: int = JobConfig.rewrite_unit_bytes,
    largest_file_bytes: int = LARGEST_FILE_BYTES,
) -> RewriteNight:
    """One night of the typed SOR on a real account: `share` of the bytes rewritten by Spark tasks of `unit_bytes`
    units (runs of row groups, rewrite.py cut_file; a 200 GB file among them is 12,000 units like any other bytes),
    the rest copied server-side as `estimate` models it, one after the other. The rewrite takes ceil(units / cores)
    waves of one unit's time; `whole_file_seconds` is what the largest file alone took when a unit was a file."""
    if workers < 2:
        raise ValueError("a glueetl job has at least 2 workers")
    cores = (workers - 1) * GLUE_WORKER_VCPUS
    rate = per_core_mb_s * 10**6 * derating
    rewrite_bytes = int(total_bytes * share)
    units = math.ceil(rewrite_bytes / unit_bytes)
    unit_seconds = min(unit_bytes, rewrite_bytes) / rate
    waves = math.ceil(units / cores)
    rewrite_seconds = waves * unit_seconds
    copied = estimate(model, total_bytes=total_bytes - rewrite_bytes, tables=max(1, round(tables * (1 - share))))
    seconds = rewrite_seconds + copied.seconds
    dpu_hours = workers * max(seconds, GLUE_MINIMUM_SECONDS) / 3600
    return RewriteNight(
        workers, cores, rewrite_bytes, units, waves, unit_seconds, rewrite_seconds, copied.seconds, seconds,
        dpu_hours * GLUE_STANDARD_PER_DPU_HOUR, dpu_hours * GLUE_FLEX_PER_DPU_HOUR,
        min(largest_file_bytes, rewrite_bytes) / rate,
    )  # fmt: skip
