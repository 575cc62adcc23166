"""Cleaning the package cache: a plan first (what, how many bytes and inodes it frees), then act.

What clean may remove, per category:
- `index-cache`: the repodata cache in `<pkgs_dir>/cache/` (our Gateway's cache_dir);
- `tarballs`: downloaded `.conda` / `.tar.bz2` archives (the extracted folder is what links);
- `packages`: extracted packages `<name>-<version>-<build>/` (with their `.lock` file) that no
  known environment uses;
- `partial`: leftovers of cancelled downloads and extractions (`.<dist>XXXXXX` temp folders,
  `*.partial`, dist folders without `info/`), unless they changed in the last minute;
- `locks`: `<dist>.lock` files whose package is gone.

"In use" is computed, never guessed: an extracted package is used when a record of any known env
(every envs dir, environments.txt, the root prefix; and the saved records of an operation in
progress) points at it through `extracted_package_dir` or `link.source`. Link counts only decide
how much a removal frees: an inode is freed when every one of its links is removed.

"Being written": rattler holds an exclusive flock on `<pkgs_dir>/.cache.lock` from the start of
populating the cache until linking ends. Clean takes the same lock (waiting up to the lock
timeout, then failing with Locked and removing nothing) while it plans and while it removes, and
takes each entry's own `<dist>.lock` (or the index cache's `<hash>.lock`) without waiting before
removing it: a busy entry is skipped and reported, never half-removed.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import re
import shutil
import stat
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import BadInput, Forbidden, Locked
from .lock import describe_holder
from .prefix import META
from .progress import Event, EventSink, ignore_events
from .registry import Env, list_envs
from .settings import Settings
from .transaction import JOURNAL
from .usage import InodeKey, Scan, scan_tree

CATEGORIES = ("index-cache", "tarballs", "packages", "partial", "locks")
CACHE_LOCK = ".cache.lock"
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

    def to_json(self) -> dict:
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

    def to_json(self) -> dict:
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

    def to_json(self) -> dict:
        return {
            "pkgs_dirs": [str(p) for p in self.pkgs_dirs],
            "categories": list(self.categories),
            "items": [i.to_json() for i in self.items],
            "kept": [k.to_json() for k in self.kept],
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
    failed: list[dict] = field(default_factory=list)  # {"path", "message"}

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.removed)

    @property
    def inodes(self) -> int:
        return sum(i.inodes for i in self.removed)

    def to_json(self) -> dict:
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
# Locks


def _open_lock(path: Path, create: bool = False) -> int | None:
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    for mode in (flags, os.O_RDONLY):
        try:
            return os.open(path, mode | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            if not create:
                return None
        except PermissionError:
            continue
    return None


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


@contextmanager
def entry_lock(path: Path | None) -> Iterator[bool]:
    """Hold `path`'s flock without waiting; yields False when another process holds it."""
    fd = _open_lock(path) if path is not None else None
    if fd is None:
        yield True
        return
    try:
        yield _try_flock(fd)
    finally:
        os.close(fd)  # closing releases the flock


def lock_holder(path: Path) -> dict | None:
    """Who holds a flock on `path`, from /proc/locks (Linux); None when unknown."""
    try:
        st = os.stat(path)
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        parts = line.split()
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == dev:
            return {"pid": int(parts[4]), "cmd": _cmdline(parts[4])}
    return None


def _cmdline(pid: str) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or "?"


@asynccontextmanager
async def cache_lock(
    pkgs_dir: Path, *, timeout: float, on_event: EventSink = ignore_events
) -> AsyncIterator[None]:
    """rattler's whole-cache lock, exclusively: no install or download writes while we hold it."""
    if not pkgs_dir.is_dir():
        yield  # nothing there to protect (and nothing to clean)
        return
    path = pkgs_dir / CACHE_LOCK
    fd = _open_lock(path, create=True)
    if fd is None:
        yield  # a cache we can neither lock nor write: clean will only report
        return
    try:
        if not _try_flock(fd):
            on_event(Event("lock-wait", {"prefix": str(pkgs_dir), "holder": lock_holder(path)}))
            deadline = time.monotonic() + timeout
            while not _try_flock(fd):
                if time.monotonic() >= deadline:
                    raise Locked(
                        f"The package cache {pkgs_dir} is being written by "
                        f"{describe_holder(lock_holder(path))} (an install or download is "
                        "running) and "
                        f"was not released within {timeout:g} s. Nothing was removed: wait for "
                        "it to finish and run clean again."
                    )
                # Short sleeps keep a cancel (Ctrl-C, a server task cancel) responsive.
                await asyncio.sleep(0.1)
        yield
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# What known envs use


@dataclass
class Usage:
    """Cache entries known envs point at: by inode of the folder, and by dist name for records
    that do not say where they were linked from (or that we could not read)."""

    by_key: dict[InodeKey, set[str]] = field(default_factory=dict)
    by_name: dict[str, set[str]] = field(default_factory=dict)

    def envs_using(self, key: InodeKey | None, name: str) -> set[str]:
        return (self.by_key.get(key, set()) if key else set()) | self.by_name.get(name, set())


def _record_sources(path: Path) -> tuple[list[str], str]:
    """(folders the record links from, its dist name). Read as plain JSON: a record rattler
    cannot parse still protects what it names."""
    name = path.name[: -len(".json")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], name
    if not isinstance(data, dict):
        return [], name
    sources = [data.get("extracted_package_dir")]
    link = data.get("link")
    if isinstance(link, dict):
        sources.append(link.get("source"))
    if all(k in data for k in ("name", "version", "build")):
        name = f"{data['name']}-{data['version']}-{data['build']}"
    return [s for s in sources if isinstance(s, str) and s], name


def _env_record_files(prefix: Path) -> Iterator[Path]:
    meta = prefix / META
    try:
        names = sorted(os.listdir(meta))
    except FileNotFoundError:
        names = []  # removed since it was listed: it uses nothing any more
    except OSError as exc:
        raise Forbidden(
            f"Cannot read the package records of {prefix} ({exc.strerror}), so clean cannot tell "
            "which packages it uses. Fix the permissions, or clean only --index-cache, "
            "--tarballs or --locks."
        ) from None
    yield from (meta / n for n in names if n.endswith(".json"))
    # An operation in progress (or killed) may restore these records or be linking these
    # packages right now: both count as used until the journal is gone.
    yield from (meta / JOURNAL / "records").glob("*.json")
    yield from (meta / (JOURNAL + ".new") / "records").glob("*.json")


def _journal_linking(prefix: Path) -> list[str]:
    try:
        data = json.loads((prefix / META / JOURNAL / "journal.json").read_text(encoding="utf-8"))
        return [str(p) for p in data.get("linking", [])]
    except (OSError, ValueError, AttributeError):
        return []


def used_entries(envs: Iterable[Env]) -> Usage:
    usage = Usage()
    for env in envs:
        label = str(env.prefix)
        sources: list[str] = _journal_linking(env.prefix)
        for record in _env_record_files(env.prefix):
            found, name = _record_sources(record)
            sources += found
            if not found:
                usage.by_name.setdefault(name, set()).add(label)
        for source in sources:
            key = _dir_key(Path(source))
            if key is not None:
                usage.by_key.setdefault(key, set()).add(label)
    return usage


def _dir_key(path: Path) -> InodeKey | None:
    try:
        st = os.stat(path)  # follows symlinks: a record may name the cache by another path
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


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


def _classify(pkgs_dir: Path, entry: os.DirEntry, names: set[str]) -> list[_Candidate] | None:
    name, path = entry.name, Path(entry.path)
    is_dir = entry.is_dir(follow_symlinks=False)
    if name == CACHE_LOCK:
        return None  # rattler's whole-cache lock: never removed (we may be holding it)
    if name == INDEX_DIR and is_dir:
        return _index_groups(path)
    if name.endswith(".partial") or (name.startswith(".") and _TEMP_RE.fullmatch(name)):
        if name.endswith(".lock"):
            return None
        return [_Candidate("partial", name, (path,), key=_dir_key(path))]
    if is_dir and _DIST_RE.fullmatch(name):
        lock = pkgs_dir / f"{name}.lock"
        has_lock = lock.name in names
        paths = (path, lock) if has_lock else (path,)
        if (path / "info").is_dir():
            return [_Candidate("packages", name, paths, lock=lock, key=_dir_key(path))]
        if has_lock:  # a package folder without info/: an extraction or a clean cut short
            return [_Candidate("partial", name, paths, lock=lock, key=_dir_key(path))]
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


def plan_clean(
    settings: Settings,
    categories: Sequence[str],
    *,
    pkgs_dirs: Sequence[Path] | None = None,
    envs: Sequence[Env] | None = None,
    now: float | None = None,
) -> CleanPlan:
    """What clean would remove and free. Call under `cache_lock` for figures that hold."""
    unknown = set(categories) - set(CATEGORIES)
    if unknown:
        raise BadInput(f"Unknown clean categories: {', '.join(sorted(unknown))}.")
    pkgs_dirs = tuple(pkgs_dirs or (settings.pkgs_dir,))
    needs_usage = {"packages", "partial"} & set(categories)
    usage = used_entries(list_envs(settings) if envs is None else envs) if needs_usage else Usage()
    now = time.time() if now is None else now
    plan = CleanPlan(pkgs_dirs, tuple(c for c in CATEGORIES if c in categories))
    scans: list[tuple[CleanItem, list[Scan]]] = []
    for pkgs_dir in pkgs_dirs:
        for cand in _inventory(pkgs_dir, plan.categories):
            kept, item_scans = _judge(cand, usage, now)
            if kept is not None:
                plan.kept.append(kept)
                continue
            item = CleanItem(cand.category, cand.name, cand.paths, lock=cand.lock)
            scans.append((item, item_scans))
    _measure(scans)
    plan.items = [item for item, _ in scans]
    return plan


def _judge(cand: _Candidate, usage: Usage, now: float) -> tuple[Kept | None, list[Scan]]:
    main = cand.paths[0]
    if cand.category in ("packages", "partial"):
        users = usage.envs_using(cand.key, cand.name)
        if users:
            return Kept(cand.category, cand.name, main, "in-use", tuple(sorted(users))), []
    with entry_lock(cand.lock) as free:
        if not free:
            return Kept(cand.category, cand.name, main, "busy"), []
    scans = [scan_tree(p) for p in cand.paths]
    if cand.category == "partial" and now - max(s.newest_mtime for s in scans) < PARTIAL_MIN_AGE:
        return Kept(cand.category, cand.name, main, "recent"), []
    return None, scans


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
    """Remove what the plan lists. Call under `cache_lock`, with a plan made under it."""
    for pkgs_dir in plan.pkgs_dirs:
        if plan.items and pkgs_dir.is_dir() and not os.access(pkgs_dir, os.W_OK | os.X_OK):
            raise Forbidden(
                f"The package cache {pkgs_dir} is not writable by you, so nothing can be removed "
                "from it. Ask its owner to clean it, or clean your own cache (pkgs_dirs)."
            )
    result = CleanResult(plan, applied=True)
    total = len(plan.items)
    for done, item in enumerate(plan.items, 1):
        with entry_lock(item.lock) as free:
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
    pkgs_dirs = tuple(pkgs_dirs or (settings.pkgs_dir,))
    timeout = settings.lock_timeout if timeout is None else timeout
    plan = await _plan_locked(settings, categories, pkgs_dirs, timeout, on_event)
    on_event(
        Event("clean-plan", {"bytes": plan.bytes, "inodes": plan.inodes, "items": len(plan.items)})
    )
    if dry_run or plan.empty or (confirm is not None and not confirm(plan)):
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
    async with cache_lock(pkgs_dirs[0], timeout=timeout, on_event=on_event):
        async with _nested(pkgs_dirs[1:], timeout, on_event):
            yield
