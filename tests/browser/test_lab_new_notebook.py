""" "New notebook with this env" starts the notebook's kernel at the click and the notebook
attaches to it: one session, one kernel, no second kernel started when the notebook opens; and
the notebook is made in the folder the file browser shows, as JupyterLab's own New Notebook.
"""

from __future__ import annotations

from .conftest import LabPage, LabServer
from .test_lab_envmgr_ui import expect, open_env, open_sidebar
from .test_lab_first_cell import assert_ran, run_at_once


def test_new_notebook_with_this_env_uses_the_kernel_started_at_the_click(
    lab: LabServer, lab_page: LabPage
) -> None:
    prefix = str(lab.create_env("prestart", "python", "ipykernel"))
    lab.shutdown_kernels()
    (lab.root_dir / "analysis").mkdir(exist_ok=True)
    before = set((lab.root_dir / "analysis").glob("*.ipynb"))
    lab_page.open_workspace("analysis")  # the file browser shows analysis/
    page = lab_page.page
    expect(page.locator(".jp-FileBrowser .jp-BreadCrumbs")).to_contain_text("analysis")
    open_sidebar(lab_page)
    view = open_env(lab_page, "prestart")
    view.get_by_role("button", name="New notebook with this env").click()
    run_at_once(lab_page, 1)
    assert_ran(lab_page, prefix)
    lab_page.shot("ran")

    made = set((lab.root_dir / "analysis").glob("*.ipynb")) - before
    assert len(made) == 1, f"expected one new notebook in analysis/, got {made}"
    (notebook,) = made
    sessions = lab.api("GET", "/api/sessions")
    kernels = lab.api("GET", "/api/kernels")
    assert [s["path"] for s in sessions] == [f"analysis/{notebook.name}"]
    assert len(kernels) == 1, f"a second kernel was started: {kernels}"
    assert sessions[0]["kernel"]["id"] == kernels[0]["id"]
    assert "prestart" in sessions[0]["kernel"]["name"]
