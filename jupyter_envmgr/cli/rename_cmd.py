"""`rename -n OLD NEW` (or `-p PATH NEW`): the env under a new name beside it, its kernels
following (see engine/rename.py for how and what is refused)."""

from __future__ import annotations

from .common import Subparsers, add_common, add_env_args, add_yes
from .session import Session


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("rename", help="rename an environment (its kernels follow)")
    add_env_args(p, name_help="the environment to rename", prefix_help="its path")
    add_common(p)
    add_yes(p)
    p.add_argument("new_name", metavar="NEW", help="the new name (in the same envs dir)")
    p.set_defaults(run=rename)


async def rename(s: Session) -> int:
    from ..engine.errors import BadInput
    from ..engine.registry import find_env
    from ..engine.rename import check_rename, rename_env
    from .env_cmds import running_kernels

    a = s.args
    if not (a.name or a.prefix):
        # Never the active env by default: renaming the env a shell runs in breaks that shell.
        raise BadInput("Name the environment to rename: envmgr rename -n OLD NEW.")
    env = find_env(s.settings, name=a.name, prefix=a.prefix)
    new = check_rename(s.settings, env, a.new_name, s.policy)
    running = running_kernels(env.prefix)
    if running:
        raise BadInput(
            f"Kernels of {env.label} are running: {'; '.join(running)}. Shut them down first: "
            "they would lose their environment's files."
        )
    question = f"Rename {env.prefix} to {new.prefix}?"
    refusal = f"Refusing to rename {env.prefix} without confirmation: pass -y."
    if not s.ask(question, default=True, refusal=refusal):
        s.result({"renamed": False}, "Aborted: nothing was changed.")
        return 0
    done = await rename_env(
        s.settings, env, a.new_name, policy=s.policy, cmd=s.cmd, on_event=s.on_event
    )
    s.sync_kernels(env.prefix, done.prefix)  # the old name's kernelspecs go, the new's come
    s.result(
        {"renamed": True, "env": done.to_json(), "from": env.to_json()},
        f"Renamed {env.label} to {done.label} ({done.prefix})",
    )
    return 0
