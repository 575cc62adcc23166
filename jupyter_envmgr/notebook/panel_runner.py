"""The panel's background work: one CLI job at a time in a thread, its progress in the model.

The kernel's thread only starts jobs, so it stays free for the widgets' messages (Cancel among
them). Cancel sets the `threading.Event` that `EnvmgrClient.run` watches: the CLI gets one
SIGINT, restores the env as Ctrl-C does, and ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .client import ClientError, EnvmgrClient
from .panel_model import ACTION_VERBS, ACTION_WORDS, Action, PanelModel

CANCELLED = "Cancelled."
# Repaint the progress row at most this often (byte counts arrive many times a second).
PROGRESS_INTERVAL = 0.1


class Stopped(Exception):
    """A CLI run ended without a result, failed or cancelled; the failure is in the model."""

    def __init__(self, status: str | None) -> None:
        super().__init__(status)
        self.status = status
        self.said = False  # the cancel was already explained


class Runner:
    """Runs jobs (functions calling `run`) in a background thread, one at a time."""

    def __init__(
        self,
        client: EnvmgrClient,
        model: PanelModel,
        lock: threading.RLock,
        paint: Callable[[], None],
        paint_progress: Callable[[], None],
    ) -> None:
        self.client = client
        self.model = model
        self.lock = lock
        self._paint = paint
        self._paint_progress = paint_progress
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_paint = 0.0
        self._last_kind: object = None

    def start(self, action: Action, job: Callable[[], None]) -> bool:
        """Start `job` unless another one runs (then say so); True when started."""
        with self.lock:
            if self.model.busy is not None:
                busy = ACTION_WORDS[self.model.busy]
                self.model.fail(f"{busy} is still running: wait for it, or cancel it.")
                self._paint()
                return False
            self.model.begin(action)
            self._cancel = threading.Event()
            self._paint()
            self._thread = threading.Thread(
                target=self._work, args=(action, job), name=f"envmgr-panel-{action}", daemon=True
            )
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running job; True when none runs any more."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def cancel(self) -> None:
        with self.lock:
            if self.model.busy is None or self.model.cancelling:
                return
            self.model.cancelling = True
            self.model.progress.status = "Cancelling: the environment is being restored..."
            self._cancel.set()
            self._paint()

    @contextmanager
    def not_cancelled(self) -> Iterator[None]:
        """Runs that only read (the table after a cancelled change) get a fresh cancel."""
        saved, self._cancel = self._cancel, threading.Event()
        try:
            yield
        finally:
            self._cancel = saved

    def run(self, argv: Sequence[str], what: str) -> dict[str, Any]:
        """One CLI run: its result, or Stopped once the failure is in the model."""
        outcome = self.client.run(argv, on_event=self._on_event, cancel=self._cancel)
        if outcome.result is not None and outcome.error is None:
            return outcome.result  # finished, even if a cancel came too late to stop it
        if outcome.interrupted:
            raise Stopped(CANCELLED)
        message = (outcome.error or {}).get("message") or "envmgr gave no result."
        with self.lock:
            self.model.fail(f"Could not {what}: {message}")
        raise Stopped(None)

    def _work(self, action: Action, job: Callable[[], None]) -> None:
        status: str | None = None
        try:
            job()
        except Stopped as stop:
            status = stop.status
            if stop.status == CANCELLED and not stop.said:
                with self.lock:
                    self.model.say(CANCELLED)
        except ClientError as exc:
            with self.lock:
                self.model.fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - said in the panel, never raised
            with self.lock:
                self.model.fail(f"Could not {ACTION_VERBS[action]}, unexpectedly: {exc!r}")
        finally:
            with self.lock:
                self.model.end(status)
                self._paint()

    def _on_event(self, event: dict[str, Any]) -> None:
        with self.lock:
            if not self.model.progress.update(event):
                return
            # A new phase (solve, download, link, restore, a lock wait) always shows; byte
            # counts and link counts within one are throttled.
            kind, now = event.get("event"), time.monotonic()
            if kind != self._last_kind or now - self._last_paint >= PROGRESS_INTERVAL:
                self._last_kind, self._last_paint = kind, now
                self._paint_progress()
