"""The provisioner's activation and the server extension's choice of manager, without a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.provisioning import KernelProvisionerFactory
from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

from jupyter_envmgr.kernels import EnvKernelSpecManager, _link_jupyter_server_extension
from jupyter_envmgr.kernels.provisioner import EnvProvisioner, kernel_client_path

from . import create, manager

PACKAGE = Path(__file__).resolve().parents[2] / "jupyter_envmgr"

# Run by a Python that cannot import jupyter_envmgr, with only the kernel path folder on its
# path: what an env's kernel imports of ours, and the status words ProgressState makes there.
KERNEL_SIDE = """
import importlib.util, sys
assert importlib.util.find_spec("jupyter_envmgr") is None, "jupyter_envmgr is importable"
import jupyter_envmgr_notebook
from jupyter_envmgr_notebook import panel_html, progress, render
import jupyter_envmgr_progress_text as floor
assert progress.ProgressState is floor.ProgressState and render.human_bytes is floor.human_bytes
state = progress.ProgressState()
assert state.update({"event": "download-progress", "name": "x", "bytes": 1536, "total": 3072})
print(state.status, state.fraction)
ours = sorted(m for m in sys.modules if m.startswith("jupyter_envmgr"))
print(" ".join(m for m in ours if m.split(".")[0] not in ("jupyter_envmgr_notebook",)))
"""


def _provisioner(spec: KernelSpec) -> EnvProvisioner:
    # Through the entry point, as jupyter_client does for a kernelspec that names it.
    factory = KernelProvisionerFactory.instance()
    provisioner = factory.create_provisioner_instance("k-1", spec, parent=None)
    assert isinstance(provisioner, EnvProvisioner)
    return provisioner


async def test_pre_launch_activates_the_env_and_only_changes_the_environment(
    sandbox, channels, tmp_path
):
    env = create(sandbox, channels, "act", "activate-pkg")
    (env / "conda-meta" / "state").write_text(json.dumps({"env_vars": {"MY_VAR": "x"}}))
    (env / "bin").mkdir(exist_ok=True)
    (env / "bin" / "tool").write_text("#!/bin/sh\n")
    kernel = env / "share" / "jupyter" / "kernels" / "tool"
    kernel.mkdir(parents=True)
    (kernel / "kernel.json").write_text(json.dumps({"argv": ["tool", "{connection_file}"]}))
    spec = manager(sandbox, tmp_path).get_kernel_spec("conda-env-act-tool")

    base = {"PATH": "/usr/bin:/bin", "HOME": str(sandbox.home), "KEEP": "1"}
    launch = await _provisioner(spec).pre_launch(env=base, extra_arguments=[])
    environ = launch["env"]
    assert environ["PATH"].split(":") == [str(env / "bin"), "/usr/bin", "/bin"]
    assert environ["CONDA_PREFIX"] == str(env)
    assert environ["CONDA_DEFAULT_ENV"] == "act"
    assert environ["ENVMGR_TEST_ACTIVATED"] == "yes"
    assert environ["MY_VAR"] == "x"
    assert environ["KEEP"] == "1"
    assert launch["cmd"] == [str(env / "bin" / "tool"), "{connection_file}"]


async def test_pre_launch_refuses_an_env_that_is_gone(tmp_path):
    spec = KernelSpec(
        argv=["x"],
        metadata={
            "kernel_provisioner": {
                "provisioner_name": "envmgr-provisioner",
                "config": {"env_prefix": str(tmp_path / "gone"), "env_name": "gone"},
            }
        },
    )
    with pytest.raises(RuntimeError, match="no longer exists"):
        await _provisioner(spec).pre_launch(env={})


@pytest.mark.parametrize(
    "config, expected",
    [
        ({}, EnvKernelSpecManager),
        (
            {"kernel_spec_manager_class": "jupyter_client.kernelspec.KernelSpecManager"},
            KernelSpecManager,
        ),
    ],
)
def test_server_extension_uses_our_manager_unless_the_admin_chose_one(config, expected):
    app = ServerApp(config=Config({"ServerApp": config}))
    _link_jupyter_server_extension(app)
    assert app.kernel_spec_manager_class is expected


def test_the_kernel_path_holds_only_our_links_and_works_without_jupyter_envmgr(
    tmp_path, monkeypatch
):
    """The folder first on an env kernel's PYTHONPATH: the notebook folder and the module it
    stands on (progress_text.py), linked under the names the kernel imports; a link pointing
    elsewhere (this package moved) is refreshed."""
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    expected = {
        "jupyter_envmgr_notebook": PACKAGE / "notebook",
        "jupyter_envmgr_progress_text.py": PACKAGE / "progress_text.py",
    }
    folder = kernel_client_path()
    assert {p.name: Path(os.readlink(p)) for p in folder.iterdir()} == expected
    moved = folder / "jupyter_envmgr_progress_text.py"
    moved.unlink()
    moved.symlink_to(tmp_path / "old" / "progress_text.py")
    assert kernel_client_path() == folder
    assert {p.name: Path(os.readlink(p)) for p in folder.iterdir()} == expected

    # No site-packages (-S), a working directory without the package, PYTHONPATH the folder.
    proc = subprocess.run(
        [sys.executable, "-S", "-c", KERNEL_SIDE],
        env={"PYTHONPATH": str(folder)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    status, others = proc.stdout.splitlines()
    assert status == "Downloading x: 1.5 KB of 3.0 KB 0.5"
    assert others == "jupyter_envmgr_progress_text"
