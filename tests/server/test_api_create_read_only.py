"""REST create refuses an env the server's read-only rules would cover: once made, nobody
could change or delete it through the server. Refused with a 403 before any task exists."""

from __future__ import annotations

import pytest

from ..helpers import tree_snapshot


@pytest.fixture
def envmgr_config(request, sandbox):
    """The policy a test names, `{envs}` standing for the sandbox's envs dir."""
    return {k: [v.format(envs=sandbox.envs) for v in vs] for k, vs in request.param.items()}


async def _refused_create(api, sandbox, channels, name, *words):
    snap = tree_snapshot(sandbox.root)
    body = {
        "name": name,
        "specs": ["delta=1.0"],
        "channels": [channels.main_url],
        "override_channels": True,
    }
    _, error = await api.call("POST", "environments", body=body, expect=403)
    assert error["reason"] == "forbidden", error
    for word in words:
        assert word in error["message"], error
    _, tasks = await api.call("GET", "tasks")
    assert tasks["tasks"] == [], "a task was started"
    assert tree_snapshot(sandbox.root) == snap
    assert not (sandbox.envs / name).exists()


@pytest.mark.parametrize("envmgr_config", [{"read_only_envs": ["team-*"]}], indirect=True)
async def test_create_with_a_read_only_name_is_refused(api, sandbox, channels):
    await _refused_create(api, sandbox, channels, "team-data", "team-*", "Choose another")
    final, _ = await api.create(channels.main_url, "mine", "delta=1.0")
    assert final["result"]["applied"] is True


@pytest.mark.parametrize("envmgr_config", [{"read_only_dirs": ["{envs}"]}], indirect=True)
async def test_create_in_a_read_only_envs_dir_is_refused(api, sandbox, channels):
    await _refused_create(api, sandbox, channels, "anything", "read-only folder")
