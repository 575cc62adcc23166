"""REST for notebooks that carry their env: the lock to embed, and sync as a task."""

from __future__ import annotations

import pytest

from ..helpers import installed, on, tree_snapshot


@pytest.fixture
def envmgr_config(channels):
    return {"allowed_channels": [channels.main_url]}


async def test_a_lock_from_one_env_syncs_into_another(api, sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "data", "python", "ipykernel", "delta=1.0"))
    _, lock = await api.call("GET", "environments", "data", "notebook-lock")
    assert lock["kernelspec"]["name"] == "conda-env-data-python3"
    assert lock["envmgr"]["env_name"] == "data" and "delta=1.0" in lock["envmgr"]["specs"]
    # The client keeps the notebook's lock id across re-locks.
    _, again = await api.call(
        "GET", "environments", "data", "notebook-lock",
        params={"lock_id": lock["envmgr"]["lock_id"]},
    )  # fmt: skip
    assert again["envmgr"]["lock_id"] == lock["envmgr"]["lock_id"]

    final, _ = await api.run(
        "POST", "notebook", "sync", body={"metadata": {"envmgr": lock["envmgr"]}, "name": "copy"}
    )
    assert final["result"]["changed"] is True
    assert installed(sandbox.envs / "copy") == installed(sandbox.envs / "data")
    # The source itself is already in sync: a sync without a name changes nothing.
    final, _ = await api.run(
        "POST", "notebook", "sync", body={"metadata": {"envmgr": lock["envmgr"]}}
    )
    assert final["result"]["changed"] is False and final["result"]["env"]["name"] == "data"


async def test_a_lock_reaching_outside_the_allow_list_is_403_before_a_task(api, sandbox, channels):
    sandbox.run("create", *on(channels.extra_url, "other", "delta=5.0"))
    _, lock = await api.call("GET", "environments", "other", "notebook-lock")
    snap = tree_snapshot(sandbox.root)
    _, error = await api.call(
        "POST", "notebook", "sync", body={"metadata": {"envmgr": lock["envmgr"]}, "name": "x"},
        expect=403,
    )  # fmt: skip
    assert "extra" in error["message"]
    _, tasks = await api.call("GET", "tasks")
    assert tasks["tasks"] == [] and tree_snapshot(sandbox.root) == snap


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"metadata": []},
        {"metadata": {}},
        {"metadata": {"envmgr": {"version": 2}}},
        {"metadata": {"envmgr": "x"}},
        {"metadata": {"envmgr": {}}, "name": "bad name"},
        {"metadata": {}, "extra": 1},
    ],
)
async def test_bad_notebook_metadata_is_400(api, body):
    _, error = await api.call("POST", "notebook", "sync", body=body, expect=400)
    assert error["message"]
