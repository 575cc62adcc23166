"""A per-prefix file lock shared by the CLI, the server and the magics.

`flock` on `conda-meta/envmgr/lock`: released by the kernel when a process dies, so a SIGKILLed
CLI never leaves a stale lock. Who holds it is written beside it, so a waiter can say so. Both live
in their own folder so that taking the lock leaves conda-meta/ itself untouched.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from .errors import EnvNotFound, Forbidden, Locked
from .progress import Event, EventSink, ignore_events

LOCK_DIR = "envmgr"
LOCK_NAME = "lock"
OWNER_NAME = "owner.json"


def lock_holder(prefix: Path) -> dict | None:
    try:
        return json.loads(
            (prefix / "conda-meta" / LOCK_DIR / OWNER_NAME).read_text(encoding="utf-8")
        )
    except (FileNotFoundError, ValueError):
        return None


def describe_holder(holder: dict | None) -> str:
    """`process 123 on host (envmgr install ...)` for a lock-holder record, as users read it."""
    if not holder:
        return "another process"
    host = f" on {holder['host']}" if holder.get("host") else ""
    return f"process {holder.get('pid')}{host} ({str(holder.get('cmd', '?'))[:120]})"


@asynccontextmanager
async def prefix_lock(
    prefix: Path, *, timeout: float, on_event: EventSink = ignore_events, cmd: str = ""
) -> AsyncIterator[None]:
    meta = prefix / "conda-meta" / LOCK_DIR
    if not prefix.is_dir():
        # Never make a folder by locking it: an env deleted meanwhile must stay deleted.
        raise EnvNotFound(f"The environment {prefix} no longer exists.")
    try:
        meta.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise Forbidden(
            f"The environment {prefix} is not writable by you; clone it to change it."
        ) from None
    # thread_local=False: we acquire in a worker thread (so the server loop never blocks) and
    # release wherever the operation ends; is_singleton=False: each operation has its own fd,
    # so two tasks of one server process exclude each other too (flock is per open file).
    lock = FileLock(str(meta / LOCK_NAME), thread_local=False, is_singleton=False)
    try:
        await asyncio.to_thread(lock.acquire, timeout=0)
    except Timeout:
        holder = lock_holder(prefix)
        on_event(Event("lock-wait", {"prefix": str(prefix), "holder": holder}))
        deadline = time.monotonic() + timeout
        while True:
            try:
                # Short slices keep a cancel (Ctrl-C, server task cancel) responsive.
                wait = max(0.0, min(0.5, deadline - time.monotonic()))
                await asyncio.to_thread(lock.acquire, timeout=wait)
                break
            except Timeout:
                if time.monotonic() >= deadline:
                    raise Locked(
                        f"The environment {prefix} is locked by "
                        f"{describe_holder(lock_holder(prefix))} and was not released within "
                        f"{timeout:g} s. Wait for it to finish and try again."
                    ) from None
    owner = meta / OWNER_NAME
    try:
        owner.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "cmd": cmd or " ".join(sys.argv),
                    "since": time.time(),
                }
            ),
            encoding="utf-8",
        )
    except OSError:
        pass  # the env may have been removed under the lock (env remove); nothing to say
    try:
        yield
    finally:
        try:
            owner.unlink()
        except OSError:
            pass
        lock.release()
