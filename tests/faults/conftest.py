"""Fault-injection fixtures: the Lambdas' pipeline (tests/functions); the job's `world` is tests/conftest.py's.

The fixtures are reused, not copied, so a fault test runs against exactly what the component tests run against.
"""

from __future__ import annotations

from tests.functions.conftest import context, env, pipeline  # noqa: F401 - fixtures shared with tests/functions
