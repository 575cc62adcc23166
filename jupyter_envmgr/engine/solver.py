"""The one way into a solve: `solve()` for an operation, `solve_problem()` for one `Problem`.

`solve()` is what every operation calls: it makes the `Problem` (the channels in priority
order, the requested specs, the locked records, the detected virtual packages, the settings'
channel priority), drops the repodata that may be stale (`gateway.py`) and hands the problem to
`solve_problem()`, which reports the `solve-start` and `solve-done` events and runs the backend
`Settings.solver` names:

- `rattler` (the default): `rattler.solve` (resolvo), `solver_rattler.py`.
- `libmamba`: libmamba's libsolv solver (`solver_libmamba.py`), when libmambapy 2.x can be
  imported.

The solver tests and the bench call `solve_problem()` too: the path production takes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import rattler

from . import solver_rattler
from .gateway import PLATFORMS, drop_stale_repodata, gateway_for, virtual_packages
from .platforms import foreign_virtual_packages, is_foreign
from .progress import Event, EventSink, ignore_events
from .settings import Settings, SolverName
from .solver_interface import Problem, SolverUnavailable


async def solve(
    settings: Settings,
    channels: Sequence[str],
    specs: Sequence[rattler.MatchSpec],
    *,
    locked: Sequence[rattler.RepoDataRecord] = (),
    constraints: Sequence[rattler.MatchSpec] = (),
    platform: rattler.Subdir | None = None,
    on_event: EventSink = ignore_events,
) -> list[rattler.RepoDataRecord]:
    """The records to install, by the settings' solver backend; it reads the repodata of the
    settings' gateway, which sees changed channels first. `platform`: another subdir than this
    machine's (`--platform`), with its assumed virtual packages (platforms.py)."""
    require_solver(settings.solver)  # unavailable: said before anything starts
    foreign = platform if platform is not None and is_foreign(platform) else None
    problem = Problem(
        channels=list(channels),
        specs=list(specs),
        locked=list(locked),
        constraints=list(constraints),
        virtual_packages=foreign_virtual_packages(foreign) if foreign else virtual_packages(),
        platforms=[foreign, rattler.Subdir("noarch")] if foreign else PLATFORMS,
        channel_priority=settings.channel_priority,
    )
    gateway = gateway_for(settings)
    drop_stale_repodata(gateway, settings.pkgs_dir, channels)
    return await solve_problem(settings.solver, gateway, problem, on_event=on_event)


async def solve_problem(
    name: SolverName,
    gateway: rattler.Gateway,
    problem: Problem,
    *,
    on_event: EventSink = ignore_events,
) -> list[rattler.RepoDataRecord]:
    """Backend `name` on `problem`, with the repodata `gateway` has (or fetches and caches)."""
    require_solver(name)
    specs = [str(s) for s in problem.specs]
    start = {"specs": specs, "channels": list(problem.channels)}
    if problem.constraints:
        start["constraints"] = [str(s) for s in problem.constraints]
    if problem.platforms and problem.platforms != PLATFORMS:
        start["platforms"] = [str(p) for p in problem.platforms]
    on_event(Event("solve-start", start))
    started = time.monotonic()
    if name == "libmamba":
        from . import solver_libmamba  # loaded when asked for: the default solves without it

        records = await solver_libmamba.solve(gateway, problem)
    else:
        records = await solver_rattler.solve(gateway, problem)
    seconds = round(time.monotonic() - started, 3)
    on_event(Event("solve-done", {"records": len(records), "seconds": seconds}))
    return records


def require_solver(name: SolverName) -> None:
    """Raise SolverUnavailable, saying how to get it, unless `name` can solve here."""
    if name == "libmamba":
        from . import solver_libmamba

        solver_libmamba.import_libmambapy()


def libmamba_version() -> str | None:
    """libmambapy's version when it can be imported, else None."""
    from . import solver_libmamba

    try:
        return str(solver_libmamba.import_libmambapy().__version__)
    except SolverUnavailable:
        return None


def solver_status(name: SolverName) -> dict[str, Any]:
    """What `envmgr info` and /settings add about solvers."""
    version = libmamba_version()
    return {"solver": name, "libmamba_available": version is not None, "libmamba_version": version}
