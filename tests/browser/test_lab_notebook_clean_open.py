"""A notebook that opens is not marked dirty before the user does anything: the demo notebook,
a notebook that carries an env lock in its metadata, a notebook on an env kernel and a plain
one (the stock `python3` kernel) each open, their kernel gets ready, and the tab shows no
unsaved-changes dot while the file on disk keeps its exact bytes; the user's first edit marks
it. (JupyterLab itself marks a file without `language_info` dirty as it loads, and rewrites a
short `language_info` with the kernel's: each case is here.)

Every notebook leaves a screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import re
import shutil
import uuid

import pytest

from ..demo import KERNEL, NOTEBOOK
from .conftest import LabPage, LabServer, write_notebook
from .test_lab_envmgr_ui import expect

# After the kernel is idle: time for what follows an open (drift check, carried-env check,
# kernel info) to have written to the notebook if anything would.
SETTLE_MS = 3000


def _env(lab: LabServer, name: str) -> str:
    """An env with a kernel (made once per session); its kernel's name."""
    if not (lab.sandbox.envs / name).exists():
        lab.create_env(name, "python", "ipykernel")
    kernel = f"conda-env-{name}-python3"
    lab.wait_for_kernelspec(kernel)
    return kernel


def _demo(lab: LabServer) -> str:
    assert _env(lab, "demo") == KERNEL  # the kernel examples/demo.ipynb names
    name = f"demo-{uuid.uuid4().hex[:6]}.ipynb"
    shutil.copyfile(NOTEBOOK, lab.root_dir / name)
    return name


def _locked(lab: LabServer) -> str:
    kernel = _env(lab, "cleanopen")
    name = f"locked-{uuid.uuid4().hex[:6]}.ipynb"
    write_notebook(lab, kernel, name)
    lab.run_cli("notebook", "lock", str(lab.root_dir / name), "-n", "cleanopen")
    return name


def _env_kernel(lab: LabServer) -> str:
    name = f"envkernel-{uuid.uuid4().hex[:6]}.ipynb"
    write_notebook(lab, _env(lab, "cleanopen"), name)
    return name


def _plain(lab: LabServer) -> str:
    name = f"plain-{uuid.uuid4().hex[:6]}.ipynb"
    write_notebook(lab, "python3", name)
    return name


@pytest.mark.parametrize("make", [_demo, _locked, _env_kernel, _plain], ids=lambda f: f.__name__)
def test_a_notebook_opens_clean(lab: LabServer, lab_page: LabPage, make) -> None:
    name = make(lab)
    path = lab.root_dir / name
    before = path.read_bytes()

    lab_page.open_workspace(name)
    lab_page.notebook.locator(".jp-Cell").first.wait_for()
    lab_page.wait_for_idle()
    lab_page.page.wait_for_timeout(SETTLE_MS)
    lab_page.shot("opened")

    tab = lab_page.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=name)
    assert tab.count() == 1
    assert "jp-mod-dirty" not in (tab.get_attribute("class") or "").split()
    assert path.read_bytes() == before

    # The user's first edit marks it, as always.
    lab_page.notebook.locator(".jp-CodeCell .cm-content").first.click()
    lab_page.page.keyboard.insert_text("1")
    expect(tab).to_have_class(re.compile(r"\bjp-mod-dirty\b"))
    lab_page.shot("edited")
