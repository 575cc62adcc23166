"""The pip-installed part of a locked environment: exact `name==version` entries, with the file
URL and sha256 they came from when pip recorded them, checked like a `pip:` section and
reinstalled with the env's own pip.

What an env holds: the `.dist-info` folders no conda package owns (pip_packages.py). pip writes
`direct_url.json` (PEP 610) only for a distribution installed from a URL, a VCS or a local
folder; one installed from an index has no record of the file's URL or hash on disk. We do not
ask the index for them when locking: the file pip chose among an index's wheels and sdist is not
recorded either (asking would guess, and would fetch from the network while writing a file),
and the index pip used may be pip.conf's, not one the admin's policy names. So an index install
is locked as `name==version` and reinstalled from the indexes the policy allows, with `--no-deps`
(the lock lists every package).

A VCS checkout or a local folder (`vcs_info`, `dir_info`) cannot be rebuilt from a lock: such
entries are returned marked (`source`), and `check_pip_entries` refuses them with the message a
lock writer shows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from .errors import BadInput, ChannelError, EnvMgrError, Forbidden
from .progress import EventSink, ignore_events

if TYPE_CHECKING:
    from .policy import Policy
    from .settings import Settings

# Where a distribution came from. "index": a package index (name==version, with the file's URL
# and hash when a lock format carries them); "url": a direct archive URL (PEP 610
# archive_info); "vcs" and "dir": a VCS checkout or a local folder, which no lock reproduces.
PipSource = Literal["index", "url", "vcs", "dir"]
_SOURCES: tuple[str, ...] = get_args(PipSource)
_MAX_DIRECT_URL = 64 * 1024  # a direct_url.json is a few hundred bytes
_SHA256 = re.compile(r"[0-9a-f]{64}")
# PEP 508's name, and PEP 503's normal form of it.
_NAME = re.compile(r"[a-z0-9]([a-z0-9._-]*[a-z0-9])?", re.IGNORECASE)
_KEYS = ("name", "version", "url", "sha256", "source")


@dataclass(frozen=True)
class PipLockEntry:
    name: str  # normalised distribution name (PEP 503)
    version: str
    url: str | None = None  # the wheel/sdist URL it was installed from, when known
    sha256: str | None = None  # its sha256 (hex), when known
    source: PipSource = "index"

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"

    def unlockable_reason(self) -> str | None:
        """Why no lock can reproduce this entry (None: one can)."""
        if self.source == "vcs":
            return (
                f"{self.name} was installed from a VCS URL ({self.url}): it cannot be locked; "
                "install it from an index (pip install NAME==VERSION) or a wheel URL"
            )
        if self.source == "dir":
            return (
                f"{self.name} was installed from a local folder ({self.url}): it cannot be "
                "locked; install it from an index (pip install NAME==VERSION) or a wheel URL"
            )
        return None


def normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# ---------------------------------------------------------------------------------------------
# Reading an env


def pip_entries(prefix: Path) -> list[PipLockEntry]:
    """The env's pip-installed distributions (not conda's own dist-infos), by name."""
    from .pip_packages import pip_distributions
    from .prefix import read_records

    dists = pip_distributions(prefix, read_records(prefix, files="dist-info"))
    entries = [_entry(d.normalized, d.version, d.dist_info / "direct_url.json") for d in dists]
    return sorted(entries, key=lambda e: e.name)


def not_installed(prefix: Path, entries: Iterable[PipLockEntry]) -> list[PipLockEntry]:
    """The entries the env does not hold at their version (a sync of an unchanged env has
    nothing for pip to do)."""
    have = {(e.name, e.version) for e in pip_entries(prefix)}
    return [e for e in entries if (normalized_name(e.name), e.version) not in have]


def _entry(name: str, version: str, direct_url: Path) -> PipLockEntry:
    data = _read_json(direct_url)
    url = data.get("url") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(url, str) or not url:
        # No direct_url.json (an index install), or one pip would not have written: what is
        # known for sure is the name and version.
        return PipLockEntry(name, version)
    url = url.split("#", 1)[0]  # a '#sha256=' or '#egg=' fragment: the hash is kept below
    if "vcs_info" in data:
        return PipLockEntry(name, version, url, None, "vcs")
    if "dir_info" in data:
        return PipLockEntry(name, version, url, None, "dir")
    info = data.get("archive_info")
    return PipLockEntry(name, version, url, _archive_sha256(info), "url")


def _archive_sha256(info: object) -> str | None:
    """PEP 610's `hashes: {"sha256": hex}`, or the older `hash: "sha256=hex"`."""
    if not isinstance(info, dict):
        return None
    hashes = info.get("hashes")
    found = hashes.get("sha256") if isinstance(hashes, dict) else None
    if found is None and isinstance(info.get("hash"), str):
        algo, _, value = info["hash"].partition("=")
        found = value if algo == "sha256" else None
    if isinstance(found, str) and _SHA256.fullmatch(found.lower()):
        return found.lower()
    return None


def _read_json(path: Path) -> object:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.loads(fh.read(_MAX_DIRECT_URL))
    except (OSError, ValueError):  # none (index install), unreadable or cut: name==version
        return None


# ---------------------------------------------------------------------------------------------
# Checking a lock's entries


def check_pip_entries(
    entries: Iterable[PipLockEntry], policy: Policy | None, *, where: str
) -> None:
    """Every entry a plain, lockable `name==version` (with a canonical URL and a sha256 when
    given), and allowed by the admin's pip rules as a `pip:` section is; else one error naming
    `where` (the lock file or notebook). Touches neither disk nor network."""
    entries = list(entries)
    if not entries:
        return
    seen: set[str] = set()
    for entry in entries:
        _check_entry(entry, where)
        if normalized_name(entry.name) in seen:
            raise BadInput(f"{where}: the pip package {entry.name} is listed twice.")
        seen.add(normalized_name(entry.name))
    if policy is None:
        return
    try:
        policy.check_pip([e.requirement for e in entries])
    except Forbidden as exc:
        names = ", ".join(e.requirement for e in entries[:5]) + (
            ", ..." if len(entries) > 5 else ""
        )
        raise Forbidden(
            f"{where} holds pip packages ({names}), and pip is disabled here: {exc.message} "
            "Nothing was changed."
        ) from None
    indexes = policy.pip_index_urls
    for entry in entries:
        if entry.url is None or not _from_url(entry, indexes) or not policy.allowed_channels:
            continue
        from .urls import url_is_under

        if not any(url_is_under(entry.url, index) for index in indexes):
            raise Forbidden(
                f"{where}: the pip package {entry.name} comes from {entry.url}, which is not "
                f"under this server's pip indexes ({', '.join(indexes)}). Lock it from one of "
                "them (pip install NAME==VERSION) instead."
            )


def _check_entry(entry: PipLockEntry, where: str) -> None:
    from packaging.version import InvalidVersion, Version

    from .pip_requirements import check_pip_requirement
    from .urls import canonical_url

    if not isinstance(entry.name, str) or not _NAME.fullmatch(entry.name):
        raise BadInput(f"{where}: {entry.name!r} is not a pip package name.")
    if entry.source not in _SOURCES:
        raise BadInput(f"{where}: {entry.name} has the unknown source {entry.source!r}.")
    reason = entry.unlockable_reason()
    if reason is not None:
        raise BadInput(f"{where}: {reason}.")
    try:
        Version(entry.version)
    except (InvalidVersion, TypeError):
        raise BadInput(
            f"{where}: the pip package {entry.name} has the version {entry.version!r}, which "
            "is not a version pip can pin (name==version)."
        ) from None
    # The same gate as a `pip:` line: no option, path, URL, VCS or '$' gets through.
    check_pip_requirement(entry.requirement, where)
    if entry.sha256 is not None and not (
        isinstance(entry.sha256, str) and _SHA256.fullmatch(entry.sha256)
    ):
        raise BadInput(
            f"{where}: the sha256 of the pip package {entry.name} is not 64 lower-case hex digits."
        )
    if entry.source == "url" and entry.url is None:
        raise BadInput(f"{where}: the pip package {entry.name} is from a URL but names none.")
    if entry.url is not None:
        try:
            canonical = canonical_url(entry.url)
        except ChannelError as exc:
            raise BadInput(f"{where}: the pip package {entry.name}: {exc.message}") from None
        if canonical != entry.url:
            # What is checked must be what pip fetches: the lock must spell it canonically.
            raise BadInput(
                f"{where}: the URL of the pip package {entry.name} must be written "
                f"{canonical!r}, not {entry.url!r}."
            )
        if canonical.startswith("file:") and not Path(_file_path(canonical)).is_file():
            raise BadInput(
                f"{where}: the pip package {entry.name} comes from the local file {canonical}, "
                "which is not on this machine. Lock it from an index instead."
            )


def _file_path(url: str) -> str:
    from .urls import parse_url

    return parse_url(url).path


def _from_url(entry: PipLockEntry, index_urls: Sequence[str]) -> bool:
    """Whether pip fetches the entry's own URL. A direct URL install always does. An index's
    file does when no index is configured; under the admin's indexes it is installed from
    them by name and version, its hash (when known) pinning the same file."""
    return entry.url is not None and (entry.source == "url" or not index_urls)


def canonical_entries(entries: Iterable[PipLockEntry]) -> list[PipLockEntry]:
    """Entries with their URLs written canonically (for a lock writer: what `pip_entries`
    read from pip's records is spelled as pip wrote it). Unusable URLs are left for
    `check_pip_entries` to name."""
    from .urls import canonical_url

    out = []
    for entry in entries:
        url = entry.url
        if url is not None:
            try:
                url = canonical_url(url)
            except ChannelError:
                pass
        out.append(PipLockEntry(entry.name, entry.version, url, entry.sha256, entry.source))
    return out


# ---------------------------------------------------------------------------------------------
# Installing


def requirement_lines(entries: Iterable[PipLockEntry], index_urls: Sequence[str]) -> list[str]:
    """The requirements-file lines for checked entries: `name==version` or `name @ url`, with
    `--hash=sha256:...` when the hash is known."""
    lines = []
    for entry in entries:
        line = f"{entry.name} @ {entry.url}" if _from_url(entry, index_urls) else entry.requirement
        if entry.sha256:
            line += f" --hash=sha256:{entry.sha256}"
        lines.append(line)
    return lines


async def install_pip_entries(
    settings: Settings,
    prefix: Path,
    entries: Iterable[PipLockEntry],
    policy: Policy | None,
    *,
    on_event: EventSink = ignore_events,
) -> None:
    """Install checked entries with the env's own pip, exactly: `--no-deps` (the lock lists
    every package), from the policy's indexes. Entries with a sha256 go in hash-checking mode;
    pip demands a hash on every line of such a run, so entries without one (index installs,
    whose file hash pip never recorded) go in a second run, pinned by version."""
    from .pip_step import run_pip

    entries = list(entries)
    if not entries:
        return
    if settings.offline and any(not (e.url or "").startswith("file:") for e in entries):
        raise EnvMgrError(
            "Offline, and the lock's pip packages would be downloaded by pip. Run the command "
            "once without --offline."
        )
    indexes = policy.pip_index_urls if policy is not None else ()
    hashed = [e for e in entries if e.sha256]
    plain = [e for e in entries if not e.sha256]
    for group, options in ((hashed, ["--no-deps", "--require-hashes"]), (plain, ["--no-deps"])):
        if group:
            await run_pip(
                prefix,
                requirement_lines(group, indexes),
                on_event,
                index_urls=indexes,
                options=options,
                what="the lock's pip packages",
            )


# ---------------------------------------------------------------------------------------------
# JSON (notebook metadata, the server's worker)


def entries_to_json(entries: Iterable[PipLockEntry]) -> list[dict[str, object]]:
    return [
        {"name": e.name, "version": e.version, "url": e.url, "sha256": e.sha256, "source": e.source}
        for e in entries
    ]


def entries_from_json(items: object, *, where: str = "the lock") -> list[PipLockEntry]:
    """Entries as `entries_to_json` writes them; BadInput naming `where` when they are not.
    Their content is checked by `check_pip_entries`."""
    if not isinstance(items, list):
        raise BadInput(f"{where}: the pip packages must be a list.")
    entries = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadInput(f"{where}: pip package #{i + 1} must be a mapping.")
        unknown = sorted(set(map(str, item)) - set(_KEYS))
        if unknown:
            raise BadInput(f"{where}: pip package #{i + 1} has unknown keys: {', '.join(unknown)}.")
        name, version = item.get("name"), item.get("version")
        url, sha256 = item.get("url"), item.get("sha256")
        source = item.get("source", "index")
        if not isinstance(name, str) or not isinstance(version, str):
            raise BadInput(f"{where}: pip package #{i + 1} needs a 'name' and a 'version' (text).")
        if not (url is None or isinstance(url, str)) or not (
            sha256 is None or isinstance(sha256, str)
        ):
            raise BadInput(f"{where}: the 'url' and 'sha256' of {name} must be text or null.")
        if source not in _SOURCES:
            raise BadInput(f"{where}: the source of {name} must be one of {', '.join(_SOURCES)}.")
        entries.append(PipLockEntry(name, version, url, sha256, source))
    return entries
