"""`repair`: finish or undo an operation that was interrupted (a kill, a power cut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .common import Subparsers, add_common, add_env_args
from .session import Session

if TYPE_CHECKING:
    from ..engine.operations import Repaired
    from ..engine.registry import Env


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("repair", help="finish or undo an interrupted operation")
    add_env_args(p)
    add_common(p)
    p.set_defaults(run=repair)


async def repair(s: Session) -> int:
    from ..engine import operations

    env = s.target_env()  # -n/-p, else the active env
    # Started by a Jupyter server: its rules (read-only envs, allowed channels) hold here too.
    done = await operations.repair(s.settings, env, on_event=s.on_event, policy=s.policy)
    s.result(
        {"repaired": bool(done), "relinked": done.relinked, "env": env.to_json()},
        _text(done, env),
    )
    return 0


def _text(done: Repaired, env: Env) -> str:
    if done.recovery == "none":
        return "Nothing to repair."
    if done.recovery == "removed":
        return f"Removed {env.prefix}: it was being created when its process was interrupted."
    text = f"Restored {env.prefix} after an interrupted operation."
    if done.relinked:
        text += f" Linked again: {', '.join(done.relinked)}."
    return text
