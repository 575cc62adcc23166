"""`repair`: finish or undo an operation that was interrupted (a kill, a power cut)."""

from __future__ import annotations

from .common import Subparsers, add_common, add_env_args
from .session import Session


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("repair", help="finish or undo an interrupted operation")
    add_env_args(p)
    add_common(p)
    p.set_defaults(run=repair)


async def repair(s: Session) -> int:
    from ..engine import operations
    from ..engine.registry import find_env

    env = find_env(s.settings, name=s.args.name, prefix=s.args.prefix)
    done = await operations.repair(s.settings, env, on_event=s.on_event)
    s.result(
        {"repaired": done, "env": env.to_json()},
        f"Restored {env.prefix} after an interrupted operation." if done else "Nothing to repair.",
    )
    return 0
