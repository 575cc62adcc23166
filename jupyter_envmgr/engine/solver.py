"""Solving with rattler: one Gateway per process (repodata cached on disk in the pkgs dir)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import rattler
from rattler.exceptions import (
    FetchRepoDataError,
    GatewayError,
    InvalidChannelError,
    IoError,
    SolverError,
)

from .errors import ChannelError, Unsatisfiable
from .progress import Event, EventSink, ignore_events
from .rattler_guard import rattler_guard
from .settings import Settings

PLATFORMS = [rattler.Subdir.current(), rattler.Subdir("noarch")]

_gateways: dict[Path, rattler.Gateway] = {}
_virtual_packages: list[rattler.VirtualPackage] | None = None


def gateway_for(settings: Settings) -> rattler.Gateway:
    # micromamba keeps repodata in <pkgs_dir>/cache; so do we, one Gateway per cache dir.
    cache = settings.pkgs_dir / "cache"
    if cache not in _gateways:
        _gateways[cache] = rattler.Gateway(cache_dir=cache)
    return _gateways[cache]


def virtual_packages() -> list[rattler.VirtualPackage]:
    # rattler passes no virtual packages unless given: without __glibc etc. real channels would
    # not solve.
    global _virtual_packages
    if _virtual_packages is None:
        _virtual_packages = rattler.VirtualPackage.detect()
    return list(_virtual_packages)


def _explain(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__


async def solve(
    settings: Settings,
    channels: Sequence[str],
    specs: Sequence[rattler.MatchSpec],
    *,
    locked: Sequence[rattler.RepoDataRecord] = (),
    on_event: EventSink = ignore_events,
) -> list[rattler.RepoDataRecord]:
    gateway = gateway_for(settings)
    # A long-running server must see channels that changed since the last solve: drop the
    # in-memory repodata (the disk cache and HTTP caching headers keep this cheap).
    for url in channels:
        gateway.clear_repodata_cache(rattler.Channel(url))
    on_event(Event("solve-start", {"specs": [str(s) for s in specs], "channels": list(channels)}))
    started = time.monotonic()
    try:
        with rattler_guard("solving"):
            records = await rattler.solve(
                [rattler.Channel(url) for url in channels],
                list(specs),
                gateway=gateway,
                platforms=PLATFORMS,
                locked_packages=list(locked),
                virtual_packages=virtual_packages(),
                channel_priority=(
                    rattler.ChannelPriority.Disabled
                    if settings.channel_priority == "disabled"
                    else rattler.ChannelPriority.Strict
                ),
            )
    except (GatewayError, FetchRepoDataError, InvalidChannelError, IoError) as exc:
        raise ChannelError(
            f"Could not read a channel's package index: {_explain(exc)}. Check the channel "
            "name or URL and your network, then try again."
        ) from None
    except SolverError as exc:
        raise Unsatisfiable(
            f"The request cannot be satisfied:\n{_explain(exc)}\nRelax a version, drop a "
            "package, or add a channel that has it."
        ) from None
    on_event(
        Event(
            "solve-done",
            {"records": len(records), "seconds": round(time.monotonic() - started, 3)},
        )
    )
    return records
