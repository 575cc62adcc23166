"""Our bookkeeping lives in one folder, conda-meta/envmgr/, and 0.1.0's layout moves into it."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from jupyter_envmgr.engine import bookkeeping, cache, transaction
from jupyter_envmgr.engine.bookkeeping import (
    journal_dir,
    journal_staging_dir,
    kernels_dir,
    legacy_journal_dir,
    legacy_journal_staging_dir,
    legacy_kernels_dir,
    migrate_legacy_layout,
)
from jupyter_envmgr.engine.errors import Forbidden
from jupyter_envmgr.engine.in_use import packages_in_use
from jupyter_envmgr.engine.lock import prefix_lock
from jupyter_envmgr.engine.registry import Env
from jupyter_envmgr.engine.settings import load_settings

from ..cli.test_interruptions import _assert_consistent
from ..helpers import installed, kill_mid_link, on, pending_journals, tree_snapshot

PATHS = (
    bookkeeping.lock_file,
    bookkeeping.lock_owner_file,
    journal_dir,
    journal_staging_dir,
    bookkeeping.records_archive_dir,
    kernels_dir,
)
LEGACY = (legacy_journal_dir, legacy_journal_staging_dir, legacy_kernels_dir)


def _prefix(tmp_path: Path) -> Path:
    prefix = tmp_path / "env"
    (prefix / "conda-meta").mkdir(parents=True)
    return prefix


def _fill(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True)
    (folder / name).write_text(text)


def test_every_path_is_in_one_folder_and_every_name_in_conda_meta_starts_with_envmgr(tmp_path):
    prefix = tmp_path / "env"
    ours = prefix / "conda-meta" / "envmgr"
    assert bookkeeping.bookkeeping_dir(prefix) == ours
    assert all(place(prefix).parent == ours for place in PATHS)
    assert len({place(prefix) for place in PATHS}) == len(PATHS)
    # What tells a folder about to become an env (or a killed create) from a real env.
    assert all(place(prefix).parent == prefix / "conda-meta" for place in LEGACY)
    assert all(place(prefix).name.startswith("envmgr") for place in LEGACY)


def test_migration_moves_the_010_folders_in_and_never_overwrites(tmp_path):
    prefix = _prefix(tmp_path)
    _fill(legacy_journal_dir(prefix), "journal.json", '{"operation": "install"}')
    _fill(legacy_journal_staging_dir(prefix), "journal.json", "{}")
    _fill(legacy_kernels_dir(prefix) / "k", "kernel.json", "{}")
    assert migrate_legacy_layout(prefix) == [
        journal_dir(prefix),
        journal_staging_dir(prefix),
        kernels_dir(prefix),
    ]
    assert sorted(p.name for p in (prefix / "conda-meta").iterdir()) == ["envmgr"]
    assert transaction.read_journal(prefix) == {"operation": "install"}
    assert (kernels_dir(prefix) / "k" / "kernel.json").is_file()
    assert migrate_legacy_layout(prefix) == []  # nothing left to move

    # A place already taken keeps what it holds; the old folder stays where it is.
    _fill(legacy_kernels_dir(prefix) / "old", "kernel.json", "{}")
    assert migrate_legacy_layout(prefix) == []
    assert (legacy_kernels_dir(prefix) / "old").is_dir()
    assert not (kernels_dir(prefix) / "old").exists()


def test_a_journal_that_cannot_be_moved_is_an_error(tmp_path, monkeypatch):
    prefix = _prefix(tmp_path)
    _fill(legacy_journal_dir(prefix), "journal.json", "{}")
    _fill(legacy_kernels_dir(prefix) / "k", "kernel.json", "{}")
    real_rename = os.rename

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied", str(src))

    monkeypatch.setattr(os, "rename", refuse)
    with pytest.raises(Forbidden, match="envmgr repair"):
        migrate_legacy_layout(prefix)
    monkeypatch.setattr(os, "rename", real_rename)
    assert legacy_journal_dir(prefix).is_dir()


def test_taking_the_lock_migrates(tmp_path):
    prefix = _prefix(tmp_path)
    _fill(legacy_journal_dir(prefix), "journal.json", "{}")

    async def locked() -> list[str]:
        async with prefix_lock(prefix, timeout=1):
            return sorted(p.name for p in bookkeeping.bookkeeping_dir(prefix).iterdir())

    assert asyncio.run(locked()) == ["journal", "lock", "owner.json"]
    assert not legacy_journal_dir(prefix).exists()


def test_readers_without_the_lock_see_a_010_journal_and_move_nothing(tmp_path):
    prefix = _prefix(tmp_path)
    pkg = tmp_path / "pkgs" / "delta-1.1-h_0"
    pkg.mkdir(parents=True)
    _fill(
        legacy_journal_dir(prefix) / "records",
        "alpha-1.0-h_0.json",
        json.dumps({"name": "alpha", "version": "1.0", "build": "h_0"}),
    )
    (legacy_journal_dir(prefix) / "journal.json").write_text(json.dumps({"linking": [str(pkg)]}))
    before = tree_snapshot(prefix)
    assert transaction.linking_packages(prefix) == [str(pkg)]
    assert [p.name for p in transaction.saved_record_files(prefix)] == ["alpha-1.0-h_0.json"]
    users = packages_in_use([Env(prefix, "env")])
    assert users.envs_using((pkg.stat().st_dev, pkg.stat().st_ino), "x") == {str(prefix)}
    assert users.envs_using(None, "alpha-1.0-h_0") == {str(prefix)}
    assert tree_snapshot(prefix) == before


def test_snapshots_leave_out_the_lock_but_see_journal_and_kernel_copies(tmp_path):
    prefix = _prefix(tmp_path)
    bookkeeping.bookkeeping_dir(prefix).mkdir()
    before = tree_snapshot(prefix)
    bookkeeping.lock_file(prefix).write_text("")
    bookkeeping.lock_owner_file(prefix).write_text("{}")
    _fill(bookkeeping.records_archive_dir(prefix), "a-1-0.json", "{}")
    assert tree_snapshot(prefix) == before
    for place in (journal_dir, kernels_dir):
        place(prefix).mkdir()
        assert tree_snapshot(prefix) != before
        place(prefix).rmdir()


def test_a_pending_010_journal_is_recovered(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "old", "delta"))
    prefix = sb.envs / "old"
    before = installed(prefix)
    kill_mid_link(sb, channels.main_url, "install", "old", "python", "ipykernel")
    assert journal_dir(prefix).exists(), "killed before the journal?"
    # What a process of 0.1.0 killed there would have left.
    os.rename(journal_dir(prefix), legacy_journal_dir(prefix))
    if journal_staging_dir(prefix).exists():
        os.rename(journal_staging_dir(prefix), legacy_journal_staging_dir(prefix))
    linking = json.loads((legacy_journal_dir(prefix) / "journal.json").read_text())["linking"]

    # Clean takes no env lock: it moves nothing, and keeps what the old journal is linking.
    untouched = tree_snapshot(prefix)
    plan = cache.plan_clean(load_settings(sb.env), ["packages"])
    kept = {str(k.path): k for k in plan.kept}
    extracted = [p for p in linking if Path(p, "info").is_dir()]
    assert extracted, "nothing extracted before the kill?"
    assert all(kept[p].reason == "in-use" and kept[p].envs == (str(prefix),) for p in extracted)
    assert tree_snapshot(prefix) == untouched

    repaired = sb.run("repair", "-n", "old", "--json").result()
    assert repaired["repaired"] is True
    _assert_consistent(prefix, before)
    assert not pending_journals(prefix)


def test_kernel_copies_of_010_move_in_and_the_links_follow(sandbox, channels, tmp_path):
    sb = sandbox
    data_dir = tmp_path / "data"
    sb.env = {k: v for k, v in sb.env.items() if not k.startswith("JUPYTER")}
    sb.env["JUPYTER_DATA_DIR"] = str(data_dir)
    sb.run("create", *on(channels.main_url, "kk", "python", "ipykernel"))
    prefix = sb.envs / "kk"
    links = [p for p in (data_dir / "kernels").iterdir() if p.is_symlink()]
    assert links and all(Path(os.readlink(p)).parent == kernels_dir(prefix) for p in links)

    def back_to_010() -> None:
        """The layout of 0.1.0: copies beside conda-meta/envmgr/, links leading there."""
        os.rename(kernels_dir(prefix), legacy_kernels_dir(prefix))
        for link in links:
            link.unlink()
            link.symlink_to(legacy_kernels_dir(prefix) / link.name, target_is_directory=True)

    def links_lead_to_the_new_place() -> None:
        for link in links:
            assert Path(os.readlink(link)) == kernels_dir(prefix) / link.name
            assert (link / "kernel.json").is_file()
        assert not legacy_kernels_dir(prefix).exists()

    # Taking the env's lock moves the copies in; the next sync relinks.
    back_to_010()
    sb.run("install", *on(channels.main_url, "kk", "python"), "--dry-run")
    assert not legacy_kernels_dir(prefix).exists()
    assert {p.name for p in kernels_dir(prefix).iterdir()} == {p.name for p in links}
    sb.run("kernels", "--sync")
    links_lead_to_the_new_place()

    # A sync before any lock writes the copies anew, relinks, and drops the old ones.
    back_to_010()
    sb.run("kernels", "--sync")
    links_lead_to_the_new_place()
