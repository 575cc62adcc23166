"""Admin policy from jupyter_server config: read-only envs, allowed channels, no cleaning."""

from __future__ import annotations

import pytest

from ..helpers import installed, on


@pytest.fixture
def envmgr_config(channels):
    return {
        "read_only_envs": ["shared-*"],
        "allowed_channels": [channels.main_url],
        "allow_clean": False,
    }


async def test_read_only_envs_are_listed_but_never_changed(api, sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "shared-data", "delta=1.0"))
    _, listing = await api.call("GET", "environments")
    entry = next(e for e in listing["environments"] if e["name"] == "shared-data")
    assert entry["read_only"] is True
    for method, path, body in [
        ("POST", ("environments", "shared-data", "packages"), {"specs": ["alpha"]}),
        ("PATCH", ("environments", "shared-data", "packages"), {"all": True}),
        ("DELETE", ("environments", "shared-data"), None),
        ("POST", ("environments", "shared-data", "revisions"), {"revision": 0}),
    ]:
        _, error = await api.call(method, *path, body=body, expect=403)
        assert "read-only" in error["message"]
    assert installed(sandbox.envs / "shared-data")["delta"][0] == "1.0"
    # A clone of a read-only env is the user's own.
    await api.run("POST", "environments", "shared-data", "clone", body={"name": "mine"})
    assert installed(sandbox.envs / "mine") == installed(sandbox.envs / "shared-data")


async def test_channels_outside_the_allow_list_are_forbidden(api, sandbox, channels):
    _, error = await api.call(
        "POST",
        "environments",
        expect=403,
        body={
            "name": "x",
            "specs": ["delta"],
            "channels": [channels.extra_url],
            "override_channels": True,
        },
    )
    assert channels.extra_url in error["message"]
    _, error = await api.call(
        "GET", "search", params={"q": "delta", "channel": channels.extra_url}, expect=403
    )
    assert not (sandbox.envs / "x").exists()


async def test_cleaning_can_be_disabled(api):
    _, error = await api.call("GET", "clean", expect=403)
    assert "disabled" in error["message"]
    await api.call("POST", "clean", body={"categories": ["all"]}, expect=403)


async def test_an_uploaded_file_naming_a_forbidden_channel_is_refused_at_once(
    api, sandbox, channels
):
    yml = f"channels: [{channels.extra_url}]\ndependencies: [delta]\n"
    _, error = await api.call(
        "POST",
        "environments",
        expect=403,
        body={"name": "fromfile", "file": yml, "override_channels": True},
    )
    assert channels.extra_url in error["message"]
    assert not (sandbox.envs / "fromfile").exists()
