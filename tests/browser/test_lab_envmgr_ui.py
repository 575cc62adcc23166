"""The JupyterLab extension in a real browser: the Environments sidebar, the create, env, disk
and task views, and the notebook side (kernel env item, install, restart offer).

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ..helpers import installed, versions
from .conftest import LabPage, LabServer

SLOW = 240_000  # ms: a create or install on 2 busy cores


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def open_sidebar(lab_page: LabPage) -> Any:
    """Show the Environments sidebar; its root element."""
    page = lab_page.page
    sidebar = page.locator(".jp-EnvMgr-sidebar")
    if not sidebar.is_visible():
        page.locator('.lm-TabBar-tab[data-id="jp-envmgr-sidebar"]').click()
    sidebar.wait_for()
    return sidebar


def env_row(lab_page: LabPage, name: str) -> Any:
    return lab_page.page.locator(f'.jp-EnvMgr-envRow[data-env="{name}"]')


def open_env(lab_page: LabPage, name: str) -> Any:
    """The env's view in the main area (opened from the sidebar)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    open_sidebar(lab_page)
    panel = lab_page.page.locator(f'.jp-EnvMgr-envPanel[data-env="{name}"]')
    # The sidebar re-renders as sizes and new envs arrive: a click that lands while its rows
    # move can hit nothing, so click again until the view is there.
    for _ in range(5):
        env_row(lab_page, name).locator(".jp-EnvMgr-envName").click()
        try:
            panel.locator(".jp-EnvMgr-table").first.wait_for(timeout=10_000)
            return panel
        except PlaywrightTimeoutError:
            continue
    panel.locator(".jp-EnvMgr-table").first.wait_for()
    return panel


def package_row(panel: Any, name: str) -> Any:
    return panel.locator(f'tr[data-package="{name}"]')


def wait_task(scope: Any, state: str = "done", timeout: float = SLOW) -> Any:
    """The newest task shown in ``scope`` once it reached ``state``."""
    task = scope.locator(".jp-EnvMgr-task").first
    expect(task).to_have_attribute("data-task-state", state, timeout=timeout)
    return task


def dialog(lab_page: LabPage) -> Any:
    return lab_page.page.locator(".jp-Dialog")


def test_create_use_install_export_clean_delete_from_the_ui(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    lab_page.open_workspace()
    sidebar = open_sidebar(lab_page)
    lab_page.shot("sidebar")

    # Create: name, packages from the test channel; the channels are the server's defaults.
    sidebar.get_by_role("button", name="New environment").click()
    form = page.locator(".jp-EnvMgr-createPanel")
    form.get_by_label("Environment name").fill("uienv")
    form.get_by_label("Packages", exact=True).fill("python ipykernel alpha=1.0")
    expect(form.locator(".jp-EnvMgr-channel")).to_have_text([lab.channels.main_url])
    lab_page.shot("create-form")
    form.get_by_role("button", name="Create").click()

    # Live progress, then done; the env view opens by itself.
    progress = form.locator(".jp-EnvMgr-task")
    progress.wait_for()
    lab_page.shot("create-progress")
    wait_task(form)
    lab_page.shot("create-done")
    prefix = lab.sandbox.envs / "uienv"
    assert versions(prefix)["alpha"] == "1.0"
    panel = page.locator('.jp-EnvMgr-envPanel[data-env="uienv"]')
    expect(package_row(panel, "alpha")).to_contain_text("1.0", timeout=30_000)
    expect(env_row(lab_page, "uienv").locator(".jp-EnvMgr-kernel")).to_be_visible()
    lab_page.shot("env-view")

    # Its kernel is in the launcher; a notebook on it runs in the env.
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text="Launcher").first.click()
    card = page.locator(".jp-LauncherCard", has_text="[env: uienv]").first
    card.wait_for(timeout=30_000)
    lab_page.shot("launcher")
    card.click()
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    assert lab_page.run_cell("import sys; print(sys.prefix)") == str(prefix)
    assert lab_page.run_cell("import alpha; print(alpha.__version__)") == "1.0"

    # The status bar names the kernel's env; it opens "install into this kernel's env".
    item = page.locator(".jp-EnvMgr-statusItem")
    expect(item).to_have_text("env: uienv")
    item.click()
    install = dialog(lab_page)
    install.get_by_label("Packages to install").fill("alpha=1.5 beta")
    lab_page.shot("install-dialog")
    install.get_by_role("button", name="Install").click()
    # alpha changes (1.0 -> 1.5), and the kernel had imported it: a restart is offered.
    offer = page.locator(".jp-Dialog", has_text="Restart the kernel?")
    offer.wait_for(timeout=SLOW)
    expect(offer).to_contain_text("alpha")
    lab_page.shot("restart-offer")
    offer.get_by_role("button", name="Restart").click()
    expect(offer).to_be_hidden()
    time.sleep(1)  # the status passes through "restarting" before idle
    lab_page.wait_for_idle()
    out = lab_page.run_cell("import alpha, beta; print(alpha.__version__, beta.__version__)")
    assert out == "1.5 1.0"
    assert versions(prefix)["beta"] == "1.0"

    # Export: the file the browser downloads is what the server exports.
    panel = open_env(lab_page, "uienv")
    expect(package_row(panel, "beta")).to_contain_text("1.0")
    panel.get_by_label("Export format").select_option("from-history")
    with page.expect_download() as download:
        panel.get_by_role("button", name="Export").click()
    exported = Path(download.value.path()).read_text()
    assert "- beta" in exported and "alpha=1.5" in exported, exported
    assert download.value.suggested_filename == "environment.yml"
    lab_page.shot("exported")

    # Disk: per-env use and the cache, then a clean preview (what goes, what is kept, why).
    open_sidebar(lab_page).get_by_role("button", name="Disk").click()
    disk = page.locator(".jp-EnvMgr-diskPanel")
    chart = disk.get_by_label("Disk use per environment")
    expect(chart.locator('tr[data-tree="uienv"]')).to_contain_text("own")
    expect(chart.locator('tr[data-tree="cache"]')).to_be_visible()
    expect(disk.get_by_label("Filesystems")).to_contain_text(" of ")
    lab_page.shot("disk")
    disk.get_by_role("button", name="Preview").click()
    plan = disk.get_by_label("Clean preview")
    expect(plan).to_contain_text(re.compile(r"Frees .* and .* inodes"))
    expect(plan.get_by_label("What is kept")).to_contain_text("used by uienv")
    lab_page.shot("clean-preview")
    # Run a clean of the index cache only (the package cache is shared by the whole session).
    for label in ("Downloaded archives", "Extracted packages"):
        disk.get_by_label(re.compile(label)).uncheck()
    disk.get_by_label(re.compile("Channel index cache")).check()
    disk.get_by_role("button", name="Preview").click()
    # The old plan is dropped at once, so this waits for the index cache's own preview.
    expect(plan).to_contain_text("Frees")
    expect(plan).not_to_contain_text("used by uienv")
    # Fresh index files are kept as recent: there may be nothing to clean yet.
    if disk.get_by_role("button", name="Clean now").is_enabled():
        disk.get_by_role("button", name="Clean now").click()
        dialog(lab_page).get_by_role("button", name="Clean").click()
        wait_task(disk.get_by_label("Clean"))
        lab_page.shot("cleaned")

    # Delete, with a confirmation; the view closes and the sidebar forgets it.
    panel = open_env(lab_page, "uienv")
    panel.get_by_role("button", name="Delete…").click()
    confirm = dialog(lab_page)
    expect(confirm).to_contain_text("Delete uienv?")
    # The notebook above still runs the env's kernel: the dialog names it and offers to shut
    # it down first (the server would refuse the delete, 409).
    expect(confirm).to_contain_text("Its kernels are running")
    expect(confirm).to_contain_text(".ipynb")
    lab_page.shot("delete-confirm")
    confirm.get_by_role("button", name="Shut down kernels and delete").click()
    expect(env_row(lab_page, "uienv")).to_have_count(0, timeout=SLOW)
    expect(panel).to_have_count(0)
    assert not prefix.exists()
    lab_page.shot("deleted")


def test_an_env_made_with_the_cli_shows_up_without_a_reload(
    lab: LabServer, lab_page: LabPage
) -> None:
    lab_page.open_workspace()
    open_sidebar(lab_page)
    lab_page.shot("before")
    assert env_row(lab_page, "fromcli").count() == 0
    lab.create_env("fromcli", "python", "ipykernel")
    row = env_row(lab_page, "fromcli")
    row.wait_for(timeout=30_000)
    expect(row.locator(".jp-EnvMgr-kernel")).to_be_visible(timeout=30_000)
    lab_page.shot("after")
    # ... and its kernel reached the launcher, still without a reload.
    lab_page.page.locator(".jp-LauncherCard", has_text="[env: fromcli]").first.wait_for()
    lab_page.shot("launcher")


def test_an_unsatisfiable_spec_shows_the_solvers_reason_and_changes_nothing(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = lab.create_env("unsat", "python", "alpha=2.0")
    before = installed(prefix)
    lab_page.open_workspace()
    panel = open_env(lab_page, "unsat")
    # gamma forbids alpha >= 1.5, which this env has.
    panel.get_by_label("Packages to install").fill("gamma")
    panel.get_by_role("button", name="Install").click()
    task = wait_task(panel.get_by_label("Tasks on this environment"), "failed")
    error = task.locator(".jp-EnvMgr-error")
    expect(error).to_contain_text("cannot be satisfied")
    expect(error).to_contain_text("gamma")
    lab_page.shot("unsatisfiable")
    assert installed(prefix) == before
    expect(package_row(panel, "gamma")).to_have_count(0)


def test_create_from_an_uploaded_environment_file(
    lab: LabServer, lab_page: LabPage, tmp_path: Path
) -> None:
    envfile = tmp_path / "environment.yml"
    envfile.write_text(
        f"name: fromfile\nchannels:\n  - {lab.channels.main_url}\ndependencies:\n  - delta=1.1\n"
    )
    lab_page.open_workspace()
    open_sidebar(lab_page).get_by_role("button", name="New environment").click()
    form = lab_page.page.locator(".jp-EnvMgr-createPanel")
    form.get_by_label("Environment file").set_input_files(str(envfile))
    # The file's name: field fills the name.
    expect(form.get_by_label("Environment name")).to_have_value("fromfile")
    lab_page.shot("file-chosen")
    form.get_by_role("button", name="Create").click()
    wait_task(form)
    lab_page.shot("created")
    assert versions(lab.sandbox.envs / "fromfile") == {"delta": "1.1"}


def test_remove_roll_back_and_clone_from_the_env_view(lab: LabServer, lab_page: LabPage) -> None:
    prefix = lab.create_env("revs", "delta")
    page = lab_page.page
    lab_page.open_workspace()
    panel = open_env(lab_page, "revs")
    panel.get_by_role("button", name="Remove delta").click()
    dialog(lab_page).get_by_role("button", name="Remove").click()
    expect(package_row(panel, "delta")).to_have_count(0, timeout=SLOW)
    assert "delta" not in installed(prefix)
    lab_page.shot("removed")

    panel.get_by_role("button", name="Roll back to 0").click()
    dialog(lab_page).get_by_role("button", name="Roll back").click()
    expect(package_row(panel, "delta")).to_be_visible(timeout=SLOW)
    assert "delta" in installed(prefix)
    lab_page.shot("rolled-back")

    panel.get_by_role("button", name="Clone…").click()
    ask = dialog(lab_page)
    ask.locator("input").fill("revs-copy")
    ask.get_by_role("button", name="Clone").click()
    page.locator('.jp-EnvMgr-envPanel[data-env="revs-copy"]').wait_for(timeout=SLOW)
    expect(env_row(lab_page, "revs-copy")).to_be_visible()
    assert versions(lab.sandbox.envs / "revs-copy") == versions(prefix)
    lab_page.shot("cloned")


def test_palette_new_notebook_and_one_click_kernel_switch(
    lab: LabServer, lab_page: LabPage
) -> None:
    lab.create_env("kone", "python", "ipykernel")
    lab.create_env("ktwo", "python", "ipykernel")
    page = lab_page.page
    lab_page.open_workspace()
    open_sidebar(lab_page)
    env_row(lab_page, "ktwo").locator(".jp-EnvMgr-kernel").wait_for()

    # The command palette: "New Notebook with Environment…", keyboard only.
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type("New Notebook with Environment")
    page.keyboard.press("Enter")
    pick = dialog(lab_page)
    pick.locator("select").select_option("kone")
    lab_page.shot("palette-pick")
    page.keyboard.press("Enter")
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    assert "[env: kone]" in lab_page.kernel_status()
    expect(page.locator(".jp-EnvMgr-statusItem")).to_have_text("env: kone")

    # From ktwo's view, one click moves that notebook onto ktwo's kernel.
    panel = open_env(lab_page, "ktwo")
    switch = panel.get_by_role("button", name=re.compile(r"^Use this env in .*\.ipynb$"))
    lab_page.shot("env-view-notebooks")
    switch.click()
    expect(page.locator(".jp-EnvMgr-statusItem")).to_have_text("env: ktwo", timeout=60_000)
    lab_page.wait_for_idle()
    out = lab_page.run_cell("import sys; print(sys.prefix)")
    assert out == str(lab.sandbox.envs / "ktwo")


def use_theme(lab_page: LabPage, theme: str) -> None:
    """Switch the theme with the command palette (keyboard only)."""
    page = lab_page.page
    page.keyboard.press("Control+Shift+C")
    page.keyboard.type(f"Use Theme: {theme}")
    page.locator(".lm-CommandPalette-item.lm-mod-active", has_text=theme).wait_for()
    page.keyboard.press("Enter")
    light = "true" if "Light" in theme else "false"
    page.locator(f"body[data-jp-theme-light='{light}']").wait_for(state="attached")


def test_the_views_follow_the_dark_theme(lab: LabServer, lab_page: LabPage) -> None:
    lab.create_env("darkenv", "delta")
    page = lab_page.page
    lab_page.open_workspace()
    page.locator("body[data-jp-theme-light='true']").wait_for(state="attached")
    try:
        use_theme(lab_page, "JupyterLab Dark")
        panel = open_env(lab_page, "darkenv")
        background = panel.evaluate(
            "e => getComputedStyle(e.closest('.jp-EnvMgr-panelWidget')).backgroundColor"
        )
        assert background != "rgb(255, 255, 255)", background
        lab_page.shot("dark")
    finally:
        use_theme(lab_page, "JupyterLab Light")
