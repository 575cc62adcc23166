"""A full disk (ENOSPC) while an operation writes its journal is one error line: nothing in the
env changes, and no half-written journal is left for the next command to "restore". The disk
is a real one: a small tmpfs the test mounts and fills (the suite runs as root)."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_envmgr.engine.bookkeeping import records_archive_dir

from ..helpers import Sandbox, installed, pending_journals, tree_snapshot


def _mount_or_fail(args: list[str], what: str) -> None:
    """Mount, or stop the test: failed under CI (tests never skip there), skipped elsewhere."""
    res = subprocess.run(["mount", *args], capture_output=True, text=True)
    if res.returncode != 0:
        message = f"cannot mount {what} ({res.stderr.strip()}); this test needs root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of its own, unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_or_fail(["-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(disk)], "a tmpfs")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def _fill(disk: Path) -> Path:
    """Write into a file on `disk` until not one more byte fits; the file is returned."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        for chunk in (1 << 20, 1 << 12, 1):
            try:
                while True:
                    out.write(b"\0" * chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
    return filler


def _fails_with_no_space(sb: Sandbox, prefix: Path, *args: str) -> None:
    snap, before = tree_snapshot(prefix), installed(prefix)
    res = sb.run(*args, "-p", str(prefix), "-y", check=False)
    assert res.returncode == 1, res
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: No space left on device while writing the journal of {prefix}; nothing was "
        "changed. Free space and try again."
    ], res
    assert "Traceback" not in res.stderr, res
    assert tree_snapshot(prefix) == snap
    assert installed(prefix) == before
    assert pending_journals(prefix) == []


def test_a_full_disk_while_writing_the_journal_changes_nothing(sandbox, channels, small_disk):
    sb = sandbox
    prefix = small_disk / "env"
    main = ["-c", channels.main_url, "--override-channels"]
    sb.run("create", "-p", str(prefix), *main, "delta=1.0", "prefixpkg", "activate-pkg", "-y")
    # As for an env made by conda: no records archived yet, so the install writes them first.
    shutil.rmtree(records_archive_dir(prefix))
    filler = _fill(small_disk)

    _fails_with_no_space(sb, prefix, "install", *main, "delta=1.1")
    _fails_with_no_space(sb, prefix, "remove", "prefixpkg", "activate-pkg")
    as_json = sb.run("install", "-p", str(prefix), *main, "delta=1.1", "-y", "--json", check=False)
    assert as_json.result()["reason"] == "no-space"
    assert pending_journals(prefix) == []

    # Space freed: the same commands work, and neither finds anything to restore first.
    filler.unlink()
    res = sb.run("install", "-p", str(prefix), *main, "delta=1.1", "-y", "--json")
    assert not [e for e in res.events() if e["event"] in ("restore", "restored")]
    sb.run("remove", "-p", str(prefix), "prefixpkg", "-y")
    assert {n: v[0] for n, v in installed(prefix).items()} == {
        "delta": "1.1",
        "activate-pkg": "1.0",
    }
