"""Specs to suggest for a new environment, from what the channels have: the create form's
placeholder ("python=3.12 ipykernel numpy") names packages that the configured channels hold.

`suggest_specs()` is the one entry. It reads the channels' indexes as a search does (the same
gateway and cache on disk: nothing is fetched while the cache is fresh) and runs no solve: the
newest Python minor that ipykernel (when the channels have it) has a build for, ipykernel, and up
to two familiar packages that have a build for that Python. Nothing is suggested when the
channels cannot be read or hold no Python.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import rattler

from .errors import ChannelError
from .gateway import (
    CHANNEL_ERRORS,
    PLATFORMS,
    drop_stale_repodata,
    gateway_for,
    query_channels,
)
from .policy import Policy
from .rattler_guard import rattler_guard
from .settings import Settings
from .specs import channel_urls, check_local_channels

KERNEL = "ipykernel"
# Packages a newcomer knows, most familiar first: at most EXTRAS of those the channels have.
FAMILIAR = ("numpy", "pandas", "matplotlib", "scipy", "requests", "ipywidgets", "pyyaml")
EXTRAS = 2


def _prepare(settings: Settings, channels: Sequence[str], policy: Policy | None) -> list[str]:
    """The channels' canonical URLs, checked as a search checks them. Blocking (local folders
    are looked at): call it off the event loop."""
    urls = channel_urls(list(channels) or list(settings.channels), settings)
    if policy is not None:
        policy.check_channels(urls)
    check_local_channels(urls)
    return urls


def _minor(version: rattler.Version) -> str | None:
    parts = str(version).split(".")
    if len(parts) < 2 or not (parts[0].isdigit() and parts[1].isdigit()):
        return None
    return f"{parts[0]}.{parts[1]}"


def _fits(
    records: Sequence[rattler.RepoDataRecord], pythons: Sequence[rattler.RepoDataRecord]
) -> bool:
    """Whether some record of a package can go with one of `pythons` (its `python` dependency
    matches one of them, or it has none)."""
    for record in records:
        deps = [rattler.MatchSpec(d, strict=False) for d in record.depends]
        wanted = [d for d in deps if d.name is not None and d.name.normalized == "python"]
        if all(any(d.matches(p) for p in pythons) for d in wanted):
            return True
    return False


def _pick(found: dict[str, list[rattler.RepoDataRecord]]) -> list[str]:
    pythons = found.pop("python", [])
    by_minor: dict[str, list[rattler.RepoDataRecord]] = {}
    for record in sorted(pythons, key=lambda r: r.version, reverse=True):
        minor = _minor(record.version)
        if minor is not None:
            by_minor.setdefault(minor, []).append(record)
    for minor, records in by_minor.items():  # newest first
        kernel = found.get(KERNEL)
        if kernel is not None and not _fits(kernel, records):
            continue
        extras = [name for name in FAMILIAR if name in found and _fits(found[name], records)]
        return [f"python={minor}", *([KERNEL] if kernel else []), *extras[:EXTRAS]]
    return []


async def suggest_specs(
    settings: Settings, channels: Sequence[str] = (), policy: Policy | None = None
) -> dict[str, list[str]]:
    """`{"specs": [...], "channels": [...]}`: specs a new env could start from, all found in
    `channels` (names, URLs or folders; the settings' channels when none), and the channels'
    URLs; `specs` is empty when nothing is known."""
    urls = await asyncio.to_thread(_prepare, settings, channels, policy)
    gateway = gateway_for(settings)
    drop_stale_repodata(gateway, settings.pkgs_dir, urls)
    nothing: dict[str, list[str]] = {"specs": [], "channels": urls}
    try:
        with rattler_guard("reading the channels' package names"):
            listed = await gateway.names([rattler.Channel(u) for u in urls], PLATFORMS)
        names = {name.normalized for name in listed}
        wanted = [n for n in ("python", KERNEL, *FAMILIAR) if n in names]
        if "python" not in wanted:
            return nothing
        per_channel = await query_channels(gateway, urls, PLATFORMS, wanted, recursive=False)
    except (ChannelError, *CHANNEL_ERRORS):  # an index that cannot be read: nothing known
        return nothing
    # Strict channel priority: a name comes from the first channel that has it.
    found: dict[str, list[rattler.RepoDataRecord]] = {}
    for records in per_channel:
        here: dict[str, list[rattler.RepoDataRecord]] = {}
        for record in records:
            here.setdefault(record.name.normalized, []).append(record)
        for name, recs in here.items():
            found.setdefault(name, recs)
    return {"specs": _pick(found), "channels": urls}
