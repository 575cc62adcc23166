"""Lock formats over REST: `GET .../export?format=conda-lock&platform=...` (several platforms,
a platform that is not one a 400 before any solve, the allow list over the other platforms'
channels) and `POST /environments` with an uploaded conda-lock.yml or pixi.lock (`lock_env`).

The channels are served over HTTP with a log of every request, and the server runs under an
allow list naming `main/`: "no solve" and "nothing fetched" are what the channel server saw.
"""

from __future__ import annotations

import pytest
import rattler
import yaml

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.channels.synthetic import FOREIGN_SUBDIR

from ..helpers import installed, on, tree_snapshot

HERE = str(rattler.Subdir.current())


@pytest.fixture
def served(channels):
    log: list[str] = []
    with serve_channel(channels.main.parent, requests=log) as base:
        yield base, log


@pytest.fixture
def envmgr_config(served):
    base, _ = served
    return {"allowed_channels": [f"{base}/main"]}


@pytest.fixture
def src(sandbox, served):
    base, _ = served
    sandbox.run("create", *on(f"{base}/main", "src", "python", "alpha", "beta=1.0", "delta"))
    return sandbox.envs / "src"


def _query(fmt: str | None, *platforms: str) -> list[tuple[str, str]]:
    """?format=FMT&platform=A&platform=B (a repeated key needs pairs: jp_fetch urlencodes)."""
    return ([("format", fmt)] if fmt else []) + [("platform", p) for p in platforms]


async def _tasks(api) -> list:
    _, body = await api.call("GET", "tasks")
    return body["tasks"]


async def test_export_locks_the_env_for_several_platforms(api, src, tmp_path):
    from conda_lock.lockfile import parse_conda_lock_file

    params = _query("conda-lock", FOREIGN_SUBDIR, HERE)
    response, text = await api.call("GET", "environments", "src", "export", params=params)
    assert response.headers["Content-Disposition"] == 'attachment; filename="conda-lock.yml"'
    out = tmp_path / "conda-lock.yml"
    out.write_text(text)
    parsed = parse_conda_lock_file(out)
    assert parsed.metadata.platforms == sorted([HERE, FOREIGN_SUBDIR])
    assert {p.platform for p in parsed.package} == {HERE, FOREIGN_SUBDIR}
    for fmt, version in (("pixi-lock", 7), ("pixi-lock-v6", 6)):
        params = _query(fmt, FOREIGN_SUBDIR)
        response, text = await api.call("GET", "environments", "src", "export", params=params)
        assert response.headers["Content-Disposition"] == 'attachment; filename="pixi.lock"'
        doc = yaml.safe_load(text)
        assert doc["version"] == version
        assert set(doc["environments"]["default"]["packages"]) == {HERE, FOREIGN_SUBDIR}
    assert await _tasks(api) == []  # a read, not a task


@pytest.mark.parametrize(
    "params, words",
    [
        (_query("conda-lock", "osx-arm65"), "'osx-arm65' is not a platform"),
        (_query("pixi-lock", FOREIGN_SUBDIR, "noarch"), "'noarch' is not"),
        (_query("yml", FOREIGN_SUBDIR), "other platforms go into a lock file"),
        (_query(None, FOREIGN_SUBDIR), "other platforms go into a lock file"),  # yml
        (_query("explicit", FOREIGN_SUBDIR), "use one of the formats"),
        (_query("conda-lock.yml"), "Unknown export format"),
    ],
)
async def test_a_bad_format_or_platform_is_400_before_any_solve(api, src, served, params, words):
    _, log = served
    log.clear()
    _, error = await api.call("GET", "environments", "src", "export", params=params, expect=400)
    assert error["reason"] == "bad-input" and words in error["message"], error
    _, error = await api.call("GET", "environments", "nope", "export", params=params, expect=400)
    assert words in error["message"]  # the request is checked before the env is looked up
    assert log == []  # no index was read


async def test_other_platforms_are_solved_only_from_allowed_channels(api, sandbox, served):
    base, log = served
    # Made outside the server (the CLI has no policy), from the channel it does not allow.
    sandbox.run("create", *on(f"{base}/extra", "outside", "delta"))
    log.clear()
    params = _query("conda-lock", FOREIGN_SUBDIR)
    _, error = await api.call("GET", "environments", "outside", "export", params=params,
                              expect=403)  # fmt: skip
    assert error["reason"] == "forbidden" and "/extra" in error["message"], error
    assert log == []
    # Its own platform needs no solve: its records are the lock.
    _, text = await api.call("GET", "environments", "outside", "export",
                             params={"format": "conda-lock"})  # fmt: skip
    assert "delta" in text


@pytest.mark.parametrize("fmt, filename", [("conda-lock", "conda-lock.yml"),
                                           ("pixi-lock", "pixi.lock"),
                                           ("pixi-lock-v6", "uploaded.lock")])  # fmt: skip
async def test_an_uploaded_lock_creates_the_env_with_its_records(api, sandbox, src, fmt, filename):
    params = _query(fmt, FOREIGN_SUBDIR)
    _, text = await api.call("GET", "environments", "src", "export", params=params)
    body = {"name": "copy", "file": text, "filename": filename}
    if fmt != "conda-lock":
        body["lock_env"] = "default"
    final, _ = await api.run("POST", "environments", body=body)
    assert final["env"] == "copy"
    assert installed(sandbox.envs / "copy") == installed(src)


async def test_lock_env_naming_a_missing_environment_is_400_before_a_task(api, sandbox, src):
    _, text = await api.call("GET", "environments", "src", "export",
                             params={"format": "pixi-lock"})  # fmt: skip
    snap = tree_snapshot(sandbox.root)
    body = {"name": "copy", "file": text, "filename": "pixi.lock", "lock_env": "test"}
    _, error = await api.call("POST", "environments", body=body, expect=400)
    assert "has no environment 'test'; it has: default" in error["message"], error
    # lock_env means nothing without an uploaded pixi.lock.
    body = {"name": "copy", "specs": ["delta"], "lock_env": "default"}
    _, error = await api.call("POST", "environments", body=body, expect=400)
    assert "'lock_env' chooses an environment of an uploaded pixi.lock" in error["message"]
    yml = {"name": "copy", "file": "dependencies: [delta]\n", "lock_env": "default"}
    _, error = await api.call("POST", "environments", body=yml, expect=400)
    assert "is not a pixi.lock" in error["message"]
    assert await _tasks(api) == [] and tree_snapshot(sandbox.root) == snap


async def test_an_uploaded_lock_without_this_platform_names_the_ones_it_has(api, src):
    _, text = await api.call("GET", "environments", "src", "export",
                             params=_query("conda-lock", FOREIGN_SUBDIR))  # fmt: skip
    doc = yaml.safe_load(text)
    doc["package"] = [p for p in doc["package"] if p["platform"] == FOREIGN_SUBDIR]
    doc["metadata"]["platforms"] = [FOREIGN_SUBDIR]
    body = {"name": "copy", "file": yaml.safe_dump(doc), "filename": "conda-lock.yml"}
    _, error = await api.call("POST", "environments", body=body, expect=400)
    assert f"has no packages for {HERE}; it has packages for {FOREIGN_SUBDIR}" in error["message"]
    assert await _tasks(api) == []
