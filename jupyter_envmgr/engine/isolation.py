"""Run a job's rattler work (solve, fetch, link) in a child process, so that an abort, a panic
or a segfault there fails that job with a message and the calling process (the Jupyter server)
lives on. The child is `worker.py`; its events come back as JSON lines and reach `on_event` as
they happen; a cancel is one SIGINT, and the child restores the env before it ends.

When the child dies without an answer, the env it was changing may be half-linked: a second
child runs the same recovery `envmgr repair` does, and the message says whether it worked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import Cancelled, EngineCrashed, EnvMgrError
from .policy import Policy
from .prefix import META
from .progress import Event, EventSink, ignore_events
from .settings import Settings
from .worker import settings_to_json

LINE_LIMIT = 256 * 1024 * 1024  # one event line: a plan of a big env is a few MB of JSON
STDERR_KEPT = 8192


class _ChildError(EnvMgrError):
    """An error the child reported, with the child's own status and reason."""

    def __init__(self, message: str, status: int, reason: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def _phase(event: dict[str, Any], env_label: str) -> str:
    """What the child was doing, from its last event (for the crash message)."""
    kind = event.get("event")
    name = event.get("name")
    if kind in ("download-start", "download-progress", "download-done") and name:
        return f"fetching '{name}'"
    if kind == "link" and name:
        return f"linking packages into {env_label} (last linked: '{name}')"
    if kind in ("plan", "transaction-start", "unlink", "link"):
        return f"linking packages into {env_label}"
    return f"working on {env_label}"


def _signal_name(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit status {returncode}"


class _Child:
    def __init__(self, proc: asyncio.subprocess.Process, on_event: EventSink) -> None:
        self.proc = proc
        self.on_event = on_event
        self.last_event: dict[str, Any] = {}
        self.answer: dict[str, Any] | None = None
        self.stderr = b""

    async def read_stdout(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                return
            try:
                data = json.loads(line)
            except ValueError:
                continue  # not ours (a stray print in a library): ignore
            if not isinstance(data, dict):
                continue
            if "result" in data or "error" in data:
                self.answer = data
                continue
            self.last_event = dict(data)
            try:
                event = Event.from_json(data)
            except ValueError:
                continue  # not an engine event (all the worker sends): not ours, ignore
            self.on_event(event)

    async def read_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr = (self.stderr + chunk)[-STDERR_KEPT:]

    async def wait(self) -> int:
        await asyncio.gather(self.read_stdout(), self.read_stderr())
        return await self.proc.wait()


async def _start(job: Mapping[str, Any], on_event: EventSink) -> _Child:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jupyter_envmgr.engine.worker",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
        start_new_session=True,  # a Ctrl-C at the server's terminal is not the task's cancel
    )  # fmt: skip
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(job).encode())
    await proc.stdin.drain()
    proc.stdin.close()
    return _Child(proc, on_event)


async def _wait_through_cancel(child: _Child) -> tuple[int, bool]:
    """Wait for the child to end; a cancel of ours becomes one SIGINT to it, and we still wait
    (it restores the env before it ends). Returns (returncode, cancelled)."""
    waiting = asyncio.ensure_future(child.wait())
    cancelled = False
    while True:
        try:
            return await asyncio.shield(waiting), cancelled
        except asyncio.CancelledError:
            if not cancelled and child.proc.returncode is None:
                cancelled = True
                try:
                    child.proc.send_signal(signal.SIGINT)
                except ProcessLookupError:
                    pass


async def run_job(
    job: Mapping[str, Any],
    settings: Settings,
    policy: Policy | None,
    *,
    env_label: str,
    prefix: Path | None,
    on_event: EventSink = ignore_events,
) -> dict[str, Any]:
    """Run `job` (see worker.py) in a child; return its result or raise its error. `prefix` is
    the env a crash may have left half-changed (None: nothing to restore)."""
    full = {
        **job,
        "settings": settings_to_json(settings),
        "policy": dataclasses.asdict(policy) if policy is not None else None,
    }
    child = await _start(full, on_event)
    returncode, cancelled = await _wait_through_cancel(child)
    answer = child.answer
    if answer is not None and "result" in answer:
        # Even after a cancel: the work was done before the SIGINT could stop it.
        result: dict[str, Any] = answer["result"]
        return result
    if answer is not None and "error" in answer:
        error = answer["error"]
        if error.get("reason") == "cancelled":
            raise Cancelled(str(error.get("message", "Cancelled.")))
        raise _ChildError(
            str(error.get("message", "The operation failed.")),
            int(error.get("status", 500)),
            str(error.get("reason", "error")),
        )
    if cancelled:
        # A SIGINT that came before the child could catch it (while it was starting) ends it
        # at once: that is the cancel the user asked for, not a crash.
        restored = await _restore_after_crash(settings, policy, prefix, env_label)
        raise Cancelled(f"Cancelled. {restored}")
    # No answer: the child died (abort, panic, segfault, kill).
    what = _phase(child.last_event, env_label)
    how = _signal_name(returncode)
    restored = await _restore_after_crash(settings, policy, prefix, env_label)
    raise EngineCrashed(f"The package manager crashed while {what} ({how}). {restored}")


async def _restore_after_crash(
    settings: Settings, policy: Policy | None, prefix: Path | None, env_label: str
) -> str:
    if prefix is None or not (prefix / META).exists():
        return "Nothing was changed."
    try:
        await run_job(
            {"op": "repair", "prefix": str(prefix)}, settings, policy,
            env_label=env_label, prefix=None,
        )  # fmt: skip
    except EnvMgrError as exc:
        return (
            f"Restoring {env_label} failed too ({exc.message}); run 'envmgr repair -p {prefix}' "
            "before using it."
        )
    if not prefix.exists():
        return f"The half-made environment {env_label} was removed."
    return "The environment was restored."
