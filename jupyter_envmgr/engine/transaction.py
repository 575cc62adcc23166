"""Our own transactions around rattler's non-atomic install.

Before acting we write a journal into `conda-meta/envmgr/journal/`: the records of the current
package set (copies of conda-meta/*.json) and which packages are about to be linked. On failure,
cancel or interrupt we restore that set from the package cache (no network needed); if the
process was killed, the next process to take the env's lock finds the journal and does the same.
A brand-new env is removed instead.

This module owns the journal: where it is (bookkeeping.py names the folders), how it is written
and read. Readers that hold no lock (the package cache's in-use scan) use `saved_record_files`
and `linking_packages`, which also look into the places 0.1.0 used, since a journal is moved
from there only under the env's lock.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import rattler

from .bookkeeping import (
    journal_dir,
    journal_staging_dir,
    legacy_journal_dir,
    legacy_journal_staging_dir,
)
from .cache_layers import LinkReport, link_report, write_link_report
from .errors import Cancelled, DownloadError, EnvMgrError, Forbidden, NoSpace, RestoreForbidden
from .fetch import fetch_and_check
from .lock import package_cache_lock
from .plan import Plan
from .prefix import META, dist_name, read_records, record_files
from .progress import Event, EventSink, ProgressReporter, ignore_events
from .rattler_guard import RattlerPanic, is_panic
from .record_archive import archive_linked, archive_records
from .settings import Settings

if TYPE_CHECKING:
    from .policy import Policy

QUIET_SECONDS = 0.3
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)  # a full disk, or the user's quota
RESTORE_ATTEMPTS = 3
_JOURNAL_FILE = "journal.json"
_RECORDS = "records"


def _read_journal_in(folder: Path) -> dict[str, Any] | None:
    try:
        journal: dict[str, Any] = json.loads((folder / _JOURNAL_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        # A journal dir without journal.json was never committed: nothing was touched yet.
        return None
    return journal


def read_journal(prefix: Path) -> dict[str, Any] | None:
    """The committed journal of the env; call with its lock held."""
    return _read_journal_in(journal_dir(prefix))


def write_journal(
    prefix: Path,
    *,
    operation: str,
    created: bool,
    linking: Sequence[str],
    site_packages: str | None = None,
) -> None:
    """Write the journal of an operation about to change `prefix`. A full disk (or quota)
    raises NoSpace with nothing changed: the half-written journal is removed, so the next
    command finds nothing to restore."""
    final = journal_dir(prefix)
    staging = journal_staging_dir(prefix)
    info = {
        "operation": operation,
        "created": created,
        "pid": os.getpid(),
        "started": time.time(),
        "linking": list(linking),
        # Where noarch python files of `linking` go: python may be new in this transaction.
        "site_packages": site_packages,
    }
    try:
        shutil.rmtree(staging, ignore_errors=True)
        (staging / _RECORDS).mkdir(parents=True)
        for path in record_files(prefix):
            shutil.copy2(path, staging / _RECORDS / path.name)
        (staging / _JOURNAL_FILE).write_text(json.dumps(info), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)  # the journal exists whole or not at all
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if exc.errno not in _NO_SPACE:
            raise
        what = "No space left on device" if exc.errno == errno.ENOSPC else "Disk quota exceeded"
        raise NoSpace(
            f"{what} while writing the journal of {prefix}; nothing was changed. Free space "
            "and try again."
        ) from None


def has_pending_journal(prefix: Path) -> bool:
    """A killed process left a journal (or a half-written one) behind; call with the lock."""
    return journal_dir(prefix).exists() or journal_staging_dir(prefix).exists()


def clear_journal(prefix: Path) -> None:
    shutil.rmtree(journal_dir(prefix), ignore_errors=True)


def saved_record_files(prefix: Path) -> list[Path]:
    """The records every journal of the env saved, committed or still being written (0.1.0's
    places included): what an operation in progress, or killed, may put back. No lock needed."""
    folders = (
        journal_dir(prefix),
        journal_staging_dir(prefix),
        legacy_journal_dir(prefix),
        legacy_journal_staging_dir(prefix),
    )
    return [path for folder in folders for path in sorted((folder / _RECORDS).glob("*.json"))]


def linking_packages(prefix: Path) -> list[str]:
    """The extracted package folders a committed journal says are being linked (0.1.0's place
    included). No lock needed."""
    linking: list[str] = []
    for folder in (journal_dir(prefix), legacy_journal_dir(prefix)):
        try:
            journal = _read_journal_in(folder)
            linking += [str(p) for p in journal.get("linking", [])] if journal else []
        except (OSError, AttributeError, TypeError):
            continue  # unreadable, or a journal.json that is not ours to understand
    return linking


def _site_packages(records: Sequence[rattler.RepoDataRecord]) -> str | None:
    for record in records:
        if record.name.normalized == "python":
            major_minor = ".".join(str(record.version).split(".")[:2])
            return f"lib/python{major_minor}/site-packages"
    return None


def _package_paths(extracted: Path, site_packages: str | None) -> list[str]:
    """Where a package's files land in a prefix (noarch python files are relocated)."""
    try:
        paths = json.loads((extracted / "info" / "paths.json").read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return []
    result = []
    try:
        link = json.loads((extracted / "info" / "link.json").read_text(encoding="utf-8"))
        entry_points = link.get("noarch", {}).get("entry_points", [])
    except (FileNotFoundError, ValueError, AttributeError):
        entry_points = []
    # Console scripts the installer generates from link.json are in no paths.json.
    result += [f"bin/{ep.split('=')[0].strip()}" for ep in entry_points if "=" in ep]
    for entry in paths.get("paths", []):
        rel = entry.get("_path", "")
        if rel.startswith("site-packages/") and site_packages:
            rel = site_packages + rel[len("site-packages") :]
        elif rel.startswith("python-scripts/"):
            rel = "bin" + rel[len("python-scripts") :]
        result.append(rel)
    return result


def _remove_orphans(prefix: Path, linking: Sequence[str], site: str | None) -> int:
    """Delete files a half-linked package left that no restored record owns, then the
    directories they leave empty: an empty `tornado/` would import as a namespace package."""
    records = read_records(prefix)
    owned = {os.path.normpath(str(f)) for r in records for f in (r.files or [])}
    paths = {
        rel
        for extracted in linking
        for rel in map(os.path.normpath, _package_paths(Path(extracted), site))
        if rel not in owned
    }
    orphans = _inside_prefix(prefix, paths)
    removed = 0
    for rel in orphans:
        target = prefix / rel
        if target.is_file() or target.is_symlink():
            target.unlink()
            removed += 1
    _remove_empty_parents(prefix, orphans, keep=_parents(owned))
    return removed


def _inside_prefix(prefix: Path, rels: set[str]) -> list[str]:
    """The paths strictly below the prefix, also once symlinked directories on the way are
    followed: what we delete must be the env's, never a file or folder elsewhere."""
    verdicts: dict[str, bool] = {}  # per parent directory: a package has thousands of files
    inside = []
    for rel in sorted(rels):
        if os.path.isabs(rel) or rel == os.curdir or rel.split(os.sep)[0] == os.pardir:
            continue
        parent = os.path.dirname(rel)
        if parent not in verdicts:
            verdicts[parent] = _resolves_inside(prefix, parent)
        if verdicts[parent]:
            inside.append(rel)
    return inside


def _resolves_inside(prefix: Path, rel: str) -> bool:
    real_prefix = os.path.realpath(prefix)
    real = os.path.realpath(prefix / rel)
    return os.path.commonpath([real, real_prefix]) == real_prefix


def _parents(rels: set[str] | Sequence[str]) -> set[str]:
    """Every directory (relative to the prefix, the prefix itself excluded) holding one of
    `rels`, at any depth."""
    parents: set[str] = set()
    for rel in rels:
        parent = os.path.dirname(rel)
        while parent and parent not in parents:
            parents.add(parent)
            parent = os.path.dirname(parent)
    return parents


def _remove_empty_parents(prefix: Path, orphans: Sequence[str], keep: set[str]) -> None:
    """Remove the orphans' directories that are now empty, deepest first so that a folder
    emptied by removing its subfolders goes too. A directory a restored record's file lives
    in is kept even if that file is missing: the record still claims it."""
    candidates = _parents(orphans) - keep
    for rel in sorted(candidates, key=lambda r: r.count(os.sep), reverse=True):
        path = prefix / rel
        if path.is_symlink() or not path.is_dir() or not _resolves_inside(prefix, rel):
            continue
        try:
            path.rmdir()  # only ever succeeds on an empty directory
        except OSError:
            continue


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _path_entries(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The file entries of a record (its `paths_data`, else its bare `files` list) or of a
    package's `info/paths.json`."""
    paths_data = data.get("paths_data", data)
    paths = paths_data.get("paths") if isinstance(paths_data, dict) else None
    if isinstance(paths, list):
        return [e for e in paths if isinstance(e, dict) and isinstance(e.get("_path"), str)]
    return [{"_path": f} for f in data.get("files", []) if isinstance(f, str)]


def _all_present(base: Path, entries: Sequence[dict[str, Any]], *, in_prefix: bool) -> bool:
    """Every file the entries name is under `base`: a link as a link, a directory as one, a
    file with the size the entry records. Compiled .pyc files may be missing (Python makes
    them again). In a prefix, a file whose prefix placeholder was replaced is only required
    to exist: other tools record the size it had in the package."""
    for entry in entries:
        kind = entry.get("path_type", "hardlink")
        if kind == "pyc_file":
            continue
        path = base / entry["_path"]
        try:
            st = os.lstat(path)
        except OSError:
            return False
        if kind == "softlink":
            continue
        if kind == "directory":
            if not os.path.isdir(path):
                return False
            continue
        size = entry.get("size_in_bytes")
        if in_prefix and entry.get("prefix_placeholder"):
            continue
        if isinstance(size, int) and st.st_size != size:
            return False
    return True


def _damaged_packages(prefix: Path, saved: Sequence[Path]) -> set[str]:
    """The saved records still in conda-meta/ whose files are not all in the prefix (a kill
    during an unlink: the record goes last): `<name>-<version>-<build>` of each."""
    meta = prefix / META
    damaged = set()
    for path in saved:
        if (meta / path.name).is_file():
            if not _all_present(prefix, _path_entries(_read_json(path)), in_prefix=True):
                damaged.add(path.stem)
    return damaged


def _in_cache(pkgs_dir: Path, record: rattler.RepoDataRecord) -> bool:
    """The package is extracted whole in the cache: rattler links it without a download."""
    folder = pkgs_dir / dist_name(record)
    paths = _read_json(folder / "info" / "paths.json")
    return bool(paths) and _all_present(folder, _path_entries(paths), in_prefix=False)


def _check_restore_policy(
    policy: Policy, prefix: Path, missing: Sequence[rattler.RepoDataRecord]
) -> None:
    """What the restore must download (`missing` from the cache) must come from allowed
    channels."""
    refused = []
    for record in missing:
        try:
            policy.check_package_urls([record.url])
        except Forbidden:
            refused.append(f"{dist_name(record)} ({record.url})")
    if refused:
        raise RestoreForbidden(
            f"Cannot restore {prefix} after an interrupted operation: "
            f"{', '.join(refused)} {'is' if len(refused) == 1 else 'are'} no longer in the "
            "package cache, and downloading again from "
            f"{'that channel' if len(refused) == 1 else 'those channels'} is not allowed here "
            f"(allowed: {', '.join(policy.allowed_channels)}). Nothing was downloaded. The "
            "environment is left as the interrupted operation left it, with its journal: run "
            f"'envmgr repair -p {prefix}' again once the channel is allowed or the packages "
            "are back in the cache."
        )


def _repair_damaged_records(prefix: Path, saved: dict[str, Path]) -> None:
    """A process killed while writing a record leaves half a JSON file: put back our copy of it,
    or drop it if it belonged to the interrupted operation (the restore unlinks its files)."""
    for path in record_files(prefix):
        try:
            rattler.PrefixRecord.from_path(path)
        except Exception:
            if path.name in saved:
                shutil.copy2(saved[path.name], path)
            else:
                path.unlink()


async def restore(
    settings: Settings,
    prefix: Path,
    on_event: EventSink = ignore_events,
    *,
    policy: Policy | None = None,
) -> list[str]:
    """Put the env back to what the journal recorded, or remove it if it was being created.

    Returns the names of the packages linked again: those the interrupted operation had
    removed, and those it left half-removed (their record still there, some files gone). What
    is not in the package cache is downloaded again, from channels `policy` allows only."""
    journal = read_journal(prefix)
    if journal is None:
        shutil.rmtree(journal_staging_dir(prefix), ignore_errors=True)
        clear_journal(prefix)
        return []
    on_event(Event("restore", {"prefix": str(prefix), "operation": journal.get("operation")}))
    if journal.get("created"):
        shutil.rmtree(prefix, ignore_errors=True)
        return []
    saved = sorted((journal_dir(prefix) / _RECORDS).glob("*.json"))
    previous: list[rattler.RepoDataRecord] = [rattler.PrefixRecord.from_path(p) for p in saved]
    _repair_damaged_records(prefix, {p.name: p for p in saved})
    damaged = await asyncio.to_thread(_damaged_packages, prefix, saved)
    # rattler links only what `installed_packages` lacks: a half-removed package is left out
    # of it, so that it is linked again whole from the cache.
    installed = [r for r in read_records(prefix) if dist_name(r) not in damaged]
    present = {dist_name(r) for r in installed}
    to_link = [r for r in previous if dist_name(r) not in present]
    missing = await asyncio.to_thread(
        lambda: [r for r in to_link if not _in_cache(settings.pkgs_dir, r)]
    )
    if policy is not None:
        _check_restore_policy(policy, prefix, missing)
    # What must come back from a channel is fetched and checked as any install's packages are.
    if missing:
        await fetch_and_check(settings, missing, prefix, on_event)
    await rattler.install(
        previous,
        prefix,
        cache_dir=settings.pkgs_dir,
        installed_packages=installed,
        show_progress=False,
    )
    _remove_orphans(prefix, journal.get("linking", []), journal.get("site_packages"))
    clear_journal(prefix)
    relinked = sorted(r.name.normalized for r in to_link)
    on_event(
        Event("restored", {"prefix": str(prefix), "packages": len(previous), "relinked": relinked})
    )
    return relinked


async def _await_ignoring_cancel(future: asyncio.Future[Any]) -> None:
    """Wait for `future` to end even if our own task is cancelled meanwhile; its outcome stays
    in the future for the caller to read."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
        except Exception:
            break


async def _run_to_completion(make: Callable[[], Awaitable[object]]) -> None:
    """Run a restore even while our task is being cancelled: a half-restored env is the one
    outcome we never accept. rattler can fail on a prefix that a cancelled install was still
    touching; the restore is idempotent, so it is tried again after a pause."""
    for attempt in range(1, RESTORE_ATTEMPTS + 1):
        task = asyncio.ensure_future(make())
        await _await_ignoring_cancel(task)
        refused = isinstance(task.exception(), RestoreForbidden)  # no retry changes the policy
        if task.exception() is None or refused or attempt == RESTORE_ATTEMPTS:
            task.result()
            return
        await asyncio.sleep(0.5 * attempt)


async def _install_cancellably(
    install: asyncio.Future[None], reporter: ProgressReporter, on_event: EventSink
) -> None:
    """Await rattler's install so that a cancel never races the restore.

    Dropping rattler's future stops its downloads and starts no new link, but a package being
    linked right now is linked on worker threads that a cancel does not stop: a cancel first
    waits for those to end, then drops the rest; the restore then undoes what was linked.
    """
    try:
        await asyncio.shield(install)
    except asyncio.CancelledError:
        if reporter.in_flight > 0:
            on_event(Event("cancel-pending", {"reason": "waiting for a package to finish linking"}))
        while reporter.in_flight > 0 and not install.done():
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                continue  # already cancelling
        install.cancel()
        # Work rattler had already handed to its threads reports in as it ends: wait until the
        # reporter has been quiet for a moment before the restore touches the prefix.
        while time.monotonic() - reporter.last_callback < QUIET_SECONDS:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                continue
        raise


async def apply_plan(
    settings: Settings,
    plan: Plan,
    *,
    operation: str,
    created: bool,
    requested: Sequence[rattler.MatchSpec],
    on_event: EventSink = ignore_events,
    policy: Policy | None = None,
    copy: bool = False,
    platform: rattler.Subdir | None = None,
) -> LinkReport:
    """Link `plan` into its prefix as one transaction (restored whole on any failure).
    `copy`: copies, never hard or soft links into the cache (`--copy`). `platform`: the env's
    subdir when it is another machine's (`--platform`): its link scripts never run here.
    Returns how the files from read-only package caches (a site cache) arrived: hard links or
    copies (cache_layers.py)."""
    prefix = plan.prefix
    linking = [str(settings.pkgs_dir / dist_name(r)) for r in plan.to_link]
    await asyncio.to_thread(settings.pkgs_dir.mkdir, parents=True, exist_ok=True)
    # rattler's cache lock (which clean takes too) from the packages' arrival until the journal
    # names them as being linked: a clean in between would leave rattler to fetch them again,
    # unchecked. rattler takes the lock again for its own install.
    async with package_cache_lock(
        settings.pkgs_dir, timeout=settings.lock_timeout, on_event=on_event,
        then=f"Nothing in {prefix} was changed: wait for it to finish and try again.",
        shared=True,
    ):  # fmt: skip
        try:
            # Every package to link is in the cache and checked before the journal exists: a
            # refused or unreachable package leaves nothing to restore.
            notes = await fetch_and_check(settings, plan.to_link, prefix, on_event)
        except (asyncio.CancelledError, KeyboardInterrupt):
            raise Cancelled(f"Cancelled; nothing in {prefix} was changed.") from None
        # Records of big packages list every file: parsing and copying them stays off the loop
        # (one thread hop for both steps).
        await asyncio.to_thread(
            _archive_and_journal,
            prefix,
            operation=operation,
            created=created,
            linking=linking,
            site_packages=_site_packages(plan.final),
        )
    reporter = ProgressReporter(on_event, plan.to_link, plan.to_unlink)
    install = asyncio.ensure_future(
        rattler.install(
            plan.final,
            prefix,
            cache_dir=settings.pkgs_dir,
            installed_packages=plan.installed,
            # py-rattler 0.28 hands requested_specs to its Rust binding as they are (unlike
            # `config`, which it unwraps): it wants the inner objects, not MatchSpec wrappers.
            requested_specs=[spec._match_spec for spec in requested],
            reporter=reporter,
            show_progress=False,
            platform=platform,
            # A post-link script of another platform's package cannot run here.
            execute_link_scripts=False if platform is not None else None,
            config=_copy_config() if copy else None,
        )
    )
    try:
        await _install_cancellably(install, reporter, on_event)
    except BaseException as exc:
        await _run_to_completion(lambda: restore(settings, prefix, on_event, policy=policy))
        if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
            raise Cancelled(f"Cancelled; {prefix} was restored to its previous state.") from None
        if isinstance(exc, EnvMgrError):
            raise
        if is_panic(exc):
            raise RattlerPanic(
                f"rattler failed while installing into {prefix} ({exc}). The environment was "
                "restored to its previous state."
            ) from None
        if isinstance(exc, Exception):
            raise DownloadError(
                f"Installing into {prefix} failed: {str(exc).strip()}. The environment was "
                "restored to its previous state; check the channel and try again."
            ) from None
        raise
    # The install is done: a cancel arriving now must not leave a journal that would undo it,
    # nor say "cancelled" (done is done). The steps touch the disk (a journal of a big env is
    # thousands of records): in a thread, one hop for all of them.
    bookkeeping = asyncio.ensure_future(
        asyncio.to_thread(_finish_and_report, settings, plan, requested)
    )
    await _await_ignoring_cancel(bookkeeping)
    report = bookkeeping.result()
    report.notes = notes
    return report


def _archive_and_journal(
    prefix: Path,
    *,
    operation: str,
    created: bool,
    linking: Sequence[str],
    site_packages: str | None,
) -> None:
    """Before linking: archive the current records, then write the journal."""
    try:
        archive_records(prefix, record_files(prefix))
    except OSError as exc:
        if exc.errno not in _NO_SPACE:
            raise
        # The archive is a convenience (offline rollback): a full disk is reported by the
        # journal written next, as one error with nothing changed.
    write_journal(
        prefix,
        operation=operation,
        created=created,
        linking=linking,
        site_packages=site_packages,
    )


def _finish_and_report(
    settings: Settings, plan: Plan, requested: Sequence[rattler.MatchSpec]
) -> LinkReport:
    """After the install: `_finish`, then `_report_links`."""
    _finish(plan.prefix, plan.to_link, requested)
    return _report_links(settings, plan)


def _report_links(settings: Settings, plan: Plan) -> LinkReport:
    """Hard links or copies, over every package of the env now; kept with the env (usage)."""
    report = link_report(plan.prefix, settings.pkgs_dir, plan.final, _site_packages(plan.final))
    write_link_report(plan.prefix, report)
    return report


def _copy_config() -> rattler.Config:
    """rattler's link options for `--copy`: every file a copy of its own."""
    return rattler.Config.from_toml(
        "allow-hard-links = false\nallow-symbolic-links = false\nallow-ref-links = false\n"
    )


def _finish(
    prefix: Path,
    linked: Sequence[rattler.RepoDataRecord],
    requested: Sequence[rattler.MatchSpec],
) -> None:
    """After a successful install: archive the new records, then drop the journal."""
    archive_linked(prefix, linked, requested)
    clear_journal(prefix)
