"""An env's lock for one or more platforms: the model the lock-file formats read and write.

`EnvLock` is what `conda-lock.yml`, `pixi.lock` and our own lock export hold: the channels in
priority order and, per platform (a conda subdir), the exact conda records (URL, sha256/md5)
and the pip packages. `lock_env` makes one from an env:

- the env's own platform (this machine's, or the one it was created for with --platform) from
  its installed records, and its pip packages (`pip_lock.pip_entries`);
- each other platform by solving the env's history specs (`specs.kept_specs`) for that subdir
  with its assumed virtual packages (`platforms.foreign_virtual_packages`), from the env's
  channels. Nothing is installed and nothing is run; only repodata is fetched.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

import rattler

from .errors import BadInput
from .pip_lock import PipLockEntry, check_pip_entries, pip_entries
from .platforms import env_platform
from .prefix import read_records, requested_specs
from .progress import EventSink, ignore_events
from .registry import Env
from .settings import Settings

if TYPE_CHECKING:
    from .policy import Policy


@dataclass(frozen=True)
class PlatformLock:
    platform: str  # a conda subdir, e.g. "linux-64", "osx-arm64"
    records: tuple[rattler.RepoDataRecord, ...]  # conda packages, with url and sha256/md5
    pip: tuple[PipLockEntry, ...] = ()  # pip packages (engine/pip_lock.py)


@dataclass(frozen=True)
class EnvLock:
    # Channel URLs in priority order: canonical from `lock_env`; as the file wrote them (a URL,
    # or a name such as conda-forge) when read from a lock file.
    channels: tuple[str, ...]
    platforms: Mapping[str, PlatformLock] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        # Read-only whatever the caller passed: a frozen lock is shared between faces.
        object.__setattr__(self, "platforms", MappingProxyType(dict(self.platforms)))


def known_platforms() -> tuple[str, ...]:
    """rattler's known subdirs except noarch: the platforms a lock may name."""
    return tuple(str(p) for p in rattler.Subdir.all() if str(p) != "noarch")


def check_platforms(platforms: Sequence[str]) -> list[str]:
    """`--platform` values (or `?platform=`) as subdirs, each checked against rattler's known
    subdirs before anything is solved; duplicates dropped, order kept."""
    known = known_platforms()
    out: list[str] = []
    for text in platforms:
        value = text.strip() if isinstance(text, str) else ""
        if value not in known:
            raise BadInput(
                f"{text!r} is not a platform to lock for: use a conda subdir such as "
                "linux-64, linux-aarch64, osx-64, osx-arm64 or win-64."
            )
        if value not in out:
            out.append(value)
    return out


def env_channels(settings: Settings, records: Sequence[rattler.RepoDataRecord]) -> list[str]:
    """The channels of the env's records as canonical URLs, most-used first: the order in which
    `env export` writes them (the first is the one plain specs resolve from)."""
    counts = Counter((r.channel or "").rstrip("/") for r in records if r.channel)
    return [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


async def lock_env(
    settings: Settings,
    env: Env,
    platforms: Sequence[str] = (),
    *,
    policy: Policy | None = None,
    on_event: EventSink = ignore_events,
) -> EnvLock:
    """The env's lock for its own platform and each of `platforms` (module docstring)."""
    wanted = check_platforms(platforms)
    records = await asyncio.to_thread(read_records, env.prefix, files="none")
    own = str(env_platform(env.prefix) or rattler.Subdir.current())
    channels = env_channels(settings, records)
    pip = await asyncio.to_thread(pip_entries, env.prefix)
    # A VCS checkout or a local folder cannot be locked: said before anything is solved.
    check_pip_entries(pip, None, where=f"The environment {env.label}")
    locks = {own: PlatformLock(own, tuple(records), tuple(pip))}
    others = [p for p in wanted if p != own]
    if others:
        from .solver import solve
        from .specs import kept_channels, kept_specs

        # An env made by a tool that kept no history: every installed package by name.
        names = [r.name.normalized for r in records]
        history = requested_specs(env.prefix) or {n: n for n in names}
        specs = kept_specs(history, [], settings)
        channels += list(kept_channels(specs, channels))
        if policy is not None:
            policy.check_channels(channels)
        for platform in others:
            solved = await solve(
                settings,
                channels,
                [s.match_spec for s in specs],
                platform=rattler.Subdir(platform),
                on_event=on_event,
            )
            locks[platform] = PlatformLock(platform, tuple(solved))
    return EnvLock(tuple(channels), {p: locks[p] for p in sorted(locks)})
