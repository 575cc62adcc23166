"""The REST package list carries the package insight: requested or a dependency, updatable from
the configured channels, the channel's short name beside its URL, and why each is installed;
behind the server's token like every route."""

from __future__ import annotations

import pytest

from ..engine.test_package_insight import publish
from ..helpers import on


@pytest.fixture
def channel(tmp_path):
    channel = tmp_path / "restchan"
    publish(channel, "libcore", "1.0")
    publish(channel, "app", "1.0", ("libcore",))
    return channel


@pytest.fixture
def envmgr_config(channel):
    return {"default_channels": [channel.as_uri()]}  # the server's configured channel


async def test_the_package_list_says_requested_updatable_channel_and_why(
    api, jp_fetch, sandbox, channel
):
    sandbox.run("create", *on(channel.as_uri(), "restins", "app"))
    publish(channel, "libcore", "3.0")

    _, listed = await api.call("GET", "environments", "restins", "packages")
    by_name = {p["name"]: p for p in listed["packages"]}
    app, lib = by_name["app"], by_name["libcore"]
    assert app["requested"] is True and app["requested_spec"] == "app"
    assert lib["requested"] is False and lib["required_by"] == ["app"]
    assert lib["updatable"] == "3.0" and lib["updates_known"] is True
    assert app["updatable"] is None
    assert lib["channel"] == "restchan" and lib["channel_url"] == channel.as_uri()

    # The env's own view answers the same packages.
    _, detail = await api.call("GET", "environments", "restins")
    assert detail["packages"] == listed["packages"]

    # Without the token: refused, nothing read.
    response = await jp_fetch(
        "envmgr", "api", "environments", "restins", "packages",
        headers={"Authorization": ""}, raise_error=False,
    )  # fmt: skip
    assert response.code in (401, 403)
