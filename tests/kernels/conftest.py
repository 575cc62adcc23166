"""Fixtures of the kernel tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ..helpers import Sandbox
from . import create


@pytest.fixture(scope="module")
def made(tmp_path_factory, shared_pkgs, channels) -> Path:
    """One real env with python and ipykernel, made once a module; tests clone it with hard
    links."""
    base = tmp_path_factory.mktemp("made")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA"))}
    env.update(
        HOME=str(base), MAMBA_ROOT_PREFIX=str(base / "root"), CONDA_PKGS_DIRS=str(shared_pkgs)
    )
    sandbox = Sandbox(home=base, root=base / "root", pkgs=shared_pkgs, env=env)
    return create(sandbox, channels, "src", "python", "ipykernel")


@pytest.fixture
def jp_home_dir(sandbox):
    # pytest-jupyter and the sandbox both make a home: one HOME also lets a server see the
    # sandbox's ~/.conda/environments.txt.
    return sandbox.home


@pytest.fixture
def env_kernel_environ(jp_environ, monkeypatch):
    """For tests that start env kernels through a server: jp_environ points PYTHONPATH at this
    venv, and an env's kernel must see only its own packages."""
    monkeypatch.delenv("PYTHONPATH", raising=False)
