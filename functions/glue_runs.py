"""Glue job runs of the SOR job: which are active for a day, and starting one with the contract's arguments.

JobRunState values (botocore glue service-2.json): STARTING, RUNNING, STOPPING, STOPPED, SUCCEEDED, FAILED,
TIMEOUT, ERROR, WAITING, EXPIRED. A run in STARTING/RUNNING/WAITING/STOPPING still holds the day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from config import Config

ACTIVE_STATES = frozenset({"STARTING", "RUNNING", "WAITING", "STOPPING"})


@dataclass(frozen=True)
class JobRun:
    run_id: str
    state: str  # upper case
    arguments: dict[str, str]
    # Attempt counts Glue's own retries of a run (the job's MaxRetries); 0 is a run someone started. A retry also
    # names the run it retries in PreviousRunId, but so does a run started with StartJobRun's JobRunId, so
    # Attempt alone decides (botocore glue service-2.json, JobRun).
    attempt: int = 0

    @property
    def is_glue_retry(self) -> bool:
        return self.attempt > 0


def job_arguments(config: Config, export_uri: str, ingestion_date: dt.date, source_engine: str) -> dict[str, str]:
    """The Glue job's command line (docs/contracts.md "Glue job"); `source_engine` is sources.source_engine's."""
    return {
        "--export_uri": export_uri,
        "--ingestion_date": ingestion_date.isoformat(),
        "--sor_bucket": config.sor_bucket,
        "--catalog_database": config.catalog_database,
        "--source_engine": source_engine,
    }


def job_runs(glue: Any, job_name: str) -> Iterator[JobRun]:
    for page in glue.get_paginator("get_job_runs").paginate(JobName=job_name):
        for raw in page.get("JobRuns", []):
            yield JobRun(
                run_id=str(raw.get("Id", "")),
                state=str(raw.get("JobRunState", "")).upper(),
                arguments={str(k): str(v) for k, v in (raw.get("Arguments") or {}).items()},
                attempt=int(raw.get("Attempt") or 0),
            )


def runs_for_day(glue: Any, job_name: str, ingestion_date: dt.date) -> list[JobRun]:
    day = ingestion_date.isoformat()
    return [run for run in job_runs(glue, job_name) if run.arguments.get("--ingestion_date") == day]


def start_job_run(glue: Any, job_name: str, arguments: dict[str, str]) -> str:
    return str(glue.start_job_run(JobName=job_name, Arguments=arguments)["JobRunId"])
