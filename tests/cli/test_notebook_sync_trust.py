"""`envmgr notebook sync` of a notebook from elsewhere: it changes only an env that sync made for
that notebook, says what it will do and fetch before it starts, and refuses bad locks with one
message."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_envmgr.engine.bookkeeping import bookkeeping_dir
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.published import VARIABLE, publish
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, installed, on, other_machine_sandbox, tree_snapshot


def _notebook(path: Path, metadata: dict | None = None) -> Path:
    nb = {"cells": [], "metadata": metadata or {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


@pytest.fixture
def other_machine(tmp_path, shared_pkgs) -> Sandbox:
    """Another user on another machine: its own HOME and root prefix."""
    return other_machine_sandbox(tmp_path / "other", shared_pkgs)


def _locked(sandbox: Sandbox, env: str, path: Path) -> dict:
    """Lock `env` into a new notebook at `path`; its metadata.envmgr."""
    _notebook(path)
    sandbox.run("notebook", "lock", str(path), "-n", env)
    return json.loads(path.read_text())["metadata"]["envmgr"]


def _with_lock(path: Path, lock: dict, **metadata) -> Path:
    return _notebook(path, {"envmgr": lock, **metadata})


def _entries(lock: dict) -> list[dict]:
    return next(iter(lock["platforms"].values()))


def _marker(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "notebook.json"


@pytest.fixture
def two_locks(sandbox, channels, tmp_path) -> tuple[dict, dict]:
    """The author's lock (env 'data': delta 1.0) and another notebook's lock that carries the
    same lock id and env name with other packages (alpha)."""
    sandbox.run("create", *on(channels.main_url, "data", "delta=1.0"))
    sandbox.run("create", *on(channels.main_url, "other", "alpha"))
    mine = _locked(sandbox, "data", tmp_path / "mine.ipynb")
    theirs = _locked(sandbox, "other", tmp_path / "theirs.ipynb")
    theirs.update(lock_id=mine["lock_id"], env_name="data")
    return mine, theirs


def test_an_empty_lock_with_another_notebooks_id_is_refused_and_its_env_kept(
    other_machine, two_locks, tmp_path
):
    mine, _ = two_locks
    nb = _with_lock(tmp_path / "a.ipynb", mine)
    made = other_machine.run("notebook", "sync", str(nb), "-y", "--json").result()
    assert made["changed"] is True and made["env"]["name"] == "data"
    data = other_machine.envs / "data"
    before = installed(data)
    assert "delta" in before

    empty = json.loads(json.dumps(mine))
    empty["platforms"] = {k: [] for k in empty["platforms"]}
    res = other_machine.run(
        "notebook", "sync", str(_with_lock(tmp_path / "e.ipynb", empty)), "-y", check=False
    )
    assert res.returncode == 1 and res.stderr.startswith("error:"), res
    assert "names no package" in res.stderr and "Traceback" not in res.stderr
    assert installed(data) == before
    assert sorted(p.name for p in other_machine.envs.iterdir()) == ["data"]


def test_a_lock_matching_a_hand_made_env_leaves_it_alone_for_the_next_notebook(
    other_machine, channels, two_locks, tmp_path
):
    mine, theirs = two_locks
    other_machine.run("create", *on(channels.main_url, "data", "delta=1.0"))
    data = other_machine.envs / "data"
    hand_made = installed(data)

    # The lock matches exactly: nothing to do, and the env does not become the notebook's.
    same = other_machine.run(
        "notebook", "sync", str(_with_lock(tmp_path / "a.ipynb", mine)), "--json"
    ).result()
    assert same["changed"] is False and same["env"]["name"] == "data"
    assert not _marker(data).exists()

    # The next notebook with that lock id gets its own env; the hand-made one is untouched.
    copy = f"data-{mine['lock_id'][:6]}"
    nb = _with_lock(tmp_path / "b.ipynb", theirs)
    preview = other_machine.run("notebook", "sync", str(nb), "--dry-run", "--json").result()
    assert preview["action"] == "create" and preview["env_name"] == copy
    result = other_machine.run("notebook", "sync", str(nb), "-y", "--json").result()
    assert result["env"]["name"] == copy and result["changed"] is True
    assert any("'data'" in n and "left alone" in n and copy in n for n in result["notes"])
    assert installed(data) == hand_made
    assert "alpha" in installed(other_machine.envs / copy)

    # Run again: the copy is now the notebook's (sync made it), and nothing changes.
    again = other_machine.run("notebook", "sync", str(nb), "--json").result()
    assert again["env"]["name"] == copy and again["changed"] is False
    assert installed(data) == hand_made


def test_an_env_sync_made_for_the_notebook_is_updated_after_a_preview_of_the_changes(
    other_machine, two_locks, tmp_path
):
    mine, theirs = two_locks
    other_machine.run("notebook", "sync", str(_with_lock(tmp_path / "a.ipynb", mine)), "-y")
    data = other_machine.envs / "data"
    # The same notebook file, locked again with other packages: its env is its own to update.
    nb = _with_lock(tmp_path / "a.ipynb", theirs)
    preview = other_machine.run("notebook", "sync", str(nb), "--dry-run", "--json").result()
    assert preview["action"] == "update" and preview["env_name"] == "data"
    assert preview["summary"] == (
        f"update 'data': remove {_count(len(preview['remove']))}, add {len(preview['add'])}"
    )
    assert any(d.startswith("delta-1.0-") for d in preview["remove"])
    assert any(d.startswith("alpha-") for d in preview["add"])
    other_machine.run("notebook", "sync", str(nb), "-y")
    assert "alpha" in installed(data) and "delta" not in installed(data)


def test_another_notebook_carrying_the_same_lock_id_gets_an_env_of_its_own(
    other_machine, two_locks, tmp_path
):
    mine, theirs = two_locks
    other_machine.run("notebook", "sync", str(_with_lock(tmp_path / "a.ipynb", mine)), "-y")
    data = other_machine.envs / "data"
    made = installed(data)
    # A lock id is no proof: a notebook elsewhere that copied it does not own 'data'.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    nb = _with_lock(elsewhere / "a.ipynb", theirs)
    copy = f"data-{mine['lock_id'][:6]}"
    preview = other_machine.run("notebook", "sync", str(nb), "--dry-run", "--json").result()
    assert preview["action"] == "create" and preview["env_name"] == copy, preview
    result = other_machine.run("notebook", "sync", str(nb), "-y", "--json").result()
    assert result["env"]["name"] == copy
    assert installed(data) == made
    assert "alpha" in installed(other_machine.envs / copy)


def _count(n: int) -> str:
    return f"{n} package" if n == 1 else f"{n} packages"


def test_the_hosts_and_channels_are_listed_and_the_user_is_asked(
    other_machine, channels, two_locks, tmp_path
):
    mine, _ = two_locks
    nb = _with_lock(tmp_path / "a.ipynb", mine)
    # No terminal and no -y: the preview, then a refusal that says how to confirm.
    res = other_machine.run("notebook", "sync", str(nb), check=False)
    assert res.returncode == 1 and "Pass -y" in res.stderr, res
    assert "create 'data'" in res.stdout
    assert channels.main_url in res.stdout and "this machine (file://)" in res.stdout
    assert not other_machine.envs.exists() or not list(other_machine.envs.iterdir())
    # --json and no -y: refused the same way (as create, install, ... do).
    res = other_machine.run("notebook", "sync", str(nb), "--json", check=False)
    assert res.returncode == 1 and res.result()["reason"] == "confirmation-required", res

    # On a terminal: asked; "n" changes nothing.
    answered = _on_a_terminal(other_machine, ["notebook", "sync", str(nb)], "n\n")
    assert "hosts    : this machine (file://)" in answered and "Proceed? [Y/n]" in answered
    assert "Aborted: nothing was changed." in answered
    assert not other_machine.envs.exists() or not list(other_machine.envs.iterdir())

    # -y: listed, not asked, done.
    res = other_machine.run("notebook", "sync", str(nb), "-y")
    assert channels.main_url in res.stdout and "Proceed?" not in res.stdout
    assert "delta" in installed(other_machine.envs / "data")


def _on_a_terminal(sb: Sandbox, args: list[str], answer: str) -> str:
    """Run the CLI with a terminal as its stdin, answer its question; its stdout."""
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_envmgr", *args],
            env=sb.env,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, answer.encode())
        out, err = proc.communicate(timeout=300)
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 0, (out, err)
    return out


def _sync_error(sb: Sandbox, nb: Path, *extra: str) -> str:
    res = sb.run("notebook", "sync", str(nb), "-y", *extra, check=False)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res
    assert not sb.envs.exists() or not list(sb.envs.iterdir())
    return res.stderr


@pytest.mark.parametrize(
    "key, value",
    [("size", 10**30), ("size", -1), ("size", 1.5), ("timestamp", 10**30),
     ("build_number", 10**30), ("size", True)],
)  # fmt: skip
def test_a_number_out_of_bounds_is_one_error(other_machine, two_locks, tmp_path, key, value):
    mine, _ = two_locks
    _entries(mine)[0][key] = value
    message = _sync_error(other_machine, _with_lock(tmp_path / "n.ipynb", mine))
    assert key in message and "whole number" in message


@pytest.mark.parametrize("name", ["base", "root", "bad name", "-x"])
def test_a_lock_for_a_reserved_or_invalid_env_name_is_refused(
    other_machine, two_locks, tmp_path, name
):
    mine, _ = two_locks
    good = _with_lock(tmp_path / "g.ipynb", mine)
    message = _sync_error(other_machine, good, f"--name={name}")
    assert "cannot be synced" in message or "not a valid" in message
    mine["env_name"] = name
    message = _sync_error(other_machine, _with_lock(tmp_path / "r.ipynb", mine))
    assert "cannot be synced" in message or "invalid env_name" in message


def test_an_entry_whose_channel_is_not_its_urls_is_refused_by_name(
    other_machine, channels, two_locks, tmp_path
):
    mine, _ = two_locks
    entry = next(e for e in _entries(mine) if e["name"] == "delta")
    entry["channel"] = channels.extra_url
    message = _sync_error(other_machine, _with_lock(tmp_path / "c.ipynb", mine))
    assert "delta-1.0-" in message and channels.extra_url in message


@pytest.mark.parametrize("kernelspec", ["python3", None, 7, ["x"]])
def test_a_kernelspec_that_is_not_a_mapping_is_no_traceback(
    sandbox, other_machine, two_locks, tmp_path, kernelspec
):
    mine, _ = two_locks
    nb = _with_lock(tmp_path / "k.ipynb", mine, kernelspec=kernelspec)
    result = other_machine.run("notebook", "sync", str(nb), "-y", "--json").result()
    assert result["env"]["name"] == "data"
    shown = other_machine.run("notebook", "show", str(nb), "--json").result()
    assert shown["in_sync"] is True
    # `notebook lock` reads the kernelspec to find the env: one message, not a traceback.
    other = _notebook(tmp_path / "l.ipynb", {"kernelspec": kernelspec})
    res = sandbox.run("notebook", "lock", str(other), check=False)
    assert res.returncode == 1 and "name the environment" in res.stderr, res
    assert "Traceback" not in res.stderr


def test_a_new_env_the_policy_would_make_read_only_is_refused_before_anything_is_fetched(
    two_locks, tmp_path
):
    # A server's kernel runs this CLI under the server's policy. The lock's env does not exist
    # here, so sync would create it, and read-only rules hold for envs not made yet: refused
    # while preparing, before the lock's packages are looked up or fetched (a cold cache). Before,
    # --dry-run previewed the create, and the sync refused it only after reading the lock's
    # packages from their channels' indexes.
    mine, _ = two_locks
    mine["env_name"] = "shared-data"
    nb = _with_lock(tmp_path / "ro.ipynb", mine)
    cold = other_machine_sandbox(tmp_path / "cold")
    policy = Policy(read_only_envs=("shared-*",))
    cold.env[VARIABLE] = publish(load_settings(cold.env, home=cold.home), policy)
    snap = tree_snapshot(tmp_path / "cold")
    for extra in ("--dry-run", "-y"):
        res = cold.run("notebook", "sync", str(nb), extra, check=False)
        assert res.returncode == 1 and res.stderr.startswith("error:"), res
        assert "shared-*" in res.stderr and "Traceback" not in res.stderr, res
    assert tree_snapshot(tmp_path / "cold") == snap
    # The user's own name for it: the same lock syncs.
    result = cold.run("notebook", "sync", str(nb), "-y", "-n", "mine", "--json").result()
    assert result["changed"] is True and "delta" in installed(cold.envs / "mine")
