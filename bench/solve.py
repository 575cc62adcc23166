"""Figure 1: the engine's solve and plan against `rattler.solve`, on real repodata.

Every problem of ../shared/data/problems.json (real conda-forge, Anaconda and pixi repodata,
metadata only), in one process, on a warm `rattler.Gateway` as a running server has it: ours is
`solver.solve()` (what `operations.execute` calls: the channels' in-memory repodata checked for
changes, then `rattler.solve` with strict priority) plus `plan.make_plan()`; the peer is
`rattler.solve` with the same channel, specs, platforms and virtual packages (those the
problems were recorded with), on the same gateway: two gateways holding the same repodata
differ by a few per cent in solve time on their own, which would drown the engine's cost.
Alternating, medians.

Also the solve part of figure 8: solve time against the number of requested packages, on a
synthetic channel of small packages (bench/curves.py builds it).

    python bench/solve.py [--quick] [--data DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rattler
from rattler.package.build_string import BuildString

from bench.common import Row, Sandbox, alternate, ratio_row
from jupyter_envmgr.engine import gateway, solver
from jupyter_envmgr.engine.errors import Unsatisfiable
from jupyter_envmgr.engine.plan import make_plan
from jupyter_envmgr.engine.settings import Settings, load_settings

LIMIT = 1.10
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The virtual packages the reference times in problems.json were recorded with.
REFERENCE_VIRTUAL = (
    ("__glibc", "2.35", "0"),
    ("__unix", "0", "0"),
    ("__linux", "6.0", "0"),
    ("__archspec", "1", "x86_64"),
)
PLATFORMS = [rattler.Subdir("linux-64"), rattler.Subdir("noarch")]


def data_dir(given: Path | None = None) -> Path | None:
    for candidate in (given, os.environ.get("ENVMGR_BENCH_DATA"), DEFAULT_DATA):
        if candidate and (Path(candidate) / "problems.json").is_file():
            return Path(candidate)
    return None


def reference_virtual_packages() -> list[rattler.GenericVirtualPackage]:
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), BuildString(build)
        )
        for name, version, build in REFERENCE_VIRTUAL
    ]


def use_virtual_packages(packages: list[Any]) -> None:
    """Make the engine solve with `packages` (as the peer does) instead of detecting them."""
    gateway._virtual_packages = packages


def problem_label(problem: dict[str, Any]) -> str:
    specs = " ".join(problem["specs"])
    if len(specs) > 34:
        specs = specs[:31] + "..."
    size = f"{problem['records']} rec" if problem["records"] is not None else "unsat"
    return f"{problem['channel']}: {specs} ({size})"


class Sides:
    """Our solve+plan and rattler's solve for one channel and spec list, each on its own warm
    gateway."""

    def __init__(self, settings: Settings, raw_gateway: rattler.Gateway, prefix: Path) -> None:
        self.settings = settings
        self.raw_gateway = raw_gateway
        self.prefix = prefix
        # One event loop for every run, as a server has.
        self.loop = asyncio.new_event_loop()

    async def ours(self, url: str, specs: list[rattler.MatchSpec]) -> int | None:
        try:
            records = await solver.solve(self.settings, [url], specs)
        except Unsatisfiable:
            return None
        plan = make_plan(self.prefix, [], records, self.settings.pkgs_dirs)
        return len(plan.to_link)

    async def peer(self, url: str, specs: list[rattler.MatchSpec]) -> int | None:
        try:
            records = await rattler.solve(
                [rattler.Channel(url)],
                specs,
                gateway=self.raw_gateway,
                platforms=PLATFORMS,
                virtual_packages=gateway._virtual_packages,
            )
        except rattler.exceptions.SolverError:
            return None
        return len(records)

    def timed(self, which: str, url: str, specs: list[rattler.MatchSpec]) -> float:
        side = self.ours if which == "ours" else self.peer

        async def run() -> float:
            start = time.perf_counter()
            await side(url, specs)
            return time.perf_counter() - start

        return self.loop.run_until_complete(run())


def make_sides(work: Path) -> Sides:
    box = Sandbox(work / "solve")
    settings = load_settings(
        env={
            "HOME": str(box.home),
            "MAMBA_ROOT_PREFIX": str(box.root),
            "CONDA_PKGS_DIRS": str(box.pkgs),
        }
    )
    # The engine's own gateway, warm: the peer solves on it too (see the module's docstring).
    return Sides(settings, solver.gateway_for(settings), box.root / "envs" / "planned")


def compare(sides: Sides, url: str, specs: list[str], runs: int) -> dict[str, list[float]]:
    match = [rattler.MatchSpec(s) for s in specs]
    return alternate(
        {
            "ours": lambda _i: sides.timed("ours", url, match),
            "peer": lambda _i: sides.timed("peer", url, match),
        },
        runs,
        warmup=1,  # loads the repodata into the gateway
    )


def figure_solve(work: Path, quick: bool, data: Path | None = None) -> list[Row]:
    found = data_dir(data)
    if found is None:
        return [Row("1", "solve: problems.json", "-", result="SKIP", note="no ../shared/data here")]
    problems = json.loads((found / "problems.json").read_text())
    if quick:  # the smallest and the largest solve
        problems = [min(problems, key=_size), max(problems, key=_size)]
    use_virtual_packages(reference_virtual_packages())
    sides = make_sides(work)
    runs = 5 if quick else 21  # solves take milliseconds: many runs are cheap
    rows = []
    for problem in problems:
        url = (found / problem["channel"]).as_uri()
        samples = compare(sides, url, problem["specs"], runs)
        row = ratio_row(
            "1",
            f"solve+plan {problem_label(problem)}",
            samples["ours"],
            "rattler.solve",
            samples["peer"],
            limit=LIMIT,
        )
        row.data["reference_ms"] = problem["rattler_solve_ms_median"]
        rows.append(row)
    return rows


def _size(problem: dict[str, Any]) -> int:
    return problem["records"] or 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data", type=Path, help=f"folder of problems.json ({DEFAULT_DATA})")
    args = parser.parse_args()
    import tempfile

    from bench.common import print_table

    with tempfile.TemporaryDirectory(prefix="envmgr-bench-solve-") as tmp:
        rows = figure_solve(Path(tmp), args.quick, args.data)
    print_table(rows)
    sys.stdout.flush()
    os._exit(1 if any(r.result == "MISS" for r in rows) else 0)


if __name__ == "__main__":
    main()
