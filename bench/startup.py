"""How long the CLI takes to start: every `%envmgr` line in a notebook starts it once (figure 9).

Measures the median wall time of N runs of

- `envmgr --help`                  target <= 150 ms (parser only: no rattler, yaml, jupyter_*)
- `envmgr list -n ENV --json`      target <= 300 ms (settings, the env's records, one JSON line)
- `%envmgr list` as a kernel runs it: `EnvmgrClient().run(["list", "-p", PREFIX])` from
  jupyter_envmgr/notebook/client.py, i.e. `python -m jupyter_envmgr list -p PREFIX --json` with
  its events read back                                               target <= 300 ms
- `python -c "import jupyter_envmgr.cli.main"`   reported, no target

with a small env (`delta` from the local test channel) made once in a sandbox of its own under
the temp dir (MAMBA_ROOT_PREFIX, HOME and CONDA_PKGS_DIRS all inside it) and reused afterwards.
Children run with bytecode caching on, as users have it (see bench/common.py).

    python bench/startup.py [--quick] [--runs N] [--json FILE]

`--quick` does 5 runs instead of 21. Exit code 0 when every target passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, below, clean_environ, fmt_seconds

ENV_NAME = "bench"
SANDBOX = Path(tempfile.gettempdir()) / "envmgr-bench-startup"


@dataclasses.dataclass
class Timing:
    command: str
    median_ms: float
    target_ms: float | None
    verdict: str  # PASS, MISS, or "" without a target


def envmgr_command() -> list[str]:
    """The installed console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "envmgr"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_envmgr"]


def sandbox_env(root: Path) -> dict[str, str]:
    return clean_environ(
        HOME=str(root / "home"),
        MAMBA_ROOT_PREFIX=str(root / "root"),
        CONDA_PKGS_DIRS=str(root / "pkgs"),
    )


def ensure_env(root: Path, env: dict[str, str]) -> None:
    if (root / "root" / "envs" / ENV_NAME / "conda-meta").is_dir():
        return
    (root / "home").mkdir(parents=True, exist_ok=True)
    # The channels are built (or reused from their cache) in a child process: this one stays
    # free of rattler, and the channel factory's first build takes a while.
    url = subprocess.run(
        [sys.executable, "-m", "jupyter_envmgr.channels", "--print-main"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"Making env '{ENV_NAME}' from {url} in {root} ...", file=sys.stderr)
    args = ["create", "-n", ENV_NAME, "-c", url, "--override-channels", "delta", "-y"]
    proc = subprocess.run([*envmgr_command(), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        shutil.rmtree(root / "root" / "envs" / ENV_NAME, ignore_errors=True)
        sys.exit(f"envmgr create failed:\n{proc.stdout}{proc.stderr}")


def median_ms(argv: list[str], env: dict[str, str], runs: int) -> float:
    return statistics.median(samples(argv, env, runs)) * 1000


def samples(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    subprocess.run(argv, env=env, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def magic_samples(root: Path, runs: int) -> list[float]:
    """`%envmgr list` as the kernel side runs it (notebook/client.py), in this process."""
    from jupyter_envmgr.notebook.client import EnvmgrClient

    prefix = root / "root" / "envs" / ENV_NAME
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(sandbox_env(root))
    try:
        client = EnvmgrClient()
        times = []
        for i in range(runs + 1):
            start = time.perf_counter()
            outcome = client.run(["list", "-p", str(prefix)])
            seconds = time.perf_counter() - start
            if not outcome.ok:
                raise RuntimeError(f"%envmgr list failed: {outcome.error}")
            if i:  # the first run warms the page cache
                times.append(seconds)
        return times
    finally:
        os.environ.clear()
        os.environ.update(saved)


def figure(work: Path, quick: bool) -> list[Row]:
    runs = 5 if quick else 21
    env = sandbox_env(SANDBOX)
    ensure_env(SANDBOX, env)
    rows = []
    for what, argv, limit in (
        ("envmgr --help", [*envmgr_command(), "--help"], 0.150),
        (
            f"envmgr list -n {ENV_NAME} --json",
            [*envmgr_command(), "list", "-n", ENV_NAME, "--json"],
            0.300,
        ),
    ):
        got = statistics.median(samples(argv, env, runs))
        rows.append(
            Row(
                "9",
                what,
                fmt_seconds(got),
                target=f"<= {limit * 1000:.0f} ms",
                result=below(got, limit + 1e-9),
            )
        )
    magic = statistics.median(magic_samples(SANDBOX, runs))
    rows.append(
        Row(
            "9",
            "%envmgr list in a kernel (EnvmgrClient: python -m jupyter_envmgr list --json)",
            fmt_seconds(magic),
            target="<= 300 ms",
            result=below(magic, 0.300 + 1e-9),
        )
    )
    imported = statistics.median(
        samples([sys.executable, "-c", "import jupyter_envmgr.cli.main"], env, runs)
    )
    bare = statistics.median(samples([sys.executable, "-c", "pass"], env, runs))
    rows.append(
        Row(
            "9",
            'python -c "import jupyter_envmgr.cli.main"',
            fmt_seconds(imported),
            f"python -c pass {fmt_seconds(bare)}",
            imported / bare,
        )
    )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description="Start-up time of the envmgr CLI.")
    parser.add_argument("--quick", action="store_true", help="5 runs per command instead of 21")
    parser.add_argument("--runs", type=int, help="runs per command (overrides --quick)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--root", type=Path, default=SANDBOX, help=f"sandbox (default {SANDBOX})")
    args = parser.parse_args()
    runs = args.runs or (5 if args.quick else 21)
    env = sandbox_env(args.root)
    ensure_env(args.root, env)

    cases: list[tuple[str, list[str], float | None]] = [
        ("envmgr --help", [*envmgr_command(), "--help"], 150.0),
        (
            f"envmgr list -n {ENV_NAME} --json",
            [*envmgr_command(), "list", "-n", ENV_NAME, "--json"],
            300.0,
        ),
        (
            'python -c "import jupyter_envmgr.cli.main"',
            [sys.executable, "-c", "import jupyter_envmgr.cli.main"],
            None,
        ),
    ]
    rows = []
    for label, argv, target in cases:
        ms = median_ms(argv, env, runs)
        verdict = "" if target is None else ("PASS" if ms <= target else "MISS")
        rows.append(Timing(label, round(ms, 1), target, verdict))

    width = max(len(r.command) for r in rows)
    print(f"{'Command':<{width}}  {'Median':>9}  {'Target':>9}  Result   ({runs} runs each)")
    for r in rows:
        shown = "-" if r.target_ms is None else f"{r.target_ms:.0f} ms"
        print(f"{r.command:<{width}}  {r.median_ms:>6.1f} ms  {shown:>9}  {r.verdict}")
    if args.json:
        results = [dataclasses.asdict(r) for r in rows]
        Path(args.json).write_text(json.dumps({"runs": runs, "results": results}, indent=2) + "\n")
    return 1 if any(r.verdict == "MISS" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
