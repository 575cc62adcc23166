"""`envmgr kernels`: the Jupyter kernels of every environment, as the server lists them.

Reads the same traitlets config as the server (`c.EnvKernelSpecManager.exclude_envs`,
`name_format`, ...), so the names printed here are the names notebooks will record.
"""

from __future__ import annotations

from typing import Any

from .common import Subparsers, add_json, add_root_prefix
from .session import Session
from .table import print_table


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("kernels", help="list the Jupyter kernels of every environment")
    add_json(p, help="print JSON")
    add_root_prefix(p)
    p.add_argument(
        "--sync",
        action="store_true",
        help="also (re)write them in your Jupyter kernels dir for tools outside the server "
        "(jupyter kernelspec list, nbclient, VS Code)",
    )
    p.set_defaults(run=run)


def _collect(session: Session) -> tuple[list[dict[str, Any]], dict[str, list[str]] | None]:
    # Imported here: jupyter_client costs ~80 ms, which other verbs should not pay.
    from ..kernels.manager import EnvKernelSpecManager, spec_summary
    from ..kernels.sync import sync_kernelspecs

    manager = EnvKernelSpecManager.from_jupyter_config(settings=session.settings)
    rows = [spec_summary(s) for s in manager.env_kernel_specs().values()]
    if not getattr(session.args, "sync", False):
        return rows, None
    report = sync_kernelspecs(manager)
    return rows, {k: getattr(report, k) for k in ("written", "unchanged", "removed", "skipped")}


def _print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("No environment has a kernel. Install one, e.g. 'envmgr install -n ENV ipykernel'.")
        return
    header = ("Kernel name", "Display name", "Environment")
    table = [(r["name"], r["display_name"], r["env"]["name"] or r["env"]["prefix"]) for r in rows]
    print_table(table, header)


async def run(session: Session) -> int:
    import asyncio

    # Filesystem reads only, but a cold scan of many envs takes a moment: off the loop.
    rows, synced = await asyncio.to_thread(_collect, session)
    if session.json:
        result: dict[str, Any] = {"event": "result", "kernels": rows}
        if synced is not None:
            result["synced"] = synced
        session.json.emit(result)
        return 0
    _print_table(rows)
    if synced is not None:
        skipped = synced["skipped"]
        print(
            f"\nKernelspecs written: {len(synced['written'])}, unchanged: "
            f"{len(synced['unchanged'])}, removed: {len(synced['removed'])}"
            + (f", skipped (name taken): {', '.join(skipped)}" if skipped else "")
        )
    return 0
