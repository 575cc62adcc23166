"""`%envmgr` in an env's own kernel, started by a real jupyter_server: no setup step, the
package imports at once, interrupts restore the env, and REST tasks and magics take turns."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.notebook.magics import MagicUsageError, complete_args

from ..helpers import files_on_disk, hostile_channel, installed, on, owned_files, tree_snapshot
from . import create

pytestmark = [
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
    pytest.mark.usefixtures("env_kernel_environ"),
]

KERNEL = "conda-env-nb-python3"


@pytest.fixture
def envmgr_pkgs(tmp_path) -> Path:
    # The server's own cold package cache: a magic's install then has something to download.
    return tmp_path / "server-pkgs"


@pytest.fixture
def policy() -> dict:
    return {}


@pytest.fixture
def jp_server_config(sandbox, channels, envmgr_pkgs, policy, monkeypatch):
    for key in ("HOME", "MAMBA_ROOT_PREFIX", "CONDA_PKGS_DIRS"):
        monkeypatch.setenv(key, sandbox.env[key])
    return {
        "ServerApp": {
            "jpserver_extensions": {
                "jupyter_envmgr": True,
                "jupyter_envmgr.kernels": True,
                "jupyter_server_terminals": False,
            },
            "allow_unauthenticated_access": False,
        },
        "EnvMgrExtension": {
            "root_prefix": str(sandbox.root),
            "pkgs_dirs": [str(envmgr_pkgs)],
            # No conda-forge here: the magics' default channels are the server's.
            "default_channels": [channels.main_url],
            **policy,
        },
        "EnvKernelSpecManager": {"root_prefix": str(sandbox.root), "refresh_interval": 0},
    }


@pytest.fixture
def nb_env(sandbox, channels) -> Path:
    return create(sandbox, channels, "nb", "python", "ipykernel", "delta=1.0")


class Kernel:
    """An env kernel of the server, with everything a cell shows collected as text."""

    def __init__(self, serverapp, kernel_id: str) -> None:
        self.serverapp = serverapp
        self.kernel_id = kernel_id
        self.client = serverapp.kernel_manager.get_kernel(kernel_id).client()

    async def run(self, code: str, on_text=None, timeout: float = 180) -> tuple[str, dict]:
        chunks: list[str] = []

        def hook(msg: dict) -> None:
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                text = content["text"]
            elif kind in ("display_data", "update_display_data", "execute_result"):
                text = content["data"].get("text/plain", "") + "\n"
            elif kind == "error":
                text = "\n".join(content["traceback"])
            else:
                return
            chunks.append(text)
            if on_text is not None:
                on_text(text)

        reply = await self.client.execute_interactive(code, output_hook=hook, timeout=timeout)
        return "".join(chunks), reply["content"]


@contextlib.asynccontextmanager
async def env_kernel(jp_serverapp):
    """The `nb` env's kernel, started by the server as JupyterLab would."""
    km = jp_serverapp.kernel_manager
    kernel_id = await km.start_kernel(kernel_name=KERNEL)
    kernel = Kernel(jp_serverapp, kernel_id)
    kernel.client.start_channels()
    await kernel.client.wait_for_ready(timeout=60)
    try:
        yield kernel
    finally:
        kernel.client.stop_channels()
        await km.shutdown_kernel(kernel_id, now=True)


def _site_packages(prefix: Path) -> set[str]:
    return {p.name for p in next(prefix.glob("lib/python3*/site-packages")).iterdir()}


async def test_a_magic_installs_into_its_own_env_with_no_setup(jp_serverapp, nb_env, channels):
    async with env_kernel(jp_serverapp) as kernel:
        before = _site_packages(nb_env)
        text, reply = await kernel.run("%envmgr install alpha")
        assert reply["status"] == "ok", text
        assert "Done" in text and "alpha" in text, text
        # Importable in the same kernel at once, from the env.
        text, reply = await kernel.run(
            "import alpha, sys; print(alpha.__file__); print(sys.prefix)"
        )
        assert reply["status"] == "ok", text
        assert text.split()[0].startswith(str(nb_env)) and text.split()[1] == str(nb_env)
        assert "alpha" in installed(nb_env)
        assert "alpha" in (nb_env / "conda-meta" / "history").read_text()
        # The env gained alpha and nothing of ours: no .pth, no envmgr module.
        added = _site_packages(nb_env) - before
        assert added and all(name.startswith("alpha") for name in added), added
        assert not any("envmgr" in str(p) for p in files_on_disk(nb_env))


async def test_magic_help_list_and_errors_are_words_not_tracebacks(jp_serverapp, nb_env, channels):
    async with env_kernel(jp_serverapp) as kernel:
        text, _ = await kernel.run("%envmgr")
        assert "%envmgr install numpy" in text
        text, _ = await kernel.run("%envmgr notebook lock")
        assert f"envmgr notebook lock NOTEBOOK.ipynb -p {nb_env}" in text, text
        text, reply = await kernel.run("%envmgr list")
        assert reply["status"] == "ok" and "delta" in text and "1.0" in text, text
        assert "Starting envmgr" not in text and "Done." not in text, text  # a read: no progress
        text, reply = await kernel.run("%envmgr install no-such-package")
        assert reply["status"] == "ok", text  # an error message in the cell, not an exception
        assert "Failed." in text and "Done." not in text, text  # the progress line says so
        assert text.count("envmgr:") == 1 and "Traceback" not in text, text
        assert "no-such-package" in text
        text, reply = await kernel.run("%%envmgr\ndependencies:\n  - beta\n")
        assert reply["status"] == "ok" and "Done" in text, text
        assert "beta" in installed(nb_env)
        unchanged = installed(nb_env)
        text, _ = await kernel.run("%envmgr install 'alpha[build_number=\"99999999999999999999\"]'")
        assert "too large" in text and "Traceback" not in text, text
        assert installed(nb_env) == unchanged


async def test_an_interrupt_during_an_install_restores_the_env(jp_serverapp, nb_env, channels):
    async with env_kernel(jp_serverapp) as kernel:
        before = installed(nb_env)
        with serve_channel(channels.main, chunk_delay=0.05, chunk_size=4096) as url:
            downloading = asyncio.Event()

            def watch(text: str) -> None:
                if "Downloading" in text:
                    downloading.set()

            cell = asyncio.ensure_future(
                kernel.run(f"%envmgr install -c {url} --override-channels pyyaml", on_text=watch)
            )
            await asyncio.wait_for(downloading.wait(), timeout=120)
            await jp_serverapp.kernel_manager.interrupt_kernel(kernel.kernel_id)
            text, reply = await cell
        assert "Interrupted" in text and "restored" in text, text
        assert installed(nb_env) == before
        assert files_on_disk(nb_env) - owned_files(nb_env) == set()
        # The kernel lives on.
        text, reply = await kernel.run("print(1 + 1)")
        assert reply["status"] == "ok" and "2" in text


async def test_a_magic_waits_for_a_rest_task_holding_the_lock(
    jp_serverapp, jp_fetch, nb_env, channels
):
    async with env_kernel(jp_serverapp) as kernel:
        with serve_channel(channels.main, chunk_delay=0.05, chunk_size=4096) as url:
            body = {"specs": ["pyyaml"], "channels": [url], "override_channels": True}
            response = await jp_fetch(
                "envmgr",
                "api",
                "environments",
                "nb",
                "packages",
                method="POST",
                body=json.dumps(body),
            )
            task = json.loads(response.body)
            for _ in range(600):  # until the task holds the lock and is downloading
                state = json.loads((await jp_fetch("envmgr", "api", "tasks", task["id"])).body)
                if any(e["event"] == "download-progress" for e in state["events"]):
                    break
                await asyncio.sleep(0.05)
            text, reply = await kernel.run("%envmgr install alpha")
        assert "Waiting for the environment's lock" in text, text
        assert "Done" in text, text
        state = json.loads((await jp_fetch("envmgr", "api", "tasks", task["id"])).body)
        assert state["state"] == "done", state
        assert {"alpha", "pyyaml"} <= set(installed(nb_env))


@pytest.mark.parametrize("policy", [{"read_only_envs": ["nb"], "allow_clean": False}])
async def test_the_servers_policy_holds_in_the_kernel(jp_serverapp, nb_env, channels):
    async with env_kernel(jp_serverapp) as kernel:
        # The admin's rules reach the kernel's CLI through the server's published config.
        before = installed(nb_env)
        text, reply = await kernel.run("%envmgr install alpha")
        assert reply["status"] == "ok" and "read-only" in text, text
        assert "Solving" not in text  # refused before trying
        text, _ = await kernel.run("%envmgr clean --all")
        assert "disabled" in text, text
        assert installed(nb_env) == before


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("install numpy", ["install", "-p", "/env", "numpy", "-y"]),
        ("install -n data numpy", ["install", "-n", "data", "numpy", "-y"]),
        ("install numpy --dry-run", ["install", "-p", "/env", "numpy", "--dry-run"]),
        ("list --revisions", ["list", "-p", "/env", "--revisions"]),
        ("env export --from-history", ["env", "export", "-p", "/env", "--from-history"]),
        ("env list", ["env", "list"]),
        ("clean --all", ["clean", "--all", "-y"]),
        ("create -n new python", ["create", "-n", "new", "python", "-y"]),
    ],
)
def test_magic_arguments_default_to_the_kernels_env_and_never_ask(typed, expected):
    assert complete_args(shlex.split(typed), "/env") == expected


@pytest.mark.parametrize("typed", ["env remove", "run python x.py", "slurm-script -- x", ""])
def test_magic_arguments_that_cannot_run_in_a_notebook_say_why(typed):
    with pytest.raises(MagicUsageError):
        complete_args(shlex.split(typed), "/env")


def test_load_ext_in_the_servers_own_python(sandbox, channels):
    # %load_ext jupyter_envmgr where the engine is installed: the same magics, no kernel needed.
    sandbox.run("create", *on(channels.main_url, "data", "delta=1.0"))
    code = (
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'jupyter_envmgr')\n"
        "ip.run_line_magic('envmgr', 'list -n data')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=sandbox.env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "delta" in out.stdout and "1.0" in out.stdout, out.stdout


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    return hostile_channel(tmp_path_factory.mktemp("hostile-kernel"))


async def test_a_magic_refuses_a_hostile_package(jp_serverapp, nb_env, hostile):
    channel, victim, offending = hostile
    before, snap = installed(nb_env), tree_snapshot(nb_env)
    async with env_kernel(jp_serverapp) as kernel:
        for name in ("evil-dotdot", "evil-symlink"):
            text, reply = await kernel.run(f"%envmgr install -c {channel.as_uri()} {name}")
            assert f"Refused the package '{name}'" in text, text
            assert offending[name][:60] in text, text
            assert "Traceback" not in text, text
        text, reply = await kernel.run("print(6 * 7)")
        assert reply["status"] == "ok" and "42" in text
    assert victim.read_text() == "precious\n"
    assert installed(nb_env) == before
    assert tree_snapshot(nb_env) == snap
