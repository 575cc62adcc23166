"""`info`: the settings in effect (root prefix, envs and pkgs dirs, channels, config files)."""

from __future__ import annotations

from .common import Subparsers, add_common
from .session import Session


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("info", help="show settings: root prefix, envs and pkgs dirs, channels")
    add_common(p)
    p.set_defaults(run=info)


async def info(s: Session) -> int:
    settings = s.settings.to_json()
    if s.json:
        s.json.emit({"event": "result", **settings})
    else:
        for key, value in settings.items():
            value = ", ".join(value) if isinstance(value, list) else value
            print(f"  {key:<17}: {value}")
    return 0
