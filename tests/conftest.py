"""One channel factory and one sandbox fixture for every test layer."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from jupyter_envmgr.channels import TestChannels, build_test_channels

from .helpers import Sandbox

# Real jupyter_server fixtures (jp_fetch, jp_serverapp, ...) for the server and kernel tests.
pytest_plugins = ["jupyter_server.pytest_plugin"]


@pytest.fixture(scope="session")
def channels() -> TestChannels:
    return build_test_channels()


@pytest.fixture(scope="session")
def shared_pkgs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # One package cache for the whole session: extracting python once keeps the suite fast.
    return tmp_path_factory.mktemp("pkgs")


@pytest.fixture
def sandbox(tmp_path: Path, shared_pkgs: Path) -> Sandbox:
    home = tmp_path / "home"
    root = tmp_path / "root"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA", "ENVMGR"))}
    env.update(
        HOME=str(home),
        MAMBA_ROOT_PREFIX=str(root),
        CONDA_PKGS_DIRS=str(shared_pkgs),
        PYTHONUNBUFFERED="1",
    )
    return Sandbox(home=home, root=root, pkgs=shared_pkgs, env=env)


@pytest.fixture
def private_sandbox(sandbox: Sandbox, tmp_path: Path) -> Sandbox:
    """A sandbox with its own package cache (for tests that count what the cache holds)."""
    pkgs = tmp_path / "root" / "pkgs"
    env = dict(sandbox.env)
    env.pop("CONDA_PKGS_DIRS")
    return Sandbox(home=sandbox.home, root=sandbox.root, pkgs=pkgs, env=env)


_exit_status = 0


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    # Processes that used rattler can crash (rarely) while the interpreter finalizes: once
    # pytest has reported everything, leave with its own exit status and skip finalization.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
