"""Long operations as tasks: an id, a state, every event kept for late subscribers, cancel.

Engine events may arrive from rattler's worker threads; they hop onto the server's event loop
with call_soon_threadsafe, so subscribers and state are only touched on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from ..engine.bytecode import compile_command
from ..engine.errors import Cancelled, EnvMgrError, TooManyTasks
from ..engine.progress import Event
from ..engine.rattler_guard import is_panic

TaskState = Literal["queued", "running", "waiting", "done", "failed", "cancelled"]
FinalState = Literal["done", "failed", "cancelled"]
FINAL_STATES: tuple[FinalState, ...] = get_args(FinalState)
# The engine's operations (operations.Kind), plus deleting an env and cleaning the cache.
TaskKind = Literal[
    "create", "install", "remove", "update", "update-all", "rollback", "sync", "delete", "clean"
]
# An operation: given the event sink, do the work and return a JSON-able result.
Operation = Callable[[Callable[[Event], None]], Awaitable[dict[str, Any]]]


@dataclass
class Task:
    id: str
    kind: TaskKind
    env: str | None
    state: TaskState = "queued"
    created: float = field(default_factory=time.time)
    events: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    _runner: asyncio.Task[None] | None = None
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def to_json(self, with_events: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "env": self.env,
            "state": self.state,
            "created": self.created,
            "result": self.result,
            "error": self.error,
            "event_count": len(self.events),
        }
        if with_events:
            data["events"] = list(self.events)
        return data

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES


class Bytecode:
    """The env's Python compiling what a task just linked, in the background (engine/bytecode.py):
    one job per env, stopped before anything else changes that env, never awaited by a task."""

    STOP_TIMEOUT = 5.0
    # Off: in the browser figure (bench/browser_wait.py --ab) a new env's first kernel came up
    # no sooner with it on this 2-core machine (the compile competes with the kernel, chromium
    # and the server); alone, a kernel started 0.6 s after it starts is up ~3x sooner.
    enabled = False

    def __init__(self) -> None:
        self._jobs: dict[Path, asyncio.Task[None]] = {}
        self._procs: dict[Path, asyncio.subprocess.Process] = {}

    def start(self, prefix: Path, names: list[str]) -> None:
        if not self.enabled:
            return
        command = compile_command(prefix, names)
        if command is None or prefix in self._jobs:
            return
        self._jobs[prefix] = asyncio.get_running_loop().create_task(self._run(prefix, *command))

    async def _run(self, prefix: Path, argv: list[str], stdin: str) -> None:
        proc = None
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=prefix, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            self._procs[prefix] = proc
            assert proc.stdin is not None
            with contextlib.suppress(OSError):  # it stopped early: nothing more to compile
                proc.stdin.write(stdin.encode())
                await proc.stdin.drain()
                proc.stdin.close()
            await proc.wait()
        except OSError:
            pass  # no bytecode then, as before: the kernel writes it
        finally:
            if proc is not None and proc.returncode is None:  # cancelled: no orphan left
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            self._procs.pop(prefix, None)
            self._jobs.pop(prefix, None)

    async def stop(self, prefix: Path) -> None:
        """Stop the env's job (between two files) and wait for it to end."""
        job, proc = self._jobs.get(prefix), self._procs.get(prefix)
        if job is None:
            return
        if proc is None:
            job.cancel()
        elif proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(job), self.STOP_TIMEOUT)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
        with contextlib.suppress(asyncio.CancelledError):
            await job

    async def shutdown(self) -> None:
        for prefix in list(self._jobs):
            await self.stop(prefix)


class TaskRegistry:
    def __init__(self, max_concurrent: int = 2, keep: int = 200, max_queued: int = 20) -> None:
        self._tasks: dict[str, Task] = {}
        self.bytecode = Bytecode()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._keep = keep
        self._max_queued = max_queued  # unfinished tasks (queued, running or waiting) at most

    def list(self) -> list[Task]:
        return list(self._tasks.values())

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def start(self, kind: TaskKind, env: str | None, operation: Operation) -> Task:
        unfinished = sum(not t.finished for t in self._tasks.values())
        if unfinished >= self._max_queued:
            raise TooManyTasks(
                f"{unfinished} tasks are queued or running on this server, its limit: wait "
                "for one to finish, or cancel one (DELETE /envmgr/api/tasks/<id>), then try "
                "again."
            )
        task = Task(id=uuid.uuid4().hex[:12], kind=kind, env=env)
        self._tasks[task.id] = task
        self._forget_old()
        loop = asyncio.get_running_loop()

        def sink(event: Event) -> None:
            loop.call_soon_threadsafe(self._record, task, event.to_json())

        task._runner = loop.create_task(self._run(task, operation, sink))
        return task

    async def _run(self, task: Task, operation: Operation, sink: Callable[[Event], None]) -> None:
        self._record(task, {"event": "queued", "time": time.time()})
        final: FinalState
        try:
            async with self._slots:
                await self._set_state(task, "running")
                task.result = await operation(sink)
                final = "done"
        except (Cancelled, asyncio.CancelledError) as exc:
            task.error = {"message": getattr(exc, "message", "Cancelled."), "reason": "cancelled"}
            final = "cancelled"
        except EnvMgrError as exc:
            task.error = {**exc.to_json(), "status": exc.status}
            final = "failed"
        except Exception as exc:  # a bug: the task fails visibly, the server lives on
            task.error = {"message": f"Internal error: {exc!r}", "reason": "internal"}
            final = "failed"
        except BaseException as exc:
            # A Rust panic that slipped past the engine's guards is a BaseException: the task
            # must still end, or its subscribers would wait forever.
            if not is_panic(exc):
                raise
            task.error = {"message": f"Internal error in rattler: {exc}", "reason": "internal"}
            final = "failed"
        await asyncio.sleep(0)  # let events queued from worker threads land first
        self._record(
            task, {"event": final, "time": time.time(), "result": task.result, "error": task.error}
        )
        await self._set_state(task, final)

    def _record(self, task: Task, event: dict[str, Any]) -> None:
        task.events.append(event)
        kind = event.get("event")
        # A CLI (or another task) holding the env's lock shows as waiting until it lets go.
        if kind == "lock-wait" and task.state == "running":
            task.state = "waiting"
        elif task.state == "waiting" and kind not in ("lock-wait",):
            task.state = "running"
        asyncio.get_running_loop().create_task(self._notify(task))

    async def _notify(self, task: Task) -> None:
        async with task._changed:
            task._changed.notify_all()

    async def _set_state(self, task: Task, state: TaskState) -> None:
        task.state = state
        await self._notify(task)

    def cancel(self, task: Task) -> None:
        if not task.finished and task._runner is not None:
            task._runner.cancel()

    async def follow(self, task: Task) -> AsyncIterator[dict[str, Any]]:
        """Every event from the first (replay for late subscribers) until the task ends."""
        sent = 0
        while True:
            while sent < len(task.events):
                yield task.events[sent]
                sent += 1
            if task.finished:
                return
            async with task._changed:
                if sent >= len(task.events) and not task.finished:
                    await task._changed.wait()

    def _forget_old(self) -> None:
        finished = [t for t in self._tasks.values() if t.finished]
        for task in finished[: max(0, len(self._tasks) - self._keep)]:
            del self._tasks[task.id]

    async def shutdown(self) -> None:
        running = [t._runner for t in self._tasks.values() if t._runner and not t.finished]
        for runner in running:
            runner.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
        await self.bytecode.shutdown()
