"""docs/architecture.md is the map of the code: it names every module, and only modules that
exist. A module added without its line (or a line left behind by a module removed) fails here."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
SECTION = "## Every module"
# `- `engine/solver.py`: ...`: one line a module, the path relative to jupyter_envmgr/ (or
# from the repository's top for the lab extension's sources).
ENTRY = re.compile(r"^- `([^`]+)`")


def _modules() -> set[str]:
    package = ROOT / "jupyter_envmgr"
    python = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if "labextension" not in p.relative_to(package).parts
    }
    sources = ROOT / "labextension" / "src"
    lab = {
        str(p.relative_to(ROOT))
        for p in [*sources.rglob("*.ts"), *sources.rglob("*.tsx")]
        if not p.name.endswith(".d.ts")
    }
    return python | lab


def _named() -> list[str]:
    text = DOC.read_text()
    assert SECTION in text, f"{DOC.name} has lost its '{SECTION}' section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    return [m.group(1) for line in section.splitlines() if (m := ENTRY.match(line))]


def test_every_module_has_one_line_in_the_architecture_doc():
    named = _named()
    twice = sorted({n for n in named if named.count(n) > 1})
    assert not twice, f"named twice in docs/architecture.md: {twice}"
    missing = sorted(_modules() - set(named))
    assert not missing, (
        f"add one line for each to '{SECTION}' in docs/architecture.md "
        f"(`- `path`: what it is for`): {missing}"
    )


def test_the_architecture_doc_names_no_module_that_is_gone():
    gone = sorted(set(_named()) - _modules())
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"
