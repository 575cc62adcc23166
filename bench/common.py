"""What every figure shares: rows of the table, alternating timed runs, sandboxes, the machine."""

from __future__ import annotations

import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent

PASS, MISS, INFO, SKIP, ERROR = "PASS", "MISS", "", "SKIP", "ERROR"
GOAL_MET, GOAL_MISSED = "goal met", "MISS (goal)"


@dataclass
class Row:
    """One line of the table. `ours`, `peer` and `target` are what the table shows; the numbers
    behind them are in `data` (seconds, bytes, every sample)."""

    figure: str
    what: str
    ours: str
    peer: str = ""
    ratio: float | None = None
    target: str = ""
    result: str = INFO
    note: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def ratio_row(
    figure: str,
    what: str,
    ours: list[float],
    peer_name: str,
    peer: list[float],
    *,
    limit: float | None,
    goal: bool = False,
    unit: str = "ms",
    note: str = "",
) -> Row:
    """Ours against a peer from alternating samples (seconds): the medians, and the median of
    the ratios of the pairs (each pair ran back to back, so a load change on a shared machine
    moves both sides of a pair, not the ratio)."""
    mine, theirs = statistics.median(ours), statistics.median(peer)
    ratio = statistics.median(a / b for a, b in zip(ours, peer, strict=True) if b > 0)
    if limit is None:
        result, target = INFO, ""
    elif goal:
        result = GOAL_MET if ratio <= limit else GOAL_MISSED
        target = f"goal <= {limit:.2f}x"
    else:
        result = PASS if ratio <= limit else MISS
        target = f"<= {limit:.2f}x"
    return Row(
        figure,
        what,
        fmt_seconds(mine, unit),
        f"{peer_name} {fmt_seconds(theirs, unit)}",
        ratio,
        target,
        result,
        note,
        {
            "ours_s": ours,
            "peer_s": peer,
            "ours_median_s": mine,
            "peer_median_s": theirs,
            "ratio_of_medians": mine / theirs if theirs > 0 else None,
        },
    )


def below(value: float, limit: float) -> str:
    return PASS if value < limit else MISS


def fmt_seconds(seconds: float, unit: str = "ms") -> str:
    if unit == "s":
        return f"{seconds:.2f} s"
    ms = seconds * 1000
    if ms < 1:
        return f"{ms * 1000:.0f} us"
    return f"{ms:.1f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def alternate(
    sides: dict[str, Callable[[int], float]], runs: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run each side `runs` times, alternating (A B, B A, A B, ...), after `warmup` untimed
    rounds. Each callable gets the run number and returns the seconds it measured."""
    names = list(sides)
    for w in range(warmup):
        for name in names:
            sides[name](-1 - w)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for i in range(runs):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            samples[name].append(sides[name](i))
    return samples


class CommandFailed(RuntimeError):
    pass


def run_timed(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> float:
    """Wall seconds of one process (output captured); raises CommandFailed on a non-zero exit."""
    start = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        output = proc.stdout[-2000:] + proc.stderr[-2000:]
        raise CommandFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{output}")
    return seconds


def run_checked(argv: list[str], env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise CommandFailed(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc.stdout


def clean_environ(**overrides: str) -> dict[str, str]:
    """This process's environment without anything that would point a child at the user's
    conda, mamba, Jupyter or envmgr setup, and with bytecode caching on (as users run it; this
    machine's sessions set PYTHONDONTWRITEBYTECODE, which makes every start compile)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONDA", "MAMBA", "ENVMGR", "JUPYTER", "UV_", "PIP_", "VIRTUAL_ENV"))
        and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH", "PYTHONHOME")
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env.update(overrides)
    return env


@dataclass
class Sandbox:
    """A user of its own: HOME, root prefix and package cache under one folder."""

    path: Path

    def __post_init__(self) -> None:
        for sub in ("home", "root", "pkgs"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    @property
    def home(self) -> Path:
        return self.path / "home"

    @property
    def root(self) -> Path:
        return self.path / "root"

    @property
    def pkgs(self) -> Path:
        return self.path / "pkgs"

    def env(self, pkgs: Path | None = None) -> dict[str, str]:
        return clean_environ(
            HOME=str(self.home),
            MAMBA_ROOT_PREFIX=str(self.root),
            CONDA_PKGS_DIRS=str(pkgs or self.pkgs),
        )


def envmgr_command() -> list[str]:
    """The installed console script beside this interpreter, as a user runs it."""
    script = Path(sys.executable).parent / "envmgr"
    return [str(script)] if script.exists() else [sys.executable, "-m", "jupyter_envmgr"]


def tool(name: str) -> str | None:
    """A command-line tool installed beside this interpreter (the `bench` extra), or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def median_ms(samples: Iterable[float]) -> float:
    return statistics.median(list(samples)) * 1000


def settle(channel: Path, seconds: float = 2.1) -> None:
    """Wait until the channel's index is old enough for the engine to trust its stat (an index
    written in the last 2 s is re-read on every solve, see engine/solver.py): a channel built
    a moment ago would otherwise be timed as if it kept changing."""
    newest = max(
        (max(p.stat().st_mtime, p.stat().st_ctime) for p in channel.glob("*/repodata.json")),
        default=0.0,
    )
    wait = newest + seconds - time.time()
    if wait > 0:
        time.sleep(wait)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    from importlib import metadata

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    uv = tool("uv")
    uv_version = run_checked([uv, "--version"]).split()[1] if uv else None
    return {
        "date_utc": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu or platform.processor(),
        "cpus": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "py-rattler": version("py-rattler"),
        "jupyter_envmgr": version("jupyter_envmgr"),
        "uv": uv_version,
        "pip": version("pip"),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


COLUMNS = ("#", "Figure", "Ours", "Peer", "Ratio", "Target", "Result")


def row_cells(row: Row) -> list[str]:
    ratio = "" if row.ratio is None else f"{row.ratio:.2f}x"
    return [row.figure, row.what, row.ours, row.peer, ratio, row.target, row.result]


def print_table(rows: list[Row], file=None) -> None:
    file = file or sys.stdout
    cells = [list(COLUMNS)] + [row_cells(r) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(COLUMNS))]
    for n, line in enumerate(cells):
        text = "  ".join(
            c.ljust(w) if i < 4 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        print(text.rstrip(), file=file)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=file)
    notes = [(r.figure, r.what, r.note) for r in rows if r.note]
    if notes:
        print(file=file)
        for figure, what, note in notes:
            print(f"[{figure}] {what}: {note}", file=file)
