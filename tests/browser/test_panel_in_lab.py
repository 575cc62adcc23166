"""The ipywidgets panel in a real JupyterLab: `%envmgr panel` renders, and Install works."""

from __future__ import annotations

import re

from ..helpers import installed
from .conftest import LabPage, LabServer


def test_the_panel_renders_and_installs_into_the_kernels_env(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = lab.create_env("paneled", "python", "ipykernel", "ipywidgets")
    count = len(installed(prefix))
    lab_page.new_notebook("conda-env-paneled-python3")
    lab_page.run_cell("%envmgr panel")
    panel = lab_page.cells.nth(0).locator(".jp-OutputArea-output")
    panel.get_by_text("This env's kernel:").wait_for()
    panel.get_by_text(f"{count} packages in paneled").wait_for()  # the table is filled
    lab_page.shot("panel")

    panel.locator(".widget-text", has_text="Packages:").locator("input").fill("alpha")
    panel.get_by_role("button", name="Install").click()
    panel.get_by_text(f"{count + 1} packages in paneled").wait_for(timeout=120_000)
    panel.locator("td", has_text=re.compile(r"^alpha$")).wait_for()
    lab_page.shot("installed")
    assert "alpha" in installed(prefix)
