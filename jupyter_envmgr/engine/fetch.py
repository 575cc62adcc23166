"""Bring the packages a plan links into the package cache, and check each before any is linked.

rattler's install downloads, extracts and links in one call, so nothing of ours could look at
a package between its arrival and its linking. We fetch first: each missing package is
downloaded (or, from a local channel, read in place) and extracted into a staging folder inside
the cache, its hash compared with the record, its paths checked (`package_check`), and only
then renamed to `<pkgs_dir>/<name>-<version>-<build>`, where rattler finds it and links without
fetching. Packages already in the cache are checked too: another tool may have put them there.

A package our cache lacks but a read-only layer (a site cache, cache_layers.py) holds is taken
from there without a download: that entry is checked as someone else's content, and our cache
gets a pointer to it. What the layers lack, or hold in a state we refuse, is fetched as above.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

import rattler
from rattler.networking import Client
from rattler.package_streaming import download_and_extract, download_to_path

from .cache_layers import find_in_layers, is_pointer, point_at, read_only_layers
from .errors import DownloadError
from .package_check import check_extracted, check_links_in_place, check_record_names
from .prefix import dist_name
from .progress import Event, EventSink, ignore_events
from .settings import Settings

PARALLEL_DOWNLOADS = 4
PROGRESS_SECONDS = 0.1
_STAGING_PREFIX = ".envmgr-fetch-"  # cache.py sorts these with partial downloads ("partial")


def _is_local(url: str) -> bool:
    return urlsplit(url).scheme == "file"


def _archive_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    return "package.conda" if name.endswith(".conda") else "package.tar.bz2"


def _hash_matches(record: rattler.RepoDataRecord, sha256: bytes, md5: bytes) -> bool:
    if record.sha256 is not None:
        return bytes(record.sha256) == sha256
    if record.md5 is not None:
        return bytes(record.md5) == md5
    return True  # a record without hashes (an explicit URL): nothing to compare with


def _check_cached(folders: Sequence[tuple[Path, str]]) -> dict[str, list[tuple[str, str]]]:
    return {name: check_extracted(folder, name) for folder, name in folders}


async def _extract(
    client: Client, source: str, extracted: Path, record: rattler.RepoDataRecord
) -> None:
    """Extract the archive at `source` (a file:// URL: rattler extracts off the GIL, so several
    packages extract at once; its plain `extract` would take turns), compare its hashes."""
    name = record.name.normalized
    try:
        sha256, md5 = await download_and_extract(client, source, extracted)
    except (asyncio.CancelledError, KeyboardInterrupt):
        raise
    except Exception as exc:  # rattler's extraction errors are plain exceptions
        raise DownloadError(
            f"The package '{name}' ({record.url}) cannot be extracted: {exc}. Nothing was changed."
        ) from None
    if not _hash_matches(record, sha256, md5):
        raise DownloadError(
            f"The package '{name}' downloaded from {record.url} does not match the hash its "
            "channel (or lock file) gives: refused, nothing was changed. Try again; if it "
            "persists, the channel or the file is wrong."
        )


def _check_and_place(extracted: Path, target: Path, name: str) -> list[tuple[str, str]]:
    """Check the extracted package, then move it into place (blocking: in a thread)."""
    links = check_extracted(extracted, name)
    try:
        os.rename(extracted, target)
    except OSError:
        if not (target / "info").is_dir():
            raise  # not a concurrent fetch of the same package having won: a real failure
    return links


async def _fetch_one(
    record: rattler.RepoDataRecord,
    cache: Path,
    client: Client,
    slots: asyncio.Semaphore,
    on_event: EventSink,
) -> list[tuple[str, str]]:
    name = record.name.normalized
    target = cache / dist_name(record)
    async with slots:
        staging = cache / f"{_STAGING_PREFIX}{dist_name(record)}-{os.urandom(4).hex()}"
        try:
            staging.mkdir(parents=True)
            on_event(Event("download-start", {"name": name, "total": record.size}))
            if _is_local(record.url):
                source = record.url  # a local channel: read in place, no copy
            else:
                archive = staging / _archive_name(record.url)
                await _download(client, record, archive, on_event)
                source = archive.as_uri()
            await _extract(client, source, staging / "pkg", record)
            on_event(Event("download-done", {"name": name}))
            return await asyncio.to_thread(_check_and_place, staging / "pkg", target, name)
        except OSError as exc:
            raise DownloadError(
                f"Fetching '{name}' into the package cache {cache} failed: "
                f"{exc.strerror or exc}. Nothing was changed."
            ) from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)


async def _download(
    client: Client, record: rattler.RepoDataRecord, archive: Path, on_event: EventSink
) -> None:
    """Stream the archive to disk, reporting its size as it grows."""
    name = record.name.normalized
    download = asyncio.ensure_future(download_to_path(client, record.url, archive))
    try:
        while not download.done():
            await asyncio.wait({download}, timeout=PROGRESS_SECONDS)
            try:
                got = archive.stat().st_size
            except FileNotFoundError:
                got = 0
            on_event(Event("download-progress", {"name": name, "bytes": got, "total": record.size}))
        download.result()
    except (asyncio.CancelledError, KeyboardInterrupt):
        download.cancel()
        raise
    except Exception as exc:  # rattler's network errors are plain exceptions (or OSErrors)
        raise DownloadError(
            f"Downloading '{name}' from {record.url} failed: {str(exc).strip()}. Nothing was "
            "changed; check the channel and try again."
        ) from None


def _take_from_layers(
    records: Sequence[rattler.RepoDataRecord],
    layers: Sequence[Path],
    cache: Path,
    links: dict[str, list[tuple[str, str]]],
    notes: list[str],
) -> list[rattler.RepoDataRecord]:
    """Point our cache at the read-only layers' checked entries; return what they lack. Why
    an entry was refused goes to `notes`."""
    lacking = []
    for record in records:
        entry, skipped = find_in_layers(record, layers)
        notes += [f"Not linked from the site package cache, fetched instead: {s}" for s in skipped]
        if entry is None:
            lacking.append(record)
            continue
        point_at(cache, entry)
        links[record.name.normalized] = entry.links
    return lacking


async def fetch_and_check(
    settings: Settings,
    records: Sequence[rattler.RepoDataRecord],
    prefix: Path,
    on_event: EventSink = ignore_events,
) -> list[str]:
    """Every record to link, extracted in `settings.pkgs_dir` (or pointed at in a read-only
    layer) and checked; raises UnsafePackage (naming the package and path) or DownloadError
    before anything is linked. Returns notes on the read-only layers' entries refused."""
    cache = settings.pkgs_dir
    for record in records:
        check_record_names(record.name.normalized, str(record.version), str(record.build))
    cached: list[tuple[Path, str]] = []
    missing: list[rattler.RepoDataRecord] = []
    for record in records:
        folder = cache / dist_name(record)
        if (folder / "info").is_dir() and not is_pointer(folder):
            cached.append((folder, record.name.normalized))
        else:
            missing.append(record)
    links = await asyncio.to_thread(_check_cached, cached)
    layers = [p for p in read_only_layers(settings.pkgs_dirs) if p != cache]
    notes: list[str] = []
    if layers and missing:
        missing = await asyncio.to_thread(_take_from_layers, missing, layers, cache, links, notes)
    for record in missing:
        if is_pointer(cache / dist_name(record)):
            # A pointer to a site entry no layer vouches for now: fetch our own in its place.
            (cache / dist_name(record)).unlink()
    if missing:
        client = Client.default_client()
        slots = asyncio.Semaphore(PARALLEL_DOWNLOADS)
        fetches = [
            asyncio.ensure_future(_fetch_one(r, cache, client, slots, on_event)) for r in missing
        ]
        try:
            fetched = await asyncio.gather(*fetches)
        except BaseException:
            for fetch in fetches:
                fetch.cancel()
            await asyncio.gather(*fetches, return_exceptions=True)
            raise
        links.update((r.name.normalized, found) for r, found in zip(missing, fetched, strict=True))
    await asyncio.to_thread(check_links_in_place, prefix, links)
    return notes
