"""What an operation will change, computed before anything changes (shown, confirmed, dry-run)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rattler

from .cache_layers import planned_from_layers
from .prefix import record_json
from .stamps import too_recent


def _key(record: rattler.RepoDataRecord) -> tuple[str, str]:
    return (record.url, record.sha256.hex() if record.sha256 else str(record.md5))


class _CacheListing:
    """What the package caches hold, read once per plan: a plan of a few hundred packages
    would otherwise stat a missing folder for each (most of the plan's own cost)."""

    def __init__(self, pkgs_dirs: Sequence[Path | str]) -> None:
        # (folder, its entries, their names); the sets are the cached ones, never copied.
        self.folders: list[tuple[str, frozenset[str], frozenset[str]]] = []
        for folder in (str(d) for d in pkgs_dirs):
            listed = _listing(folder)
            if listed is not None:
                self.folders.append((folder, *listed))

    def has(self, name: str, record: rattler.RepoDataRecord) -> bool:
        if not self.folders:
            return False  # no cache yet
        holding = [(folder, entries) for folder, entries, names in self.folders if name in names]
        if not holding:
            return False  # the common case of a new package: no version or build asked for
        # rattler keeps extracted packages as <pkgs_dir>/<name>-<version>-<build>/.
        dist = f"{name}-{record.version}-{record.build}"  # dist_name(record), name in hand
        return any(
            dist in entries and os.path.isdir(os.path.join(folder, dist, "info"))
            for folder, entries in holding
        )


# pkgs dir -> (its stat, its entries, their names): a running server plans every request, and
# a big cache's listing costs more than a small solve. Read again when the folder's stat
# changed (an entry added or removed), or when it changed too recently to cache by.
_listings: dict[str, tuple[tuple[int, ...], frozenset[str], frozenset[str]]] = {}


def _listing(folder: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """(entries, names) of a package cache folder; None when it cannot be read. The names are
    every text before a '-' of an entry: they hold each cached package's name (whatever its
    version and build look like), so a package not cached at all is ruled out without
    building its folder name."""
    try:
        st = os.stat(folder)
        stamp = (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns)
        cached = _listings.get(folder)
        if cached is not None and cached[0] == stamp:
            return cached[1], cached[2]
        entries = frozenset(os.listdir(folder))
    except OSError:
        return None
    names = frozenset(entry[:i] for entry in entries for i, char in enumerate(entry) if char == "-")
    if not too_recent(st.st_mtime_ns, st.st_ctime_ns):
        _listings[folder] = (stamp, entries, names)
    return entries, names


@dataclass
class Plan:
    prefix: Path
    installed: list[rattler.PrefixRecord]
    final: list[rattler.RepoDataRecord]
    add: list[rattler.RepoDataRecord] = field(default_factory=list)
    remove: list[rattler.PrefixRecord] = field(default_factory=list)
    change: list[tuple[rattler.PrefixRecord, rattler.RepoDataRecord]] = field(default_factory=list)
    download_bytes: int = 0
    download_count: int = 0
    # The records to link that the package caches do not hold (what --offline cannot do).
    downloads: list[rattler.RepoDataRecord] = field(default_factory=list)
    # Packages taken from a read-only (site) package cache, and linked or copied from there.
    site_cache: dict[str, Any] | None = None

    @property
    def empty(self) -> bool:
        return not (self.add or self.remove or self.change)

    @property
    def to_link(self) -> list[rattler.RepoDataRecord]:
        return self.add + [new for _, new in self.change]

    @property
    def to_unlink(self) -> list[rattler.PrefixRecord]:
        return self.remove + [old for old, _ in self.change]

    def to_json(self, channel_alias: str) -> dict[str, Any]:
        def rec(r: rattler.RepoDataRecord) -> dict[str, Any]:
            return record_json(r, channel_alias)

        return {
            "prefix": str(self.prefix),
            "add": [rec(r) for r in self.add],
            "remove": [rec(r) for r in self.remove],
            "change": [
                {"from": rec(old), "to": rec(new), "kind": change_kind(old, new)}
                for old, new in self.change
            ],
            "download_bytes": self.download_bytes,
            "download_count": self.download_count,
            "site_cache": self.site_cache,
        }


def change_kind(old: rattler.RepoDataRecord, new: rattler.RepoDataRecord) -> str:
    if new.version > old.version:
        return "upgrade"
    if new.version < old.version:
        return "downgrade"
    return "change"  # same version: another build or channel


def make_plan(
    prefix: Path,
    installed: Sequence[rattler.PrefixRecord],
    final: Sequence[rattler.RepoDataRecord],
    pkgs_dirs: Sequence[Path],
) -> Plan:
    old = {r.name.normalized: r for r in installed}
    new = {r.name.normalized: r for r in final}
    plan = Plan(prefix, list(installed), list(final))
    cached = _CacheListing(pkgs_dirs)
    for name in sorted(new):
        record = new[name]
        before = old.get(name)
        if before is None:
            plan.add.append(record)
        elif _key(before) != _key(record):
            plan.change.append((before, record))
        else:
            continue  # installed as it is
        if not cached.has(name, record):
            plan.download_bytes += record.size or 0
            plan.download_count += 1
            plan.downloads.append(record)
    plan.remove = [old[name] for name in sorted(old) if name not in new]
    plan.site_cache = planned_from_layers(plan.to_link, pkgs_dirs, prefix)
    return plan
