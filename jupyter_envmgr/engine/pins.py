"""`conda-meta/pinned`: one MatchSpec a line, which every solve in the env must respect (as
conda and micromamba honour it; `--no-pin` ignores the file for one command).

A pin constrains without requesting: `numpy 1.26.*` keeps numpy at 1.26 if anything installs
it, and installs nothing by itself (the solver's `constraints`, libmamba's pin jobs).
"""

from __future__ import annotations

from pathlib import Path

import rattler

from .errors import BadInput
from .prefix import META

PINNED = "pinned"


def pinned_file(prefix: Path) -> Path:
    return prefix / META / PINNED


def read_pins(prefix: Path) -> list[rattler.MatchSpec]:
    """The env's pins; none when it has no pinned file. A line that is no spec is bad input
    naming the file and the line, before anything is solved."""
    path = pinned_file(prefix)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}. Fix it, or pass --no-pin.") from None
    pins = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            pins.append(rattler.MatchSpec(line))
        except Exception as exc:
            raise BadInput(
                f"{path}, line {number}: {line!r} is not a package spec ({exc}). Fix or remove "
                "that line, or pass --no-pin to ignore the file."
            ) from None
    return pins
