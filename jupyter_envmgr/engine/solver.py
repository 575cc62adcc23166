"""Solving with rattler: one Gateway per process (repodata cached on disk in the pkgs dir)."""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
from .stamps import too_recent

PLATFORMS = [rattler.Subdir.current(), rattler.Subdir("noarch")]

_gateways: dict[Path, rattler.Gateway] = {}
_PRIORITIES = {"disabled": rattler.ChannelPriority.Disabled}
_virtual_packages: list[rattler.VirtualPackage] | None = None
# What a local channel's index files looked like when a gateway last dropped its repodata,
# per (gateway's pkgs dir, channel URL); None when that could not be trusted (see below).
_local_seen: dict[tuple[Path, str], tuple[object, ...] | None] = {}
# From a file:// channel rattler (0.28) reads `<subdir>/repodata.json` only (no .zst, no
# shards); a rewrite or a rename of it changes its stat.
_INDEX_FILE = "repodata.json"


def gateway_for(settings: Settings) -> rattler.Gateway:
    # micromamba keeps repodata in <pkgs_dir>/cache; so do we, one Gateway per cache dir.
    gateway = _gateways.get(settings.pkgs_dir)
    if gateway is None:
        gateway = _gateways[settings.pkgs_dir] = rattler.Gateway(
            cache_dir=settings.pkgs_dir / "cache"
        )
    return gateway


def virtual_packages() -> list[rattler.VirtualPackage]:
    # rattler passes no virtual packages unless given: without __glibc etc. real channels would
    # not solve.
    global _virtual_packages
    if _virtual_packages is None:
        _virtual_packages = rattler.VirtualPackage.detect()
    return list(_virtual_packages)


@functools.lru_cache(maxsize=256)
def _local_index_files(url: str) -> tuple[str, ...] | None:
    """A file:// channel's index file for each of our platforms; None for a remote channel."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return tuple(f"{unquote(parts.path)}/{platform}/{_INDEX_FILE}" for platform in PLATFORMS)


def _local_index_state(url: str) -> tuple[object, ...] | None:
    """The stat of a file:// channel's index files for our platforms; None for a remote
    channel, or when an index file is too new to be trusted."""
    files = _local_index_files(url)
    if files is None:
        return None
    state: list[object] = []
    newest = 0
    for path in files:
        try:
            st = os.stat(path)
        except OSError:
            state.append(None)
            continue
        state.append((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    if too_recent(newest):  # it may change again without its stat changing
        return None
    return tuple(state)


def drop_stale_repodata(
    gateway: rattler.Gateway, pkgs_dir: Path, channels: Sequence[str]
) -> list[str]:
    """A long-running server must see channels that changed since its last solve: drop the
    in-memory repodata of every remote channel (the disk cache and HTTP caching headers keep
    that cheap), and of a local channel whose index files changed since it was last dropped
    (re-reading a large local index costs more than the solve itself). Returns the channels
    dropped: the next solve reads those again."""
    dropped = []
    for url in channels:
        state = _local_index_state(url)
        key = (pkgs_dir, url)
        if state is not None and key in _local_seen and _local_seen[key] == state:
            continue
        gateway.clear_repodata_cache(rattler.Channel(url))
        _local_seen[key] = state
        dropped.append(url)
    return dropped


def _explain(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__


def channel_error(exc: Exception) -> ChannelError:
    """What a user reads when a channel's index could not be read (either backend)."""
    return ChannelError(
        f"Could not read a channel's package index: {_explain(exc)}. Check the channel "
        "name or URL and your network, then try again."
    )


async def solve(
    settings: Settings,
    channels: Sequence[str],
    specs: Sequence[rattler.MatchSpec],
    *,
    locked: Sequence[rattler.RepoDataRecord] = (),
    on_event: EventSink = ignore_events,
) -> list[rattler.RepoDataRecord]:
    """The records to install, by the settings' solver backend; both read the repodata of
    one gateway (which sees changed channels first) and report the same events."""
    if settings.solver == "libmamba":  # the other backend (solver_backends.py)
        from .solver_libmamba import import_libmambapy, solve_request

        import_libmambapy()  # unavailable: said before anything starts
    gateway = gateway_for(settings)
    drop_stale_repodata(gateway, settings.pkgs_dir, channels)
    on_event(Event("solve-start", {"specs": [str(s) for s in specs], "channels": list(channels)}))
    started = time.monotonic()
    if settings.solver == "libmamba":
        records = await solve_request(settings, gateway, channels, specs, locked)
    else:
        records = await _solve_with_rattler(settings, gateway, channels, specs, locked)
    on_event(
        Event(
            "solve-done",
            {"records": len(records), "seconds": round(time.monotonic() - started, 3)},
        )
    )
    return records


async def _solve_with_rattler(
    settings: Settings,
    gateway: rattler.Gateway,
    channels: Sequence[str],
    specs: Sequence[rattler.MatchSpec],
    locked: Sequence[rattler.RepoDataRecord],
) -> list[rattler.RepoDataRecord]:
    try:
        with rattler_guard("solving"):
            return await rattler.solve(
                [rattler.Channel(url) for url in channels],
                list(specs),
                gateway=gateway,
                platforms=PLATFORMS,
                locked_packages=list(locked),
                virtual_packages=virtual_packages(),
                channel_priority=_PRIORITIES.get(
                    settings.channel_priority, rattler.ChannelPriority.Strict
                ),
            )
    except (GatewayError, FetchRepoDataError, InvalidChannelError, IoError) as exc:
        raise channel_error(exc) from None
    except SolverError as exc:
        raise Unsatisfiable(
            f"The request cannot be satisfied:\n{_explain(exc)}\nRelax a version, drop a "
            "package, or add a channel that has it."
        ) from None
