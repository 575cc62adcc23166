"""Results and errors of CLI runs, shown in the cell: tables as text (and HTML where the
frontend renders it), errors as one message, never a traceback."""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Sequence
from typing import Any

from ._shared import human_bytes


def _display(bundle: dict[str, str]) -> None:
    try:
        from IPython.display import display
    except ImportError:
        print(bundle["text/plain"])
        return
    display(bundle, raw=True)


def show_text(text: str) -> None:
    _display({"text/plain": text})


def render_error(message: str) -> None:
    """One message in the cell's error stream, in words."""
    print(f"envmgr: {message}", file=sys.stderr, flush=True)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], title: str = "") -> None:
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    lines = [title] if title else []
    lines.append("  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)).rstrip())
    lines += [
        "  ".join(f"{c:<{w}}" for c, w in zip(r, widths, strict=True)).rstrip() for r in cells
    ]
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in cells
    )
    caption = f"<caption>{html.escape(title)}</caption>" if title else ""
    _display(
        {
            "text/plain": "\n".join(lines),
            "text/html": f"<table>{caption}<tr>{head}</tr>{body}</table>",
        }
    )


def plan_lines(plan: dict[str, Any]) -> list[str]:
    def label(r: dict[str, Any]) -> str:
        return f"{r['name']} {r['version']} ({r['build']}, {r['channel']})"

    lines = [f"  + {label(r)}" for r in plan.get("add", [])]
    lines += [f"  - {label(r)}" for r in plan.get("remove", [])]
    lines += [
        f"  ~ {c['from']['name']} {c['from']['version']} -> {c['to']['version']} ({c['kind']})"
        for c in plan.get("change", [])
    ]
    return lines


def env_label(env: dict[str, Any] | None) -> str:
    """An env as the notebook faces name it: its name, else its path."""
    if not env:
        return "the environment"
    return str(env.get("name") or env.get("prefix"))


def render_result(verb: tuple[str, ...], result: dict[str, Any]) -> None:
    rows: list[tuple[Any, ...]]
    if "plan" in result and "applied" in result and "env" in result:
        _solve_result(result)
    elif "packages" in result:
        rows = [(p["name"], p["version"], p["build"], p["channel"]) for p in result["packages"]]
        table(("Name", "Version", "Build", "Channel"), rows, f"{env_label(result.get('env'))}:")
    elif "revisions" in result:
        lines = []
        for rev in result["revisions"]:
            lines.append(f"rev {rev['number']}  {rev['date']}  {rev.get('cmd', '')}".rstrip())
            lines += [f"    -{d}" for d in rev.get("removed", [])]
            lines += [f"    +{d}" for d in rev.get("added", [])]
        show_text("\n".join(lines) or "No revisions.")
    elif "environments" in result:  # `env list` ("envs" holds micromamba's bare paths)
        rows = [(e.get("name") or "", e["prefix"]) for e in result["environments"]]
        table(("Name", "Path"), rows)
    elif "text" in result:
        show_text(result["text"])
    elif "kernels" in result:
        rows = [(k["name"], k["display_name"], env_label(k.get("env"))) for k in result["kernels"]]
        table(("Kernel name", "Display name", "Environment"), rows)
    elif "trees" in result:
        _usage(result)
    elif "freed_bytes" in result or "items" in result:
        _clean(result)
    elif "repaired" in result:
        show_text("Restored after an interrupted operation." if result["repaired"] else
                  "Nothing to repair.")  # fmt: skip
    elif "removed" in result:
        show_text(f"Removed {env_label(result.get('env'))}." if result["removed"] else
                  "Nothing was removed.")  # fmt: skip
    else:
        body = {k: v for k, v in result.items() if k != "event"}
        show_text(json.dumps(body, indent=2, default=str))


def _solve_result(result: dict[str, Any]) -> None:
    plan, env = result["plan"], env_label(result.get("env"))
    lines = plan_lines(plan)
    if not lines:
        show_text(f"Nothing to change in {env}: all requested packages are already installed.")
        return
    if result["applied"]:
        head = f"Done: {env}"
    else:
        head = f"Dry run, nothing changed in {env}. The plan:"
    show_text("\n".join([head, *lines]))


def _usage(report: dict[str, Any]) -> None:
    rows = [
        (
            t.get("name") or t["path"],
            t["kind"],
            human_bytes(t["real_bytes"]),
            human_bytes(t["own_bytes"]),
            human_bytes(t["shared_bytes"]),
            t["inodes"],
        )
        for t in report["trees"]
    ]
    table(("Tree", "Kind", "Real", "Own", "Shared", "Inodes"), rows, "Disk use:")


def _clean(result: dict[str, Any]) -> None:
    plan = result.get("plan", result)
    done = result.get("applied", False)
    rows = [(i["category"], i["name"], human_bytes(i["bytes"]), i["inodes"]) for i in plan["items"]]
    verb = "Freed" if done else "Would free"
    title = f"{verb} {human_bytes(plan['bytes'])} and {plan['inodes']} inodes:"
    if rows:
        table(("Category", "Entry", "Bytes", "Inodes"), rows, title)
    else:
        show_text("Nothing to clean.")
    kept = plan.get("kept", [])
    if kept:
        show_text(f"Kept {len(kept)} entries (in use by an environment, busy or recent).")


def offer_restart(modules: Sequence[str]) -> None:
    """Modules imported before the change keep their old code: say which, offer a restart."""
    names = ", ".join(modules)
    message = (
        f"Already imported and changed by this operation: {names}. Restart the kernel to use "
        "the new versions."
    )
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:
        render_error(message)
        return
    button = widgets.Button(description="Restart kernel", button_style="warning")
    button.on_click(lambda _b: _restart_kernel())
    display(widgets.VBox([widgets.Label(message), button]))


def _restart_kernel() -> None:
    # The Jupyter server restarts a kernel that ends (its auto-restart): the frontend shows
    # "kernel restarting", and the new process imports the new versions.
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
