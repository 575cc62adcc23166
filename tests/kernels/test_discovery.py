"""Kernel discovery, naming, the kernelspec manager and written kernelspecs, on real envs."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from traitlets import TraitError

from jupyter_envmgr.cli import kernels_cmd
from jupyter_envmgr.cli.main import Session, build_parser
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.kernels.discovery import KernelDiscovery
from jupyter_envmgr.kernels.names import prefix_hash
from jupyter_envmgr.kernels.sync import sync_kernelspecs

from ..helpers import on
from . import age, clone, copy_env, create, manager, replace_file

KERNEL = Path("share", "jupyter", "kernels")


def test_env_with_ipykernel_gets_a_stable_kernel_named_after_it(
    sandbox, channels, tmp_path, monkeypatch
):
    data = create(sandbox, channels, "data", "python", "ipykernel")
    create(sandbox, channels, "plain", "delta")

    def no_subprocess(*args, **kwargs):
        raise AssertionError(f"discovery started a process: {args}")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)  # filesystem only
    specs = manager(sandbox, tmp_path).get_all_specs()
    monkeypatch.undo()

    assert set(specs) == {"python3", "conda-env-data-python3"}  # no kernel for `plain`
    entry = specs["conda-env-data-python3"]
    spec = entry["spec"]
    assert spec["display_name"] == "Python 3 (ipykernel) [env: data]"
    assert spec["language"] == "python"
    # An absolute argv[0]: jupyter_client would swap a bare "python" for the server's own.
    assert spec["argv"][:3] == [str(data / "bin" / "python"), "-m", "ipykernel_launcher"]
    assert entry["resource_dir"] == str(data / KERNEL / "python3")
    meta = spec["metadata"]
    assert meta["conda_env_name"] == "data"
    assert meta["conda_env_path"] == str(data)
    assert meta["kernel_provisioner"] == {
        "provisioner_name": "envmgr-provisioner",
        "config": {"env_prefix": str(data), "env_name": "data"},
    }
    # The env's own `python3` spec does not shadow the server's.
    assert not specs["python3"]["resource_dir"].startswith(str(sandbox.root))


def test_listing_is_cached_and_refreshed_by_mtimes(made, sandbox, tmp_path):
    data = copy_env(made, sandbox, "data")
    age(sandbox)
    discovery = KernelDiscovery(load_settings(sandbox.env))
    first = discovery.kernels()
    assert [k.kernel for k in first] == ["python3"]
    scans = discovery.stats.env_scans
    assert discovery.kernels() is first  # nothing changed: no env is read again
    assert discovery.stats.env_scans == scans

    kernel_json = data / KERNEL / "python3" / "kernel.json"
    spec = json.loads(kernel_json.read_text())
    replace_file(kernel_json, json.dumps({**spec, "display_name": "Renamed"}))
    changed = discovery.kernels()
    assert changed[0].spec["display_name"] == "Renamed"
    assert discovery.stats.env_scans == scans + 1

    # Within max_age the per-env mtimes are not looked at; a new env still shows at once.
    age(sandbox)
    discovery.kernels()
    copy_env(made, sandbox, "other")
    assert {k.env.name for k in discovery.kernels(max_age=3600)} == {"data", "other"}


def test_ipykernel_installed_later_shows_and_env_removal_hides_it(sandbox, channels, tmp_path):
    late = create(sandbox, channels, "late", "python")
    mgr = manager(sandbox, tmp_path)
    assert "conda-env-late-python3" not in mgr.get_all_specs()

    sandbox.run("install", *on(channels.main_url, "late", "ipykernel"))
    assert "conda-env-late-python3" in mgr.get_all_specs()

    gone = clone(late, sandbox.envs / "gone")
    assert "conda-env-gone-python3" in mgr.get_all_specs()
    shutil.rmtree(gone)  # behind our back
    sandbox.run("env", "remove", "-n", "late", "-y")
    assert set(mgr.get_all_specs()) == {"python3"}


def test_ipykernel_without_a_kernelspec_gets_one_made(made, sandbox, tmp_path):
    pip_style = copy_env(made, sandbox, "pipstyle")
    shutil.rmtree(pip_style / KERNEL)  # pip installs of ipykernel ship no kernelspec
    entry = manager(sandbox, tmp_path).get_all_specs()["conda-env-pipstyle-python3"]
    assert entry["spec"]["argv"] == [
        str(pip_style / "bin" / "python"),
        "-m",
        "ipykernel_launcher",
        "-f",
        "{connection_file}",
    ]
    assert entry["spec"]["display_name"] == "Python 3 (ipykernel) [env: pipstyle]"
    assert Path(entry["resource_dir"]).name == "resources"
    assert Path(entry["resource_dir"]).is_relative_to(pip_style)


def test_bad_kernelspecs_are_skipped_with_a_warning(made, sandbox, tmp_path, caplog):
    env = copy_env(made, sandbox, "odd")
    kernels = env / KERNEL
    replace_file(kernels / "broken" / "kernel.json", "{not json")
    replace_file(
        kernels / "outside" / "kernel.json",
        json.dumps({"argv": ["/usr/bin/python3", "-m", "x"], "display_name": "Out"}),
    )
    replace_file(kernels / "noargv" / "kernel.json", json.dumps({"display_name": "No argv"}))
    replace_file(kernels / "missing" / "kernel.json", json.dumps({"argv": ["not-in-env"]}))
    # A kernel that runs a script from its own kernel dir is inside the env: kept.
    replace_file(kernels / "script" / "run.sh", "#!/bin/sh\n")
    replace_file(
        kernels / "script" / "kernel.json",
        json.dumps(
            {
                "argv": ["{resource_dir}/run.sh", "{connection_file}"],
                "display_name": "Script",
                "language": "sh",
            }
        ),
    )
    with caplog.at_level(logging.WARNING):
        specs = manager(sandbox, tmp_path).get_all_specs()

    assert {n for n in specs if n.startswith("conda-env")} == {
        "conda-env-odd-python3",
        "conda-env-odd-script",
    }
    assert specs["conda-env-odd-script"]["spec"]["argv"][0] == str(kernels / "script" / "run.sh")
    text = caplog.text
    assert "'broken'" in text and "cannot be read" in text
    assert "'outside'" in text and "outside the environment" in text
    assert "'noargv'" in text and "argv" in text
    assert "'missing'" in text and "does not exist" in text


def test_env_names_that_meet_after_normalising_get_distinct_names(made, sandbox, tmp_path, caplog):
    envs = {name: copy_env(made, sandbox, name) for name in ("data", "Data", "a-b", "a+b")}
    with caplog.at_level(logging.WARNING):
        specs = manager(sandbox, tmp_path).get_all_specs()
    names = {
        s["spec"]["metadata"]["conda_env_name"]: n
        for n, s in specs.items()
        if n.startswith("conda-env")
    }
    # Names that were valid keep the plain name; the changed ones get a hash of their path.
    assert names == {
        "data": "conda-env-data-python3",
        "Data": f"conda-env-data-{prefix_hash(envs['Data'])}-python3",
        "a-b": "conda-env-a-b-python3",
        "a+b": f"conda-env-a-b-{prefix_hash(envs['a+b'])}-python3",
    }
    assert specs[names["Data"]]["spec"]["display_name"] == "Python 3 (ipykernel) [env: Data]"
    assert "same kernel name part 'data'" in caplog.text


def test_prefix_envs_get_readable_names_that_never_collide(made, sandbox, tmp_path):
    one = clone(made, sandbox.home / "proj1" / "env")
    two = clone(made, sandbox.home / "proj2" / "env")
    txt = sandbox.home / ".conda" / "environments.txt"
    txt.parent.mkdir(parents=True)
    txt.write_text(f"{one}\n{two}\n")
    specs = manager(sandbox, tmp_path).get_all_specs()
    assert f"conda-env-env-{prefix_hash(one)}-python3" in specs
    entry = specs[f"conda-env-env-{prefix_hash(two)}-python3"]
    assert entry["spec"]["display_name"] == "Python 3 (ipykernel) [env: ~/proj2/env]"
    assert entry["spec"]["metadata"]["conda_env_name"] is None
    assert entry["spec"]["metadata"]["conda_env_path"] == str(two)


def test_admins_exclude_envs_and_choose_the_name_format(made, sandbox, tmp_path):
    for name in ("data", "scratch-1", "scratch-2"):
        copy_env(made, sandbox, name)
    mgr = manager(
        sandbox,
        tmp_path,
        exclude_envs=["scratch-*"],
        name_format="{kernel}-in-{env}",
        display_name_format="{env}: {display_name}",
    )
    specs = mgr.get_all_specs()
    assert set(specs) == {"python3", "python3-in-data"}
    assert specs["python3-in-data"]["spec"]["display_name"] == "data: Python 3 (ipykernel)"
    assert mgr.get_kernel_spec("python3-in-data").argv[0].endswith("/envs/data/bin/python")

    mgr.exclude_envs = [str(sandbox.envs / "d*")]  # patterns match full paths too
    assert set(mgr.get_all_specs()) == {"python3", "python3-in-scratch-1", "python3-in-scratch-2"}
    with pytest.raises(TraitError, match="not a valid format"):
        mgr.name_format = "conda-{nope"


def test_ordinary_kernelspecs_win_name_clashes_and_env_kernels_are_not_removable(
    made, sandbox, tmp_path
):
    copy_env(made, sandbox, "data")
    mgr = manager(sandbox, tmp_path)
    with pytest.raises(ValueError, match="kernel of the environment"):
        mgr.remove_kernel_spec("conda-env-data-python3")
    assert (sandbox.envs / "data" / KERNEL / "python3" / "kernel.json").exists()

    # A user's own kernelspec with the same name is kept (and shown) rather than replaced.
    mine = tmp_path / "kernels" / "conda-env-data-python3"
    replace_file(mine / "kernel.json", json.dumps({"argv": ["mine"], "display_name": "Mine"}))
    assert mgr.get_all_specs()["conda-env-data-python3"]["spec"]["display_name"] == "Mine"
    assert mgr.get_kernel_spec("conda-env-data-python3").display_name == "Mine"


def _jupyter_kernelspecs(data_dir: Path) -> dict:
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data_dir), "JUPYTER_PATH": ""}
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)["kernelspecs"]


def test_written_kernelspecs_show_in_jupyter_kernelspec_list_until_the_env_goes(
    made, sandbox, tmp_path
):
    data = copy_env(made, sandbox, "data")
    kernels_dir = tmp_path / "data_dir" / "kernels"
    report = sync_kernelspecs(manager(sandbox, tmp_path), kernels_dir)
    # With the name nb_conda_kernels gave it, for notebooks saved under it.
    both = ["conda-env-data-python3", "conda-env-data-py"]
    assert report.written == both
    listed = _jupyter_kernelspecs(kernels_dir.parent)
    spec = listed["conda-env-data-python3"]["spec"]
    assert spec["display_name"] == "Python 3 (ipykernel) [env: data]"
    assert spec["metadata"]["kernel_provisioner"]["provisioner_name"] == "envmgr-provisioner"
    assert sync_kernelspecs(manager(sandbox, tmp_path), kernels_dir).unchanged == both

    shutil.rmtree(data)  # behind our back: the link dangles and jupyter skips it
    assert "conda-env-data-python3" not in _jupyter_kernelspecs(kernels_dir.parent)
    assert sorted(sync_kernelspecs(manager(sandbox, tmp_path), kernels_dir).removed) == sorted(both)
    assert list(kernels_dir.iterdir()) == []


async def test_kernels_cli_lists_env_kernels_with_the_servers_config(
    made, sandbox, tmp_path, monkeypatch, capsys
):
    copy_env(made, sandbox, "data")
    copy_env(made, sandbox, "hidden")
    config_dir = tmp_path / "config"
    replace_file(
        config_dir / "jupyter_server_config.json",
        json.dumps({"EnvKernelSpecManager": {"exclude_envs": ["hidden"]}}),
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("HOME", str(sandbox.home))

    def session(*argv: str) -> Session:
        parser = argparse_with_kernels()
        args = parser.parse_args(["kernels", "-r", str(sandbox.root), *argv])
        return Session(args, ["kernels", *argv])

    assert await kernels_cmd.run(session("--json")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["event"] == "result"
    (row,) = result["kernels"]
    assert row["name"] == "conda-env-data-python3"
    assert row["env"] == {
        "name": "data", "key": "data", "prefix": str(sandbox.envs / "data"), "is_root": False
    }  # fmt: skip

    assert await kernels_cmd.run(session()) == 0
    table = capsys.readouterr().out
    assert "conda-env-data-python3" in table and "[env: data]" in table
    assert "hidden" not in table

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data_dir"))
    assert await kernels_cmd.run(session("--json", "--sync")) == 0
    synced = json.loads(capsys.readouterr().out)["synced"]
    assert synced["written"] == ["conda-env-data-python3", "conda-env-data-py"]
    assert (tmp_path / "data_dir" / "kernels" / "conda-env-data-python3" / "kernel.json").exists()


def argparse_with_kernels() -> argparse.ArgumentParser:
    return build_parser()  # the real CLI, with the kernels verb wired in


def test_listing_reports_cost_nothing_when_warm(made, sandbox, tmp_path):
    """Not a timing test: counts what a warm listing has to redo (see bench/ for times)."""
    for i in range(5):
        copy_env(made, sandbox, f"e{i}")
    age(sandbox)
    mgr = manager(sandbox, tmp_path, refresh_interval=3600)
    assert len(mgr.get_all_specs()) == 6
    discovery = mgr.discovery()
    before = (discovery.stats.env_scans, discovery.stats.registry_scans, discovery.stats.checks)
    for _ in range(10):
        mgr.get_all_specs()
    assert (
        discovery.stats.env_scans,
        discovery.stats.registry_scans,
        discovery.stats.checks,
    ) == before
