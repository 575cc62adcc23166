"""What `bash scripts/demo` shows, in a real browser: JupyterLab started through binder/start
opens its working copy of examples/demo.ipynb in the demo env's kernel, and Run All works with
no error output.

The README's screenshot comes from here: ``ENVMGR_UPDATE_SCREENSHOT=1 pytest
tests/browser/test_demo_screenshot.py`` writes docs/screenshot.png (other runs write it to the
test's artifacts only, so a test run leaves the work tree as it was).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.channels import TestChannels

from ..demo import KERNEL, NOTEBOOK, REPO, prepare_demo
from ..helpers import Sandbox
from .conftest import LAB_START_TIMEOUT, LabPage, LabServer, _free_port, _tail

SCREENSHOT = REPO / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def demo_lab(
    tmp_path_factory: pytest.TempPathFactory, channels: TestChannels
) -> Iterator[LabServer]:
    """The demo as scripts/demo serves it (prepared offline): rooted at a notebooks folder that
    holds a working copy of examples/demo.ipynb, so the notebook's export lands there."""
    base = tmp_path_factory.mktemp("demo-lab")
    demo = prepare_demo(base)
    root_dir, settings, workspaces = base / "notebooks", base / "settings", base / "workspaces"
    root_dir.mkdir(parents=True)
    shutil.copyfile(NOTEBOOK, root_dir / NOTEBOOK.name)
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    (notification / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        str(REPO / "binder" / "start"), "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root_dir}",
        f"--IdentityProvider.token={token}", f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={workspaces}",
    ]  # fmt: skip
    if os.getuid() == 0:
        cmd.append("--allow-root")
    log = base / "jupyter-lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, env=demo.env, cwd=root_dir, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    sandbox = Sandbox(home=demo.home, root=demo.root, pkgs=demo.root / "pkgs", env=demo.env)
    server = LabServer(
        url=f"http://127.0.0.1:{port}", token=token, sandbox=sandbox, root_dir=root_dir,
        channels=channels, log=log, proc=proc,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + LAB_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited ({proc.returncode}):\n{_tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"jupyter lab did not answer:\n{_tail(log)}")
            try:
                server.api("GET", "/api/status", timeout=5)
                break
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_all(page: Any) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _open_environments_sidebar(page: Any) -> bool:
    """Open our "Environments" side panel when the JupyterLab extension provides one."""
    tab = page.locator(".jp-SideBar .lm-TabBar-tab[title*='Environments']")
    if tab.count() == 0:
        return False
    if "lm-mod-current" not in (tab.first.get_attribute("class") or ""):
        tab.first.click()
    return True


def test_the_demo_opens_on_its_notebook_and_runs_all_cells(
    demo_lab: LabServer, page: Any, artifacts: Path
) -> None:
    lab_page = LabPage(page, demo_lab, artifacts)
    # `/` leads to the demo notebook (binder/start's config), in the demo env's kernel.
    page.goto(demo_lab.lab_url("/"))
    page.wait_for_url(re.compile(r"/lab/tree/demo\.ipynb"))
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    assert "[env: demo]" in lab_page.kernel_status()

    _run_all(page)
    code_cells = lab_page.notebook.locator(".jp-CodeCell")
    last_prompt = code_cells.last.locator(".jp-InputPrompt")
    from playwright.sync_api import expect

    expect(last_prompt).to_have_text(re.compile(r"^\s*\[\d+\]:\s*$"), timeout=300_000)
    lab_page.wait_for_idle()
    # Every code cell ran, none wrote to stderr (where %envmgr reports errors) or raised.
    prompts = code_cells.locator(".jp-InputPrompt").all_text_contents()
    assert all(re.fullmatch(r"\s*\[\d+\]:\s*", p) for p in prompts), prompts
    assert page.locator(".jp-OutputArea-output[data-mime-type*='stderr']").count() == 0
    assert page.locator(".jp-OutputArea-output[data-mime-type*='error']").count() == 0
    assert "column sums: [12 15 18 21]" in (lab_page.notebook.text_content() or "")

    # The picture: the install, the import and the panel, with our sidebar when there is one.
    if not _open_environments_sidebar(page):
        page.locator(".jp-SideBar .lm-TabBar-tab.lm-mod-current").first.click()  # close it
    panel = lab_page.notebook.locator(".jp-CodeCell", has_text="%envmgr panel")
    panel.locator(".widget-vbox").first.wait_for()
    install = lab_page.notebook.locator(".jp-CodeCell", has_text="%envmgr install numpy requests")
    install.last.evaluate("e => e.scrollIntoView({block: 'start'})")
    time.sleep(1)  # let the scrolled cells paint
    shot = lab_page.shot("demo")
    if os.environ.get("ENVMGR_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)
    assert demo_lab.kernelspecs().get(KERNEL)
