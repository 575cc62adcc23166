"""Deleting an env whose kernels run: the server answers 409 naming the kernels and the
notebooks they serve (`?force=true` deletes anyway); the CLI names them too, read from the
running server (its jpserver-*.json and REST API), and asks before removing."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from ..helpers import envmgr_server_config
from . import create

pytestmark = [
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
    pytest.mark.usefixtures("env_kernel_environ"),
]

KERNEL = "conda-env-nb-python3"
NOTEBOOK = "work/analysis.ipynb"


@pytest.fixture
def jp_server_config(sandbox, monkeypatch):
    config = envmgr_server_config(sandbox, monkeypatch)
    config["ServerApp"]["jpserver_extensions"]["jupyter_envmgr.kernels"] = True
    config["EnvKernelSpecManager"] = {"root_prefix": str(sandbox.root), "refresh_interval": 0}
    return config


async def _call(jp_fetch, method, *path, body=None, params=None):
    kwargs = {"method": method, "raise_error": False, "params": params or {}}
    if body is not None:
        kwargs["body"] = json.dumps(body)
    response = await jp_fetch(*path, **kwargs)
    text = response.body.decode()
    return response.code, (json.loads(text) if text else None)


async def _cli(env: dict, *args: str) -> tuple[int, str, str]:
    """The real CLI in a subprocess, without blocking the loop the test's server runs on."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_envmgr", *args, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    return proc.returncode or 0, out.decode(), err.decode()


async def _open_notebook(jp_fetch) -> dict:
    """A notebook session on the env's kernel, opened as JupyterLab opens one."""
    code, session = await _call(
        jp_fetch, "POST", "api", "sessions",
        body={"path": NOTEBOOK, "type": "notebook", "name": "", "kernel": {"name": KERNEL}},
    )  # fmt: skip
    assert code == 201, session
    return session


async def test_deleting_an_env_with_a_running_kernel(jp_fetch, jp_serverapp, sandbox, channels):
    prefix = create(sandbox, channels, "nb", "python", "ipykernel")
    session = await _open_notebook(jp_fetch)
    try:
        code, error = await _call(jp_fetch, "DELETE", "envmgr", "api", "environments", "nb")
        assert code == 409, error
        assert error["reason"] == "env-in-use", error
        assert KERNEL in error["message"] and NOTEBOOK in error["message"], error
        assert "force=true" in error["message"], error
        assert (prefix / "conda-meta").is_dir()
        _, tasks = await _call(jp_fetch, "GET", "envmgr", "api", "tasks")
        assert tasks["tasks"] == []

        # The CLI asks the running server (its runtime file names it) and names the kernel.
        env = {**sandbox.env, "JUPYTER_RUNTIME_DIR": jp_serverapp.runtime_dir}
        rc, out, err = await _cli(env, "env", "remove", "-n", "nb")
        assert rc == 1, (out, err)
        assert KERNEL in err and NOTEBOOK in err and "pass -y" in err, err
        assert "Traceback" not in err
        rc, out, err = await _cli(env, "env", "remove", "-n", "nb", "--json")
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        in_use = [e for e in events if e["event"] == "env-in-use"]
        assert in_use and KERNEL in in_use[0]["kernels"][0], events
        assert rc == 1 and events[-1]["reason"] == "confirmation-required", events
        assert (prefix / "conda-meta").is_dir()

        # ?force=true deletes all the same.
        code, task = await _call(
            jp_fetch, "DELETE", "envmgr", "api", "environments", "nb", params={"force": "true"}
        )
        assert code == 202, task
        task = await _finished(jp_fetch, task)
        assert task["state"] == "done", task
        assert not prefix.exists()
    finally:
        await _call(jp_fetch, "DELETE", "api", "sessions", session["id"])


async def _finished(jp_fetch, task: dict) -> dict:
    """The task, polled until it ends."""
    for _ in range(600):
        _, task = await _call(jp_fetch, "GET", "envmgr", "api", "tasks", task["id"])
        if task["state"] in ("done", "failed", "cancelled"):
            break
        await asyncio.sleep(0.05)
    return task


async def test_an_env_whose_kernels_stopped_is_deleted_without_force(
    jp_fetch, jp_serverapp, sandbox, channels
):
    prefix = create(sandbox, channels, "nb", "python", "ipykernel")
    session = await _open_notebook(jp_fetch)
    code, _ = await _call(jp_fetch, "DELETE", "api", "sessions", session["id"])
    assert code == 204
    # The CLI sees no running kernel either: it asks as before (no tty: refused, plain words).
    env = {**sandbox.env, "JUPYTER_RUNTIME_DIR": jp_serverapp.runtime_dir}
    rc, _, err = await _cli(env, "env", "remove", "-n", "nb")
    assert rc == 1 and KERNEL not in err and "pass -y" in err, err
    code, task = await _call(jp_fetch, "DELETE", "envmgr", "api", "environments", "nb")
    assert code == 202, task
    task = await _finished(jp_fetch, task)
    assert task["state"] == "done", task
    assert not prefix.exists()
