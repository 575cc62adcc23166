"""Figures 2 and 3: making an env with a kernel, against py-rattler alone, uv and pip.

Figure 2. `envmgr create -p NEW -c MAIN --override-channels python ipykernel pyyaml -y` (the
local test channel: real conda packages made from this interpreter; numpy, or else pyyaml, is
the familiar package, when the channel has one), one CLI process as a user runs it, against,
each in one run that alternates the sides:

- raw py-rattler: bench/raw_rattler.py, solve + install of the same specs from the same channel
  into the same package cache, one process (target <= 1.05x warm, <= 1.2x cold);
- uv: `uv venv NEW` + `uv pip install --offline --no-index --find-links WHEELS ipykernel pyyaml`
  (goal <= 1.0x), the wheels being the very distributions the conda packages were made from
  (bench/wheels.py); uv's venv borrows this interpreter instead of installing Python;
- pip, for reference: `python -m venv NEW` + `NEW/bin/python -m pip install --no-index
  --find-links WHEELS ipykernel pyyaml`.

Warm: each tool's cache holds everything (envmgr's and rattler's package cache, uv's cache).
Cold: an empty cache per run (a new package cache, a new UV_CACHE_DIR, PIP_NO_CACHE_DIR); the
channel and the wheels themselves stay in the OS page cache. Between runs the new env, its
environments.txt line and its kernelspec link are removed (untimed), so every run starts alike.

Figure 3. A second env of the same packages (the first is made just before): the bytes it adds
that the package cache does not already hold (every inode of the env not shared with the cache,
directories apart) over the env's size, and its new inodes, with where the new bytes are.

    python bench/create.py [--quick]
    python bench/create.py --before TREE [--runs N]   # TREE: e.g. `git archive HEAD | tar -x`
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_DIR,
    INFO,
    MISS,
    PASS,
    SKIP,
    Row,
    Sandbox,
    alternate,
    clean_environ,
    envmgr_command,
    fmt_bytes,
    ratio_row,
    remove,
    run_timed,
    tool,
)

RAW_LIMIT = 1.2
WARM_RAW_LIMIT = 1.05  # python + ipykernel from a warm cache (issue 28)
UV_GOAL = 1.0
SECOND_ENV_LIMIT = 0.02
KERNEL_SPECS = ["python", "ipykernel"]
# The familiar package: the first of these the channel has (the test channel repackages
# what is installed here).
FAMILIAR = ("numpy", "pyyaml")


def channel_names(channel: Path) -> set[str]:
    names = set()
    for subdir in ("noarch", "linux-64"):
        try:
            data = json.loads((channel / subdir / "repodata.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in ("packages", "packages.conda"):
            names |= {p["name"] for p in data.get(key, {}).values()}
    return names


def main_channel() -> Path:
    """The local test channel (built once from this interpreter, cached across runs)."""
    # In a child: building it imports rattler-build, and this process stays lighter.
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_envmgr.channels", "--print-main"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_environ(),
    ).stdout.strip()
    from urllib.parse import unquote, urlsplit

    return Path(unquote(urlsplit(out).path))


@dataclass
class Setup:
    work: Path
    channel: Path
    specs: list[str]
    wheels: Path | None
    uv: str | None
    box: Sandbox = field(init=False)

    def __post_init__(self) -> None:
        self.box = Sandbox(self.work / "box")

    @property
    def url(self) -> str:
        return self.channel.as_uri()

    @property
    def pip_specs(self) -> list[str]:
        return [s for s in self.specs if s != "python"]


def make_setup(work: Path, channel: Path | None = None, specs: list[str] | None = None) -> Setup:
    """Figure 2's setup; or, with `channel` and `specs`, those (no wheels, no uv)."""
    if channel is not None and specs is not None:
        return Setup(work, channel, specs, None, None)
    channel = main_channel()
    specs = list(KERNEL_SPECS)
    names = channel_names(channel)
    specs += [name for name in FAMILIAR if name in names][:1]
    from bench.wheels import build_wheels

    wheels = build_wheels([s for s in specs if s != "python"])
    return Setup(work, channel, specs, wheels, tool("uv"))


class Sides:
    """One timed create per call; every call makes a new env and removes it afterwards."""

    def __init__(self, setup: Setup) -> None:
        self.s = setup
        self.envs = setup.work / "envs"
        self.envs.mkdir(parents=True, exist_ok=True)
        self.uv_cache = setup.work / "uv-cache"

    def _reset_user(self) -> None:
        box = self.s.box
        txt = box.home / ".conda" / "environments.txt"
        if txt.exists():
            txt.write_text("")
        kernels = box.home / ".local" / "share" / "jupyter" / "kernels"
        remove(kernels)

    def _fresh(self, name: str, cold: bool, kind: str) -> tuple[Path, Path]:
        prefix = self.envs / name
        remove(prefix)
        cache = self.s.work / "cold" / f"{kind}-{name}" if cold else self.s.box.pkgs
        if cold:
            remove(cache)
            cache.mkdir(parents=True)
        return prefix, cache

    def _done(self, prefix: Path, cache: Path, cold: bool) -> None:
        remove(prefix)
        if cold:
            remove(cache)
        self._reset_user()

    def envmgr(
        self, name: str, cold: bool = False, keep: bool = False, tree: Path | None = None
    ) -> float:
        """`tree`: another source tree of jupyter_envmgr to run instead (a before/after)."""
        prefix, pkgs = self._fresh(name, cold, "pkgs")
        argv = [*envmgr_command(), "create", "-p", str(prefix), "-c", self.s.url]
        argv += ["--override-channels", *self.s.specs, "-y"]
        env = self.s.box.env(pkgs)
        if tree is not None:
            env["PYTHONPATH"] = str(tree)
        seconds = run_timed(argv, env)
        if not keep:
            self._done(prefix, pkgs, cold)
        return seconds

    def raw(self, name: str, cold: bool = False, keep: bool = False) -> float:
        prefix, pkgs = self._fresh(name, cold, "pkgs")
        argv = [sys.executable, str(BENCH_DIR / "raw_rattler.py"), self.s.url, str(prefix)]
        argv += [str(pkgs), *self.s.specs]
        seconds = run_timed(argv, self.s.box.env(pkgs))
        if not keep:
            self._done(prefix, pkgs, cold)
        return seconds

    def uv(self, name: str, cold: bool = False, keep: bool = False) -> float:
        assert self.s.uv and self.s.wheels
        prefix, cache = self._fresh(name, cold, "uv")
        env = clean_environ(UV_CACHE_DIR=str(cache if cold else self.uv_cache))
        seconds = run_timed([self.s.uv, "venv", "-q", "--python", sys.executable, str(prefix)], env)
        seconds += run_timed(
            [self.s.uv, "pip", "install", "-q", "--offline", "--no-index", "--find-links"]
            + [str(self.s.wheels), "-p", str(prefix / "bin" / "python"), *self.s.pip_specs],
            env,
        )
        if not keep:
            self._done(prefix, cache, cold)
        return seconds

    def pip(self, name: str, cold: bool = False) -> float:
        assert self.s.wheels
        prefix, _ = self._fresh(name, False, "pip")
        env = clean_environ()
        if cold:
            env["PIP_NO_CACHE_DIR"] = "1"
        seconds = run_timed([sys.executable, "-m", "venv", str(prefix)], env)
        seconds += run_timed(
            [str(prefix / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index"]
            + ["--find-links", str(self.s.wheels), *self.s.pip_specs],
            env,
        )
        remove(prefix)
        return seconds


def _sides_for(sides: Sides, cold: bool, with_uv: bool) -> dict[str, Callable[[int], float]]:
    tag = "cold" if cold else "warm"
    chosen: dict[str, Callable[[int], float]] = {
        "ours": lambda i: sides.envmgr(f"ours-{tag}-{i}", cold),
        "raw": lambda i: sides.raw(f"raw-{tag}-{i}", cold),
    }
    if with_uv:
        chosen["uv"] = lambda i: sides.uv(f"uv-{tag}-{i}", cold)
    return chosen


def figure_create(work: Path, quick: bool, setup: Setup | None = None) -> list[Row]:
    setup = setup or make_setup(work)
    sides = Sides(setup)
    what = " ".join(setup.specs)
    with_uv = bool(setup.uv and setup.wheels)
    rows: list[Row] = []
    plans = [(False, 3 if quick else 11), (True, 1 if quick else 5)]
    for cold, runs in plans:
        state = "cold" if cold else "warm"
        # The warm-up round fills the caches (and writes our modules' bytecode); cold runs
        # come after the warm ones and need none.
        samples = alternate(_sides_for(sides, cold, with_uv), runs, warmup=0 if cold else 1)
        label = f"create {what}, {state} cache"
        rows.append(
            ratio_row(
                "2",
                f"{label}: vs raw py-rattler",
                samples["ours"],
                "py-rattler",
                samples["raw"],
                limit=RAW_LIMIT if cold else WARM_RAW_LIMIT,
            )
        )
        if with_uv:
            rows.append(
                ratio_row(
                    "2",
                    f"{label}: vs uv venv + uv pip install",
                    samples["ours"],
                    "uv",
                    samples["uv"],
                    limit=UV_GOAL,
                    goal=True,
                )
            )
        else:
            rows.append(Row("2", f"{label}: vs uv", "-", result=SKIP, note="uv not installed"))
        if quick:
            continue
        pip_runs = alternate(
            {
                "ours": lambda i, c=cold, t=state: sides.envmgr(f"ours-pip-{t}-{i}", c),
                "pip": lambda i, c=cold, t=state: sides.pip(f"pip-{t}-{i}", c),
            },
            2 if cold else 3,
            warmup=0,
        )
        rows.append(
            ratio_row(
                "2",
                f"{label}: vs python -m venv + pip install (reference)",
                pip_runs["ours"],
                "pip",
                pip_runs["pip"],
                limit=None,
                unit="s",
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# Figure 3


@dataclass
class TreeShare:
    """An env's inodes against a cache's: how much of it is new."""

    inodes: int = 0
    new_inodes: int = 0
    new_dirs: int = 0
    data_bytes: int = 0  # allocated bytes of every file and link, once per inode
    new_data_bytes: int = 0
    dir_bytes: int = 0
    new_by_place: dict[str, int] = field(default_factory=dict)

    @property
    def fraction(self) -> float:
        return self.new_data_bytes / self.data_bytes if self.data_bytes else 0.0

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "fraction": self.fraction}


def _inodes(root: Path) -> set[tuple[int, int]]:
    keys = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            keys.add((st.st_dev, st.st_ino))
    return keys


def _place(rel: str) -> str:
    if rel.startswith("conda-meta/envmgr/") or rel == "conda-meta/history":
        return "ours: history, record archive, kernelspec copy"
    if rel.startswith("conda-meta/") and rel.endswith(".json"):
        return "conda-meta records (written by rattler)"
    if rel.startswith("conda-meta/"):
        return "conda-meta, other"
    return "files not linked from the cache (placeholders rewritten, entry points, ...)"


def share(env: Path, caches: list[Path]) -> TreeShare:
    shared: set[tuple[int, int]] = set()
    for cache in caches:
        shared |= _inodes(cache)
    out = TreeShare()
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(env):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            out.inodes += 1
            new = key not in shared
            out.new_inodes += new
            size = st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                out.dir_bytes += size
                out.new_dirs += new
                continue
            out.data_bytes += size
            if new:
                out.new_data_bytes += size
                place = _place(os.path.relpath(path, env))
                out.new_by_place[place] = out.new_by_place.get(place, 0) + size
    return out


def figure_second_env(work: Path, quick: bool, setup: Setup | None = None) -> list[Row]:
    setup = setup or make_setup(work)
    sides = Sides(setup)
    envs = sides.envs
    # First env, then the second one measured; the caches are warm after the first.
    sides.envmgr("ours-first", keep=True)
    sides.envmgr("ours-second", keep=True)
    ours = share(envs / "ours-second", [setup.box.pkgs])
    sides.raw("raw-first", keep=True)
    sides.raw("raw-second", keep=True)
    raw = share(envs / "raw-second", [setup.box.pkgs])
    uv = None
    if setup.uv and setup.wheels:
        sides.uv("uv-first", keep=True)
        sides.uv("uv-second", keep=True)
        uv = share(envs / "uv-second", [sides.uv_cache])
    pct = ours.fraction * 100
    breakdown = ", ".join(
        f"{place} {fmt_bytes(n)}"
        for place, n in sorted(ours.new_by_place.items(), key=lambda x: -x[1])
    )
    peer = f"py-rattler {raw.fraction * 100:.1f}%"
    if uv:
        peer += f", uv {uv.fraction * 100:.1f}%"
    rows = [
        Row(
            "3",
            "second env, same packages: new data bytes / env size",
            f"{pct:.2f}% ({fmt_bytes(ours.new_data_bytes)} of {fmt_bytes(ours.data_bytes)})",
            peer,
            None,
            f"< {SECOND_ENV_LIMIT * 100:.0f}%",
            PASS if ours.fraction < SECOND_ENV_LIMIT else MISS,
            f"new bytes: {breakdown}",
            {"ours": ours.to_json(), "raw": raw.to_json(), "uv": uv.to_json() if uv else None},
        ),
        Row(
            "3",
            "second env, same packages: new inodes",
            f"{ours.new_inodes} of {ours.inodes} ({ours.new_dirs} dirs)",
            f"py-rattler {raw.new_inodes} of {raw.inodes}"
            + (f", uv {uv.new_inodes} of {uv.inodes}" if uv else ""),
            None,
            "",
            INFO,
            f"directories add {fmt_bytes(ours.dir_bytes)} (new inodes, not in the data bytes)",
        ),
    ]
    for name in ("ours-first", "ours-second", "raw-first", "raw-second", "uv-first", "uv-second"):
        remove(envs / name)
    return rows


def before_after(work: Path, tree: Path, runs: int) -> list[Row]:
    """The warm create of figure 2 with the code of `tree` (e.g. `git archive` of an older
    commit, unpacked), this tree's, and raw py-rattler, alternating."""
    setup = make_setup(work)
    sides = Sides(setup)
    samples = alternate(
        {
            "before": lambda i: sides.envmgr(f"before-{i}", tree=tree),
            "after": lambda i: sides.envmgr(f"after-{i}"),
            "raw": lambda i: sides.raw(f"raw-{i}"),
        },
        runs,
    )
    what = f"create {' '.join(setup.specs)}, warm cache"
    return [
        ratio_row(
            "2",
            f"{what}: {tree} vs raw",
            samples["before"],
            "py-rattler",
            samples["raw"],
            limit=WARM_RAW_LIMIT,
        ),
        ratio_row(
            "2",
            f"{what}: this tree vs raw",
            samples["after"],
            "py-rattler",
            samples["raw"],
            limit=WARM_RAW_LIMIT,
        ),
        ratio_row(
            "2",
            f"{what}: this tree vs {tree}",
            samples["after"],
            "before",
            samples["before"],
            limit=None,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="TREE",
        help="only the warm create, this tree against the jupyter_envmgr under TREE",
    )
    parser.add_argument("--runs", type=int, default=15, help="rounds for --before")
    args = parser.parse_args()
    import tempfile

    from bench.common import print_table

    with tempfile.TemporaryDirectory(prefix="envmgr-bench-create-") as tmp:
        if args.before:
            rows = before_after(Path(tmp), args.before.resolve(), args.runs)
        else:
            setup = make_setup(Path(tmp))
            rows = figure_create(Path(tmp), args.quick, setup)
            rows += figure_second_env(Path(tmp), args.quick, setup)
    print_table(rows)
    sys.stdout.flush()
    os._exit(1 if any(r.result == MISS for r in rows) else 0)


if __name__ == "__main__":
    main()
