"""`create`, `install`, `remove`, `update`: one solve-plan-confirm-apply run over the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..engine.errors import BadInput
from .common import Subparsers, add_solve_args
from .session import Session

if TYPE_CHECKING:
    from ..engine.envfile import EnvFile
    from ..engine.operations import Kind

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
        p.set_defaults(run=solve)


async def solve(s: Session) -> int:
    from ..engine import operations

    a = s.args
    kind: Kind = "update-all" if a.command == "update" and a.all else a.command
    if kind == "install" and a.revision is not None:
        kind = "rollback"
    file_specs, file_channels, env_file = _read_files(kind, a.file)
    # create makes a new env; the others act on -n/-p or the active one ($CONDA_PREFIX).
    name, prefix = (a.name, a.prefix) if kind == "create" else s.target()
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
    )
    if kind == "create" and a.name is None and a.prefix is None and env_file is None:
        raise BadInput("Name the new environment with -n NAME or -p PREFIX.")
    # --solver: this command only (remove never solves, whichever is named).
    settings = s.settings if a.solver is None else s.settings.with_overrides(solver=a.solver)
    outcome = await operations.run(
        settings, request, confirm=s.confirm, on_event=s.on_event, policy=s.policy
    )
    if outcome.applied:
        s.sync_kernels()
    if a.dry_run and not s.json and operations.EMPTY_ENV_NOTE not in outcome.notes:
        s.text.plan(outcome.plan, s.settings.channel_alias)
    empty = operations.EMPTY_ENV_NOTE in outcome.notes
    if empty:
        # micromamba's `create -n X` with no package: an empty env, said so (never a refusal).
        done = "Created" if outcome.applied else "Dry run: would create"
        text = f"{done} an empty environment {outcome.env.label} at {outcome.env.prefix}"
    elif outcome.applied:
        text = f"Done: {outcome.env.label}"
    elif a.dry_run:
        text = "Dry run: nothing was changed."
    elif outcome.plan.empty:
        text = "" if kind == "create" else "Nothing to do."
    else:
        text = "Aborted: nothing was changed."
    s.result(outcome.to_json(), text)
    return 0


def _read_files(kind: str, paths: Sequence[str]) -> tuple[list[str], list[str], EnvFile | None]:
    """`-f` files: spec lists add specs; an env YAML, @EXPLICIT list or lock file drives create
    (install takes a YAML's specs and channels)."""
    if not paths:
        return [], [], None  # and the env-file parser (yaml, packaging) stays unloaded
    from ..engine.envfile import read_env_file

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
