"""`env list`, `env remove` and `env export`: whole environments rather than their packages."""

from __future__ import annotations

import os
from pathlib import Path

from ..engine.errors import BadInput
from .common import Subparsers, add_common, add_env_args, add_json, add_root_prefix, add_yes
from .session import Session


def add_parsers(sub: Subparsers) -> None:
    env = sub.add_parser("env", help="environment-level commands")
    env_sub = env.add_subparsers(dest="env_command", metavar="ENV_COMMAND")
    env_sub.required = True

    p = env_sub.add_parser("list", help="list environments")
    add_common(p)
    p.set_defaults(run=env_list)

    p = env_sub.add_parser("remove", help="remove an environment")
    add_env_args(p)
    add_common(p)
    add_yes(p)
    p.set_defaults(run=env_remove)

    p = env_sub.add_parser("export", help="export an environment (YAML, explicit, lock)")
    add_env_args(p)
    add_root_prefix(p)
    add_json(p, help="print a JSON result with the text")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--from-history", action="store_true", help="only what the user asked for")
    fmt.add_argument("--explicit", action="store_true", help="@EXPLICIT list of package URLs")
    fmt.add_argument("--lock", action="store_true", help="rattler lock file")
    p.add_argument("--no-builds", action="store_true", help="leave out build strings")
    p.add_argument("-f", "--file", help="write to FILE instead of stdout")
    p.set_defaults(run=env_export)


async def env_list(s: Session) -> int:
    from ..engine.registry import list_envs

    envs = list_envs(s.settings)
    active = os.environ.get("CONDA_PREFIX")
    if s.json:
        s.json.emit({"event": "result", "envs": [e.to_json() for e in envs]})
        return 0
    width = max([len(e.name or "") for e in envs] + [4])
    print(f"  {'Name':<{width}}  Active  Path")
    for e in envs:
        mark = "*" if active and os.path.realpath(active) == os.path.realpath(e.prefix) else " "
        print(f"  {e.name or '':<{width}}  {mark:<6}  {e.prefix}")
    return 0


async def env_remove(s: Session) -> int:
    from ..engine import operations
    from ..engine.registry import find_env

    env = find_env(s.settings, name=s.args.name, prefix=s.args.prefix)
    operations.check_removable(env, s.policy)
    if not s.ask(
        f"Remove environment {env.prefix}?",
        default=False,
        refusal=f"Refusing to remove {env.prefix} without confirmation: pass -y.",
    ):
        s.result({"removed": False}, "Aborted: nothing was changed.")
        return 0
    await operations.remove_env(s.settings, env, on_event=s.on_event)
    s.sync_kernels()
    s.result({"removed": True, "env": env.to_json()}, f"Removed {env.prefix}")
    return 0


async def env_export(s: Session) -> int:
    from ..engine.export import export_explicit, export_lock, export_yaml
    from ..engine.registry import find_env

    a = s.args
    env = find_env(s.settings, name=a.name, prefix=a.prefix)
    if a.explicit:
        text = export_explicit(env)
    elif a.lock:
        text = export_lock(s.settings, env)
    else:
        text = export_yaml(s.settings, env, from_history=a.from_history, no_builds=a.no_builds)
    if a.file:
        _write_export(a.file, text)
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "text": text})
    elif not a.file:
        print(text, end="")
    return 0


def _write_export(file: str, text: str) -> None:
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(
            f"Cannot write {file}: {exc.strerror or exc}. Give a file in an existing folder "
            "you can write to, or leave out -f to print the export."
        ) from None
