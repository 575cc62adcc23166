"""The env view's export menu in JupyterLab: the lock formats the ecosystem reads, each with a
line saying which tool reads the file, and the platforms to lock for. A conda-lock.yml
downloaded for this platform and osx-arm64 names both, with packages for each.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import yaml

from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import open_env


def test_the_export_menu_downloads_a_conda_lock_file_for_two_platforms(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    env = f"exp{uuid.uuid4().hex[:5]}"
    lab.create_env(env, "python", "delta=1.0")
    lab_page.open_workspace()
    panel = open_env(lab_page, env)

    menu = panel.get_by_label("Export format")
    menu.select_option("yml")
    assert "Binder and repo2docker" in panel.locator(".jp-EnvMgr-exportHelp").inner_text()
    assert panel.get_by_label("Lock for osx-arm64").count() == 0  # not a lock format
    menu.select_option("pixi-lock")
    assert "pixi.lock for pixi" in panel.locator(".jp-EnvMgr-exportHelp").inner_text()
    menu.select_option("conda-lock")
    help_text = panel.locator(".jp-EnvMgr-exportHelp").inner_text()
    assert "conda-lock.yml for conda-lock, conda-store" in help_text, help_text
    assert "own platform is always included" in help_text, help_text
    panel.get_by_label("Lock for osx-arm64").check()
    lab_page.shot("menu")
    with page.expect_download(timeout=120_000) as download:
        panel.get_by_role("button", name="Export").click()
    assert download.value.suggested_filename == "conda-lock.yml"
    lock = yaml.safe_load(Path(download.value.path()).read_text())
    lab_page.shot("downloaded")
    assert lock["version"] == 1
    assert sorted(lock["metadata"]["platforms"]) == ["linux-64", "osx-arm64"]
    by_platform = {p: {e["name"] for e in lock["package"] if e["platform"] == p}
                   for p in ("linux-64", "osx-arm64")}  # fmt: skip
    assert {"python", "delta"} <= by_platform["linux-64"]
    assert {"python", "delta"} <= by_platform["osx-arm64"]
