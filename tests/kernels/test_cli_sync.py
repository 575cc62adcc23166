"""No manual step: `envmgr create` with ipykernel makes `jupyter kernelspec list` show the env's
kernel, and `envmgr env remove` takes it away."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from ..helpers import on


def _kernelspecs(sandbox) -> dict:
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    env = {k: v for k, v in sandbox.env.items() if not k.startswith("JUPYTER")}
    out = subprocess.run(
        [jupyter, "kernelspec", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)["kernelspecs"]


def test_create_and_remove_keep_jupyter_kernelspec_list_in_step(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "nb", "python", "ipykernel"))
    specs = _kernelspecs(sandbox)
    assert "conda-env-nb-python3" in specs
    spec = specs["conda-env-nb-python3"]["spec"]
    assert "[env: nb]" in spec["display_name"]
    assert spec["argv"][0].startswith(str(sandbox.envs / "nb"))
    sandbox.run("env", "remove", "-n", "nb", "-y")
    assert "conda-env-nb-python3" not in _kernelspecs(sandbox)
