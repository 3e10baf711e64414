"""The session's private PostgreSQL server, shared by every test that needs a real database.

Use it with `from tests.pg_server import pg_server  # noqa: F401` in the test module (the name must be
imported so pytest finds the fixture). The server starts once per session (about 2 s) and is stopped and
deleted at the end. Without PostgreSQL binaries the tests skip and say why, except under CI=true, where
a missing server is a failure: CI on this machine kind must run them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from local.pg_server import PostgresNotFound, PostgresServer, find_bindir, start_postgres
from tests.prerequisites import skip_or_fail_in_ci


def postgres_bindir_or_skip(find: Callable[[], Path] = find_bindir) -> Path:
    """The server binaries' folder; pytest.skip without them, pytest.fail instead when CI=true."""
    try:
        return find()
    except PostgresNotFound as error:
        message = f"PostgreSQL 15 binaries (initdb, pg_ctl) not found: {error}"
        skip_or_fail_in_ci(message)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    with start_postgres(postgres_bindir_or_skip()) as server:
        yield server
