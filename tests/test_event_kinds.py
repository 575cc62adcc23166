"""One list of event kinds: jupyter_envmgr/events.py's EventKind. The REST API's document, the
JupyterLab extension's EventKind union and every place the package makes an event keep to it.

A failure names the kind and where to add (or remove) it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import get_args

import yaml

from jupyter_envmgr.events import CliLineKind, EventKind

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "jupyter_envmgr"
OPENAPI = PACKAGE / "server" / "openapi.yaml"
TYPES_TS = ROOT / "labextension" / "src" / "types.ts"
TS_NAME = "labextension/src/types.ts"

KINDS = set(get_args(EventKind))
CLI_LINES = set(get_args(CliLineKind))
WHERE = (
    "jupyter_envmgr/events.py (EventKind), the enum of TaskEvent.event in "
    "jupyter_envmgr/server/openapi.yaml, and EventKind in labextension/src/types.ts"
)

# `export type EventKind =` then `| 'kind'` lines up to the `;`.
TS_UNION = re.compile(r"export type EventKind =(?P<body>[^;]*);")
TS_MEMBER = re.compile(r"\s*\|\s*'(?P<kind>[a-z][a-z-]*)'\s*")


def ts_event_kinds(source: str) -> list[str]:
    """The members of `export type EventKind = | 'a' | 'b' ...;` in TypeScript source."""
    found = TS_UNION.search(source)
    assert found, (
        f"{TS_NAME} has no `export type EventKind = | '...' ...;` union: "
        f"add one, one `| 'kind'` per line, listing {sorted(KINDS)}"
    )
    body = found.group("body")
    members = []
    pos = 0
    while pos < len(body.rstrip()):
        member = TS_MEMBER.match(body, pos)
        assert member, (
            f"EventKind in {TS_NAME}: only `| 'kind'` members are read "
            f"here, not {body[pos:].strip()[:60]!r}"
        )
        members.append(member.group("kind"))
        pos = member.end()
    return members


def test_ts_parser_reads_the_union_and_refuses_anything_else():
    source = (
        "import { X } from './x';\n\nexport type EventKind =\n  | 'cancelled'\n  | 'done'\n"
        "  | 'lock-wait';\n\nexport type Other = 'a' | 'b';\n"
    )
    assert ts_event_kinds(source) == ["cancelled", "done", "lock-wait"]
    assert ts_event_kinds("export type EventKind = | 'done' | 'link';") == ["done", "link"]
    for bad in ("export type EventKind = | 'done' | Other;", "export type Kind = | 'done';"):
        try:
            ts_event_kinds(bad)
        except AssertionError:
            continue
        raise AssertionError(f"read {bad!r}")


def test_openapi_documents_every_kind_and_no_other():
    doc = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    enum = doc["components"]["schemas"]["TaskEvent"]["properties"]["event"]["enum"]
    assert len(enum) == len(set(enum)), f"a kind is listed twice in openapi.yaml: {enum}"
    assert set(enum) == KINDS, _drift(set(enum), "the enum of TaskEvent.event in openapi.yaml")


def test_the_labextension_union_is_the_same_list():
    members = ts_event_kinds(TYPES_TS.read_text(encoding="utf-8"))
    assert len(members) == len(set(members)), f"a kind is listed twice in types.ts: {members}"
    assert set(members) == KINDS, _drift(set(members), f"EventKind in {TS_NAME}")


def _drift(listed: set[str], where: str) -> str:
    lines = [f"{where} differs from jupyter_envmgr/events.py's EventKind:"]
    if KINDS - listed:
        lines.append(f"add {sorted(KINDS - listed)} to {where};")
    if listed - KINDS:
        lines.append(
            f"{sorted(listed - KINDS)} are not in EventKind: add them to {WHERE}, "
            f"or drop them from {where}."
        )
    return " ".join(lines)


def _made_kinds() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Kinds spelled where events are made: `Event("kind", ...)` (or `Event(kind="kind")`),
    and dict literals `{"event": "kind", ...}` (the server's task events, the CLI's JSON lines).
    Each maps a kind to the places (path:line) that make it."""
    events: dict[str, list[str]] = {}
    lines: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(ROOT)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name != "Event":
                    continue
                first = node.args[0] if node.args else None
                first = next((k.value for k in node.keywords if k.arg == "kind"), first)
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    events.setdefault(first.value, []).append(f"{where}:{node.lineno}")
            elif isinstance(node, ast.Dict):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (
                        isinstance(key, ast.Constant)
                        and key.value == "event"
                        and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                    ):
                        lines.setdefault(value.value, []).append(f"{where}:{node.lineno}")
    return events, lines


def test_every_kind_the_package_makes_is_listed_and_every_listed_kind_is_made():
    from jupyter_envmgr.server.tasks import FINAL_STATES

    events, lines = _made_kinds()
    assert len(events) >= 15 and "result" in lines, "the scan no longer finds the producers"
    unlisted = {k: v for k, v in events.items() if k not in KINDS}
    assert not unlisted, f"events of kinds EventKind lacks: {unlisted}; add them to {WHERE}"
    unlisted = {k: v for k, v in lines.items() if k not in KINDS | CLI_LINES}
    assert not unlisted, (
        f"JSON lines of kinds neither EventKind nor CliLineKind has: {unlisted}; add a progress "
        f"event's kind to {WHERE}, a CLI-only line's to CliLineKind in jupyter_envmgr/events.py"
    )
    # The server records a task's final state (done, failed, cancelled) as its last event.
    assert set(FINAL_STATES) <= KINDS, f"add {set(FINAL_STATES) - KINDS} to {WHERE}"
    unmade = KINDS - set(events) - set(lines) - set(FINAL_STATES)
    assert not unmade, f"nothing makes {sorted(unmade)} any more: remove them from {WHERE}"
    unmade = CLI_LINES - set(lines)
    assert not unmade, f"nothing makes {sorted(unmade)}: remove them from CliLineKind"
    assert not KINDS & CLI_LINES, "a kind is both a progress event and a CLI-only line"


def test_notebook_progress_types_against_the_list_without_importing_it(tmp_path, monkeypatch):
    """In an env's kernel the notebook folder is `jupyter_envmgr_notebook`, alone but for the
    progress_text module it stands on (the folder the provisioner makes): the kinds they compare
    with are checked by mypy, and nothing of jupyter_envmgr is imported at run time."""
    from jupyter_envmgr.kernels.provisioner import kernel_client_path

    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    folder = kernel_client_path()
    child = (
        "import sys\n"
        f"sys.path.insert(0, {str(folder)!r})\n"
        "from jupyter_envmgr_notebook.progress import ProgressState\n"
        "state = ProgressState()\n"
        "assert state.update({'event': 'link', 'name': 'x', 'done': 1, 'total': 2})\n"
        "assert not state.update({'event': 'transaction-start'})\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'jupyter_envmgr'], 'imported'\n"
        "print(state.status)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-I", "-c", child], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Linking 1/2: x"
