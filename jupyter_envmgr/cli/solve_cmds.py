"""`create`, `install`, `remove`, `update`: one solve-plan-confirm-apply run over the engine."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..engine.errors import BadInput
from .common import Subparsers, add_solve_args, solve_overrides
from .session import Session

if TYPE_CHECKING:
    from ..engine.envfile import EnvFile
    from ..engine.operations import Kind
    from ..engine.plan import Plan
    from ..engine.progress import Event

VERBS = (
    ("create", "create an environment"),
    ("install", "install packages into an environment"),
    ("remove", "remove packages (and what depends on them)"),
    ("update", "update packages, or all with --all"),
)


def add_parsers(sub: Subparsers) -> None:
    for verb, text in VERBS:
        p = sub.add_parser(verb, help=text)
        add_solve_args(p)
        if verb == "install":
            p.add_argument("--revision", type=int, help="roll back to revision N (see --revisions)")
        if verb == "update":
            p.add_argument("-a", "--all", action="store_true", help="update every package")
        if verb == "remove":
            _add_remove_flags(p)
        else:
            _add_solve_flags(p)
        if verb == "create":
            p.add_argument("--clone", metavar="SRC", help="copy environment SRC (name or path)")
        if verb in ("create", "install"):
            add_lock_env(p)
        p.set_defaults(run=solve)


def add_lock_env(p: argparse.ArgumentParser) -> None:
    """-f pixi.lock: which of its environments (create, install, env create)."""
    p.add_argument(
        "--lock-env",
        metavar="NAME",
        help="with -f pixi.lock: the lock's environment to take (default: 'default')",
    )


def _add_solve_flags(p: argparse.ArgumentParser) -> None:
    """micromamba's flags of create/install/update (engine: operations.SolveOptions)."""
    deps = p.add_mutually_exclusive_group()
    deps.add_argument("--no-deps", action="store_true", help="install only the named packages")
    deps.add_argument(
        "--only-deps", action="store_true", help="install the named packages' dependencies only"
    )
    p.add_argument("--freeze-installed", action="store_true", help="change no installed package")
    p.add_argument("--no-pin", action="store_true", help="ignore conda-meta/pinned")
    p.add_argument(
        "--offline", action="store_true", help="no network: the package cache and cached indexes"
    )
    p.add_argument(
        "--platform",
        metavar="SUBDIR",
        help="solve and create for another platform, e.g. "
        "linux-aarch64 (its binaries are never run here)",
    )
    p.add_argument("--copy", action="store_true", help="copy files instead of hard links")


def _add_remove_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="remove only the named packages, not what "
        "depends on them (the env may be left inconsistent)",
    )
    p.add_argument(
        "--no-prune", action="store_true", help="keep the dependencies nothing needs any more"
    )
    p.add_argument("--offline", action="store_true", help="no network (remove needs none)")


async def solve(s: Session) -> int:
    from ..engine import operations

    a = s.args
    kind: Kind = "update-all" if a.command == "update" and a.all else a.command
    if kind == "install" and a.revision is not None:
        kind = "rollback"
    # create makes a new env; the others act on -n/-p or the active one ($CONDA_PREFIX).
    name, prefix = (a.name, a.prefix) if kind == "create" else s.target()
    platform = getattr(a, "platform", None)
    if kind == "install" and a.file and platform is None:
        platform = _recorded_platform(s, name, prefix)  # a lock's packages for that platform
    file_specs, file_channels, env_file = _read_files(
        kind, a.file, getattr(a, "lock_env", None), platform
    )
    if kind == "install" and env_file is not None:
        kind = "sync"  # install -f LOCK: the env becomes exactly the lock's package set
    if getattr(a, "clone", None):
        if env_file is not None or a.specs:
            raise BadInput("--clone copies an environment whole: give no package or file too.")
        env_file = _clone_source(s, a.clone)
    request = operations.Request(
        kind=kind,
        name=name,
        prefix=prefix,
        specs=list(a.specs) + file_specs,
        channels=list(a.channel) + file_channels,
        env_file=env_file,
        revision=getattr(a, "revision", None),
        override_channels=a.override_channels,
        dry_run=a.dry_run,
        cmd=s.cmd,
        options=operations.SolveOptions(
            no_deps=getattr(a, "no_deps", False),
            only_deps=getattr(a, "only_deps", False),
            freeze_installed=getattr(a, "freeze_installed", False),
            no_pin=getattr(a, "no_pin", False),
            platform=getattr(a, "platform", None),
            copy=getattr(a, "copy", False),
            force=getattr(a, "force", False),
            no_prune=getattr(a, "no_prune", False),
        ),
    )
    if kind == "create" and a.name is None and a.prefix is None and env_file is None:
        raise BadInput("Name the new environment with -n NAME or -p PREFIX.")
    # --solver and the priority flags: this command only (remove never solves).
    settings = s.settings.with_overrides(**solve_overrides(a))
    if a.offline:
        settings = settings.with_overrides(offline=True)
    outcome = await operations.run(
        settings, request, confirm=_confirm(s), on_event=_events(s), policy=s.policy
    )
    if outcome.applied:
        s.sync_kernels(outcome.env.prefix)
    if a.dry_run and not s.json and operations.EMPTY_ENV_NOTE not in outcome.notes:
        s.text.plan(outcome.plan, s.settings.channel_alias)
    empty = operations.EMPTY_ENV_NOTE in outcome.notes
    if empty:
        # micromamba's `create -n X` with no package: an empty env, said so (never a refusal).
        done = "Created" if outcome.applied else "Dry run: would create"
        text = f"{done} an empty environment {outcome.env.label} at {outcome.env.prefix}"
    elif outcome.applied:
        text = "\n".join([f"Done: {outcome.env.label}", *outcome.notes])  # site cache: linked?
    elif a.dry_run:
        text = "Dry run: nothing was changed."
    elif outcome.plan.empty:
        text = "" if kind == "create" else "Nothing to do."
    else:
        text = "Aborted: nothing was changed."
    s.result(outcome.to_json(), text)
    return 0


def _recorded_platform(s: Session, name: str | None, prefix: str | None) -> str | None:
    """The platform an existing env was created for (`create --platform`), or None: the env
    this machine's, or not found (the operation says so)."""
    from ..engine.errors import EnvMgrError
    from ..engine.platforms import env_platform
    from ..engine.registry import find_env

    try:
        recorded = env_platform(find_env(s.settings, name=name, prefix=prefix).prefix)
    except EnvMgrError:
        return None
    return str(recorded) if recorded is not None else None


def _events(s: Session) -> Callable[[Event], None]:
    """-q: no progress (errors and the result only); -v: the solve's channels, specs and pins
    on stderr too. --json prints every event whatever these say."""
    a = s.args
    if s.json or not (a.quiet or a.verbose):
        return s.on_event
    if a.quiet:
        return lambda event: None

    def verbose(event: Event) -> None:
        if event.kind == "solve-start":
            d = event.data
            lines = [f"Solving for: {' '.join(d['specs']) or '(nothing)'}"]
            lines += [f"  channel: {c}" for c in d["channels"]]
            lines += [f"  pinned: {p}" for p in d.get("constraints", [])]
            if d.get("platforms"):
                lines.append(f"  platforms: {', '.join(d['platforms'])}")
            print("\n".join(lines), file=sys.stderr, flush=True)
        elif a.verbose > 1:
            print(f"[{event.kind}] {event.data}", file=sys.stderr, flush=True)
        s.on_event(event)

    return verbose


def _confirm(s: Session) -> Callable[[Plan], bool]:
    """-q with -y: the plan is not shown (nothing is asked). Asked on a terminal, a plan is
    always shown: nobody confirms what they cannot see."""
    if not s.args.quiet or s.json or not s.args.yes:
        return s.confirm
    return lambda plan: True


def _clone_source(s: Session, source: str) -> EnvFile:
    """`create --clone SRC`: the exact package set of SRC (a name or a path), as the server's
    clone: no solve, the same records under another name."""
    from ..engine.envfile import EnvFile
    from ..engine.prefix import read_records
    from ..engine.registry import find_env

    looks_like_path = os.sep in source or source.startswith(".")
    env = (
        find_env(s.settings, prefix=source)
        if looks_like_path
        else find_env(s.settings, name=source)
    )
    return EnvFile("lock", f"clone of {env.label}", records=read_records(env.prefix))


def _read_files(
    kind: str, paths: Sequence[str], lock_env: str | None = None, platform: str | None = None
) -> tuple[list[str], list[str], EnvFile | None]:
    """`-f` files: spec lists add specs; an env YAML, @EXPLICIT list or lock file drives create;
    install takes a YAML's specs and channels, or a lock file's exact package set (a sync).
    `lock_env` and `platform` pick what a lock file gives (its environment, its platform)."""
    if not paths:
        if lock_env is not None:
            raise BadInput("--lock-env chooses an environment of a pixi.lock: give it with -f.")
        return [], [], None  # and the env-file parser (yaml, packaging) stays unloaded
    from ..engine.envfile import read_env_file

    specs: list[str] = []
    channels: list[str] = []
    env_file = None
    for path in paths:
        parsed = read_env_file(path, lock_env=lock_env, platform=platform)
        if parsed.kind == "specs":
            specs += parsed.specs
        elif kind == "create" and env_file is None:
            env_file = parsed
        elif kind == "install" and parsed.kind == "lock" and env_file is None:
            env_file = parsed
        elif parsed.kind == "yaml" and not parsed.pip:
            specs += parsed.specs
            channels += parsed.channels
        else:
            raise BadInput(f"{path}: use a {parsed.kind} file with 'create', one file at a time.")
    return specs, channels, env_file
