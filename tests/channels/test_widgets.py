"""The main test channel carries ipywidgets' closure: envs whose kernels can show widgets."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

from jupyter_envmgr.channels import TestChannels, distribution_closure, factory

from ..helpers import Sandbox, installed, on

WIDGETS = ("ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "comm", "traitlets")
LABEXT = "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager"


def test_env_with_ipywidgets(sandbox: Sandbox, channels: TestChannels) -> None:
    sandbox.run("create", *on(channels.main_url, "w", "python", "ipykernel", "ipywidgets", "pip"))
    prefix = sandbox.envs / "w"
    have = installed(prefix)
    for name in WIDGETS:
        assert have[name][0] == metadata.version(name), name  # repackaged from this venv
        assert have[name][2].rstrip("/").endswith("/main"), have[name]

    py = prefix / "bin" / "python"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(sandbox.home)}  # nothing leaks from the venv
    code = (
        "import json, sys, ipywidgets, comm, jupyterlab_widgets, widgetsnbextension\n"
        "slider = ipywidgets.IntSlider(value=3)\n"
        "print(json.dumps({'prefix': sys.prefix, 'version': ipywidgets.__version__,"
        " 'file': ipywidgets.__file__, 'value': slider.value, 'model': slider.model_id}))"
    )
    out = subprocess.run(
        [py, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True
    ).stdout
    got = json.loads(out)
    assert got["prefix"] == str(prefix)
    assert got["version"] == metadata.version("ipywidgets")
    assert Path(got["file"]).is_relative_to(prefix)
    assert got["value"] == 3 and got["model"]

    # Real packages, not stubs: pip sees consistent metadata, and the files outside
    # site-packages (the lab extension's assets) are there when the installed wheel had them.
    check = subprocess.run(
        [py, "-m", "pip", "check"], capture_output=True, text=True, env=env, timeout=120
    )
    assert check.returncode == 0, check.stdout + check.stderr
    ours = Path(sys.prefix) / LABEXT
    if (ours / "package.json").is_file():
        theirs = prefix / LABEXT
        assert json.loads((theirs / "package.json").read_text()) == json.loads(
            (ours / "package.json").read_text()
        )
        assert sorted(p.name for p in (theirs / "static").iterdir()) == sorted(
            p.name for p in (ours / "static").iterdir()
        )


def test_cache_key_covers_the_widgets_closure() -> None:
    dists = distribution_closure(factory._roots())
    names = {canonicalize_name(d.metadata["Name"]) for d in dists}
    assert {"ipywidgets", "widgetsnbextension", "jupyterlab-widgets", "comm"} <= names
    # A cached channel without them (or with other versions of them) is not reused.
    without = [d for d in dists if canonicalize_name(d.metadata["Name"]) != "ipywidgets"]
    assert factory._cache_key(2000, without) != factory._cache_key(2000, dists)
