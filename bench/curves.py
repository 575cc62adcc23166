"""Figure 8: how solve and create times grow with what is asked and with how many envs exist.

On a synthetic local channel of small packages (`cpkg000` ... `cpkg099`, each depending on a
shared `cbase`; built once, cached in ~/.cache/jupyter_envmgr/bench-channels):

- against the number of requested packages (1, 10, 100): the engine's solve + plan against
  `rattler.solve` in one process (as figure 1), and `envmgr create -p NEW ... -y` against raw
  py-rattler (bench/raw_rattler.py) from a warm package cache, alternating;
- against the number of envs already in the root prefix (1, 10, 100; envs with a kernel each,
  their kernelspecs already synced): `envmgr create -n NEW -c CURVE cpkg000 -y` and the same
  with `--dry-run` (the solve path of the CLI), next to raw py-rattler, which knows no envs.

The curves have no targets, except the small create against the envs in the root: <= 1.1x raw
py-rattler at 1, 10 and 100 envs (issue 28: the kernelspec sync after a create touches the new
env's kernels only, so the envs already there cost nothing).

    python bench/curves.py [--quick]
    python bench/curves.py --before TREE [--runs N]   # that curve only, TREE's code against this
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
ENVS_LIMIT = 1.1  # the small create with 1, 10 and 100 envs in the root, against raw py-rattler
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


def make_root_envs(box: Sandbox, count: int) -> None:
    """`count` envs with a kernel each in the box's root, their kernelspecs already in the
    kernels dir, as after the creates that made them."""
    from bench.kernel_discovery import make_env

    for i in range(count):
        make_env(box.root / "envs" / f"env{i:03d}", shipped_spec=i % 5 != 0)
    run_timed([*envmgr_command(), "kernels", "--sync"], box.env())


def envs_curve(
    work: Path, url: str, quick: bool, before: Path | None = None, runs: int | None = None
) -> list[Row]:
    """`before`: also the code of that tree (e.g. `git archive` of an older commit, unpacked),
    alternating with this tree's and raw py-rattler; no dry runs then."""
    rows = []
    for count in (1, 10, 100):
        box = Sandbox(work / f"envs-{count}")
        make_root_envs(box, count)

        def ours(i: int, box: Sandbox = box, dry: bool = False, tree: Path | None = None) -> float:
            name = f"new{i}" if tree is None else f"before{i}"
            argv = [*envmgr_command(), "create", "-n", name, "-c", url, "--override-channels"]
            argv += ["cpkg000", "-y"] + (["--dry-run"] if dry else [])
            env = box.env()
            if tree is not None:
                env["PYTHONPATH"] = str(tree)
            seconds = run_timed(argv, env)
            remove(box.root / "envs" / name)
            return seconds

        def raw(i: int, box: Sandbox = box) -> float:
            prefix = box.path / f"raw{i}"
            argv = [sys.executable, str(BENCH_DIR / "raw_rattler.py"), url, str(prefix)]
            seconds = run_timed([*argv, str(box.pkgs), "cpkg000"], box.env())
            remove(prefix)
            return seconds

        what = f"curve: create with {count} envs in the root (their kernels synced)"
        if before is not None:
            samples = alternate(
                {"before": lambda i, box=box: ours(i, box, tree=before), "ours": ours, "raw": raw},
                runs or 7,
            )
            for side, label in (("before", f"{before}"), ("ours", "this tree")):
                rows.append(
                    ratio_row(
                        "8",
                        f"{what}: {label}",
                        samples[side],
                        "py-rattler",
                        samples["raw"],
                        limit=ENVS_LIMIT,
                    )
                )
            remove(box.path)
            continue
        samples = alternate(
            {"ours": ours, "dry": lambda i, box=box: ours(i, box, True), "raw": raw},
            runs or (2 if quick else 5),
        )
        rows.append(
            ratio_row("8", what, samples["ours"], "py-rattler", samples["raw"], limit=ENVS_LIMIT)
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
    parser.add_argument(
        "--before",
        type=Path,
        metavar="TREE",
        help="only the create against envs in the root, this tree against the jupyter_envmgr "
        "under TREE",
    )
    parser.add_argument("--runs", type=int, help="rounds per point")
    args = parser.parse_args()
    from bench.common import print_table

    with tempfile.TemporaryDirectory(prefix="envmgr-bench-curves-") as tmp:
        if args.before:
            url = curve_channel().as_uri()
            rows = envs_curve(Path(tmp), url, False, args.before.resolve(), args.runs)
        else:
            rows = figure(Path(tmp), args.quick)
    print_table(rows)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
