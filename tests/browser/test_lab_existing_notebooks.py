"""Existing notebooks and environments in JupyterLab: a notebook saved under nb_conda_kernels
(its kernel named `conda-env-<env>-py`) opens on the env's kernel without asking; an env a
terminal made under another root shows by its name, with its kernel, and opens.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from .conftest import LabPage, LabServer


def test_a_notebook_saved_under_nb_conda_kernels_opens_on_its_env_kernel(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    prefix = lab.create_env("legacy", "python", "ipykernel")
    lab.wait_for_kernelspec("conda-env-legacy-python3")
    name = f"nbconda-{uuid.uuid4().hex[:6]}.ipynb"
    kernelspec = {
        "name": "conda-env-legacy-py",
        "display_name": "Python [conda env:legacy]",
        "language": "python",
    }
    content = {
        "cells": [
            {
                "cell_type": "code", "id": "c1", "metadata": {}, "source": "",
                "outputs": [], "execution_count": None,
            }
        ],
        "metadata": {"kernelspec": kernelspec},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    body = {"type": "notebook", "format": "json", "content": content}
    lab.api("PUT", f"/api/contents/{quote(name)}", body)

    lab_page.open_workspace(name)
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    assert not page.locator(".jp-Dialog", has_text="Select Kernel").count()
    assert "[env: legacy]" in lab_page.kernel_status()
    output = lab_page.run_cell("import sys; print(sys.prefix)")
    assert output.strip() == str(prefix), output

    # Saved, the notebook still names its kernel as it did.
    page.keyboard.press("Control+s")
    page.wait_for_timeout(1500)
    saved = json.loads((lab.root_dir / name).read_text())
    assert saved["metadata"]["kernelspec"] == kernelspec
    assert saved["cells"][0]["outputs"]  # the save did happen


def test_an_env_a_terminal_made_under_another_root_shows_by_name_with_its_kernel(
    lab: LabServer, lab_page: LabPage
) -> None:
    from playwright.sync_api import expect

    page = lab_page.page
    other_root = lab.root_dir.parent / f"mm-{uuid.uuid4().hex[:6]}"
    prefix = other_root / "envs" / "faraway"
    # As a user in a terminal: `-p` registers it in ~/.conda/environments.txt.
    lab.run_cli(
        "create", "-p", str(prefix), "-c", lab.channels.main_url, "--override-channels",
        "python", "ipykernel", "-y",
    )  # fmt: skip
    env = next(e for e in lab.api("GET", "/envmgr/api/environments")["environments"]
               if e["prefix"] == str(prefix))  # fmt: skip
    key = env["key"]

    lab_page.open_workspace()
    sidebar = page.locator(".jp-EnvMgr-sidebar")
    if not sidebar.is_visible():
        page.locator('.lm-TabBar-tab[data-id="jp-envmgr-sidebar"]').click()
    row = page.locator(f'.jp-EnvMgr-envRow[data-env="{key}"]')
    row.wait_for(timeout=30_000)
    lab_page.shot("sidebar")
    name = row.locator(".jp-EnvMgr-envName")
    expect(name).to_have_text("faraway")
    expect(name).to_be_enabled()
    expect(row.locator(".jp-EnvMgr-envLocation")).to_have_text(f"in {other_root / 'envs'}")
    expect(row.locator(".jp-EnvMgr-kernel")).to_have_count(1, timeout=30_000)
    assert not row.locator(".jp-EnvMgr-nokernel").count()
    # The launcher offers the same kernel.
    page.locator(".jp-LauncherCard", has_text="[env: ").filter(has_text="faraway").first.wait_for()

    # Its view opens, with its packages and its kernel, and it can be changed.
    panel = page.locator(f'.jp-EnvMgr-envPanel[data-env="{key}"]')
    for _ in range(5):
        name.click()
        try:
            panel.locator(".jp-EnvMgr-table").first.wait_for(timeout=10_000)
            break
        except Exception:
            continue
    expect(panel.locator("h2")).to_have_text("faraway")
    expect(panel.locator('tr[data-package="python"]')).to_have_count(1)
    expect(panel.locator(".jp-EnvMgr-kernelName")).to_contain_text("faraway")
    assert not panel.locator(".jp-EnvMgr-note", has_text="Read-only").count()
    lab_page.shot("env-view")
