"""Fault-injection fixtures: the Glue job's world (tests/glue) and the Lambdas' pipeline (tests/functions).

The fixtures are reused, not copied, so a fault test runs against exactly what the component tests run against.
"""

from __future__ import annotations

import boto3
import pytest

from local.aws_emulator import Emulator
from tests.functions.conftest import context, env, pipeline  # noqa: F401 - fixtures shared with tests/functions
from tests.glue.conftest import SorWorld


@pytest.fixture
def world(aws: boto3.Session, emulator: Emulator) -> SorWorld:
    return SorWorld(aws, emulator)
