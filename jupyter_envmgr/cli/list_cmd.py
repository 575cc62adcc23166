"""`list`: the packages of an environment (those pip installed too, as conda lists them), as a
table, `--export` lines or an `--explicit` list, or with --revisions the revisions in its
history. The table and `--json` carry the engine's package insight (engine/package_insight.py):
what was requested, what has a newer version in the channels, the channel's short name and URL;
`--why PKG` says which requested packages pull PKG in."""

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
    shape.add_argument(
        "--why", metavar="PKG", help="why PKG is installed: the requested packages that need it"
    )
    p.add_argument("--md5", action="store_true", help="with --explicit: each URL with its md5")
    p.set_defaults(run=list_packages)


async def list_packages(s: Session) -> int:
    from ..engine.package_insight import package_insight
    from ..engine.pip_packages import pip_distributions
    from ..engine.prefix import read_records

    a = s.args
    env = s.target_env()  # -n/-p, else the active env; never base unasked
    names = _name_pattern(a.regex)
    if a.md5 and not a.explicit:
        raise BadInput("--md5 goes with --explicit: envmgr list --explicit --md5.")
    if a.revisions:
        if names is not None:
            raise BadInput("list --revisions takes no PATTERN: leave it out.")
        return _revisions(s, env)
    if a.why is not None:
        if names is not None:
            raise BadInput("list --why takes no PATTERN: leave it out.")
        return await _why(s, env, a.why)
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
    insight = await package_insight(s.settings, env.prefix, records)
    rows = [p.to_json() for p in insight]
    rows += [
        {**d.to_json(), **_PIP_INSIGHT}
        for d in pip_distributions(env.prefix, every)
        if names is None or names.search(d.normalized)
    ]
    rows.sort(key=lambda row: str(row["name"]))
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "packages": rows})
        return 0
    print(f"List of packages in environment: {env.prefix}\n")
    print_table([(r["name"], r["version"], r["build"], r["channel"], *_notes(r)) for r in rows])
    unknown = [p.name for p in insight if not p.updates_known]
    if unknown:
        print(
            f"\nNewer versions unknown for {len(unknown)} package(s): a channel's cached index "
            "is missing or older than a day. 'envmgr search NAME' or 'envmgr update --dry-run' "
            "reads the channels again."
        )
    return 0


# A pip distribution's insight: never in conda's history, no channel index to compare with.
_PIP_INSIGHT: dict[str, object] = {"channel_url": None, "requested": False, "requested_spec": None,
                "updatable": None, "updates_known": False, "required_by": []}  # fmt: skip


def _notes(row: dict[str, object]) -> tuple[str, ...]:
    """The last column: `requested` for what the user asked for (as `--from-history` exports
    it), `update X.Y` for a newer version in the channels."""
    notes = []
    if row["requested"]:
        notes.append("requested")
    if row["updatable"]:
        notes.append(f"update {row['updatable']}")
    return (", ".join(notes),) if notes else ()


async def _why(s: Session, env: Env, package: str) -> int:
    from ..engine.dependencies import dependency_name
    from ..engine.package_insight import package_insight
    from ..engine.prefix import read_records

    wanted = dependency_name(package)
    records = read_records(env.prefix, files="none")
    if wanted not in {r.name.normalized for r in records}:
        raise BadInput(
            f"{package} is not installed in this environment: 'envmgr list' shows what is, "
            "'envmgr search' what the channels have."
        )
    found = {p.name: p for p in await package_insight(s.settings, env.prefix, records)}
    p = found[wanted]
    if s.json:
        s.json.emit({"event": "result", "env": env.to_json(), "package": p.to_json(),
                     "requested": p.requested, "required_by": p.required_by})  # fmt: skip
        return 0
    if p.requested:
        print(f"{p.name} {p.version} was requested ({p.requested_spec}).")
    if p.required_by:
        print(f"{p.name} {p.version} is needed by: {', '.join(p.required_by)} (requested).")
    elif not p.requested:
        print(
            f"{p.name} {p.version} was not requested and no requested package needs it "
            "(installed by hand, or left behind: 'envmgr repoquery whoneeds' shows what "
            "needs it directly)."
        )
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
