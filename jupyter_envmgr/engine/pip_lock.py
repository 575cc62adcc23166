"""The pip-installed part of a locked environment: exact `name==version` entries, with the
URL and sha256 they came from when pip recorded them (skeleton: filled in next)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .progress import EventSink, ignore_events

if TYPE_CHECKING:
    from .policy import Policy
    from .settings import Settings

# Where a distribution came from. "index": a package index (name==version, maybe with the
# file's URL and hash); "url": a direct archive URL (PEP 610 archive_info); "vcs" and "dir":
# a VCS checkout or a local folder, which no lock can reproduce.
PipSource = Literal["index", "url", "vcs", "dir"]


@dataclass(frozen=True)
class PipLockEntry:
    name: str  # normalised distribution name (PEP 503)
    version: str
    url: str | None = None  # the wheel/sdist URL it was installed from, when known
    sha256: str | None = None  # its sha256 (hex), when known
    source: PipSource = "index"

    @property
    def lockable(self) -> bool:
        return self.source in ("index", "url")


def pip_entries(prefix: Path) -> list[PipLockEntry]:
    raise NotImplementedError


def check_pip_entries(
    entries: Iterable[PipLockEntry], policy: Policy | None, *, where: str
) -> None:
    raise NotImplementedError


async def install_pip_entries(
    settings: Settings,
    prefix: Path,
    entries: Iterable[PipLockEntry],
    policy: Policy | None,
    *,
    on_event: EventSink = ignore_events,
) -> None:
    raise NotImplementedError


def entries_from_json(items: object) -> list[PipLockEntry]:
    raise NotImplementedError


def entries_to_json(entries: Iterable[PipLockEntry]) -> list[dict[str, object]]:
    raise NotImplementedError
