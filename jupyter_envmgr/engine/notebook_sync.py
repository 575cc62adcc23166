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

Faces call `prepare_sync` with a `NotebookSyncRequest` (the notebook's metadata, its path,
`-n NAME`): it makes every check a sync can fail before anything
is fetched (the lock, bad names, the admin's allow list for every channel and URL, the env
choice, read-only envs) and says what the sync will do and where it will fetch from: the CLI
shows that before asking, the server answers it for a dry run and raises its 4xx before a task
starts. The env change it decides on is an ordinary `operations.prepare`d create, install or
sync, so it meets every check any change meets. `execute_sync` carries the decision out, in the
server's child process from its JSON (`PreparedSync.to_job`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from . import operations
from .envfile import EnvFile
from .errors import BadInput, EnvNotFound
from .notebook_env import (
    LockDiff,
    LockedEntry,
    NotebookLock,
    copy_name,
    current_platform,
    is_copy_of,
    lock_diff,
    locked_records,
    mark_env,
    read_lock,
)
from .pip_lock import PipLockEntry, check_pip_entries
from .policy import Policy
from .progress import EventSink, ignore_events
from .registry import Env, find_env, validate_env_name
from .settings import Settings
from .specs import parse_specs
from .urls import package_channel, parse_url


@dataclass(frozen=True)
class NotebookSyncRequest:
    """`notebook sync`: make or update, here, the env a notebook carries. `prepare_sync` turns
    it into a PreparedSync (every check, the env chosen), `execute_sync` into a SyncOutcome. A
    request of its own, not an operations `Kind`: what it decides is which env to change and
    how, and that change is then an ordinary `operations.prepare`d create, install or sync."""

    metadata: Mapping[str, Any]  # the notebook's metadata, untrusted: `envmgr` holds its lock
    source: str = "the notebook"  # what messages call the notebook (its path, or this)
    where: str | None = None  # the notebook file's real path (notebook_env.notebook_identity)
    name: str | None = None  # the env to make or update (-n NAME); None: the notebook's choice
    cmd: str = ""  # what history's `# cmd:` line says


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
    channels and hosts it may fetch from (a package already in the cache is not fetched).
    `step` is the env change itself, prepared by `operations.prepare` like any other: an exact
    set (a locked platform: `create`, or `sync` of an existing env) or a solve (`create` or
    `install` of the recorded specs); None when the env already matches."""

    lock: NotebookLock
    source: str  # what messages call the notebook
    target: str  # the env's name
    env: Env | None  # the existing env (update, none); None: it is created
    action: SyncAction
    owned: bool  # sync created `env` for this lock (or creates it now): mark it as such
    diff: LockDiff | None  # the exact changes; None when the specs are solved (unlocked)
    channels: list[str]
    hosts: list[str]
    notes: list[str]
    step: operations.Prepared | None = None

    @property
    def solved(self) -> bool:
        return self.lock.entries is None

    @property
    def prefix(self) -> Path | None:
        """Where the env is or is made: what a crash may leave half-changed (None: nothing
        is changed)."""
        return self.step.env.prefix if self.step is not None else None

    def summary(self) -> str:
        """One line: `create 'data' (12 packages)`, `update 'data': remove 2 packages, add 1`."""
        if self.action == "none":
            return f"'{self.target}' already matches the notebook: nothing to do"
        if self.diff is None:
            verb = "create" if self.action == "create" else "update"
            return f"{verb} '{self.target}': solve {', '.join(self.lock.specs)}"
        if self.action == "create":
            pip = f", {len(self.diff.pip)} with pip" if self.diff.pip else ""
            return f"create '{self.target}' ({_count(len(self.diff.add))}{pip})"
        counts = [
            (verb, n)
            for verb, n in (
                ("remove", len(self.diff.remove)),
                ("add", len(self.diff.add)),
                ("change", len(self.diff.change)),
                ("pip install", len(self.diff.pip)),
            )
            if n
        ]
        # "remove 2 packages, add 1": the unit once, on the first count
        parts = [f"{verb} {_count(n) if i == 0 else n}" for i, (verb, n) in enumerate(counts)]
        return f"update '{self.target}': {', '.join(parts)}"

    def to_json(self) -> dict[str, Any]:
        """The preview (a dry run's answer, what the CLI shows before it asks)."""
        return {
            "env_name": self.target,
            "env": self.env.to_json() if self.env is not None else None,
            "action": self.action,
            "summary": self.summary(),
            "solved": self.solved,
            "add": self.diff.add if self.diff else [],
            "remove": self.diff.remove if self.diff else [],
            "change": self.diff.change if self.diff else [],
            "pip": self.diff.pip if self.diff else [],
            "specs": self.lock.specs if self.solved else [],
            "channels": self.channels,
            "hosts": self.hosts,
            "notes": self.notes,
        }

    # The server executes a sync in a child process (engine/worker.py): the decision travels
    # there whole, as JSON, and is executed as it is. Nothing is chosen or checked again in the
    # child (which env, whether it is the notebook's, the allow list, read-only envs): the env
    # the task names is the env it changes. Only the specs of a solve are parsed again from
    # their texts, a pure function of the text and the job's settings (rattler's MatchSpec
    # objects are not JSON).

    def to_job(self) -> dict[str, Any]:
        return {
            "lock": dataclasses.asdict(self.lock),
            "source": self.source,
            "target": self.target,
            "env": self.env.to_json() if self.env is not None else None,
            "action": self.action,
            "owned": self.owned,
            "diff": dataclasses.asdict(self.diff) if self.diff is not None else None,
            "channels": self.channels,
            "hosts": self.hosts,
            "notes": self.notes,
            "step": _step_job(self.step) if self.step is not None else None,
        }

    @classmethod
    def from_job(
        cls, data: dict[str, Any], settings: Settings, policy: Policy | None
    ) -> PreparedSync:
        lock_fields = dict(data["lock"])
        entries = lock_fields.pop("entries")
        pip = lock_fields.pop("pip", [])
        lock = NotebookLock(
            **lock_fields,
            entries=None if entries is None else [LockedEntry(**e) for e in entries],
            pip=[PipLockEntry(**e) for e in pip],
        )
        step = None
        if data["step"] is not None:
            request = operations.Request(**data["step"]["request"])
            step = operations.Prepared(
                request,
                parse_specs(request.specs, settings),
                list(data["step"]["channels"]),
                _env(data["step"]["env"]),
                policy,
            )
        return cls(
            lock=lock,
            source=data["source"],
            target=data["target"],
            env=_env(data["env"]) if data["env"] is not None else None,
            action=data["action"],
            owned=data["owned"],
            diff=LockDiff(**data["diff"]) if data["diff"] is not None else None,
            channels=list(data["channels"]),
            hosts=list(data["hosts"]),
            notes=list(data["notes"]),
            step=step,
        )


def _step_job(step: operations.Prepared) -> dict[str, Any]:
    # Its policy is the job's own; the exact set's records are fetched at execution, so the
    # env file (empty until then) is not sent either.
    request = {
        f.name: _plain(getattr(step.request, f.name))
        for f in dataclasses.fields(step.request)
        if f.name != "env_file"
    }
    return {"request": request, "channels": step.channels, "env": step.env.to_json()}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)  # the request's options (Request reads them back)
    return list(value) if isinstance(value, tuple) else value


def _env(data: dict[str, Any]) -> Env:
    return Env(Path(data["prefix"]), data["name"], bool(data["is_root"]))


def _count(n: int) -> str:
    return f"{n} package" if n == 1 else f"{n} packages"


def existing_env(settings: Settings, name: str) -> Env | None:
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
        return name, existing_env(settings, name), []
    _valid_name(lock.env_name, "The notebook's environment")
    base = copy_name(lock)
    candidates = [lock.env_name, base, *(f"{base}-{i}" for i in range(2, MAX_COPIES + 1))]
    passed: list[str] = []
    for candidate in candidates:
        env = existing_env(settings, candidate)
        if env is None or is_copy_of(env.prefix, lock):
            break
        if lock.entries is not None and lock_diff(env.prefix, lock.entries, lock.pip).empty:
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
    settings: Settings, request: NotebookSyncRequest, policy: Policy | None = None
) -> PreparedSync:
    """Check a sync whole and say what it would do; nothing is fetched or written. Raises every
    4xx the sync can meet: a bad lock, bad names, the allow list (channels, package URLs,
    `channel::` and `[url=]` in the specs of an unlocked platform), the env choice, a read-only
    env or one the policy would make read-only. Blocking (reads records). The entry every face
    uses."""
    lock = read_lock({"metadata": request.metadata}, request.source, where=request.where)
    check_lock(lock, policy, request.source)
    target, env, notes = choose_env(settings, lock, request.name)
    owned = env is None or is_copy_of(env.prefix, lock)
    if lock.entries is None:
        notes.append(
            f"The notebook's environment is not locked for {current_platform()}: its specs are "
            "solved from its channels, so versions may differ from the original."
        )
        solve = operations.prepare(
            settings,
            operations.Request(
                kind="install" if env is not None else "create",
                name=target,
                specs=lock.specs,
                channels=lock.channels,
                override_channels=True,
                cmd=request.cmd,
            ),
            policy,
        )
        urls = [*solve.channels, *(s.url for s in solve.specs if s.url)]
        action: SyncAction = "update" if env is not None else "create"
        return PreparedSync(
            lock, request.source, target, env, action, owned, None, solve.channels,
            _hosts(urls), notes, solve,
        )  # fmt: skip
    diff = lock_diff(env.prefix if env is not None else None, lock.entries, lock.pip)
    step = None
    if env is not None and diff.empty:
        action = "none"  # nothing is written, so nothing more to check
    else:
        action = "update" if env is not None else "create"
        # The exact set is prepared as any create or sync is (a free name in a writable envs
        # dir, the policy's read-only rules, for envs not made yet too). Its records come from
        # the cache or the channels, checked against the lock, when it is executed: until then
        # the env file carries none (check_lock has checked the URLs they come from).
        step = operations.prepare(
            settings,
            operations.Request(
                kind="sync" if env is not None else "create",
                name=target,
                env_file=EnvFile("lock", request.source, pip_lock=tuple(lock.pip)),
                cmd=request.cmd,
            ),
            policy,
        )
    changed = {line.split(":", 1)[0] for line in diff.change}
    added = {dist.rsplit("-", 2)[0] for dist in diff.add}
    urls = [e.url for e in lock.entries if e.name in added or e.name in changed]
    channels = sorted({package_channel(u) for u in urls})
    return PreparedSync(
        lock, request.source, target, env, action, owned, diff, channels, _hosts(urls), notes,
        step,
    )  # fmt: skip


def check_lock(lock: NotebookLock, policy: Policy | None, source: str = "the notebook") -> None:
    """Before anything is fetched: the lock's channels, every package URL, and its pip
    packages (plain name==version, under the admin's pip rules, as a `pip:` section)."""
    if policy is not None:
        policy.check_channels(lock.channels)
        policy.check_package_urls([e.url for e in lock.entries or []])
    check_pip_entries(lock.pip, policy, where=f"{source}'s embedded environment")


async def execute_sync(
    settings: Settings, prepared: PreparedSync, *, on_event: EventSink = ignore_events
) -> SyncOutcome:
    """Carry out a prepared sync (`operations.execute` calls it): fetch what the cache lacks,
    checked against the lock, and make the env. Nothing prepare decided is checked again."""
    lock, notes, step = prepared.lock, list(prepared.notes), prepared.step
    if step is None:
        assert prepared.env is not None
        return SyncOutcome(prepared.env, changed=False, solved=False, notes=notes)
    if lock.entries is not None:
        # The lock's records, each from the cache or its channel's index and checked against
        # the lock's sha256, at the URL the lock names (the one check_lock allowed).
        records = await locked_records(settings, lock.entries, prepared.source)
        env_file = EnvFile("lock", prepared.source, records=records, pip_lock=tuple(lock.pip))
        step = dataclasses.replace(
            step, request=dataclasses.replace(step.request, env_file=env_file)
        )
    outcome = await operations.execute(settings, step, on_event=on_event)
    if prepared.owned and outcome.applied:
        await asyncio.to_thread(mark_env, outcome.env.prefix, lock)
    return SyncOutcome(outcome.env, changed=outcome.applied, solved=prepared.solved, notes=notes)
