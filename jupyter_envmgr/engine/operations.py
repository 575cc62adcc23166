"""create / install / remove / update / update --all, each: validate, lock, solve, plan, confirm,
apply as a transaction, record history.

Which specs go to the solver: the user's requested specs from history (all installed names for
an env with no history, e.g. one made by another tool), the new request on top, and the
installed records as `locked` so that nothing moves unless it has to.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import rattler

from .dependencies import dependency_closure, dependency_name
from .errors import (
    BadInput,
    EnvExists,
    EnvNotFound,
    Forbidden,
    PackageNotInstalled,
    Unsatisfiable,
)
from .lock import on_read_only_filesystem, prefix_lock
from .pins import pinned_file, read_pins
from .pip_step import check_pip_available, run_pip
from .plan import Plan, make_plan
from .platforms import env_platform, is_foreign, parse_platform, write_env_platform
from .policy import Policy
from .prefix import (
    META,
    append_history,
    read_history,
    read_records,
    record_files,
    requested_specs,
)
from .progress import Event, EventSink, ignore_events
from .registry import Env, find_env, new_env_target, register_env, unregister_env
from .settings import Settings
from .site import share_records
from .solver import require_solver, solve
from .specs import (
    Spec,
    channel_url,
    check_local_channels,
    kept_channels,
    kept_specs,
    parse_spec,
    parse_specs,
    solver_channels,
    sticky_channels,
)
from .transaction import apply_plan, has_pending_journal, read_journal, restore

if TYPE_CHECKING:
    from .cache_layers import LinkReport
    from .envfile import EnvFile  # the parser (yaml, packaging) loads only for -f files

# Imported where used, not here: exact_records (explicit files, rollbacks), pip_lock (a lock's
# pip entries) and activation (an env file's variables), which a plain create never needs.

# "sync": make an existing env exactly an env file's (lock) package set.
Kind = Literal["create", "install", "remove", "update", "update-all", "rollback", "sync"]
KINDS: tuple[Kind, ...] = get_args(Kind)

# Given the plan, say yes or no (the CLI prompts; the server confirms up front).
Confirm = Callable[[Plan], Awaitable[bool] | bool]


@dataclass
class Request:
    kind: Kind
    name: str | None = None
    prefix: str | None = None
    specs: Sequence[str] = ()
    channels: Sequence[str] = ()
    override_channels: bool = False
    dry_run: bool = False
    cmd: str = ""  # what history's `# cmd:` line says
    env_file: EnvFile | None = None  # create -f: YAML, @EXPLICIT or lock file
    revision: int | None = None  # rollback target
    # micromamba's flags (see SolveOptions below for what each does).
    options: SolveOptions = field(default_factory=lambda: SolveOptions())

    def __post_init__(self) -> None:
        # A request sent to the server's worker travels as JSON (dataclasses.asdict): its
        # options come back as a mapping.
        if isinstance(self.options, dict):
            self.options = SolveOptions(**self.options)


@dataclass(frozen=True)
class SolveOptions:
    """How a create/install/update/remove deviates from the default, as micromamba's flags."""

    no_deps: bool = False  # link only the named packages, not their new dependencies
    only_deps: bool = False  # link the named packages' dependencies, not the packages
    freeze_installed: bool = False  # installed packages may not change (exact specs)
    no_pin: bool = False  # ignore conda-meta/pinned
    platform: str | None = None  # solve and create for this subdir (platforms.py)
    copy: bool = False  # copy files instead of hard links into the cache
    force: bool = False  # remove: only the named packages, what depends on them stays
    no_prune: bool = False  # remove: keep the dependencies nothing needs any more


@dataclass
class Outcome:
    env: Env
    plan: Plan
    applied: bool
    channel_alias: str
    notes: list[str] = field(default_factory=list)
    # How files from a read-only (site) package cache arrived, when any did: linked or copied.
    links: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env.to_json(),
            "plan": self.plan.to_json(self.channel_alias),
            "applied": self.applied,
            "notes": self.notes,
            "links": self.links,
        }

    def took_links(self, report: LinkReport) -> None:
        """Say how the site cache's files arrived (`linked`, `copied (N MB: ...)`)."""
        self.notes += report.notes
        if report.site_packages:
            self.links = report.to_json()
            self.notes.append(f"Files from the site package cache: {report.text}")


def _always_yes(_plan: Plan) -> bool:
    return True


def _dependents(installed: Sequence[rattler.PrefixRecord], names: set[str]) -> set[str]:
    """Installed packages that need any of `names`, transitively (they go when those go)."""
    gone = set(names)
    changed = True
    while changed:
        changed = False
        for record in installed:
            name = record.name.normalized
            if name in gone:
                continue
            for dep in record.depends:
                if dependency_name(dep) in gone:
                    gone.add(name)
                    changed = True
                    break
    return gone


def _keep_closure(
    installed: Sequence[rattler.PrefixRecord], roots: set[str]
) -> list[rattler.PrefixRecord]:
    """The installed records the remaining requested packages need, following `depends`."""
    return dependency_closure(installed, roots)


def _user_specs(
    prefix: Path, installed: Sequence[rattler.PrefixRecord] | None = None
) -> dict[str, str]:
    """The user's requested specs of the installed packages, by name. Without `installed`,
    the names come from conda-meta's file names (`name-version-build.json`): no record read."""
    specs = requested_specs(prefix)
    if installed is None:
        installed_names = {p.stem.rsplit("-", 2)[0].lower() for p in record_files(prefix)}
    else:
        installed_names = {r.name.normalized for r in installed}
    if not specs:
        # Made by a tool that kept no history: keep every installed package.
        specs = {name: name for name in installed_names}
    # A requested package the user later removed by hand must not come back.
    return {n: s for n, s in specs.items() if n in installed_names}


def _match_specs(
    settings: Settings, specs: dict[str, str], new: Sequence[Spec]
) -> list[rattler.MatchSpec]:
    # History's specs read as they were written (channel names through channel_alias and
    # custom_channels), each replaced by a new spec for its package: specs.kept_specs.
    return [spec.match_spec for spec in kept_specs(specs, new, settings)]


async def _solve_request(
    settings: Settings,
    request: Request,
    env: Env,
    installed: list[rattler.PrefixRecord],
    specs: list[Spec],
    channels: list[str],
    on_event: EventSink,
) -> tuple[list[rattler.RepoDataRecord], list[rattler.MatchSpec]]:
    """The solved package set and the full requested set to record."""
    env_file = request.env_file
    if env_file is not None and env_file.kind == "lock":
        assert env_file.records is not None
        return list(env_file.records), []
    if env_file is not None and env_file.kind == "explicit":
        from .exact_records import explicit_records

        return await explicit_records(settings, env_file.explicit), []
    if request.kind == "create":
        requested = [s.match_spec for s in specs]
        records = await _solve_with_options(
            settings, request, env, installed, channels, requested, [], specs, on_event
        )
        return records, _recorded(request, requested, specs)
    if request.kind == "remove":
        return _plan_removal(settings, env, installed, specs, request.options)
    if request.kind == "rollback":
        assert request.revision is not None
        from .exact_records import revision_records

        records = await revision_records(settings, env.prefix, request.revision)
        # What the user had asked for back then: a later request must not come back.
        wanted = requested_specs(env.prefix, up_to=request.revision)
        return records, [parse_spec(s, settings).match_spec for s in wanted.values()]

    installed_names = {r.name.normalized for r in installed}
    user = _user_specs(env.prefix, installed)
    locked: list[rattler.RepoDataRecord] = list(installed)
    if request.kind == "install":
        requested = _match_specs(settings, user, specs)
    elif request.kind == "update":
        missing = [s.text for s in specs if s.name not in installed_names]
        if missing:
            raise PackageNotInstalled(
                f"Cannot update what is not installed in {env.label}: {', '.join(missing)}. "
                "Use 'envmgr install' to add it."
            )
        names = {s.name for s in specs}
        requested = _match_specs(settings, user, specs)
        locked = [r for r in installed if r.name.normalized not in names]
    else:  # update-all: the user's specs, nothing held back
        requested = _match_specs(settings, user, [])
        locked = []
    records = await _solve_with_options(
        settings, request, env, installed, channels, requested, locked, specs, on_event
    )
    return records, _recorded(request, requested, specs)


async def _solve_with_options(
    settings: Settings,
    request: Request,
    env: Env,
    installed: Sequence[rattler.PrefixRecord],
    channels: list[str],
    requested: list[rattler.MatchSpec],
    locked: Sequence[rattler.RepoDataRecord],
    specs: Sequence[Spec],
    on_event: EventSink,
) -> list[rattler.RepoDataRecord]:
    """The solve of a create/install/update with the env's pins and the request's options
    (SolveOptions): frozen installed packages, another platform, no deps or deps only."""
    options = request.options
    names = {s.name for s in specs}
    pins = [] if options.no_pin else await asyncio.to_thread(read_pins, env.prefix)
    frozen = _frozen_specs(installed, names) if options.freeze_installed else []
    try:
        records = await solve(
            settings,
            channels,
            [*requested, *frozen],
            locked=locked,
            constraints=pins,
            platform=_subdir(options.platform),
            on_event=on_event,
        )
    except Unsatisfiable as exc:
        raise Unsatisfiable(_unsatisfiable_hint(exc.message, env, pins, frozen)) from None
    return _deps_option(options, installed, records, names)


def _frozen_specs(
    installed: Sequence[rattler.PrefixRecord], names: set[str]
) -> list[rattler.MatchSpec]:
    """`--freeze-installed`: each installed package exactly as it is (conda's way: rattler's
    locked packages are only preferences), except the ones this request names."""
    return [
        rattler.MatchSpec(f"{r.name.normalized}=={r.version}={r.build}")
        for r in installed
        if r.name.normalized not in names
    ]


def _unsatisfiable_hint(
    message: str, env: Env, pins: list[rattler.MatchSpec], frozen: list[rattler.MatchSpec]
) -> str:
    """The solver's explanation, and what this env or request added to the problem."""
    if pins:
        listed = ", ".join(str(p) for p in pins)
        message += (
            f"\nThe environment's pins ({pinned_file(env.prefix)}) apply: {listed}. Edit that "
            "file, or pass --no-pin to ignore it for this command."
        )
    if frozen:
        message += (
            "\n--freeze-installed keeps every installed package as it is: drop it to let them move."
        )
    return message


def _deps_option(
    options: SolveOptions,
    installed: Sequence[rattler.PrefixRecord],
    records: list[rattler.RepoDataRecord],
    names: set[str],
) -> list[rattler.RepoDataRecord]:
    """micromamba's --no-deps (the solve's records of the named packages, everything else as
    installed) and --only-deps (the solve without the named packages, unless installed)."""
    before = {r.name.normalized: r for r in installed}
    if options.no_deps:
        picked = {r.name.normalized: r for r in records if r.name.normalized in names}
        return [r for n, r in before.items() if n not in picked] + list(picked.values())
    if options.only_deps:
        kept = [before[n] for n in sorted(names) if n in before]
        return [r for r in records if r.name.normalized not in names] + kept
    return records


def _recorded(
    request: Request, requested: list[rattler.MatchSpec], specs: Sequence[Spec]
) -> list[rattler.MatchSpec]:
    """The requested set to record: with --only-deps the named packages are not installed,
    so they are not requested either (a later solve must not bring them in)."""
    if not request.options.only_deps:
        return requested
    names = {s.name for s in specs}
    return [m for m in requested if m.name is None or m.name.normalized not in names]


def _plan_removal(
    settings: Settings,
    env: Env,
    installed: list[rattler.PrefixRecord],
    specs: list[Spec],
    options: SolveOptions,
) -> tuple[list[rattler.RepoDataRecord], list[rattler.MatchSpec]]:
    """Remove needs no channel (so it works offline, as on a compute node): drop the packages
    and what depends on them, then keep what the remaining requested packages still need.
    `--force` (micromamba's): only the named packages go, nothing else moves. `--no-prune`:
    what depended on them goes, what they needed stays."""
    installed_names = {r.name.normalized for r in installed}
    missing = [s.text for s in specs if s.name not in installed_names]
    if missing:
        raise PackageNotInstalled(
            f"Not installed in {env.label}: {', '.join(missing)}. See 'envmgr list'."
        )
    names = {s.name for s in specs}
    gone = names if options.force else _dependents(installed, names)
    remaining = {n: s for n, s in _user_specs(env.prefix, installed).items() if n not in gone}
    staying = [r for r in installed if r.name.normalized not in gone]
    if options.force or options.no_prune:
        kept: list[rattler.RepoDataRecord] = list(staying)
    else:
        kept = list(_keep_closure(staying, set(remaining)))
    return kept, _match_specs(settings, remaining, [])


def _pins(records: Sequence[rattler.RepoDataRecord]) -> list[str]:
    return [f"{r.name.normalized}=={r.version}={r.build}" for r in records]


def _rollback_history_specs(prefix: Path, revision: int) -> tuple[list[str], list[str]]:
    """History lines that make the requested specs those of `revision` again, so that
    `export --from-history` and later solves forget what was asked for after it."""
    now, then = requested_specs(prefix), requested_specs(prefix, up_to=revision)
    update = [spec for name, spec in then.items() if now.get(name) != spec]
    remove = [spec for name, spec in now.items() if name not in then]
    return update, remove


def _history_specs(request: Request, specs: Sequence[Spec]) -> tuple[list[str], list[str]]:
    texts = [s.text for s in specs]
    if request.options.only_deps:
        return [], []  # the named packages were not installed: not requested (see _recorded)
    if request.kind == "remove":
        return [], texts
    return texts, []


@dataclass(frozen=True)
class Prepared:
    """A request checked whole: what `execute` carries out, with nothing left to validate that
    the request itself could get wrong."""

    request: Request  # with its env file's name, specs and channels merged in
    specs: list[Spec]
    channels: list[str]  # canonical URLs in priority order; [] when nothing is solved
    env: Env  # the existing env, or where a new one goes
    policy: Policy | None


def prepare(settings: Settings, request: Request, policy: Policy | None = None) -> Prepared:
    """Validate a request before anything starts: every 4xx (bad input, forbidden channel or
    package URL, read-only env, unknown env or revision) is raised here; nothing is fetched,
    nothing on disk is changed. Blocking file reads: call it off the event loop."""
    if request.kind not in KINDS:
        raise BadInput(f"Unknown operation {request.kind!r}; use one of {', '.join(KINDS)}.")
    request = _merge_env_file(request)
    specs = parse_specs(request.specs, settings)
    if request.kind in ("install", "remove", "update") and not specs:
        raise BadInput(f"Name at least one package to {request.kind}.")
    if request.kind == "rollback" and (specs or request.revision is None):
        raise BadInput("A rollback takes a revision number and no package names.")
    if request.kind == "update-all" and specs:
        raise BadInput("'update --all' takes no package names.")
    if request.kind == "sync" and (request.env_file is None or request.env_file.kind != "lock"):
        raise BadInput("A sync takes the exact package set of a lock.")
    env_file = request.env_file
    exact = env_file is not None and env_file.kind in ("explicit", "lock")
    # Remove, rollback and exact files never solve: they need no channel (work offline).
    needs_channels = not exact and request.kind not in ("remove", "rollback")
    channels = (
        solver_channels(request.channels, specs, settings, request.override_channels)
        if needs_channels
        else []
    )
    if policy is not None:
        # Policy first: a forbidden channel is refused the same whether it exists or not.
        policy.check_channels(channels)
        policy.check_package_urls([s.url for s in specs if s.url])
        if env_file is not None:
            policy.check_package_urls(exact_file_urls(env_file))
            policy.check_pip(env_file.pip)
    if env_file is not None and env_file.pip_lock:
        # A lock's pip entries: plain name==version, allowed as a pip: section would be.
        from .pip_lock import check_pip_entries

        check_pip_entries(env_file.pip_lock, policy, where=env_file.path)
    check_local_channels(channels)
    if needs_channels:
        require_solver(settings.solver)  # libmamba without libmambapy: say how to get it
    if request.kind == "create":
        env = new_env_target(
            settings, name=request.name, prefix=request.prefix,
            read_only_dirs=policy.read_only_dirs if policy is not None else (),
        )  # fmt: skip
        if policy is not None:
            policy.check_creatable(env)  # read-only rules hold for envs not made yet
    else:
        env = find_env(settings, name=request.name, prefix=request.prefix)
        # Without an admin's policy too: an env this user cannot write (a site env) is refused.
        (policy or Policy()).check_writable(env)
    if needs_channels and request.kind != "create":
        # The channel of a `channel::pkg` spec kept in history is searched too, after the
        # requested ones, as conda and micromamba do; under the same allow list.
        user = _user_specs(env.prefix)
        if request.kind == "update":
            specs = sticky_channels(specs, user, settings)
        kept = kept_channels(kept_specs(user, specs, settings), channels)
        for url, text in kept.items():
            try:
                if policy is not None:
                    policy.check_channels([url])
            except Forbidden as exc:
                raise Forbidden(
                    f"{exc.message} {env.label} asks for a package from it: {text!r}, in its "
                    "history. Install that package from an allowed channel (envmgr install "
                    "NAME -c CHANNEL): that replaces the spec."
                ) from None
        check_local_channels(list(kept))
        channels += kept
    if request.kind == "rollback":
        assert request.revision is not None
        channels_needed = rollback_channels(settings, env.prefix, request.revision)
        if policy is not None:
            policy.check_channels(channels_needed)
    request = _check_options(request, env, specs)
    return Prepared(request, specs, channels, env, policy)


def _check_options(request: Request, env: Env, specs: list[Spec]) -> Request:
    """The request's SolveOptions checked against its kind; the env's platform filled in
    (an env created with --platform keeps solving for it)."""
    options, kind = request.options, request.kind
    solving = kind in ("create", "install", "update")
    if options.no_deps and options.only_deps:
        raise BadInput("--no-deps and --only-deps contradict each other: pass one of them.")
    for flag, used in (
        ("--no-deps", options.no_deps),
        ("--only-deps", options.only_deps),
        ("--freeze-installed", options.freeze_installed),
    ):
        if used and not (solving and specs):
            raise BadInput(f"{flag} applies to create, install or update with package names.")
    if (options.force or options.no_prune) and kind != "remove":
        raise BadInput("--force and --no-prune apply to 'remove' only.")
    platform = parse_platform(options.platform) if options.platform else None
    recorded = env_platform(env.prefix) if kind != "create" else None
    if platform is not None and recorded is not None and str(platform) != str(recorded):
        raise BadInput(
            f"{env.label} was created for {recorded}; it cannot take packages for {platform}. "
            "Drop --platform, or create another environment for that platform."
        )
    platform = platform or recorded
    if platform is not None and is_foreign(platform) and request.env_file is not None:
        if request.env_file.pip or request.env_file.pip_lock:
            raise BadInput(
                f"A pip: section cannot be installed for {platform}: pip would run that "
                "platform's Python here. Drop --platform, or the pip: section."
            )
    if platform is None:
        return request
    return dataclasses.replace(
        request, options=dataclasses.replace(options, platform=str(platform))
    )


def _subdir(platform: str | None) -> rattler.Subdir | None:
    return parse_platform(platform) if platform else None


async def run(
    settings: Settings,
    request: Request,
    *,
    confirm: Confirm = _always_yes,
    on_event: EventSink = ignore_events,
    policy: Policy | None = None,
) -> Outcome:
    """Prepare and execute one request (the CLI's path; the server prepares before a task)."""
    prepared = await asyncio.to_thread(prepare, settings, request, policy)
    return await execute(settings, prepared, confirm=confirm, on_event=on_event)


async def execute(
    settings: Settings,
    prepared: Prepared,
    *,
    confirm: Confirm = _always_yes,
    on_event: EventSink = ignore_events,
) -> Outcome:
    """Carry out a prepared request: lock, recover, solve, plan, confirm, apply, history."""
    request, specs, channels, env = (
        prepared.request,
        prepared.specs,
        prepared.channels,
        prepared.env,
    )
    if request.kind == "create":
        return await _create(settings, prepared, confirm, on_event)
    async with prefix_lock(
        env.prefix, timeout=settings.lock_timeout, on_event=on_event, cmd=request.cmd
    ):
        recovered = await recover_if_needed(settings, env.prefix, on_event, policy=prepared.policy)
        if recovered == "removed":
            raise EnvNotFound(
                f"No environment named {env.label}: it was being created when its process was "
                "killed, and the half-made environment has been removed. Create it again."
            )
        installed = await asyncio.to_thread(read_records, env.prefix)
        records, requested = await _solve_request(
            settings, request, env, installed, specs, channels, on_event
        )
        check_pip_available(records, _pip_lock_lines(request))
        plan = make_plan(env.prefix, installed, records, settings.pkgs_dirs)
        if prepared.policy is not None and request.kind == "rollback":
            # What a rollback links may be downloaded again: from allowed channels only.
            prepared.policy.check_package_urls([r.url for r in plan.to_link])
        on_event(Event("plan", plan.to_json(settings.channel_alias)))
        outcome = Outcome(env, plan, False, settings.channel_alias)
        if request.dry_run or (not plan.empty and not await _ask(confirm, plan)):
            return outcome
        update, remove = _history_specs(request, specs)
        if request.kind == "rollback":
            assert request.revision is not None
            update, remove = _rollback_history_specs(env.prefix, request.revision)
        if request.kind == "sync":
            # An exact set pins every package: those pins are the request (as create -f).
            update = [] if plan.empty else _pins(records)
        if plan.empty:
            # Nothing moves, but the request is remembered (export --from-history, update
            # --all), as conda records a spec that was already satisfied.
            if update or remove:
                await asyncio.to_thread(
                    _commit_history, settings, env.prefix, request, plan, update, remove
                )
            await _install_pip_lock(settings, prepared, on_event)
            return outcome
        _check_offline(settings, plan)
        links = await apply_plan(
            settings,
            plan,
            operation=request.kind,
            created=False,
            requested=requested,
            on_event=on_event,
            policy=prepared.policy,
            copy=request.options.copy,
            platform=_subdir(request.options.platform),
        )
        outcome.took_links(links)
        # On the loop on purpose: once linked, a cancel must not cut the history out (a thread
        # awaited here would be abandoned by a cancel and the task reported "cancelled").
        _commit_history(settings, env.prefix, request, plan, update, remove)
        await _install_pip_lock(settings, prepared, on_event)
        outcome.applied = True
        on_event(Event("done", {"prefix": str(env.prefix)}))
        return outcome


def _commit_history(
    settings: Settings,
    prefix: Path,
    request: Request,
    plan: Plan,
    update: list[str],
    remove: list[str],
) -> None:
    share_records(prefix)  # readable by every user the env's files are (a site env)
    append_history(
        prefix,
        cmd=request.cmd,
        added=plan.to_link,
        removed=plan.to_unlink,
        channel_alias=settings.channel_alias,
        update_specs=update,
        remove_specs=remove,
    )


def exact_file_urls(env_file: EnvFile) -> list[str]:
    """Every package URL an explicit or lock file (or a clone) can make us download."""
    if env_file.records is not None:
        return [r.url for r in env_file.records]
    return [e.url for e in env_file.explicit]


def rollback_channels(settings: Settings, prefix: Path, number: int) -> list[str]:
    """The channels a rollback to revision `number` may read (checked before it starts)."""
    from .exact_records import revision_channels

    revisions = read_history(prefix)
    if not 0 <= number < len(revisions):
        raise BadInput(
            f"Revision {number} does not exist; this environment has revisions 0 to "
            f"{len(revisions) - 1} (see 'envmgr list --revisions')."
        )
    return sorted({channel_url(c, settings) for c in revision_channels(revisions, number)})


def _merge_env_file(request: Request) -> Request:
    """create -f FILE: the file's name, channels and specs join the command line's."""
    env_file = request.env_file
    if env_file is None:
        return request
    if request.kind not in ("create", "sync"):
        raise BadInput("An environment file can only be used with 'create'.")
    name = request.name
    if name is None and request.prefix is None:
        if not env_file.name:
            raise BadInput(f"{env_file.path} names no environment: give one with -n NAME.")
        name = env_file.name
    if env_file.kind in ("explicit", "lock") and request.specs:
        raise BadInput(f"{env_file.path} fixes every package; do not add specs to it.")
    return dataclasses.replace(
        request,
        name=name,
        specs=[*request.specs, *env_file.specs],
        channels=[*request.channels, *env_file.channels],
    )


async def _ask(confirm: Confirm, plan: Plan) -> bool:
    answer = confirm(plan)
    if hasattr(answer, "__await__"):
        answer = await answer
    return bool(answer)


async def _create(
    settings: Settings, prepared: Prepared, confirm: Confirm, on_event: EventSink
) -> Outcome:
    request, specs, env = prepared.request, prepared.specs, prepared.env
    if request.env_file is None and not specs:
        return await _create_empty(settings, prepared, on_event)
    records, requested = await _solve_request(
        settings, request, env, [], specs, prepared.channels, on_event
    )
    pip = request.env_file.pip if request.env_file else []
    check_pip_available(records, [*pip, *_pip_lock_lines(request)])
    plan = make_plan(env.prefix, [], records, settings.pkgs_dirs)
    on_event(Event("plan", plan.to_json(settings.channel_alias)))
    outcome = Outcome(env, plan, False, settings.channel_alias)
    if request.dry_run or not await _ask(confirm, plan):
        return outcome
    _check_offline(settings, plan)
    async with _new_prefix(settings, env, request.cmd, on_event):
        links = await apply_plan(
            settings,
            plan,
            operation="create",
            created=True,
            requested=requested,
            on_event=on_event,
            policy=prepared.policy,
            copy=request.options.copy,
            platform=_subdir(request.options.platform),
        )
        outcome.took_links(links)
        _remember_platform(env.prefix, request)
        if pip:
            await run_pip(env.prefix, pip, on_event, index_urls=_pip_indexes(prepared))
        await _install_pip_lock(settings, prepared, on_event)
        if request.env_file and request.env_file.variables:
            from .activation import write_state_env_vars

            write_state_env_vars(env.prefix, request.env_file.variables)
        update, _ = _history_specs(request, specs)
        if not update and request.env_file is not None:
            # Explicit and lock files pin every package: those pins are the request.
            update = _pins(records)
        await asyncio.to_thread(_commit_history, settings, env.prefix, request, plan, update, [])
    return await _created(settings, env, outcome, on_event)


@contextlib.asynccontextmanager
async def _new_prefix(
    settings: Settings, env: Env, cmd: str, on_event: EventSink
) -> AsyncIterator[None]:
    """A new env's folder, made and locked for the create; removed again when the create
    fails, but only once this create has claimed it."""
    env.prefix.parent.mkdir(parents=True, exist_ok=True)
    env.prefix.mkdir(exist_ok=True)  # an empty folder given with -p is fine
    owned = False
    try:
        async with prefix_lock(
            env.prefix, timeout=settings.lock_timeout, on_event=on_event, cmd=cmd
        ):
            # Of two creates of one name, the second gets the lock after the first made the
            # env: it must find it taken, not link into it.
            if not _holds_nothing(env.prefix):
                raise EnvExists(f"{env.prefix} was created by someone else meanwhile.")
            owned = True
            yield
    except BaseException:
        if owned:
            shutil.rmtree(env.prefix, ignore_errors=True)
        raise


async def _created(settings: Settings, env: Env, outcome: Outcome, on_event: EventSink) -> Outcome:
    """A new env is whole: registered (environments.txt, as conda does) and said done."""
    await asyncio.to_thread(register_env, settings, env.prefix)
    outcome.applied = True
    on_event(Event("done", {"prefix": str(env.prefix)}))
    return outcome


EMPTY_ENV_NOTE = "empty"


def _remember_platform(prefix: Path, request: Request) -> None:
    """An env created for another platform says so where conda and micromamba look."""
    platform = _subdir(request.options.platform)
    if platform is not None and is_foreign(platform):
        write_env_platform(prefix, platform)


def _check_offline(settings: Settings, plan: Plan) -> None:
    """--offline: every package to link is in the package cache or on a local channel;
    what is missing is named before anything changes."""
    if not settings.offline:
        return
    missing = [r for r in plan.downloads if not str(r.url).startswith("file:")]
    if missing:
        listed = ", ".join(f"{r.name.normalized}-{r.version}-{r.build} ({r.url})" for r in missing)
        raise BadInput(
            f"Offline, and the package cache ({settings.pkgs_dir}) does not hold: {listed}. "
            "Nothing was changed. Run the command once without --offline to download them."
        )


async def _create_empty(settings: Settings, prepared: Prepared, on_event: EventSink) -> Outcome:
    """`create -n X` with no package: an empty env (conda-meta/history), as micromamba makes
    one. Nothing is solved or downloaded, so there is nothing to confirm; `install` fills it."""
    request, env = prepared.request, prepared.env
    plan = make_plan(env.prefix, [], [], settings.pkgs_dirs)
    outcome = Outcome(env, plan, False, settings.channel_alias, notes=[EMPTY_ENV_NOTE])
    if request.dry_run:
        return outcome
    async with _new_prefix(settings, env, request.cmd, on_event):
        # The history is what makes a folder an env for conda, micromamba and us.
        await asyncio.to_thread(_commit_history, settings, env.prefix, request, plan, [], [])
        _remember_platform(env.prefix, request)
    return await _created(settings, env, outcome, on_event)


def _pip_lock_lines(request: Request) -> list[str]:
    return [e.requirement for e in request.env_file.pip_lock] if request.env_file else []


async def _install_pip_lock(settings: Settings, prepared: Prepared, on_event: EventSink) -> None:
    """A lock's pip packages, after its conda packages are linked: those the env does not
    already hold at the locked version (a sync of an unchanged env runs no pip)."""
    env_file = prepared.request.env_file
    if env_file is None or not env_file.pip_lock:
        return
    from .pip_lock import install_pip_entries, not_installed

    missing = await asyncio.to_thread(not_installed, prepared.env.prefix, env_file.pip_lock)
    await install_pip_entries(
        settings, prepared.env.prefix, missing, prepared.policy, on_event=on_event
    )


def _pip_indexes(prepared: Prepared) -> tuple[str, ...]:
    return prepared.policy.pip_index_urls if prepared.policy is not None else ()


def _holds_nothing(prefix: Path) -> bool:
    """Nothing but our own bookkeeping in it: a folder about to become an env."""
    try:
        entries = list(prefix.iterdir())
        meta = list((prefix / META).iterdir()) if (prefix / META).is_dir() else []
    except OSError:
        return False
    return all(e.name == META for e in entries) and all(m.name.startswith("envmgr") for m in meta)


def _is_unfinished_create(prefix: Path) -> bool:
    """A create killed before its journal was written leaves conda-meta/ holding nothing but
    our own bookkeeping: no record, no history (every env we or conda make has a history)."""
    return (prefix / META).is_dir() and _holds_nothing(prefix)


Recovery = Literal["none", "restored", "removed"]


async def recover_if_needed(
    settings: Settings, prefix: Path, on_event: EventSink, *, policy: Policy | None = None
) -> Recovery:
    """Finish what a killed process left: called with the env's lock held. A killed create is
    undone by removing the half-made env (it never existed for the user). What the restore
    must download again comes from channels `policy` allows only."""
    recovery, _relinked = await _recover(settings, prefix, on_event, policy)
    return recovery


async def _recover(
    settings: Settings, prefix: Path, on_event: EventSink, policy: Policy | None
) -> tuple[Recovery, list[str]]:
    """`recover_if_needed`, and the names of the packages the restore linked again."""
    journal = read_journal(prefix)
    if journal is None and _is_unfinished_create(prefix):
        await asyncio.to_thread(shutil.rmtree, prefix, True)
    elif has_pending_journal(prefix):
        relinked = await restore(settings, prefix, on_event, policy=policy)
        if not (journal is not None and journal.get("created")):
            return "restored", relinked
    else:
        return "none", []
    unregister_env(settings, prefix)
    on_event(Event("restored", {"prefix": str(prefix), "removed": True}))
    return "removed", []


@dataclass(frozen=True)
class Repaired:
    """What `repair` did; true when it did something."""

    recovery: Recovery
    relinked: list[str] = field(default_factory=list)  # packages linked again, by name

    def __bool__(self) -> bool:
        return self.recovery != "none"


async def repair(
    settings: Settings,
    env: Env,
    on_event: EventSink = ignore_events,
    *,
    policy: Policy | None = None,
) -> Repaired:
    """Take the lock and restore an interrupted operation, if any. A read-only env (admin
    policy or file permissions) is refused before the lock is taken: nothing is written."""
    _check_repairable(env, policy)
    async with prefix_lock(env.prefix, timeout=settings.lock_timeout, on_event=on_event):
        recovery, relinked = await _recover(settings, env.prefix, on_event, policy)
    return Repaired(recovery, relinked)


def _check_repairable(env: Env, policy: Policy | None) -> None:
    meta = env.prefix / META
    if meta.is_dir() and not os.access(meta, os.W_OK):
        if on_read_only_filesystem(meta):
            raise Forbidden(
                f"The environment {env.label} is read-only: it is on a read-only filesystem, "
                "and a repair writes into it (its lock and journal). An administrator who can "
                f"mount it writable can run 'envmgr repair -p {env.prefix}' there."
            )
        raise Forbidden(
            f"The environment {env.label} is read-only for you: you cannot write to {meta}, "
            "and a repair writes there (its lock and journal). Its owner "
            f"({_owner_of(meta)}) or an administrator can run 'envmgr repair -p {env.prefix}'."
        )
    if policy is not None and policy.is_read_only(env):
        raise Forbidden(
            f"The environment {env.label} is read-only on this server (admin policy), so "
            "'envmgr repair' does not write into it. An administrator of the server, who "
            "manages the environment, can repair it."
        )


def _owner_of(path: Path) -> str:
    try:
        uid = path.stat().st_uid
    except OSError:
        return "unknown"
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):
        return f"uid {uid}"


def check_removable(env: Env, policy: Policy | None = None) -> None:
    """What `env remove` refuses, before anything starts."""
    if env.is_root:
        raise BadInput("The root environment (base) cannot be removed.")
    (policy or Policy()).check_writable(env)


async def remove_env(settings: Settings, env: Env, on_event: EventSink = ignore_events) -> None:
    """Delete an env (never the root prefix), under its lock so no operation is cut in half."""
    check_removable(env)
    if env.prefix.is_symlink():
        # An env dir that links elsewhere (e.g. to scratch): remove the link, never what an
        # admin or the user put behind it.
        target = os.path.realpath(env.prefix)
        env.prefix.unlink()
        unregister_env(settings, env.prefix)
        on_event(Event("done", {"prefix": str(env.prefix), "removed": True, "kept": target}))
        return
    async with prefix_lock(env.prefix, timeout=settings.lock_timeout, on_event=on_event):
        # Moving it aside first makes the removal look atomic to listings and kernels.
        trash = env.prefix.with_name(f".{env.prefix.name}.removing")
        shutil.rmtree(trash, ignore_errors=True)
        env.prefix.rename(trash)
        shutil.rmtree(trash, ignore_errors=True)
    unregister_env(settings, env.prefix)
    on_event(Event("done", {"prefix": str(env.prefix), "removed": True}))
