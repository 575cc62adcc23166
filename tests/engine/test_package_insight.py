"""Package insight (`engine.package_insight`): what the user asked for, what is newer in the
configured channels, the channel by its short name, and why each package is installed, for an
env made by the real CLI from a real local channel. Remote channels are read from the cache
only: a fresh cache answers without a request, a stale one answers "unknown"."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.serve import serve_channel
from jupyter_envmgr.channels.synthetic import generic_package
from jupyter_envmgr.engine.package_insight import FRESH_SECONDS, PackageInsight, package_insight
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, on


def publish(channel: Path, name: str, version: str, depends: tuple[str, ...] = ()) -> None:
    entry = Entry(f"share/{name}/{name}.txt", data=f"{name} {version}\n".encode())
    generic_package(channel / "noarch", name, version, [entry], depends=depends)
    (channel / "linux-64").mkdir(exist_ok=True)
    index_channel(channel)


def configure(sandbox: Sandbox, url: str) -> None:
    (sandbox.home / ".condarc").write_text(f"channels:\n  - {url}\n")


def insight(sandbox: Sandbox, name: str) -> dict[str, PackageInsight]:
    settings = load_settings(env=sandbox.env)
    found = asyncio.run(package_insight(settings, sandbox.envs / name))
    return {p.name: p for p in found}


def test_requested_dependencies_updates_and_why_from_a_local_channel(sandbox, tmp_path):
    channel = tmp_path / "insight-chan"
    publish(channel, "libcore", "1.0")
    publish(channel, "app", "1.0", ("libcore",))
    publish(channel, "tool", "1.0", ("libcore",))
    publish(channel, "loner", "1.0")
    configure(sandbox, channel.as_uri())
    sandbox.run("create", *on(channel.as_uri(), "ins", "app", "tool>=1", "loner"))
    # Newer versions published after the create: the next read sees them (no fetch: a folder).
    publish(channel, "libcore", "2.0")
    publish(channel, "app", "1.1", ("libcore",))

    got = insight(sandbox, "ins")

    assert sorted(got) == ["app", "libcore", "loner", "tool"]
    app, lib, tool = got["app"], got["libcore"], got["tool"]
    assert app.requested and app.requested_spec == "app"
    assert tool.requested and tool.requested_spec == "tool>=1"
    assert not lib.requested and lib.requested_spec is None
    # Why is libcore here: both requested packages pull it in; nothing needs a leaf.
    assert lib.required_by == ["app", "tool"]
    assert got["loner"].required_by == [] and app.required_by == []
    assert (app.updatable, lib.updatable, tool.updatable) == ("1.1", "2.0", None)
    assert all(p.updates_known for p in got.values())
    # The channel by its short name, the full URL beside it.
    assert lib.channel == "insight-chan"
    assert lib.channel_url == channel.as_uri()
    assert lib.to_json()["channel_url"] == channel.as_uri()


def test_a_remote_channel_is_read_from_a_fresh_cache_only_and_a_stale_one_is_unknown(
    private_sandbox, tmp_path
):
    sandbox = private_sandbox
    channel = tmp_path / "remote-chan"
    publish(channel, "libcore", "1.0")
    publish(channel, "libcore", "2.0")
    publish(channel, "app", "1.0", ("libcore <2",))
    requests: list[str] = []
    with serve_channel(channel, requests=requests) as url:
        configure(sandbox, url)
        sandbox.run("create", *on(url, "remote", "app"))
        requests.clear()

        fresh = insight(sandbox, "remote")
        # The index the create fetched says libcore 2.0 exists: no request was made for it.
        assert requests == []
        assert fresh["libcore"].updatable == "2.0" and fresh["libcore"].updates_known
        assert fresh["app"].updatable is None and fresh["app"].updates_known
        assert fresh["app"].requested and fresh["libcore"].required_by == ["app"]
        assert fresh["app"].channel == f"127.0.0.1:{url.rsplit(':', 1)[1]}"

        # The cache ages past freshness: the answer is "unknown", still without a request.
        old = time.time() - FRESH_SECONDS - 3600
        infos = list((sandbox.pkgs / "cache").glob("*.info.json"))
        assert infos
        for info in infos:
            os.utime(info, (old, old))
        stale = insight(sandbox, "remote")
        assert requests == []
        assert not stale["libcore"].updates_known and stale["libcore"].updatable is None
        # What history and the records say needs no index.
        assert stale["app"].requested and stale["libcore"].required_by == ["app"]
