"""Cleaning the package cache: a plan first (what, how many bytes and inodes it frees), then act.

What clean may remove, per category:
- `index-cache`: the repodata cache in `<pkgs_dir>/cache/` (our Gateway's cache_dir);
- `tarballs`: downloaded `.conda` / `.tar.bz2` archives (the extracted folder is what links);
- `packages`: extracted packages `<name>-<version>-<build>/` (with their `.lock` file) that no
  known environment uses;
- `partial`: leftovers of cancelled downloads and extractions (`.<dist>XXXXXX` temp folders,
  `*.partial`, dist folders without `info/`), unless they changed in the last minute;
- `locks`: `<dist>.lock` files whose package is gone.
- pointers `<dist>` -> a read-only layer's entry (cache_layers.py) count as `packages` (as
  `partial` once dangling): only the link and its lock are removed.

Only the cache we write is cleaned (settings.pkgs_dir); package caches we can only read (a
site cache listed before ours) are named in the plan as not cleaned, and never touched.

"In use" is computed, never guessed (in_use.py): an extracted package is used when a record of
any known env (every envs dir, environments.txt, the root prefix; and the saved records of an
operation in progress) points at it. Link counts only decide how much a removal frees: an inode
is freed when every one of its links is removed.

"Being written": rattler holds an exclusive flock on `<pkgs_dir>/.cache.lock` from the start of
populating the cache until linking ends. Clean takes the same lock (`lock.package_cache_lock`:
waiting up to the lock timeout, then failing with Locked and removing nothing) while it plans
and while it removes, and takes each entry's own `<dist>.lock` (or the index cache's
`<hash>.lock`) without waiting before removing it: a busy entry is skipped and reported, never
half-removed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache_layers import read_only_layers
from .errors import BadInput, Forbidden
from .in_use import PackageUsers, dir_key, packages_in_use
from .lock import CACHE_LOCK, entry_lock_if_free, on_read_only_filesystem, package_cache_lock
from .progress import Event, EventSink, ignore_events
from .registry import Env, list_envs
from .settings import Settings
from .usage import InodeKey, Scan, scan_tree

CATEGORIES = ("index-cache", "tarballs", "packages", "partial", "locks")
INDEX_DIR = "cache"
TARBALL_SUFFIXES = (".conda", ".tar.bz2")
# A leftover younger than this may belong to a tool that does not take .cache.lock: keep it.
PARTIAL_MIN_AGE = 60.0
# `<name>-<version>-<build>`: what rattler, conda and micromamba name extracted packages.
_DIST_RE = re.compile(r"^[A-Za-z0-9_][^/]*-[^-/]+-[^-/]+$")
# rattler's temporary folder for a package being fetched: `.<dist>` plus random characters.
_TEMP_RE = re.compile(r"^\.[A-Za-z0-9_][^/]*-[^-/]+-[^-/]+$")


def select_categories(
    *,
    index_cache: bool = False,
    tarballs: bool = False,
    packages: bool = False,
    locks: bool = False,
    all: bool = False,  # noqa: A002 - mirrors the --all flag
) -> tuple[str, ...]:
    """Flags -> categories. Leftovers of cancelled fetches go with packages and tarballs."""
    if all:
        return CATEGORIES
    chosen = set()
    if index_cache:
        chosen.add("index-cache")
    if tarballs:
        chosen |= {"tarballs", "partial"}
    if packages:
        chosen |= {"packages", "partial"}
    if locks:
        chosen.add("locks")
    if not chosen:
        raise BadInput(
            "Say what to clean: --index-cache, --tarballs, --packages, --locks, or --all."
        )
    return tuple(c for c in CATEGORIES if c in chosen)


# ---------------------------------------------------------------------------------------------
# Plan data


@dataclass
class CleanItem:
    """Paths removed together, and what removing them frees."""

    category: str
    name: str
    paths: tuple[Path, ...]
    lock: Path | None = None  # flocked (non-blocking) while removing
    bytes: int = 0  # real bytes freed (allocated blocks of inodes whose last link goes)
    inodes: int = 0  # inodes freed
    apparent_bytes: int = 0
    entries: int = 0  # paths removed

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "name": self.name,
            "paths": [str(p) for p in self.paths],
            "bytes": self.bytes,
            "inodes": self.inodes,
            "apparent_bytes": self.apparent_bytes,
            "entries": self.entries,
        }


@dataclass(frozen=True)
class Kept:
    """A candidate left alone, and why: `in-use` (with the envs), `busy` or `recent`."""

    category: str
    name: str
    path: Path
    reason: str
    envs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "name": self.name,
            "path": str(self.path),
            "reason": self.reason,
            "envs": list(self.envs),
        }


@dataclass
class CleanPlan:
    pkgs_dirs: tuple[Path, ...]
    categories: tuple[str, ...]
    items: list[CleanItem] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)
    # Package caches we only read (a site cache, cache_layers.py): never cleaned by us.
    not_cleaned: tuple[Path, ...] = ()

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)

    @property
    def inodes(self) -> int:
        return sum(i.inodes for i in self.items)

    @property
    def empty(self) -> bool:
        return not self.items

    def by_category(self) -> dict[str, dict[str, int]]:
        out = {c: {"items": 0, "bytes": 0, "inodes": 0} for c in self.categories}
        for item in self.items:
            row = out.setdefault(item.category, {"items": 0, "bytes": 0, "inodes": 0})
            row["items"] += 1
            row["bytes"] += item.bytes
            row["inodes"] += item.inodes
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "pkgs_dirs": [str(p) for p in self.pkgs_dirs],
            "categories": list(self.categories),
            "items": [i.to_json() for i in self.items],
            "kept": [k.to_json() for k in self.kept],
            "not_cleaned": [str(p) for p in self.not_cleaned],
            "by_category": self.by_category(),
            "bytes": self.bytes,
            "inodes": self.inodes,
        }


@dataclass
class CleanResult:
    plan: CleanPlan
    applied: bool
    removed: list[CleanItem] = field(default_factory=list)
    skipped: list[Kept] = field(default_factory=list)  # busy when we came to remove them
    failed: list[dict[str, str]] = field(default_factory=list)  # {"path", "message"}

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.removed)

    @property
    def inodes(self) -> int:
        return sum(i.inodes for i in self.removed)

    def to_json(self) -> dict[str, Any]:
        return {
            "plan": self.plan.to_json(),
            "applied": self.applied,
            "removed": [i.to_json() for i in self.removed],
            "skipped": [k.to_json() for k in self.skipped],
            "failed": list(self.failed),
            "freed_bytes": self.bytes,
            "freed_inodes": self.inodes,
        }


# ---------------------------------------------------------------------------------------------
# Inventory


@dataclass
class _Candidate:
    category: str
    name: str
    paths: tuple[Path, ...]
    lock: Path | None = None
    key: InodeKey | None = None  # of the folder, for in-use matching (packages, partial)


def _inventory(pkgs_dir: Path, categories: Sequence[str]) -> list[_Candidate]:
    try:
        entries = sorted(os.scandir(pkgs_dir), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    names = {e.name for e in entries}
    found: list[_Candidate] = []
    for entry in entries:
        cand = _classify(pkgs_dir, entry, names)
        if cand is None:
            continue
        found += cand
    return [c for c in found if c.category in categories]


def _classify(pkgs_dir: Path, entry: os.DirEntry[str], names: set[str]) -> list[_Candidate] | None:
    name, path = entry.name, Path(entry.path)
    is_dir = entry.is_dir(follow_symlinks=False)
    if name == CACHE_LOCK:
        return None  # rattler's whole-cache lock: never removed (we may be holding it)
    if name == INDEX_DIR and is_dir:
        return _index_groups(path)
    if name.endswith(".partial") or (name.startswith(".") and _TEMP_RE.fullmatch(name)):
        if name.endswith(".lock"):
            return None
        return [_Candidate("partial", name, (path,), key=dir_key(path))]
    if entry.is_symlink() and _DIST_RE.fullmatch(name):
        # A pointer to a read-only layer's entry (cache_layers.py): removing it removes the
        # link and its lock, never what it points at. One left dangling is a leftover.
        lock = pkgs_dir / f"{name}.lock"
        paths = (path, lock) if lock.name in names else (path,)
        kind = "packages" if (path / "info").is_dir() else "partial"
        return [_Candidate(kind, name, paths, lock=lock, key=dir_key(path))]
    if is_dir and _DIST_RE.fullmatch(name):
        lock = pkgs_dir / f"{name}.lock"
        has_lock = lock.name in names
        paths = (path, lock) if has_lock else (path,)
        if (path / "info").is_dir():
            return [_Candidate("packages", name, paths, lock=lock, key=dir_key(path))]
        if has_lock:  # a package folder without info/: an extraction or a clean cut short
            return [_Candidate("partial", name, paths, lock=lock, key=dir_key(path))]
        return None  # a folder that merely looks like a package: not ours to judge
    if not is_dir and name.endswith(TARBALL_SUFFIXES):
        dist = _strip_suffix(name)
        return [_Candidate("tarballs", name, (path,), lock=pkgs_dir / f"{dist}.lock")]
    if not is_dir and name.endswith(".lock"):
        dist = name[: -len(".lock")]
        if dist in names or any(dist + s in names for s in TARBALL_SUFFIXES):
            return None  # belongs to a package or tarball that is still there
        return [_Candidate("locks", name, (path,), lock=path)]
    return None  # not ours to judge (urls.txt, a user's file, ...)


def _strip_suffix(name: str) -> str:
    for suffix in TARBALL_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _index_groups(index_dir: Path) -> list[_Candidate]:
    """The repodata cache, one item per channel subdir: `<hash>.json`, `.info.json`, `.lock`,
    shard caches. rattler flocks `<hash>.lock` while it fetches that repodata."""
    groups: dict[str, list[Path]] = {}
    try:
        children = sorted(index_dir.iterdir())
    except OSError:
        return []
    for child in children:
        groups.setdefault(child.name.split(".", 1)[0], []).append(child)
    return [
        _Candidate(
            "index-cache", f"{INDEX_DIR}/{stem}", tuple(paths), lock=index_dir / f"{stem}.lock"
        )
        for stem, paths in groups.items()
    ]


# ---------------------------------------------------------------------------------------------
# Planning


def cleaned_cache(settings: Settings) -> Path:
    """The cache clean works on: the one we write (settings.pkgs_dir). But when the caches
    the user named are all read-only for them and the one we write is only the implicit
    `<root prefix>/pkgs` after them, it is the first named one: its clean is then refused with
    its reason (read-only, not yours), rather than a clean of a cache they did not name."""
    target = settings.pkgs_dir
    implicit = settings.root_prefix / "pkgs"
    if target != settings.pkgs_dirs[0] and target == implicit == settings.pkgs_dirs[-1]:
        return settings.pkgs_dirs[0]
    return target


def plan_clean(
    settings: Settings,
    categories: Sequence[str],
    *,
    pkgs_dirs: Sequence[Path] | None = None,
    envs: Sequence[Env] | None = None,
    now: float | None = None,
) -> CleanPlan:
    """What clean would remove and free. Call under `package_cache_lock` for figures that hold."""
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise BadInput(f"Unknown clean categories: {', '.join(sorted(unknown))}.")
    pkgs_dirs = tuple(pkgs_dirs or (cleaned_cache(settings),))
    needs_usage = {"packages", "partial"} & set(categories)
    users = (
        packages_in_use(list_envs(settings) if envs is None else envs)
        if needs_usage
        else PackageUsers()
    )
    now = time.time() if now is None else now
    plan = CleanPlan(pkgs_dirs, tuple(c for c in CATEGORIES if c in categories))
    plan.not_cleaned = tuple(p for p in read_only_layers(settings.pkgs_dirs) if p not in pkgs_dirs)
    scans: list[tuple[CleanItem, list[Scan]]] = []
    for pkgs_dir in pkgs_dirs:
        for cand in _inventory(pkgs_dir, plan.categories):
            kept, item_scans = _judge(cand, users, now)
            if kept is not None:
                plan.kept.append(kept)
                continue
            item = CleanItem(cand.category, cand.name, cand.paths, lock=cand.lock)
            scans.append((item, item_scans))
    _measure(scans)
    plan.items = [item for item, _ in scans]
    return plan


def _judge(cand: _Candidate, users: PackageUsers, now: float) -> tuple[Kept | None, list[Scan]]:
    main = cand.paths[0]
    if cand.category in ("packages", "partial"):
        envs = users.envs_using(cand.key, cand.name)
        if envs:
            return Kept(cand.category, cand.name, main, "in-use", tuple(sorted(envs))), []
    with _entry_lock_if_free(cand.lock) as free:
        if not free:
            return Kept(cand.category, cand.name, main, "busy"), []
    scans = [scan_tree(p) for p in cand.paths]
    if cand.category == "partial" and now - max(s.newest_mtime for s in scans) < PARTIAL_MIN_AGE:
        return Kept(cand.category, cand.name, main, "recent"), []
    return None, scans


@contextmanager
def _entry_lock_if_free(path: Path | None) -> Iterator[bool]:
    """`lock.entry_lock_if_free`, except on a read-only file system: there no lock file can
    be opened for writing, and no process can be writing the entry either."""
    if path is not None and on_read_only_filesystem(path.parent):
        yield True
        return
    with entry_lock_if_free(path) as free:
        yield free


def check_writable(plan: CleanPlan) -> None:
    """Refuse, before anything is removed, a plan whose package cache cannot be written."""
    for pkgs_dir in plan.pkgs_dirs:
        if not plan.items or not pkgs_dir.is_dir():
            continue
        if on_read_only_filesystem(pkgs_dir):
            raise Forbidden(
                f"The package cache {pkgs_dir} is on a read-only file system, so nothing can be "
                "removed from it; nothing was changed. Clean it where it is mounted writable, "
                "or clean your own cache (pkgs_dirs)."
            )
        if not os.access(pkgs_dir, os.W_OK | os.X_OK):
            raise Forbidden(
                f"The package cache {pkgs_dir} is not writable by you, so nothing can be removed "
                "from it; nothing was changed. Ask its owner to clean it, or clean your own "
                "cache (pkgs_dirs)."
            )


def _measure(scans: Sequence[tuple[CleanItem, Sequence[Scan]]]) -> None:
    """An inode is freed when all its links are among the removed paths (files in a cache entry
    are usually hard-linked into envs: removing the entry frees nothing of them)."""
    links: dict[InodeKey, int] = {}
    for _item, item_scans in scans:
        for scan in item_scans:
            for key, info in scan.inodes.items():
                links[key] = links.get(key, 0) + info[0]
    counted: set[InodeKey] = set()
    for item, item_scans in scans:
        for scan in item_scans:
            item.entries += scan.entries
            item.apparent_bytes += scan.apparent_bytes
            for key, (_here, nlink, nbytes) in scan.inodes.items():
                if key in counted or links[key] < nlink:
                    continue
                counted.add(key)  # an inode spread over two items counts once, in the first
                item.bytes += nbytes
                item.inodes += 1


# ---------------------------------------------------------------------------------------------
# Applying


def apply_clean(plan: CleanPlan, on_event: EventSink = ignore_events) -> CleanResult:
    """Remove what the plan lists. Call under `package_cache_lock`, with a plan made under it."""
    check_writable(plan)
    result = CleanResult(plan, applied=True)
    total = len(plan.items)
    for done, item in enumerate(plan.items, 1):
        with _entry_lock_if_free(item.lock) as free:
            if not free:
                result.skipped.append(Kept(item.category, item.name, item.paths[0], "busy"))
                continue
            error = _remove_item(item)
        if error:
            result.failed.append({"path": str(item.paths[0]), "message": error})
        else:
            result.removed.append(item)
        on_event(
            Event(
                "clean-remove",
                {
                    "path": str(item.paths[0]),
                    "category": item.category,
                    "done": done,
                    "total": total,
                },
            )
        )
    return result


def _remove_item(item: CleanItem) -> str | None:
    # info/ goes first and the package's .lock last: a clean killed halfway leaves a folder
    # without info/ beside its .lock, which no tool takes for a valid package (rattler and
    # conda re-fetch it) and the next clean removes as a leftover.
    paths = sorted(item.paths, key=lambda p: p.name.endswith(".lock"))
    try:
        for path in paths:
            _remove_path(path)
    except OSError as exc:
        return f"{exc.strerror or exc} ({exc.filename or item.paths[0]})"
    return None


def _remove_path(path: Path) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        path.unlink()
        return
    if (path / "info").is_dir() and not (path / "info").is_symlink():
        shutil.rmtree(path / "info")
    shutil.rmtree(path)


# ---------------------------------------------------------------------------------------------
# The operation


async def clean(
    settings: Settings,
    categories: Sequence[str],
    *,
    dry_run: bool = False,
    confirm: Callable[[CleanPlan], bool] | None = None,
    pkgs_dirs: Sequence[Path] | None = None,
    timeout: float | None = None,
    on_event: EventSink = ignore_events,
) -> CleanResult:
    """Plan under the cache lock; ask; then re-plan and remove under the lock.

    The lock is not held while the user thinks (installs would wait on us). The second plan
    keeps only what the user saw, so an entry that became used in between is left alone.
    """
    pkgs_dirs = tuple(pkgs_dirs or (cleaned_cache(settings),))
    timeout = settings.lock_timeout if timeout is None else timeout
    plan = await _plan_locked(settings, categories, pkgs_dirs, timeout, on_event)
    on_event(
        Event("clean-plan", {"bytes": plan.bytes, "inodes": plan.inodes, "items": len(plan.items)})
    )
    if dry_run or plan.empty:
        return CleanResult(plan, applied=False)
    check_writable(plan)  # a read-only cache is refused before the user is asked
    if confirm is not None and not confirm(plan):
        return CleanResult(plan, applied=False)
    confirmed = {item.paths[0] for item in plan.items}
    result = await _apply_locked(settings, categories, pkgs_dirs, timeout, on_event, confirmed)
    on_event(Event("done", {"bytes": result.bytes, "inodes": result.inodes}))
    return result


async def _plan_locked(
    settings: Settings,
    categories: Sequence[str],
    pkgs_dirs: Sequence[Path],
    timeout: float,
    on_event: EventSink,
) -> CleanPlan:
    async with _all_locks(pkgs_dirs, categories, timeout, on_event):
        return await asyncio.to_thread(plan_clean, settings, categories, pkgs_dirs=pkgs_dirs)


async def _apply_locked(
    settings: Settings,
    categories: Sequence[str],
    pkgs_dirs: Sequence[Path],
    timeout: float,
    on_event: EventSink,
    confirmed: set[Path],
) -> CleanResult:
    async with _all_locks(pkgs_dirs, categories, timeout, on_event):
        plan = await asyncio.to_thread(plan_clean, settings, categories, pkgs_dirs=pkgs_dirs)
        plan.items = [i for i in plan.items if i.paths[0] in confirmed]
        return await asyncio.to_thread(apply_clean, plan, on_event)


@asynccontextmanager
async def _all_locks(
    pkgs_dirs: Sequence[Path], categories: Sequence[str], timeout: float, on_event: EventSink
) -> AsyncIterator[None]:
    if set(categories) <= {"index-cache"}:
        yield  # repodata files have their own per-channel locks; installs may go on
        return
    async with _nested(pkgs_dirs, timeout, on_event):
        yield


@asynccontextmanager
async def _nested(
    pkgs_dirs: Sequence[Path], timeout: float, on_event: EventSink
) -> AsyncIterator[None]:
    if not pkgs_dirs:
        yield
        return
    if on_read_only_filesystem(pkgs_dirs[0]):
        # Mounted read-only: no install can write there, and its lock file cannot be opened
        # for writing (EROFS). Planning goes on without it; removing is refused.
        async with _nested(pkgs_dirs[1:], timeout, on_event):
            yield
        return
    async with package_cache_lock(pkgs_dirs[0], timeout=timeout, on_event=on_event):
        async with _nested(pkgs_dirs[1:], timeout, on_event):
            yield
