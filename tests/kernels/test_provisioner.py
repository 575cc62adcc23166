"""The provisioner's activation and the server extension's choice of manager, without a server."""

from __future__ import annotations

import json

import pytest
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.provisioning import KernelProvisionerFactory
from jupyter_server.serverapp import ServerApp
from traitlets.config import Config

from jupyter_envmgr.kernels import EnvKernelSpecManager, _link_jupyter_server_extension
from jupyter_envmgr.kernels.provisioner import EnvProvisioner

from . import create, manager


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
