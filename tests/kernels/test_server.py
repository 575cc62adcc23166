"""End to end: a real jupyter_server with token auth lists env kernels and runs them activated."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_envmgr.kernels import EnvKernelSpecManager

from . import create

# Every route must be authenticated (STYLE.md): an unauthenticated one fails these tests.
pytestmark = [
    pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning"),
    pytest.mark.usefixtures("env_kernel_environ"),
]

PROBE = "import json, os, sys; print(json.dumps({'prefix': sys.prefix, 'env': dict(os.environ)}))"


@pytest.fixture
def envs(sandbox, channels) -> dict[str, Path]:
    one = create(sandbox, channels, "one", "python", "ipykernel", "activate-pkg")
    (one / "conda-meta" / "state").write_text(json.dumps({"env_vars": {"MY_VAR": "from-state"}}))
    two = create(sandbox, channels, "two", "python", "ipykernel")
    return {"one": one, "two": two}


@pytest.fixture
def jp_server_config(sandbox):
    return {
        "ServerApp": {
            # The real mechanism: our server extension switches the kernelspec manager.
            "jpserver_extensions": {
                "jupyter_envmgr.kernels": True,
                "jupyter_server_terminals": False,  # not ours, and its websocket warns
            },
            "allow_unauthenticated_access": False,
        },
        "EnvKernelSpecManager": {"root_prefix": str(sandbox.root), "refresh_interval": 0},
    }


async def _json(jp_fetch, *parts: str, **kw) -> dict:
    response = await jp_fetch(*parts, **kw)
    return json.loads(response.body) if response.body else {}


async def _probe(serverapp, kernel_id: str) -> dict:
    """Run PROBE in the kernel over its ZMQ channels; the parsed stdout."""
    client = serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    out: list[str] = []

    def on_output(msg: dict) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    try:
        await client.wait_for_ready(timeout=60)
        reply = await client.execute_interactive(PROBE, output_hook=on_output, timeout=60)
    finally:
        client.stop_channels()
    assert reply["content"]["status"] == "ok", reply["content"]
    return json.loads("".join(out))


async def test_env_kernels_are_listed_run_activated_and_switchable(
    envs, sandbox, jp_fetch, jp_serverapp, caplog
):
    assert isinstance(jp_serverapp.kernel_spec_manager, EnvKernelSpecManager)
    with pytest.raises(HTTPClientError) as denied:  # token auth is on
        await jp_fetch("api", "kernelspecs", headers={"Authorization": ""})
    assert denied.value.code == 403

    listing = await _json(jp_fetch, "api", "kernelspecs")
    specs = listing["kernelspecs"]
    assert {"conda-env-one-python3", "conda-env-two-python3"} <= set(specs)
    assert listing["default"] == "python3"  # the server's own kernel stays the default
    one = specs["conda-env-one-python3"]["spec"]
    assert one["display_name"] == "Python 3 (ipykernel) [env: one]"
    assert one["metadata"]["conda_env_path"] == str(envs["one"])
    assert "logo-64x64" in specs["conda-env-one-python3"]["resources"]

    # A notebook session on env `one`: its Python, activated like `micromamba activate`.
    body = {"path": "nb.ipynb", "type": "notebook", "kernel": {"name": "conda-env-one-python3"}}
    session = await _json(jp_fetch, "api", "sessions", method="POST", body=json.dumps(body))
    seen = await _probe(jp_serverapp, session["kernel"]["id"])
    assert seen["prefix"] == str(envs["one"])
    environ = seen["env"]
    assert environ["ENVMGR_TEST_ACTIVATED"] == "yes"  # etc/conda/activate.d/*.sh ran
    assert environ["MY_VAR"] == "from-state"  # conda-meta/state env_vars
    assert environ["CONDA_PREFIX"] == str(envs["one"])
    assert environ["CONDA_DEFAULT_ENV"] == "one"
    assert environ["PATH"].split(":")[0] == str(envs["one"] / "bin")

    # The notebook switches to env `two`: a second kernel, in the second env.
    switch = {"kernel": {"name": "conda-env-two-python3"}}
    session = await _json(
        jp_fetch, "api", "sessions", session["id"], method="PATCH", body=json.dumps(switch)
    )
    assert session["kernel"]["name"] == "conda-env-two-python3"
    seen = await _probe(jp_serverapp, session["kernel"]["id"])
    assert seen["prefix"] == str(envs["two"])
    assert seen["env"]["CONDA_DEFAULT_ENV"] == "two"
    assert "ENVMGR_TEST_ACTIVATED" not in seen["env"] and "MY_VAR" not in seen["env"]

    # Remove env `two` while its kernel runs: gone from the listing, no server restart,
    # and the listing itself keeps working.
    await asyncio.to_thread(sandbox.run, "env", "remove", "-n", "two", "-y")
    specs = (await _json(jp_fetch, "api", "kernelspecs"))["kernelspecs"]
    assert "conda-env-two-python3" not in specs
    assert "conda-env-one-python3" in specs
    kernels = await _json(jp_fetch, "api", "kernels")
    assert session["kernel"]["id"] in {k["id"] for k in kernels}

    # Restarting it cannot work any more; the server says so instead of starting the wrong one.
    with pytest.raises(HTTPClientError) as failed:
        await jp_fetch(
            "api", "kernels", session["kernel"]["id"], "restart", method="POST", body="{}"
        )
    assert failed.value.code == 500
    assert f"The environment {envs['two']} of this kernel no longer exists" in caplog.text
