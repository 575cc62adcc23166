"""Python distributions in an env that no conda package owns: installed with pip (or uv...).

conda lists them in `conda list` with build `pypi_0` and channel `pypi`; `env export` writes
them under `pip:`. A distribution is owned by a conda package when one of its records lists a
file inside the distribution's `.dist-info` folder (read the records with `files="dist-info"`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import rattler

PYPI_CHANNEL = "pypi"
PYPI_BUILD = "pypi_0"
# A METADATA header is a few kB; a bigger read would only cost time on a hostile file.
_MAX_HEADER = 64 * 1024


@dataclass(frozen=True)
class PipDistribution:
    name: str  # as its METADATA spells it (what `pip install NAME==VERSION` takes)
    version: str
    installer: str  # the dist-info's INSTALLER: "pip", "uv", ...; "" when it has none
    dist_info: Path

    @property
    def normalized(self) -> str:
        """PEP 503's name: how conda lists it, and how it sorts among conda packages."""
        return re.sub(r"[-_.]+", "-", self.name).lower()

    def to_json(self) -> dict[str, object]:
        """The JSON of a listed package (`prefix.record_json`'s keys), marked as pip's."""
        return {
            "name": self.normalized,
            "version": self.version,
            "build": PYPI_BUILD,
            "channel": PYPI_CHANNEL,
            "size": None,
            "installer": self.installer or "pip",
        }


def pip_distributions(
    prefix: Path, records: Iterable[rattler.PrefixRecord]
) -> list[PipDistribution]:
    """The env's `site-packages/*.dist-info` no record owns, those with a name and version."""
    owned = {
        str(f).split("/")[-2] for r in records for f in (r.files or []) if "dist-info/" in str(f)
    }
    found = []
    for dist_info in sorted(prefix.glob("lib/python*/site-packages/*.dist-info")):
        if dist_info.name in owned or not dist_info.is_dir():
            continue
        fields = _metadata_fields(dist_info / "METADATA")
        if fields.get("name") and fields.get("version"):
            installer = _read_small(dist_info / "INSTALLER").strip().splitlines()
            found.append(
                PipDistribution(
                    fields["name"], fields["version"], installer[0] if installer else "", dist_info
                )
            )
    return found


def _metadata_fields(path: Path) -> dict[str, str]:
    """The header fields of a METADATA file (lower-case keys, first value kept)."""
    fields: dict[str, str] = {}
    for line in _read_small(path).splitlines():
        if not line.strip():
            break  # the header ends at the first blank line; the description follows
        key, _, value = line.partition(":")
        fields.setdefault(key.strip().lower(), value.strip())
    return fields


def _read_small(path: Path) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(_MAX_HEADER)
    except OSError:  # missing, or not a file: the distribution is skipped or has no installer
        return ""
