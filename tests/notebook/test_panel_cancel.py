"""Cancel, during a slow download: the CLI stops, the env is as it was, the panel says so."""

from __future__ import annotations

import time
from pathlib import Path

from jupyter_envmgr.channels import TestChannels, serve_channel

from ..helpers import Sandbox, files_on_disk, installed, owned_files
from .conftest import TIMEOUT, output_text, table_names, use_channels


def _wait_for(predicate, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_cancel_during_a_slow_install_restores_the_env(
    env: Path,
    cli_sandbox: Sandbox,
    channels: TestChannels,
    open_panel,
    monkeypatch,
    tmp_path: Path,
):
    before = installed(env)
    # A cold package cache of our own: ipykernel's closure must come over the slow channel.
    monkeypatch.setenv("CONDA_PKGS_DIRS", str(tmp_path / "own-pkgs"))
    panel = open_panel(env)
    with serve_channel(channels.main, chunk_delay=0.05, chunk_size=16384) as url:
        use_channels(cli_sandbox, url)
        panel.spec_text.value = "ipykernel"
        panel.install_button.click()
        _wait_for(lambda: "Downloading" in panel.progress_label.value, "a download")

        # While it runs: the buttons wait, Cancel does not, and a second click is refused.
        assert panel.busy and panel.install_button.disabled and panel.env_select.disabled
        assert not panel.cancel_button.disabled
        panel.install_button.click()  # a click that slipped through: said, not run
        assert "still running" in output_text(panel, "stderr")

        panel.cancel_button.click()
        assert panel.wait(TIMEOUT)

    assert installed(env) == before
    assert files_on_disk(env) - owned_files(env) == set()
    assert "Cancelled: the environment was restored" in output_text(panel, "stdout")
    assert panel.model.status == "Cancelled." and panel.progress_label.value == "Cancelled."
    assert table_names(panel) == {"python", "delta"}
    assert not panel.busy and not panel.install_button.disabled and panel.cancel_button.disabled
