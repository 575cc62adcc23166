"""Disk usage of environments and package caches, counted the way quotas count it.

One `lstat` walk per tree (an env prefix or a pkgs dir). Real bytes (allocated blocks) and inodes
are counted once per inode, so files hard-linked from the package cache into several envs are not
counted several times; each inode is classified as the tree's own (every link is inside it: deleting
the tree frees it) or shared with the cache, with other envs, or with places we did not walk.
Filesystems are reported with `statvfs` free space and free inodes (HPC quotas count files too).

Cost model. A walk is one `scandir` per directory and one `lstat` per path, and the walk of
`disk_usage` does little else per path (bench/usage_walk.py holds it to 1.5x a bare lstat walk):
directories and files with one link are the tree's own and only summed, hard-linked files are
kept as bare inode numbers (one per path), and what they share is worked out afterwards with set
operations over all trees. `scan_tree` (used by `clean`) keeps a map of every inode instead.
"""

from __future__ import annotations

import os
import stat
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache_layers import read_link_report
from .progress import Event, EventSink, ignore_events
from .registry import Env, list_envs
from .settings import Settings

InodeKey = tuple[int, int]  # (st_dev, st_ino)


@dataclass
class Scan:
    """What one lstat walk saw. `inodes` maps each inode to [links seen here, st_nlink, bytes]."""

    root: Path
    device: int | None = None
    entries: int = 0
    apparent_bytes: int = 0
    newest_mtime: float = 0.0
    unreadable: int = 0
    inodes: dict[InodeKey, list[int]] = field(default_factory=dict)

    @property
    def real_bytes(self) -> int:
        return sum(info[2] for info in self.inodes.values())

    def add(self, st: os.stat_result) -> None:
        self.entries += 1
        self.apparent_bytes += st.st_size
        self.newest_mtime = max(self.newest_mtime, st.st_mtime)
        key = (st.st_dev, st.st_ino)
        info = self.inodes.get(key)
        if info is None:
            # Directories cannot be hard-linked: their st_nlink counts subdirectories, not links.
            nlink = 1 if stat.S_ISDIR(st.st_mode) else st.st_nlink
            self.inodes[key] = [1, nlink, st.st_blocks * 512]
        else:
            info[0] += 1


def scan_tree(root: Path, skip: Iterable[InodeKey] = ()) -> Scan:
    """One lstat per path under `root` (symlinks not followed, mount points not crossed).

    Directories whose (dev, ino) is in `skip` are left out with everything below them: the root
    prefix holds `envs/` and `pkgs/`, which are trees of their own.
    """
    skip = set(skip)
    scan = Scan(root)
    try:
        st = os.lstat(root)
    except OSError:
        return scan
    scan.device = st.st_dev
    scan.add(st)
    if not stat.S_ISDIR(st.st_mode):
        return scan
    stack = [os.fspath(root)]
    while stack:
        _scan_dir(stack.pop(), scan, skip, stack)
    return scan


def _scan_dir(path: str, scan: Scan, skip: set[InodeKey], stack: list[str]) -> None:
    # The hot loop of `scan_tree`: Scan.add inlined, counters in locals (about 2x faster).
    try:
        it = os.scandir(path)
    except OSError:
        scan.unreadable += 1
        return
    inodes, device, is_dir_mode = scan.inodes, scan.device, stat.S_ISDIR
    entries = apparent = 0
    newest = scan.newest_mtime
    with it:
        for entry in it:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                scan.unreadable += 1
                continue
            key = (st.st_dev, st.st_ino)
            is_dir = is_dir_mode(st.st_mode)
            if is_dir:
                if key in skip or st.st_dev != device:
                    continue
                stack.append(entry.path)
            entries += 1
            apparent += st.st_size
            if st.st_mtime > newest:
                newest = st.st_mtime
            info = inodes.get(key)
            if info is None:
                # Directories cannot be hard-linked: their st_nlink counts subdirectories.
                inodes[key] = [1, 1 if is_dir else st.st_nlink, st.st_blocks * 512]
            else:
                info[0] += 1
    scan.entries += entries
    scan.apparent_bytes += apparent
    scan.newest_mtime = newest


# ---------------------------------------------------------------------------------------------
# Reports


@dataclass
class Share:
    bytes: int = 0
    inodes: int = 0

    def add(self, nbytes: int) -> None:
        self.bytes += nbytes
        self.inodes += 1

    def to_json(self) -> dict[str, int]:
        return {"bytes": self.bytes, "inodes": self.inodes}


@dataclass
class TreeUsage:
    kind: str  # "env" or "pkgs"
    path: Path
    name: str | None
    device: int | None
    entries: int
    apparent_bytes: int
    real_bytes: int
    inodes: int
    own: Share
    shared_cache: Share  # also linked from a package cache we walked
    shared_envs: Share  # not in a cache, but linked from another env we walked
    shared_other: Share  # linked from places we did not walk
    unreadable: int = 0

    def to_json(self) -> dict[str, Any]:
        shared = Share(
            self.shared_cache.bytes + self.shared_envs.bytes + self.shared_other.bytes,
            self.shared_cache.inodes + self.shared_envs.inodes + self.shared_other.inodes,
        )
        return {
            "kind": self.kind,
            "path": str(self.path),
            "name": self.name,
            "device": self.device,
            "entries": self.entries,
            "apparent_bytes": self.apparent_bytes,
            "real_bytes": self.real_bytes,
            "inodes": self.inodes,
            "own_bytes": self.own.bytes,
            "own_inodes": self.own.inodes,
            "shared_bytes": shared.bytes,
            "shared_inodes": shared.inodes,
            "shared_with": {
                "cache": self.shared_cache.to_json(),
                "envs": self.shared_envs.to_json(),
                "other": self.shared_other.to_json(),
            },
            "unreadable": self.unreadable,
            # An env's files from a read-only (site) package cache: linked or copied.
            "links": read_link_report(self.path) if self.kind == "env" else None,
        }


@dataclass
class FilesystemUsage:
    device: int
    paths: list[str]
    total_bytes: int
    free_bytes: int  # available to unprivileged users (f_bavail)
    total_inodes: int
    free_inodes: int  # f_favail

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "paths": self.paths,
            "total_bytes": self.total_bytes,
            "free_bytes": self.free_bytes,
            "total_inodes": self.total_inodes,
            "free_inodes": self.free_inodes,
        }


@dataclass
class UsageReport:
    trees: list[TreeUsage]
    totals: dict[str, int]
    filesystems: list[FilesystemUsage]
    warnings: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "trees": [t.to_json() for t in self.trees],
            "totals": dict(self.totals),
            "filesystems": [f.to_json() for f in self.filesystems],
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class _Target:
    kind: str
    path: Path
    name: str | None


def _targets(envs: Sequence[Env], pkgs_dirs: Sequence[Path]) -> list[_Target]:
    targets = [_Target("env", e.prefix, e.name or None) for e in envs]
    targets += [_Target("pkgs", p, None) for p in pkgs_dirs if p.is_dir()]
    return targets


def _key_of(path: Path) -> InodeKey | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


@dataclass
class _Linked:
    """Every hard-linked inode any walk saw, per device: its st_blocks and st_nlink."""

    blocks: dict[int, dict[int, int]] = field(default_factory=dict)
    nlinks: dict[int, dict[int, int]] = field(default_factory=dict)

    def add(self, st: os.stat_result) -> None:
        blocks = self.blocks.setdefault(st.st_dev, {})
        if st.st_ino not in blocks:
            blocks[st.st_ino] = st.st_blocks
            self.nlinks.setdefault(st.st_dev, {})[st.st_ino] = st.st_nlink


@dataclass
class _Walk:
    """What the walk of one tree saw. Directories (which cannot be hard-linked: their st_nlink
    counts subdirectories) and files with one link are the tree's own and only counted;
    hard-linked files are kept as inode numbers, one per path, per device."""

    device: int | None = None
    apparent_bytes: int = 0
    unreadable: int = 0
    single_inodes: int = 0
    single_blocks: int = 0
    linked: dict[int, list[int]] = field(default_factory=dict)

    @property
    def entries(self) -> int:
        return self.single_inodes + sum(map(len, self.linked.values()))

    def add(self, st: os.stat_result, linked: _Linked) -> None:
        """One path, the slow way (the root, and files on another device than the root)."""
        self.apparent_bytes += st.st_size
        if st.st_nlink == 1 or stat.S_ISDIR(st.st_mode):
            self.single_inodes += 1
            self.single_blocks += st.st_blocks
        else:
            self.linked.setdefault(st.st_dev, []).append(st.st_ino)
            linked.add(st)


def _walk(root: Path, skip: set[InodeKey], linked: _Linked) -> _Walk:
    """`scan_tree`'s walk (same paths, same skips), keeping only what `disk_usage` reports."""
    walk = _Walk()
    try:
        st = os.lstat(root)
    except OSError:
        return walk
    device = walk.device = st.st_dev
    walk.add(st, linked)
    if not stat.S_ISDIR(st.st_mode):
        return walk
    # The hot loop: one lstat per path and as few Python operations as possible around it
    # (the common case, a file hard-linked from the cache, is one append and one dict lookup).
    blocks = linked.blocks.setdefault(device, {})
    nlinks = linked.nlinks.setdefault(device, {})
    note = walk.linked.setdefault(device, []).append
    is_dir = stat.S_ISDIR
    apparent = singles = single_blocks = unreadable = 0
    stack = [os.fspath(root)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except OSError:
            unreadable += 1
            continue
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    unreadable += 1
                    continue
                if is_dir(st.st_mode):
                    if st.st_dev != device or (st.st_dev, st.st_ino) in skip:
                        continue
                    stack.append(entry.path)
                    singles += 1
                    single_blocks += st.st_blocks
                elif st.st_nlink == 1:
                    singles += 1
                    single_blocks += st.st_blocks
                elif st.st_dev == device:
                    ino = st.st_ino
                    note(ino)
                    if ino not in blocks:
                        blocks[ino] = st.st_blocks
                        nlinks[ino] = st.st_nlink
                else:  # on another device than its directory (a mount, an overlayfs layer)
                    walk.add(st, linked)
                    continue
                apparent += st.st_size
    walk.apparent_bytes += apparent
    walk.single_inodes += singles
    walk.single_blocks += single_blocks
    walk.unreadable = unreadable
    return walk


def _once_and_twice(sets: Iterable[set[int]]) -> tuple[set[int], set[int]]:
    """The members of at least one of `sets`, and of at least two."""
    once: set[int] = set()
    twice: set[int] = set()
    for members in sets:
        twice |= once & members
        once |= members
    return once, twice


_SHARES = ("own", "shared_cache", "shared_envs", "shared_other")


def _breakdown(
    kinds: Sequence[str], walks: Sequence[_Walk], linked: _Linked
) -> list[dict[str, Share]]:
    """Per tree: its own inodes and those it shares with the cache, other envs or elsewhere.

    A hard-linked inode is the tree's own when all its links are in the tree; otherwise it is
    shared with a cache when another walked pkgs dir has a link to it, else with envs when
    another walked env has one, else with places we did not walk.
    """
    out = [{name: Share() for name in _SHARES} for _ in walks]
    for shares, walk in zip(out, walks, strict=True):
        shares["own"] = Share(walk.single_blocks * 512, walk.single_inodes)
    for device, blocks in linked.blocks.items():
        nlinks = linked.nlinks[device]
        here: dict[int, set[int]] = {}
        own: dict[int, set[int]] = {}
        for i, walk in enumerate(walks):
            inos = walk.linked.get(device)
            if not inos:
                continue
            here[i] = keys = set(inos)
            if len(keys) < len(inos):  # an inode with several links in this tree
                counts = Counter(inos)
                own[i] = {k for k, n in counts.items() if n > 1 and n >= nlinks[k]}
        pkgs_once, pkgs_twice = _once_and_twice(here[i] for i in here if kinds[i] == "pkgs")
        envs_once, envs_twice = _once_and_twice(here[i] for i in here if kinds[i] == "env")
        size = blocks.__getitem__
        for i, keys in here.items():
            mine = own.get(i, set())
            rest = keys - mine if mine else keys
            # Another tree of the same kind has a link when at least two trees of it do.
            cache = rest & (pkgs_twice if kinds[i] == "pkgs" else pkgs_once)
            rest = rest - cache if cache else rest
            envs = rest & (envs_twice if kinds[i] == "env" else envs_once)
            other = rest - envs if envs else rest
            for name, members in zip(_SHARES, (mine, cache, envs, other), strict=True):
                if members:
                    share = out[i][name]
                    share.bytes += 512 * sum(map(size, members))
                    share.inodes += len(members)
    return out


def disk_usage(
    settings: Settings,
    *,
    envs: Sequence[Env] | None = None,
    pkgs_dirs: Sequence[Path] | None = None,
    on_event: EventSink = ignore_events,
) -> UsageReport:
    """Usage of `envs` (default: every known env) and of the package caches."""
    envs = list_envs(settings) if envs is None else list(envs)
    pkgs_dirs = list(settings.pkgs_dirs if pkgs_dirs is None else pkgs_dirs)
    targets = _targets(envs, pkgs_dirs)
    # Trees nest (the root prefix holds envs/ and pkgs/): each walk skips the other trees and
    # the envs dirs, so every path is walked once and belongs to one tree.
    roots = [t.path for t in targets] + list(settings.envs_dirs) + list(pkgs_dirs)
    root_keys = {k for k in map(_key_of, roots) if k is not None}

    linked = _Linked()
    walks: list[_Walk] = []
    for done, target in enumerate(targets, 1):
        own_key = _key_of(target.path)
        walks.append(_walk(target.path, root_keys - {own_key}, linked))
        on_event(
            Event("usage-walk", {"path": str(target.path), "done": done, "total": len(targets)})
        )

    breakdown = _breakdown([t.kind for t in targets], walks, linked)
    trees = []
    for t, w, shares in zip(targets, walks, breakdown, strict=True):
        trees.append(
            TreeUsage(
                kind=t.kind,
                path=t.path,
                name=t.name,
                device=w.device,
                entries=w.entries,
                apparent_bytes=w.apparent_bytes,
                real_bytes=sum(s.bytes for s in shares.values()),
                inodes=sum(s.inodes for s in shares.values()),
                unreadable=w.unreadable,
                own=shares["own"],
                shared_cache=shares["shared_cache"],
                shared_envs=shares["shared_envs"],
                shared_other=shares["shared_other"],
            )
        )
    return UsageReport(
        trees=trees,
        totals=_totals(walks, linked),
        filesystems=_filesystems(targets, walks),
        warnings=cross_filesystem_warnings(settings, envs),
    )


def _totals(walks: Sequence[_Walk], linked: _Linked) -> dict[str, int]:
    single_blocks = sum(w.single_blocks for w in walks)
    linked_blocks = sum(sum(blocks.values()) for blocks in linked.blocks.values())
    return {
        "entries": sum(w.entries for w in walks),
        "apparent_bytes": sum(w.apparent_bytes for w in walks),
        "real_bytes": 512 * (single_blocks + linked_blocks),
        "inodes": sum(w.single_inodes for w in walks)
        + sum(len(blocks) for blocks in linked.blocks.values()),
    }


def filesystem_usage(path: Path, paths: Sequence[str] = ()) -> FilesystemUsage:
    """statvfs of the filesystem holding `path` (or its nearest existing parent)."""
    path = _existing(path)
    sv = os.statvfs(path)
    return FilesystemUsage(
        device=os.stat(path).st_dev,
        paths=list(paths) or [str(path)],
        total_bytes=sv.f_blocks * sv.f_frsize,
        free_bytes=sv.f_bavail * sv.f_frsize,
        total_inodes=sv.f_files,
        free_inodes=sv.f_favail,
    )


def _filesystems(targets: Sequence[_Target], walks: Sequence[_Walk]) -> list[FilesystemUsage]:
    by_device: dict[int, list[str]] = {}
    for target, walk in zip(targets, walks, strict=True):
        if walk.device is not None:
            by_device.setdefault(walk.device, []).append(str(target.path))
    return [filesystem_usage(Path(paths[0]), paths) for paths in by_device.values()]


def _existing(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def cross_filesystem_warnings(settings: Settings, envs: Sequence[Env] = ()) -> list[str]:
    """Envs dirs (and prefix envs) on another filesystem than the package cache we write to:
    hard links cannot cross filesystems, so every file is copied into those envs."""
    pkgs = settings.pkgs_dir
    pkgs_dev = os.stat(_existing(pkgs)).st_dev
    places = list(settings.envs_dirs) + [e.prefix for e in envs if e.name is None]
    by_device: dict[int, list[Path]] = {}
    for place in dict.fromkeys(places):
        if place.exists() and os.stat(place).st_dev != pkgs_dev:
            by_device.setdefault(os.stat(place).st_dev, []).append(place)
    warnings = []
    for far in by_device.values():  # one warning per filesystem, not per env
        names = ", ".join(map(str, far[:3])) + (f" and {len(far) - 3} more" if len(far) > 3 else "")
        warnings.append(
            f"The package cache {pkgs} and {names} are on different filesystems: hard links are "
            "impossible there, so installing copies every file. Put pkgs_dirs on the same "
            "filesystem as your envs (in ~/.condarc or CONDA_PKGS_DIRS) to share files."
        )
    return warnings
