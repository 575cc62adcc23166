"""Every record an env has had, kept small in `conda-meta/envmgr/records/`.

conda-meta/ only describes the present; a rollback to revision N needs the records (URL, hashes,
channel) of packages that are gone. We keep each one once, without its file lists, so a rollback
can reinstall exactly that build from the cache, offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import rattler

from .bookkeeping import records_archive_dir
from .prefix import META

# Per-prefix data of the file lists: large, and not needed to reinstall a package.
_DROP = ("files", "paths_data", "link", "extracted_package_dir", "package_tarball_full_path")


def archive_records(prefix: Path, record_paths: Iterable[Path]) -> None:
    folder = records_archive_dir(prefix)
    folder.mkdir(parents=True, exist_ok=True)
    for path in record_paths:
        target = folder / path.name
        if target.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in _DROP:
            data.pop(key, None)
        _write(target, data)


def archive_linked(
    prefix: Path,
    linked: Sequence[rattler.RepoDataRecord],
    requested: Sequence[rattler.MatchSpec],
) -> None:
    """After rattler linked `linked` (installed with `requested` as its requested_specs): add
    their records to the archive without reading back what rattler wrote, then every other
    record not archived yet (as `archive_records`).

    Reading them back means parsing every file list (megabytes for a Python env: most of what
    a create costs beyond rattler's own work). The record rattler writes for a solved record is
    that record, the requested specs naming its package, and the file lists we drop; so the
    archive entry is made from the record in memory, the same text (byte for byte) as the one
    made from the file. Records of other kinds (a rollback's, from the archive) and specs
    without one exact package name are left to the file, read as before."""
    folder = records_archive_dir(prefix)
    folder.mkdir(parents=True, exist_ok=True)
    names = [_exact_name(spec) for spec in requested]
    if None not in names:
        for record in linked:
            if type(record) is not rattler.RepoDataRecord:
                continue
            name = record.name.normalized
            target = folder / f"{name}-{record.version}-{record.build}.json"
            if target.exists():
                continue
            data = _repodata_json(record)
            data["requested_specs"] = [
                str(spec) for spec, wanted in zip(requested, names, strict=True) if wanted == name
            ]
            _write(target, data)
    archive_records(prefix, sorted(p for p in (prefix / META).glob("*.json") if p.is_file()))


def _exact_name(spec: rattler.MatchSpec) -> str | None:
    try:
        name = spec.name.as_package_name()
    except Exception:  # a spec without a name (a package URL)
        return None
    return name.normalized if name is not None else None


def _repodata_json(record: rattler.RepoDataRecord) -> dict[str, Any]:
    """The record's fields as rattler writes them into conda-meta/ (it leaves out empty ones)."""
    data: dict[str, Any] = json.loads(record.to_json())
    return {key: value for key, value in data.items() if value is not None}


def _write(target: Path, data: dict[str, Any]) -> None:
    tmp = target.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, target)
    except OSError:
        tmp.unlink(missing_ok=True)  # no half-written record for a reader to trip on
        raise


def archived_record(prefix: Path, dist: str) -> rattler.PrefixRecord | None:
    """The record of `name-version-build` if this env ever had it."""
    for folder in (prefix / META, records_archive_dir(prefix)):
        path = folder / f"{dist}.json"
        if path.is_file():
            return rattler.PrefixRecord.from_path(path)
    return None
