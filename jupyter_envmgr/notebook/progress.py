"""Progress of a CLI run shown in the cell: a bar when ipywidgets is there, else a text line
updated in place. Fed the CLI's JSON events (solve, download bytes, link counts, lock waits);
what they say is ProgressState's (progress_text.py, through _shared.py), shared with the CLI."""

# mypy: strict-equality
# (so that comparing an EventKind with a kind the list lacks is a type error)

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ._shared import ProgressState

if TYPE_CHECKING:  # only: in an env's kernel this folder runs without jupyter_envmgr
    from ..events import CliLineKind, EventKind

    Kind = EventKind | CliLineKind | None  # a line of the CLI's --json output


class ProgressView:
    """Displays a ProgressState in the cell, at most a few times a second."""

    def __init__(self, min_interval: float = 0.1) -> None:
        self.state = ProgressState()
        self._min_interval = min_interval
        self._last = 0.0
        self._widget: Any = None
        self._handle: Any = None
        self._ending: str | None = None  # the bar's style once the run ended
        self._show()

    def on_event(self, event: dict[str, Any]) -> None:
        if not self.state.update(event):
            return
        now = time.monotonic()
        # Lock waits and phase changes always show; byte counts are throttled.
        kind: Kind = event.get("event")
        if kind == "lock-wait" or kind == "restore" or now - self._last >= self._min_interval:
            self._last = now
            self._refresh()

    def close(self, final: str | None = None, *, failed: bool = False) -> None:
        """The run ended; ``final`` says how. A run that finished fills the bar, green; one that
        failed or was interrupted turns it red where it stopped (a full bar would say it got
        through)."""
        if final is not None:
            self.state.status = final
        if failed:
            self._ending = "danger"
        else:
            self._ending = "success"
            self.state.fraction = 1.0
        self._refresh()

    @property
    def bar(self) -> Any:
        """The bar (an ipywidgets FloatProgress), or None when the view is a text line."""
        return self._widget[0] if self._widget is not None else None

    def _show(self) -> None:
        try:
            import ipywidgets as widgets
        except ImportError:
            widgets = None
        if widgets is not None:
            bar = widgets.FloatProgress(min=0.0, max=1.0, value=0.0)
            label = widgets.Label(self.state.status)
            self._widget = (bar, label)
            _display(widgets.HBox([bar, label]))
            return
        self._handle = _display_text(self.state.status)

    def _refresh(self) -> None:
        if self._widget is not None:
            bar, label = self._widget
            label.value = self.state.status
            if self.state.fraction is not None:
                bar.value = max(0.0, min(1.0, self.state.fraction))
            if self._ending is not None:
                bar.bar_style = self._ending
            else:
                bar.bar_style = "info" if self.state.fraction is None else ""
        elif self._handle is not None:
            self._handle.update({"text/plain": self.state.status}, raw=True)


def _display(obj: Any) -> None:
    try:
        from IPython.display import display
    except ImportError:
        return
    display(obj)


def _display_text(text: str) -> Any:
    try:
        from IPython.display import display
    except ImportError:
        print(text)
        return None
    return display({"text/plain": text}, raw=True, display_id=True)
