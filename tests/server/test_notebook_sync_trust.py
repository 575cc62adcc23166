"""POST notebook/sync with a notebook from elsewhere: only an env that sync made for that notebook
changes, every check answers 4xx before a task, and `dry_run` says what it would do and fetch."""

from __future__ import annotations

import copy

import pytest

from jupyter_envmgr.engine.bookkeeping import bookkeeping_dir

from ..helpers import installed, on


@pytest.fixture
def envmgr_config(channels):
    return {"allowed_channels": [channels.main_url]}


async def _locks(api, sandbox, channels) -> tuple[dict, dict]:
    """The notebook's lock (env 'data': delta 1.0), and another notebook's lock carrying the
    same lock id and env name with other packages (alpha)."""
    sandbox.run("create", *on(channels.main_url, "src", "delta=1.0"))
    sandbox.run("create", *on(channels.main_url, "other", "alpha"))
    _, mine = await api.call("GET", "environments", "src", "notebook-lock")
    _, theirs = await api.call("GET", "environments", "other", "notebook-lock")
    mine, theirs = mine["envmgr"], theirs["envmgr"]
    mine["env_name"] = "data"
    theirs.update(lock_id=mine["lock_id"], env_name="data")
    return mine, theirs


def _body(lock: dict, **extra) -> dict:
    return {"metadata": {"envmgr": lock}, **extra}


def _entries(lock: dict) -> list[dict]:
    return next(iter(lock["platforms"].values()))


async def _tasks(api) -> list[dict]:
    _, tasks = await api.call("GET", "tasks")
    return tasks["tasks"]


async def _refused(api, lock: dict, status: int, **extra) -> str:
    """A 4xx with one message, and no task started."""
    before = len(await _tasks(api))
    _, error = await api.call("POST", "notebook", "sync", body=_body(lock, **extra), expect=status)
    assert error["message"] and "\n" not in error["message"] and "Traceback" not in str(error)
    assert len(await _tasks(api)) == before
    return error["message"]


async def test_an_empty_lock_with_the_notebooks_id_is_refused_and_its_env_kept(
    api, sandbox, channels
):
    mine, _ = await _locks(api, sandbox, channels)
    final, _ = await api.run("POST", "notebook", "sync", body=_body(mine))
    assert final["result"]["changed"] is True and final["result"]["env"]["name"] == "data"
    before = installed(sandbox.envs / "data")
    empty = copy.deepcopy(mine)
    empty["platforms"] = {k: [] for k in empty["platforms"]}
    message = await _refused(api, empty, 400)
    assert "names no package" in message
    assert installed(sandbox.envs / "data") == before


async def test_a_lock_matching_a_hand_made_env_leaves_it_alone_for_the_next_notebook(
    api, sandbox, channels
):
    mine, theirs = await _locks(api, sandbox, channels)
    sandbox.run("create", *on(channels.main_url, "data", "delta=1.0"))
    data = sandbox.envs / "data"
    hand_made = installed(data)

    final, _ = await api.run("POST", "notebook", "sync", body=_body(mine))
    assert final["result"]["changed"] is False and final["result"]["env"]["name"] == "data"
    assert not (bookkeeping_dir(data) / "notebook.json").exists()  # not the notebook's now

    copy_name = f"data-{mine['lock_id'][:6]}"
    _, preview = await api.call("POST", "notebook", "sync", body=_body(theirs, dry_run=True))
    assert preview["action"] == "create" and preview["env_name"] == copy_name
    assert preview["env"] is None and any("left alone" in n for n in preview["notes"])
    assert preview["channels"] == [channels.main_url]
    assert preview["hosts"] == ["this machine (file://)"]
    assert await _tasks(api) and len(await _tasks(api)) == 1  # the dry run started none

    final, _ = await api.run("POST", "notebook", "sync", body=_body(theirs))
    assert final["result"]["env"]["name"] == copy_name
    assert any(copy_name in n and "'data'" in n for n in final["result"]["notes"])
    assert installed(data) == hand_made
    assert "alpha" in installed(sandbox.envs / copy_name)


async def test_the_preview_names_the_env_a_sync_would_update_and_counts_the_changes(
    api, sandbox, channels
):
    mine, theirs = await _locks(api, sandbox, channels)
    await api.run("POST", "notebook", "sync", body=_body(mine))  # sync makes 'data'
    before = installed(sandbox.envs / "data")
    _, preview = await api.call("POST", "notebook", "sync", body=_body(theirs, dry_run=True))
    assert preview["action"] == "update" and preview["env"]["name"] == "data"
    removed, added = len(preview["remove"]), len(preview["add"])
    unit = "package" if removed == 1 else "packages"
    assert preview["summary"] == f"update 'data': remove {removed} {unit}, add {added}"
    assert installed(sandbox.envs / "data") == before  # a dry run changes nothing
    _, same = await api.call("POST", "notebook", "sync", body=_body(mine, dry_run=True))
    assert same["action"] == "none" and same["hosts"] == [] and same["channels"] == []


@pytest.mark.parametrize(
    "key, value", [("size", 10**30), ("timestamp", 10**30), ("build_number", -1)]
)
async def test_a_number_out_of_bounds_is_one_400(api, sandbox, channels, key, value):
    mine, _ = await _locks(api, sandbox, channels)
    _entries(mine)[0][key] = value
    message = await _refused(api, mine, 400)
    assert key in message and "whole number" in message


@pytest.mark.parametrize("kernelspec", ["python3", None])
async def test_a_kernelspec_that_is_not_a_mapping_is_no_error(api, sandbox, channels, kernelspec):
    mine, _ = await _locks(api, sandbox, channels)
    body = {"metadata": {"envmgr": mine, "kernelspec": kernelspec}}
    _, preview = await api.call("POST", "notebook", "sync", body={**body, "dry_run": True})
    assert preview["action"] == "create"
    final, _ = await api.run("POST", "notebook", "sync", body=body)
    assert final["result"]["env"]["name"] == "data"


@pytest.mark.parametrize("env_name", ["base", "root", "-x"])
async def test_a_reserved_or_invalid_env_name_is_400_before_a_task(
    api, sandbox, channels, env_name
):
    mine, _ = await _locks(api, sandbox, channels)
    mine["env_name"] = env_name
    message = await _refused(api, mine, 400)
    assert env_name in message and "cannot be synced" in message
    assert await _tasks(api) == []


async def test_a_disallowed_channel_in_an_unlocked_platforms_specs_is_403_before_a_task(
    api, sandbox, channels
):
    mine, _ = await _locks(api, sandbox, channels)
    (platform,) = mine["platforms"]
    other = "osx-arm64" if platform != "osx-arm64" else "linux-64"
    mine["platforms"] = {other: mine["platforms"][platform]}
    mine["specs"] = [f"{channels.extra_url}::delta"]
    message = await _refused(api, mine, 403)
    assert "extra" in message
    mine["specs"] = ["delta"]
    mine["channels"] = [channels.extra_url]
    assert "extra" in await _refused(api, mine, 403)
    assert await _tasks(api) == [] and not (sandbox.envs / "data").exists()


async def test_an_entry_whose_channel_is_not_its_urls_is_400_naming_it(api, sandbox, channels):
    mine, _ = await _locks(api, sandbox, channels)
    entry = next(e for e in _entries(mine) if e["name"] == "delta")
    entry["channel"] = channels.main_url + "/label/other"
    message = await _refused(api, mine, 400)
    assert "delta-1.0-" in message and "label/other" in message


async def test_an_env_belongs_to_the_notebook_path_that_synced_it_not_to_its_lock_id(
    api, sandbox, channels
):
    mine, theirs = await _locks(api, sandbox, channels)
    await api.run("POST", "notebook", "sync", body=_body(mine, path="work/a.ipynb"))
    made = installed(sandbox.envs / "data")
    copy = f"data-{mine['lock_id'][:6]}"
    # Another notebook carrying the same lock id: an env of its own, 'data' untouched.
    _, preview = await api.call(
        "POST", "notebook", "sync", body=_body(theirs, path="other/b.ipynb", dry_run=True)
    )
    assert preview["action"] == "create" and preview["env_name"] == copy, preview
    final, _ = await api.run("POST", "notebook", "sync", body=_body(theirs, path="other/b.ipynb"))
    assert final["result"]["env"]["name"] == copy
    assert installed(sandbox.envs / "data") == made
    # The notebook that made 'data', locked again: its env is its own to update.
    _, preview = await api.call(
        "POST", "notebook", "sync", body=_body(theirs, path="work/a.ipynb", dry_run=True)
    )
    assert preview["action"] == "update" and preview["env"]["name"] == "data", preview
    # A path that leaves the server's root is refused before a task.
    message = await _refused(api, theirs, 400, path="../../etc/passwd")
    assert "not under the server's root" in message
