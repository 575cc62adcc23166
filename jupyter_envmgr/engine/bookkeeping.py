"""Where our own files live inside a prefix: all of them in one folder, `conda-meta/envmgr/`.

    conda-meta/envmgr/lock          the per-env file lock (flock), see lock.py
    conda-meta/envmgr/owner.json    who holds it (pid, host, command), while held
    conda-meta/envmgr/journal/      an operation in progress or killed, see transaction.py
    conda-meta/envmgr/journal.new/  that journal while it is being written
    conda-meta/envmgr/records/      every record the env ever had, see record_archive.py
    conda-meta/envmgr/kernels/      kernelspecs written for tools outside the server

conda and micromamba ignore the folder. Every name we ever put into conda-meta/ starts with
`envmgr`, so code that must tell our bookkeeping from an env's content (a folder about to
become an env, a create killed before its journal) can go by that prefix.

Prefixes made by 0.1.0 kept the journal (`conda-meta/envmgr-journal`, `envmgr-journal.new`) and
the kernelspec copies (`conda-meta/envmgr-kernels`) beside this folder: `migrate_legacy_layout`
moves them in. It runs under the env's lock (lock.py calls it as soon as the lock is taken), so
no process, of any version, is using them meanwhile.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import Forbidden
from .prefix import META

NAME = "envmgr"


def bookkeeping_dir(prefix: Path) -> Path:
    return prefix / META / NAME


def lock_file(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "lock"


def lock_owner_file(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "owner.json"


def journal_dir(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "journal"


def journal_staging_dir(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "journal.new"


def records_archive_dir(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "records"


def kernels_dir(prefix: Path) -> Path:
    return bookkeeping_dir(prefix) / "kernels"


# ---------------------------------------------------------------------------------------------
# The 0.1.0 layout


def legacy_journal_dir(prefix: Path) -> Path:
    return prefix / META / f"{NAME}-journal"


def legacy_journal_staging_dir(prefix: Path) -> Path:
    return prefix / META / f"{NAME}-journal.new"


def legacy_kernels_dir(prefix: Path) -> Path:
    return prefix / META / f"{NAME}-kernels"


def _moves(prefix: Path) -> tuple[tuple[Path, Path], ...]:
    return (
        (legacy_journal_dir(prefix), journal_dir(prefix)),
        (legacy_journal_staging_dir(prefix), journal_staging_dir(prefix)),
        (legacy_kernels_dir(prefix), kernels_dir(prefix)),
    )


def migrate_legacy_layout(prefix: Path) -> list[Path]:
    """Move what 0.1.0 kept beside `conda-meta/envmgr/` into it; the new places moved into.

    Call with the env's lock held. A place already taken keeps what is there, and the old
    folder stays where it is: we never delete bookkeeping we cannot put anywhere. A journal
    that cannot be moved is an error (left behind, its operation would never be undone); the
    kernelspec copies are only copies, which the next kernelspec sync writes again.
    """
    moved = []
    for old, new in _moves(prefix):
        if not os.path.lexists(old) or os.path.lexists(new):
            continue
        try:
            new.parent.mkdir(exist_ok=True)
            os.rename(old, new)
        except FileNotFoundError:
            continue  # gone since we looked
        except OSError as exc:
            if new == kernels_dir(prefix):
                continue
            raise Forbidden(
                f"The environment {prefix} has an unfinished operation of an older envmgr in "
                f"{old}, which cannot be moved to {new} ({exc.strerror or exc}). Fix the "
                "permissions of conda-meta/, then run 'envmgr repair'."
            ) from None
        moved.append(new)
    return moved
