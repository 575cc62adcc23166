"""Rendering engine events and results: progress on a terminal, JSON lines with --json.

Imported by every verb, `--help` included: the engine modules it needs (they import rattler)
are imported where a plan is printed, by which time the engine has loaded them anyway.
"""

# mypy: strict-equality
# (so that comparing Event.kind with a kind the list, events.EventKind, lacks is a type error)

from __future__ import annotations

import json
import sys
import threading
from typing import TYPE_CHECKING, Any, TextIO

from ..progress_text import ProgressState, describe_holder, human_bytes
from .table import table_lines

if TYPE_CHECKING:
    from ..engine.plan import Plan
    from ..engine.progress import Event
    from ..events import EventKind

# The events whose words on the progress line are ProgressState's (progress_text.py, which
# the notebook's progress bar shows too). The others print a line of their own, or nothing: a
# status left on the terminal would run into what the verb then prints on stdout.
_STATUS_KINDS: frozenset[EventKind] = frozenset(
    ("solve-start", "download-start", "download-progress", "link", "unlink")
)


class JsonRenderer:
    """One JSON object per line on stdout: what `--json` users and the kernel client parse."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def emit(self, obj: dict[str, Any]) -> None:
        with self._lock:
            self.out.write(json.dumps(obj, default=str) + "\n")
            self.out.flush()

    def on_event(self, event: Event) -> None:
        self.emit(event.to_json())


class TextRenderer:
    """Human output: messages to stdout, a one-line progress display on stderr when a TTY."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.tty = self.err.isatty()
        self._lock = threading.Lock()
        self._state = ProgressState()

    def _status(self, text: str) -> None:
        if self.tty:
            self.err.write("\r\033[K" + text[:120])
            self.err.flush()

    def _line(self, text: str) -> None:
        if self.tty:
            self.err.write("\r\033[K")
        self.err.write(text + "\n")
        self.err.flush()

    def on_event(self, event: Event) -> None:
        d = event.data
        with self._lock:
            changed = self._state.update({"event": event.kind, **d})
            if changed and event.kind in _STATUS_KINDS:
                self._status(self._state.status)
            elif event.kind == "solve-done":
                self._status("")
                self._line(f"Solved: {d['records']} packages in {d['seconds']:.2f} s")
            elif event.kind == "lock-wait":
                holder = describe_holder(d.get("holder"))
                self._line(f"Waiting for the lock on {d['prefix']} held by {holder}...")
            elif event.kind == "restore":
                self._line(f"Restoring {d['prefix']} to its previous state...")
            elif event.kind == "done":
                self._status("")

    def plan(self, plan: Plan, channel_alias: str) -> None:
        from ..engine.plan import change_kind
        from ..engine.prefix import channel_display

        rows: list[tuple[str, str, str, str, str, str]] = []

        def row(mark: str, r: Any, version: str | None = None) -> None:
            rows.append(
                (
                    mark,
                    r.name.normalized,
                    version or str(r.version),
                    str(r.build),
                    channel_display(r.channel, channel_alias),
                    human_bytes(r.size) if mark != "-" else "",
                )
            )

        for r in plan.add:
            row("+", r)
        for old, new in plan.change:
            kind = change_kind(old, new)
            mark = {"upgrade": "↑", "downgrade": "↓"}.get(kind, "~")
            row(mark, new, f"{old.version} -> {new.version}")
        for r in plan.remove:
            row("-", r)
        out = self.out
        out.write(f"\nEnvironment: {plan.prefix}\n\n")
        if not rows:
            out.write("  Nothing to do: the environment already satisfies the request.\n\n")
            return
        header = ("", "Package", "Version", "Build", "Channel", "Size")
        for line in table_lines(rows, header, rule=True):
            out.write(line + "\n")
        out.write(
            f"\n  Summary: install {len(plan.add)}, change {len(plan.change)}, remove "
            f"{len(plan.remove)}; download {plan.download_count} packages, "
            f"{human_bytes(plan.download_bytes)}\n\n"
        )
        if plan.site_cache:  # a site package cache's files: hard-linked, or copied
            site = plan.site_cache
            what = f"{site['packages']} packages, {site['text']}"
            out.write(f"  From the site package cache: {what}\n\n")
        out.flush()
