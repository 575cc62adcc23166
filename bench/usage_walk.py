"""How long `usage` takes on large envs, next to `du -sl` over the same trees.

Builds a fake root prefix (no install needed): a package cache with N files and E envs made of
hard links to it (as rattler links them), plus a few files of their own. Then times
`disk_usage()` (one lstat walk per tree plus the inode bookkeeping) against `du -sl` and
`du -s` (du's own walk, which has no sharing breakdown). Target: usage within ~2x of `du -s`.

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

from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.usage import disk_usage


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
