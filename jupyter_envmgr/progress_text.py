"""Progress in words, for every face: sizes (`human_bytes`), who holds a lock
(`describe_holder`), and `ProgressState`, which turns event dicts (the CLI's `--json` lines, an
engine Event's `to_json()`) into one status line and a fraction done.

Standard library only, and no run-time import of this package: besides being
`jupyter_envmgr.progress_text`, this file runs inside env kernels as the top-level module
`jupyter_envmgr_progress_text` (kernels/provisioner.py links it beside the notebook folder,
whose `_shared.py` imports it), where the env's Python has no jupyter_envmgr.
"""

# mypy: strict-equality
# (so that comparing an EventKind with a kind the list lacks is a type error)

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only: see above
    from .events import CliLineKind, EventKind

    Kind = EventKind | CliLineKind | None  # a line of the CLI's --json output


def human_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def describe_holder(holder: Any) -> str:
    """A lock-wait event's `holder` (pid, cmd) in words: "process 12 (envmgr install x)"."""
    if not isinstance(holder, dict):
        return "another process"
    who = f"process {holder.get('pid', '?')}"
    if holder.get("cmd"):
        who += f" ({holder['cmd']})"
    return who


class ProgressState:
    """Turns events into one status line and a fraction done; knows nothing of display."""

    def __init__(self) -> None:
        self.status = "Starting envmgr..."
        self.fraction: float | None = None
        self._downloads: dict[str, tuple[int, int | None]] = {}

    def update(self, event: dict[str, Any]) -> bool:
        """Take one event; True when the status or fraction changed."""
        kind: Kind = event.get("event")
        if kind == "lock-wait":
            holder = describe_holder(event.get("holder"))
            self.status = f"Waiting for the environment's lock, held by {holder}..."
        elif kind == "solve-start":
            self.status, self.fraction = "Solving...", None
        elif kind == "solve-done":
            self.status = f"Solved: {event.get('records', '?')} packages."
        elif kind == "download-start" or kind == "download-progress":
            name = str(event.get("name", "?"))
            self._downloads[name] = (int(event.get("bytes") or 0), event.get("total"))
            done = sum(b for b, _ in self._downloads.values())
            totals = [t for _, t in self._downloads.values()]
            total = sum(t for t in totals if t) if all(totals) else None
            self.status = f"Downloading {name}: {human_bytes(done)} of {human_bytes(total)}"
            self.fraction = done / total if total else None
        elif kind == "link" or kind == "unlink":
            done, total = event.get("done") or 0, event.get("total") or 0
            verb = "Linking" if kind == "link" else "Unlinking"
            self.status = f"{verb} {done}/{total}: {event.get('name', '?')}"
            self.fraction = done / total if total else None
        elif kind == "restore":
            self.status, self.fraction = "Restoring the environment's previous state...", None
        elif kind == "pip-start":
            self.status, self.fraction = "Installing the pip: section...", None
        elif kind == "usage-walk":
            self.status = "Measuring disk use..."
        else:
            return False
        return True
