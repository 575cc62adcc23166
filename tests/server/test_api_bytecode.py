"""With the background compile on (server/tasks.py, off by default), a create through the server
leaves the env with the bytecode a kernel needs, written by the env's Python; a delete right
after stops it first."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess

import pytest

from jupyter_envmgr.server.tasks import Bytecode


@pytest.fixture(autouse=True)
def bytecode_on(monkeypatch):
    monkeypatch.setattr(Bytecode, "enabled", True)


def _compiled(prefix, relative: str) -> bool:
    sources = list((prefix / "lib").glob(f"python3*/site-packages/{relative}"))
    assert sources, relative
    return all(os.path.exists(importlib.util.cache_from_source(str(s))) for s in sources)


async def test_a_created_env_gets_its_kernel_bytecode_after_the_task(api, sandbox, channels):
    await api.create(channels.main_url, "web", "python", "ipykernel")
    prefix = sandbox.envs / "web"
    for _ in range(1200):  # the background compile: the kernel's modules come first
        if _compiled(prefix, "ipykernel/kernelapp.py") and _compiled(prefix, "traitlets/*.py"):
            break
        await asyncio.sleep(0.1)
    assert _compiled(prefix, "ipykernel/kernelapp.py")
    assert _compiled(prefix, "traitlets/*.py")
    ok = subprocess.run([str(prefix / "bin" / "python"), "-c", "import ipykernel.kernelapp"])
    assert ok.returncode == 0


async def test_a_delete_right_after_a_create_stops_the_compile_and_removes_the_env(
    api, sandbox, channels
):
    await api.create(channels.main_url, "gone", "python", "ipykernel")
    await api.run("DELETE", "environments", "gone")
    assert not (sandbox.envs / "gone").exists()
