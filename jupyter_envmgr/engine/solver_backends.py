"""The solver interface: two backends that answer the same problem with the same records.

`solver.solve()` is what every operation calls; `Settings.solver` picks the backend:

- `rattler` (the default): `rattler.solve` (resolvo), in `solver.py`.
- `libmamba`: libmamba's libsolv solver, conda's default and mamba's only one
  (`solver_libmamba.py`), when libmambapy 2.x can be imported.

Both read the repodata rattler's Gateway fetched and cached, take the channels in priority
order, the requested specs, the locked (installed) records and the virtual packages, and return
the `RepoDataRecord`s that rattler links. An unsatisfiable request is `Unsatisfiable` from
either, with that backend's explanation. `solve_problem()` runs one backend on one `Problem`
without the rest of `solver.solve()` (events, dropping the in-memory repodata): the tests and
the bench compare the backends with it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rattler
from rattler.exceptions import SolverError

from .errors import BadInput, Unsatisfiable
from .rattler_guard import rattler_guard
from .settings import SolverName

LIBMAMBA_MAJOR = 2

VirtualPackage = rattler.VirtualPackage | rattler.GenericVirtualPackage


class SolverUnavailable(BadInput):
    """A solver was asked for that cannot run here (libmambapy missing or too old)."""


@dataclass(frozen=True)
class Problem:
    """What a backend solves: the same whichever backend it is."""

    channels: Sequence[rattler.Channel]  # priority order, the first one highest
    specs: Sequence[rattler.MatchSpec]
    locked: Sequence[rattler.RepoDataRecord] = ()  # kept unless they must move
    virtual_packages: Sequence[VirtualPackage] = ()
    platforms: Sequence[rattler.Subdir] = ()
    channel_priority: str = "strict"  # strict | flexible | disabled (as in Settings)


def unsatisfiable(explanation: str) -> Unsatisfiable:
    """The one wording of an unsatisfiable request, whichever backend explains it."""
    return Unsatisfiable(
        f"The request cannot be satisfied:\n{explanation.strip()}\nRelax a version, drop a "
        "package, or add a channel that has it."
    )


def libmamba_version() -> str | None:
    """libmambapy's version when it can be imported, else None."""
    from .solver_libmamba import import_libmambapy

    try:
        return str(import_libmambapy().__version__)
    except SolverUnavailable:
        return None


def require_solver(name: SolverName) -> None:
    """Raise SolverUnavailable, saying how to get it, unless `name` can solve here."""
    if name == "libmamba":
        from .solver_libmamba import import_libmambapy

        import_libmambapy()


def solver_status(name: SolverName) -> dict[str, Any]:
    """What `envmgr info` and /settings add about solvers."""
    version = libmamba_version()
    return {"solver": name, "libmamba_available": version is not None, "libmamba_version": version}


def libmamba_missing_message(found: str | None) -> str:
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


async def solve_problem(
    name: SolverName, gateway: rattler.Gateway, problem: Problem
) -> list[rattler.RepoDataRecord]:
    """One backend on one problem, with the repodata `gateway` has (or fetches and caches)."""
    if name == "libmamba":
        from .solver_libmamba import solve_problem as solve_with_libmamba

        return await solve_with_libmamba(gateway, problem)
    # The call solver.solve() makes.
    try:
        with rattler_guard("solving"):
            return await rattler.solve(
                list(problem.channels),
                list(problem.specs),
                gateway=gateway,
                platforms=list(problem.platforms),
                locked_packages=list(problem.locked),
                virtual_packages=list(problem.virtual_packages),
                channel_priority=(
                    rattler.ChannelPriority.Disabled
                    if problem.channel_priority == "disabled"
                    else rattler.ChannelPriority.Strict
                ),
            )
    except SolverError as exc:
        raise unsatisfiable(str(exc) or type(exc).__name__) from None
