"""GET /envmgr/api/suggested-specs: the create form's placeholder, from the configured channels
(or those given), checked against the admin's allow list like every channel a request names."""

from __future__ import annotations

import pytest


@pytest.fixture
def envmgr_config(channels):
    return {"default_channels": [channels.main_url], "allowed_channels": [channels.main_url]}


async def test_the_suggestion_names_what_the_configured_channels_have(api, channels):
    _, answer = await api.call("GET", "suggested-specs")
    minor = ".".join(channels.python_version.split(".")[:2])
    assert answer["channels"] == [channels.main_url]
    assert answer["specs"][:2] == [f"python={minor}", "ipykernel"]
    # Channels named in the request: the allow list holds, before anything is read.
    _, error = await api.call(
        "GET", "suggested-specs", params={"channel": channels.extra_url}, expect=403
    )
    assert channels.extra_url in error["message"]
