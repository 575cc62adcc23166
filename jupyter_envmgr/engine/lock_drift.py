"""Drift: how an env differs from the lock a notebook carries (`metadata.envmgr`).

A notebook is locked from its kernel's env; the env then changes (an install, a remove, an
update) and the notebook no longer says what runs it. `notebook_drift` compares the lock's
packages for this platform (conda and pip) with what the env holds now, from the lock's point
of view: `added` are in the env and not in the lock, `removed` in the lock and not in the env,
`changed` in both at another version, build or source. Two ways out, both the user's choice:
lock the notebook again from the env, or sync the env to the lock (notebook_sync).

The metadata is untrusted and is read as a sync reads it (notebook_env.read_lock); nothing is
fetched or written. Blocking (reads the env's records and pip's dist-infos).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .notebook_env import current_platform, installed_dists, read_lock
from .pip_lock import normalized_name, pip_entries
from .registry import Env


@dataclass(frozen=True)
class Drift:
    env: Env
    platform: str
    locked: bool  # False: the lock does not cover this platform (nothing to compare)
    added: list[str] = field(default_factory=list)  # `dist`, or `pip: name==version`
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)  # `name: lock's -> env's`

    @property
    def count(self) -> int:
        return len(self.added) + len(self.removed) + len(self.changed)

    def summary(self) -> str:
        if not self.locked:
            return f"The notebook's lock does not cover {self.platform}: nothing to compare."
        if not self.count:
            return f"{self.env.label} matches the notebook's lock."
        unit = "package" if self.count == 1 else "packages"
        return f"{self.env.label} differs from the notebook's lock: {self.count} {unit}."

    def lines(self) -> list[str]:
        """`+ added`, `- removed`, `~ changed`: one line each."""
        return [
            *(f"+ {d}" for d in self.added),
            *(f"- {d}" for d in self.removed),
            *(f"~ {c}" for c in self.changed),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env.to_json(),
            "platform": self.platform,
            "locked": self.locked,
            "count": self.count,
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "summary": self.summary(),
        }


def notebook_drift(metadata: Any, env: Env, source: str = "the notebook") -> Drift:
    """How `env` differs from the lock in a notebook's `metadata` (module docstring)."""
    lock = read_lock({"metadata": metadata if isinstance(metadata, dict) else {}}, source)
    platform = current_platform()
    if lock.entries is None:
        return Drift(env, platform, locked=False)
    have = installed_dists(env.prefix)
    wanted = {e.name: (e.dist, e.url) for e in lock.entries}
    added = [have[n][0] for n in sorted(set(have) - set(wanted))]
    removed = [wanted[n][0] for n in sorted(set(wanted) - set(have))]
    changed = [
        f"{n}: {wanted[n][0]} -> {have[n][0]}"
        + ("" if wanted[n][0] != have[n][0] else f" (now from {have[n][1]})")
        for n in sorted(set(have) & set(wanted))
        if have[n] != wanted[n]
    ]
    # pip packages by name and version: the URL pip fetched an index install from is not
    # recorded (pip_lock), so a lock's URL cannot be compared with the env's.
    pip_have = {e.name: e.version for e in pip_entries(env.prefix)}
    pip_wanted = {normalized_name(e.name): e.version for e in lock.pip}
    added += [f"pip: {n}=={pip_have[n]}" for n in sorted(set(pip_have) - set(pip_wanted))]
    removed += [f"pip: {n}=={pip_wanted[n]}" for n in sorted(set(pip_wanted) - set(pip_have))]
    changed += [
        f"pip: {n}: {pip_wanted[n]} -> {pip_have[n]}"
        for n in sorted(set(pip_have) & set(pip_wanted))
        if pip_have[n] != pip_wanted[n]
    ]
    return Drift(env, platform, True, added, removed, changed)
