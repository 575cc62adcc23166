"""`notebook sync`: make (or update) the env a notebook carries, on this machine.

Which env: `-n NAME` when given; else the env the notebook was locked from (`env_name`), when
it does not exist yet, is already this notebook's copy, or already has exactly the locked
packages; else (that name is another env) `<env_name>-<lock id>`. Already in sync: nothing is
done and no revision is added. A platform the lock does not cover: the recorded specs are
solved from the recorded channels, and the outcome says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import operations
from .envfile import EnvFile
from .errors import EnvNotFound
from .notebook_env import (
    NotebookLock,
    copy_name,
    current_platform,
    in_sync,
    is_copy_of,
    locked_records,
    mark_env,
    read_lock,
    read_notebook,
)
from .policy import Policy
from .progress import EventSink, ignore_events
from .registry import Env, find_env
from .settings import Settings


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


def _existing(settings: Settings, name: str) -> Env | None:
    try:
        return find_env(settings, name=name)
    except EnvNotFound:
        return None


def choose_env(settings: Settings, lock: NotebookLock, name: str | None) -> tuple[str, Env | None]:
    """The env name to sync into, and the env if it exists."""
    if name is not None:
        return name, _existing(settings, name)
    env = _existing(settings, lock.env_name)
    if env is None or is_copy_of(env.prefix, lock):
        return lock.env_name, env
    if lock.entries is not None and in_sync(env.prefix, lock.entries):
        return lock.env_name, env
    other = copy_name(lock)
    return other, _existing(settings, other)


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
    lock = read_lock(nb, str(path))
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
    check_lock(lock, policy)
    target, env = await asyncio.to_thread(choose_env, settings, lock, name)
    if lock.entries is None:
        return await _solve_specs(settings, lock, target, env, policy, on_event, cmd)
    if env is not None and await asyncio.to_thread(in_sync, env.prefix, lock.entries):
        if policy is None or not policy.is_read_only(env):
            await asyncio.to_thread(mark_env, env.prefix, lock)
        return SyncOutcome(env, changed=False, solved=False)
    records = await locked_records(settings, lock.entries, source)
    request = operations.Request(
        kind="sync" if env is not None else "create",
        name=target,
        env_file=EnvFile("lock", source, records=records),
        cmd=cmd,
    )
    outcome = await operations.run(settings, request, on_event=on_event, policy=policy)
    await asyncio.to_thread(mark_env, outcome.env.prefix, lock)
    return SyncOutcome(outcome.env, changed=outcome.applied, solved=False)


async def _solve_specs(
    settings: Settings,
    lock: NotebookLock,
    target: str,
    env: Env | None,
    policy: Policy | None,
    on_event: EventSink,
    cmd: str,
) -> SyncOutcome:
    note = (
        f"The notebook's environment is not locked for {current_platform()}: its specs were "
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
    outcome = await operations.run(settings, request, on_event=on_event, policy=policy)
    await asyncio.to_thread(mark_env, outcome.env.prefix, lock)
    return SyncOutcome(outcome.env, changed=outcome.applied, solved=True, notes=[note])
