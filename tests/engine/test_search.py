"""`engine.search.search`, the one search entry of the CLI and the server: every check before
anything is read, and channels read as a solve reads them (a long-running process sees a
package added since it last searched)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.synthetic import python_module_package
from jupyter_envmgr.engine.errors import BadInput, ChannelError, Forbidden
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.search import search
from jupyter_envmgr.engine.settings import Settings, load_settings


def _settings(tmp_path: Path) -> Settings:
    (tmp_path / "home").mkdir()
    return load_settings(
        env={"HOME": str(tmp_path / "home"), "MAMBA_ROOT_PREFIX": str(tmp_path / "root")}
    )


def _add(channel: Path, version: str) -> None:
    python_module_package(channel / "noarch", "solo", version, depends=[])
    index_channel(channel)


def _versions(settings: Settings, channel: Path, policy: Policy | None = None) -> list[str]:
    found = asyncio.run(search(settings, "solo", [channel.as_uri()], policy=policy))
    return [str(p["version"]) for p in found]


def test_a_search_sees_what_was_added_to_a_channel_since_the_last_one(tmp_path):
    # One process, one gateway, as a server: the first search keeps the channel's repodata in
    # memory; without dropping it as a solve does, the second would show 1.0 only.
    settings = _settings(tmp_path)
    channel = tmp_path / "chan"
    _add(channel, "1.0")
    assert _versions(settings, channel) == ["1.0"]
    _add(channel, "2.0")
    assert _versions(settings, channel) == ["2.0", "1.0"]


def test_everything_is_checked_before_a_channel_is_read(tmp_path):
    settings = _settings(tmp_path)
    missing = tmp_path / "missing"
    with pytest.raises(BadInput, match="channel separately"):
        asyncio.run(search(settings, f"{missing.as_uri()}::solo"))
    # Policy before the folder: a forbidden channel is refused whether or not it exists.
    allowed = Policy(allowed_channels=((tmp_path / "allowed").as_uri(),))
    with pytest.raises(Forbidden):
        _versions(settings, missing, policy=allowed)
    with pytest.raises(ChannelError, match="does not exist"):
        _versions(settings, missing)
    # A folder that exists but is no channel: the gateway's error, as a ChannelError.
    (tmp_path / "empty").mkdir()
    with pytest.raises(ChannelError, match="Could not read a channel's package index"):
        _versions(settings, tmp_path / "empty")
