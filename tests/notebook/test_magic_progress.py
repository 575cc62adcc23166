"""What `%envmgr` shows while it runs, over the real CLI on a sandbox (ipywidgets is installed
here, so the progress is a bar): a read shows no bar; a failed run's bar turns red where it
stopped, never a full bar; a finished one is full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_envmgr.notebook import magics
from jupyter_envmgr.notebook.progress import ProgressView


@pytest.fixture
def bars(monkeypatch: pytest.MonkeyPatch) -> list[ProgressView]:
    """Every progress view the magic puts in the cell, in order."""
    shown: list[ProgressView] = []

    class Recorded(ProgressView):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            shown.append(self)

    monkeypatch.setattr(magics, "ProgressView", Recorded)
    return shown


def test_a_listing_shows_its_answer_and_no_bar(
    env: Path, bars: list[ProgressView], capsys: pytest.CaptureFixture[str]
) -> None:
    magics.EnvmgrMagics(None).envmgr(f"list -p {env}")
    assert "delta" in capsys.readouterr().out
    assert bars == []


def test_a_failed_run_turns_its_bar_red_where_it_stopped(
    env: Path, bars: list[ProgressView], capsys: pytest.CaptureFixture[str]
) -> None:
    magics.EnvmgrMagics(None).envmgr(f"install -p {env} no-such-package")
    assert "no-such-package" in capsys.readouterr().err
    (view,) = bars
    assert view.state.status == "Failed."
    assert view.bar.bar_style == "danger"
    assert view.bar.value < 1.0  # it did not get through: not a full bar


def test_a_finished_run_fills_its_bar(env: Path, bars: list[ProgressView]) -> None:
    magics.EnvmgrMagics(None).envmgr(f"install -p {env} delta=1.0 --dry-run")
    (view,) = bars
    assert view.state.status == "Done."
    assert (view.bar.value, view.bar.bar_style) == (1.0, "success")
