"""The channel allow list holds for every URL a request can make the server fetch.

The channels are served over HTTP on 127.0.0.1 from one folder, `main/` (allowed) beside
`extra/` (not allowed), with a log of every request: each attack must be refused with a 403 that
names the channel, before any task exists, and without a single request to `extra/`.
"""

from __future__ import annotations

import pytest

from jupyter_envmgr.channels import serve_channel

from ..helpers import installed, on, tree_snapshot

EXTRA_PKG = "noarch/delta-5.0-h_envmgr_0.conda"


@pytest.fixture
def served(channels):
    log: list[str] = []
    with serve_channel(channels.main.parent, requests=log) as base:
        yield base, log


@pytest.fixture
def envmgr_config(served):
    base, _ = served
    return {"allowed_channels": [f"{base}/main"]}


def _creates(base: str) -> list[dict]:
    main, extra = f"{base}/main", f"{base}/extra"
    dotted = [
        f"{main}/../extra",
        f"{main}/./../extra",
        f"{main}/%2e%2e/extra",
        f"{main}/%2E%2E/extra/",
        f"{main}/x/../../extra",
        f"{main}\\..\\extra",
        f"{base.replace('http://', 'HTTP://')}/main/../extra",
    ]
    bodies = [{"channels": [c], "specs": ["delta=5.0"]} for c in dotted]
    bodies += [
        {"channels": [main], "specs": [f"{main}/../extra::delta=5.0"]},
        {"channels": [main], "specs": [f"delta[channel={main}/../extra]"]},
        {"channels": [main], "specs": [f"delta[url={extra}/{EXTRA_PKG}]"]},
        {"channels": [main], "specs": [f"{extra}/{EXTRA_PKG}"]},
        {"channels": [main], "specs": [f"delta[url={main}/../extra/{EXTRA_PKG}]"]},
        {"file": f"channels: ['{main}/../extra']\ndependencies: [delta=5.0]\n"},
        {"file": f"@EXPLICIT\n{extra}/{EXTRA_PKG}\n", "filename": "explicit.txt"},
        {"file": f"@EXPLICIT\n{main}/../extra/{EXTRA_PKG}\n", "filename": "explicit.txt"},
    ]
    return [{"name": "attack", "override_channels": True, **b} for b in bodies]


async def _assert_refused(api, sandbox, log, method, *path, body=None, params=None):
    snap = tree_snapshot(sandbox.root)
    _, error = await api.call(method, *path, body=body, params=params, expect=403)
    assert error["reason"] == "forbidden"
    assert "/extra" in error["message"], error
    _, tasks = await api.call("GET", "tasks")
    assert tasks["tasks"] == [], "a task was started"
    assert not [p for p in log if p.startswith("/extra")], log
    assert tree_snapshot(sandbox.root) == snap


async def test_no_spelling_of_a_channel_gets_past_the_allow_list(api, sandbox, served):
    base, log = served
    for body in _creates(base):
        await _assert_refused(api, sandbox, log, "POST", "environments", body=body)
    for channel in (f"{base}/main/../extra", f"{base}/main/%2e%2e/extra"):
        await _assert_refused(
            api, sandbox, log, "GET", "search", params={"q": "delta", "channel": channel}
        )
    assert not (sandbox.envs / "attack").exists()


async def test_the_allowed_channel_still_works_by_any_spelling(api, sandbox, served):
    base, log = served
    await api.create(f"{base}/main/x/../", "ok", "delta=1.0")
    assert installed(sandbox.envs / "ok")["delta"][0] == "1.0"
    assert not [p for p in log if p.startswith("/extra")]


async def test_a_channel_outside_the_list_is_forbidden_even_if_it_does_not_exist(api, sandbox):
    # 400 "the folder does not exist" would let a user probe the server's filesystem.
    for channel in ("file:///etc", "file:///nonexistent/channel", "/root", "../../etc"):
        _, error = await api.call(
            "POST",
            "environments",
            body={"name": "p", "specs": ["delta"], "channels": [channel]},
            expect=403,
        )
        assert "does not exist" not in error["message"]


async def test_lock_files_clones_and_rollbacks_cannot_reach_a_forbidden_channel(
    api, sandbox, served
):
    base, log = served
    # Made outside the server (the CLI has no policy): delta 5.0 from extra, then 1.0 from main.
    sandbox.run("create", *on(f"{base}/extra", "outside", "delta=5.0"))
    lock = sandbox.run("env", "export", "-n", "outside", "--lock").stdout
    sandbox.run("install", *on(f"{base}/main", "outside", "delta=1.0"))
    sandbox.run("install", *on(f"{base}/main", "outside", "delta=1.1"))
    log.clear()
    body = {"name": "fromlock", "file": lock, "filename": "env.lock"}
    await _assert_refused(api, sandbox, log, "POST", "environments", body=body)
    # A clone copies records: the one from extra must not be installed here either.
    sandbox.run("create", *on(f"{base}/extra", "mixed", "delta=5.0"))
    log.clear()
    await _assert_refused(
        api, sandbox, log, "POST", "environments", "mixed", "clone", body={"name": "copy"}
    )
    # Revision 0 of `outside` had delta 5.0 from extra: rolling back would re-link it.
    await _assert_refused(
        api, sandbox, log, "POST", "environments", "outside", "revisions", body={"revision": 0}
    )
    assert installed(sandbox.envs / "outside")["delta"][0] == "1.1"
    # Revision 1 came from main only: allowed.
    await api.run("POST", "environments", "outside", "revisions", body={"revision": 1})
    assert installed(sandbox.envs / "outside")["delta"][0] == "1.0"


async def test_pip_sections_are_refused_under_an_allow_list(api, sandbox, served):
    base, _ = served
    yml = f"channels: ['{base}/main']\ndependencies: [python, pip, {{pip: [requests]}}]\n"
    _, error = await api.call(
        "POST",
        "environments",
        body={"name": "pipenv", "file": yml, "override_channels": True},
        expect=403,
    )
    assert "pip_index_urls" in error["message"]
    assert not (sandbox.envs / "pipenv").exists()
