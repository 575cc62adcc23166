"""Channel search: a package name -> its versions and builds in the channels' repodata."""

from __future__ import annotations

from collections.abc import Sequence

import rattler

from .errors import BadInput, ChannelError, EnvMgrError
from .prefix import record_json
from .rattler_guard import rattler_guard
from .settings import Settings
from .solver import PLATFORMS, gateway_for
from .specs import channel_urls, parse_spec

MAX_RESULTS = 500


async def search(
    settings: Settings, query: str, channels: Sequence[str] = ()
) -> list[dict[str, object]]:
    spec = parse_spec(query, settings)
    if spec.channel:
        raise BadInput("Give the channel separately, not as 'channel::name'.")
    urls = channel_urls(list(channels) or list(settings.channels), settings)
    gateway = gateway_for(settings)
    try:
        with rattler_guard("searching the channels"):
            found = await gateway.query(
                [rattler.Channel(u) for u in urls], PLATFORMS, [spec.match_spec], recursive=False
            )
    except EnvMgrError:
        raise
    except Exception as exc:  # rattler's gateway errors say which channel failed and why
        raise ChannelError(f"Could not read a channel's package index: {exc}") from None
    records = [r for per_channel in found for r in per_channel if spec.match_spec.matches(r)]
    records.sort(key=lambda r: (r.version, r.build_number), reverse=True)
    return [
        {
            **record_json(r, settings.channel_alias),
            "subdir": r.subdir,
            "depends": list(r.depends),
        }
        for r in records[:MAX_RESULTS]
    ]
