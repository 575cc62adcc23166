"""Envs outside the envs dirs (made by a terminal envmgr, conda or micromamba under another root,
and registered in ~/.conda/environments.txt) are listed with a key the routes take, read and
changed like the others, with their kernel; a key reaches only envs the registry lists."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest

from jupyter_envmgr.engine.registry import Env, env_key
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import installed


@pytest.fixture
def jp_home_dir(sandbox):
    """One HOME for the server and the sandbox's CLI: the server reads its environments.txt."""
    return sandbox.home


@pytest.fixture
def elsewhere(sandbox, channels, tmp_path) -> Path:
    """`envmgr create -p <another root>/envs/x`, as a user in a terminal would."""
    prefix = tmp_path / "micromamba" / "envs" / "x"
    sandbox.run(
        "create", "-p", str(prefix), "-c", channels.main_url, "--override-channels",
        "python", "ipykernel", "-y",
    )  # fmt: skip
    return prefix


async def test_an_env_under_another_root_is_read_and_changed_by_its_key(
    elsewhere, sandbox, channels, api, tmp_path
):
    _, listing = await api.call("GET", "environments")
    env = next(e for e in listing["environments"] if e["prefix"] == str(elsewhere))
    assert env["name"] is None
    key = env["key"]
    assert key.startswith("~x-")
    assert env["read_only"] is False and env["read_only_reason"] is None
    named = [e for e in listing["environments"] if e["name"]]
    assert all(e["key"] == e["name"] for e in named)

    # Its kernel is listed with the same key, as the sidebar matches them.
    _, kernels = await api.call("GET", "kernels")
    assert [k["env"]["key"] for k in kernels["kernels"]] == [key]

    _, detail = await api.call("GET", "environments", key)
    assert detail["prefix"] == str(elsewhere)
    assert "python" in {p["name"] for p in detail["packages"]}
    _, revisions = await api.call("GET", "environments", key, "revisions")
    assert revisions["revisions"]

    body = {"specs": ["delta"], "channels": [channels.main_url], "override_channels": True}
    final, _ = await api.run("POST", "environments", key, "packages", body=body)
    assert final["env"] == key
    assert "delta" in installed(elsewhere)

    # A key reaches only envs the registry lists: never a path, never an unregistered env.
    await api.call("GET", "environments", quote(str(elsewhere), safe=""), expect=400)
    stray = tmp_path / "stray" / "envs" / "x"
    await asyncio.to_thread(shutil.copytree, elsewhere, stray, symlinks=True)
    await api.call("GET", "environments", env_key(Env(stray, None)), expect=404)
    await api.call("GET", "environments", "~x-0000000000", expect=404)
    # Dropped from environments.txt: no longer reachable.
    settings = load_settings(sandbox.env)
    settings.environments_txt.write_text("")
    await api.call("GET", "environments", key, expect=404)
