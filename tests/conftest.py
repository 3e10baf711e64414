"""Shared fixtures: one embedded AWS emulator per test session, reset between tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import boto3
import pytest

from local.aws_emulator import Emulator

REGION = "sa-east-1"


@pytest.fixture(scope="session", autouse=True)
def _fake_aws_environment() -> Iterator[None]:
    """No test may reach a real account: fake credentials, fixed Region, no shared config files."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AWS_"):
            del os.environ[name]
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
    )
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
