"""Attacks a user with a valid token tried: each gets a 4xx at once, in words, and the server
keeps answering; nothing is written, fetched or run."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from ..engine.test_envfile_limits import BILLION_LAUGHS
from ..helpers import installed, on, tree_snapshot

PANIC_SPEC = 'alpha[build_number="99999999999999999999999"]'


def _largest_file(*roots) -> int:
    sizes = [0]
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            sizes += [os.lstat(os.path.join(dirpath, f)).st_size for f in files]
    return max(sizes)


async def test_a_yaml_bomb_is_refused_while_the_server_keeps_answering(api, jp_fetch, sandbox):
    snap = tree_snapshot(sandbox.root)
    slowest = 0.0
    upload_done = asyncio.Event()

    async def poll_status():
        nonlocal slowest
        while not upload_done.is_set():
            started = time.monotonic()
            response = await jp_fetch("api", "status")
            assert response.code == 200
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.02)

    async def upload():
        try:
            started = time.monotonic()
            _, error = await api.call(
                "POST", "environments", body={"name": "bomb", "file": BILLION_LAUGHS}, expect=400
            )
            return error, time.monotonic() - started
        finally:
            upload_done.set()

    (error, took), _ = await asyncio.gather(upload(), poll_status())
    assert "anchors" in error["message"] and "environment.yml" in error["message"], error
    assert "/tmp" not in error["message"]  # the user's file name, not our temp copy
    assert took < 10, took
    assert slowest < 1.0, slowest
    assert tree_snapshot(sandbox.root) == snap
    assert _largest_file(sandbox.root, sandbox.home) < 4 * 1024 * 1024


@pytest.mark.parametrize(
    "line",
    [
        "--index-url http://127.0.0.1:9/simple",
        "--extra-index-url http://127.0.0.1:9/simple",
        "--find-links /tmp",
        "-e git+https://127.0.0.1:9/x.git#egg=x",
        "git+https://127.0.0.1:9/x.git",
        "-r /etc/passwd",
        "./local-folder",
        "/etc",
        "x @ https://127.0.0.1:9/x.whl",
    ],
)
async def test_pip_lines_other_than_requirements_are_refused_before_a_task(
    api, sandbox, channels, line
):
    snap = tree_snapshot(sandbox.root)
    yml = f"channels: ['{channels.main_url}']\ndependencies: [python, pip, {{pip: ['{line}']}}]\n"
    cwd_before = set(os.listdir("."))
    _, error = await api.call(
        "POST", "environments", body={"name": "piped", "file": yml}, expect=400
    )
    assert "requirement" in error["message"], error
    assert "root:" not in error["message"]  # nothing of /etc/passwd comes back
    _, tasks = await api.call("GET", "tasks")
    assert tasks["tasks"] == []
    assert tree_snapshot(sandbox.root) == snap
    assert set(os.listdir(".")) == cwd_before  # no src/ checkout in the server's folder


async def test_a_spec_that_makes_rattler_panic_gets_an_answer(api, sandbox, channels):
    _, error = await api.call(
        "POST",
        "environments",
        body={"name": "p", "specs": [PANIC_SPEC], "channels": [channels.main_url]},
        expect=400,
    )
    assert "too large" in error["message"]
    _, error = await api.call("GET", "search", params={"q": PANIC_SPEC}, expect=400)
    assert "too large" in error["message"]
    await api.call("GET", "environments")  # still serving
    assert not (sandbox.envs / "p").exists()


@pytest.mark.parametrize(
    "channel", ["http://[::1", "http://", "file://", "http://127.0.0.1:99999/x", "ftp://x/y"]
)
async def test_malformed_channel_urls_are_bad_input(api, sandbox, channel):
    _, error = await api.call(
        "POST",
        "environments",
        body={"name": "m", "specs": ["delta"], "channels": [channel]},
        expect=400,
    )
    assert error["reason"] == "channel", error
    _, error = await api.call(
        "GET", "search", params={"q": "delta", "channel": channel}, expect=400
    )
    assert error["reason"] == "channel", error


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "\\ud800", "specs": ["delta"]}',
        '{"name": "x", "specs": ["\\udfff"]}',
        '{"name": "x", "specs": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"name": "x", "specs": ' + "[" * 40 + "]" * 40 + "}",
    ],
)
async def test_hostile_json_bodies_are_400(api, raw):
    _, error = await api.call("POST", "environments", body=raw, expect=400)
    assert error["message"]


async def test_requests_that_can_only_fail_are_refused_before_a_task(api, sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "e1", "delta=1.0"))
    (sandbox.root / "conda-meta").mkdir(exist_ok=True)  # base is an env too
    snap = tree_snapshot(sandbox.root)
    await api.call("DELETE", "environments", "base", expect=400)
    _, error = await api.call(
        "PATCH", "environments", "e1", "packages", body={"all": True, "specs": ["delta"]},
        expect=400,
    )  # fmt: skip
    assert "all" in error["message"]
    for body in ({"file": ""}, {"file": "# nothing\n"}, {"file": "dependencies: []\n"}):
        await api.call("POST", "environments", body={"name": "empty", **body}, expect=400)
    await api.call("POST", "environments", "e1", "revisions", body={"revision": 7}, expect=400)
    _, tasks = await api.call("GET", "tasks")
    assert tasks["tasks"] == []
    assert tree_snapshot(sandbox.root) == snap


async def test_names_with_a_trailing_newline_are_refused(api, sandbox, channels):
    body = {"name": "e1\n", "specs": ["delta"], "channels": [channels.main_url]}
    await api.call("POST", "environments", body=body, expect=400)
    assert not sandbox.envs.exists() or os.listdir(sandbox.envs) == []


async def test_deleting_a_symlinked_env_leaves_no_link_behind(api, sandbox, channels, tmp_path):
    elsewhere = tmp_path / "scratch" / "real-env"
    sandbox.run("create", "-p", str(elsewhere), "-c", channels.main_url, "--override-channels",
                "delta", "-y")  # fmt: skip
    sandbox.envs.mkdir(parents=True, exist_ok=True)
    (sandbox.envs / "linked").symlink_to(elsewhere)
    await api.run("DELETE", "environments", "linked")
    assert sorted(os.listdir(sandbox.envs)) == []  # neither `linked` nor `.linked.removing`
    # What the link pointed at is not ours to delete.
    assert installed(elsewhere)["delta"]


@pytest.fixture
def envmgr_config(tmp_path):
    return {"read_only_dirs": [str(tmp_path / "site-envs")]}


async def test_envs_in_read_only_dirs_are_listed_with_kernels_and_never_changed(
    api, sandbox, channels, tmp_path
):
    site = tmp_path / "site-envs"
    sandbox.run("create", "-p", str(site / "shared"), "-c", channels.main_url,
                "--override-channels", "python", "ipykernel", "-y")  # fmt: skip
    snap = tree_snapshot(site)
    _, listing = await api.call("GET", "environments")
    entry = next(e for e in listing["environments"] if e["name"] == "shared")
    assert entry["read_only"] is True
    _, kernels = await api.call("GET", "kernels")
    assert any("shared" in json.dumps(k) for k in kernels["kernels"]), kernels
    _, settings = await api.call("GET", "settings")
    assert settings["read_only_dirs"] == [str(site)]
    await api.call(
        "POST", "environments", "shared", "packages", body={"specs": ["delta"]}, expect=403
    )
    # A task on another env syncs kernelspecs: nothing may be written into the read-only one.
    await api.create(channels.main_url, "mine", "delta")
    assert tree_snapshot(site) == snap
