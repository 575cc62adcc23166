"""Kernels never lead out of their env, and syncing kernelspecs never writes into a read-only env
(admin policy or file permissions) while `jupyter kernelspec list` still shows its kernels."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_core.paths import jupyter_data_dir

from jupyter_envmgr.engine.bookkeeping import kernels_dir as env_copies_dir
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.kernels.specs import MARKER
from jupyter_envmgr.kernels.sync import sync_for_settings

from ..helpers import NOBODY, envmgr_server_config, on, tree_snapshot, user_without_root_powers
from . import clone, copy_env, kernelspec_list, manager, replace_file, without_jupyter_vars

KERNEL = Path("share", "jupyter", "kernels")


def _spec(*argv: str) -> str:
    return json.dumps({"argv": list(argv), "display_name": argv[0], "language": "sh"})


# ---------------------------------------------------------------------------------------------
# argv[0] that is a symlink out of the env


def test_a_program_linked_out_of_the_env_is_skipped_with_a_warning(made, sandbox, tmp_path, caplog):
    env = copy_env(made, sandbox, "odd")
    bin_dir, kernels = env / "bin", env / KERNEL
    # conda's python is itself a link inside the env (python -> python3.11): that stays fine,
    # also through one more link of ours.
    assert (bin_dir / "python").is_symlink()
    (bin_dir / "py-alias").symlink_to("python")
    (bin_dir / "evil").symlink_to("/bin/sh")
    (bin_dir / "hop").symlink_to("evil")  # inside, then out
    (bin_dir / "up").symlink_to(os.path.relpath("/bin/sh", bin_dir))  # relative, out
    replace_file(kernels / "alias" / "kernel.json", _spec("py-alias", "-m", "ipykernel_launcher"))
    replace_file(kernels / "evil" / "kernel.json", _spec("evil", "-c", "id"))
    replace_file(kernels / "evilabs" / "kernel.json", _spec(str(bin_dir / "evil"), "-c", "id"))
    replace_file(kernels / "hop" / "kernel.json", _spec("hop", "-c", "id"))
    replace_file(kernels / "up" / "kernel.json", _spec("up", "-c", "id"))

    with caplog.at_level(logging.WARNING):
        specs = manager(sandbox, tmp_path).get_all_specs()
    assert {n for n in specs if n.startswith("conda-env")} == {
        "conda-env-odd-python3",
        "conda-env-odd-alias",
    }
    assert specs["conda-env-odd-alias"]["spec"]["argv"][0] == str(bin_dir / "py-alias")
    for name in ("evil", "evilabs", "hop", "up"):
        line = next(r.getMessage() for r in caplog.records if f"kernel '{name}'" in r.getMessage())
        assert "outside the environment" in line, line
        assert os.path.realpath("/bin/sh") in line, line

    # `envmgr kernels` (the same discovery, in a process of its own) agrees.
    rows = sandbox.run("kernels", "--json").result()["kernels"]
    assert {r["name"] for r in rows} == {"conda-env-odd-python3", "conda-env-odd-alias"}


def test_a_made_ipykernel_spec_is_skipped_when_python_leads_out_of_the_env(
    made, sandbox, tmp_path, caplog
):
    env = copy_env(made, sandbox, "pipstyle")
    for path in (env / KERNEL).rglob("*"):
        if path.is_file():
            path.unlink()  # pip installs of ipykernel ship no kernelspec: we make one
    (env / KERNEL / "python3").rmdir()
    (env / "bin" / "python").unlink()
    (env / "bin" / "python").symlink_to(sys.executable)
    with caplog.at_level(logging.WARNING):
        specs = manager(sandbox, tmp_path).get_all_specs()
    assert "conda-env-pipstyle-python3" not in specs
    assert "'python3'" in caplog.text and "outside the environment" in caplog.text


# ---------------------------------------------------------------------------------------------
# Read-only envs


def _written_into(env: Path) -> set[str]:
    folder = env_copies_dir(env)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def test_sync_writes_nothing_into_read_only_envs_and_still_lists_their_kernels(
    made, sandbox, monkeypatch
):
    site = copy_env(made, sandbox, "site")
    mine = copy_env(made, sandbox, "mine")
    for key in [k for k in os.environ if k.startswith("JUPYTER")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(sandbox.home))
    settings = load_settings(sandbox.env)
    untouched = tree_snapshot(site)

    sync_for_settings(settings, read_only=lambda env: env.name == "site")
    assert tree_snapshot(site) == untouched
    assert "conda-env-mine-python3" in _written_into(mine)  # writable envs hold their copy
    kernels_dir = Path(jupyter_data_dir()) / "kernels"
    # The read-only env's kernel is a plain copy of ours, next to the links.
    assert (kernels_dir / "conda-env-site-python3" / MARKER).is_file()
    assert not (kernels_dir / "conda-env-site-python3").is_symlink()
    listed = kernelspec_list(without_jupyter_vars(sandbox))
    assert listed["conda-env-site-python3"]["spec"]["argv"][0] == str(site / "bin" / "python")
    assert "conda-env-mine-python3" in listed

    # An env that becomes read-only: the link into it turns into a copy, and even its now
    # unused copy stays where it is.
    untouched = tree_snapshot(mine)
    sync_for_settings(settings, read_only=lambda env: env.name in ("site", "mine"))
    assert tree_snapshot(mine) == untouched
    assert not (kernels_dir / "conda-env-mine-python3").is_symlink()
    assert set(kernelspec_list(without_jupyter_vars(sandbox))) >= {
        "conda-env-site-python3",
        "conda-env-mine-python3",
    }


def test_the_cli_keeps_out_of_envs_the_server_config_makes_read_only(made, sandbox, channels):
    site = copy_env(made, sandbox, "site")
    mine = copy_env(made, sandbox, "mine")
    team = clone(made, sandbox.home / "site-wide" / "team")
    (sandbox.home / ".conda").mkdir()
    (sandbox.home / ".conda" / "environments.txt").write_text(f"{team}\n")
    config_dir = sandbox.home / "config"
    config = {"read_only_envs": ["si*"], "read_only_dirs": [str(sandbox.home / "site-wide")]}
    replace_file(config_dir / "jupyter_server_config.json", json.dumps({"EnvMgrExtension": config}))
    sandbox.env = without_jupyter_vars(sandbox, JUPYTER_CONFIG_DIR=str(config_dir))
    untouched = tree_snapshot(site, team)

    sandbox.run("create", *on(channels.main_url, "other", "delta"))  # syncs its kernelspecs
    assert tree_snapshot(site, team) == untouched
    sandbox.run("kernels", "--sync")  # every env's
    assert tree_snapshot(site, team) == untouched
    assert "conda-env-mine-python3" in _written_into(mine)
    listed = kernelspec_list(sandbox.env)
    assert {"conda-env-site-python3", "conda-env-mine-python3"} <= set(listed)
    assert any(s["spec"]["argv"][0] == str(team / "bin" / "python") for s in listed.values())


# As after a change to that env (only its kernels), then every env's (as `envmgr kernels --sync`).
_SYNC_AS_USER = (
    "import os, sys; from pathlib import Path; "
    "from jupyter_envmgr.engine.settings import load_settings; "
    "from jupyter_envmgr.kernels.sync import sync_for_settings; "
    "settings = load_settings(os.environ); "
    "assert sync_for_settings(settings, changed=[Path(sys.argv[1])]) is not None; "
    "assert sync_for_settings(settings) is not None"
)


def test_sync_writes_nothing_into_an_env_the_user_cannot_write(made, sandbox, tmp_path):
    as_user, base = user_without_root_powers(tmp_path)
    try:
        home, root = base / "home", base / "root"
        home.mkdir()
        if as_user:
            os.chown(home, NOBODY, NOBODY)  # the user's own home; the envs stay root's
        locked = clone(made, root / "envs" / "locked")
        meta = locked / "conda-meta"
        os.chmod(meta, 0o555)  # what stops a user who is not root and owns the env
        env = without_jupyter_vars(sandbox, HOME=str(home), MAMBA_ROOT_PREFIX=str(root))
        untouched = tree_snapshot(locked)
        try:
            subprocess.run(
                [*as_user, sys.executable, "-c", _SYNC_AS_USER, str(locked)],
                env=env, check=True, capture_output=True, text=True, timeout=120,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            assert tree_snapshot(locked) == untouched
        finally:
            os.chmod(meta, 0o755)
        listed = kernelspec_list(env)
        assert listed["conda-env-locked-python3"]["spec"]["argv"][0] == str(
            locked / "bin" / "python"
        )
        # A plain copy in the user's kernels dir, not a link into the env.
        copy = home / ".local" / "share" / "jupyter" / "kernels" / "conda-env-locked-python3"
        assert copy.is_dir() and not copy.is_symlink() and (copy / MARKER).is_file()
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The server: a task on another env syncs, the read-only env stays as it was


@pytest.fixture
def jp_server_config(sandbox, monkeypatch):
    return envmgr_server_config(sandbox, monkeypatch, read_only_envs=["shared-*"])


async def _run_task(jp_fetch, body: dict, *path: str) -> dict:
    response = await jp_fetch(
        "envmgr", "api", "environments", *path, method="POST", body=json.dumps(body)
    )
    task = json.loads(response.body)
    # The event stream ends with the task.
    await jp_fetch("envmgr", "api", "tasks", task["id"], "events")
    response = await jp_fetch("envmgr", "api", "tasks", task["id"])
    return json.loads(response.body)


async def test_a_server_task_leaves_read_only_envs_untouched(
    made, sandbox, channels, jp_fetch, jp_data_dir
):
    shared = copy_env(made, sandbox, "shared-data")
    mine = copy_env(made, sandbox, "mine")
    history = mine / "conda-meta" / "history"
    replace_file(history, history.read_text())  # its own: the install appends to it
    untouched = tree_snapshot(shared)
    body = {"specs": ["delta"], "channels": [channels.main_url], "override_channels": True}
    task = await _run_task(jp_fetch, body, "mine", "packages")
    assert task["state"] == "done", task
    assert tree_snapshot(shared) == untouched
    assert "conda-env-mine-python3" in _written_into(mine)  # the task synced the env it changed
    listed = kernelspec_list(
        {**os.environ, "JUPYTER_DATA_DIR": str(jp_data_dir), "JUPYTER_PATH": ""}
    )
    assert "conda-env-mine-python3" in listed
