"""The admin policy seen from the JupyterLab extension: a second JupyterLab whose admin allows
only the main test channel, makes `locked*` envs read-only and disallows cleaning. Refusals
(403) show the server's reason; read-only envs have their buttons off and say why."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.channels import TestChannels

from ..helpers import installed, on
from .conftest import (
    ARTIFACTS,
    LAB_START_TIMEOUT,
    LabPage,
    LabServer,
    _free_port,
    _session_sandbox,
    _tail,
)
from .test_lab_envmgr_ui import env_row, expect, open_env, open_sidebar


def _start_lab(base: Path, sandbox: Any, channels: TestChannels, *extra: str) -> LabServer:
    """A `jupyter lab` like conftest's ``lab`` fixture, with extra server options."""
    root_dir, settings, workspaces = base / "notebooks", base / "settings", base / "workspaces"
    for folder in (root_dir, settings, workspaces):
        folder.mkdir()
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        '{"fetchNews": "false", "checkForUpdates": false}'
    )
    port, token = _free_port(), os.urandom(16).hex()
    log = base / "jupyter-lab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}",
        f"--EnvMgrExtension.root_prefix={sandbox.root}",
        f"--EnvKernelSpecManager.root_prefix={sandbox.root}",
        f"--EnvMgrExtension.default_channels={channels.main_url}",
        *extra,
    ]  # fmt: skip
    if os.getuid() == 0:
        cmd.append("--allow-root")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=sandbox.env, cwd=root_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = LabServer(
        url=f"http://127.0.0.1:{port}", token=token, sandbox=sandbox, root_dir=root_dir,
        channels=channels, log=log, proc=proc,
    )  # fmt: skip
    start = time.monotonic()
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{_tail(log)}")
        if time.monotonic() - start > LAB_START_TIMEOUT:
            proc.kill()
            raise RuntimeError(f"jupyter lab did not answer in {LAB_START_TIMEOUT}s")
        try:
            server.api("GET", "/api/status", timeout=5)
            return server
        except (OSError, urllib.error.URLError):
            time.sleep(0.2)


@pytest.fixture(scope="module")
def policy_lab(
    tmp_path_factory: pytest.TempPathFactory, shared_pkgs: Path, channels: TestChannels
) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("policy-lab")
    sandbox = _session_sandbox(base, shared_pkgs)
    server = _start_lab(
        base, sandbox, channels,
        f"--EnvMgrExtension.allowed_channels={channels.main_url}",
        "--EnvMgrExtension.read_only_envs=locked*",
        "--EnvMgrExtension.allow_clean=False",
    )  # fmt: skip
    try:
        yield server
    finally:
        server.proc.terminate()
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(server.log, ARTIFACTS / "jupyter-lab-policy.log")


@pytest.fixture
def policy_page(page: Any, policy_lab: LabServer, artifacts: Path) -> LabPage:
    return LabPage(page, policy_lab, artifacts)


def test_a_read_only_env_shows_why_its_buttons_are_off(
    policy_lab: LabServer, policy_page: LabPage
) -> None:
    policy_lab.run_cli("create", *on(policy_lab.channels.main_url, "locked", "delta"))
    policy_page.open_workspace()
    open_sidebar(policy_page)
    expect(env_row(policy_page, "locked").locator(".jp-EnvMgr-readonly")).to_be_visible()
    panel = open_env(policy_page, "locked")
    expect(panel.get_by_role("note")).to_contain_text("read-only")
    expect(panel.get_by_label("Packages to install")).to_be_disabled()
    expect(panel.get_by_role("button", name="Update all")).to_be_disabled()
    expect(panel.get_by_role("button", name="Delete…")).to_be_disabled()
    expect(panel.get_by_role("button", name="Remove delta")).to_be_disabled()
    # Cloning is allowed: it changes nothing in this env.
    expect(panel.get_by_role("button", name="Clone…")).to_be_enabled()
    policy_page.shot("read-only")


def test_a_403_of_the_admin_policy_says_why(policy_lab: LabServer, policy_page: LabPage) -> None:
    main, extra = policy_lab.channels.main_url, policy_lab.channels.extra_url
    prefix = policy_lab.sandbox.envs / "free"
    policy_lab.run_cli("create", *on(main, "free", "delta"))
    before = installed(prefix)
    page = policy_page.page
    policy_page.open_workspace()

    # Install from a channel outside the allow list: refused at once, with the channel named.
    panel = open_env(policy_page, "free")
    panel.get_by_label("Packages to install").fill(f"{extra}::delta")
    panel.get_by_role("button", name="Install").click()
    refused = panel.get_by_label("Refused")
    expect(refused).to_contain_text("is not allowed on this server")
    expect(refused).to_contain_text(extra.rstrip("/"))
    policy_page.shot("install-refused")
    assert installed(prefix) == before

    # Create with that channel: the same words in the create view; nothing is made.
    open_sidebar(policy_page).get_by_role("button", name="New environment").click()
    form = page.locator(".jp-EnvMgr-createPanel")
    form.get_by_label("Environment name").fill("other")
    form.get_by_label("Packages", exact=True).fill("delta")
    form.get_by_label("Add a channel").fill(extra)
    form.get_by_role("button", name="Add channel").click()
    form.get_by_role("button", name="Move " + extra + " up").click()
    form.get_by_role("button", name="Create").click()
    expect(form.get_by_role("alert")).to_contain_text("is not allowed on this server")
    policy_page.shot("create-refused")
    assert not (policy_lab.sandbox.envs / "other").exists()

    # Cleaning is off for everyone here: the preview says so.
    open_sidebar(policy_page).get_by_role("button", name="Disk").click()
    disk = page.locator(".jp-EnvMgr-diskPanel")
    disk.get_by_role("button", name="Preview").click()
    expect(disk.get_by_role("alert")).to_contain_text(
        "Cleaning the shared package cache is disabled"
    )
    policy_page.shot("clean-refused")
