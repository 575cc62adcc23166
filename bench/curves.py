"""Figure 8: how solve and create times grow with what is asked and with how many envs exist.

On a synthetic local channel of small packages (`cpkg000` ... `cpkg099`, each depending on a
shared `cbase`; built once, cached in ~/.cache/jupyter_envmgr/bench-channels):

- against the number of requested packages (1, 10, 100): the engine's solve + plan against
  `rattler.solve` in one process (as figure 1), and `envmgr create -p NEW ... -y` against raw
  py-rattler (bench/raw_rattler.py) from a warm package cache, alternating;
- against the number of envs already in the root prefix (1, 10, 100; envs with a kernel each,
  their kernelspecs already synced): `envmgr create -n NEW -c CURVE cpkg000 -y` and the same
  with `--dry-run` (the solve path of the CLI), next to raw py-rattler, which knows no envs.

No targets: these are curves, to see what grows.

    python bench/curves.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    BENCH_DIR,
    Row,
    Sandbox,
    alternate,
    envmgr_command,
    ratio_row,
    remove,
    run_timed,
    settle,
)

PACKAGES = 100
_VERSION = 1  # bump when the channel's content changes


def curve_channel() -> Path:
    """The synthetic channel, built once per content version."""
    from jupyter_envmgr.channels import index_channel
    from jupyter_envmgr.channels.conda_pkg import Entry
    from jupyter_envmgr.channels.synthetic import generic_package

    folder = Path.home() / ".cache" / "jupyter_envmgr" / "bench-channels" / f"curve-{_VERSION}"
    if (folder / ".complete").exists():
        settle(folder)
        return folder
    remove(folder)
    noarch = folder / "noarch"
    generic_package(noarch, "cbase", "1.0", [Entry("share/cbase/base.txt", data=b"base\n")])
    for i in range(PACKAGES):
        name = f"cpkg{i:03d}"
        entries = [Entry(f"share/{name}/f{j}.txt", data=f"{name} {j}\n".encode()) for j in range(3)]
        generic_package(noarch, name, "1.0", entries, depends=["cbase >=1"])
    index_channel(folder)
    (folder / ".complete").write_text("")
    settle(folder)
    return folder


def _names(count: int) -> list[str]:
    return [f"cpkg{i:03d}" for i in range(count)]


def solve_curve(work: Path, url: str, quick: bool) -> list[Row]:
    from bench.solve import compare, make_sides

    sides = make_sides(work)
    rows = []
    for count in (1, 10, 100):
        samples = compare(sides, url, _names(count), 5 if quick else 15)
        rows.append(
            ratio_row(
                "8",
                f"curve: solve+plan of {count} requested packages",
                samples["ours"],
                "rattler.solve",
                samples["peer"],
                limit=None,
            )
        )
    return rows


def create_curve(work: Path, url: str, quick: bool) -> list[Row]:
    box = Sandbox(work / "box")
    envs = work / "envs"
    rows = []
    for count in (1, 10, 100):
        specs = _names(count)

        def ours(i: int, specs: list[str] = specs) -> float:
            prefix = envs / f"ours-{len(specs)}-{i}"
            argv = [*envmgr_command(), "create", "-p", str(prefix), "-c", url]
            seconds = run_timed([*argv, "--override-channels", *specs, "-y"], box.env())
            remove(prefix)
            return seconds

        def raw(i: int, specs: list[str] = specs) -> float:
            prefix = envs / f"raw-{len(specs)}-{i}"
            argv = [sys.executable, str(BENCH_DIR / "raw_rattler.py"), url, str(prefix)]
            seconds = run_timed([*argv, str(box.pkgs), *specs], box.env())
            remove(prefix)
            return seconds

        samples = alternate({"ours": ours, "raw": raw}, 2 if quick else 5)
        rows.append(
            ratio_row(
                "8",
                f"curve: create with {count} requested packages, warm cache",
                samples["ours"],
                "py-rattler",
                samples["raw"],
                limit=None,
            )
        )
    return rows


def envs_curve(work: Path, url: str, quick: bool) -> list[Row]:
    from bench.kernel_discovery import make_env

    rows = []
    for count in (1, 10, 100):
        box = Sandbox(work / f"envs-{count}")
        for i in range(count):
            make_env(box.root / "envs" / f"env{i:03d}", shipped_spec=i % 5 != 0)
        # Their kernelspecs are already in the kernels dir, as after the creates that made them.
        run_timed([*envmgr_command(), "kernels", "--sync"], box.env())

        def ours(i: int, box: Sandbox = box, dry: bool = False) -> float:
            name = f"new{i}"
            argv = [*envmgr_command(), "create", "-n", name, "-c", url, "--override-channels"]
            argv += ["cpkg000", "-y"] + (["--dry-run"] if dry else [])
            seconds = run_timed(argv, box.env())
            remove(box.root / "envs" / name)
            return seconds

        def raw(i: int, box: Sandbox = box) -> float:
            prefix = box.path / f"raw{i}"
            argv = [sys.executable, str(BENCH_DIR / "raw_rattler.py"), url, str(prefix)]
            seconds = run_timed([*argv, str(box.pkgs), "cpkg000"], box.env())
            remove(prefix)
            return seconds

        samples = alternate(
            {"ours": ours, "dry": lambda i, box=box: ours(i, box, True), "raw": raw},
            2 if quick else 5,
        )
        rows.append(
            ratio_row(
                "8",
                f"curve: create with {count} envs in the root (their kernels synced)",
                samples["ours"],
                "py-rattler",
                samples["raw"],
                limit=None,
            )
        )
        rows.append(
            ratio_row(
                "8",
                f"curve: create --dry-run (solve) with {count} envs in the root",
                samples["dry"],
                "py-rattler create",
                samples["raw"],
                limit=None,
            )
        )
        remove(box.path)
    return rows


def figure(work: Path, quick: bool) -> list[Row]:
    url = curve_channel().as_uri()
    return (
        solve_curve(work, url, quick)
        + create_curve(work, url, quick)
        + envs_curve(work, url, quick)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from bench.common import print_table

    with tempfile.TemporaryDirectory(prefix="envmgr-bench-curves-") as tmp:
        rows = figure(Path(tmp), args.quick)
    print_table(rows)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
