"""Entry point: micromamba's verbs and flags over the engine.

Exit codes: 0 done, 1 an engine error (message on stderr, or a JSON `error` line), 2 bad usage,
130 cancelled. The process ends with os._exit after flushing: processes that used rattler can
crash while the interpreter finalizes (DESIGN.md), and a user must never see that as a failure.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shlex
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ..engine import operations
from ..engine.envfile import EnvFile, read_env_file
from ..engine.errors import BadInput, Cancelled, ConfirmationRequired, EnvMgrError
from ..engine.plan import Plan
from ..engine.prefix import channel_display, read_history, read_records
from ..engine.rattler_guard import is_panic
from ..engine.registry import Env, find_env, list_envs
from ..engine.settings import Settings, load_settings
from . import cache_cmds, env_cmds, kernels_cmd
from .render import JsonRenderer, TextRenderer

# Verb groups in their own modules: each has COMMANDS, add_parsers(sub) and run(session).
VERB_MODULES = [env_cmds, kernels_cmd, cache_cmds]


def _env_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group()
    g.add_argument("-n", "--name", help="environment name")
    g.add_argument("-p", "--prefix", help="environment path")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON (events as JSON lines)")
    p.add_argument("-r", "--root-prefix", help="root prefix (default: $MAMBA_ROOT_PREFIX)")


def _solve_args(p: argparse.ArgumentParser) -> None:
    _env_args(p)
    _common(p)
    p.add_argument("specs", nargs="*", metavar="SPEC", help="package specs, e.g. numpy>=1.26")
    p.add_argument("-c", "--channel", action="append", default=[], help="channel (repeatable)")
    p.add_argument("--override-channels", action="store_true", help="ignore configured channels")
    p.add_argument("-f", "--file", action="append", default=[], help="file with specs")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p.add_argument("--dry-run", action="store_true", help="only show what would change")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="envmgr", description="Manage conda environments (micromamba-style) for Jupyter."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for verb, text in (
        ("create", "create an environment"),
        ("install", "install packages into an environment"),
        ("remove", "remove packages (and what depends on them)"),
        ("update", "update packages, or all with --all"),
    ):
        p = sub.add_parser(verb, help=text)
        _solve_args(p)
        if verb == "install":
            p.add_argument("--revision", type=int, help="roll back to revision N (see --revisions)")
        if verb == "update":
            p.add_argument("-a", "--all", action="store_true", help="update every package")
    p = sub.add_parser("list", help="list the packages of an environment")
    _env_args(p)
    _common(p)
    p.add_argument("--revisions", action="store_true", help="list the revisions from history")
    p = sub.add_parser("repair", help="finish or undo an interrupted operation")
    _env_args(p)
    _common(p)
    p = sub.add_parser("info", help="show settings: root prefix, envs and pkgs dirs, channels")
    _common(p)
    env = sub.add_parser("env", help="environment-level commands")
    env_sub = env.add_subparsers(dest="env_command", metavar="ENV_COMMAND")
    env_sub.required = True
    p = env_sub.add_parser("list", help="list environments")
    _common(p)
    p = env_sub.add_parser("remove", help="remove an environment")
    _env_args(p)
    _common(p)
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    env_cmds.add_export_parser(env_sub)
    for module in VERB_MODULES:
        module.add_parsers(sub)
    return parser


def _read_files(kind: str, paths: Sequence[str]) -> tuple[list[str], list[str], EnvFile | None]:
    """`-f` files: spec lists add specs; an env YAML, @EXPLICIT list or lock file drives create
    (install takes a YAML's specs and channels)."""
    specs: list[str] = []
    channels: list[str] = []
    env_file = None
    for path in paths:
        parsed = read_env_file(path)
        if parsed.kind == "specs":
            specs += parsed.specs
        elif kind == "create" and env_file is None:
            env_file = parsed
        elif parsed.kind == "yaml" and not parsed.pip:
            specs += parsed.specs
            channels += parsed.channels
        else:
            raise BadInput(f"{path}: use a {parsed.kind} file with 'create', one file at a time.")
    return specs, channels, env_file


class Session:
    """One CLI invocation: settings, the renderer, and the confirmation policy."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str]) -> None:
        self.args = args
        self.cmd = shlex.join(["envmgr", *argv])
        self.json = JsonRenderer() if getattr(args, "json", False) else None
        self.text = TextRenderer()
        self.settings: Settings = load_settings(root_prefix=getattr(args, "root_prefix", None))

    def on_event(self, event: Any) -> None:
        (self.json or self.text).on_event(event)

    def confirm(self, plan: Plan) -> bool:
        if not self.json:
            self.text.plan(plan, self.settings.channel_alias)
        if getattr(self.args, "yes", False):
            return True
        if not sys.stdin.isatty():
            raise ConfirmationRequired(
                "Refusing to change the environment without confirmation: there is no terminal "
                "to ask on. Pass -y to confirm, or --dry-run to only see the plan."
            )
        answer = input("Confirm changes: [Y/n] ").strip().lower()
        return answer in ("", "y", "yes")

    def result(self, obj: dict[str, Any], text: str) -> None:
        if self.json:
            self.json.emit({"event": "result", **obj})
        elif text:
            print(text)


async def _solve_verb(s: Session) -> int:
    a = s.args
    kind = "update-all" if a.command == "update" and a.all else a.command
    if kind == "install" and a.revision is not None:
        kind = "rollback"
    file_specs, file_channels, env_file = _read_files(kind, a.file)
    request = operations.Request(
        kind=kind,
        name=a.name,
        prefix=a.prefix,
        specs=list(a.specs) + file_specs,
        channels=list(a.channel) + file_channels,
        env_file=env_file,
        revision=getattr(a, "revision", None),
        override_channels=a.override_channels,
        dry_run=a.dry_run,
        cmd=s.cmd,
    )
    if kind == "create" and a.name is None and a.prefix is None and env_file is None:
        raise BadInput("Name the new environment with -n NAME or -p PREFIX.")
    outcome = await operations.run(s.settings, request, confirm=s.confirm, on_event=s.on_event)
    if outcome.applied:
        sync_env_kernels(s.settings)
    if a.dry_run and not s.json:
        s.text.plan(outcome.plan, s.settings.channel_alias)
    if outcome.applied:
        text = f"Done: {outcome.env.label}"
    elif a.dry_run:
        text = "Dry run: nothing was changed."
    elif outcome.plan.empty:
        text = "" if kind == "create" else "Nothing to do."
    else:
        text = "Aborted: nothing was changed."
    s.result(outcome.to_json(), text)
    return 0


async def _list(s: Session) -> int:
    a = s.args
    if a.name or a.prefix:
        env = find_env(s.settings, name=a.name, prefix=a.prefix)
    else:
        active = os.environ.get("CONDA_PREFIX")
        env = find_env(s.settings, prefix=active) if active else find_env(s.settings, name="base")
    if a.revisions:
        return _revisions(s, env)
    records = sorted(read_records(env.prefix), key=lambda r: r.name.normalized)
    rows = [
        {
            "name": r.name.normalized,
            "version": str(r.version),
            "build": str(r.build),
            "channel": channel_display(r.channel, s.settings.channel_alias),
        }
        for r in records
    ]
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "packages": rows})
        return 0
    print(f"List of packages in environment: {env.prefix}\n")
    if rows:
        w = [max(len(r[k]) for r in rows) for k in ("name", "version", "build")]
        for r in rows:
            print(
                f"  {r['name']:<{w[0]}}  {r['version']:<{w[1]}}  {r['build']:<{w[2]}}  "
                f"{r['channel']}"
            )
    return 0


def _revisions(s: Session, env: Env) -> int:
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


async def _env_list(s: Session) -> int:
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


async def _env_remove(s: Session) -> int:
    env = find_env(s.settings, name=s.args.name, prefix=s.args.prefix)
    if not s.args.yes:
        if not sys.stdin.isatty():
            raise ConfirmationRequired(
                f"Refusing to remove {env.prefix} without confirmation: pass -y."
            )
        if input(f"Remove environment {env.prefix}? [y/N] ").strip().lower() not in ("y", "yes"):
            s.result({"removed": False}, "Aborted: nothing was changed.")
            return 0
    await operations.remove_env(s.settings, env, on_event=s.on_event)
    sync_env_kernels(s.settings)
    s.result({"removed": True, "env": env.to_json()}, f"Removed {env.prefix}")
    return 0


async def _repair(s: Session) -> int:
    env = find_env(s.settings, name=s.args.name, prefix=s.args.prefix)
    done = await operations.repair(s.settings, env, on_event=s.on_event)
    s.result(
        {"repaired": done, "env": env.to_json()},
        f"Restored {env.prefix} after an interrupted operation." if done else "Nothing to repair.",
    )
    return 0


async def _info(s: Session) -> int:
    st = s.settings
    info = {
        "root_prefix": str(st.root_prefix),
        "envs_dirs": [str(p) for p in st.envs_dirs],
        "pkgs_dirs": [str(p) for p in st.pkgs_dirs],
        "channels": list(st.channels),
        "channel_alias": st.channel_alias,
        "channel_priority": st.channel_priority,
        "config_files": list(st.sources),
    }
    if s.json:
        s.json.emit({"event": "result", **info})
    else:
        for key, value in info.items():
            value = ", ".join(value) if isinstance(value, list) else value
            print(f"  {key:<17}: {value}")
    return 0


async def _dispatch(s: Session) -> int:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    # SIGTERM (a batch scheduler, `kill`) cancels like Ctrl-C does: the env is restored.
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    cmd = s.args.command
    if cmd in ("create", "install", "remove", "update"):
        return await _solve_verb(s)
    if cmd == "env":
        handler = {"list": _env_list, "remove": _env_remove, "export": env_cmds.export}
        return await handler[s.args.env_command](s)
    for module in VERB_MODULES:
        if cmd in module.COMMANDS:
            return await module.run(s)
    return await {"list": _list, "repair": _repair, "info": _info}[cmd](s)


def run_cli(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    as_json = getattr(args, "json", False)
    try:
        session = Session(args, argv)
        return asyncio.run(_dispatch(session))
    except (Cancelled, KeyboardInterrupt, asyncio.CancelledError) as exc:
        message = getattr(exc, "message", "Cancelled.")
        _report_error(as_json, message, "cancelled")
        return 130
    except EnvMgrError as exc:
        _report_error(as_json, exc.message, exc.reason)
        return 1
    except BaseException as exc:
        if not is_panic(exc):  # a Rust panic past the engine's guards: still one error line
            raise
        _report_error(as_json, f"Internal error in rattler: {exc}", "engine-panic")
        return 1


def sync_env_kernels(settings: Settings) -> None:
    from ..kernels.manager import sync_for_settings  # jupyter_client only when something changed

    sync_for_settings(settings)


def _report_error(as_json: bool, message: str, reason: str) -> None:
    if as_json:
        print(json.dumps({"event": "error", "message": message, "reason": reason}), flush=True)
    else:
        print(f"error: {message}", file=sys.stderr, flush=True)


def main() -> None:
    try:
        code = run_cli()
    except SystemExit as exc:  # argparse usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 2
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
