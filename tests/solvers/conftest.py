"""Both solver backends for every test here that takes `solver`; the libmamba one skips, saying
why, only when libmambapy cannot be imported (and never under CI). Where the backends chose
differently on a real problem, the table at the end of the run says so."""

from __future__ import annotations

import os

import pytest

from jupyter_envmgr.engine.solver import require_solver
from jupyter_envmgr.engine.solver_interface import SolverUnavailable

from .report import PROBLEM_ROWS, table


def _libmamba_missing() -> str | None:
    try:
        require_solver("libmamba")
    except SolverUnavailable as exc:
        return exc.message
    return None


LIBMAMBA_MISSING = _libmamba_missing()
# A skip on a developer's machine only: .ci/run installs libmambapy (../shared/wheels), so under
# CI the libmamba tests run, and a backend that cannot load fails them.
needs_libmamba = pytest.mark.skipif(
    LIBMAMBA_MISSING is not None and not os.environ.get("CI"),
    reason=f"libmambapy cannot be imported: {LIBMAMBA_MISSING}",
)


@pytest.fixture(params=["rattler", pytest.param("libmamba", marks=needs_libmamba)])
def solver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_terminal_summary(terminalreporter) -> None:
    if PROBLEM_ROWS:
        terminalreporter.section("solvers: the problems in shared/data/problems.json")
        for line in table(PROBLEM_ROWS):
            terminalreporter.write_line(line)
