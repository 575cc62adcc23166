"""Disk use per owner (unix user) in the shared folders, counted as quotas count it.

On a cluster the envs dirs and package caches the settings name are shared: site envs and a
site cache an admin owns, and each user's own envs and cache. Quotas are per owner, in bytes and
inodes, so this report is too: one lstat walk over every env and every package cache, each inode
counted once (a file hard-linked from a cache into several envs is one inode) and given to the
owner lstat names (`st_uid`). For the user who asks it also lists which of their envs and cache
entries hold what, and what `clean --all` would free in their own cache (the first package
cache they can write; never a site cache they cannot).

Trees nest (the root prefix holds envs/ and pkgs/): each walk skips the other trees, as
`usage.disk_usage` does, so every path is walked once.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .registry import Env, can_write_below, list_envs, user_name
from .settings import Settings
from .usage import InodeKey, Share

# Cache entries of the asking user listed, biggest first.
TOP_ENTRIES = 20


@dataclass
class _Tree:
    kind: str  # "env" or "pkgs"
    path: Path
    name: str | None
    owners: dict[int, Share] = field(default_factory=dict)  # each inode once in this tree
    unreadable: int = 0


@dataclass
class _Entry:
    """One top-level entry of a package cache (an extracted package, a tarball, a folder)."""

    path: Path
    owner: int
    share: Share = field(default_factory=Share)


@dataclass
class OwnerReport:
    user: str  # who asked
    owners: dict[str, Share]  # every walked inode once, per owner
    trees: list[dict[str, Any]]
    entries: list[dict[str, Any]]  # the user's biggest cache entries
    more_entries: int
    own_cache: Path | None  # the package cache `clean` acts on for this user
    clean: dict[str, Any] | None  # what `clean --all` would free there (bytes, inodes)

    def to_json(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "owners": {name: share.to_json() for name, share in sorted(self.owners.items())},
            "trees": self.trees,
            "cache_entries": self.entries,
            "more_cache_entries": self.more_entries,
            "own_cache": str(self.own_cache) if self.own_cache else None,
            "clean": self.clean,
        }


def _key(path: Path) -> InodeKey | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _walk(
    tree: _Tree,
    skip: set[InodeKey],
    seen: dict[InodeKey, tuple[int, int]],
    entries: list[_Entry] | None,
) -> None:
    """One lstat per path under the tree; `seen` maps every inode met so far to (uid, bytes).
    For a package cache (`entries` given) each top-level entry is also summed on its own."""
    here: set[InodeKey] = set()
    counted: dict[int, set[InodeKey]] = {}

    def count(st: os.stat_result, entry: _Entry | None) -> None:
        key = (st.st_dev, st.st_ino)
        seen.setdefault(key, (st.st_uid, st.st_blocks * 512))
        if key not in here:
            here.add(key)
            tree.owners.setdefault(st.st_uid, Share()).add(st.st_blocks * 512)
        if entry is not None:
            mine = counted.setdefault(id(entry), set())
            if key not in mine:
                mine.add(key)
                entry.share.add(st.st_blocks * 512)

    try:
        st = os.lstat(tree.path)
    except OSError:
        return
    device = st.st_dev
    count(st, None)
    if not stat.S_ISDIR(st.st_mode):
        return
    stack: list[tuple[str, _Entry | None]] = [(os.fspath(tree.path), None)]
    while stack:
        path, entry = stack.pop()
        try:
            it = os.scandir(path)
        except OSError:
            tree.unreadable += 1
            continue
        with it:
            for item in it:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    tree.unreadable += 1
                    continue
                is_dir = stat.S_ISDIR(st.st_mode)
                if is_dir and (st.st_dev != device or (st.st_dev, st.st_ino) in skip):
                    continue
                below = entry
                if below is None and entries is not None:
                    below = _Entry(Path(item.path), st.st_uid)
                    entries.append(below)
                count(st, below)
                if is_dir:
                    stack.append((item.path, below))


def usage_by_owner(
    settings: Settings,
    *,
    envs: Sequence[Env] | None = None,
    clean_plan: bool = True,
) -> OwnerReport:
    """Bytes and inodes per owner in every env and package cache the settings name; the
    asking user's envs and cache entries; what `clean --all` would free in their own cache."""
    envs = list_envs(settings) if envs is None else list(envs)
    pkgs_dirs = [p for p in settings.pkgs_dirs if p.is_dir()]
    trees = [_Tree("pkgs", p, None) for p in pkgs_dirs]
    trees += [_Tree("env", e.prefix, e.name) for e in envs]
    roots = [t.path for t in trees] + list(settings.envs_dirs) + list(settings.pkgs_dirs)
    root_keys = {k for k in map(_key, roots) if k is not None}

    seen: dict[InodeKey, tuple[int, int]] = {}
    entries: list[_Entry] = []
    for tree in trees:
        own_key = _key(tree.path)
        _walk(tree, root_keys - {own_key}, seen, entries if tree.kind == "pkgs" else None)

    owners: dict[int, Share] = {}
    for uid, nbytes in seen.values():
        owners.setdefault(uid, Share()).add(nbytes)
    me = os.geteuid()
    mine = sorted((e for e in entries if e.owner == me), key=lambda e: -e.share.bytes)
    own_cache = next((p for p in settings.pkgs_dirs if _owned_and_writable(p, me)), None)
    return OwnerReport(
        user=user_name(me),
        owners={user_name(uid): share for uid, share in owners.items()},
        trees=[_tree_json(t, me) for t in trees],
        entries=[{"path": str(e.path), **e.share.to_json()} for e in mine[:TOP_ENTRIES]],
        more_entries=max(0, len(mine) - TOP_ENTRIES),
        own_cache=own_cache,
        clean=_clean_figures(settings, own_cache) if clean_plan and own_cache else None,
    )


def _tree_json(tree: _Tree, me: int) -> dict[str, Any]:
    return {
        "kind": tree.kind,
        "path": str(tree.path),
        "name": tree.name,
        "owners": {user_name(u): s.to_json() for u, s in sorted(tree.owners.items())},
        "mine": tree.owners.get(me, Share()).to_json(),
        "unreadable": tree.unreadable,
    }


def _owned_and_writable(path: Path, uid: int) -> bool:
    """A package cache that is this user's: one they can write, and own when it exists."""
    if not can_write_below(path):
        return False
    try:
        return os.lstat(path).st_uid == uid
    except OSError:
        return True  # not made yet: it will be theirs


def _clean_figures(settings: Settings, own_cache: Path) -> dict[str, Any] | None:
    """What `clean --all` would free in `own_cache` (a plan, nothing removed)."""
    from .cache import CATEGORIES, plan_clean

    if not own_cache.is_dir():
        return {"pkgs_dir": str(own_cache), "bytes": 0, "inodes": 0, "items": 0}
    plan = plan_clean(settings, CATEGORIES, pkgs_dirs=[own_cache])
    return {
        "pkgs_dir": str(own_cache),
        "bytes": plan.bytes,
        "inodes": plan.inodes,
        "items": len(plan.items),
    }
