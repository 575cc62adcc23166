"""The env view's "Batch script" in JupyterLab, on a server without sbatch on its PATH: the
command and options give a SLURM script naming the env and the command, Copy puts it on the
clipboard, and Submit is not offered (the view says to submit it where SLURM runs).

Every step leaves a numbered screenshot in this test's artifacts folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.channels import TestChannels

from .conftest import LabPage, LabServer, _session_sandbox, running_lab
from .test_lab_envmgr_ui import expect, open_env

ENV = "batchview"


@pytest.fixture(scope="module")
def bare_lab(
    tmp_path_factory: pytest.TempPathFactory, shared_pkgs: Path, channels: TestChannels
) -> Iterator[LabServer]:
    """A JupyterLab whose PATH holds bash (for activation scripts) and no sbatch."""
    base = tmp_path_factory.mktemp("batch-lab")
    sandbox = _session_sandbox(base, shared_pkgs)
    bare = base / "bin"
    bare.mkdir()
    os.symlink("/bin/bash", bare / "bash")
    sandbox.env["PATH"] = str(bare)
    with running_lab(base, sandbox, channels, log_name="jupyter-lab-batch.log") as server:
        yield server


@pytest.fixture
def bare_page(page: Any, bare_lab: LabServer, artifacts: Path) -> LabPage:
    return LabPage(page, bare_lab, artifacts)


def test_batch_script_shows_the_script_copies_it_and_hides_submit_without_sbatch(
    bare_lab: LabServer, bare_page: LabPage
) -> None:
    prefix = bare_lab.create_env(ENV, "python", "alpha")
    page = bare_page.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=bare_lab.url)
    bare_page.open_workspace()
    panel = open_env(bare_page, ENV)
    section = panel.get_by_role("region", name="Batch script")
    section.get_by_text("Batch script", exact=True).click()  # unfold it
    section.get_by_label("Command to run").fill('python -c "import alpha; print(alpha)"')
    section.get_by_label("Time limit").fill("0:30:00")
    section.get_by_label("Partition").fill("debug")
    script = section.get_by_label("Job script")
    expect(script).to_contain_text("#SBATCH --partition=debug")
    text = script.inner_text()
    assert "#SBATCH --time=0:30:00\n" in text, text
    assert f"export CONDA_PREFIX={prefix}\n" in text, text
    assert "exec python -c 'import alpha; print(alpha)'" in text, text
    expect(section.get_by_text("This server has no sbatch")).to_be_visible()
    assert section.get_by_role("button", name="Submit").count() == 0

    section.get_by_role("button", name="Copy").click()
    expect(section.get_by_role("status")).to_have_text("Copied to the clipboard")
    assert page.evaluate("navigator.clipboard.readText()") == text.rstrip("\n") + "\n"
    bare_page.shot("batch-script")

    # A bad option is refused by the server with its reason, in the view.
    section.get_by_label("Memory").fill("lots")
    expect(section.get_by_role("alert")).to_contain_text("--mem 'lots'")
    expect(section.get_by_label("Job script")).to_have_count(0)
    bare_page.shot("bad-option")
