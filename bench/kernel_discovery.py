"""How long listing kernelspecs takes with 0, 50 and 200 environments (figure 4).

Compares `EnvKernelSpecManager.get_all_specs()` (what `GET /api/kernelspecs` calls) with plain
jupyter_client's `KernelSpecManager().get_all_specs()` and no environments. Targets: the warm
listing within 1.5x of plain, the cold one (the first of a process, every env scanned) under
30 ms, for each size.

The envs are fake but shaped like real ones: conda-meta/ with python and ipykernel records,
bin/python, lib/python3.X/site-packages/ipykernel/, and ipykernel's kernelspec in
share/jupyter/kernels/python3/ (every fifth env has only the package, so a spec is made).

    python bench/kernel_discovery.py
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_client.kernelspec import KernelSpecManager

from bench.common import Row, alternate, below, fmt_seconds, ratio_row
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.kernels import discovery as discovery_mod
from jupyter_envmgr.kernels.manager import EnvKernelSpecManager

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
KERNEL_JSON = {
    "argv": ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "metadata": {"debugger": True},
}


def make_env(prefix: Path, shipped_spec: bool) -> None:
    meta = prefix / "conda-meta"
    meta.mkdir(parents=True)
    for name, version in (("python", "3.11.7"), ("ipykernel", "7.4.0")):
        record = {"name": name, "version": version, "build": "0", "files": []}
        (meta / f"{name}-{version}-0.json").write_text(json.dumps(record))
    (prefix / "bin").mkdir()
    # A program of the env's own (discovery skips a kernel whose program leads outside its
    # env); never run here.
    python = prefix / "bin" / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    pkg = prefix / "lib" / PY / "site-packages" / "ipykernel"
    (pkg / "resources").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    if shipped_spec:
        kdir = prefix / "share" / "jupyter" / "kernels" / "python3"
        kdir.mkdir(parents=True)
        (kdir / "kernel.json").write_text(json.dumps(KERNEL_JSON))


def make_root(root: Path, count: int) -> None:
    (root / "conda-meta").mkdir(parents=True)
    for i in range(count):
        make_env(root / "envs" / f"env{i:03d}", shipped_spec=i % 5 != 0)
    # Timestamps younger than 2 s are never trusted (discovery.py); let them age.
    old = time.time() - 10
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames + ["."]:
            os.utime(os.path.join(dirpath, name), (old, old), follow_symlinks=False)


def timed(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds per call."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


RATIO_LIMIT = 1.5
COLD_LIMIT_S = 0.030


def _batch(fn: Callable[[], object], calls: int) -> Callable[[int], float]:
    """Seconds per call, timed over `calls` calls (one listing is ~0.1 ms: too short alone)."""

    def run(_i: int) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - start) / calls

    return run


def figure(work: Path, quick: bool) -> list[Row]:
    """Rows for the bench table: per size, warm vs plain (alternating) and cold."""
    work.mkdir(parents=True, exist_ok=True)
    old_home = os.environ.get("HOME")
    os.environ["HOME"] = str(work / "home")  # no environments.txt of the real user
    (work / "home").mkdir(exist_ok=True)
    try:
        plain = KernelSpecManager()
        plain.get_all_specs()  # the first call imports and loads entry points
        rows = []
        for count in (0, 50, 200):
            root = work / f"root{count}"
            make_root(root, count)
            settings = load_settings(root_prefix=root)
            colds = []
            for _ in range(3 if quick else 7):
                discovery_mod._shared.clear()  # a cold cache: the first listing of a process
                manager = EnvKernelSpecManager(settings=settings)
                start = time.perf_counter()
                manager.get_all_specs()
                colds.append(time.perf_counter() - start)
            samples = alternate(
                {
                    "ours": _batch(manager.get_all_specs, 20),
                    "plain": _batch(plain.get_all_specs, 20),
                },
                15 if quick else 51,
            )
            rows.append(
                ratio_row(
                    "4",
                    f"kernel listing, {count} envs, warm: vs plain jupyter_client (no envs)",
                    samples["ours"],
                    "jupyter_client",
                    samples["plain"],
                    limit=RATIO_LIMIT,
                )
            )
            cold = statistics.median(colds)
            rows.append(
                Row(
                    "4",
                    f"kernel listing, {count} envs, cold (first of a process)",
                    fmt_seconds(cold),
                    target=f"< {COLD_LIMIT_S * 1000:.0f} ms",
                    result=below(cold, COLD_LIMIT_S),
                    data={"cold_s": colds},
                )
            )
        return rows
    finally:
        if old_home is not None:
            os.environ["HOME"] = old_home


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="envmgr-bench-"))
    try:
        run(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run(base: Path) -> None:
    os.environ["HOME"] = str(base / "home")  # no environments.txt of the real user
    (base / "home").mkdir()
    plain = KernelSpecManager()
    plain.get_all_specs()  # first call imports and loads entry points
    t_plain = timed(plain.get_all_specs, 300)
    t_plain_new = timed(lambda: KernelSpecManager().get_all_specs(), 300)
    print(f"plain jupyter_client, no envs:  {ms(t_plain)} (same manager)")
    print(f"                                {ms(t_plain_new)} (new manager per call)")
    print()
    print(
        f"{'envs':>5} {'kernels':>7} {'cold':>11} {'warm':>11} {'ratio':>6} {'stat all':>11} "
        f"{'ratio':>6} {'new mgr':>11} {'ratio':>6}"
    )
    for count in (0, 50, 200):
        root = base / f"root{count}"
        make_root(root, count)
        settings = load_settings(root_prefix=root)
        discovery_mod._shared.clear()  # a cold cache for each size
        manager = EnvKernelSpecManager(settings=settings)
        start = time.perf_counter()
        specs = manager.get_all_specs()
        cold = time.perf_counter() - start
        kernels = len(specs) - len(plain.get_all_specs())
        warm = timed(manager.get_all_specs, 300)
        strict = EnvKernelSpecManager(settings=settings, refresh_interval=0)
        every = timed(strict.get_all_specs, 100)
        fresh = timed(lambda s=settings: EnvKernelSpecManager(settings=s).get_all_specs(), 50)
        print(
            f"{count:5d} {kernels:7d} {ms(cold)} {ms(warm)} {warm / t_plain:5.2f}x "
            f"{ms(every)} {every / t_plain:5.2f}x {ms(fresh)} {fresh / t_plain_new:5.2f}x"
        )
    print()
    print("warm: default refresh_interval (2 s): envs dirs and environments.txt are stat'ed on")
    print("      every call, each env's mtimes at most every 2 s.")
    print("stat all: refresh_interval=0, every env's mtimes are stat'ed on every call.")
    print("new mgr: a new EnvKernelSpecManager per call (as nbclient does); the env scan cache")
    print("      is shared by the process, naming and the ordinary specs are redone.")
    print("ratio: to plain jupyter_client with no envs, long-lived manager (new mgr: new one).")
    print("cold: the first listing of the process, every env scanned.")


if __name__ == "__main__":
    main()
