"""Every environment the set-up creates holds exactly what its committed lock pins, nothing more, nothing less.

The locks: uv.lock (one resolution per pyproject extra: .venv <- dev, .venv-glue5 <- glue5-runtime, .venv-spark <-
spark, .venv-checkov <- checkov) and functions/requirements.txt (the lambda extra exported from uv.lock, which
`sam build` installs into each function's package). A release upstream must never change what a fresh clone gets:
these tests read what is installed (each distribution's own metadata) and compare it with the lock, so an install
that bypassed the lock, or a lock edited without re-exporting, fails `make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from collections.abc import Iterator, Mapping
from email.parser import HeaderParser
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.prerequisites import skip_or_fail_in_ci

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "uv.lock"
LAMBDA_LOCK = ROOT / "functions" / "requirements.txt"
UV = ROOT / ".venv" / "bin" / "uv"
SAM_BUILD = ROOT / ".aws-sam" / "build"

# virtualenv -> the pyproject extra it is synced from (Makefile, uv_sync).
ENVIRONMENTS = {".venv": "dev", ".venv-glue5": "glue5-runtime", ".venv-spark": "spark", ".venv-checkov": "checkov"}
# What a lock does not hold: the installer a venv may keep (the rule: "except pip itself").
NOT_LOCKED = {"pip"}

# The marker environment of the functions' runtime (template.yaml Globals: python3.13, arm64, Amazon Linux).
LAMBDA_MARKERS = {
    **default_environment(),
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "python_version": "3.13",
    "python_full_version": "3.13.0",
    "implementation_version": "3.13.0",
}

# Runs inside a venv: the marker environment (packaging's default_environment, which the venv may not have) and
# every installed distribution's name and version, read from its own metadata.
_INSPECT = """
import importlib.metadata as m, json, os, platform, sys
v = sys.implementation.version
iver = f"{v.major}.{v.minor}.{v.micro}" + (f"{v.releaselevel[0]}{v.serial}" if v.releaselevel != "final" else "")
env = {
    "implementation_name": sys.implementation.name, "implementation_version": iver, "os_name": os.name,
    "platform_machine": platform.machine(), "platform_release": platform.release(),
    "platform_system": platform.system(), "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]), "sys_platform": sys.platform,
}
print(json.dumps({"markers": env, "installed": sorted((d.metadata["Name"], d.version) for d in m.distributions())}))
"""


def _pins(requirements_txt: str, markers: Mapping[str, str]) -> dict[str, str]:
    """name -> version of a requirements file in uv export's form (one `name==version ; marker` a requirement,
    hashes and comments on their own lines), for the requirements whose marker holds in `markers`."""
    pins: dict[str, str] = {}
    for raw in requirements_txt.splitlines():
        line = raw.strip().removesuffix("\\").strip()
        if not line or line.startswith(("#", "--")):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate(dict(markers)):
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{line}: a lock pins one exact version"
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def _exported(*options: str) -> str:
    if not UV.exists():
        skip_or_fail_in_ci(f"{UV} not found: `make venv` installs uv from uv.lock")
    result = subprocess.run(
        [str(UV), "export", "--frozen", "--quiet", "--format", "requirements-txt", *options],
        cwd=ROOT,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def _locked_packages() -> set[tuple[str, str]]:
    return {(canonicalize_name(p["name"]), p["version"]) for p in tomllib.loads(LOCK.read_text())["package"]}


def _inspect(venv: Path) -> tuple[dict[str, str], dict[str, str]]:
    python = venv / "bin" / "python"
    if not python.exists():
        skip_or_fail_in_ci(f"{venv.name} not found: `make test` creates it from uv.lock")
    found = json.loads(subprocess.run([str(python), "-c", _INSPECT], capture_output=True, text=True, check=True).stdout)
    installed = {canonicalize_name(name): version for name, version in found["installed"]}
    return found["markers"], installed


@pytest.mark.parametrize(("venv", "extra"), sorted(ENVIRONMENTS.items()))
def test_every_virtualenv_holds_exactly_its_lock(venv: str, extra: str) -> None:
    markers, installed = _inspect(ROOT / venv)
    locked = _locked_packages()
    unlocked = sorted(f"{n}=={v}" for n, v in installed.items() if n not in NOT_LOCKED and (n, v) not in locked)
    assert not unlocked, f"{venv} holds distributions uv.lock does not pin: {unlocked}"
    expected = _pins(_exported("--no-hashes", "--extra", extra), markers)
    actual = {n: v for n, v in installed.items() if n not in NOT_LOCKED}
    assert actual == expected, (
        f"{venv} differs from uv.lock's {extra} extra: extra {sorted(set(actual.items()) - set(expected.items()))}, "
        f"missing {sorted(set(expected.items()) - set(actual.items()))}; run `make {venv.removeprefix('.')}`"
    )


def _requirement_blocks(text: str) -> list[str]:
    """A requirements file cut into one block per requirement: its line and the indented lines that follow."""
    blocks: list[str] = []
    for line in text.splitlines():
        if line.startswith(" ") and blocks:
            blocks[-1] += "\n" + line
        elif line and not line.startswith("#"):
            blocks.append(line)
    return blocks


def _without_header(text: str) -> list[str]:
    # The header names the command that wrote the file, which differs between `make lock` and this test.
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_the_lambda_lock_is_the_lambda_extra_of_uv_lock() -> None:
    """functions/requirements.txt is an export, never edited by hand: `make lock` writes both files together."""
    committed, exported = LAMBDA_LOCK.read_text(), _exported("--extra", "lambda")
    stale = "functions/requirements.txt is stale: run `make lock`"
    assert _without_header(committed) == _without_header(exported), stale


def test_the_lambda_lock_pins_every_distribution_with_hashes() -> None:
    text = LAMBDA_LOCK.read_text()
    pins = _pins(text, LAMBDA_MARKERS)
    blocks = _requirement_blocks(text)
    assert len(blocks) == len(pins), "a requirement whose marker excludes the Lambda runtime is in the lock"
    unhashed = [block.split()[0] for block in blocks if "--hash=sha256:" not in block]
    assert not unhashed, f"requirements without a hash: {unhashed}"
    assert set(pins.items()) <= _locked_packages()


def test_the_lambda_lock_bundles_powertools_with_its_tracer_and_the_pinned_top_level() -> None:
    # Bundled by `sam build` at the pinned release, instead of a public layer whose version number counts
    # publications and maps to no release offline. The tracer extra brings aws-xray-sdk, which Tracer imports.
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["lambda"]
    top_level = {canonicalize_name(Requirement(line).name): Requirement(line) for line in extra}
    pins = _pins(LAMBDA_LOCK.read_text(), LAMBDA_MARKERS)
    for name, requirement in top_level.items():
        assert requirement.specifier.contains(pins[name]), (requirement, pins[name])
    assert "tracer" in top_level["aws-lambda-powertools"].extras
    assert "aws-xray-sdk" in pins


def _function_packages() -> Iterator[Path]:
    built = sorted(p for p in SAM_BUILD.iterdir() if (p / "requirements.txt").exists()) if SAM_BUILD.exists() else []
    if not built:
        skip_or_fail_in_ci(
            f"no function package under {SAM_BUILD}: `make build` runs sam build (it is skipped on a machine "
            "without a python3.13 interpreter)"
        )
    yield from built


def _wheel_metadata(dist_info: Path) -> tuple[str, str, list[str], bool]:
    metadata = HeaderParser().parsestr((dist_info / "METADATA").read_text(errors="replace"))
    wheel = HeaderParser().parsestr((dist_info / "WHEEL").read_text())
    purelib = wheel["Root-Is-Purelib"].strip().lower() == "true"
    return canonicalize_name(metadata["Name"]), metadata["Version"], wheel.get_all("Tag") or [], purelib


def test_sam_build_installs_exactly_the_lambda_lock_for_python313_arm64() -> None:
    expected = _pins(LAMBDA_LOCK.read_text(), LAMBDA_MARKERS)
    for package in _function_packages():
        installed: dict[str, str] = {}
        for dist_info in sorted(package.glob("*.dist-info")):
            name, version, tags, purelib = _wheel_metadata(dist_info)
            installed[name] = version
            if not purelib:
                # A compiled wheel must be the runtime's: CPython 3.13 (or the stable ABI) on Linux arm64.
                assert any("aarch64" in tag and ("cp313" in tag or "abi3" in tag) for tag in tags), (package, tags)
        assert installed == expected, (
            f"{package.name} differs from functions/requirements.txt: extra "
            f"{sorted(set(installed.items()) - set(expected.items()))}, "
            f"missing {sorted(set(expected.items()) - set(installed.items()))}"
        )
