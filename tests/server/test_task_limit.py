"""The server keeps at most `max_queued_tasks` unfinished tasks: beyond it a request answers 429
saying how many there are and what to do; a cancelled or finished task makes room again.

The tasks are kept unfinished for real: the test holds the env's lock (as a CLI would), so
every task on that env waits for it."""

from __future__ import annotations

import pytest

from jupyter_envmgr.engine.lock import prefix_lock

from ..helpers import installed, versions


@pytest.fixture
def envmgr_config():
    return {"max_queued_tasks": 2}


async def _install(api, channels, spec, expect=202):
    body = {"specs": [spec], "channels": [channels.main_url], "override_channels": True}
    return await api.call("POST", "environments", "a", "packages", body=body, expect=expect)


async def test_requests_beyond_the_queued_task_limit_get_429(api, sandbox, channels):
    await api.create(channels.main_url, "a", "delta=1.0")
    prefix = sandbox.envs / "a"
    async with prefix_lock(prefix, timeout=10, cmd="test: holding the env"):
        _, first = await _install(api, channels, "alpha")
        _, second = await _install(api, channels, "delta=1.1")
        for task in (first, second):
            await api.wait_for_event(task["id"], "lock-wait")

        _, error = await _install(api, channels, "gamma", expect=429)
        assert error["reason"] == "too-many-tasks", error
        assert "2 tasks are queued or running" in error["message"], error
        assert "cancel" in error["message"], error
        # Every kind of task counts: a create on another env is refused too, and nothing made.
        body = {"name": "b", "specs": ["delta"], "channels": [channels.main_url]}
        _, error = await api.call("POST", "environments", body=body, expect=429)
        assert error["reason"] == "too-many-tasks", error
        assert not (sandbox.envs / "b").exists()
        _, tasks = await api.call("GET", "tasks")
        assert len(tasks["tasks"]) == 3  # the create of "a" (done) and the two waiting

        # Cancelling one makes room for one.
        await api.call("DELETE", "tasks", second["id"], expect=202)
        await api.events(second["id"])  # the stream ends with the task
        _, third = await _install(api, channels, "delta=1.1")
        await api.wait_for_event(third["id"], "lock-wait")
        await _install(api, channels, "gamma", expect=429)

    # The lock released, the waiting tasks finish, and new requests are accepted again.
    for task in (first, third):
        await api.events(task["id"])
        _, final = await api.call("GET", "tasks", task["id"])
        assert final["state"] == "done", final
    assert "alpha" in installed(prefix) and versions(prefix)["delta"] == "1.1"
    _, last = await _install(api, channels, "alpha=1.5")
    await api.events(last["id"])
