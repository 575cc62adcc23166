"""examples/demo.ipynb, top to bottom with nbclient in the demo env's kernel, started as Jupyter
starts it (EnvKernelSpecManager and the envmgr provisioner, so `%envmgr` is there): no error."""

from __future__ import annotations

import json
import os

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from jupyter_envmgr.kernels import EnvKernelSpecManager

from ..helpers import installed
from . import KERNEL, NOTEBOOK, Demo, prepare_demo

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _text(output: dict) -> str:
    if output["output_type"] == "stream":
        return str(output["text"])
    if output["output_type"] == "error":
        return "\n".join(output["traceback"])
    return str(output.get("data", {}).get("text/plain", ""))


def _problems(nb: nbformat.NotebookNode) -> list[str]:
    """Error outputs, and anything on stderr (where `%envmgr` writes its error messages)."""
    found = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output["output_type"] == "error" or output.get("name") == "stderr":
                found.append(f"cell {index} ({cell.source.splitlines()[0]}): {_text(output)}")
    return found


def _cell(nb: nbformat.NotebookNode, source: str) -> nbformat.NotebookNode:
    """The code cell whose source is ``source`` (or whose first line is, for "...\n")."""
    for cell in nb.cells:
        if cell.cell_type == "code" and (
            cell.source == source or (source.endswith("\n") and cell.source.startswith(source))
        ):
            return cell
    raise AssertionError(f"no cell reads {source!r}")


def _outputs(nb: nbformat.NotebookNode, source: str) -> str:
    """All output text of that cell."""
    return "\n".join(_text(o) for o in _cell(nb, source).outputs)


@pytest.fixture
def user(demo: Demo, monkeypatch: pytest.MonkeyPatch) -> Demo:
    """This process's environment as the demo user's: the kernel inherits it, as a server's
    kernels inherit the server's."""
    for key in list(os.environ):
        if key not in demo.env:
            monkeypatch.delenv(key)
    for key, value in demo.env.items():
        monkeypatch.setenv(key, value)
    return demo


async def test_the_demo_notebook_runs_top_to_bottom_in_the_demo_kernel(user: Demo) -> None:
    # The server opens the working copy scripts/demo-prepare made; the user runs it, saves it
    # and switches its kernel; the tracked notebook stays byte for byte as committed.
    committed = NOTEBOOK.read_bytes()
    work = user.notebook.parent
    assert user.notebook.is_file(), user.output
    assert not any(cell.get("outputs") for cell in nbformat.read(NOTEBOOK, as_version=4).cells), (
        "commit the notebook without outputs"
    )
    nb = nbformat.read(user.notebook, as_version=4)
    assert nb.metadata.kernelspec.name == KERNEL
    opened = json.loads(json.dumps(nb.metadata))

    specs = EnvKernelSpecManager()
    assert KERNEL in specs.find_kernel_specs()
    km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(
        nb, km=km, timeout=300, startup_timeout=120, resources={"metadata": {"path": str(work)}}
    )
    await client.async_execute()
    # Opened in JupyterLab, the notebook is not modified before the user does anything: what
    # Lab writes when the kernel starts (the kernel's language_info, the spec's kernelspec;
    # nbclient writes the same) is what the working copy holds already.
    assert opened["language_info"] == nb.metadata.language_info
    spec = specs.get_kernel_spec(KERNEL)
    assert opened["kernelspec"] == {
        "name": KERNEL, "display_name": spec.display_name, "language": spec.language
    }  # fmt: skip
    nbformat.write(nb, user.notebook)  # the user saves, outputs and all
    nb.metadata.kernelspec = {"name": "conda-env-gone-python3", "display_name": "gone"}
    nbformat.write(nb, user.notebook)  # and switches to a kernel deleted later
    assert NOTEBOOK.read_bytes() == committed
    # The next start keeps the user's copy (their work), still without touching the tracked one.
    again = prepare_demo(user.dir.parent)
    assert "conda-env-gone-python3" in user.notebook.read_text()
    assert NOTEBOOK.read_bytes() == committed, again.output

    assert _problems(nb) == [], json.dumps(_problems(nb), indent=1)
    assert str(user.prefix) in _outputs(nb, "import sys\n")
    assert "ipykernel" in _outputs(nb, "%envmgr list")
    assert "Dry run" in _outputs(nb, "%envmgr install numpy requests --dry-run")
    assert "Done" in _outputs(nb, "%envmgr install numpy requests")
    used = _outputs(nb, "import numpy as np\n")
    assert "column sums: [12 15 18 21]" in used and "q=conda+envs" in used, used
    have = installed(user.prefix)
    assert {"numpy", "requests", "urllib3", "idna", "certifi", "charset-normalizer"} <= set(have)
    # The panel is a widget (its state goes with the notebook).
    panel = _cell(nb, "%envmgr panel")
    assert any(WIDGET_VIEW in o.get("data", {}) for o in panel.outputs), panel.outputs
    exported = (work / "environment.yml").read_text()
    assert "- numpy" in exported and "- requests" in exported, exported
    assert "Dry run" in _outputs(nb, "%envmgr create -n demo-copy -f environment.yml --dry-run")
    assert not (user.root / "envs" / "demo-copy").exists()
    assert "Disk use" in _outputs(nb, "%envmgr usage")
    assert KERNEL in _outputs(nb, "%envmgr kernels")
