"""`clean` on a package cache it cannot write: a read-only mount (EROFS on the cache's lock file)
or a cache owned by another user (EACCES). One clear error (CLI) or a 403 with its reason
(REST), never a traceback, and nothing changed; a dry run still shows the plan.

The read-only mount is real (a read-only bind mount, which needs root), and so is the other
user (the CLI run as `nobody`). Where that cannot be set up the tests skip, except under
CI=true, where they fail: CI runs as root and must exercise them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import CliResult, Sandbox, envmgr_server_config, on, tree_snapshot
from ..server.conftest import Api

NOBODY = 65534


def _cannot(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot set up a read-only package cache under CI: {why}")
    pytest.skip(why)


def _filled_cache(sandbox: Sandbox, channels, pkgs: Path) -> Sandbox:
    """`pkgs` holding extracted packages, tarballs and locks that no env uses any more."""
    user = Sandbox(sandbox.home, sandbox.root, pkgs, {**sandbox.env, "CONDA_PKGS_DIRS": str(pkgs)})
    user.run("create", *on(channels.main_url, "gone", "delta=1.0", "alpha"))
    user.run("env", "remove", "-n", "gone", "-y")
    assert any(p.is_dir() and (p / "info").is_dir() for p in pkgs.iterdir())
    return user


@pytest.fixture
def read_only_cache(sandbox, channels, tmp_path) -> Iterator[Sandbox]:
    """A sandbox whose package cache is full of unused packages and mounted read-only."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        _cannot("a read-only bind mount needs root and mount(8)")
    user = _filled_cache(sandbox, channels, tmp_path / "ro-pkgs")
    cache = str(user.pkgs)
    bind = subprocess.run(["mount", "--bind", cache, cache], capture_output=True, text=True)
    if bind.returncode != 0:
        _cannot(f"mount --bind failed: {bind.stderr.strip()}")
    try:
        ro = subprocess.run(
            ["mount", "-o", "remount,bind,ro", cache], capture_output=True, text=True
        )
        if ro.returncode != 0:
            _cannot(f"remounting read-only failed: {ro.stderr.strip()}")
        with pytest.raises(OSError):
            (user.pkgs / "probe").touch()  # really read-only, even for root
        yield user
    finally:
        subprocess.run(["umount", cache], check=True)


def _assert_one_error(res, *words: str) -> None:
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr, res
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res
    for word in words:
        assert word in errors[0], res


def test_clean_all_on_a_read_only_mount_is_one_error_and_changes_nothing(read_only_cache):
    user = read_only_cache
    before = tree_snapshot(user.pkgs)
    res = user.run("clean", "--all", "-y", check=False)
    _assert_one_error(res, str(user.pkgs), "read-only file system", "nothing was changed")
    res = user.run("clean", "--packages", "-y", "--json", check=False)
    assert res.returncode == 1 and "Traceback" not in res.stderr, res
    error = res.result()
    assert error["event"] == "error" and error["reason"] == "forbidden", error
    assert tree_snapshot(user.pkgs) == before


def test_dry_run_on_a_read_only_mount_shows_the_plan(read_only_cache):
    user = read_only_cache
    res = user.run("clean", "--all", "--dry-run", "--json")
    result = res.result()
    assert result["plan"]["items"] and result["applied"] is False, result
    assert "Traceback" not in res.stderr


@pytest.fixture
def api(jp_fetch) -> Api:
    return Api(jp_fetch)


@pytest.fixture
def jp_server_config(read_only_cache, monkeypatch):
    user = read_only_cache
    return envmgr_server_config(user, monkeypatch, pkgs_dirs=[str(user.pkgs)])


async def test_rest_clean_of_a_read_only_mount_fails_with_its_reason(api, read_only_cache):
    user = read_only_cache
    before = tree_snapshot(user.pkgs)
    _, plan = await api.call("GET", "clean", params={"category": "all"})
    assert plan["items"], plan  # the plan is still shown
    final, _ = await api.run("POST", "clean", body={"categories": ["all"]}, state="failed")
    error = final["error"]
    assert error["status"] == 403 and error["reason"] == "forbidden", error
    assert "read-only file system" in error["message"], error
    assert tree_snapshot(user.pkgs) == before


@pytest.fixture
def others_cache(sandbox, channels) -> Iterator[tuple[Sandbox, Path]]:
    """A package cache owned by root, cleaned by `nobody`: the cache's lock file cannot be
    opened (EACCES) and no entry can be removed. (pytest's tmp_path is private to root.)"""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        _cannot("running the CLI as another user needs root and setpriv(1)")
    base = Path(tempfile.mkdtemp(prefix="envmgr-eacces-"))
    try:
        base.chmod(0o755)
        user = _filled_cache(sandbox, channels, base / "pkgs")
        (user.pkgs / ".cache.lock").touch()
        (user.pkgs / ".cache.lock").chmod(0o600)  # EACCES for nobody, read or write
        home = base / "home"
        home.mkdir()
        os.chown(home, NOBODY, NOBODY)
        env = {**user.env, "HOME": str(home), "MAMBA_ROOT_PREFIX": str(home / "root")}
        yield Sandbox(home, home / "root", user.pkgs, env), base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_clean_all_of_another_users_cache_is_one_error_and_changes_nothing(others_cache):
    user, _ = others_cache
    before = tree_snapshot(user.pkgs)
    as_nobody = ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
    cmd = [*as_nobody, sys.executable, "-m", "jupyter_envmgr", "clean", "--all", "-y"]
    proc = subprocess.run(
        cmd, env=user.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    res = CliResult(proc.returncode, proc.stdout, proc.stderr)
    _assert_one_error(res, str(user.pkgs), "not writable by you", "nothing was changed")
    assert tree_snapshot(user.pkgs) == before
