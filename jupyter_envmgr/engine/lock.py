"""The file locks we take: an env's own lock, and the package cache's (rattler's) lock.

Both are `flock`s, released by the kernel when a process dies, so a SIGKILLed CLI never leaves a
stale lock, and both wait the same way (`_wait_for_lock`): try at once; if taken, say who holds
it (a `lock-wait` event) and try again in short slices until the timeout, then fail with Locked.

- `prefix_lock`: `conda-meta/envmgr/lock`, taken by every process that changes the env. Who
  holds it is written beside it (`owner.json`), so a waiter can say so. Both live in our own
  folder (bookkeeping.py) so that taking the lock leaves conda-meta/ itself untouched.
- `package_cache_lock`: `<pkgs_dir>/.cache.lock`, which rattler holds from the start of
  populating the cache until linking ends. Who holds it is read from /proc/locks.
- `entry_lock_if_free`: one cache entry's own `<dist>.lock`, without waiting.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from .bookkeeping import bookkeeping_dir, lock_file, lock_owner_file, migrate_legacy_layout
from .errors import EnvNotFound, Forbidden, Locked
from .progress import Event, EventSink, ignore_events

CACHE_LOCK = ".cache.lock"
# Short sleeps between tries keep a cancel (Ctrl-C, a server task cancel) responsive.
_POLL_SECONDS = 0.1


def describe_holder(holder: dict[str, Any] | None) -> str:
    """`process 123 on host (envmgr install ...)` for a lock-holder record, as users read it."""
    if not holder:
        return "another process"
    host = f" on {holder['host']}" if holder.get("host") else ""
    return f"process {holder.get('pid')}{host} ({str(holder.get('cmd', '?'))[:120]})"


async def _wait_for_lock(
    try_lock: Callable[[], bool],
    *,
    place: Path,
    holder: Callable[[], dict[str, Any] | None],
    timeout: float,
    on_event: EventSink,
    locked_message: Callable[[str], str],
) -> None:
    """The one wait loop of every lock we wait for. `try_lock` takes the lock without waiting
    (True when taken); `locked_message` gets the holder, described, once time is up."""
    if try_lock():
        return
    on_event(Event("lock-wait", {"prefix": str(place), "holder": holder()}))
    deadline = time.monotonic() + timeout
    while not try_lock():
        if time.monotonic() >= deadline:
            raise Locked(locked_message(describe_holder(holder())))
        await asyncio.sleep(_POLL_SECONDS)


# ---------------------------------------------------------------------------------------------
# The env's lock


def prefix_lock_owner(prefix: Path) -> dict[str, Any] | None:
    """Who holds the env's lock, as its holder wrote it (pid, host, command, since)."""
    try:
        owner: dict[str, Any] = json.loads(lock_owner_file(prefix).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    return owner


@asynccontextmanager
async def prefix_lock(
    prefix: Path, *, timeout: float, on_event: EventSink = ignore_events, cmd: str = ""
) -> AsyncIterator[None]:
    """Hold the env's lock; bookkeeping left in 0.1.0's places is moved into ours first."""
    if not prefix.is_dir():
        # Never make a folder by locking it: an env deleted meanwhile must stay deleted.
        raise EnvNotFound(f"The environment {prefix} no longer exists.")
    try:
        bookkeeping_dir(prefix).mkdir(parents=True, exist_ok=True)
        # Each operation opens its own fd, so two tasks of one server process exclude each
        # other too (flock is per open file), and the lock is released wherever it ends.
        fd = os.open(lock_file(prefix), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except PermissionError:
        raise Forbidden(
            f"The environment {prefix} is not writable by you; clone it to change it."
        ) from None
    try:
        await _wait_for_lock(
            lambda: _try_flock(fd),  # one non-blocking flock a try: fine on the event loop
            place=prefix,
            holder=lambda: prefix_lock_owner(prefix),
            timeout=timeout,
            on_event=on_event,
            locked_message=lambda holder: (
                f"The environment {prefix} is locked by {holder} and was not released within "
                f"{timeout:g} s. Wait for it to finish and try again."
            ),
        )
        try:
            migrate_legacy_layout(prefix)
            _write_owner(prefix, cmd)
            yield
        finally:
            try:
                lock_owner_file(prefix).unlink()
            except OSError:
                pass
    finally:
        os.close(fd)  # closing releases the flock


def _write_owner(prefix: Path, cmd: str) -> None:
    owner = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cmd": cmd or " ".join(sys.argv),
        "since": time.time(),
    }
    try:
        lock_owner_file(prefix).write_text(json.dumps(owner), encoding="utf-8")
    except OSError:
        pass  # the env may have been removed under the lock (env remove); nothing to say


# ---------------------------------------------------------------------------------------------
# The package cache's locks (rattler's)


def _open_for_flock(path: Path, create: bool = False) -> int | None:
    """An fd to flock `path` through: read-write, or read-only for a file we may not write
    (flock needs no write access). None when it is missing (and not `create`) or unreadable."""
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


def _try_flock(fd: int, shared: bool = False) -> bool:
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        return True
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise


def flock_holder(path: Path) -> dict[str, Any] | None:
    """Which process holds a flock on `path`, from /proc/locks (Linux); None when unknown.

    For locks whose holders write no owner file (rattler's)."""
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


@contextmanager
def entry_lock_if_free(path: Path | None) -> Iterator[bool]:
    """Hold `path`'s flock without waiting; yields False when another process holds it (and
    True when there is no such file: nobody can be holding it)."""
    fd = _open_for_flock(path) if path is not None else None
    if fd is None:
        yield True
        return
    try:
        yield _try_flock(fd)
    finally:
        os.close(fd)  # closing releases the flock


def on_read_only_filesystem(path: Path) -> bool:
    """Whether `path` is on a file system mounted read-only (EROFS for every write, lock files
    included): callers refuse a change there with that reason instead of a failed flock."""
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


@asynccontextmanager
async def package_cache_lock(
    pkgs_dir: Path,
    *,
    timeout: float,
    on_event: EventSink = ignore_events,
    then: str = "Nothing was removed: wait for it to finish and run clean again.",
    shared: bool = False,
) -> AsyncIterator[None]:
    """rattler's whole-cache lock, exclusively: no install or download writes while we hold it.
    `shared`: for our own fetches, which may run side by side (each stages its packages in a
    folder of its own) but never beside a clean or a rattler install, which take it whole.
    `then` ends the message of a wait that timed out: what was (not) done, what to do."""
    if not pkgs_dir.is_dir():
        yield  # nothing there to protect (and nothing to clean)
        return
    path = pkgs_dir / CACHE_LOCK
    fd = _open_for_flock(path, create=True)
    if fd is None:
        yield  # a cache we can neither lock nor write: clean will only report
        return
    try:
        await _wait_for_lock(
            lambda: _try_flock(fd, shared),
            place=pkgs_dir,
            holder=lambda: flock_holder(path),
            timeout=timeout,
            on_event=on_event,
            locked_message=lambda holder: (
                f"The package cache {pkgs_dir} is being written by {holder} (an install or "
                f"download is running) and was not released within {timeout:g} s. {then}"
            ),
        )
        yield
    finally:
        os.close(fd)
