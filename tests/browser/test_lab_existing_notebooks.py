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
