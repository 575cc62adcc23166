"""Package insight: per installed package, whether the user asked for it (and with which spec),
the newest version the configured channels have when it is newer, its channel by short name
and URL, and the requested packages that pull it in ("why is this installed").

`package_insight()` is the one entry, for the CLI and the server alike. It only reads: the
env's records and history, and the channels' indexes as they already are on this machine.
A local (`file://`) channel is read from its folder, as a solve reads it; a remote channel only
from the repodata cache in `<pkgs_dir>/cache`, and only when that cache was written within
`FRESH_SECONDS`. A stale or absent cache makes the answer "unknown" (`updates_known` false),
never a fetch.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import rattler

from .dependencies import dependency_name
from .errors import ChannelError
from .gateway import (
    PLATFORMS,
    drop_stale_repodata,
    gateway_for,
    query_channels,
)
from .prefix import read_records, requested_specs
from .settings import Settings
from .specs import channel_urls

# A remote channel's cached index counts as fresh for a day after it was fetched (or found
# unchanged): what `update` would see, without asking the network again.
FRESH_SECONDS = 24 * 3600

# One cache-only gateway per package cache: it never fetches, whatever the cache's age.
_cached_gateways: dict[Path, rattler.Gateway] = {}


@dataclass
class PackageInsight:
    name: str
    version: str
    build: str
    channel: str  # short name: `conda-forge`, a custom channel's name, a URL's last segment
    channel_url: str  # the full URL the package came from
    size: int | None
    requested: bool  # the user asked for it (conda-meta/history's specs)
    requested_spec: str | None  # the spec the user wrote, when requested
    updatable: str | None  # the newest version in the configured channels, when newer
    updates_known: bool  # False: a channel's index was not at hand (stale or absent cache)
    required_by: list[str] = field(default_factory=list)  # the requested packages needing it

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "build": self.build,
            "channel": self.channel,
            "channel_url": self.channel_url,
            "size": self.size,
            "requested": self.requested,
            "requested_spec": self.requested_spec,
            "updatable": self.updatable,
            "updates_known": self.updates_known,
            "required_by": list(self.required_by),
        }


def short_channel(url: str | None, settings: Settings) -> str:
    """A channel URL by the name a user knows it by: below the channel alias its name
    (`conda-forge`), a custom channel's name, else the URL's last path segment."""
    text = (url or "").rstrip("/")
    if not text:
        return ""
    alias = settings.channel_alias.rstrip("/") + "/"
    if text.startswith(alias):
        return text[len(alias) :]
    for name, custom in settings.custom_channels.items():
        if text == custom.rstrip("/"):
            return name
    parts = urlsplit(text)
    segment = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1])
    return segment or parts.netloc or text


def required_by(
    records: Sequence[rattler.PrefixRecord], roots: Iterable[str]
) -> dict[str, list[str]]:
    """For each installed package, the requested packages (`roots`) whose `depends`, followed
    through the installed records, reach it; a root is not listed as needing itself. The
    edges are read once (not per root, as `dependency_closure` would): hundreds of packages
    and dozens of requested ones stay a few milliseconds."""
    by_name = {r.name.normalized: r for r in records}
    needs = {name: [d for d in map(dependency_name, r.depends) if d in by_name]
             for name, r in by_name.items()}  # fmt: skip
    found: dict[str, list[str]] = {name: [] for name in by_name}
    for root in sorted(set(roots) & by_name.keys()):
        seen = {root}
        todo = list(needs[root])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                found[name].append(root)
                todo += needs[name]
    return found


def _cache_written(pkgs_dir: Path) -> dict[str, float]:
    """When each cached remote index (`<subdir>/repodata.json` URL) was last written, from the
    `.info.json` files rattler keeps beside them."""
    written: dict[str, float] = {}
    try:
        infos = list((pkgs_dir / "cache").glob("*.info.json"))
    except OSError:
        return written
    for info in infos:
        try:
            url = json.loads(info.read_text(encoding="utf-8")).get("url")
            when = os.stat(info).st_mtime
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(url, str):
            written[url] = when
    return written


def _fresh(url: str, written: Mapping[str, float], now: float) -> bool:
    base = url.rstrip("/")
    for platform in PLATFORMS:
        when = written.get(f"{base}/{platform}/repodata.json")
        if when is None or now - when > FRESH_SECONDS:
            return False
    return True


def _cached_gateway(settings: Settings) -> rattler.Gateway:
    gateway = _cached_gateways.get(settings.pkgs_dir)
    if gateway is None:
        config = rattler.SourceConfig(cache_action="force-cache-only")
        gateway = _cached_gateways[settings.pkgs_dir] = rattler.Gateway(
            cache_dir=settings.pkgs_dir / "cache", default_config=config
        )
    return gateway


async def _newest(
    settings: Settings, channels: Sequence[str], names: Sequence[str]
) -> tuple[dict[str, tuple[rattler.Version, str]], list[str]]:
    """The newest version of each name in the channels that could be read without a fetch,
    with strict channel priority (the first channel that has a name is the one that counts),
    and the channels that could not be read. Per name: (version, channel URL)."""
    written = await asyncio.to_thread(_cache_written, settings.pkgs_dir)
    now = time.time()
    specs = [rattler.MatchSpec(name) for name in names]
    newest: dict[str, tuple[rattler.Version, str]] = {}
    unread: list[str] = []
    blocked: set[str] = set()  # names a higher-priority unread channel may have
    for url in channels:
        local = urlsplit(url).scheme == "file"
        if local:
            gateway = gateway_for(settings)
            drop_stale_repodata(gateway, settings.pkgs_dir, [url])
        elif _fresh(url, written, now):
            gateway = _cached_gateway(settings)
            gateway.clear_repodata_cache(rattler.Channel(url))  # read the disk cache again
        else:
            unread.append(url)
            blocked.update(n for n in names if n not in newest)
            continue
        try:
            found = await query_channels(gateway, [url], PLATFORMS, specs, recursive=False)
        except ChannelError:
            unread.append(url)
            blocked.update(n for n in names if n not in newest)
            continue
        here: dict[str, rattler.Version] = {}
        for record in (r for per_subdir in found for r in per_subdir):
            name = record.name.normalized
            if name not in here or record.version > here[name]:
                here[name] = record.version
        for name, version in here.items():
            if name not in newest and name not in blocked:
                newest[name] = (version, url)
        blocked.update(here)  # strict priority: lower channels no longer count for these
    return newest, unread


async def package_insight(
    settings: Settings, prefix: Path, records: Sequence[rattler.PrefixRecord] | None = None
) -> list[PackageInsight]:
    """Every installed conda package of the env at `prefix`, sorted by name, with what the
    user asked for, what is newer in the configured channels and why each is installed.
    `records`: the env's records when the caller read them already."""
    if records is None:
        records = await asyncio.to_thread(read_records, prefix, files="none")
    requested = await asyncio.to_thread(requested_specs, prefix)
    records = sorted(records, key=lambda r: r.name.normalized)
    names = [r.name.normalized for r in records]
    channels = channel_urls(list(settings.channels), settings)
    newest, unread = await _newest(settings, channels, names)
    reasons = required_by(records, requested)
    out = []
    for record in records:
        name = record.name.normalized
        latest = newest.get(name)
        updatable = None
        if latest is not None and latest[0] > record.version:
            updatable = str(latest[0])
        # Unknown when no readable channel answered for it and some channel went unread.
        known = latest is not None or not unread
        out.append(
            PackageInsight(
                name=name,
                version=str(record.version),
                build=str(record.build),
                channel=short_channel(record.channel, settings),
                channel_url=(record.channel or "").rstrip("/"),
                size=record.size,
                requested=name in requested,
                requested_spec=requested.get(name),
                updatable=updatable,
                updates_known=known,
                required_by=reasons.get(name, []),
            )
        )
    return out
