"""Pins that must live in two files (sam build reads functions/requirements.txt) stay in step with pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _lambda_extra() -> dict[str, Requirement]:
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lambda"]
    return {Requirement(line).name: Requirement(line) for line in extra}


def _bundled() -> dict[str, Requirement]:
    lines = (ROOT / "functions" / "requirements.txt").read_text().splitlines()
    requirements = [Requirement(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name: r for r in requirements}


def test_lambda_bundle_requirements_match_the_lambda_extra() -> None:
    bundled, extra = _bundled(), _lambda_extra()
    assert bundled, "functions/requirements.txt bundles nothing"
    for name, requirement in bundled.items():
        assert name in extra, f"{name} is bundled but not pinned in pyproject's lambda extra"
        assert str(requirement.specifier) == str(extra[name].specifier), (requirement, extra[name])
        assert str(requirement.specifier).startswith("=="), f"{requirement} is not an exact pin"


def test_the_powertools_that_runs_is_the_one_tested() -> None:
    # Bundled by `sam build` at the pinned release, instead of a public layer whose version number counts
    # publications and maps to no release offline. The tracer extra brings aws-xray-sdk, which Tracer imports.
    bundled, extra = _bundled(), _lambda_extra()
    powertools = bundled.get("aws-lambda-powertools")
    assert powertools is not None, "Powertools must be bundled with the functions"
    assert "tracer" in powertools.extras
    assert powertools.specifier == extra["aws-lambda-powertools"].specifier
