"""The house rules a reader relies on, as tests: no module outside tests/ over 800 lines (one sitting), and the one
script Glue runs is exactly what local/build/job_bundle.py makes of glue/sor_job/ today."""

from __future__ import annotations

from pathlib import Path

from local.build import job_bundle

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 800
CODE_FOLDERS = ("functions", "glue", "local", "ops")
GENERATED = {ROOT / "glue" / "dist" / "sor_job.py"}  # the bundle: the package's modules, each within the rule


def long_modules(root: Path = ROOT) -> dict[str, int]:
    """Module -> its line count, for every module of the code folders over MAX_LINES (generated files aside)."""
    found = {}
    for folder in CODE_FOLDERS:
        for path in sorted((root / folder).rglob("*.py")):
            if path in GENERATED or ".venv" in path.parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_LINES:
                found[str(path.relative_to(root))] = lines
    return found


def test_no_module_outside_tests_is_over_800_lines() -> None:
    assert long_modules() == {}, "split the module by reason to change (README 'Repository layout')"


def test_the_size_rule_sees_a_long_module(tmp_path: Path) -> None:
    (tmp_path / "ops").mkdir()
    (tmp_path / "ops" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "ops" / "short.py").write_text("x = 1\n" * MAX_LINES)
    assert long_modules(tmp_path) == {"ops/long.py": MAX_LINES + 1}


def test_the_committed_job_script_is_a_fresh_build_of_the_package() -> None:
    fresh = job_bundle.render(job_bundle.package_sources())
    assert job_bundle.BUNDLE.read_text(encoding="utf-8") == fresh, "glue/dist/sor_job.py is stale: run `make bundle`"


def test_the_staleness_check_sees_an_edited_module(tmp_path: Path) -> None:
    package = tmp_path / "sor_job"
    package.mkdir()
    for path in job_bundle.PACKAGE.glob("*.py"):
        (package / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    before = job_bundle.render(job_bundle.package_sources(package))
    names = package / "names.py"
    names.write_text(names.read_text(encoding="utf-8") + "\n# an edit\n", encoding="utf-8")
    after = job_bundle.render(job_bundle.package_sources(package))
    assert before != after
    assert job_bundle.sources_digest(job_bundle.package_sources(package)) in after
