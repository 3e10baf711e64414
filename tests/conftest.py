"""Shared fixtures: one embedded AWS emulator per test session, reset between tests; the session's private
PostgreSQL server for the tests that ask for `pg_server`."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from local.emulator.aws_emulator import Emulator, fake_aws_environment
from local.postgres.pg_server import PostgresServer, start_postgres
from tests.glue.conftest import SorWorld
from tests.prerequisites import postgres_bindir_or_skip

REGION = "sa-east-1"


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_environment() -> Iterator[None]:
    """No test may reach a real account: fake credentials, fixed Region, no shared config files."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(fake_aws_environment(base=saved, region=REGION))
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def emulator_session(_fake_aws_environment: None) -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_session: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """A clean emulator for one test; AWS_ENDPOINT_URL points every boto3 client (and the job) at it."""
    emulator_session.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_session.endpoint_url)
    yield emulator_session
    emulator_session.clear()


@pytest.fixture
def aws(emulator: Emulator) -> boto3.Session:
    return boto3.Session(region_name=REGION)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server, started on first use (about 2 s) and shared by the session, stopped and deleted
    at its end. Without PostgreSQL binaries the test skips and says why, except under CI=true, where a missing
    server is a failure: CI on this machine kind must run these tests."""
    with start_postgres(postgres_bindir_or_skip()) as server:
        yield server


@pytest.fixture
def world(aws: boto3.Session, emulator: Emulator) -> SorWorld:
    """The Glue job's world (tests/glue/conftest.py SorWorld), for the job, fault and bad-input tests alike."""
    return SorWorld(aws, emulator)
