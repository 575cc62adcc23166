"""Disk usage of environments and package caches, counted the way quotas count it.

One `lstat` walk per tree (an env prefix or a pkgs dir). Real bytes (allocated blocks) and inodes
are counted once per inode, so files hard-linked from the package cache into several envs are not
counted several times; each inode is classified as the tree's own (every link is inside it: deleting
the tree frees it) or shared with the cache, with other envs, or with places we did not walk.
Filesystems are reported with `statvfs` free space and free inodes (HPC quotas count files too).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    # The hot loop of `usage`: Scan.add inlined, counters in locals (about 2x faster).
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


def _classify(
    index: int, scan: Scan, owners: dict[InodeKey, int], masks: dict[str, int]
) -> dict[str, Any]:
    own, cache, envs, other = Share(), Share(), Share(), Share()
    me = 1 << index
    for key, (links_here, nlink, nbytes) in scan.inodes.items():
        if links_here >= nlink:
            own.add(nbytes)
            continue
        others = owners[key] & ~me
        if others & masks["pkgs"]:
            cache.add(nbytes)
        elif others & masks["env"]:
            envs.add(nbytes)
        else:
            other.add(nbytes)
    return {"own": own, "shared_cache": cache, "shared_envs": envs, "shared_other": other}


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

    scans: list[Scan] = []
    for done, target in enumerate(targets, 1):
        own_key = _key_of(target.path)
        scans.append(scan_tree(target.path, skip=root_keys - {own_key}))
        on_event(
            Event("usage-walk", {"path": str(target.path), "done": done, "total": len(targets)})
        )

    owners: dict[InodeKey, int] = {}
    masks = {"env": 0, "pkgs": 0}
    for i, (target, scan) in enumerate(zip(targets, scans, strict=True)):
        masks[target.kind] |= 1 << i
        for key in scan.inodes:
            owners[key] = owners.get(key, 0) | (1 << i)

    trees = [
        TreeUsage(
            kind=t.kind,
            path=t.path,
            name=t.name,
            device=s.device,
            entries=s.entries,
            apparent_bytes=s.apparent_bytes,
            real_bytes=s.real_bytes,
            inodes=len(s.inodes),
            unreadable=s.unreadable,
            **_classify(i, s, owners, masks),
        )
        for i, (t, s) in enumerate(zip(targets, scans, strict=True))
    ]
    return UsageReport(
        trees=trees,
        totals=_totals(scans),
        filesystems=_filesystems(targets, scans),
        warnings=cross_filesystem_warnings(settings, envs),
    )


def _totals(scans: Sequence[Scan]) -> dict[str, int]:
    seen: dict[InodeKey, int] = {}
    for scan in scans:
        for key, info in scan.inodes.items():
            seen[key] = info[2]
    return {
        "entries": sum(s.entries for s in scans),
        "apparent_bytes": sum(s.apparent_bytes for s in scans),
        "real_bytes": sum(seen.values()),
        "inodes": len(seen),
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


def _filesystems(targets: Sequence[_Target], scans: Sequence[Scan]) -> list[FilesystemUsage]:
    by_device: dict[int, list[str]] = {}
    for target, scan in zip(targets, scans, strict=True):
        if scan.device is not None:
            by_device.setdefault(scan.device, []).append(str(target.path))
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
