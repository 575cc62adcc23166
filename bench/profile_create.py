"""Where a warm `envmgr create` spends its time, next to raw py-rattler (figure 2, explained).

Each run is a new process, as a user's: `envmgr create -p NEW -c MAIN --override-channels
python ipykernel pyyaml -y` with the engine's steps wrapped by timers (their code unchanged),
and bench/raw_rattler.py's import, solve and install timed the same way. Medians over the runs,
the two alternating. The process's wall time minus what the timers saw is the interpreter's
start and exit.

`--envs N`: the small create of figure 8 instead, `envmgr create -n NEW -c CURVE cpkg000 -y`
with N envs in the root whose kernels are already synced (bench/curves.py), where the fixed
costs are most of the time.

    python bench/profile_create.py [--runs N] [--envs N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# (module, attribute, phase): the steps of a create, in order.
STEPS = [
    ("jupyter_envmgr.cli.session", "Session.__init__", "settings (Session)"),
    ("jupyter_envmgr.engine.operations", "prepare", "prepare (specs, channels, policy)"),
    ("jupyter_envmgr.engine.solver", "gateway_for", "solve: gateway"),
    ("jupyter_envmgr.engine.solver", "virtual_packages", "solve: virtual packages"),
    ("rattler", "solve", "solve: rattler.solve"),
    ("jupyter_envmgr.engine.operations", "make_plan", "plan"),
    ("jupyter_envmgr.engine.operations", "prefix_lock", "lock (enter)"),
    ("jupyter_envmgr.engine.transaction", "archive_records", "journal: archive current records"),
    ("jupyter_envmgr.engine.transaction", "write_journal", "journal: write"),
    ("rattler", "install", "rattler.install (link, placeholders, records)"),
    ("jupyter_envmgr.engine.transaction", "_finish", "after install: archive + drop journal"),
    ("jupyter_envmgr.engine.operations", "_commit_history", "history"),
    ("jupyter_envmgr.engine.operations", "register_env", "environments.txt"),
]

CHILD = r"""
import asyncio, functools, importlib, json, sys, time
T0 = time.perf_counter()
spent = {}
def add(phase, seconds):
    spent[phase] = spent.get(phase, 0.0) + seconds
def wrap(owner, name, phase):
    original = getattr(owner, name, None)
    if original is None:
        return
    if asyncio.iscoroutinefunction(original):
        async def timed(*a, **k):
            s = time.perf_counter()
            try:
                return await original(*a, **k)
            finally:
                add(phase, time.perf_counter() - s)
    elif name == "prefix_lock":
        import contextlib
        @contextlib.asynccontextmanager
        async def timed(*a, **k):
            s = time.perf_counter()
            async with original(*a, **k):
                add(phase, time.perf_counter() - s)
                yield
    else:
        def timed(*a, **k):
            s = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                add(phase, time.perf_counter() - s)
    functools.update_wrapper(timed, original)
    setattr(owner, name, timed)
mode, steps, argv = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
if mode == "raw":
    import asyncio, os, rattler
    add("imports (asyncio, rattler)", time.perf_counter() - T0)
    for module, attr, phase in steps:
        if module == "rattler":
            wrap(rattler, attr, phase)
    url, prefix, pkgs, *specs = argv
    s = time.perf_counter()
    gw = rattler.Gateway(cache_dir=os.path.join(pkgs, "cache"))
    vp = rattler.VirtualPackage.detect()
    add("solve: gateway", time.perf_counter() - s)
    async def main():
        records = await rattler.solve([rattler.Channel(url)], specs, gateway=gw,
            platforms=[rattler.Subdir.current(), rattler.Subdir("noarch")], virtual_packages=vp)
        await rattler.install(records, prefix, cache_dir=pkgs, show_progress=False)
    asyncio.run(main())
else:
    from jupyter_envmgr.cli.main import run_cli
    import jupyter_envmgr.cli.solve_cmds, jupyter_envmgr.engine.operations
    add("imports (CLI, engine, rattler)", time.perf_counter() - T0)
    for module, attr, phase in steps:
        owner = importlib.import_module(module)
        if "." in attr:
            cls, attr = attr.split(".")
            owner = getattr(owner, cls)
        wrap(owner, attr, phase)
    from jupyter_envmgr.cli import session
    original_sync = session.Session.sync_kernels
    def sync(self, *changed):
        s = time.perf_counter()
        importlib.import_module("jupyter_envmgr.kernels.sync")
        add("kernelspec sync: import", time.perf_counter() - s)
        s = time.perf_counter()
        original_sync(self, *changed)
        add("kernelspec sync: work", time.perf_counter() - s)
    session.Session.sync_kernels = sync
    run_cli(argv)
spent["total in process"] = time.perf_counter() - T0
print(json.dumps(spent))
sys.stdout.flush()
import os
os._exit(0)
"""


def profile(runs: int, envs: int | None = None) -> dict[str, dict[str, float]]:
    from bench.common import BENCH_DIR, alternate, remove
    from bench.create import Sides, make_setup

    work = Path(tempfile.mkdtemp(prefix="envmgr-bench-profile-"))
    if envs is None:
        setup = make_setup(work)
        url, specs = setup.url, setup.specs
    else:
        from bench.curves import curve_channel, make_root_envs

        url, specs = curve_channel().as_uri(), ["cpkg000"]
        setup = make_setup(work, channel=curve_channel(), specs=specs)
        make_root_envs(setup.box, envs)
    sides = Sides(setup)
    found: dict[str, list[dict[str, float]]] = {"ours": [], "raw": []}

    def one(kind: str, i: int) -> float:
        prefix = sides.envs / f"{kind}-{i}"
        remove(prefix)
        if kind == "ours" and envs is not None:
            prefix = setup.box.root / "envs" / f"new{i}"  # a named env, as figure 8 makes
            args = ["create", "-n", prefix.name, "-c", url, "--override-channels", *specs, "-y"]
        elif kind == "ours":
            args = ["create", "-p", str(prefix), "-c", url, "--override-channels", *specs, "-y"]
        else:
            args = [url, str(prefix), str(setup.box.pkgs), *specs]
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, kind, json.dumps(STEPS), *args],
            env=setup.box.env(),
            capture_output=True,
            text=True,
            cwd=BENCH_DIR.parent.parent,
        )
        wall = time.perf_counter() - start
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        spent = json.loads(out.stdout.strip().splitlines()[-1])
        spent["process wall time"] = wall
        spent["interpreter start + exit (wall - in process)"] = wall - spent["total in process"]
        if i >= 0:
            found[kind].append(spent)
        if envs is not None:
            remove(prefix)  # its kernels stay linked until the next create's sync prunes them
        else:
            sides._done(prefix, setup.box.pkgs, False)
        return wall

    one("ours", -1)  # fill the cache, write bytecode
    alternate({"ours": lambda i: one("ours", i), "raw": lambda i: one("raw", i)}, runs)
    remove(work)
    return {
        kind: {
            phase: statistics.median(run.get(phase, 0.0) for run in samples)
            for phase in dict.fromkeys(p for run in samples for p in run)
        }
        for kind, samples in found.items()
    }


def print_profile(medians: dict[str, dict[str, float]]) -> None:
    ours, raw = medians["ours"], medians["raw"]
    phases = list(dict.fromkeys([*ours, *raw]))
    order = [p for p in phases if p not in ("total in process", "process wall time")]
    order += ["total in process", "process wall time"]
    print(f"{'phase (median ms)':<58} {'envmgr':>8} {'raw':>8}")
    for phase in order:
        a, b = ours.get(phase), raw.get(phase)
        cell = lambda v: "" if v is None else f"{v * 1000:8.1f}"  # noqa: E731
        print(f"{phase:<58} {cell(a):>8} {cell(b):>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument(
        "--envs", type=int, metavar="N", help="figure 8's small create with N envs in the root"
    )
    args = parser.parse_args()
    print_profile(profile(args.runs, args.envs))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
