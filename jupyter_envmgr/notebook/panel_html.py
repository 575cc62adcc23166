"""The panel's HTML fragments (package table, plans, clean and disk-use reports), from the
CLI's JSON results. Plain strings: no widgets here, everything escaped."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

from ._shared import human_bytes
from .render import env_label

_ANACONDA = "https://conda.anaconda.org/"
_TABLE = 'style="border-collapse: collapse; font-size: var(--jp-ui-font-size1, 13px)"'
_CELL = 'style="text-align: left; padding: 1px 12px 1px 0"'


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th {_CELL}>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td {_CELL}>{escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def short_channel(channel: str) -> str:
    return channel.removeprefix(_ANACONDA).rstrip("/")


def packages_html(packages: Sequence[dict[str, Any]], env: dict[str, Any] | None) -> str:
    if not packages:
        return "<i>No packages to show.</i>"
    head = "".join(
        f"<th {_CELL}>{h}</th>" for h in ("Name", "Version", "Build", "Channel", "Asked", "Update")
    )
    body = "".join(_package_row(p) for p in packages)
    count = "1 package" if len(packages) == 1 else f"{len(packages)} packages"
    title = f"<b>{count} in {escape(env_label(env))}</b>"
    return f"{title}<table {_TABLE}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: object, title: str | None = None, cls: str = "") -> str:
    hover = f' title="{escape(title)}"' if title else ""
    klass = f' class="{cls}"' if cls else ""
    return f"<td {_CELL}{hover}{klass}>{escape(str(text))}</td>"


def _package_row(p: dict[str, Any]) -> str:
    """One package: the channel's short name with its URL on hover; requested (the spec on
    hover) or a dependency (the requested packages that pull it in on hover); a newer
    version in the channels, or "?" when the channels' indexes were not at hand."""
    name = str(p.get("name", "?"))
    needed = ", ".join(p.get("required_by") or [])
    if p.get("requested"):
        asked = _cell(
            "requested",
            f"You asked for {p.get('requested_spec') or name}"
            + (f"; also needed by {needed}" if needed else ""),
            "envmgr-requested",
        )
    elif needed:
        asked = _cell("dependency", f"Installed because {needed} needs it", "envmgr-dependency")
    else:
        asked = _cell("", "Not requested, and no requested package needs it")
    if p.get("updatable"):
        update = _cell(
            f"→ {p['updatable']}", f"{p['updatable']} is in the channels", "envmgr-updatable"
        )
    elif p.get("updates_known") is False and p.get("channel_url"):
        update = _cell("?", "Unknown: a channel's cached index is missing or older than a day")
    else:
        update = _cell("")
    channel = str(p.get("channel", ""))
    return (
        f'<tr data-package="{escape(name)}">'
        + _cell(name)
        + _cell(p.get("version", "?"))
        + _cell(p.get("build", ""))
        + _cell(short_channel(channel), str(p.get("channel_url") or channel))
        + asked
        + update
        + "</tr>"
    )


def kernel_html(kernels: Sequence[dict[str, Any]], own: bool, has_env: bool) -> str:
    if not has_env:
        return "<i>No environment selected.</i>"
    here = " This notebook's kernel runs in it." if own else ""
    if not kernels:
        return (
            "This env has no Jupyter kernel: install <code>ipykernel</code> into it to get one."
            + here
        )
    names = ", ".join(
        f"<b>{escape(str(k.get('display_name') or k['name']))}</b> "
        f"(<code>{escape(str(k['name']))}</code>)"
        for k in kernels
    )
    return f"This env's kernel: {names}: pick it in the launcher or under Kernel.{here}"


def search_html(result: dict[str, Any], query: str = "") -> str:
    """What the channels have for a search: newest first, as `envmgr search` lists them."""
    found = result.get("packages", [])
    if not found:
        return f"<i>No package matches <code>{escape(query)}</code> in the channels.</i>"
    head = "<tr><th>Name</th><th>Version</th><th>Build</th><th>Channel</th><th>Subdir</th></tr>"
    rows = "".join(
        "<tr>"
        + "".join(f"<td>{escape(str(p.get(k, '')))}</td>" for k in
                  ("name", "version", "build", "channel", "subdir"))
        + "</tr>"
        for p in found[:50]
    )  # fmt: skip
    more = f"<i>{len(found) - 50} more not shown.</i>" if len(found) > 50 else ""
    return f"<table>{head}{rows}</table>{more}"


def revision_label(rev: dict[str, Any]) -> str:
    added, removed = len(rev.get("added", [])), len(rev.get("removed", []))
    return f"{rev.get('number')}  {rev.get('date', '')}  +{added} -{removed}"


def revision_html(rev: dict[str, Any] | None) -> str:
    if rev is None:
        return "<i>No revisions.</i>"
    lines = [f"rev {rev.get('number')}  {rev.get('date', '')}", str(rev.get("cmd") or "")]
    lines += [f"  + {d}" for d in rev.get("added", [])]
    lines += [f"  - {d}" for d in rev.get("removed", [])]
    body = "\n".join(escape(line) for line in lines if line)
    return f"<pre style='margin: 2px 0; white-space: pre-wrap'>{body}</pre>"


def clean_html(result: dict[str, Any] | None) -> str:
    if result is None:
        return "<i>Preview what cleaning the package cache would remove.</i>"
    plan = result.get("plan", result)
    applied = bool(result.get("applied"))
    if applied:
        freed, inodes = result.get("freed_bytes", 0), result.get("freed_inodes", 0)
        head = f"<b>Freed {human_bytes(freed)} and {inodes} inodes.</b>"
    else:
        head = (
            f"<b>Cleaning would free {human_bytes(plan.get('bytes', 0))} and "
            f"{plan.get('inodes', 0)} inodes.</b>"
        )
    items = plan.get("items", [])
    rows = [(i["category"], i["name"], human_bytes(i["bytes"]), i["inodes"]) for i in items]
    parts = [head]
    if rows:
        parts.append(table(("Category", "Entry", "Bytes", "Inodes"), rows))
    elif not applied:
        parts.append("<br><i>Nothing to clean.</i>")
    kept = plan.get("kept", [])
    if kept:
        parts.append(f"<br>Kept {len(kept)} entries (in use by an environment, busy or recent).")
    failed = result.get("failed", [])
    if failed:
        parts.append(f"<br>Could not remove {len(failed)} entries.")
    return "".join(parts)


def usage_html(report: dict[str, Any] | None) -> str:
    if report is None:
        return "<i>Measure the disk use of this environment and of the package cache.</i>"
    rows = [
        (
            t.get("name") or t.get("path"),
            t.get("kind"),
            human_bytes(t.get("real_bytes")),
            human_bytes(t.get("own_bytes")),
            human_bytes(t.get("shared_bytes")),
            t.get("inodes"),
            t.get("own_inodes"),
        )
        for t in report.get("trees", [])
    ]
    header = ("Tree", "Kind", "Real", "Own", "Shared", "Inodes", "Own inodes")
    note = (
        "<br><small>Own: only in this tree. Shared: hard links shared with the package "
        "cache or other envs (counted once on disk).</small>"
    )
    warnings = "".join(f"<br>{escape(str(w))}" for w in report.get("warnings", []))
    return table(header, rows) + note + warnings


EXPORT_FILES = {
    "yaml": ("environment.yml", "text/yaml"),
    "from-history": ("environment.yml", "text/yaml"),
    "explicit": ("explicit.txt", "text/plain"),
    "lock": ("lock.yml", "text/yaml"),
}


def download_html(text: str, env: dict[str, Any] | None, fmt: str) -> str:
    if not text:
        return ""
    suffix, mime = EXPORT_FILES.get(fmt, ("export.txt", "text/plain"))
    name = env.get("name") if env else None
    filename = f"{name}-{suffix}" if name else suffix
    data = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return (
        f'<a download="{escape(filename)}" href="data:{mime};base64,{data}" '
        f'target="_blank">Download {escape(filename)}</a>'
    )
