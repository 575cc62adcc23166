"""`envmgr clean` and `envmgr usage`: parsing and rendering over engine.cache and engine.usage."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ..progress_text import human_bytes
from .common import Subparsers, add_common, add_env_args, add_yes
from .session import Session
from .table import print_table

if TYPE_CHECKING:
    from ..engine.cache import CleanPlan, CleanResult
    from ..engine.owners import OwnerReport
    from ..engine.registry import Env
    from ..engine.usage import UsageReport


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("clean", help="remove unused packages, tarballs, index cache and lock files")
    add_common(p)
    # micromamba's (and conda's) short forms.
    p.add_argument("-i", "--index-cache", action="store_true", help="remove the repodata cache")
    p.add_argument(
        "-t", "--tarballs", action="store_true", help="remove downloaded package archives"
    )
    p.add_argument(
        "-p", "--packages", action="store_true", help="remove extracted packages no env uses"
    )
    p.add_argument(
        "-l", "--locks", action="store_true", help="remove lock files of removed packages"
    )
    p.add_argument("-a", "--all", action="store_true", help="all of the above")
    p.add_argument("-d", "--dry-run", action="store_true", help="only show what would be removed")
    add_yes(p)
    p.set_defaults(run=clean)

    p = sub.add_parser("usage", help="disk space and inodes of envs and the package cache")
    add_common(p)
    add_env_args(
        p,
        name_help="only this environment (and the package cache)",
        prefix_help="only the environment at this path",
    )
    p.add_argument(
        "--by-owner",
        action="store_true",
        help="bytes and inodes per owner (unix user) in every envs dir and package cache, "
        "hard links counted once; your own envs and cache entries, and what clean would free "
        "in your own cache",
    )
    p.set_defaults(run=usage)


# ---------------------------------------------------------------------------------------------
# clean


async def clean(s: Session) -> int:
    from ..engine import cache

    a = s.args
    if s.policy is not None and not a.dry_run:
        s.policy.check_clean()
    categories = cache.select_categories(
        index_cache=a.index_cache,
        tarballs=a.tarballs,
        packages=a.packages,
        locks=a.locks,
        all=a.all,
    )

    def confirm(plan: CleanPlan) -> bool:
        if not s.json:
            _print_plan(plan)
        return s.ask(
            "Remove these?",
            default=False,
            refusal="Refusing to clean the package cache without confirmation: there is no "
            "terminal to ask on. Pass -y to confirm, or --dry-run to only see the plan.",
        )

    result = await cache.clean(
        s.settings, categories, dry_run=a.dry_run, confirm=confirm, on_event=s.on_event
    )
    if s.json:
        s.json.emit({"event": "result", "dry_run": bool(a.dry_run), **result.to_json()})
        return 1 if result.failed else 0
    if a.dry_run or result.plan.empty:
        _print_plan(result.plan)
        print("Dry run: nothing was removed." if a.dry_run else "Nothing to clean.")
        return 0
    _print_outcome(result)
    return 1 if result.failed else 0


def _print_plan(plan: CleanPlan) -> None:
    print(f"\nPackage cache: {', '.join(map(str, plan.pkgs_dirs))}\n")
    for path in plan.not_cleaned:
        print(f"Not cleaned: {path} (a package cache you can only read, such as a site cache)\n")
    if plan.items:
        rows = [(i.category, i.name, human_bytes(i.bytes), str(i.inodes)) for i in plan.items]
        print_table(rows, ("Category", "Entry", "Frees", "Inodes"), figures_from=2, rule=True)
        print()
    print_table(
        [
            (
                category,
                f"{row['items']} entries",
                human_bytes(row["bytes"]),
                f"{row['inodes']} inodes",
            )
            for category, row in plan.by_category().items()
            if row["items"]
        ],
        figures_from=1,
    )
    print(f"\n  Total: frees {human_bytes(plan.bytes)} and {plan.inodes} inodes")
    in_use = [k for k in plan.kept if k.reason == "in-use"]
    if in_use:
        envs = {e for k in in_use for e in k.envs}
        print(f"  Kept {len(in_use)} packages used by {len(envs)} environments")
    for k in plan.kept:
        if k.reason != "in-use":
            why = (
                "being written by another process" if k.reason == "busy" else "changed < 1 min ago"
            )
            print(f"  Skipped {k.path}: {why}")
    print()


def _print_outcome(result: CleanResult) -> None:
    if not result.applied:
        print("Aborted: nothing was removed.")
        return
    for k in result.skipped:
        print(f"Skipped {k.path}: another process started using it; run clean again later.")
    for f in result.failed:
        print(f"error: could not remove {f['path']}: {f['message']}", file=sys.stderr)
    print(
        f"Removed {len(result.removed)} entries: freed {human_bytes(result.bytes)} and "
        f"{result.inodes} inodes."
    )


# ---------------------------------------------------------------------------------------------
# usage


async def usage(s: Session) -> int:
    import asyncio

    from ..engine.registry import find_env
    from ..engine.usage import disk_usage

    a = s.args
    envs = None
    if a.name or a.prefix:
        envs = [find_env(s.settings, name=a.name, prefix=a.prefix)]
    if a.by_owner:
        return await _usage_by_owner(s, envs)
    report = await asyncio.to_thread(disk_usage, s.settings, envs=envs, on_event=s.on_event)
    if s.json:
        s.json.emit({"event": "result", **report.to_json()})
        return 0
    _print_usage(report)
    return 0


def _print_usage(report: UsageReport) -> None:
    rows = []
    for t in report.trees:
        label = (t.name or str(t.path)) if t.kind == "env" else f"[pkgs] {t.path}"
        shared = t.shared_cache.bytes + t.shared_envs.bytes + t.shared_other.bytes
        rows.append(
            (
                label,
                human_bytes(t.apparent_bytes),
                human_bytes(t.real_bytes),
                human_bytes(t.own.bytes),
                human_bytes(shared),
                str(t.inodes),
                str(t.own.inodes),
            )
        )
    tot = report.totals
    rows.append(
        (
            "Total (each inode once)",
            human_bytes(tot["apparent_bytes"]),
            human_bytes(tot["real_bytes"]),
            "",
            "",
            str(tot["inodes"]),
            "",
        )
    )
    print()
    header = ("Environment", "Apparent", "Real", "Own", "Shared", "Inodes", "Own inodes")
    print_table(rows, header, figures_from=1, rule=True)
    print()
    for t in report.trees:
        links = t.to_json()["links"]
        if links:  # files from a site package cache: linked, or copied (how many MB)
            print(f"{t.name or t.path}: files from the site package cache {links['text']}")
    for fs in report.filesystems:
        print(
            f"  Filesystem of {fs.paths[0]}: {human_bytes(fs.free_bytes)} free of "
            f"{human_bytes(fs.total_bytes)}, {fs.free_inodes} of {fs.total_inodes} inodes free"
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print()


async def _usage_by_owner(s: Session, envs: list[Env] | None) -> int:
    import asyncio

    from ..engine.owners import usage_by_owner

    report = await asyncio.to_thread(usage_by_owner, s.settings, envs=envs)
    if s.json:
        s.json.emit({"event": "result", **report.to_json()})
        return 0
    _print_by_owner(report)
    return 0


def _print_by_owner(report: OwnerReport) -> None:
    print("\nEvery envs dir and package cache, each inode once, by owner:\n")
    rows = [(name, human_bytes(u.bytes), str(u.inodes)) for name, u in report.owners.items()]
    print_table(rows, ("Owner", "Bytes", "Inodes"), figures_from=1, rule=True)
    print(f"\nWhat you ({report.user}) own, per env and cache (a file linked into several")
    print("of them shows in each):\n")
    rows = []
    for t in report.trees:
        mine = t["mine"]
        if mine["inodes"]:
            label = (t["name"] or t["path"]) if t["kind"] == "env" else f"[pkgs] {t['path']}"
            rows.append((label, human_bytes(mine["bytes"]), str(mine["inodes"])))
    if rows:
        print_table(rows, ("Environment or cache", "Bytes", "Inodes"), figures_from=1, rule=True)
    else:
        print("  nothing")
    if report.entries:
        print("\nYour biggest package cache entries:\n")
        rows = [(e["path"], human_bytes(e["bytes"]), str(e["inodes"])) for e in report.entries]
        print_table(rows, ("Entry", "Bytes", "Inodes"), figures_from=1, rule=True)
        if report.more_entries:
            print(f"  and {report.more_entries} more")
    if report.clean is not None:
        c = report.clean
        print(
            f"\n'envmgr clean --all' would free {human_bytes(c['bytes'])} and {c['inodes']} "
            f"inodes in your own cache {c['pkgs_dir']} ({c['items']} entries; see "
            "'envmgr clean --all --dry-run')."
        )
    else:
        print("\nYou own no package cache here: 'envmgr clean' has nothing of yours to free.")
    print()
