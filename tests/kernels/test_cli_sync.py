"""No manual step: `envmgr create` with ipykernel makes `jupyter kernelspec list` show the env's
kernel, and `envmgr env remove` takes it away."""

from __future__ import annotations

from ..helpers import on
from . import kernelspec_list, without_jupyter_vars


def test_create_and_remove_keep_jupyter_kernelspec_list_in_step(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "nb", "python", "ipykernel"))
    specs = kernelspec_list(without_jupyter_vars(sandbox))
    assert "conda-env-nb-python3" in specs
    spec = specs["conda-env-nb-python3"]["spec"]
    assert "[env: nb]" in spec["display_name"]
    assert spec["argv"][0].startswith(str(sandbox.envs / "nb"))
    sandbox.run("env", "remove", "-n", "nb", "-y")
    assert "conda-env-nb-python3" not in kernelspec_list(without_jupyter_vars(sandbox))
