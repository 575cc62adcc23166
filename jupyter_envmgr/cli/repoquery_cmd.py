"""`repoquery depends | whoneeds PKG [--tree]`: what an installed package needs, or which
installed packages need it (engine/repoquery.py), as a table or a tree."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from .common import Subparsers, add_common, add_env_args
from .session import Session
from .table import print_table

if TYPE_CHECKING:
    from ..engine.repoquery import Node

QUERIES = (
    ("depends", "the installed packages PKG needs"),
    ("whoneeds", "the installed packages that need PKG"),
)


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("repoquery", help="dependencies of installed packages")
    q_sub = p.add_subparsers(dest="query", metavar="QUERY")
    q_sub.required = True
    for query, text in QUERIES:
        q = q_sub.add_parser(query, help=text)
        add_env_args(q)
        add_common(q)
        q.add_argument("package", metavar="PKG", help="an installed package's name")
        q.add_argument("-t", "--tree", action="store_true", help="every level, as a tree")
        q.set_defaults(run=repoquery)


async def repoquery(s: Session) -> int:
    from ..engine.prefix import read_records, record_json
    from ..engine.repoquery import flat, query

    a = s.args
    env = s.target_env()
    records = read_records(env.prefix, files="none")
    root = query(records, a.package, a.query, tree=a.tree)
    alias = s.settings.channel_alias
    if s.json:
        s.json.emit(
            {
                "event": "result",
                "env": env.to_json(),
                "query": a.query,
                "package": record_json(root.record, alias),
                "packages": [record_json(r, alias) for r in flat(root)],
                "tree": _tree_json(root, alias),
            }
        )
        return 0
    if a.tree:
        _print_tree(root)
        return 0
    rows = [(r.name.normalized, r.version, r.build, _channel(r, alias)) for r in flat(root)]
    what = "needs" if a.query == "depends" else "is needed by"
    if not rows:
        print(f"{root.name} {what} no installed package.")
        return 0
    print(f"{root.name} {root.record.version} {what}:\n")
    print_table(rows, ("Name", "Version", "Build", "Channel"), rule=True)
    return 0


def _channel(record: Any, alias: str) -> str:
    from ..engine.prefix import channel_display

    return channel_display(record.channel, alias)


def _tree_json(node: Node, alias: str) -> dict[str, Any]:
    from ..engine.prefix import record_json

    return {
        **record_json(node.record, alias),
        "seen_above": node.seen_above,
        "children": [_tree_json(c, alias) for c in node.children],
    }


def _print_tree(root: Node) -> None:
    # micromamba's glyphs where the terminal can show them, ASCII where it cannot.
    try:
        "├─│└".encode(sys.stdout.encoding or "ascii")
        tee, last, bar = "├─ ", "└─ ", "│  "
    except (UnicodeEncodeError, LookupError):
        tee, last, bar = "|-- ", "`-- ", "|   "
    blank = " " * len(bar)

    def label(node: Node) -> str:
        seen = " (shown above)" if node.seen_above else ""
        return f"{node.name}[{node.record.version}]{seen}"

    print(label(root))

    def walk(node: Node, indent: str) -> None:
        for i, child in enumerate(node.children):
            end = i == len(node.children) - 1
            print(f"{indent}{last if end else tee}{label(child)}")
            walk(child, indent + (blank if end else bar))

    walk(root, "")
