"""A notebook that carries its environment, in JupyterLab: opening a notebook whose env is
missing here offers to create it (and switches its kernel to it); the toolbar's "Embed env lock"
button embeds the kernel's env into the notebook and shows what it embedded.

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from .conftest import LabPage, LabServer, write_notebook

SLOW = 240_000  # ms: a create on 2 busy cores


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def test_opening_a_notebook_whose_env_is_missing_offers_to_create_it(
    lab: LabServer, lab_page: LabPage
) -> None:
    page = lab_page.page
    lab.create_env("src", "python", "ipykernel", "delta")
    name = f"carried-{uuid.uuid4().hex[:6]}.ipynb"
    write_notebook(lab, "conda-env-src-python3", name)
    lab.run_cli("notebook", "lock", str(lab.root_dir / name), "-n", "src")
    saved = json.loads((lab.root_dir / name).read_text())
    assert saved["metadata"]["envmgr"]["env_name"] == "src"
    lab.run_cli("env", "remove", "-n", "src", "-y")
    assert not (lab.sandbox.envs / "src").exists()

    lab_page.open_workspace(name)
    offer = page.locator(".jp-Dialog", has_text="This notebook carries the environment 'src'")
    offer.wait_for(timeout=60_000)
    lab_page.shot("offer")
    assert re.search(r"\(\d+ packages\)", offer.inner_text())
    offer.get_by_role("button", name="Yes").click()
    lab_page.shot("accepted")
    # JupyterLab's own "Select Kernel" dialog (the notebook's kernel is missing) may sit
    # behind ours: dismiss it without a kernel; ours switches the kernel when the env is made.
    chooser = page.locator(".jp-Dialog", has_text="Select Kernel")
    page.wait_for_timeout(1000)
    if chooser.count():
        lab_page.shot("kernel-chooser")
        chooser.get_by_role("button", name="No Kernel").click()
    lab_page.shot("syncing")
    # When the env is made, the notebook's kernel is switched to it.
    status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\[env: src\] \| Idle"))
    status.first.wait_for(timeout=SLOW)
    lab_page.shot("created")
    assert (lab.sandbox.envs / "src" / "conda-meta").is_dir()
    # The test channel's delta is data only (share/delta/delta.txt), not an importable module.
    output = lab_page.run_cell(
        "import os, sys; print(sys.prefix, os.path.exists(sys.prefix + '/share/delta/delta.txt'))"
    )
    assert output.strip() == f"{lab.sandbox.envs / 'src'} True", output


def test_the_toolbar_button_embeds_the_kernels_env(lab: LabServer, lab_page: LabPage) -> None:
    page = lab_page.page
    lab.create_env("emb", "python", "ipykernel", "delta")
    name = lab_page.new_notebook("conda-env-emb-python3")
    button = lab_page.notebook.locator(".jp-EnvMgr-embedButton")
    button.wait_for()
    lab_page.shot("toolbar")
    button.click()
    shown = page.locator(".jp-Dialog", has_text="Embedded the environment emb")
    shown.wait_for(timeout=60_000)
    lab_page.shot("embedded")
    shown.get_by_role("button", name="Close").click()
    lab_page.notebook.locator(".jp-Cell").first.click()
    page.keyboard.press("Control+s")
    path = lab.root_dir / name

    def saved_meta() -> dict:
        return json.loads(path.read_text()).get("metadata", {})

    expect(page.locator(".jp-Notebook")).to_be_visible()
    for _ in range(100):
        if "envmgr" in saved_meta():
            break
        page.wait_for_timeout(100)
    lab_page.shot("saved")
    meta = saved_meta()
    assert meta["envmgr"]["env_name"] == "emb"
    assert any(
        r["name"] == "delta" for records in meta["envmgr"]["platforms"].values() for r in records
    )
    assert meta["kernelspec"]["name"] == "conda-env-emb-python3"
