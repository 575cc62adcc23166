"""The demo a newcomer runs: binder/, scripts/, the demo channel and examples/demo.ipynb."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jupyter_envmgr.channels.demo import default_demo_cache_dir

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "examples" / "demo.ipynb"
KERNEL = "conda-env-demo-python3"


@dataclass
class Demo:
    """A prepared demo (scripts/demo-prepare) in its own folder, for a user whose HOME is
    ``home``: ``env`` is what binder/start and scripts/demo give the server."""

    dir: Path
    home: Path
    env: dict[str, str]
    output: str  # what scripts/demo-prepare printed

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def prefix(self) -> Path:
        return self.root / "envs" / "demo"

    @property
    def notebook(self) -> Path:
        """The working copy the server opens (its root is this folder)."""
        return self.dir / "notebooks" / "demo.ipynb"


def user_environ(home: Path, **extra: str) -> dict[str, str]:
    """This test run's environment as a fresh user's: nothing conda-, Jupyter- or envmgr-related
    leaks in, the kernels see none of this venv's packages; this venv's scripts come first."""
    drop = ("CONDA", "MAMBA", "ENVMGR", "JUPYTER")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.pop("PYTHONPATH", None)
    env.update(
        HOME=str(home),
        PATH=os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", ""),
        PYTHONUNBUFFERED="1",
        # The offline channel is built once per machine, like the test channels, not per HOME.
        ENVMGR_DEMO_CHANNEL_CACHE=str(default_demo_cache_dir()),
    )
    env.update(extra)
    return env


def prepare_demo(base: Path, channel: str = "local") -> Demo:
    """`scripts/demo-prepare` (as scripts/demo and binder/postBuild run it) into ``base``."""
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = user_environ(home, ENVMGR_DEMO_DIR=str(base / "demo"), ENVMGR_DEMO_CHANNEL=channel)
    proc = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo-prepare")],
        env=env, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    folder = base / "demo"
    env.update(
        MAMBA_ROOT_PREFIX=str(folder / "root"),
        CONDARC=str(folder / "condarc"),
        ENVMGR_DEMO_NOTEBOOKS=str(folder / "notebooks"),
    )
    return Demo(dir=folder, home=home, env=env, output=output)
