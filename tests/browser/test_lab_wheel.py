"""The wheel carries the prebuilt JupyterLab extension: `pip install` of it into a fresh venv is
all a user does (no node at install time), and JupyterLab lists the extension enabled."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 480) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return ANSI.sub("", proc.stdout + proc.stderr)


def test_the_extension_is_enabled_after_pip_install_of_the_wheel_into_a_fresh_venv(
    tmp_path: Path,
) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, REPO)
    (wheel,) = dist.glob("jupyter_envmgr-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shared = "jupyter_envmgr-{}.data/data/share/jupyter/labextensions/jupyter-envmgr/"
    prefix = shared.format(wheel.name.split("-")[1])
    assert prefix + "package.json" in names
    assert prefix + "install.json" in names
    assert prefix + "static/style.js" in names
    assert prefix + "schemas/jupyter-envmgr/plugin.json" in names
    assert not [n for n in names if "node_modules" in n or n.endswith(".ts")]

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", venv)
    # jupyterlab is what lists labextensions; the wheel brings everything else.
    _run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, "jupyterlab")
    listed = _run(venv / "bin" / "jupyter", "labextension", "list")
    line = next((li for li in listed.splitlines() if "jupyter-envmgr" in li), "")
    assert re.search(r"jupyter-envmgr v\S+ enabled\s+OK", line), listed
    assert str(venv / "share" / "jupyter" / "labextensions") in listed
    servers = _run(venv / "bin" / "jupyter", "server", "extension", "list")
    assert re.search(r"jupyter_envmgr enabled", servers), servers
