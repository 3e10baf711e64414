"""Fixtures of the template tests: parse and translate once per session, evaluate per parameter set."""

from __future__ import annotations

from typing import Any

import pytest

from ops.stack import CLUSTER, Stack, load_raw, translate


@pytest.fixture(scope="session")
def raw_template() -> dict[str, Any]:
    return load_raw()


@pytest.fixture(scope="session")
def translated(raw_template: dict[str, Any], _fake_aws_environment: None) -> dict[str, Any]:
    # The translator reads the Region from the environment, which the root conftest fixes to sa-east-1.
    return translate(raw_template)


@pytest.fixture(scope="session")
def stack(translated: dict[str, Any]) -> Stack:
    """The stack with every default: it creates its own SOR bucket."""
    return Stack(translated, {"ClusterIdentifier": CLUSTER})


@pytest.fixture(scope="session")
def stack_existing_sor(translated: dict[str, Any]) -> Stack:
    """The stack pointed at an existing SOR bucket."""
    return Stack(translated, {"ClusterIdentifier": CLUSTER, "ExistingSorBucketName": "existing-sor-bucket"})


@pytest.fixture(params=["new-sor-bucket", "existing-sor-bucket"], scope="session")
def either_stack(request: pytest.FixtureRequest, stack: Stack, stack_existing_sor: Stack) -> Stack:
    return stack if request.param == "new-sor-bucket" else stack_existing_sor
