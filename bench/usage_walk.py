"""How long `usage` takes on large envs, next to a bare lstat walk and `du` (figure 6).

Builds a fake root prefix (no install needed): a package cache with N files and E envs made of
hard links to it (as rattler links them), plus a few files of their own. Then times
`disk_usage()` (one lstat walk per tree plus the inode bookkeeping) against `du -sl` and
`du -s` (du's own walk, which has no sharing breakdown). The figure for the bench table
(`figure()`): 50 envs, `disk_usage()` against the floor, a bare walk that lstats every path of
the same trees and keeps nothing (target <= 1.5x), alternating.

    python bench/usage_walk.py [FILES] [ENVS]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Row, alternate, ratio_row
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.usage import disk_usage

LIMIT = 1.5


def build(root: Path, files: int, envs: int) -> None:
    pkg = root / "pkgs" / "big-1.0-0"
    (pkg / "info").mkdir(parents=True)
    for i in range(files):
        sub = pkg / "lib" / f"d{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:06d}.py").write_bytes(b"x" * (i % 3000))
    for e in range(envs):
        prefix = root / "envs" / f"env{e}"
        (prefix / "conda-meta").mkdir(parents=True)
        for dirpath, _dirs, names in os.walk(pkg / "lib"):
            target = prefix / Path(dirpath).relative_to(pkg)
            target.mkdir(parents=True, exist_ok=True)
            for name in names:
                os.link(os.path.join(dirpath, name), target / name)
        (prefix / "own.txt").write_text("mine")


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"  {label:<28} {seconds * 1000:8.1f} ms")
    return seconds


def bare_walk(roots: list[str]) -> int:
    """The floor: lstat every path under `roots` (no symlink followed), keep nothing."""
    count = 0
    stack = list(roots)
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                entry.stat(follow_symlinks=False)
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return count


def figure(work: Path, quick: bool) -> list[Row]:
    files, envs = (300, 50) if quick else (2_000, 50)
    root = work / "usage"
    build(root, files, envs)
    settings = load_settings({"HOME": str(root), "MAMBA_ROOT_PREFIX": str(root)})
    trees = [str(root / "pkgs"), *(str(p) for p in sorted((root / "envs").iterdir()))]
    paths = bare_walk(trees)

    def timed(fn):
        def run(_i: int) -> float:
            start = time.perf_counter()
            fn()
            return time.perf_counter() - start

        return run

    samples = alternate(
        {
            "ours": timed(lambda: disk_usage(settings)),
            "bare": timed(lambda: bare_walk(trees)),
        },
        5 if quick else 9,
        warmup=1,  # a warm dentry and inode cache for both
    )
    shutil.rmtree(root, ignore_errors=True)
    return [
        ratio_row(
            "6",
            f"usage over {envs} envs + cache ({paths} paths): vs a bare lstat walk",
            samples["ours"],
            "lstat walk",
            samples["bare"],
            limit=LIMIT,
        )
    ]


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    envs = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    root = Path(tempfile.mkdtemp(prefix="envmgr-usage-bench-"))
    try:
        build(root, files, envs)
        settings = load_settings({"HOME": str(root), "MAMBA_ROOT_PREFIX": str(root)})
        trees = [str(root / "pkgs"), *(str(p) for p in sorted((root / "envs").iterdir()))]
        print(f"{files} files in the cache, {envs} envs of hard links ({files * (envs + 1)} paths)")
        for _ in range(2):  # the second round runs with a warm dentry/inode cache
            timed("disk_usage()", lambda: disk_usage(settings))
            timed("du -sl", lambda: subprocess.run(["du", "-sl", *trees], capture_output=True))
            timed("du -s", lambda: subprocess.run(["du", "-s", *trees], capture_output=True))
        report = disk_usage(settings)
        print(f"  totals: {report.totals}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
