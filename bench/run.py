"""Every figure of jupyter_envmgr against its floor and its peers, in one table.

    python -m bench [--quick] [--json FILE] [--markdown FILE] [--only 1,2,...] [--work DIR]

Figures (docs/bench.md says how each is measured):

1. solve+plan vs rattler.solve on every problem of ../shared/data/problems.json (<= 1.10x)
2. an env with a kernel (python ipykernel pyyaml), warm and cold package cache: envmgr create vs
   raw py-rattler (<= 1.2x), vs uv venv + uv pip install (goal <= 1.0x), vs python -m venv +
   pip install (reference)
3. a second env of the same packages: new data bytes / env size (< 2 %), and inodes
4. kernel discovery with 0/50/200 envs vs plain jupyter_client (<= 1.5x warm, < 30 ms cold)
5. event-loop stalls in the server during a 20k-file install and reads of the big env (< 50 ms)
6. usage walk over 50 envs vs a bare lstat walk (<= 1.5x)
7. server memory added while solving the largest problem (< 80 MB)
8. curves: solve and create time against requested packages (1/10/100) and envs (1/10/100)
9. envmgr --help (<= 150 ms) and `%envmgr list` in a kernel (<= 300 ms)
10. Create -> a running cell in chromium against a real JupyterLab vs raw py-rattler + a bare
   jupyter_client kernel (<= 1.10x, never over 3 s)
shared-cache. two users creating the same env from a site package cache: the second user's new
   bytes and inodes, with fs.protected_hardlinks 1 and 0 (information; needs root)

Each ratio comes from one run that alternates the two sides; figures are medians. `--quick`
(what .ci/run runs) uses small sizes and few runs and exits 0 even when a timing misses its
target (a busy CI machine is no verdict), but not when the bench itself breaks; the full run
exits 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    COLUMNS,
    ERROR,
    GOAL_MISSED,
    MISS,
    PASS,
    SKIP,
    Row,
    machine,
    print_table,
    row_cells,
)

Figure = Callable[[Path, bool], list[Row]]


def _figures() -> dict[str, tuple[str, Figure]]:
    # Imported here: each module imports what it measures (rattler, jupyter_client, ...).
    from bench import (
        browser_wait,
        create,
        curves,
        event_loop_stall,
        kernel_discovery,
        memory,
        shared_cache,
        solve,
        startup,
        usage_walk,
    )

    figures: dict[str, tuple[str, Figure]] = {
        "1": ("solve", solve.figure_solve),
        "2": ("create an env with a kernel", create.figure_create),
        "3": ("a second env of the same packages", create.figure_second_env),
        "4": ("kernel discovery", kernel_discovery.figure),
        "5": ("event-loop stalls", event_loop_stall.figure),
        "6": ("usage walk", usage_walk.figure),
        "7": ("server memory while solving", memory.figure),
        "8": ("curves", curves.figure),
        "9": ("start-up", startup.figure),
        "10": ("Create -> a running cell, in a browser", browser_wait.figure),
        "shared-cache": ("two users from a site package cache", shared_cache.figure),
    }
    try:  # the solver backends' own comparison (bench/solvers.py), when it is there
        from bench import solvers

        figures["solvers"] = (
            "solver backends: rattler vs libmamba (information)",
            lambda _work, quick: solvers.rows(2 if quick else 5),
        )
    except ImportError:
        pass
    return figures


def markdown_table(rows: list[Row], meta: dict[str, object]) -> str:
    lines = [
        f"Measured {meta['date_utc']} on {meta['cpus']} x {meta['cpu']}, {meta['memory_gb']} GB, "
        f"{meta['os']}, CPython {meta['python']}, py-rattler {meta['py-rattler']}, "
        f"uv {meta['uv']}, pip {meta['pip']} ({meta['mode']} mode; load average at start "
        f"{meta['load_average']}).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join(["---"] * len(COLUMNS)) + "|",
    ]
    for row in rows:
        cells = [c.replace("|", "\\|") for c in row_cells(row)]
        if row.result in (MISS, GOAL_MISSED, ERROR):
            cells[-1] = f"**{cells[-1]}**"
        lines.append("| " + " | ".join(cells) + " |")
    notes = [r for r in rows if r.note]
    if notes:
        lines.append("")
        lines += [f"- [{r.figure}] {r.what}: {r.note}" for r in notes]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few runs (CI)")
    parser.add_argument("--json", metavar="FILE", help="write every figure and sample as JSON")
    parser.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    parser.add_argument("--only", metavar="N,N", help="run only these figures (e.g. 1,2)")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a new temp dir)")
    args = parser.parse_args(argv)
    figures = _figures()
    wanted = [f.strip() for f in args.only.split(",")] if args.only else list(figures)
    unknown = [f for f in wanted if f not in figures]
    if unknown:
        parser.error(f"no figure {', '.join(unknown)}; choose from {', '.join(figures)}")

    meta = machine()
    meta["mode"] = "quick" if args.quick else "full"
    print(
        f"jupyter_envmgr bench, {meta['mode']} mode, {meta['date_utc']}: {meta['cpus']} x "
        f"{meta['cpu']}, {meta['memory_gb']} GB, {meta['os']}, CPython {meta['python']}, "
        f"py-rattler {meta['py-rattler']}, uv {meta['uv']}; load average {meta['load_average']}",
        flush=True,
    )
    work = args.work or Path(tempfile.mkdtemp(prefix="envmgr-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for key in wanted:
            title, figure = figures[key]
            t0 = time.perf_counter()
            print(f"[{key}] {title} ...", file=sys.stderr, flush=True)
            scratch = work / f"fig{key}"
            shutil.rmtree(scratch, ignore_errors=True)  # a --work DIR of an earlier run
            try:
                got = figure(scratch, args.quick)
            except Exception as exc:
                traceback.print_exc()
                got = [Row(key, title, "-", result=ERROR, note=f"{type(exc).__name__}: {exc}")]
            rows += got
            print(f"[{key}] {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    meta["seconds"] = round(time.perf_counter() - started, 1)
    meta["load_average_end"] = [round(x, 2) for x in os.getloadavg()]

    print()
    print_table(rows)
    misses = [r for r in rows if r.result == MISS]
    broken = [r for r in rows if r.result == ERROR]
    print(
        f"\n{sum(r.result == PASS for r in rows)} pass, {len(misses)} miss, "
        f"{sum(r.result == GOAL_MISSED for r in rows)} goal missed, "
        f"{sum(r.result == SKIP for r in rows)} skipped, {len(broken)} broken; "
        f"{meta['seconds']} s, load average at the end {meta['load_average_end']}"
    )
    if args.json:
        payload = {"meta": meta, "rows": [r.to_json() for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    if args.markdown:
        Path(args.markdown).write_text(markdown_table(rows, meta), encoding="utf-8")
    if broken:
        code = 2
    elif misses and not args.quick:
        code = 1
    else:
        code = 0
    if args.quick and misses:
        print("quick mode: timing misses are reported, not failed (see the full run)")
    sys.stdout.flush()
    sys.stderr.flush()
    return code


if __name__ == "__main__":
    code = main()
    # rattler may crash while the interpreter finalizes: leave without finalizing.
    os._exit(code)
