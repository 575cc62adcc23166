"""REST: how an env differs from the lock a notebook carries (POST notebook/drift), the entry
JupyterLab's drift badge reads; nothing is changed by asking."""

from __future__ import annotations

import pytest

from ..helpers import on, tree_snapshot


async def test_the_drift_counts_packages_added_removed_and_changed_since_the_lock(
    api, sandbox, channels
):
    sandbox.run("create", *on(channels.main_url, "data", "python", "delta=1.0", "beta"))
    _, lock = await api.call("GET", "environments", "data", "notebook-lock")
    metadata = {"envmgr": lock["envmgr"], "kernelspec": lock["kernelspec"]}
    _, drift = await api.call(
        "POST", "notebook", "drift", body={"metadata": metadata, "env": "data"}
    )
    assert drift["locked"] is True and drift["count"] == 0
    assert drift["summary"] == "data matches the notebook's lock."

    sandbox.run("install", *on(channels.main_url, "data", "gamma", "delta=1.1"))
    sandbox.run("remove", "-n", "data", "beta", "-y")
    snap = tree_snapshot(sandbox.root)
    _, drift = await api.call(
        "POST", "notebook", "drift", body={"metadata": metadata, "env": "data"}
    )
    assert [d.rsplit("-", 2)[0] for d in drift["added"]] == ["gamma"]
    assert "beta" in [d.rsplit("-", 2)[0] for d in drift["removed"]]
    assert len(drift["changed"]) == 1 and drift["changed"][0].startswith("delta: delta-1.0-")
    count = 2 + len(drift["removed"])
    assert drift["count"] == count and drift["env"]["name"] == "data"
    assert drift["summary"] == f"data differs from the notebook's lock: {count} packages."
    assert tree_snapshot(sandbox.root) == snap  # asking changes nothing

    # Locked again from the env: no drift.
    _, again = await api.call("GET", "environments", "data", "notebook-lock")
    body = {"metadata": {"envmgr": again["envmgr"]}, "env": "data"}
    _, drift = await api.call("POST", "notebook", "drift", body=body)
    assert drift["count"] == 0


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"metadata": {}, "env": "data"}, 400, "carries no environment"),
        ({"metadata": [], "env": "data"}, 400, "'metadata' must be"),
        ({"metadata": {"envmgr": {"version": 9}}, "env": "data"}, 400, "format version 9"),
        ({"metadata": {"envmgr": {}}}, 400, "'env' must be"),
        ({"metadata": {"envmgr": {}}, "env": "data", "x": 1}, 400, "x"),
        ({"metadata": {"envmgr": {}}, "env": "../etc"}, 400, "not a valid environment name"),
        ({"metadata": {"envmgr": {}}, "env": "nosuch"}, 404, "nosuch"),
    ],
)
async def test_bad_drift_requests_get_one_clear_error(api, sandbox, channels, body, code, words):
    sandbox.run("create", *on(channels.main_url, "data", "python"))
    _, error = await api.call("POST", "notebook", "drift", body=body, expect=code)
    assert words in error["message"]
