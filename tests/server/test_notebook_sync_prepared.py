"""POST notebook/sync is prepared whole before a task (its env change by `operations.prepare`,
as every change): what the sync would refuse is refused before a task starts, and the task (in
its child process) carries out the decision the server made, for an exact set as for a solve."""

from __future__ import annotations

import pytest

from ..helpers import installed, on, tree_snapshot


@pytest.fixture
def envmgr_config(channels):
    return {"allowed_channels": [channels.main_url], "read_only_envs": ["shared-*"]}


async def _lock(api, sandbox, channels, env_name: str) -> dict:
    """A lock of an env with delta 1.0, as a notebook naming the env `env_name` carries it."""
    sandbox.run("create", *on(channels.main_url, "src", "delta=1.0"))
    _, lock = await api.call("GET", "environments", "src", "notebook-lock")
    return {**lock["envmgr"], "env_name": env_name}


async def _tasks(api) -> list[dict]:
    _, tasks = await api.call("GET", "tasks")
    return tasks["tasks"]


@pytest.mark.parametrize("named", [False, True])
async def test_a_new_env_the_policy_would_make_read_only_is_403_before_a_task(
    api, sandbox, channels, named
):
    # Before, only the task refused it (its child prepared the create again): a 202, then a
    # failed task. The env the lock names does not exist: sync would create it, and read-only
    # rules hold for envs not made yet, as for any create.
    lock = await _lock(api, sandbox, channels, "data" if named else "shared-data")
    body = {"metadata": {"envmgr": lock}, **({"name": "shared-mine"} if named else {})}
    snap = tree_snapshot(sandbox.root, sandbox.pkgs)
    for dry_run in (True, False):  # the preview refuses what the sync would refuse
        _, error = await api.call(
            "POST", "notebook", "sync", body={**body, "dry_run": dry_run}, expect=403
        )
        assert error["reason"] == "forbidden" and "shared-*" in error["message"], error
        assert "Choose another name" in error["message"], error
    assert await _tasks(api) == []
    assert tree_snapshot(sandbox.root, sandbox.pkgs) == snap
    assert sorted(p.name for p in sandbox.envs.iterdir()) == ["src"]

    # Named otherwise, the same lock syncs.
    final, _ = await api.run("POST", "notebook", "sync", body={**body, "name": "mine"})
    assert final["result"]["changed"] is True and final["result"]["env"]["name"] == "mine"
    assert installed(sandbox.envs / "mine") == installed(sandbox.envs / "src")


async def test_an_unlocked_platform_is_solved_in_the_task_as_prepared(api, sandbox, channels):
    lock = await _lock(api, sandbox, channels, "data")
    (platform,) = lock["platforms"]
    other = "osx-arm64" if platform != "osx-arm64" else "linux-64"
    lock["platforms"] = {other: lock["platforms"][platform]}
    body = {"metadata": {"envmgr": lock}}
    _, preview = await api.call("POST", "notebook", "sync", body={**body, "dry_run": True})
    assert preview["action"] == "create" and preview["solved"] is True
    assert preview["specs"] == lock["specs"] and preview["channels"] == [channels.main_url]
    final, _ = await api.run("POST", "notebook", "sync", body=body)
    result = final["result"]
    assert result["changed"] is True and result["solved"] is True, result
    assert result["env"]["name"] == "data" and final["env"] == "data"
    assert installed(sandbox.envs / "data")["delta"][0] == "1.0"
    # Made by sync for this notebook: the next sync of the same lock is its own, in sync.
    final, _ = await api.run("POST", "notebook", "sync", body=body)
    assert final["result"]["env"]["name"] == "data"
