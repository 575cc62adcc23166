"""The channels' package indexes, as every engine reader sees them: one rattler Gateway per
package cache, what a long-running process must read again before it asks, and one error for a
channel that cannot be read.

Solves (both backends), `search` and the exact package sets (@EXPLICIT files, rollbacks) all
read repodata through here: the same cache on disk, the same platforms, the same freshness.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import rattler
from rattler.exceptions import FetchRepoDataError, GatewayError, InvalidChannelError, IoError

from .errors import ChannelError
from .rattler_guard import rattler_guard
from .settings import Settings
from .stamps import too_recent

PLATFORMS = [rattler.Subdir.current(), rattler.Subdir("noarch")]
# What rattler raises when a channel's index cannot be fetched, found or read.
CHANNEL_ERRORS = (GatewayError, FetchRepoDataError, InvalidChannelError, IoError)

# One per (package cache, offline): an offline gateway reads remote indexes from disk only.
_gateways: dict[tuple[Path, bool], rattler.Gateway] = {}
_virtual_packages: list[rattler.VirtualPackage] | None = None
# What a local channel's index files looked like when a gateway last dropped its repodata,
# per (gateway's pkgs dir, channel URL); None when that could not be trusted (see below).
_local_seen: dict[tuple[Path, str], tuple[object, ...] | None] = {}
# From a file:// channel rattler (0.28) reads `<subdir>/repodata.json` only (no .zst, no
# shards); a rewrite or a rename of it changes its stat.
_INDEX_FILE = "repodata.json"


def gateway_for(settings: Settings) -> rattler.Gateway:
    # micromamba keeps repodata in <pkgs_dir>/cache; so do we, one Gateway per cache dir.
    key = (settings.pkgs_dir, settings.offline)
    gateway = _gateways.get(key)
    if gateway is None:
        # --offline: the cached index whatever its age, never the network (file:// channels
        # are read from their folder as always).
        config = rattler.SourceConfig(cache_action="force-cache-only") if settings.offline else None
        gateway = _gateways[key] = rattler.Gateway(
            cache_dir=settings.pkgs_dir / "cache", default_config=config
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
    """A long-running server must see channels that changed since it last read them: drop the
    in-memory repodata of every remote channel (the disk cache and HTTP caching headers keep
    that cheap), and of a local channel whose index files changed since it was last dropped
    (re-reading a large local index costs more than the solve itself). Called before every
    solve and search. Returns the channels dropped: the next query reads those again."""
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


def explain(exc: BaseException) -> str:
    """An exception's own message, or its type's name when it has none."""
    return str(exc).strip() or type(exc).__name__


def channel_error(exc: Exception, where: str = "a channel's package index") -> ChannelError:
    """What a user reads when a channel's index could not be read (`where`: which one, when
    the caller knows), whichever engine reader asked."""
    return ChannelError(
        f"Could not read {where}: {explain(exc)}. Check the channel name or URL and your "
        "network, then try again."
    )


async def query_channels(
    gateway: rattler.Gateway,
    channels: Sequence[str],
    platforms: Sequence[rattler.Subdir],
    specs: Sequence[rattler.MatchSpec | str],
    *,
    recursive: bool,
    where: str = "a channel's package index",
) -> list[list[rattler.RepoDataRecord]]:
    """`gateway.query` on channel URLs: the records per channel, in the channels' order.
    A channel that cannot be read is a ChannelError saying `where`; a rattler panic is an
    error too (rattler_guard)."""
    try:
        with rattler_guard(f"reading {where}"):
            found = await gateway.query(
                [rattler.Channel(url) for url in channels],
                list(platforms),
                list(specs),
                recursive=recursive,
            )
    except CHANNEL_ERRORS as exc:
        raise channel_error(exc, where) from None
    return [list(per_channel) for per_channel in found]
