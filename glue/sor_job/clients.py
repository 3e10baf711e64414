"""The job's AWS clients, built once per run with the retry configuration every call shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from sor_job.config import JobConfig


@dataclass
class JobClients:
    """The boto3 clients of the job's driver (Spark tasks make their own: task_s3_client)."""

    s3: Any
    glue: Any
    cloudwatch: Any


def boto_config(pool: int) -> Config:
    """botocore's own retries (adaptive mode backs off on S3 SlowDown and 5xx), for the job's and the tasks' clients."""
    return Config(
        retries={"mode": "adaptive", "max_attempts": 10},
        max_pool_connections=pool,
        connect_timeout=10,
        read_timeout=300,  # a CopyObject of a large file answers only when the copy is done
    )


def make_job_clients(config: JobConfig) -> JobClients:
    """The job's clients, with botocore's own retries (adaptive mode backs off on S3 SlowDown and 5xx)."""
    # the copies, the footer reads (as many as copies) and each table's own calls, plus a few for the run's
    pool = config.copy_concurrency * 2 + config.table_concurrency + 8
    session = boto3.session.Session()
    return JobClients(
        s3=session.client("s3", config=boto_config(pool)),
        glue=session.client("glue", config=boto_config(pool)),
        cloudwatch=session.client("cloudwatch", config=boto_config(pool)),
    )
