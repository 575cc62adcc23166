"""After a change, the kernelspec sync touches the changed env's kernels only: the other envs'
specs and links stay as they were (same inode, same mtime), the new env's kernel is what
`jupyter kernelspec list` shows, and a removed env's links go; where other envs' kernel names
depend on the changed env, the kernels dir ends as a full sync leaves it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..helpers import Sandbox, on
from . import copy_env, kernelspec_list, without_jupyter_vars


def _kernels_dir(sandbox: Sandbox) -> Path:
    return sandbox.home / ".local" / "share" / "jupyter" / "kernels"


def _stats(sandbox: Sandbox, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Per kernel: the link's (or plain copy's) inode and mtime, and those of the kernel.json
    it leads to: any rewrite or relink changes one of them."""
    found = {}
    for name in names:
        entry = _kernels_dir(sandbox) / name
        link, spec = os.lstat(entry), os.stat(entry / "kernel.json")
        found[name] = (link.st_ino, link.st_mtime_ns, spec.st_ino, spec.st_mtime_ns)
    return found


def _synced_envs(made: Path, sandbox: Sandbox, *names: str) -> list[str]:
    """Envs of a kernel each, synced as after the creates that made them; their kernels (our
    names and nb_conda_kernels' names)."""
    for name in names:
        copy_env(made, sandbox, name)
    sandbox.env = without_jupyter_vars(sandbox)
    sandbox.run("kernels", "--sync")
    kernels = [
        f"conda-env-{name.lower()}-{kernel}" for name in names for kernel in ("python3", "py")
    ]
    assert set(kernels) <= set(kernelspec_list(sandbox.env))
    return kernels


def test_a_create_and_a_remove_leave_other_envs_kernelspecs_untouched(made, sandbox, channels):
    others = _synced_envs(made, sandbox, "first", "second")
    before = _stats(sandbox, others)

    sandbox.run("create", *on(channels.main_url, "fresh", "python", "ipykernel"))
    listed = kernelspec_list(sandbox.env)  # `jupyter kernelspec list --json`, a real process
    assert {"conda-env-fresh-python3", "conda-env-fresh-py", *others} <= set(listed)
    spec = listed["conda-env-fresh-python3"]["spec"]
    assert spec["argv"][0] == str(sandbox.envs / "fresh" / "bin" / "python")
    assert _stats(sandbox, others) == before

    sandbox.run("env", "remove", "-n", "fresh", "-y")
    listed = kernelspec_list(sandbox.env)
    assert not {"conda-env-fresh-python3", "conda-env-fresh-py"} & set(listed)
    assert not [p for p in _kernels_dir(sandbox).iterdir() if "fresh" in p.name]
    assert _stats(sandbox, others) == before


def test_a_rename_moves_that_envs_kernels_only(made, sandbox):
    others = _synced_envs(made, sandbox, "stays", "old")
    stays = [name for name in others if "-stays-" in name]
    before = _stats(sandbox, stays)

    sandbox.run("rename", "-n", "old", "new", "-y")
    listed = set(kernelspec_list(sandbox.env))
    assert {"conda-env-new-python3", "conda-env-new-py", *stays} <= listed
    assert not {"conda-env-old-python3", "conda-env-old-py"} & listed
    assert _stats(sandbox, stays) == before


def test_an_env_removed_behind_our_back_loses_its_links_at_the_next_change(made, sandbox, channels):
    others = _synced_envs(made, sandbox, "kept", "deleted")
    kept = [name for name in others if "-kept-" in name]
    before = _stats(sandbox, kept)
    shutil.rmtree(sandbox.envs / "deleted")  # not through envmgr: its links now dangle

    sandbox.run("create", *on(channels.main_url, "later", "python"))
    assert not [p for p in _kernels_dir(sandbox).iterdir() if "deleted" in p.name]
    assert _stats(sandbox, kept) == before
    assert set(kept) <= set(kernelspec_list(sandbox.env))


def test_names_that_meet_another_envs_end_as_the_full_sync_gives_them(made, sandbox, channels):
    # `Data` and `data` meet once normalised: the plain name goes to `data`, whose name needed
    # no change, and `Data` gets a hash (names.py); it had the plain name before.
    _synced_envs(made, sandbox, "Data")
    assert "conda-env-data-python3" in kernelspec_list(sandbox.env)

    sandbox.run("create", *on(channels.main_url, "data", "python", "ipykernel"))
    after_create = sorted(p.name for p in _kernels_dir(sandbox).iterdir())
    listed = kernelspec_list(sandbox.env)
    assert listed["conda-env-data-python3"]["spec"]["argv"][0].startswith(
        str(sandbox.envs / "data" / "bin")
    )
    sandbox.run("kernels", "--sync")
    assert sorted(p.name for p in _kernels_dir(sandbox).iterdir()) == after_create
