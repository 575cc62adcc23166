"""`env list`, `env remove` and `env export`: whole environments rather than their packages."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..engine.errors import BadInput
from . import env_verbs
from .common import Subparsers, add_common, add_env_args, add_json, add_root_prefix, add_yes
from .session import Session
from .table import print_table

# The engine's export formats (engine/export.py EXPORT_FORMATS), named here so that --help
# loads no engine module; a test holds the two lists to each other.
EXPORT_FORMAT_NAMES = (
    "yml", "from-history", "explicit", "conda-lock", "pixi-lock", "pixi-lock-v6", "lock",
)  # fmt: skip
EXPORT_EPILOG = """formats:
  yml           environment.yml, every package pinned: conda env create -f, Binder,
                repo2docker (the default)
  from-history  environment.yml of what was asked for, unpinned: portable across platforms
  explicit      @EXPLICIT list of package URLs with hashes: conda create --file (this
                platform only)
  conda-lock    conda-lock.yml (version 1): conda-lock install, conda-store, micromamba,
                conda with its lockfile plugin (conda-lockfiles)
  pixi-lock     pixi.lock (version 7): pixi
  pixi-lock-v6  pixi.lock (version 6): pixi before version 7 files, conda-lockfiles
  lock          rattler lock (pixi.lock's version 7 layout), named envmgr.lock

Every one of them is read back by envmgr create -f FILE.
"""


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

    p = env_sub.add_parser(
        "export",
        help="export an environment (YAML, explicit, conda-lock, pixi.lock)",
        description="Export an environment as a file another machine (or tool) recreates it "
        "from. Lock formats hold this platform and each --platform.",
        epilog=EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_env_args(p)
    add_root_prefix(p)
    add_json(p, help="print a JSON result with the text")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--format", choices=EXPORT_FORMAT_NAMES, metavar="FORMAT",
                     help="the file's format (below); default yml")  # fmt: skip
    fmt.add_argument("--from-history", action="store_true", help="= --format from-history")
    fmt.add_argument("--explicit", action="store_true", help="= --format explicit")
    fmt.add_argument("--lock", action="store_true", help="= --format lock")
    p.add_argument(
        "--platform",
        action="append",
        default=[],
        metavar="SUBDIR",
        help="lock formats: also lock for this platform (e.g. osx-arm64), solved from the "
        "env's requested specs; repeatable. This platform is always in the file",
    )
    p.add_argument("--no-builds", action="store_true", help="leave out build strings (yml)")
    p.add_argument("-f", "--file", help="write to FILE instead of stdout")
    p.set_defaults(run=env_export)

    env_verbs.add_parsers(env_sub)  # env create, env config vars


async def env_list(s: Session) -> int:
    from ..engine.registry import list_envs

    envs = list_envs(s.settings)
    active = os.environ.get("CONDA_PREFIX")
    if s.json:
        # micromamba's `{"envs": [paths]}` (scripts read it), our richer entries beside it.
        s.json.emit({"event": "result", "envs": [str(e.prefix) for e in envs],
                     "environments": [e.to_json() for e in envs]})  # fmt: skip
        return 0
    here = os.path.realpath(active) if active else None
    rows = [
        (e.name or "", "*" if os.path.realpath(e.prefix) == here else "", e.prefix) for e in envs
    ]
    # A header and a rule, as micromamba prints: scripts skip them with `awk 'FNR>2'`.
    print_table(rows, ("Name", "Active", "Path"), rule=True)
    return 0


async def env_remove(s: Session) -> int:
    from ..engine import operations
    from ..engine.registry import find_env

    env = find_env(s.settings, name=s.args.name, prefix=s.args.prefix)
    operations.check_removable(env, s.policy)
    running = running_kernels(env.prefix)
    question = f"Remove environment {env.prefix}?"
    refusal = f"Refusing to remove {env.prefix} without confirmation: pass -y."
    if running:
        listed = "; ".join(running)
        if s.json:
            s.json.emit({"event": "env-in-use", "kernels": running})
        else:
            print(
                f"Kernels of this environment are running: {listed}. Once it is removed they "
                "fail on imports: shut them down first (or restart them in another env).",
                file=sys.stderr,
            )
        question = f"Remove environment {env.prefix} while {len(running)} kernel(s) run there?"
        refusal = (
            f"Refusing to remove {env.prefix} without confirmation while kernels run there "
            f"({listed}): shut them down, or pass -y."
        )
    if not s.ask(question, default=False, refusal=refusal):
        s.result({"removed": False}, "Aborted: nothing was changed.")
        return 0
    await operations.remove_env(s.settings, env, on_event=s.on_event)
    s.sync_kernels(env.prefix)
    s.result({"removed": True, "env": env.to_json(), "running_kernels": running},
             f"Removed {env.prefix}")  # fmt: skip
    return 0


# Asking a Jupyter server which kernels it runs: each server writes `jpserver-<pid>.json` into
# the Jupyter runtime dir (port, base_url, token) while it runs; its own REST API answers
# which kernels run (/api/kernels), which notebooks they serve (/api/sessions) and the spec
# each started from (/api/kernelspecs: an env's kernel names its env in `conda_env_path`).
# Only 127.0.0.1 is asked, over plain HTTP, briefly: a server that does not answer is skipped.
_ASK_TIMEOUT = 3.0


def running_kernels(prefix: Path) -> list[str]:
    """'<kernel> (<notebooks>) on <server>' for each running kernel of the env at `prefix`
    that a Jupyter server of this user on this machine reports; [] when none or unknown."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # no Jupyter server installed here: none can be running
        return []
    found: list[str] = []
    for info in list_running_servers():
        if info.get("sock") or info.get("secure") or not isinstance(info.get("port"), int):
            continue
        base = f"http://127.0.0.1:{info['port']}{info.get('base_url') or '/'}"
        token = str(info.get("token") or "")
        try:
            specs = _ask(base, "api/kernelspecs", token)["kernelspecs"]
            kernels = _ask(base, "api/kernels", token)
            sessions = _ask(base, "api/sessions", token)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        ours = {name for name, spec in specs.items() if _spec_env(spec) == str(prefix)}
        paths: dict[str | None, list[str]] = {}
        for session in sessions:
            kernel = session.get("kernel") or {}
            paths.setdefault(kernel.get("id"), []).append(str(session.get("path") or ""))
        for kernel in kernels:
            if kernel.get("name") in ours:
                where = ", ".join(paths.get(kernel.get("id"), [])) or "no notebook"
                found.append(f"{kernel['name']} ({where}) on {base}")
    return found


def _ask(base: str, path: str, token: str) -> Any:
    import json
    import urllib.request

    request = urllib.request.Request(base + path, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=_ASK_TIMEOUT) as response:  # noqa: S310
        return json.loads(response.read(4 * 1024 * 1024))


def _spec_env(spec: Any) -> str | None:
    """The env prefix a kernelspec (as /api/kernelspecs lists it) starts its kernel in."""
    metadata = (spec.get("spec") or {}).get("metadata") or {}
    provisioner = metadata.get("kernel_provisioner") or {}
    config = provisioner.get("config") or {} if isinstance(provisioner, dict) else {}
    return metadata.get("conda_env_path") or config.get("env_prefix")


async def env_export(s: Session) -> int:
    import asyncio

    from ..engine.export import check_export, export_env

    a = s.args
    # The flags (mutually exclusive with --format) name the engine's formats; none: yml.
    fmt = a.format or (
        "explicit" if a.explicit else "lock" if a.lock else
        "from-history" if a.from_history else "yml"
    )  # fmt: skip
    check_export(fmt, a.platform)  # a bad format or platform before the env is looked at
    env = s.target_env()  # -n/-p, else the active env
    # Blocking (records; a solve per other platform): off the loop, so Ctrl-C still lands.
    exported = await asyncio.to_thread(
        export_env, s.settings, env, fmt, no_builds=a.no_builds, platforms=a.platform,
        policy=s.policy,
    )  # fmt: skip
    if a.file:
        _write_export(a.file, exported.text)
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "text": exported.text,
                     "format": fmt, "notes": exported.notes})  # fmt: skip
    else:
        for note in exported.notes:
            print(f"Note: {note}", file=sys.stderr)
        if not a.file:
            print(exported.text, end="")
    return 0


def _write_export(file: str, text: str) -> None:
    try:
        Path(file).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise BadInput(
            f"Cannot write {file}: {exc.strerror or exc}. Give a file in an existing folder "
            "you can write to, or leave out -f to print the export."
        ) from None
