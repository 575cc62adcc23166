"""`envmgr usage --by-owner`: bytes and inodes per owner (a real second user, `envmgr-alice`,
and root's site env and site cache), each inode once however many hard links it has; the user
sees her own envs and cache entries, and what `clean` would free in her own cache, never in
the site's (and `clean` as her leaves the site cache alone)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import on, tree_snapshot
from ..site_users import Site, User, make_site, remove_site


@pytest.fixture(scope="module")
def site(channels) -> Iterator[Site]:
    site = make_site(channels.main)
    try:
        site.admin(
            "create", "-p", str(site.envs / "shared"), "-c", site.channel_url,
            "--override-channels", "python", "alpha", "-y",
        )  # fmt: skip
        yield site
    finally:
        remove_site(site)


@pytest.fixture(scope="module")
def alice(site) -> User:
    alice = site.user("envmgr-alice")
    alice.run("create", *on(site.channel_url, "mine", "python", "alpha", "delta=1.0"))
    alice.run("install", *on(site.channel_url, "mine", "delta=1.1"))  # delta 1.0: unused now
    # Her own cache first (downloads go there), the site's named too: both are walked.
    alice.env["CONDA_PKGS_DIRS"] = f"{alice.pkgs},{site.pkgs}"
    return alice


def _owned(uid: int, *roots: Path) -> tuple[int, int]:
    """Bytes and inodes of the distinct inodes `uid` owns under `roots` (the test's own count)."""
    seen: dict[tuple[int, int], int] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [".", *dirnames, *filenames]:
                st = os.lstat(os.path.join(dirpath, name))
                if st.st_uid == uid:
                    seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values()), len(seen)


def test_usage_by_owner_counts_each_inode_once_per_owner(site, alice):
    report = alice.run("usage", "--by-owner", "--json").result()
    mine_env = alice.envs / "mine"
    assert report["user"] == "envmgr-alice"
    owners = report["owners"]
    assert set(owners) == {"root", "envmgr-alice"}, owners
    expected = _owned(alice.uid, mine_env, alice.pkgs)
    assert (owners["envmgr-alice"]["bytes"], owners["envmgr-alice"]["inodes"]) == expected
    expected = _owned(0, site.envs / "shared", site.pkgs)
    assert (owners["root"]["bytes"], owners["root"]["inodes"]) == expected
    # Her env's files are hard links into her cache: each tree counts them, the total once.
    trees = {t["path"]: t for t in report["trees"]}
    env_part, cache_part = trees[str(mine_env)]["mine"], trees[str(alice.pkgs)]["mine"]
    assert env_part["inodes"] + cache_part["inodes"] > owners["envmgr-alice"]["inodes"]
    assert trees[str(site.envs / "shared")]["mine"]["inodes"] == 0
    assert trees[str(site.envs / "shared")]["owners"]["root"]["inodes"] > 0
    # Her cache entries, hers only; what clean would free: in her cache, something to free.
    entries = report["cache_entries"]
    assert entries and all(e["path"].startswith(str(alice.pkgs) + os.sep) for e in entries)
    assert report["own_cache"] == str(alice.pkgs)
    assert report["clean"]["pkgs_dir"] == str(alice.pkgs) and report["clean"]["bytes"] > 0
    text = alice.run("usage", "--by-owner").stdout
    assert "envmgr-alice" in text and "root" in text and f"own cache {alice.pkgs}" in text


def test_clean_as_a_user_frees_her_own_cache_and_never_the_sites(site, alice):
    plan = alice.run("clean", "--all", "--dry-run", "--json").result()["plan"]
    assert plan["pkgs_dirs"] == [str(alice.pkgs)], plan
    assert all(str(site.pkgs) not in p for i in plan["items"] for p in i["paths"]), plan
    site_cache = tree_snapshot(site.pkgs)
    alice.run("clean", "--all", "-y")
    assert tree_snapshot(site.pkgs) == site_cache
    after = alice.run("usage", "--by-owner", "--json").result()
    assert after["clean"]["bytes"] == 0, after["clean"]
    alice.run("run", "-n", "mine", "python", "-c", "import alpha")  # her env still works
