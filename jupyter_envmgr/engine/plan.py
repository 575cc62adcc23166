"""What an operation will change, computed before anything changes (shown, confirmed, dry-run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rattler

from .prefix import dist_name, record_json


def _key(record: rattler.RepoDataRecord) -> tuple[str, str]:
    return (record.url, record.sha256.hex() if record.sha256 else str(record.md5))


def _in_cache(record: rattler.RepoDataRecord, pkgs_dirs: Sequence[Path]) -> bool:
    # rattler keeps extracted packages as <pkgs_dir>/<name>-<version>-<build>/.
    return any((d / dist_name(record) / "info").is_dir() for d in pkgs_dirs)


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
    for name in sorted(new):
        if name not in old:
            plan.add.append(new[name])
        elif _key(old[name]) != _key(new[name]):
            plan.change.append((old[name], new[name]))
    plan.remove = [old[name] for name in sorted(old) if name not in new]
    for record in plan.to_link:
        if not _in_cache(record, pkgs_dirs):
            plan.download_bytes += record.size or 0
            plan.download_count += 1
    return plan
