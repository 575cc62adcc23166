"""Cancelling a task during a slow download and during linking restores the env exactly."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_envmgr.channels import serve_channel

from ..helpers import files_on_disk, installed, owned_files


@pytest.fixture
def envmgr_config(tmp_path):
    # A cold cache of our own: linking then takes long enough to be interrupted.
    return {"pkgs_dirs": [str(tmp_path / "own-pkgs")]}


async def _cancel_on(service, task_id, kind, timeout=60):
    task = service.tasks.get(task_id)
    for _ in range(int(timeout * 1000)):
        if any(e["event"] == kind for e in task.events):
            service.tasks.cancel(task)
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"no {kind} event; events: {[e['event'] for e in task.events]}")


def _service(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["jupyter_envmgr"].app.service


async def test_cancel_during_a_slow_download_restores_the_env(api, sandbox, channels, jp_serverapp):
    await api.create(channels.main_url, "slow", "delta=1.0")
    prefix = sandbox.envs / "slow"
    before = installed(prefix)
    with serve_channel(channels.main, chunk_delay=0.05, chunk_size=16384) as url:
        _, task = await api.call(
            "POST",
            "environments",
            "slow",
            "packages",
            expect=202,
            body={"specs": ["python", "delta=1.1"], "channels": [url], "override_channels": True},
        )
        await api.wait_for_event(task["id"], "download-progress")
        await api.call("DELETE", "tasks", task["id"], expect=202)
        events = await api.events(task["id"])
    _, final = await api.call("GET", "tasks", task["id"])
    assert final["state"] == "cancelled", final
    assert events[-1]["event"] == "cancelled"
    assert installed(prefix) == before
    assert files_on_disk(prefix) - owned_files(prefix) == set()


async def test_cancel_of_a_create_during_download_leaves_no_env(api, sandbox, channels):
    with serve_channel(channels.main, chunk_delay=0.05, chunk_size=16384) as url:
        _, task = await api.call(
            "POST",
            "environments",
            expect=202,
            body={
                "name": "never",
                "specs": ["python"],
                "channels": [url],
                "override_channels": True,
            },
        )
        await api.wait_for_event(task["id"], "download-progress")
        await api.call("DELETE", "tasks", task["id"], expect=202)
        await api.events(task["id"])
    _, final = await api.call("GET", "tasks", task["id"])
    assert final["state"] == "cancelled"
    assert not (sandbox.envs / "never").exists()


async def test_cancel_during_linking_restores_the_env(api, sandbox, channels, jp_serverapp):
    await api.create(channels.main_url, "lnk", "delta=1.0")
    prefix = sandbox.envs / "lnk"
    before = installed(prefix)
    _, task = await api.call(
        "POST",
        "environments",
        "lnk",
        "packages",
        expect=202,
        body={
            "specs": ["python", "ipykernel", "manyfiles"],
            "channels": [channels.main_url],
            "override_channels": True,
        },
    )
    await _cancel_on(_service(jp_serverapp), task["id"], "link")
    await api.events(task["id"])
    _, final = await api.call("GET", "tasks", task["id"])
    assert final["state"] == "cancelled", final["error"]
    assert installed(prefix) == before
    assert files_on_disk(prefix) - owned_files(prefix) == set()
