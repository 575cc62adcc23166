"""Which package cache entries known environments use: computed, never guessed.

An extracted package is used when a record of any given env points at it through
`extracted_package_dir` or `link.source`, or when an operation in progress (or killed) in that
env may restore or is linking it: the records its journal saved, and the packages the journal
says are being linked (transaction.py reads those for us). A record that does not say where it
was linked from, or that we cannot read, protects its package by dist name instead.

Records are read as plain JSON: a record rattler cannot parse still protects what it names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .errors import Forbidden
from .prefix import META
from .registry import Env
from .transaction import linking_packages, saved_record_files
from .usage import InodeKey


@dataclass
class PackageUsers:
    """Cache entries known envs point at: by inode of the folder, and by dist name for records
    that do not say where they were linked from (or that we could not read)."""

    by_key: dict[InodeKey, set[str]] = field(default_factory=dict)
    by_name: dict[str, set[str]] = field(default_factory=dict)

    def envs_using(self, key: InodeKey | None, name: str) -> set[str]:
        return (self.by_key.get(key, set()) if key else set()) | self.by_name.get(name, set())


def packages_in_use(envs: Iterable[Env]) -> PackageUsers:
    users = PackageUsers()
    for env in envs:
        label = str(env.prefix)
        sources: list[str] = linking_packages(env.prefix)
        for record in _record_files(env.prefix):
            found, name = _record_sources(record)
            sources += found
            if not found:
                users.by_name.setdefault(name, set()).add(label)
        for source in sources:
            key = dir_key(Path(source))
            if key is not None:
                users.by_key.setdefault(key, set()).add(label)
    return users


def dir_key(path: Path) -> InodeKey | None:
    """The (device, inode) of a folder, following symlinks: a record may name the cache by
    another path than the one clean lists it by."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _record_sources(path: Path) -> tuple[list[str], str]:
    """(folders the record links from, its dist name)."""
    name = path.name[: -len(".json")]
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [], name
    if not isinstance(data, dict):
        return [], name
    sources = [data.get("extracted_package_dir")]
    link = data.get("link")
    if isinstance(link, dict):
        sources.append(link.get("source"))
    if all(k in data for k in ("name", "version", "build")):
        name = f"{data['name']}-{data['version']}-{data['build']}"
    return [s for s in sources if isinstance(s, str) and s], name


def _record_files(prefix: Path) -> Iterator[Path]:
    meta = prefix / META
    try:
        names = sorted(os.listdir(meta))
    except FileNotFoundError:
        names = []  # removed since it was listed: it uses nothing any more
    except OSError as exc:
        raise Forbidden(
            f"Cannot read the package records of {prefix} ({exc.strerror}), so clean cannot tell "
            "which packages it uses. Fix the permissions, or clean only --index-cache, "
            "--tarballs or --locks."
        ) from None
    yield from (meta / n for n in names if n.endswith(".json"))
    # An operation in progress (or killed) may put these back: used until its journal is gone.
    yield from saved_record_files(prefix)
