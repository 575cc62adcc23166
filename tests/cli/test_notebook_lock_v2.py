"""Notebook locks, version 2: several platforms and the env's pip packages in `metadata.envmgr`;
`notebook sync` on another machine recreates conda and pip packages; `notebook show` lists the
platforms and pip packages, and how the env the notebook runs on has drifted from its lock.
Version 1 notebooks are still read. Wheels are real, on a PEP 503 index on 127.0.0.1."""

# ruff: noqa: F811  (the pip fixtures, imported from test_pip_lock, are parameters here)
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_envmgr.engine.errors import BadInput, Forbidden
from jupyter_envmgr.engine.notebook_sync import NotebookSyncRequest, prepare_sync
from jupyter_envmgr.engine.pip_lock import pip_entries
from jupyter_envmgr.engine.policy import Policy

from ..helpers import Sandbox, installed, on, other_machine_sandbox, tree_snapshot
from .test_pip_lock import _pip, in_process, index, src  # noqa: F401  (fixtures)

FOREIGN = "osx-arm64"


def _notebook(path: Path) -> Path:
    nb = {"cells": [], "metadata": {"authors": ["me"]}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


def _lock(sandbox: Sandbox, nb_path: Path) -> dict:
    sandbox.run("notebook", "lock", str(nb_path), "-n", "src", "--platform", FOREIGN)
    return json.loads(nb_path.read_text())["metadata"]["envmgr"]


def _show(sandbox: Sandbox, nb_path: Path) -> dict:
    return sandbox.run("notebook", "show", str(nb_path), "--json").result()


@pytest.fixture
def locked(sandbox, src, tmp_path) -> Path:
    """A notebook for `src` (python, pip, two pip packages); `_lock` locks it."""
    return _notebook(tmp_path / "analysis.ipynb")


def test_a_notebook_locked_for_two_platforms_with_pip_syncs_conda_and_pip_elsewhere(
    sandbox, src, index, locked, tmp_path, shared_pkgs
):
    lock = _lock(sandbox, locked)
    here = next(p for p in lock["platforms"] if p != FOREIGN)
    assert lock["version"] == 2 and sorted(lock["platforms"]) == sorted([here, FOREIGN])
    assert {e["subdir"] for e in lock["platforms"][FOREIGN]} <= {FOREIGN, "noarch"}
    assert any(e["subdir"] == FOREIGN for e in lock["platforms"][FOREIGN])
    assert sorted(p["name"] for p in lock["pip"][here]) == ["otherwheel", "tinywheel"]
    assert FOREIGN not in lock["pip"]  # pip ran here only

    shown = sandbox.run("notebook", "show", str(locked)).stdout
    assert f"platforms: {', '.join(sorted([here, FOREIGN]))}" in shown, shown
    assert "pip      : otherwheel==0.2, tinywheel==0.1" in shown, shown
    info = _show(sandbox, locked)
    assert info["platforms"] == sorted([here, FOREIGN]) and info["version"] == 2
    assert [p["name"] for p in info["pip"]] == ["otherwheel", "tinywheel"]

    # Another machine: its own root and a cold cache; pip's index is its pip configuration.
    other = other_machine_sandbox(tmp_path / "other")
    other.env["PIP_INDEX_URL"] = index.simple
    preview = other.run("notebook", "sync", str(locked), "--dry-run", "--json").result()
    assert preview["action"] == "create" and preview["pip"] == [
        "otherwheel==0.2",
        "tinywheel==0.1",
    ]
    assert "with pip" in preview["summary"]
    result = other.run("notebook", "sync", str(locked), "-y", "--json").result()
    assert result["changed"] is True
    copy = other.envs / "src"
    assert installed(copy) == installed(src)
    assert pip_entries(copy) == pip_entries(src)
    again = other.run("notebook", "sync", str(locked), "-y", "--json").result()
    assert again["changed"] is False  # conda and pip in sync: nothing to do


def test_show_prints_the_drift_of_the_env_and_sync_or_relock_clears_it(
    sandbox, src, index, channels, locked
):
    sandbox.env["PIP_INDEX_URL"] = index.simple  # where pip finds tinywheel again
    lock = _lock(sandbox, locked)
    assert _show(sandbox, locked)["drift"]["count"] == 0
    sandbox.run("install", *on(channels.main_url, "src", "delta=1.0"), "-y")
    _pip(sandbox, src, "uninstall", "-y", "tinywheel")

    shown = sandbox.run("notebook", "show", str(locked)).stdout
    assert "src differs from the notebook's lock: 2 packages." in shown, shown
    assert any(line.strip().startswith("+ delta-1.0-") for line in shown.splitlines()), shown
    assert "  - pip: tinywheel==0.1" in shown, shown
    assert f"envmgr notebook sync {locked} -n src" in shown, shown
    drift = _show(sandbox, locked)["drift"]
    assert drift["count"] == 2 and drift["env"]["name"] == "src"
    assert drift["removed"] == ["pip: tinywheel==0.1"]
    assert [d.rsplit("-", 2)[0] for d in drift["added"]] == ["delta"]

    # Sync the env to the lock: delta removed, tinywheel back (from pip's index: PIP_INDEX_URL).
    sandbox.run("notebook", "sync", str(locked), "-n", "src", "-y")
    assert _show(sandbox, locked)["drift"]["count"] == 0
    assert {e.name for e in pip_entries(src)} == {"otherwheel", "tinywheel"}

    # Or lock again from the env: the drift is gone, the lock id kept.
    sandbox.run("install", *on(channels.main_url, "src", "delta=1.0"), "-y")
    assert _show(sandbox, locked)["drift"]["count"] == 1
    again = _lock(sandbox, locked)
    assert again["lock_id"] == lock["lock_id"]
    assert _show(sandbox, locked)["drift"]["count"] == 0


def test_a_version_1_notebook_is_still_read_and_synced(sandbox, src, locked, tmp_path):
    lock = _lock(sandbox, locked)
    nb = json.loads(locked.read_text())
    v1 = {k: v for k, v in lock.items() if k != "pip"}
    v1.update(version=1, platforms={p: lock["platforms"][p] for p in lock["platforms"]
                                    if p != FOREIGN})  # fmt: skip
    nb["metadata"]["envmgr"] = v1
    old = tmp_path / "old.ipynb"
    old.write_text(json.dumps(nb))
    info = _show(sandbox, old)
    assert info["version"] == 1 and info["pip"] == [] and len(info["platforms"]) == 1
    other = other_machine_sandbox(tmp_path / "other")
    other.run("notebook", "sync", str(old), "-y")
    assert installed(other.envs / "src") == installed(src)
    assert pip_entries(other.envs / "src") == []  # version 1 carried no pip packages


def test_bad_locks_and_platforms_are_refused_before_anything_changes(
    sandbox, src, locked, in_process, channels, tmp_path
):
    before = locked.read_text()
    bad = sandbox.run("notebook", "lock", str(locked), "-n", "src", "--platform", "amiga-68k",
                      check=False)  # fmt: skip
    assert bad.returncode != 0 and "'amiga-68k' is not a platform to lock for" in bad.stderr
    assert locked.read_text() == before

    lock = _lock(sandbox, locked)
    snapshot = tree_snapshot(sandbox.root)

    def prepare(meta: dict, policy: Policy | None = None) -> None:
        request = NotebookSyncRequest({"envmgr": meta}, "nb.ipynb", name="copy")
        prepare_sync(in_process, request, policy)

    here = next(p for p in lock["pip"])
    url = "git+https://example.org/o.git"
    vcs_entry = {"name": "other", "version": "1.0", "source": "vcs", "url": url, "sha256": None}
    vcs = {**lock, "pip": {here: [vcs_entry]}}
    with pytest.raises(BadInput, match="installed from a VCS URL"):
        prepare(vcs)
    with pytest.raises(BadInput, match="'pip' that is not a mapping of platforms it also lists"):
        prepare({**lock, "pip": {"win-64": lock["pip"][here]}})
    with pytest.raises(BadInput, match="format version 3; this envmgr reads 1 and 2"):
        prepare({**lock, "version": 3})
    # pip forbidden here (an allow list and no pip index): refused, naming the notebook.
    with pytest.raises(Forbidden, match="nb.ipynb's embedded environment holds pip packages"):
        prepare(lock, Policy(allowed_channels=(channels.main_url,)))
    assert tree_snapshot(sandbox.root) == snapshot
