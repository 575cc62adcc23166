"""`search`: a package's versions and builds in the channels' repodata (micromamba's `search`)."""

from __future__ import annotations

from .common import Subparsers, add_common
from .session import Session
from .table import print_table


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("search", help="find a package's versions and builds in the channels")
    add_common(p)
    p.add_argument("query", metavar="SPEC", help="a package name or spec, e.g. numpy>=2")
    p.add_argument("-c", "--channel", action="append", default=[], help="channel (repeatable)")
    p.set_defaults(run=search)


async def search(s: Session) -> int:
    from ..engine.search import search as search_channels

    channels = s.args.channel or list(s.settings.channels)
    found = await search_channels(s.settings, s.args.query, channels, policy=s.policy)
    if s.json:
        s.json.emit({"event": "result", "query": s.args.query, "packages": found})
        return 0
    if not found:
        print(f"No package matches {s.args.query!r} in {', '.join(channels)}.")
        return 0
    print_table([(p["name"], p["version"], p["build"], p["channel"], p["subdir"]) for p in found])
    return 0
