"""What the tables of one run share (RunContext)."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sor_job.clients import JobClients
from sor_job.column_types import FileSchema
from sor_job.config import JobConfig
from sor_job.copy_day import Copier


@dataclass
class RunContext:
    """What the tables of one run share: arguments, clients, copier, the catalog as the run found it, the count of
    tables done (for the log lines), each table's footer reads and the partitions' parents (sor_job/partitioned.py)."""

    config: JobConfig
    clients: JobClients
    copier: Copier
    catalog: dict[str, dict[str, Any]]
    snapshot_time: str | None
    progress_lock: threading.Lock = field(default_factory=threading.Lock)
    done: int = 0
    # each published table's footer reads by source, submitted before any table is (partitioned.py needs them all)
    footer_reads: Mapping[str, Sequence[Future[tuple[FileSchema, int]]]] = field(default_factory=dict)
    partition_of: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # source -> (parent source, name)
    latest: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # the latest database as the run found it
    # No run of this day ever started before this one (run.first_run_of_the_day): the day's folders are empty, so a
    # copied table is listed once, after its copies, not also before (publish_table.copy_partition).
    first_run_of_the_day: bool = False
