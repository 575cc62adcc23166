"""Long operations as tasks: an id, a state, every event kept for late subscribers, cancel.

Engine events may arrive from rattler's worker threads; they hop onto the server's event loop
with call_soon_threadsafe, so subscribers and state are only touched on the loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

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


class TaskRegistry:
    def __init__(self, max_concurrent: int = 2, keep: int = 200, max_queued: int = 20) -> None:
        self._tasks: dict[str, Task] = {}
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
