"""Every record an env has had, kept small in `conda-meta/envmgr/records/`.

conda-meta/ only describes the present; a rollback to revision N needs the records (URL, hashes,
channel) of packages that are gone. We keep each one once, without its file lists, so a rollback
can reinstall exactly that build from the cache, offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

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
        tmp = target.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        os.replace(tmp, target)


def archived_record(prefix: Path, dist: str) -> rattler.PrefixRecord | None:
    """The record of `name-version-build` if this env ever had it."""
    for folder in (prefix / META, records_archive_dir(prefix)):
        path = folder / f"{dist}.json"
        if path.is_file():
            return rattler.PrefixRecord.from_path(path)
    return None
