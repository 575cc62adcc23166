"""Exact package sets without a solve: an @EXPLICIT list, or the set of an earlier revision.

Records come from this env's own record archive when it ever had the package (offline), else
from the package's channel index by name, version and build.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import rattler

from .errors import BadInput, EnvMgrError
from .gateway import channel_error, gateway_for, query_channels
from .prefix import Revision, read_history
from .rattler_guard import rattler_guard
from .record_archive import archived_record

if TYPE_CHECKING:
    from .envfile import ExplicitEntry  # the parser (yaml, packaging) loads only for -f files
from .settings import Settings
from .specs import channel_url
from .urls import canonical_url, package_channel


async def _from_channel(
    settings: Settings, channel: str, subdir: str, name: str, version: str, build: str
) -> list[rattler.RepoDataRecord]:
    where = f"the index of {channel}/{subdir}"
    try:
        # From an @EXPLICIT file's URL or a history line: rattler may refuse them.
        with rattler_guard(f"reading {where}"):
            platform = rattler.Subdir(subdir)
            spec = rattler.MatchSpec(f"{name} =={version} {build}")
    except EnvMgrError:
        raise
    except Exception as exc:
        raise channel_error(exc, where) from None
    found = await query_channels(
        gateway_for(settings), [channel], [platform], [spec], recursive=False, where=where
    )
    return [r for per_channel in found for r in per_channel]


async def explicit_records(
    settings: Settings, entries: Sequence[ExplicitEntry]
) -> list[rattler.RepoDataRecord]:
    records = []
    for entry in entries:
        name, version, build = entry.name_version_build
        url = canonical_url(entry.url)
        candidates = await _from_channel(
            settings, package_channel(url), entry.subdir, name, version, build
        )
        match = next((r for r in candidates if canonical_url(r.url) == url), None)
        if match is None:
            raise BadInput(
                f"line {entry.line}: {entry.url} is not in its channel's index; check the URL."
            )
        if entry.sha256 and (match.sha256 is None or match.sha256.hex() != entry.sha256):
            raise BadInput(f"line {entry.line}: the sha256 of {entry.file_name} does not match.")
        if entry.md5 and (match.md5 is None or match.md5.hex() != entry.md5):
            raise BadInput(f"line {entry.line}: the md5 of {entry.file_name} does not match.")
        records.append(match)
    return records


def _split_dist(dist: str) -> tuple[str, str, str, str, str]:
    """`<channel>/<subdir>::<name>-<version>-<build>` from conda-meta/history."""
    channel_subdir, _, nvb = dist.rpartition("::")
    channel, _, subdir = channel_subdir.rpartition("/")
    name, version, build = nvb.rsplit("-", 2)
    return channel, subdir, name, version, build


def revision_dists(revisions: Sequence[Revision], number: int) -> dict[str, str]:
    """Replay history up to revision `number`: package name -> history dist string."""
    state: dict[str, str] = {}
    for rev in revisions[: number + 1]:
        for dist in rev.removed:
            state.pop(_split_dist(dist)[2], None)
        for dist in rev.added:
            state[_split_dist(dist)[2]] = dist
    return state


def revision_channels(revisions: Sequence[Revision], number: int) -> set[str]:
    """The channels (as history spells them) of the packages revision `number` had."""
    return {_split_dist(dist)[0] for dist in revision_dists(revisions, number).values()}


async def revision_records(
    settings: Settings, prefix: Path, number: int
) -> list[rattler.RepoDataRecord]:
    revisions = read_history(prefix)
    if not 0 <= number < len(revisions):
        last = len(revisions) - 1
        raise BadInput(
            f"Revision {number} does not exist; this environment has revisions 0 to {last} "
            "(see 'envmgr list --revisions')."
        )
    records: list[rattler.RepoDataRecord] = []
    record: rattler.RepoDataRecord | None
    for dist in revision_dists(revisions, number).values():
        channel, subdir, name, version, build = _split_dist(dist)
        record = archived_record(prefix, f"{name}-{version}-{build}")
        if record is None:
            url = channel_url(channel, settings)
            found = await _from_channel(settings, url, subdir, name, version, build)
            record = found[0] if found else None
        if record is None:
            raise EnvMgrError(
                f"Revision {number} needs {name}-{version}-{build}, which is neither in this "
                f"environment's records nor in the channel {channel}."
            )
        records.append(record)
    return records
