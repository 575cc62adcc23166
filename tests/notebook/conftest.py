"""The panel in this process, over the real CLI acting on a sandbox.

`EnvmgrClient` hands this process's environment to the CLI it starts, so the sandbox's
variables go into `os.environ` (and whatever could point the CLI elsewhere goes out); the
channels come from the sandbox user's `~/.condarc`, as they would for a real user.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.channels import TestChannels
from jupyter_envmgr.notebook.client import EnvmgrClient
from jupyter_envmgr.notebook.panel import EnvPanel

from ..helpers import Sandbox, on

TIMEOUT = 120
# Kept: the test channels' cache (only this process reads it, to build the channels).
_KEEP = ("ENVMGR_TEST_CHANNEL_CACHE",)


def use_channels(sandbox: Sandbox, *urls: str) -> None:
    """The channels the sandbox user has configured (the panel passes none itself)."""
    lines = ["channels:", *(f"  - {url}" for url in urls)]
    (sandbox.home / ".condarc").write_text("\n".join(lines) + "\n")


@pytest.fixture
def cli_sandbox(
    sandbox: Sandbox, channels: TestChannels, monkeypatch: pytest.MonkeyPatch
) -> Sandbox:
    for name in list(os.environ):
        if name.startswith(("CONDA", "MAMBA", "ENVMGR")) and name not in _KEEP:
            monkeypatch.delenv(name)
    for name in ("HOME", "MAMBA_ROOT_PREFIX", "CONDA_PKGS_DIRS"):
        monkeypatch.setenv(name, sandbox.env[name])
    use_channels(sandbox, channels.main_url)
    return sandbox


@pytest.fixture
def env(cli_sandbox: Sandbox, channels: TestChannels) -> Path:
    """An env `e` with python and delta 1.0."""
    cli_sandbox.run("create", *on(channels.main_url, "e", "python", "delta=1.0"))
    return cli_sandbox.envs / "e"


@pytest.fixture
def open_panel() -> Iterator[Callable[..., EnvPanel]]:
    """Makes a panel over the real CLI and waits until it has loaded."""
    panels: list[EnvPanel] = []

    def make(prefix: Path | str | None = None, client: EnvmgrClient | None = None) -> EnvPanel:
        client = client or EnvmgrClient([sys.executable, "-m", "jupyter_envmgr"])
        panel = EnvPanel(client, prefix=str(prefix) if prefix is not None else None)
        panels.append(panel)
        assert panel.wait(TIMEOUT), "the panel did not finish loading"
        return panel

    yield make
    for panel in panels:  # nothing may outlive the test's sandbox
        panel.cancel()
        panel.wait(TIMEOUT)


def click(panel: EnvPanel, button: Any) -> None:
    """Click like the frontend does, then wait for the operation it started."""
    assert not button.disabled, f"{button.description} is disabled"
    button.click()
    assert panel.wait(TIMEOUT), "the operation did not finish"


def output_text(panel: EnvPanel, stream: str | None = None) -> str:
    return "".join(o["text"] for o in panel.output.outputs if stream is None or o["name"] == stream)


def table_names(panel: EnvPanel) -> set[str]:
    return {p["name"] for p in panel.model.packages}
