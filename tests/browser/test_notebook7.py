"""Jupyter Notebook 7 (not JupyterLab) with our extension: the env kernels, `%envmgr`, the
Environments panel in Notebook 7's left side panel, an env's view in the panel below the notebook,
and no error about a missing plugin token.

Notebook 7 lacks some of JupyterLab's plugins (status bar, launcher, layout restorer): every token
the extension uses is optional, and it does what it can without them.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from jupyter_envmgr.channels import TestChannels

from ..helpers import on
from .conftest import LabServer, _session_sandbox, running_lab, write_notebook


@pytest.fixture(scope="module")
def notebook7(
    tmp_path_factory: pytest.TempPathFactory, shared_pkgs: Path, channels: TestChannels
) -> Iterator[LabServer]:
    """A real `jupyter notebook` (Notebook 7) over a sandbox root, like the lab fixture."""
    base = tmp_path_factory.mktemp("nb7")
    sandbox = _session_sandbox(base, shared_pkgs)
    with running_lab(
        base, sandbox, channels, log_name="jupyter-notebook7.log", front_end="notebook7"
    ) as server:
        yield server


def _shot(page: Any, artifacts: Path, name: str, shots: list[int] = [0]) -> None:  # noqa: B006
    shots[0] += 1
    page.screenshot(path=artifacts / f"{shots[0]:02d}-{name}.png")


def _run_cell(page: Any, code: str, index: int) -> str:
    """Type ``code`` into cell ``index``, run it (Shift+Enter), wait for its execution count;
    its output text."""
    from playwright.sync_api import expect

    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.locator(".cm-content").click()
    page.keyboard.insert_text(code)
    page.keyboard.press("Shift+Enter")
    prompt = cell.locator(".jp-InputPrompt")
    expect(prompt).to_have_text(re.compile(r"^\s*\[\d+\]:\s*$"), timeout=120_000)
    texts = cell.locator(".jp-OutputArea-output").all_inner_texts()
    return "\n".join(t.strip() for t in texts)


def test_notebook7_runs_env_kernels_magics_and_the_environments_panel(
    notebook7: LabServer, page: Any, artifacts: Path
) -> None:
    server = notebook7
    server.run_cli("create", *on(server.channels.main_url, "nbseven", "python", "ipykernel"))
    prefix = server.sandbox.envs / "nbseven"
    kernel = "conda-env-nbseven-python3"
    name = f"nb7-{uuid.uuid4().hex[:8]}.ipynb"
    write_notebook(server, kernel, name)
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: messages.append(f"pageerror: {err}\n{err.stack}"))

    # Notebook 7's notebook page, on the env's kernel.
    page.goto(server.lab_url(f"/notebooks/{quote(name)}"))
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    _shot(page, artifacts, "opened")

    # A cell runs in the env's kernel, and %envmgr works there.
    assert _run_cell(page, "import sys; print(sys.prefix)", 0) == str(prefix)
    listing = _run_cell(page, "%envmgr list", 1)
    assert "nbseven" in listing, listing
    assert re.search(r"\bpython\b", listing) and re.search(r"\bipykernel\b", listing), listing
    _shot(page, artifacts, "ran")

    # The Environments panel opens in Notebook 7's left side panel (its command shows it).
    page.evaluate("() => window.jupyterapp?.commands.execute('envmgr:open')")
    sidebar = page.locator("#jp-envmgr-sidebar")
    if not sidebar.is_visible():
        # Without window.jupyterapp: View menu > Left Sidebar > Environments.
        page.locator(".lm-MenuBar-item", has_text="View").click()
        page.locator(".lm-Menu-item", has_text="Left Sidebar").hover()
        _shot(page, artifacts, "view-menu")
        page.locator(".lm-Menu-item", has_text="Environments").last.click()
    sidebar.wait_for()
    row = sidebar.locator(".jp-EnvMgr-envRow[data-env='nbseven']")
    row.wait_for()
    _shot(page, artifacts, "environments-panel")

    # Notebook 7 keeps one document in its main area: the env's view opens in the panel below
    # the notebook, with its package table.
    row.locator(".jp-EnvMgr-envName").click()
    view = page.locator("#jp-down-stack .jp-EnvMgr-envPanel[data-env='nbseven']")
    view.locator("tr[data-package='ipykernel']").wait_for()
    from playwright.sync_api import expect

    # Given room to be read: the panel opens unfolded.
    expect(view.get_by_role("button", name="New notebook with this env")).to_be_in_viewport()
    assert page.locator(".jp-Notebook .jp-Cell").count() >= 2  # the notebook is still there
    _shot(page, artifacts, "env-view")

    # The extension loaded, with no complaint about a plugin or token Notebook 7 lacks. (Notebook
    # 7.6 itself throws "Cannot read properties of undefined (reading 'schema')" from its
    # settings registry on this page, with or without this extension: its stack names no code
    # of ours, so it is not counted.)
    (artifacts / "page-errors.log").write_text("\n".join(messages))
    bad = [
        m
        for m in messages
        if m.startswith(("error", "pageerror"))
        and ("envmgr" in m.lower() or "no provider for" in m.lower() or "token" in m.lower())
    ]
    assert not bad, bad
