"""`config list | get | set | append | prepend | remove-key`: the rc files conda and micromamba
read, edited safely (engine/rc_edit.py). Reads merge the files in effect (`envmgr info` names
them); edits go to ~/.condarc unless --file names another."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .common import Subparsers, add_common
from .session import Session

VERBS = (
    ("list", "the configuration in effect, from every rc file read"),
    ("get", "one key's value"),
    ("set", "set KEY VALUE (KEY.NAME for custom_channels and other mappings)"),
    ("append", "add VALUE... to the end of a list key, e.g. channels"),
    ("prepend", "add VALUE... to the front of a list key, e.g. channels"),
    ("remove-key", "remove KEY"),
)


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("config", help="read and edit .condarc/.mambarc")
    c_sub = p.add_subparsers(dest="config_command", metavar="CONFIG_COMMAND")
    c_sub.required = True
    for verb, text in VERBS:
        c = c_sub.add_parser(verb, help=text)
        add_common(c)
        c.add_argument("--file", help="this rc file only (default: the files in effect; edits: "
                       "~/.condarc)")  # fmt: skip
        if verb != "list":
            c.add_argument("key", metavar="KEY")
        if verb == "set":
            c.add_argument("value", metavar="VALUE")
        elif verb in ("append", "prepend"):
            c.add_argument("values", nargs="+", metavar="VALUE")
        c.set_defaults(run=config)


async def config(s: Session) -> int:
    from ..engine import rc_edit

    a = s.args
    verb = a.config_command
    chosen = Path(a.file).expanduser().absolute() if a.file else None
    if verb in ("list", "get"):
        files = [chosen] if chosen else [Path(f) for f in s.settings.sources]
        values = rc_edit.merged(files)
        if verb == "list":
            return _show(s, {"config": values, "files": [str(f) for f in files]}, values)
        rc_edit.check_key(a.key)
        found, value = rc_edit.get_value(values, a.key)
        if not found:
            where = ", ".join(map(str, files)) or "no rc file"
            print(f"{a.key} is not set ({where}).", file=sys.stderr)
            return _show(s, {"key": a.key, "found": False}, {})
        return _show(s, {"key": a.key, "found": True, "value": value}, {a.key: value})
    target = chosen or rc_edit.default_rc_file(s.settings.home)
    if verb == "set":
        value = rc_edit.set_key(target, a.key, a.value)
        text = f"Set {a.key} = {value!r} in {target}"
    elif verb in ("append", "prepend"):
        value = rc_edit.add_to_list(target, a.key, a.values, front=verb == "prepend")
        text = f"{a.key} in {target}: {', '.join(map(str, value))}"
    else:
        rc_edit.remove_key(target, a.key)
        value, text = None, f"Removed {a.key} from {target}"
    s.result({"file": str(target), "key": a.key, "value": value}, text)
    return 0


def _show(s: Session, result: dict[str, Any], values: dict[str, Any]) -> int:
    if s.json:
        s.json.emit({"event": "result", **result})
    elif values:
        import yaml

        print(yaml.safe_dump(values, sort_keys=False, default_flow_style=False), end="")
    return 0
