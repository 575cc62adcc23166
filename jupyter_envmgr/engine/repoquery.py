"""`repoquery depends | whoneeds`: the installed packages a package needs, or those that need it,
read from the env's records along `depends` (no solve, no network), as micromamba answers them
for an installed env; with `tree`, every level below, each package expanded once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import rattler

from .dependencies import dependency_name
from .errors import BadInput

Query = Literal["depends", "whoneeds"]


@dataclass
class Node:
    record: rattler.PrefixRecord
    children: list[Node] = field(default_factory=list)
    seen_above: bool = False  # already expanded elsewhere in the tree (or a cycle): not again

    @property
    def name(self) -> str:
        return self.record.name.normalized


def query(
    records: Sequence[rattler.PrefixRecord], package: str, kind: Query, *, tree: bool = False
) -> Node:
    """The tree rooted at the installed `package`: its dependencies (`depends`) or its
    dependents (`whoneeds`), one level unless `tree`. Children are sorted by name."""
    by_name = {r.name.normalized: r for r in records}
    wanted = dependency_name(package)
    if wanted not in by_name:
        raise BadInput(
            f"{package} is not installed in this environment: 'envmgr list' shows what is, "
            "'envmgr search' what the channels have."
        )
    needs = {name: {dependency_name(d) for d in r.depends} & by_name.keys()
             for name, r in by_name.items()}  # fmt: skip
    if kind == "depends":
        edges = needs
    else:
        edges = {name: set() for name in by_name}
        for name, deps in needs.items():
            for dep in deps:
                edges[dep].add(name)
    root = Node(by_name[wanted])
    expanded: set[str] = set()
    # Pre-order, first child first (as the tree prints): a package is expanded where it is
    # first printed, and marked `seen_above` wherever it comes again.
    todo = [root]
    while todo:
        node = todo.pop()
        if node.name in expanded:
            node.seen_above = True
            continue
        expanded.add(node.name)
        node.children = [Node(by_name[name]) for name in sorted(edges[node.name])]
        if tree or node is root:
            todo += reversed(node.children)
    return root


def flat(root: Node) -> list[rattler.PrefixRecord]:
    """Every package in the tree below the root, once, sorted by name."""
    found: dict[str, rattler.PrefixRecord] = {}
    todo = list(root.children)
    while todo:
        node = todo.pop()
        found.setdefault(node.name, node.record)
        todo += node.children
    return [found[name] for name in sorted(found)]
