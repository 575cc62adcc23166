"""What every solver backend is given and how it fails, whichever backend it is.

`solver.py` turns a request into a `Problem` and hands it to a backend: `solver_rattler.py`
(`rattler.solve`, resolvo; the default) or `solver_libmamba.py` (libmamba's libsolv solver,
conda's default and mamba's only one, when libmambapy 2.x can be imported). Each backend is
`async def solve(gateway, problem) -> list[RepoDataRecord]`: it reads the repodata of the
gateway (`gateway.py`) and returns the records rattler links. An unsatisfiable request is
`unsatisfiable(...)` from either, with that backend's explanation.

This module imports no backend, so backends, the dispatcher and the solution check can all
import it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

import rattler

from .errors import BadInput, Unsatisfiable

LIBMAMBA_MAJOR = 2

VirtualPackage = rattler.VirtualPackage | rattler.GenericVirtualPackage


class SolverUnavailable(BadInput):
    """A solver was asked for that cannot run here (libmambapy missing or too old)."""


@dataclass(frozen=True)
class Problem:
    """What a backend solves: the same whichever backend it is."""

    channels: Sequence[str]  # canonical channel URLs, priority order, the first one highest
    specs: Sequence[rattler.MatchSpec]
    locked: Sequence[rattler.RepoDataRecord] = ()  # kept unless they must move
    # Pins (conda-meta/pinned): they bind a package if it is installed, and install nothing.
    constraints: Sequence[rattler.MatchSpec] = ()
    virtual_packages: Sequence[VirtualPackage] = ()
    platforms: Sequence[rattler.Subdir] = ()
    channel_priority: str = "strict"  # strict | flexible | disabled (as in Settings)


def unsatisfiable(explanation: str) -> Unsatisfiable:
    """The one wording of an unsatisfiable request, whichever backend explains it."""
    return Unsatisfiable(
        f"The request cannot be satisfied:\n{explanation.strip()}\nRelax a version, drop a "
        "package, or add a channel that has it."
    )


def libmamba_missing_message(found: str | None) -> str:
    """Why the libmamba solver cannot run here (`found`: the libmambapy version that is
    installed but too old), and how to get it."""
    where = f"the Python that runs envmgr ({sys.executable})"
    what = (
        f"libmambapy {found} is installed, but the libmamba solver needs libmambapy "
        f"{LIBMAMBA_MAJOR}.x"
        if found
        else f"libmambapy {LIBMAMBA_MAJOR}.x is not installed"
    )
    return (
        f"The libmamba solver was asked for, but {what} in {where}. libmambapy is not on PyPI: "
        f"install it from conda-forge into that environment with `conda install -c "
        f"conda-forge 'libmambapy>={LIBMAMBA_MAJOR}'` (or `micromamba install -c conda-forge "
        f"'libmambapy>={LIBMAMBA_MAJOR}'`), or use the default solver (--solver rattler, or "
        "'solver: rattler' in your .condarc)."
    )
