"""Hostile packages and crashes of the package manager, through the real server: each task
fails with a message that names the package, nothing outside the env is touched, the env is
unchanged, and the server still answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_envmgr.engine.worker import ABORT_AFTER_LINKS

from ..helpers import hostile_channel, installed, on, tree_snapshot


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path, dict[str, str]]:
    return hostile_channel(tmp_path_factory.mktemp("hostile-server"))


async def _alive(jp_fetch) -> None:
    response = await jp_fetch("api", "status", method="GET")
    assert response.code == 200


def _outside(sandbox) -> dict[str, tuple]:
    return tree_snapshot(sandbox.root, sandbox.home, skip=(str(sandbox.envs),))


async def test_create_from_a_file_naming_a_hostile_package_fails_the_task(
    api, jp_fetch, sandbox, hostile
):
    channel, victim, offending = hostile
    outside = _outside(sandbox)
    text = f"name: h\nchannels:\n  - {channel.as_uri()}\ndependencies:\n  - evil-dotdot\n"
    final, _ = await api.run(
        "POST", "environments",
        body={"name": "h", "file": text, "filename": "environment.yml", "override_channels": True},
        state="failed",
    )  # fmt: skip
    assert final["error"]["reason"] == "unsafe-package", final["error"]
    assert "Refused the package 'evil-dotdot'" in final["error"]["message"]
    assert offending["evil-dotdot"][:60] in final["error"]["message"]
    assert victim.read_text() == "precious\n"
    assert not (sandbox.envs / "h").exists()
    assert _outside(sandbox) == outside
    await _alive(jp_fetch)


async def test_an_absolute_path_package_fails_the_task_and_the_server_lives(
    api, jp_fetch, sandbox, channels, hostile
):
    channel, victim, _ = hostile
    sandbox.run("create", *on(channels.main_url, "keep", "alpha"))
    before, snap = installed(sandbox.envs / "keep"), tree_snapshot(sandbox.envs / "keep")
    body = {"specs": ["evil-absolute"], "channels": [channel.as_uri()], "override_channels": True}
    final, _ = await api.run("POST", "environments", "keep", "packages", body=body, state="failed")
    assert final["error"]["reason"] == "unsafe-package", final["error"]
    assert "an absolute path" in final["error"]["message"]
    assert victim.read_text() == "precious\n"
    assert installed(sandbox.envs / "keep") == before
    assert tree_snapshot(sandbox.envs / "keep") == snap
    await _alive(jp_fetch)


async def test_a_notebook_lock_naming_a_hostile_package_fails_the_sync(
    api, jp_fetch, sandbox, channels, hostile
):
    channel, victim, offending = hostile
    sandbox.run("create", *on(channels.main_url, "data", "alpha"))
    _, lock = await api.call("GET", "environments", "data", "notebook-lock")
    envmgr = lock["envmgr"]
    repodata = json.loads((channel / "noarch" / "repodata.json").read_text())
    fn, record = next(
        (fn, r) for fn, r in repodata["packages.conda"].items() if r["name"] == "evil-sibling"
    )
    entry = {
        "name": record["name"], "version": record["version"], "build": record["build"],
        "subdir": "noarch", "channel": channel.as_uri(), "url": f"{channel.as_uri()}/noarch/{fn}",
        "sha256": record["sha256"], "size": record["size"],
    }  # fmt: skip
    for entries in envmgr["platforms"].values():
        entries.append(entry)
    envmgr["channels"].append(channel.as_uri())
    outside = _outside(sandbox)
    final, _ = await api.run(
        "POST", "notebook", "sync", body={"metadata": {"envmgr": envmgr}, "name": "copy"},
        state="failed",
    )  # fmt: skip
    assert final["error"]["reason"] == "unsafe-package", final["error"]
    assert offending["evil-sibling"] in final["error"]["message"]
    assert not (sandbox.envs / "copy").exists()
    assert not list(sandbox.envs.glob("*was-here*"))
    assert _outside(sandbox) == outside
    await _alive(jp_fetch)


async def test_a_crash_while_linking_fails_the_task_restores_the_env_and_spares_the_server(
    api, jp_fetch, sandbox, channels, monkeypatch
):
    sandbox.run("create", *on(channels.main_url, "keep", "python", "alpha=1.0"))
    prefix = sandbox.envs / "keep"
    before = installed(prefix)
    # The child doing the task's rattler work aborts (SIGABRT, as a rattler panic in one of
    # its threads does) once it has linked one package.
    monkeypatch.setenv(ABORT_AFTER_LINKS, "1")
    body = {"specs": ["alpha=2.0", "delta"], "channels": [channels.main_url],
            "override_channels": True}  # fmt: skip
    final, events = await api.run(
        "POST", "environments", "keep", "packages", body=body, state="failed"
    )
    error = final["error"]
    assert error["reason"] == "engine-crashed", final
    assert "The package manager crashed while linking packages into" in error["message"]
    assert "SIGABRT" in error["message"]
    assert "The environment was restored." in error["message"], error
    assert any(e["event"] == "link" for e in events), "the child's progress reached the task"
    assert installed(prefix) == before
    assert not (prefix / "conda-meta" / "envmgr" / "journal").exists()
    await _alive(jp_fetch)
    # The server goes on: the same change, without the crash, works.
    monkeypatch.delenv(ABORT_AFTER_LINKS)
    final, _ = await api.run("POST", "environments", "keep", "packages", body=body)
    assert installed(prefix)["alpha"][0] == "2.0"


async def test_a_crash_while_creating_removes_the_half_made_env(
    api, jp_fetch, sandbox, channels, monkeypatch
):
    monkeypatch.setenv(ABORT_AFTER_LINKS, "1")
    final, _ = await api.create(channels.main_url, "half", "python", "alpha", state="failed")
    assert final["error"]["reason"] == "engine-crashed", final
    assert "The half-made environment half was removed." in final["error"]["message"], final
    assert not (sandbox.envs / "half").exists()
    _, envs = await api.call("GET", "environments")
    assert "half" not in [e["name"] for e in envs["environments"]]
    await _alive(jp_fetch)
