"""Both solver backends on every problem of shared/data/problems.json (real repodata).

    python -m bench.solvers [--runs N] [--json] [--data DIR]
    bench/run.py: "10": ("solvers: rattler vs libmamba", solvers.figure)

Per problem: the median of N in-process solves with each backend, alternating, on one warm
rattler.Gateway (one untimed round first loads the repodata), as problems.json's reference
times were taken; whether both backends agree on satisfiable; the solution sizes. The libmamba
time is the whole backend: the records from the gateway, libsolv's pool, the solve, and the
mapping back to rattler's records. Both go through `solver.solve_problem`, the call every solve
makes and the tests compare the backends with. `figure(work, quick)` gives bench/run.py one Row
per problem: ours is rattler, the peer libmamba, the ratio rattler/libmamba; MISS only if they
disagree on whether a problem can be solved, SKIP (saying why) without libmambapy or without
shared/data.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rattler

from bench.common import INFO, MISS, REPO, SKIP, Row, alternate, fmt_seconds
from jupyter_envmgr.engine.errors import Unsatisfiable
from jupyter_envmgr.engine.solver import require_solver, solve_problem
from jupyter_envmgr.engine.solver_interface import Problem, SolverUnavailable

FIGURE = "10"
DEFAULT_DATA = REPO.parent / "shared" / "data"
# The virtual packages of the reference runs (shared/data/README.md).
VIRTUAL = [("__glibc", "2.35", "0"), ("__unix", "0", "0"), ("__linux", "6.0", "0"),
           ("__archspec", "1", "x86_64")]  # fmt: skip


def _problem(data: Path, entry: dict[str, Any]) -> Problem:
    return Problem(
        channels=[(data / entry["channel"]).as_uri()],
        specs=[rattler.MatchSpec(s) for s in entry["specs"]],
        virtual_packages=[
            rattler.GenericVirtualPackage(
                rattler.PackageName(n), rattler.Version(v), rattler.BuildString(b)
            )
            for n, v, b in VIRTUAL
        ],
        platforms=[rattler.Subdir("linux-64"), rattler.Subdir("noarch")],
    )


def _label(index: int, entry: dict[str, Any]) -> str:
    specs = entry["specs"]
    shown = " ".join(specs[:3]) + (f" +{len(specs) - 3}" if len(specs) > 3 else "")
    return f"solvers {index:02d} {entry['channel']}: {shown}"


def figure(work: Path, quick: bool, data: Path | None = None, key: str = FIGURE) -> list[Row]:
    """bench/run.py's figure: `work` is unused (the gateway caches in a temp folder)."""
    return rows(2 if quick else 5, data or DEFAULT_DATA, key)


def rows(runs: int = 5, data: Path = DEFAULT_DATA, key: str = FIGURE) -> list[Row]:
    problems_file = data / "problems.json"
    if not problems_file.is_file():
        return [Row(key, "solvers: problems.json", "-", result=SKIP, note=f"no {problems_file}")]
    problems: list[dict[str, Any]] = json.loads(problems_file.read_text())
    try:
        require_solver("libmamba")
        backends = ["rattler", "libmamba"]
        missing = ""
    except SolverUnavailable as exc:
        backends = ["rattler"]
        missing = exc.message
    loop = asyncio.new_event_loop()
    gateway = rattler.Gateway(cache_dir=Path(tempfile.mkdtemp(prefix="bench-solvers-")) / "cache")
    out = []
    try:
        for index, entry in enumerate(problems):
            timer = _Timer(loop, gateway, _problem(data, entry))
            samples = alternate({b: timer.side(b) for b in backends}, runs)
            out.append(_row(key, index, entry, samples, timer.sizes, missing))
    finally:
        loop.close()
    return out


class _Timer:
    """One problem's timed solves: seconds per solve, and each backend's solution size."""

    def __init__(self, loop: asyncio.AbstractEventLoop, gateway: Any, problem: Problem) -> None:
        self.loop, self.gateway, self.problem = loop, gateway, problem
        self.sizes: dict[str, int | None] = {}

    async def _once(self, backend: Any) -> float:
        start = time.perf_counter()
        try:
            records = await solve_problem(backend, self.gateway, self.problem)
            self.sizes[backend] = len(records)
        except Unsatisfiable:
            self.sizes[backend] = None
        return time.perf_counter() - start

    def side(self, backend: str) -> Callable[[int], float]:
        return lambda _run: self.loop.run_until_complete(self._once(backend))


def _row(
    key: str,
    index: int,
    entry: dict[str, Any],
    samples: dict[str, list[float]],
    sizes: dict[str, int | None],
    missing: str,
) -> Row:
    def size(backend: str) -> str:
        return "unsat" if sizes.get(backend) is None else str(sizes[backend])

    rattler_s = statistics.median(samples["rattler"])
    reference = f"reference rattler {entry['rattler_solve_ms_median']:.1f} ms"
    data: dict[str, Any] = {
        "specs": entry["specs"],
        "channel": entry["channel"],
        "rattler_s": samples["rattler"],
        "rattler_records": sizes.get("rattler"),
        "reference_rattler_ms": entry["rattler_solve_ms_median"],
        "reference_records": entry["records"],
    }
    if "libmamba" not in samples:
        return Row(key, _label(index, entry), fmt_seconds(rattler_s), "libmamba -",
                   result=SKIP, note=f"{missing} ({reference})", data=data)  # fmt: skip
    libmamba_s = statistics.median(samples["libmamba"])
    agree = (sizes.get("rattler") is None) == (sizes.get("libmamba") is None)
    data.update(libmamba_s=samples["libmamba"], libmamba_records=sizes.get("libmamba"),
                agree=agree)  # fmt: skip
    return Row(
        key,
        _label(index, entry),
        fmt_seconds(rattler_s),
        f"libmamba {fmt_seconds(libmamba_s)}",
        rattler_s / libmamba_s if libmamba_s > 0 else None,
        result=INFO if agree else MISS,
        note=f"{'agree' if agree else 'DISAGREE'}; records {size('rattler')} / "
        f"{size('libmamba')}; {reference}",
        data=data,
    )


def _cells(row: Row) -> tuple[str, ...]:
    d = row.data
    if not d:
        return (row.what.removeprefix("solvers "), "", "", "", "", row.note)

    def ms(key: str) -> str:
        return f"{statistics.median(d[key]) * 1000:.1f}" if key in d else "-"

    def n(key: str) -> str:
        return "-" if key not in d else "unsat" if d[key] is None else str(d[key])

    agree = "-" if "agree" not in d else "yes" if d["agree"] else "NO"
    sizes = f"{n('rattler_records')}/{n('libmamba_records')}"
    return (row.what.removeprefix("solvers "), ms("rattler_s"), ms("libmamba_s"), agree, sizes,
            f"{d['reference_rattler_ms']:.1f}")  # fmt: skip


def table(out: list[Row]) -> str:
    """problem, rattler ms, libmamba ms, agree, records rattler/libmamba, reference ms."""
    head = ("problem", "rattler ms", "libmamba ms", "agree", "records r/l", "reference ms")
    lines = [head, *(_cells(row) for row in out)]
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    return "\n".join(
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                  for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in lines
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.solvers", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="timed solves per backend")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared/data folder")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    out = rows(args.runs, args.data)
    if args.json:
        print(json.dumps([r.to_json() for r in out], indent=1))
    else:
        print(table(out))
        skipped = [r.note for r in out if r.result == SKIP and r.data]
        if skipped:
            print(f"\nlibmamba not measured: {skipped[0]}")
    return 1 if any(r.result == MISS for r in out) else 0


if __name__ == "__main__":
    sys.exit(main())
