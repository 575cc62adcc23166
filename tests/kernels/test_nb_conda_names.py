"""Notebooks saved under nb_conda_kernels name their kernel `conda-env-<env>-py`
(`conda-root-py` for the root env): those names start our env kernels, in the server and in
tools outside it (nbclient after `envmgr kernels --sync`), and the notebook keeps its name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_envmgr.kernels import EnvKernelSpecManager

from ..helpers import Sandbox, envmgr_server_config
from . import clone, copy_env, manager, without_jupyter_vars

PRINT_PREFIX = "import sys; print(sys.prefix)"


def _register(sandbox: Sandbox, *prefixes: Path) -> None:
    """As a terminal conda or micromamba does for envs outside our envs dirs."""
    registry = sandbox.home / ".conda" / "environments.txt"
    registry.parent.mkdir(parents=True, exist_ok=True)
    with open(registry, "a", encoding="utf-8") as fh:
        fh.writelines(f"{p}\n" for p in prefixes)


def _notebook(path: Path, kernel_name: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": "Python [conda env:ana]",
        "language": "python",
    }
    nb.cells.append(nbformat.v4.new_code_cell(PRINT_PREFIX))
    nbformat.write(nb, path)
    return path


@pytest.fixture
def world(made, sandbox, tmp_path) -> dict[str, Path]:
    """A root env and a named env with kernels, one of the same name under another root (as
    micromamba's), and a project's `.venv`, both registered in environments.txt."""
    sandbox.root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(made, sandbox.root, symlinks=True, copy_function=os.link, dirs_exist_ok=True)
    ana = copy_env(made, sandbox, "ana")
    other = clone(made, tmp_path / "micromamba" / "envs" / "ana")
    venv = clone(made, tmp_path / "proj" / ".venv")
    _register(sandbox, other, venv)
    return {"root": sandbox.root, "ana": ana, "other": other, "venv": venv}


def test_nb_conda_names_start_env_kernels_without_being_listed(world, sandbox, tmp_path):
    plain = tmp_path / "kernels" / "conda-env-.venv-py"  # an ordinary kernelspec of that name
    plain.mkdir(parents=True)
    (plain / "kernel.json").write_text(
        json.dumps(
            {"argv": ["python3", "-m", "ipykernel"], "display_name": "Mine", "language": "python"}
        )
    )
    m = manager(sandbox, tmp_path)

    def env_of(name: str) -> str:
        return m.get_kernel_spec(name).metadata["conda_env_path"]

    assert env_of("conda-env-ana-py") == str(world["ana"])  # the name nb_conda_kernels gave
    assert env_of("conda-root-py") == str(world["root"])  # older nb_conda_kernels
    assert env_of("conda-base-py") == str(world["root"])  # nb_conda_kernels today
    # Under another root: its envs dir's parent names it, as nb_conda_kernels does; the bare
    # name is our own env's.
    assert env_of("conda-env-micromamba-ana-py") == str(world["other"])
    assert env_of("Conda-Env-Micromamba-Ana-Py") == str(world["other"])  # Jupyter's case rule
    # An ordinary kernelspec keeps its name: the alias is not taken over.
    assert m.get_kernel_spec("conda-env-.venv-py").display_name == "Mine"

    # Each kernel is listed once, by our name.
    listed = set(m.find_kernel_specs())
    assert listed == set(m.get_all_specs())
    assert not {n for n in listed if n.endswith("-py") and n != "conda-env-.venv-py"}
    env_names = {n for n in listed if n.startswith("conda-env-") and not n.endswith("-py")}
    assert len(env_names) == 4  # root, ana, the other ana, the .venv

    from jupyter_envmgr.kernels.manager import kernel_summaries

    aliases = {s["env"]["prefix"]: s["aliases"] for s in kernel_summaries(m)}
    assert aliases[str(world["ana"])] == ["conda-env-ana-py"]
    assert aliases[str(world["other"])] == ["conda-env-micromamba-ana-py"]
    assert set(aliases[str(world["root"])]) == {"conda-base-py", "conda-root-py"}
    assert aliases[str(world["venv"])] == []  # its alias is the ordinary kernelspec's


def _run_notebook(sandbox: Sandbox, path: Path) -> subprocess.CompletedProcess:
    """nbclient with no kernel name, as a user outside the server runs a notebook."""
    script = (
        "import sys, nbformat, nbclient\n"
        "nb = nbformat.read(sys.argv[1], 4)\n"
        "nbclient.NotebookClient(nb, timeout=120).execute()\n"
        "nbformat.write(nb, sys.argv[1])\n"
    )
    env = without_jupyter_vars(sandbox)
    env.pop("PYTHONPATH", None)  # the env's kernel must see only its own packages
    return subprocess.run(
        [sys.executable, "-c", script, str(path)], env=env, capture_output=True, text=True,
        timeout=300, cwd=path.parent,
    )  # fmt: skip


def test_nbclient_runs_a_nb_conda_notebook_in_the_env_kernel(world, sandbox, tmp_path):
    sandbox.run("kernels", "--sync")
    for name, env in [("conda-env-ana-py", "ana"), ("conda-env-micromamba-ana-py", "other")]:
        path = _notebook(tmp_path / f"{env}.ipynb", name)
        run = _run_notebook(sandbox, path)
        assert run.returncode == 0, run.stderr[-3000:]
        nb = nbformat.read(path, 4)
        assert nb.cells[0].outputs[0]["text"].strip() == str(world[env])
        assert nb.metadata["kernelspec"]["name"] == name  # what the notebook had


@pytest.fixture
def jp_server_config(sandbox, monkeypatch):
    config = envmgr_server_config(sandbox, monkeypatch)
    config["ServerApp"]["jpserver_extensions"]["jupyter_envmgr.kernels"] = True
    return config


@pytest.fixture
def jp_home_dir(sandbox):
    return sandbox.home


@pytest.mark.usefixtures("env_kernel_environ")
async def test_a_session_on_a_nb_conda_name_runs_the_env_kernel(world, jp_fetch, jp_serverapp):
    assert isinstance(jp_serverapp.kernel_spec_manager, EnvKernelSpecManager)
    body = {"path": "old.ipynb", "type": "notebook", "kernel": {"name": "conda-env-ana-py"}}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    session = json.loads(response.body)
    assert session["kernel"]["name"] == "conda-env-ana-py"  # the notebook's own name
    client = jp_serverapp.kernel_manager.get_kernel(session["kernel"]["id"]).client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(
            PRINT_PREFIX,
            output_hook=lambda m: (
                out.append(m["content"].get("text", "")) if m["msg_type"] == "stream" else None
            ),
            timeout=60,
        )
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok"
    assert "".join(out).strip() == str(world["ana"])

    # Listed once, by our name; the REST kernel listing names the alias.
    specs = json.loads((await jp_fetch("api", "kernelspecs")).body)["kernelspecs"]
    assert "conda-env-ana-python3" in specs and "conda-env-ana-py" not in specs
    kernels = json.loads((await jp_fetch("envmgr", "api", "kernels")).body)["kernels"]
    ana = next(k for k in kernels if k["env"]["prefix"] == str(world["ana"]))
    assert ana["aliases"] == ["conda-env-ana-py"]
