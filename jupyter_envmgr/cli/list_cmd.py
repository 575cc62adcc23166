"""`list`: the packages of an environment, or with --revisions the revisions in its history."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

from .common import Subparsers, add_common, add_env_args
from .session import Session
from .table import print_table

if TYPE_CHECKING:
    from ..engine.registry import Env


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("list", help="list the packages of an environment")
    add_env_args(p)
    add_common(p)
    p.add_argument("--revisions", action="store_true", help="list the revisions from history")
    p.set_defaults(run=list_packages)


async def list_packages(s: Session) -> int:
    from ..engine.prefix import read_records, record_json
    from ..engine.registry import find_env

    a = s.args
    if a.name or a.prefix:
        env = find_env(s.settings, name=a.name, prefix=a.prefix)
    else:
        active = os.environ.get("CONDA_PREFIX")
        env = find_env(s.settings, prefix=active) if active else find_env(s.settings, name="base")
    if a.revisions:
        return _revisions(s, env)
    records = sorted(read_records(env.prefix, files="none"), key=lambda r: r.name.normalized)
    rows = [record_json(r, s.settings.channel_alias) for r in records]
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "packages": rows})
        return 0
    print(f"List of packages in environment: {env.prefix}\n")
    print_table([(r["name"], r["version"], r["build"], r["channel"]) for r in rows])
    return 0


def _revisions(s: Session, env: Env) -> int:
    from ..engine.prefix import read_history

    revisions = read_history(env.prefix)
    if s.json:
        s.json.emit(
            {
                "event": "result",
                "env": env.to_json(),
                "revisions": [dataclasses.asdict(r) for r in revisions],
            }
        )
        return 0
    for rev in revisions:
        print(f"{rev.date}  (rev {rev.number})")
        for dist in rev.removed:
            print(f"    -{dist}")
        for dist in rev.added:
            print(f"    +{dist}")
        print()
    return 0
