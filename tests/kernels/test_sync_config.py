"""The CLI's kernelspec sync names, excludes and writes exactly as the server's manager would,
whether the admin's Jupyter config is JSON or Python; and with a JSON config (or none) it does
so without loading jupyter_client or traitlets, a tenth of a create's time (bench figure 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ..helpers import on
from . import copy_env, kernelspec_list, manager, replace_file, without_jupyter_vars

OPTIONS = {
    "exclude_envs": ["scratch-*"],
    "name_format": "{kernel}-in-{env}",
    "display_name_format": "{env}: {display_name}",
}
CONFIG_FILES = {
    "json": ("jupyter_server_config.json", json.dumps({"EnvKernelSpecManager": OPTIONS})),
    "python": (
        "jupyter_server_config.py",
        "".join(f"c.EnvKernelSpecManager.{k} = {v!r}\n" for k, v in OPTIONS.items()),
    ),
}


@pytest.mark.parametrize("kind", sorted(CONFIG_FILES))
def test_the_cli_sync_writes_what_the_server_lists_under_the_admins_config(
    made, sandbox, channels, tmp_path, kind
):
    for name in ("site", "scratch-1"):
        history = copy_env(made, sandbox, name) / "conda-meta" / "history"
        replace_file(history, history.read_text())  # its own: the install below appends to it
    config_dir = sandbox.home / "config"
    name, text = CONFIG_FILES[kind]
    replace_file(config_dir / name, text)
    sandbox.env = without_jupyter_vars(sandbox, JUPYTER_CONFIG_DIR=str(config_dir))

    # A change to each env syncs that env's kernelspecs.
    sandbox.run("install", *on(channels.main_url, "site", "delta"))
    sandbox.run("install", *on(channels.main_url, "scratch-1", "delta"))

    listed = kernelspec_list(sandbox.env)
    ours = {n: s["spec"] for n, s in listed.items() if "conda_env_path" in s["spec"]["metadata"]}
    # The name nb_conda_kernels gave it is written too, standing for ours.
    assert ours.pop("conda-env-site-py")["metadata"]["envmgr_alias_of"] == "python3-in-site"
    assert set(ours) == {"python3-in-site"}
    assert ours["python3-in-site"]["display_name"].startswith("site: ")
    served = manager(sandbox, tmp_path, **OPTIONS).env_kernel_specs()
    assert {n: s.spec for n, s in served.items()} == ours


# Runs a CLI command in a fresh interpreter, as the `envmgr` script does, then writes the
# names of the modules it loaded into the file named by argv[1].
CHILD = """
import json, sys
from jupyter_envmgr.cli.main import run_cli
try:
    run_cli(sys.argv[2:])
except SystemExit as exc:
    assert not exc.code, exc.code
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def test_a_create_syncs_kernels_without_loading_jupyter_client_or_parsers(
    made, sandbox, channels, tmp_path
):
    config_dir = sandbox.home / "config"
    replace_file(config_dir / "jupyter_server_config.json", json.dumps({"ServerApp": {}}))
    env = without_jupyter_vars(sandbox, JUPYTER_CONFIG_DIR=str(config_dir))
    modules_file = tmp_path / "modules.json"
    argv = ["create", *on(channels.main_url, "site", "python", "ipykernel")]
    subprocess.run(
        [sys.executable, "-c", CHILD, str(modules_file), *argv], env=env, check=True, timeout=300
    )
    loaded = {m.split(".")[0] for m in json.loads(modules_file.read_text())}
    assert not loaded & {"jupyter_client", "traitlets", "zmq", "tornado"}
    assert not loaded & {"yaml", "packaging"}  # no rc file, no -f file: no parser for them
    assert "conda-env-site-python3" in kernelspec_list(env)  # and the sync did its work
