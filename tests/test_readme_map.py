"""README's "Where each step lives" names only things that exist: files, template resources and events, functions.

The table is where a newcomer looks first, so a rename that forgets it fails here rather than misleading them.
"""

from __future__ import annotations

import re
from pathlib import Path

from ops.stack import load_raw

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = (ROOT / "functions", ROOT / "glue", ROOT / "glue" / "sor_job")  # where a bare file name may live
CODE = [*sorted((ROOT / "functions").glob("*.py")), *sorted((ROOT / "glue" / "sor_job").glob("*.py"))]


def step_table() -> str:
    section = (ROOT / "README.md").read_text().split("### Where each step lives", 1)[1]
    return section.split("\n#", 1)[0]


def names_in_table() -> set[str]:
    names = set(re.findall(r"`([^`]+)`", step_table()))
    return {n for n in names if not n.startswith("...")}  # "the `...Alarm` resources" names a family


def template_names() -> set[str]:
    resources = load_raw()["Resources"]
    events = {e for r in resources.values() for e in r.get("Properties", {}).get("Events", {})}
    return set(resources) | events


def defined_names() -> set[str]:
    text = "\n".join(path.read_text() for path in CODE)
    return set(re.findall(r"^(?:def|class) (\w+)", text, flags=re.M))


def exists(name: str, resources: set[str], defined: set[str]) -> bool:
    if name.endswith((".py", "/")) or "/" in name:
        return any((base / name).exists() for base in (ROOT, *FOLDERS))
    return name in resources or name in defined


def test_the_step_table_has_the_four_steps_of_a_night() -> None:
    steps = re.findall(r"^\| \*\*(\w+)\*\*", step_table(), flags=re.M)
    assert steps[:4] == ["schedule", "event", "reconcile", "job"]


def test_every_name_in_the_step_table_exists() -> None:
    resources, defined = template_names(), defined_names()
    names = names_in_table()
    assert len(names) > 40, "the table was not found or lost its names"
    missing = sorted(n for n in names if not exists(n, resources, defined))
    assert missing == [], f"README 'Where each step lives' names what does not exist: {missing}"
