"""Progress events from the engine, and the adapter that turns rattler's callbacks into them.

An event is a kind plus plain JSON-able data, so the CLI can print it as a JSON line and the
server can push it as a server-sent event unchanged. Sinks may be called from rattler's worker
threads: they must be thread-safe (the server's sink hops onto its event loop).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast, get_args

import rattler

from ..events import EventKind

_KINDS: frozenset[str] = frozenset(get_args(EventKind))


@dataclass(frozen=True)
class Event:
    kind: EventKind  # a kind the list lacks is a type error where the event is made
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.kind, "time": round(self.time, 3), **self.data}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Event:
        """The inverse of to_json (a worker's event line, read back); ValueError for a kind
        that is not an EventKind."""
        data = dict(obj)
        kind = data.pop("event", None)
        if not isinstance(kind, str) or kind not in _KINDS:
            raise ValueError(f"not an event kind: {kind!r}")
        when = data.pop("time", None)
        checked = cast(EventKind, kind)
        return cls(checked, data) if when is None else cls(checked, data, float(when))


EventSink = Callable[[Event], None]


def ignore_events(_event: Event) -> None:
    pass


class ProgressReporter(rattler.InstallerReporter):
    """rattler.InstallerReporter -> our events: per-package download bytes, link/unlink counts."""

    def __init__(
        self,
        sink: EventSink,
        to_link: Sequence[rattler.RepoDataRecord],
        to_unlink: Sequence[rattler.RepoDataRecord],
    ) -> None:
        self._sink = sink
        self._sizes = {r.name.normalized: r.size for r in to_link}
        self._link_total = len(to_link)
        self._unlink_total = len(to_unlink)
        self._lock = threading.Lock()
        self._names: dict[int, str] = {}
        self._next = 0
        self._linked = 0
        self._unlinked = 0
        self._last_bytes: dict[int, float] = {}
        # Link/unlink operations running right now: a cancel waits for them to end.
        self.in_flight = 0
        self.last_callback = time.monotonic()

    def _token(self, name: str) -> int:
        self.last_callback = time.monotonic()
        with self._lock:
            self._next += 1
            self._names[self._next] = name
            return self._next

    def on_transaction_start(self, total_operations: int) -> None:
        self._sink(Event("transaction-start", {"operations": total_operations}))

    def on_populate_cache_start(self, operation: int, package_name: str) -> int:
        return self._token(package_name)

    def on_download_start(self, cache_entry: int) -> int:
        name = self._names.get(cache_entry, "?")
        token = self._token(name)
        self._sink(Event("download-start", {"name": name, "total": self._sizes.get(name)}))
        return token

    def on_download_progress(self, download_idx: int, progress: int, total: int | None) -> None:
        # Throttle: a fast local download calls this per chunk; 10 events/s per package is plenty.
        now = time.monotonic()
        if now - self._last_bytes.get(download_idx, 0.0) < 0.1 and progress != total:
            return
        self._last_bytes[download_idx] = now
        name = self._names.get(download_idx, "?")
        total = total or self._sizes.get(name)
        self._sink(Event("download-progress", {"name": name, "bytes": progress, "total": total}))

    def on_download_completed(self, download_idx: int) -> None:
        self._sink(Event("download-done", {"name": self._names.get(download_idx, "?")}))

    def on_link_start(self, operation: int, package_name: str) -> int:
        with self._lock:
            self.in_flight += 1
        return self._token(package_name)

    def on_link_complete(self, index: int) -> None:
        self.last_callback = time.monotonic()
        with self._lock:
            self.in_flight -= 1
            self._linked += 1
            done = self._linked
        name = self._names.get(index, "?")
        self._sink(Event("link", {"name": name, "done": done, "total": self._link_total}))

    def on_unlink_start(self, operation: int, package_name: str) -> int:
        with self._lock:
            self.in_flight += 1
        return self._token(package_name)

    def on_unlink_complete(self, index: int) -> None:
        self.last_callback = time.monotonic()
        with self._lock:
            self.in_flight -= 1
            self._unlinked += 1
            done = self._unlinked
        name = self._names.get(index, "?")
        self._sink(Event("unlink", {"name": name, "done": done, "total": self._unlink_total}))

    # The rest of rattler's reporter protocol: nothing to report. Defined here because the
    # protocol's own bodies are docstrings only, which type checkers read as abstract.
    def on_transaction_operation_start(self, operation: int) -> None:
        return None

    def on_transaction_operation_complete(self, operation: int) -> None:
        return None

    def on_transaction_complete(self) -> None:
        return None

    def on_validate_start(self, cache_entry: int) -> int:
        return cache_entry

    def on_validate_complete(self, validate_idx: int) -> None:
        return None

    def on_populate_cache_complete(self, cache_entry: int) -> None:
        return None

    def on_post_link_start(self, package_name: str, script_path: str) -> int:
        return 0

    def on_post_link_complete(self, index: int, success: bool) -> None:
        return None

    def on_pre_unlink_start(self, package_name: str, script_path: str) -> int:
        return 0

    def on_pre_unlink_complete(self, index: int, success: bool) -> None:
        return None
