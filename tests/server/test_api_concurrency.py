"""Tasks on one env wait for its lock (even a CLI's); tasks on different envs run together."""

from __future__ import annotations

import asyncio
import json

import pytest

from jupyter_envmgr.channels import serve_channel

from ..helpers import installed, on


@pytest.fixture
def own_pkgs(tmp_path, sandbox):
    # A cold cache shared by the CLI and the server: downloads really happen (and are slow).
    pkgs = tmp_path / "own-pkgs"
    sandbox.env["CONDA_PKGS_DIRS"] = str(pkgs)
    return pkgs


@pytest.fixture
def envmgr_config(own_pkgs):
    return {"pkgs_dirs": [str(own_pkgs)]}


async def _state_seen(api, task_id, state, timeout=60):
    for _ in range(int(timeout * 20)):
        _, task = await api.call("GET", "tasks", task_id)
        if task["state"] == state:
            return task
        await asyncio.sleep(0.05)
    raise AssertionError(f"task {task_id} never {state}: {task['state']}")


async def test_a_cli_holding_the_lock_shows_the_task_as_waiting(api, sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "busy", "delta=1.0"))
    with serve_channel(channels.main, chunk_delay=0.02, chunk_size=65536) as url:
        cli = sandbox.popen("install", *on(url, "busy", "python", json=True))
        for line in cli.stdout:  # the CLI holds the lock once it solves
            if json.loads(line)["event"] == "solve-done":
                break
        _, task = await api.call(
            "POST",
            "environments",
            "busy",
            "packages",
            expect=202,
            body={
                "specs": ["delta=1.1"],
                "channels": [channels.main_url],
                "override_channels": True,
            },
        )
        waiting = await _state_seen(api, task["id"], "waiting")
        holder = next(e for e in waiting["events"] if e["event"] == "lock-wait")["holder"]
        assert holder["pid"] == cli.pid
        cli.communicate(timeout=300)
    await api.events(task["id"])
    _, final = await api.call("GET", "tasks", task["id"])
    assert final["state"] == "done"
    assert {"python", "delta"} <= set(installed(sandbox.envs / "busy"))
    assert installed(sandbox.envs / "busy")["delta"][0] == "1.1"


async def test_tasks_on_different_envs_run_at_the_same_time(api, sandbox, channels):
    with serve_channel(channels.main, chunk_delay=0.02, chunk_size=16384) as url:
        tasks = []
        for name in ("par1", "par2"):
            _, task = await api.call(
                "POST",
                "environments",
                expect=202,
                body={
                    "name": name,
                    "specs": ["python"],
                    "channels": [url],
                    "override_channels": True,
                },
            )
            tasks.append(task["id"])
        both = False
        for _ in range(600):
            states = [(await api.call("GET", "tasks", t))[1]["state"] for t in tasks]
            if states == ["running", "running"]:
                both = True
                break
            await asyncio.sleep(0.05)
        for t in tasks:
            response = await api.fetch(
                "envmgr", "api", "tasks", t, method="DELETE", raise_error=False
            )
            assert response.code in (202, 409)  # 409: that one had already finished
            await api.events(t)
    assert both, "the two creates never ran at once"
