"""Channel search: a package name -> its versions and builds in the channels' repodata.

`search()` is the one entry, for the CLI and the server alike: every check happens before
anything is fetched (the query, the channels, the admin's allow list, local channel folders),
and the channels are read as a solve reads them, so a long-running server's search shows what
its next solve would see.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import rattler

from .errors import BadInput
from .gateway import PLATFORMS, drop_stale_repodata, gateway_for, query_channels
from .policy import Policy
from .prefix import record_json
from .settings import Settings
from .specs import channel_urls, check_local_channels, parse_spec

MAX_RESULTS = 500


@dataclass(frozen=True)
class _Search:
    spec: rattler.MatchSpec
    channels: list[str]  # canonical URLs, in the order given


def _prepare(
    settings: Settings, query: str, channels: Sequence[str], policy: Policy | None
) -> _Search:
    """Every 4xx of a search, before anything is fetched. Blocking (local folders are looked
    at): call it off the event loop."""
    spec = parse_spec(query, settings)
    if spec.channel:
        raise BadInput("Give the channel separately, not as 'channel::name'.")
    urls = channel_urls(list(channels) or list(settings.channels), settings)
    if policy is not None:
        # Policy first: a forbidden channel is refused the same whether it exists or not.
        policy.check_channels(urls)
    check_local_channels(urls)
    return _Search(spec.match_spec, urls)


async def search(
    settings: Settings,
    query: str,
    channels: Sequence[str] = (),
    policy: Policy | None = None,
) -> list[dict[str, object]]:
    """The packages matching `query` (a name or spec, no channel) in `channels` (names,
    URLs or folders; the settings' channels when none), newest first, at most MAX_RESULTS."""
    wanted = await asyncio.to_thread(_prepare, settings, query, channels, policy)
    gateway = gateway_for(settings)
    drop_stale_repodata(gateway, settings.pkgs_dir, wanted.channels)
    found = await query_channels(
        gateway, wanted.channels, PLATFORMS, [wanted.spec], recursive=False
    )
    records = [r for per_channel in found for r in per_channel if wanted.spec.matches(r)]
    records.sort(key=lambda r: (r.version, r.build_number), reverse=True)
    return [
        {
            **record_json(r, settings.channel_alias),
            "subdir": r.subdir,
            "depends": list(r.depends),
        }
        for r in records[:MAX_RESULTS]
    ]
