"""Package names from specs and `depends` entries, and the walk along `depends`: what a set of
packages needs. Used wherever the engine follows dependencies without a solver (remove keeps
what the remaining requested packages need; the libmamba backend drops what nothing needs)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TypeVar

import rattler

_DEP_NAME = re.compile(r"[A-Za-z0-9_.\-]+")

Record = TypeVar("Record", bound=rattler.PackageRecord)


def match_spec_name(spec: rattler.MatchSpec) -> str:
    """The package name a MatchSpec is about, normalized (rattler gives a PackageName, or a
    matcher without `normalized` for a name with wildcards, or None for a spec that is a URL)."""
    name = spec.name
    return name.normalized if hasattr(name, "normalized") else str(name)


def dependency_name(dep: str) -> str:
    """`python >=3.11,<3.12` or `alpha<2` -> the package name."""
    match = _DEP_NAME.match(dep.strip())
    return match.group(0).lower() if match else dep


def dependency_closure(records: Iterable[Record], roots: Iterable[str]) -> list[Record]:
    """Those of `records` (one per package name) that the packages named `roots` need,
    following `depends`, the roots among them; in the order `records` gives them."""
    records = list(records)
    by_name = {r.name.normalized: r for r in records}
    needed: set[str] = set()
    todo = [name for name in roots if name in by_name]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        deps = (dependency_name(d) for d in by_name[name].depends)
        todo += [d for d in deps if d in by_name]
    return [r for r in records if r.name.normalized in needed]
