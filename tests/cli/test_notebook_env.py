"""A notebook that carries its environment: lock it on one machine, sync it on another."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from ..helpers import Sandbox, installed, on, other_machine_sandbox, tree_snapshot

CELLS = [
    {"cell_type": "markdown", "id": "a1", "metadata": {}, "source": "# Analysis"},
    {
        "cell_type": "code",
        "id": "b2",
        "metadata": {"tags": ["keep"]},
        "source": "import delta",
        "outputs": [],
        "execution_count": None,
    },
]


def _notebook(path: Path) -> Path:
    nb = {"cells": CELLS, "metadata": {"authors": ["me"]}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1))
    return path


@pytest.fixture
def other_machine(tmp_path, shared_pkgs) -> Sandbox:
    """Another user on another machine: its own HOME, root prefix and (cold) package cache."""
    return other_machine_sandbox(tmp_path / "other")


def _revisions(sb: Sandbox, name: str) -> int:
    return len(sb.run("list", "-n", name, "--revisions", "--json").result()["revisions"])


def test_lock_here_sync_there_is_the_same_env_and_kernel(
    sandbox, other_machine, channels, tmp_path
):
    sandbox.run("create", *on(channels.main_url, "data", "python", "ipykernel", "delta=1.0"))
    nb_path = _notebook(tmp_path / "analysis.ipynb")
    sandbox.run("notebook", "lock", str(nb_path), "-n", "data")
    nb = json.loads(nb_path.read_text())
    nbformat.validate(nbformat.reads(nb_path.read_text(), as_version=4))
    assert nb["cells"] == CELLS and nb["metadata"]["authors"] == ["me"]  # untouched
    assert nb["metadata"]["kernelspec"]["name"] == "conda-env-data-python3"
    lock = nb["metadata"]["envmgr"]
    assert lock["version"] == 2 and lock["env_name"] == "data"
    assert "delta=1.0" in lock["specs"]

    result = other_machine.run("notebook", "sync", str(nb_path), "-y", "--json").result()
    assert result["changed"] is True
    copy = other_machine.envs / "data"
    assert installed(copy) == installed(sandbox.envs / "data")
    assert result["kernelspec"]["name"] == nb["metadata"]["kernelspec"]["name"]
    kernels = other_machine.run("kernels", "--json").result()["kernels"]
    assert any(k["name"] == "conda-env-data-python3" for k in kernels)

    # In sync: nothing happens, no new revision.
    revisions = _revisions(other_machine, "data")
    snap = tree_snapshot(copy)
    again = other_machine.run("notebook", "sync", str(nb_path), "-y", "--json").result()
    assert again["changed"] is False
    assert _revisions(other_machine, "data") == revisions and tree_snapshot(copy) == snap

    # The source changes and is locked again (same lock id): the copy follows.
    sandbox.run("install", *on(channels.main_url, "data", "alpha"))
    sandbox.run("notebook", "lock", str(nb_path), "-n", "data")
    assert json.loads(nb_path.read_text())["metadata"]["envmgr"]["lock_id"] == lock["lock_id"]
    other_machine.run("notebook", "sync", str(nb_path), "-y")
    assert installed(copy) == installed(sandbox.envs / "data")
    assert _revisions(other_machine, "data") == revisions + 1


def test_a_name_taken_by_another_env_gets_a_copy_and_the_kernel_follows(
    sandbox, other_machine, channels, tmp_path
):
    sandbox.run("create", *on(channels.main_url, "data", "python", "ipykernel", "delta=1.0"))
    nb_path = _notebook(tmp_path / "n.ipynb")
    sandbox.run("notebook", "lock", str(nb_path), "-n", "data")
    lock_id = json.loads(nb_path.read_text())["metadata"]["envmgr"]["lock_id"]
    other_machine.run("create", *on(channels.main_url, "data", "gamma"))  # someone else's
    before = installed(other_machine.envs / "data")
    result = other_machine.run("notebook", "sync", str(nb_path), "-y", "--json").result()
    assert result["env"]["name"] == f"data-{lock_id[:6]}"
    assert installed(other_machine.envs / "data") == before  # not touched
    kernel = json.loads(nb_path.read_text())["metadata"]["kernelspec"]["name"]
    assert kernel == f"conda-env-data-{lock_id[:6]}-python3"


def _tampered(nb_path: Path, change) -> None:
    nb = json.loads(nb_path.read_text())
    entries = next(iter(nb["metadata"]["envmgr"]["platforms"].values()))
    change(nb["metadata"]["envmgr"], entries)
    nb_path.write_text(json.dumps(nb))


def _ghost(meta, entries):
    entry = next(e for e in entries if e["name"] == "delta")
    entry.update(name="ghost", url=entry["url"].replace("delta-1.0", "ghost-1.0"))


def _wrong_hash(meta, entries):
    next(e for e in entries if e["name"] == "delta")["sha256"] = "0" * 64


@pytest.mark.parametrize(
    "change, message",
    [
        (_ghost, "not in its channel"),
        (_wrong_hash, "sha256"),
        (lambda meta, entries: meta.update(version=7), "format version"),
        (lambda meta, entries: entries.append({"name": "x"}), "package entry without"),
        (lambda meta, entries: entries[0].update(url="ftp://x/y.conda"), "usable URL"),
    ],
)
def test_a_tampered_lock_is_refused_and_creates_nothing(
    sandbox, other_machine, channels, tmp_path, change, message
):
    sandbox.run("create", *on(channels.main_url, "data", "delta=1.0"))
    nb_path = _notebook(tmp_path / "t.ipynb")
    sandbox.run("notebook", "lock", str(nb_path), "-n", "data")
    _tampered(nb_path, change)
    res = other_machine.run("notebook", "sync", str(nb_path), "-y", check=False)
    assert res.returncode == 1 and res.stderr.startswith("error:"), res
    assert message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert not other_machine.envs.exists() or list(other_machine.envs.iterdir()) == []


def test_a_notebook_without_an_environment_says_how_to_add_one(other_machine, tmp_path):
    nb_path = _notebook(tmp_path / "plain.ipynb")
    res = other_machine.run("notebook", "sync", str(nb_path), "-y", check=False)
    assert res.returncode == 1 and "envmgr notebook lock" in res.stderr, res
    not_nb = tmp_path / "x.ipynb"
    not_nb.write_text("[1, 2]")
    res = other_machine.run("notebook", "show", str(not_nb), check=False)
    assert res.returncode == 1 and "not a Jupyter notebook" in res.stderr, res
    assert not other_machine.root.exists() or not other_machine.envs.exists()


def test_a_platform_the_lock_does_not_cover_is_solved_from_the_specs(
    sandbox, other_machine, channels, tmp_path
):
    sandbox.run("create", *on(channels.main_url, "data", "delta=1.0"))
    nb_path = _notebook(tmp_path / "p.ipynb")
    sandbox.run("notebook", "lock", str(nb_path), "-n", "data")
    nb = json.loads(nb_path.read_text())
    platforms = nb["metadata"]["envmgr"]["platforms"]
    platforms["osx-arm64"] = platforms.pop(next(iter(platforms)))
    nb_path.write_text(json.dumps(nb))
    shown = other_machine.run("notebook", "show", str(nb_path), "--json").result()
    assert shown["locked_for_platform"] is False and shown["present"] is False
    result = other_machine.run("notebook", "sync", str(nb_path), "-y", "--json").result()
    assert result["solved"] is True and "not locked for" in result["notes"][0]
    assert installed(other_machine.envs / "data")["delta"][0] == "1.0"
