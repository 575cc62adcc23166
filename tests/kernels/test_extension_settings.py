"""The server's settings have one owner: with the jupyter_envmgr extension running, the kernels
listed are those of the envs it manages, even an envs dir configured only on the extension."""

from __future__ import annotations

import json

import pytest

from jupyter_envmgr.kernels import EnvKernelSpecManager

from . import age, clone

pytestmark = [
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
    pytest.mark.usefixtures("env_kernel_environ"),
]


@pytest.fixture
def extra_envs(tmp_path):
    # Outside the root prefix and named in no rc file: only the extension's config knows it.
    return tmp_path / "project-envs"


@pytest.fixture
def jp_server_config(sandbox, extra_envs):
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "jupyter_envmgr": True,
                "jupyter_envmgr.kernels": True,
                "jupyter_server_terminals": False,
            },
            "allow_unauthenticated_access": False,
        },
        "EnvMgrExtension": {"root_prefix": str(sandbox.root), "envs_dirs": [str(extra_envs)]},
        "EnvKernelSpecManager": {"refresh_interval": 0},
    }


async def test_an_env_in_an_envs_dir_of_the_extension_only_has_a_kernel(
    made, sandbox, extra_envs, jp_fetch, jp_serverapp
):
    extra_envs.mkdir()
    sandbox.envs.mkdir(parents=True, exist_ok=True)
    clone(made, extra_envs / "analysis")
    age(sandbox)
    assert isinstance(jp_serverapp.kernel_spec_manager, EnvKernelSpecManager)

    where = str(extra_envs / "analysis")
    envs = json.loads((await jp_fetch("envmgr", "api", "environments")).body)["environments"]
    assert where in {e["prefix"] for e in envs}

    # The Lab launcher's listing and our own kernels route both show its kernel.
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    paths = {s["spec"]["metadata"].get("conda_env_path") for s in specs.values()}
    assert where in paths
    kernels = json.loads((await jp_fetch("envmgr", "api", "kernels")).body)["kernels"]
    assert where in {k["env"]["prefix"] for k in kernels}
