"""`usage` on hand-made trees of hard links: every kind of sharing, checked inode by inode.

No install needed: a package cache and envs are made of plain files and `os.link`, as rattler
links them, plus the cases a real install rarely makes (links inside one env only, links to a
place no walk sees, a file linked twice into one env).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from jupyter_envmgr.engine.registry import Env
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.usage import disk_usage


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def _link(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    os.link(src, dst)
    return dst


def _env(prefix: Path) -> Path:
    (prefix / "conda-meta").mkdir(parents=True)
    return prefix


def _paths(tree: Path) -> list[Path]:
    """Every path of a tree, the tree included (what a walk lstats)."""
    found = [tree]
    for dirpath, dirnames, filenames in os.walk(tree):
        found += [Path(dirpath, n) for n in dirnames + filenames]
    return found


def _share(*paths: Path) -> dict[str, int]:
    """bytes and inodes of these paths, each inode once."""
    inodes = {(st.st_dev, st.st_ino): st.st_blocks * 512 for st in map(os.lstat, paths)}
    return {"bytes": sum(inodes.values()), "inodes": len(inodes)}


def _dirs(tree: Path) -> list[Path]:
    return [p for p in _paths(tree) if p.is_dir() and not p.is_symlink()]


@pytest.fixture
def linked_root(tmp_path):
    """A root prefix with a cache and three envs that share files in every way."""
    root = tmp_path / "root"
    pkgs = root / "pkgs" / "p-1.0-0"
    f1, f2, f3 = (_file(pkgs / "lib" / f"f{i}", 3000 * i) for i in (1, 2, 3))
    solo = _file(pkgs / "info" / "solo", 5000)
    a, b, c = (_env(root / "envs" / n) for n in "abc")
    _link(f1, a / "lib" / "f1")
    _link(f2, a / "lib" / "f2")
    _link(f3, a / "f3-once")  # linked twice into a, and in the cache
    _link(f3, a / "f3-twice")
    own = _file(a / "own", 7000)
    own_twice = _file(a / "own-twice", 9000)  # two links, both in a: a's own
    _link(own_twice, a / "lib" / "own-twice")
    ab = _file(a / "ab", 11000)  # a and b only: shared with envs
    _link(ab, b / "ab")
    _link(f1, b / "lib" / "f1")
    outside = _file(tmp_path / "outside" / "x", 13000)  # nowhere we walk
    _link(outside, c / "x")
    (c / "link-to-f1").symlink_to(a / "lib" / "f1")  # a symlink is an inode of its own
    settings = load_settings({"HOME": str(tmp_path / "home"), "MAMBA_ROOT_PREFIX": str(root)})
    files = {
        "f1": f1,
        "f2": f2,
        "f3": f3,
        "solo": solo,
        "own": own,
        "own_twice": own_twice,
        "ab": ab,
        "x": c / "x",
        "link": c / "link-to-f1",
    }
    return settings, root, (a, b, c), files


def test_each_inode_is_own_or_shared_with_the_cache_envs_or_elsewhere(linked_root):
    settings, root, (a, b, c), f = linked_root
    report = disk_usage(settings).to_json()
    trees = {t["path"]: t for t in report["trees"]}
    pkgs = root / "pkgs"
    assert set(trees) == {str(a), str(b), str(c), str(pkgs)}

    expected = {
        a: {
            "own": _share(*_dirs(a), f["own"], f["own_twice"]),
            "cache": _share(f["f1"], f["f2"], f["f3"]),
            "envs": _share(f["ab"]),
            "other": _share(),
        },
        b: {
            "own": _share(*_dirs(b)),
            "cache": _share(f["f1"]),
            "envs": _share(f["ab"]),
            "other": _share(),
        },
        c: {
            "own": _share(*_dirs(c), f["link"]),
            "cache": _share(),
            "envs": _share(),
            "other": _share(f["x"]),
        },
        pkgs: {
            "own": _share(*_dirs(pkgs), f["solo"]),
            "cache": _share(),
            "envs": _share(f["f1"], f["f2"], f["f3"]),
            "other": _share(),
        },
    }
    for tree, shares in expected.items():
        t = trees[str(tree)]
        assert t["own_bytes"] == shares["own"]["bytes"], tree
        assert t["own_inodes"] == shares["own"]["inodes"], tree
        for kind in ("cache", "envs", "other"):
            assert t["shared_with"][kind] == shares[kind], (tree, kind)
        paths = _paths(tree)
        assert t["entries"] == len(paths)
        assert t["apparent_bytes"] == sum(os.lstat(p).st_size for p in paths)
        assert (t["real_bytes"], t["inodes"]) == tuple(_share(*paths).values())
        assert t["unreadable"] == 0

    every = [p for tree in expected for p in _paths(tree)]
    totals = report["totals"]
    assert (totals["real_bytes"], totals["inodes"]) == tuple(_share(*every).values())
    assert totals["entries"] == len(every)


def test_what_another_env_shares_is_elsewhere_when_that_env_is_not_walked(linked_root):
    settings, root, (a, _b, _c), f = linked_root
    report = disk_usage(settings, envs=[Env(a, "a")]).to_json()
    assert [t["path"] for t in report["trees"]] == [str(a), str(root / "pkgs")]
    ta, tp = report["trees"]
    assert ta["shared_with"]["other"] == _share(f["ab"])
    assert ta["shared_with"]["cache"] == _share(f["f1"], f["f2"], f["f3"])
    assert ta["shared_with"]["envs"] == _share()
    # b's link to f1 is not walked: the cache still shares it with a walked env, a.
    assert tp["shared_with"]["envs"] == _share(f["f1"], f["f2"], f["f3"])


def test_an_env_reached_through_a_symlink_counts_the_link_only(linked_root, tmp_path):
    settings, _root, (a, _b, _c), _f = linked_root
    alias = tmp_path / "alias"
    alias.symlink_to(a)
    report = disk_usage(settings, envs=[Env(alias, None)]).to_json()
    t = report["trees"][0]
    assert t["path"] == str(alias)
    assert (t["entries"], t["inodes"], t["own_inodes"]) == (1, 1, 1)


def test_an_env_on_another_filesystem_shares_nothing(linked_root, tmp_path):
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        pytest.skip("no second filesystem (/dev/shm)")
    if os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("/dev/shm is on the same filesystem as the test directory")
    settings, _root, _envs, _f = linked_root
    far = Path(tempfile.mkdtemp(prefix="envmgr-usage-", dir=shm))
    try:
        _env(far)
        twice = _file(far / "twice", 4000)  # inode numbers of another device never match ours
        _link(twice, far / "lib" / "twice")
        report = disk_usage(settings, envs=[Env(far, None)]).to_json()
        t = report["trees"][0]
        assert t["device"] == os.stat(far).st_dev
        assert t["own_inodes"] == t["inodes"] == len(_dirs(far)) + 1
        assert t["shared_inodes"] == 0
        assert len(report["filesystems"]) == 2
    finally:
        shutil.rmtree(far, ignore_errors=True)
