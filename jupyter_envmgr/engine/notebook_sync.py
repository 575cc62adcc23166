"""`notebook sync`: make (or update) the env a notebook carries, on this machine.

The lock is a notebook's word, from anyone: a sync changes an existing env only when `notebook
sync` created that env here for the same lock id (its marker, notebook_env.mark_env, says so).
Which env, in order, for the lock's `env_name` (`-n NAME` picks the name instead, and is the
user's own choice):

1. `env_name`, then `<env_name>-<lock id>`, then `<env_name>-<lock id>-2`, ...: the first that
   does not exist is created; one that sync created for this lock is updated; one that already
   has exactly the locked packages is used as it is (nothing is done, nothing is marked).
   Any other env is left alone, and the outcome's notes say so.
2. Already in sync: nothing is done and no revision is added. A platform the lock does not
   cover: the recorded specs are solved from the recorded channels, and the notes say so.

`prepare_sync` makes every check a sync can fail before anything is fetched (bad names, the
admin's allow list for every channel and URL, the env choice, read-only envs) and says what the
sync will do and where it will fetch from: the CLI shows that before asking, the server answers
it for a dry run and raises its 4xx before a task starts. `sync_lock` prepares and executes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import operations
from .envfile import EnvFile
from .errors import BadInput, EnvNotFound
from .notebook_env import (
    LockDiff,
    NotebookLock,
    copy_name,
    current_platform,
    is_copy_of,
    lock_diff,
    locked_records,
    mark_env,
    notebook_identity,
    read_lock,
    read_notebook,
)
from .policy import Policy
from .progress import EventSink, ignore_events
from .registry import Env, find_env, new_env_target, validate_env_name
from .settings import Settings
from .urls import package_channel, parse_url

SyncAction = Literal["create", "update", "none"]
MAX_COPIES = 20  # <env_name>-<id>, -2, ... -20: past that, name the env with -n NAME


@dataclass
class SyncOutcome:
    env: Env
    changed: bool  # False: it was in sync already (no new revision)
    solved: bool  # True: this platform was not locked; the specs were solved
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env.to_json(),
            "changed": self.changed,
            "solved": self.solved,
            "notes": self.notes,
        }


@dataclass
class PreparedSync:
    """A sync checked whole, not run: which env, created or updated, what changes, and the
    channels and hosts it may fetch from (a package already in the cache is not fetched)."""

    lock: NotebookLock
    target: str  # the env's name
    env: Env | None  # the existing env (update, none); None: it is created
    action: SyncAction
    owned: bool  # sync created `env` for this lock (or creates it now): mark it as such
    diff: LockDiff | None  # the exact changes; None when the specs are solved (unlocked)
    channels: list[str]
    hosts: list[str]
    notes: list[str]
    solve: operations.Prepared | None = None  # unlocked platform: the checked solve request

    @property
    def solved(self) -> bool:
        return self.lock.entries is None

    def summary(self) -> str:
        """One line: `create 'data' (12 packages)`, `update 'data': remove 2 packages, add 1`."""
        if self.action == "none":
            return f"'{self.target}' already matches the notebook: nothing to do"
        if self.diff is None:
            verb = "create" if self.action == "create" else "update"
            return f"{verb} '{self.target}': solve {', '.join(self.lock.specs)}"
        if self.action == "create":
            return f"create '{self.target}' ({_count(len(self.diff.add))})"
        counts = [
            (verb, n)
            for verb, n in (
                ("remove", len(self.diff.remove)),
                ("add", len(self.diff.add)),
                ("change", len(self.diff.change)),
            )
            if n
        ]
        # "remove 2 packages, add 1": the unit once, on the first count
        parts = [f"{verb} {_count(n) if i == 0 else n}" for i, (verb, n) in enumerate(counts)]
        return f"update '{self.target}': {', '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        return {
            "env_name": self.target,
            "env": self.env.to_json() if self.env is not None else None,
            "action": self.action,
            "summary": self.summary(),
            "solved": self.solved,
            "add": self.diff.add if self.diff else [],
            "remove": self.diff.remove if self.diff else [],
            "change": self.diff.change if self.diff else [],
            "specs": self.lock.specs if self.solved else [],
            "channels": self.channels,
            "hosts": self.hosts,
            "notes": self.notes,
        }


def _count(n: int) -> str:
    return f"{n} package" if n == 1 else f"{n} packages"


def _existing(settings: Settings, name: str) -> Env | None:
    try:
        return find_env(settings, name=name)
    except EnvNotFound:
        return None


def _valid_name(name: str, whose: str) -> None:
    try:
        validate_env_name(name)
    except BadInput as exc:
        raise BadInput(
            f"{whose} {name!r} cannot be synced: {exc.message} Give another name "
            "(envmgr notebook sync NOTEBOOK -n NAME, or 'name' in the request)."
        ) from None


def choose_env(
    settings: Settings, lock: NotebookLock, name: str | None
) -> tuple[str, Env | None, list[str]]:
    """The env name to sync into, the env if it exists, and notes on envs left alone.
    Blocking (reads records)."""
    if name is not None:
        _valid_name(name, "The environment name")
        return name, _existing(settings, name), []
    _valid_name(lock.env_name, "The notebook's environment")
    base = copy_name(lock)
    candidates = [lock.env_name, base, *(f"{base}-{i}" for i in range(2, MAX_COPIES + 1))]
    passed: list[str] = []
    for candidate in candidates:
        env = _existing(settings, candidate)
        if env is None or is_copy_of(env.prefix, lock):
            break
        if lock.entries is not None and lock_diff(env.prefix, lock.entries).empty:
            break  # exactly the lock: used as it is (and never marked as the notebook's)
        passed.append(candidate)
    else:
        raise BadInput(
            f"The environments {lock.env_name} and {base}... here were not made by notebook "
            "sync for this notebook: name the environment to make with -n NAME."
        )
    notes = []
    if passed:
        names = ", ".join(f"'{p}'" for p in passed)
        notes.append(
            f"The existing environment {names} was not made by notebook sync for this "
            f"notebook, so it is left alone: the notebook's environment here is '{candidate}'."
        )
    return candidate, env, notes


def _hosts(urls: list[str]) -> list[str]:
    hosts = set()
    for url in urls:
        parsed = parse_url(url)
        if parsed.scheme == "file":
            hosts.add("this machine (file://)")
        else:
            hosts.add(parsed.host if parsed.port is None else f"{parsed.host}:{parsed.port}")
    return sorted(hosts)


def prepare_sync(
    settings: Settings,
    lock: NotebookLock,
    name: str | None = None,
    policy: Policy | None = None,
    *,
    cmd: str = "",
) -> PreparedSync:
    """Check a sync whole and say what it would do; nothing is fetched or written. Raises every
    4xx the sync can meet: bad names, the allow list (channels, package URLs, `channel::` and
    `[url=]` in the specs of an unlocked platform), a read-only env. Blocking (reads records)."""
    check_lock(lock, policy)
    target, env, notes = choose_env(settings, lock, name)
    owned = env is None or is_copy_of(env.prefix, lock)
    if lock.entries is None:
        notes.append(
            f"The notebook's environment is not locked for {current_platform()}: its specs are "
            "solved from its channels, so versions may differ from the original."
        )
        request = operations.Request(
            kind="install" if env is not None else "create",
            name=target,
            specs=lock.specs,
            channels=lock.channels,
            override_channels=True,
            cmd=cmd,
        )
        solve = operations.prepare(settings, request, policy)
        urls = [*solve.channels, *(s.url for s in solve.specs if s.url)]
        action: SyncAction = "update" if env is not None else "create"
        return PreparedSync(
            lock, target, env, action, owned, None, solve.channels, _hosts(urls), notes, solve
        )
    diff = lock_diff(env.prefix if env is not None else None, lock.entries)
    if env is None:
        new_env_target(settings, name=target)  # a free name, in a writable envs dir
        action = "create"
    elif diff.empty:
        action = "none"
    else:
        if policy is not None:
            policy.check_writable(env)
        action = "update"
    changed = {line.split(":", 1)[0] for line in diff.change}
    added = {dist.rsplit("-", 2)[0] for dist in diff.add}
    urls = [e.url for e in lock.entries if e.name in added or e.name in changed]
    channels = sorted({package_channel(u) for u in urls})
    return PreparedSync(lock, target, env, action, owned, diff, channels, _hosts(urls), notes)


async def sync_notebook(
    settings: Settings,
    path: str | Path,
    *,
    name: str | None = None,
    policy: Policy | None = None,
    on_event: EventSink = ignore_events,
    cmd: str = "",
) -> SyncOutcome:
    nb = await asyncio.to_thread(read_notebook, path)
    lock = read_lock(nb, str(path), where=notebook_identity(path))
    return await sync_lock(
        settings, lock, str(path), name=name, policy=policy, on_event=on_event, cmd=cmd
    )


def check_lock(lock: NotebookLock, policy: Policy | None) -> None:
    """Before anything is fetched: the lock's channels and every package URL."""
    if policy is not None:
        policy.check_channels(lock.channels)
        policy.check_package_urls([e.url for e in lock.entries or []])


async def sync_lock(
    settings: Settings,
    lock: NotebookLock,
    source: str,
    *,
    name: str | None = None,
    policy: Policy | None = None,
    on_event: EventSink = ignore_events,
    cmd: str = "",
) -> SyncOutcome:
    """Prepare (every check) and execute a sync."""
    prepared = await asyncio.to_thread(prepare_sync, settings, lock, name, policy, cmd=cmd)
    return await execute_sync(settings, prepared, source, policy=policy, on_event=on_event, cmd=cmd)


async def execute_sync(
    settings: Settings,
    prepared: PreparedSync,
    source: str,
    *,
    policy: Policy | None = None,
    on_event: EventSink = ignore_events,
    cmd: str = "",
) -> SyncOutcome:
    """Carry out a prepared sync: fetch what the cache lacks, checked, and make the env."""
    lock, notes = prepared.lock, list(prepared.notes)
    if prepared.action == "none":
        assert prepared.env is not None
        return SyncOutcome(prepared.env, changed=False, solved=False, notes=notes)
    if prepared.solve is not None:
        outcome = await operations.execute(settings, prepared.solve, on_event=on_event)
    else:
        assert lock.entries is not None
        records = await locked_records(settings, lock.entries, source)
        request = operations.Request(
            kind="sync" if prepared.env is not None else "create",
            name=prepared.target,
            env_file=EnvFile("lock", source, records=records),
            cmd=cmd,
        )
        outcome = await operations.run(settings, request, on_event=on_event, policy=policy)
    if prepared.owned and outcome.applied:
        await asyncio.to_thread(mark_env, outcome.env.prefix, lock)
    return SyncOutcome(outcome.env, changed=outcome.applied, solved=prepared.solved, notes=notes)
