"""Helpers shared by the kernel tests: real envs from the CLI, and safe edits of them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.kernels.manager import EnvKernelSpecManager

from ..helpers import Sandbox


def create(sandbox: Sandbox, channels, name: str, *specs: str) -> Path:
    sandbox.run("create", "-n", name, "-c", channels.main_url, "--override-channels", *specs, "-y")
    return sandbox.envs / name


def clone(src: Path, dst: Path) -> Path:
    """A copy of a real env made of hard links: quick, and as real as the original on disk."""
    shutil.copytree(src, dst, symlinks=True, copy_function=os.link)
    return dst


def copy_env(made: Path, sandbox: Sandbox, name: str) -> Path:
    sandbox.envs.mkdir(parents=True, exist_ok=True)
    return clone(made, sandbox.envs / name)


def without_jupyter_vars(sandbox: Sandbox, **extra: str) -> dict[str, str]:
    """The sandbox's environment with no JUPYTER_* variable of the test run leaking in."""
    env = {k: v for k, v in sandbox.env.items() if not k.startswith("JUPYTER")}
    return {**env, **extra}


def kernelspec_list(env: dict[str, str]) -> dict:
    """What `jupyter kernelspec list` shows, run as a user with that environment would."""
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    out = subprocess.run(
        [jupyter, "kernelspec", "list", "--json"], env=env, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    return json.loads(out.stdout)["kernelspecs"]


def replace_file(path: Path, text: str) -> None:
    """Write a new file in place of `path`: env files are hard links into the shared package
    cache, and writing through one would change every env of the test session."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def age(sandbox: Sandbox, seconds: float = 10) -> None:
    """Move the mtimes discovery looks at into the past: it never trusts ones younger than 2 s.

    Only those paths: walking whole envs would touch thousands of files.
    """
    old = time.time() - seconds
    paths = [
        sandbox.envs,
        sandbox.root / "conda-meta",
        sandbox.home / ".conda" / "environments.txt",
    ]
    for prefix in [p for p in sandbox.envs.iterdir() if (p / "conda-meta").is_dir()]:
        paths += [prefix / "conda-meta", prefix / "lib", *prefix.glob("lib/python3*/site-packages")]
        kernels = prefix / "share" / "jupyter" / "kernels"
        paths += [kernels, *kernels.glob("*"), *kernels.glob("*/kernel.json")]
    for path in paths:
        if os.path.lexists(path):
            os.utime(path, (old, old), follow_symlinks=False)


def manager(sandbox: Sandbox, tmp_path: Path, **traits) -> EnvKernelSpecManager:
    """A manager on the sandbox's envs, with no ordinary kernel dir but an empty one."""
    traits.setdefault("refresh_interval", 0)
    kernel_dirs = tmp_path / "kernels"
    kernel_dirs.mkdir(exist_ok=True)
    return EnvKernelSpecManager(
        settings=load_settings(sandbox.env), kernel_dirs=[str(kernel_dirs)], **traits
    )
