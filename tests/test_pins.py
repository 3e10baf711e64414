"""Pins that must live in two files (sam build reads functions/requirements.txt) stay in step with pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lambda_bundle_requirements_match_the_lambda_extra():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lambda"]
    bundled = [
        line.strip()
        for line in (ROOT / "functions" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert bundled, "functions/requirements.txt bundles nothing"
    assert set(bundled) <= set(extra), f"{bundled} not pinned identically in pyproject's lambda extra {extra}"
