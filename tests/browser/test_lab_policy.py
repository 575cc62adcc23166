"""The admin policy seen from the JupyterLab extension: a second JupyterLab whose admin allows
only the main test channel, makes `locked*` envs read-only and disallows cleaning. Refusals
(403) show the server's reason; read-only envs have their buttons off and say why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.channels import TestChannels

from ..helpers import installed, on
from .conftest import LabPage, LabServer, _session_sandbox, running_lab
from .test_lab_envmgr_ui import env_row, expect, open_env, open_sidebar


@pytest.fixture(scope="module")
def policy_lab(
    tmp_path_factory: pytest.TempPathFactory, shared_pkgs: Path, channels: TestChannels
) -> Iterator[LabServer]:
    base = tmp_path_factory.mktemp("policy-lab")
    sandbox = _session_sandbox(base, shared_pkgs)
    with running_lab(
        base, sandbox, channels,
        f"--EnvMgrExtension.allowed_channels={channels.main_url}",
        "--EnvMgrExtension.read_only_envs=locked*",
        "--EnvMgrExtension.allow_clean=False",
        log_name="jupyter-lab-policy.log",
    ) as server:  # fmt: skip
        yield server


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
