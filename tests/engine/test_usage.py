"""`usage`: per-env and cache figures checked against du and find on envs that share packages."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from jupyter_envmgr.engine import usage
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox


def _create(sb: Sandbox, url: str, target: tuple[str, str], *specs: str) -> None:
    sb.run("create", *target, "-c", url, "--override-channels", *specs, "-y")


def _sh(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _du(*args: str) -> int:
    """Sum of du's per-argument figures (du counts an inode once across all its arguments)."""
    return sum(int(line.split()[0]) for line in _sh("du", "-s", "-x", *args).splitlines())


def _find(path: Path, *pred: str, fmt: str = "%i\\n") -> list[str]:
    return _sh("find", str(path), "-xdev", *pred, "-printf", fmt).split()


def _trees(result: dict) -> dict[str, dict]:
    return {t["path"]: t for t in result["trees"]}


@pytest.fixture
def shared_envs(private_sandbox, channels, tmp_path):
    """Three envs over one cache: a and b share python; c is a prefix env; b has a file that
    must be copied (prefix placeholder), so it owns it alone."""
    sb = private_sandbox
    _create(sb, channels.main_url, ("-n", "a"), "python", "alpha=1.0")
    _create(sb, channels.main_url, ("-n", "b"), "python", "delta=1.0", "prefixpkg")
    _create(sb, channels.main_url, ("-p", str(tmp_path / "prefixes" / "c")), "delta=1.1")
    return sb, [sb.envs / "a", sb.envs / "b", tmp_path / "prefixes" / "c"]


def test_usage_figures_match_du_and_find(shared_envs):
    sb, envs = shared_envs
    result = sb.run("usage", "--json").result()
    trees = _trees(result)
    assert set(trees) == {str(p) for p in envs} | {str(sb.pkgs)}
    for path in [*envs, sb.pkgs]:
        t = trees[str(path)]
        assert t["kind"] == ("pkgs" if path == sb.pkgs else "env")
        assert t["real_bytes"] == _du("-B1", str(path))
        assert t["apparent_bytes"] == _du("-l", "-B1", "--apparent-size", str(path))
        assert t["inodes"] == _du("--inodes", str(path))
        # No hard links inside one tree here: own = directories and files with one link.
        own = _find(path, "(", "-type", "d", "-o", "-links", "1", ")", fmt="%b\\n")
        assert t["own_inodes"] == len(own)
        assert t["own_bytes"] == 512 * sum(map(int, own))
        shared = _find(path, "!", "-type", "d", "-links", "+1")
        assert t["shared_inodes"] == len(shared)
        assert t["own_bytes"] + t["shared_bytes"] == t["real_bytes"]
        if path != sb.pkgs:  # every shared file of an env is a hard link from the cache
            assert t["shared_with"]["cache"]["inodes"] == len(shared)
            assert t["shared_with"]["envs"]["inodes"] == t["shared_with"]["other"]["inodes"] == 0
    # The copied file (prefix placeholder) is b's own: one link only.
    for rel in ("etc/prefixpkg.conf", "bin/prefixpkg-hello"):
        assert os.lstat(envs[1] / rel).st_nlink == 1

    roots = [str(p) for p in [*envs, sb.pkgs]]
    totals = result["totals"]
    assert totals["real_bytes"] == _du("-B1", *roots)
    assert totals["inodes"] == _du("--inodes", *roots)
    assert totals["apparent_bytes"] == sum(t["apparent_bytes"] for t in trees.values())
    # Hard links pay off: far less on disk than the apparent sum.
    assert totals["real_bytes"] < totals["apparent_bytes"] / 2

    (fs,) = result["filesystems"]
    sv = os.statvfs(sb.pkgs)
    assert fs["total_bytes"] == sv.f_blocks * sv.f_frsize
    assert fs["total_inodes"] == sv.f_files
    assert abs(fs["free_inodes"] - sv.f_favail) < 100_000
    assert sorted(fs["paths"]) == sorted(roots)
    assert result["warnings"] == []


def test_shared_with_envs_once_the_cache_entry_is_gone(shared_envs):
    sb, (a, b, c) = shared_envs
    shutil.rmtree(sb.pkgs / "python-3.11.7-h_envmgr_0")  # behind our back: a and b still share
    trees = _trees(sb.run("usage", "--json").result())
    a_multi = set(_find(a, "!", "-type", "d", "-links", "+1"))
    with_b = a_multi & set(_find(b))
    with_cache = a_multi & set(_find(sb.pkgs))
    assert with_b and with_cache and not with_b & with_cache
    ta = trees[str(a)]
    assert ta["shared_with"]["envs"]["inodes"] == len(with_b)
    assert ta["shared_with"]["cache"]["inodes"] == len(with_cache)
    assert ta["shared_with"]["other"]["inodes"] == 0

    # Limited to one env, b is not walked: what a shares with it is "other" (outside the walk).
    limited = sb.run("usage", "-n", "a", "--json").result()
    assert [t["path"] for t in limited["trees"]] == [str(a), str(sb.pkgs)]
    tl = limited["trees"][0]
    assert tl["shared_with"]["other"]["inodes"] == len(with_b)
    assert tl["shared_with"]["cache"] == ta["shared_with"]["cache"]
    assert (tl["real_bytes"], tl["inodes"]) == (ta["real_bytes"], ta["inodes"])


def test_one_scandir_per_directory(shared_envs, monkeypatch):
    sb, envs = shared_envs
    settings = load_settings(sb.env)
    calls: list[str] = []
    real_scandir = os.scandir

    def counting(path):
        calls.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    report = usage.disk_usage(settings)
    monkeypatch.undo()
    dirs = sum(len(_find(p, "-type", "d")) for p in [*envs, sb.pkgs])
    assert len(calls) == len(set(calls)) == dirs
    assert len(report.trees) == 4


def test_root_prefix_env_does_not_count_its_envs_and_pkgs(private_sandbox, channels):
    sb = private_sandbox
    _create(sb, channels.main_url, ("-p", str(sb.root)), "delta=1.0")  # base env at the root
    _create(sb, channels.main_url, ("-n", "x"), "delta=1.1")
    trees = _trees(sb.run("usage", "--json").result())
    base = trees[str(sb.root)]
    assert base["name"] == "base"
    excluded = [
        "--exclude",
        str(sb.envs),
        "--exclude",
        str(sb.pkgs),
    ]
    assert base["inodes"] == _du("--inodes", *excluded, str(sb.root))
    assert base["real_bytes"] == _du("-B1", *excluded, str(sb.root))


@pytest.fixture
def other_fs_dir(tmp_path):
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        pytest.skip("no second filesystem (/dev/shm) to put an envs dir on")
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("/dev/shm is on the same filesystem as the test directory")
    path = Path(tempfile.mkdtemp(prefix="envmgr-envs-", dir=shm))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_cross_filesystem_envs_dir_warns_and_copies(private_sandbox, channels, other_fs_dir):
    sb = dataclasses.replace(
        private_sandbox, env={**private_sandbox.env, "CONDA_ENVS_PATH": str(other_fs_dir)}
    )
    _create(sb, channels.main_url, ("-n", "far"), "delta=1.0")
    result = sb.run("usage", "--json").result()
    (warning,) = result["warnings"]
    assert str(other_fs_dir) in warning and "different filesystems" in warning
    far = _trees(result)[str(other_fs_dir / "far")]
    assert far["shared_inodes"] == 0 and far["own_inodes"] == far["inodes"]  # all copies
    devices = {fs["device"] for fs in result["filesystems"]}
    assert devices == {os.stat(other_fs_dir).st_dev, os.stat(sb.pkgs).st_dev}
    for fs in result["filesystems"]:
        sv = os.statvfs(fs["paths"][0])
        assert (fs["total_bytes"], fs["total_inodes"]) == (sv.f_blocks * sv.f_frsize, sv.f_files)

    text = sb.run("usage")
    assert "different filesystems" in text.stderr
    assert "far" in text.stdout and "Total (each inode once)" in text.stdout
    assert "inodes free" in text.stdout
