"""`list`: the packages of an environment (those pip installed too, as conda lists them), as a
table, `--export` lines or an `--explicit` list, or with --revisions the revisions in its
history."""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from ..engine.errors import BadInput
from .common import Subparsers, add_common, add_env_args
from .session import Session
from .table import print_table

if TYPE_CHECKING:
    from ..engine.registry import Env


def add_parsers(sub: Subparsers) -> None:
    p = sub.add_parser("list", help="list the packages of an environment")
    add_env_args(p)
    add_common(p)
    p.add_argument(
        "regex", nargs="?", metavar="PATTERN", help="only packages whose name this regex finds"
    )
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--revisions", action="store_true", help="list the revisions from history")
    shape.add_argument(
        "--export", action="store_true", help="name=version=build lines (create -f reads them)"
    )
    shape.add_argument("--explicit", action="store_true", help="@EXPLICIT list of package URLs")
    p.add_argument("--md5", action="store_true", help="with --explicit: each URL with its md5")
    p.set_defaults(run=list_packages)


async def list_packages(s: Session) -> int:
    from ..engine.pip_packages import pip_distributions
    from ..engine.prefix import read_records, record_json

    a = s.args
    env = s.target_env()  # -n/-p, else the active env; never base unasked
    names = _name_pattern(a.regex)
    if a.md5 and not a.explicit:
        raise BadInput("--md5 goes with --explicit: envmgr list --explicit --md5.")
    if a.revisions:
        if names is not None:
            raise BadInput("list --revisions takes no PATTERN: leave it out.")
        return _revisions(s, env)
    if a.explicit:
        from ..engine.export import export_explicit

        text = export_explicit(env, digest="md5" if a.md5 else "none", names=names)
        return _text(s, env, text)
    # Only the dist-info paths of the file lists: they tell which distributions pip installed.
    every = read_records(env.prefix, files="dist-info")
    records = [r for r in every if names is None or names.search(r.name.normalized)]
    records.sort(key=lambda r: r.name.normalized)
    if a.export:
        # Conda packages only: a pip distribution's `pypi_0` line is no spec a solve can take.
        lines = [f"{r.name.normalized}={r.version}={r.build}\n" for r in records]
        return _text(s, env, "".join(lines))
    rows = [record_json(r, s.settings.channel_alias) for r in records]
    rows += [
        d.to_json()
        for d in pip_distributions(env.prefix, every)
        if names is None or names.search(d.normalized)
    ]
    rows.sort(key=lambda row: str(row["name"]))
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "packages": rows})
        return 0
    print(f"List of packages in environment: {env.prefix}\n")
    print_table([(r["name"], r["version"], r["build"], r["channel"]) for r in rows])
    return 0


def _name_pattern(regex: str | None) -> re.Pattern[str] | None:
    """The PATTERN, searched for in package names as micromamba does (`list py` lists
    python and ipykernel alike); a bad one is refused before anything is read."""
    if regex is None:
        return None
    try:
        return re.compile(regex)
    except re.error as exc:
        raise BadInput(
            f"{regex!r} is not a regular expression ({exc}): write e.g. '^numpy$' or 'py'."
        ) from None


def _text(s: Session, env: Env, text: str) -> int:
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "text": text})
    else:
        print(text, end="")
    return 0


def _revisions(s: Session, env: Env) -> int:
    from ..engine.prefix import read_history

    revisions = read_history(env.prefix)
    if s.json:
        s.json.emit(
            {
                "event": "result",
                "env": env.to_json(),
                "revisions": [dataclasses.asdict(r) for r in revisions],
            }
        )
        return 0
    for rev in revisions:
        print(f"{rev.date}  (rev {rev.number})")
        for dist in rev.removed:
            print(f"    -{dist}")
        for dist in rev.added:
            print(f"    +{dist}")
        print()
    return 0
