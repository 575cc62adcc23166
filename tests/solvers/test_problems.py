"""Every problem in shared/data/problems.json (real repodata), with both backends: each agrees
with the reference on satisfiable vs unsatisfiable, every solution passes the independent
check, and both backends agree with each other. Where they choose differently (openblas vs mkl,
an older build), the table after the tests says so: that is not a failure."""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from functools import cache
from pathlib import Path

import pytest
import rattler

from jupyter_envmgr.engine.errors import Unsatisfiable
from jupyter_envmgr.engine.solution_check import solution_problems
from jupyter_envmgr.engine.solver import solve_problem
from jupyter_envmgr.engine.solver_interface import Problem

from .conftest import needs_libmamba
from .report import PROBLEM_ROWS, difference, outcome

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
PROBLEMS_FILE = DATA / "problems.json"
PROBLEMS = json.loads(PROBLEMS_FILE.read_text()) if PROBLEMS_FILE.is_file() else []
# What the reference runs used (shared/data/README.md): the same on every machine.
VIRTUAL = [
    rattler.GenericVirtualPackage(
        rattler.PackageName(name), rattler.Version(version), rattler.BuildString(build)
    )
    for name, version, build in [
        ("__glibc", "2.35", "0"),
        ("__unix", "0", "0"),
        ("__linux", "6.0", "0"),
        ("__archspec", "1", "x86_64"),
    ]
]

# CI clones the repo beside ../shared: there a missing file fails the tests instead.
pytestmark = pytest.mark.skipif(
    not PROBLEMS and not os.environ.get("CI"), reason=f"no {PROBLEMS_FILE} beside the repo"
)


def problem_id(index: int) -> str:
    p = PROBLEMS[index]
    return f"{index:02d}-{p['channel']}-{len(p['specs'])}specs"


def problem(index: int) -> Problem:
    p = PROBLEMS[index]
    return Problem(
        channels=[(DATA / p["channel"]).as_uri()],
        specs=[rattler.MatchSpec(s) for s in p["specs"]],
        virtual_packages=VIRTUAL,
        platforms=[rattler.Subdir("linux-64"), rattler.Subdir("noarch")],
    )


@cache
def _gateway() -> rattler.Gateway:
    return rattler.Gateway(cache_dir=Path(tempfile.mkdtemp(prefix="envmgr-problems-")) / "cache")


@cache
def solved(solver: str, index: int) -> tuple[list[rattler.RepoDataRecord] | None, str]:
    """(records, "") or (None, the backend's explanation)."""
    try:
        return asyncio.run(solve_problem(solver, _gateway(), problem(index))), ""
    except Unsatisfiable as exc:
        return None, exc.message


INDEXES = [pytest.param(i, id=problem_id(i)) for i in range(len(PROBLEMS))]


def test_the_real_problems_are_there():
    # Without them the tests below would have no parameters, and pass by saying nothing.
    assert len(PROBLEMS) >= 10, f"{PROBLEMS_FILE} is missing or nearly empty"


@pytest.mark.parametrize("index", INDEXES)
def test_each_backend_solves_the_problem_validly(solver, index):
    records, explanation = solved(solver, index)
    assert (records is None) == PROBLEMS[index]["unsatisfiable"], explanation
    if records is None:
        assert explanation.strip(), "an unsatisfiable request must say why"
        return
    specs = problem(index).specs
    assert solution_problems(records, requested=specs, virtual_packages=VIRTUAL) == []


@needs_libmamba
@pytest.mark.parametrize("index", INDEXES)
def test_backends_agree_on_satisfiable_and_both_solutions_hold(index):
    ours, _ = solved("rattler", index)
    theirs, _ = solved("libmamba", index)
    agree = (ours is None) == (theirs is None)
    diff = "" if ours is None or theirs is None else difference(ours, theirs)
    PROBLEM_ROWS.append(
        (problem_id(index), outcome(ours), outcome(theirs), "yes" if agree else "NO", diff)
    )
    assert agree
