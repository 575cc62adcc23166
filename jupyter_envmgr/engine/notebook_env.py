"""A notebook that carries its environment: `metadata.envmgr` (format below), lock and sync.

```
metadata.envmgr = {
  "version": 2,                      # this format's version (1 is still read: no "pip")
  "lock_id": "<uuid>",               # kept across re-locks: which env copies are this notebook's
  "env_name": "data",                # the env it was locked from
  "channels": ["https://..."],       # canonical URLs, most used first
  "specs": ["numpy>=1.26", ...],     # what the user asked for (conda-meta/history)
  "platforms": {                     # the exact conda packages, per platform locked for: the
    "linux-64": [                    # env's own from its records, others solved for that subdir
      {"name", "version", "build", "subdir", "channel", "url", "sha256", "md5"?, "size"?}, ...],
    "osx-arm64": [...]},
  "pip": {"linux-64": [              # version 2: the pip-installed packages, per platform (only
      {"name", "version", "url", "sha256", "source"}, ...]},  # the env's own platform has any)
  "locked": "2026-12-01T00:00:00Z"
}
```

Our own entry list rather than a conda-lock or pixi.lock payload: one JSON line per package
keeps a notebook's diff readable when a lock changes, it holds only what a sync checks (no
dependency lists, which are most of a conda-lock file), and every field is checked as below.
Tools that read the standard formats get them from the env (`envmgr env export --format
conda-lock|pixi-lock`); no tool reads a lock out of a notebook's metadata.

The embedded lock is untrusted input (a notebook from elsewhere): it is parsed with limits, its
URLs go through the same canonical form and allow list as every other URL, its pip entries
through the same checks as a `pip:` section (pip_lock.check_pip_entries), and records are
never taken from it: each comes from the package cache when rattler's own record of the archive
there has the same sha256 (offline), or else from the channel's index, checked against the
lock's sha256. A lock that does not check out creates nothing.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rattler

from .bookkeeping import bookkeeping_dir
from .envfile import ExplicitEntry
from .errors import BadInput, ChannelError
from .exact_records import explicit_records
from .pip_lock import PipLockEntry, entries_from_json
from .prefix import read_records, requested_specs
from .registry import Env
from .settings import Settings
from .urls import canonical_url, package_channel

if TYPE_CHECKING:
    from .policy import Policy
    from .progress import EventSink

FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)  # version 1: no pip packages
KEY = "envmgr"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_LOCKED_PACKAGES = 5000
MAX_PLATFORMS = 32
_SHA256 = re.compile(r"[0-9a-f]{64}")
_MD5 = re.compile(r"[0-9a-f]{32}")
_FIELD = re.compile(r"[A-Za-z0-9_.+!-]{1,200}")
_ENTRY_KEYS = ("name", "version", "build", "subdir", "channel", "url", "sha256")
# Every number a lock may carry, bounded: a package of 1 TiB, a timestamp (seconds or
# milliseconds) before the year 2109, a build number as conda's (a 32-bit int).
_NUMBER_BOUNDS = {"size": 2**40, "timestamp": 2**42, "build_number": 2**31 - 1}


def current_platform() -> str:
    return str(rattler.Subdir.current())


# -- the notebook file ---------------------------------------------------------------------


def read_notebook(path: str | Path) -> dict[str, Any]:
    """A notebook (nbformat 4) read with a size limit; errors say what is wrong with it."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_NOTEBOOK_BYTES + 1)
    except FileNotFoundError:
        raise BadInput(f"The notebook {path} does not exist.") from None
    except IsADirectoryError:
        raise BadInput(f"{path} is a folder, not a notebook.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read {path}: {exc.strerror}.") from None
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise BadInput(f"{path} is larger than {MAX_NOTEBOOK_BYTES // 1024 // 1024} MB.")
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BadInput(f"{path} is not a notebook (not valid JSON: {exc}).") from None
    if (
        not isinstance(nb, dict)
        or not isinstance(nb.get("cells"), list)
        or not isinstance(nb.get("metadata"), dict)
        or nb.get("nbformat") != 4
    ):
        raise BadInput(f"{path} is not a Jupyter notebook in format 4 (nbformat 4).")
    return nb


def write_notebook(path: str | Path, nb: dict[str, Any]) -> None:
    """Write atomically, in nbformat's own layout (indent 1, UTF-8, final newline)."""
    path = Path(path)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- locking -------------------------------------------------------------------------------


def _entry(record: rattler.RepoDataRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": record.name.normalized,
        "version": str(record.version),
        "build": str(record.build),
        "subdir": record.subdir,
        "channel": canonical_url(str(record.channel)) if record.channel else "",
        "url": canonical_url(str(record.url)),
        "sha256": record.sha256.hex() if record.sha256 else "",
    }
    if record.md5:
        entry["md5"] = record.md5.hex()
    if record.size:
        entry["size"] = record.size
    return entry


async def env_lock(
    settings: Settings,
    env: Env,
    previous: dict[str, Any] | None = None,
    platforms: tuple[str, ...] | list[str] = (),
    *,
    policy: Policy | None = None,
    on_event: EventSink | None = None,
) -> dict[str, Any]:
    """`metadata.envmgr` for the env as it is now, for its own platform and each of
    `platforms` (solved, env_lock.lock_env), pip packages included; a previous lock's id is
    kept. Bad platforms, packages without sha256 and pip packages no lock can reproduce are
    refused before the notebook is written."""
    from .env_lock import lock_env
    from .pip_lock import canonical_entries, check_pip_entries, entries_to_json
    from .progress import ignore_events

    lock = await lock_env(
        settings, env, platforms, policy=policy, on_event=on_event or ignore_events
    )
    conda: dict[str, list[dict[str, Any]]] = {}
    pip: dict[str, list[dict[str, object]]] = {}
    for platform, locked in lock.platforms.items():
        records = sorted(locked.records, key=lambda r: r.name.normalized)
        missing = [r.name.normalized for r in records if not r.sha256]
        if missing:
            raise BadInput(
                f"Cannot lock {env.label} for {platform}: no sha256 is recorded for "
                f"{', '.join(missing[:5])}, so another machine could not check them."
            )
        conda[platform] = [_entry(r) for r in records]
        if locked.pip:
            entries = canonical_entries(locked.pip)
            # Checked as a sync will check them: a lock another machine must refuse is not written.
            check_pip_entries(entries, None, where=f"Cannot lock {env.label}")
            pip[platform] = entries_to_json(entries)
    lock_id = previous.get("lock_id") if isinstance(previous, dict) else None
    meta: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "lock_id": lock_id if isinstance(lock_id, str) and lock_id else uuid.uuid4().hex,
        "env_name": env.name or env.prefix.name,
        "channels": _channels_by_use(lock.channels, conda),
        "specs": list(requested_specs(env.prefix).values()),
        "platforms": conda,
    }
    if pip:
        meta["pip"] = pip
    meta["locked"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return meta


def _channels_by_use(
    channels: tuple[str, ...], conda: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """The lock's channels as canonical URLs, most used first (as version 1 wrote them); a
    channel searched but unused (kept from history) last."""
    counts = Counter(e["channel"] for entries in conda.values() for e in entries if e["channel"])
    for channel in channels:
        counts.setdefault(canonical_url(channel), 0)
    return [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


# -- reading a lock (untrusted) ------------------------------------------------------------


@dataclass(frozen=True)
class LockedEntry:
    name: str
    version: str
    build: str
    subdir: str
    channel: str
    url: str
    sha256: str
    md5: str | None = None
    size: int | None = None

    @property
    def dist(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"


@dataclass(frozen=True)
class NotebookLock:
    lock_id: str
    env_name: str
    channels: list[str]
    specs: list[str]
    entries: list[LockedEntry] | None  # this platform's packages; None: not locked for it
    # The notebook file this lock was read from (its real path), when known: an env sync made
    # belongs to that notebook, not to any notebook that carries the same lock id.
    where: str | None = None
    pip: list[PipLockEntry] = field(default_factory=list)  # this platform's pip packages
    platforms: list[str] = field(default_factory=list)  # every platform the lock covers
    version: int = FORMAT_VERSION


def _bad(source: str, why: str) -> BadInput:
    return BadInput(f"{source}: the embedded environment (metadata.{KEY}) {why}.")


def _text(value: Any, source: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not value or len(value) > 2000:
        raise _bad(source, f"has no valid {what}")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(source, f"has an invalid {what} {value[:80]!r}")
    return value


def _number(raw: dict[str, Any], key: str, source: str, dist: str) -> int | None:
    value = raw.get(key)
    if value is None:
        return None
    bound = _NUMBER_BOUNDS[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= bound:
        raise _bad(source, f"gives {dist} a {key} that is not a whole number from 0 to {bound}")
    return value


def _read_entry(raw: Any, source: str) -> LockedEntry:
    if not isinstance(raw, dict) or any(k not in raw for k in _ENTRY_KEYS):
        raise _bad(source, f"has a package entry without {', '.join(_ENTRY_KEYS)}")
    md5 = raw.get("md5")
    name = _text(raw["name"], source, "package name", _FIELD)
    version = _text(raw["version"], source, "version", _FIELD)
    build = _text(raw["build"], source, "build", _FIELD)
    dist = f"{name}-{version}-{build}"
    for key in ("timestamp", "build_number"):
        _number(raw, key, source, dist)  # not used, but never passed on unchecked
    entry = LockedEntry(
        name=name,
        version=version,
        build=build,
        subdir=_text(raw["subdir"], source, "subdir", _FIELD),
        channel=canonical_url(_text(raw["channel"], source, "channel")),
        url=canonical_url(_text(raw["url"], source, "package URL")),
        sha256=_text(raw["sha256"], source, "sha256", _SHA256),
        md5=_text(md5, source, "md5", _MD5) if md5 is not None else None,
        size=_number(raw, "size", source, dist),
    )
    if not entry.url.endswith((f"/{entry.dist}.conda", f"/{entry.dist}.tar.bz2")):
        raise _bad(source, f"has a URL that does not name {entry.dist}: {entry.url}")
    # The URL is what is fetched and checked: the channel and subdir an entry claims must be
    # the ones its URL names (an entry cannot come from one channel and be shown as another's).
    url_channel = package_channel(entry.url)
    url_subdir = entry.url.rsplit("/", 2)[-2]
    if entry.channel != url_channel or entry.subdir != url_subdir:
        raise _bad(
            source,
            f"says {entry.dist} comes from {entry.channel} ({entry.subdir}) but its URL is "
            f"{entry.url}, in {url_channel} ({url_subdir})",
        )
    return entry


def notebook_identity(path: str | Path) -> str:
    """The notebook a lock belongs to: its file's real path (copies elsewhere are others)."""
    return os.path.realpath(path)


def read_lock(nb: dict[str, Any], source: str, where: str | None = None) -> NotebookLock:
    meta = nb.get("metadata", {}).get(KEY)
    if meta is None:
        raise BadInput(
            f"{source} carries no environment (no metadata.{KEY}): lock one into it first with "
            "'envmgr notebook lock NOTEBOOK -n ENV'."
        )
    if not isinstance(meta, dict):
        raise _bad(source, "is not a mapping")
    version = meta.get("version")
    if version not in READ_VERSIONS or isinstance(version, bool):
        raise _bad(source, f"has format version {version!r}; this envmgr reads 1 and 2")
    channels = meta.get("channels", [])
    specs = meta.get("specs", [])
    platforms = meta.get("platforms", {})
    pip = meta.get("pip", {}) if version >= 2 else {}
    if not isinstance(channels, list) or not isinstance(specs, list) or len(specs) > 1000:
        raise _bad(source, "has 'channels' or 'specs' that are not lists")
    if not isinstance(platforms, dict) or len(platforms) > MAX_PLATFORMS:
        raise _bad(source, f"has 'platforms' that is not a mapping of at most {MAX_PLATFORMS}")
    if not isinstance(pip, dict) or any(p not in platforms for p in pip):
        raise _bad(source, "has 'pip' that is not a mapping of platforms it also lists")
    covered = sorted(_text(p, source, "platform", _FIELD) for p in platforms)
    raw_entries = platforms.get(current_platform())
    entries = None
    if raw_entries is not None:
        if not isinstance(raw_entries, list) or len(raw_entries) > MAX_LOCKED_PACKAGES:
            raise _bad(source, f"has a package list for {current_platform()} that is not a list")
        entries = [_read_entry(e, source) for e in raw_entries]
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise _bad(source, "names a package twice")
        if not entries:
            raise _bad(source, f"names no package for {current_platform()}: nothing to sync")
    elif not specs:
        raise _bad(source, "names no package (no specs and no packages for this platform)")
    raw_pip = pip.get(current_platform())
    pip_entries: list[PipLockEntry] = []
    if raw_pip is not None:
        if not isinstance(raw_pip, list) or len(raw_pip) > MAX_LOCKED_PACKAGES:
            raise _bad(
                source, f"has a pip package list for {current_platform()} that is not a list"
            )
        # Their content (names, versions, URLs, the admin's pip rules) is checked by
        # pip_lock.check_pip_entries when a sync is prepared.
        pip_entries = entries_from_json(raw_pip, where=f"{source}: the embedded environment")
    return NotebookLock(
        lock_id=_text(meta.get("lock_id"), source, "lock_id", _FIELD),
        env_name=_text(meta.get("env_name"), source, "env_name", _FIELD),
        channels=[canonical_url(_text(c, source, "channel")) for c in channels],
        specs=[_text(s, source, "spec") for s in specs],
        entries=entries,
        where=where,
        pip=pip_entries,
        platforms=covered,
        version=version,
    )


# -- records for a lock, checked -----------------------------------------------------------


def _cached_sha256(pkgs_dir: Path, dist: str) -> str | None:
    """rattler's cache keeps, in `<dist>.lock`, the sha256 of the archive the folder was
    extracted from (8 bytes of revision, then 32 bytes of hash; py-rattler 0.28)."""
    try:
        raw = (pkgs_dir / f"{dist}.lock").read_bytes()
    except OSError:
        return None
    return raw[8:40].hex() if len(raw) >= 40 else None


def _from_cache(settings: Settings, entry: LockedEntry) -> rattler.RepoDataRecord | None:
    for pkgs_dir in settings.pkgs_dirs:
        index = pkgs_dir / entry.dist / "info" / "index.json"
        if index.is_file() and _cached_sha256(pkgs_dir, entry.dist) == entry.sha256:
            package = rattler.PackageRecord.from_index_json(
                index, size=entry.size, sha256=entry.sha256, md5=entry.md5
            )
            if (package.name.normalized, str(package.version), str(package.build)) != (
                entry.name,
                entry.version,
                entry.build,
            ):
                return None
            file_name = entry.url.rsplit("/", 1)[-1]
            return rattler.RepoDataRecord(package, file_name, entry.url, entry.channel + "/")
    return None


async def locked_records(
    settings: Settings, entries: list[LockedEntry], source: str
) -> list[rattler.RepoDataRecord]:
    """The trusted records of a lock: from the cache (offline) or the channel's index, each
    checked against the lock's sha256."""
    records: list[rattler.RepoDataRecord] = []
    to_fetch: list[ExplicitEntry] = []
    for number, entry in enumerate(entries, 1):
        cached = _from_cache(settings, entry)
        if cached is not None:
            records.append(cached)
        else:
            to_fetch.append(ExplicitEntry(number, entry.url, md5=None, sha256=entry.sha256))
    if to_fetch:
        try:
            records += await explicit_records(settings, to_fetch)
        except BadInput as exc:
            raise BadInput(f"{source}: the embedded environment's package {exc.message}") from None
        except ChannelError as exc:
            raise ChannelError(
                f"{source}: a package of the embedded environment is neither in the package "
                f"cache nor readable from its channel: {exc.message}"
            ) from None
    return records


def in_sync(
    prefix: Path, entries: list[LockedEntry], pip: list[PipLockEntry] | None = None
) -> bool:
    return lock_diff(prefix, entries, pip).empty


@dataclass(frozen=True)
class LockDiff:
    """What a sync to a lock's exact set does to an env: dists added, removed, and changed
    (`name: old dist -> new dist`, a new version, build or source), and the pip packages it
    installs (`name==version`: those the env lacks at that version; a sync removes none)."""

    add: list[str]
    remove: list[str]
    change: list[str]
    pip: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.change or self.pip)


def installed_dists(prefix: Path | None) -> dict[str, tuple[str, str]]:
    """name -> (dist, canonical URL) of the env's conda packages."""
    return {
        r.name.normalized: (f"{r.name.normalized}-{r.version}-{r.build}", canonical_url(str(r.url)))
        for r in (read_records(prefix, files="none") if prefix is not None else [])
    }


def lock_diff(
    prefix: Path | None, entries: list[LockedEntry], pip: list[PipLockEntry] | None = None
) -> LockDiff:
    installed = installed_dists(prefix)
    wanted = {e.name: (e.dist, e.url) for e in entries}
    change = [
        f"{name}: {installed[name][0]} -> {wanted[name][0]}"
        + ("" if installed[name][0] != wanted[name][0] else f" (from {wanted[name][1]})")
        for name in sorted(set(installed) & set(wanted))
        if installed[name] != wanted[name]
    ]
    if pip and prefix is not None:
        from .pip_lock import not_installed

        missing = not_installed(prefix, pip)
    else:
        missing = list(pip or [])
    return LockDiff(
        add=sorted(wanted[n][0] for n in set(wanted) - set(installed)),
        remove=sorted(installed[n][0] for n in set(installed) - set(wanted)),
        change=change,
        pip=sorted(e.requirement for e in missing),
    )


def kernelspec_name(metadata: Any) -> str | None:
    """`metadata.kernelspec.name`, or None when the notebook's kernelspec is missing or is not
    a mapping with a name (a notebook from elsewhere may carry anything there)."""
    spec = metadata.get("kernelspec") if isinstance(metadata, dict) else None
    name = spec.get("name") if isinstance(spec, dict) else None
    return name if isinstance(name, str) and name else None


# -- which env a notebook's copy is --------------------------------------------------------


def _marker(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "notebook.json"


_MADE_BY = "envmgr notebook sync"


def mark_env(prefix: Path, lock: NotebookLock) -> None:
    """Remember that `notebook sync` made this env for the notebook's lock (so that the next
    sync of that notebook may update it). Only sync's own creations are marked: an env that
    merely matched a lock, or was named by the user, is never the notebook's to change."""
    if is_copy_of(prefix, lock):
        return  # a sync that changes nothing writes nothing
    path = _marker(prefix)
    path.parent.mkdir(parents=True, exist_ok=True)
    marker = {"lock_id": lock.lock_id, "made_by": _MADE_BY, "notebook": lock.where}
    path.write_text(json.dumps(marker), encoding="utf-8")


def is_copy_of(prefix: Path, lock: NotebookLock) -> bool:
    """Did `notebook sync` create this env here for this notebook (lock id and notebook file)?
    A lock id alone is no proof: any notebook can carry another's. A marker without `made_by`
    (written by earlier versions, also for envs they only found in sync) does not count."""
    try:
        data = json.loads(_marker(prefix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        isinstance(data, dict)
        and data.get("lock_id") == lock.lock_id
        and data.get("made_by") == _MADE_BY
        and data.get("notebook") == lock.where
    )


def copy_name(lock: NotebookLock) -> str:
    """The name of this notebook's env copy when its own name is taken by another env."""
    return f"{lock.env_name}-{lock.lock_id[:6]}"
