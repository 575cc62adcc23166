"""The libmamba backend: the problem the rattler backend gets, solved by libmamba (libsolv).

It starts from exactly what rattler works from and hands back what rattler would link:

- Repodata: the records rattler's Gateway fetched and caches on disk (`gateway.query_channels()`,
  recursive, each subdir and noarch) for the requested and the locked package names, so both
  backends see one index. One libsolv repo per channel, the first channel highest: `strict`
  channel priority is libsolv's strict repo priority, `flexible` is conda's (priorities without
  strictness) and `disabled` gives every channel the same priority.
- `channel::pkg`: pkg's records from other channels (compared by canonical URL) are left out
  before libsolv sees them. (With strict priority, conda and mamba refuse such a spec when a
  higher channel has pkg; rattler takes pkg from the named channel, and so does this backend.)
- The installed repo: the virtual packages (frozen: nothing may remove them) and the locked
  records, which stay unless the request needs them to move. A package being updated is not
  locked (operations.py), so it is free to move, as `mamba update pkg` makes it.
- Jobs: one Install per requested spec (the user's specs from history, with the new request).
- The solution maps back to the `RepoDataRecord`s rattler fetched, by (channel, subdir,
  filename); a locked record that stays comes back as it was. As with rattler, the answer is
  what the specs need: a locked package nothing needs any more is left out. Unsatisfiable
  requests raise `Unsatisfiable` with libmamba's explanation.

libmambapy is imported here only, when this backend runs or is asked about, and typed as Any:
mypy reads this module alike with and without libmambapy installed.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import re
from collections.abc import Sequence
from typing import Any

import rattler

from .dependencies import dependency_closure, match_spec_name
from .errors import ChannelError, EnvMgrError
from .gateway import query_channels
from .solver_interface import (
    LIBMAMBA_MAJOR,
    Problem,
    SolverUnavailable,
    VirtualPackage,
    libmamba_missing_message,
    unsatisfiable,
)
from .urls import canonical_url, package_channel

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CHANNEL_KEY = re.compile(r'channel="[^"]*",?\s*')

# The module once imported, or why it cannot be (asked again by /settings, info, each solve).
_libmambapy: Any = None
_unavailable: str | None = None


def import_libmambapy() -> Any:
    """The libmambapy module (2.x), or SolverUnavailable saying how to get it."""
    global _libmambapy, _unavailable
    if _libmambapy is not None:
        return _libmambapy
    if _unavailable is None:
        try:
            module: Any = importlib.import_module("libmambapy")
            importlib.import_module("libmambapy.solver.libsolv")
            importlib.import_module("libmambapy.specs")
        except ImportError:
            _unavailable = libmamba_missing_message(None)
        else:
            version = str(getattr(module, "__version__", "0"))
            major = version.split(".")[0]
            if major.isdigit() and int(major) >= LIBMAMBA_MAJOR:
                _libmambapy = module
                return module
            _unavailable = libmamba_missing_message(version)
    raise SolverUnavailable(_unavailable)


async def solve(gateway: rattler.Gateway, problem: Problem) -> list[rattler.RepoDataRecord]:
    """Solve `problem` with libmamba from the records `gateway` has or fetches."""
    lm = import_libmambapy()
    names: list[rattler.MatchSpec | str] = [
        *problem.specs,
        *(r.name.normalized for r in problem.locked),
    ]
    groups = await query_channels(
        gateway, problem.channels, problem.platforms, names, recursive=True
    )
    # Building libsolv's pool and solving block: in a thread, off the server's event loop.
    return await asyncio.to_thread(_solve, lm, problem, groups)


def _solve(
    lm: Any, problem: Problem, groups: list[list[rattler.RepoDataRecord]]
) -> list[rattler.RepoDataRecord]:
    libsolv = lm.solver.libsolv
    # `channel::pkg`: only that channel's pkg can be chosen, as rattler has it: a record is from
    # there when the channel its URL is in (`<channel>/<subdir>/<file>`) is that very channel,
    # both by canonical URL (not a channel below it, such as a label, nor one of the same name
    # elsewhere). Specs from history name their channel by URL (specs.kept_specs).
    from_channel = {
        match_spec_name(spec): _canonical(str(spec.channel.base_url))
        for spec in problem.specs
        if spec.channel is not None
    }

    def allowed(record: rattler.RepoDataRecord) -> bool:
        pin = from_channel.get(record.name.normalized)
        return pin is None or _record_channel(record.url) == pin

    by_key: dict[tuple[str, str, str], rattler.RepoDataRecord] = {}
    repos: dict[str, list[Any]] = {}  # channel -> its packages, channels in priority order
    for group in groups:
        for record in group:
            if not allowed(record):
                continue
            channel = record.channel or ""
            by_key[(channel, record.subdir, record.file_name)] = record
            repos.setdefault(channel, []).append(_package_info(lm, record))

    db = libsolv.Database(lm.specs.ChannelResolveParams())
    db.set_logger(lambda _level, _message: None)  # not on stderr, past the CLI's renderers
    virtual = [_virtual_info(lm, v) for v in problem.virtual_packages]
    locked = [r for r in problem.locked if allowed(r)]
    try:
        # libsolv parses every record's depends and constrains here: one it cannot read
        # (a broken channel) fails the whole repo, naming neither package nor channel.
        for rank, (channel, packages) in enumerate(repos.items()):
            repo = db.add_repo_from_packages(packages, name=channel or "unnamed")
            priority = 0 if problem.channel_priority == "disabled" else len(repos) - rank
            db.set_repo_priority(repo, libsolv.Priorities(priority, 0))
        installed = db.add_repo_from_packages(
            virtual + [_package_info(lm, r) for r in locked], name="installed"
        )
    except Exception as exc:
        raise _unreadable_record(lm, [*by_key.values(), *locked], exc) from None
    db.set_installed_repo(installed)

    Request, MatchSpec = lm.solver.Request, lm.specs.MatchSpec
    try:
        # Nothing may remove a virtual package; each requested spec is installed.
        jobs = [Request.Freeze(MatchSpec.parse(f"{v.name}=={v.version}={v.build_string}"))
                for v in virtual]  # fmt: skip
        jobs += [Request.Install(MatchSpec.parse(_libmamba_spec(s))) for s in problem.specs]
        jobs += [Request.Pin(MatchSpec.parse(_libmamba_spec(s))) for s in problem.constraints]
        flags = Request.Flags(strict_repo_priority=problem.channel_priority == "strict")
        outcome = libsolv.Solver().solve(db, Request(jobs, flags))
    except Exception as exc:  # libmamba's own errors (a spec it cannot read, ...)
        raise EnvMgrError(f"The libmamba solver failed: {exc}") from None
    if isinstance(outcome, libsolv.UnSolvable):
        raise unsatisfiable(_explain(lm, outcome, db))

    removed = {p.name for p in outcome.to_remove()}
    chosen = {r.name.normalized: r for r in locked if r.name.normalized not in removed}
    for package in outcome.to_install():
        picked = by_key.get((package.channel, package.platform, package.filename))
        if picked is None:
            raise EnvMgrError(
                f"The libmamba solver chose {package.filename} from {package.channel}, which "
                "is not among the records read from the channels."
            )
        chosen[picked.name.normalized] = picked
    # What the specs need, following `depends`: as rattler answers. (libsolv keeps an
    # installed package nothing needs any more, e.g. the old dependency of an updated one.)
    return dependency_closure(chosen.values(), [match_spec_name(s) for s in problem.specs])


def _canonical(url: str) -> str | None:
    try:
        return canonical_url(url)
    except ChannelError:
        return None


@functools.lru_cache(maxsize=4096)
def _record_channel(url: str) -> str | None:
    """The canonical URL of the channel a package URL is in (None: not a channel's package)."""
    try:
        return package_channel(url)
    except ChannelError:
        return None


def _libmamba_spec(spec: rattler.MatchSpec) -> str:
    """rattler's canonical text, without the channel (handled by `allowed` above)."""
    text = str(spec)
    if spec.channel is None:
        return text
    text = text.split("::", 1)[1] if "::" in text else text
    return _CHANNEL_KEY.sub("", text).replace(", ]", "]").replace("[]", "")


def _package_info(lm: Any, record: rattler.RepoDataRecord) -> Any:
    """The fields libsolv solves with (names, versions, builds, dependencies, features,
    timestamps) and the three that map the solution back: channel, subdir, file name."""
    noarch = record.noarch
    timestamp = record.timestamp
    NoArch = lm.specs.NoArchType
    return lm.specs.PackageInfo(
        name=record.name.normalized,
        version=str(record.version),
        build_string=str(record.build),
        build_number=record.build_number,
        channel=record.channel or "",
        package_url=record.url,
        platform=record.subdir,
        filename=record.file_name,
        track_features=list(record.track_features),
        depends=list(record.depends),
        constrains=list(record.constrains),
        noarch=NoArch.Python if noarch.python else NoArch.Generic if noarch.generic else NoArch.No,
        timestamp=int(timestamp.timestamp() * 1000) if timestamp else 0,
    )


def _virtual_info(lm: Any, package: VirtualPackage) -> Any:
    generic = package.into_generic() if isinstance(package, rattler.VirtualPackage) else package
    return lm.specs.PackageInfo(
        name=generic.name.normalized,
        version=str(generic.version),
        build_string=str(generic.build_string),
    )


def _unreadable_record(
    lm: Any, records: Sequence[rattler.RepoDataRecord], exc: Exception
) -> EnvMgrError:
    """The error for a package index libsolv refused: the first record with a dependency
    libmamba cannot parse, named with its channel (only looked for once libsolv failed)."""
    for record in records:
        for dep in [*record.depends, *record.constrains]:
            try:
                lm.specs.MatchSpec.parse(dep)
            except Exception as bad:
                return ChannelError(
                    f"The package {record.file_name} in {record.channel or 'an unnamed channel'} "
                    f"has a dependency the libmamba solver cannot read: {dep!r} ({bad}). "
                    "Nothing was changed. Leave that channel out, or solve with --solver "
                    "rattler, which passes over such a package."
                )
    return EnvMgrError(f"The libmamba solver could not read the package indexes: {exc}")


def _explain(lm: Any, outcome: Any, db: Any) -> str:
    try:
        text = str(outcome.explain_problems(db, lm.solver.ProblemsMessageFormat()))
    except Exception:  # some problem kinds have no explanation in libmamba: list them
        text = str(outcome.problems_to_str(db))
    return _ANSI.sub("", text).strip()
