"""After `repair`, the records tell the truth: every package conda-meta/ lists has all its files,
whatever moment a SIGKILL cut an operation at (rattler removes a package's record last, so a
kill in the middle of an unlink leaves a record whose files are partly gone). A repair says what
it linked again, downloads only from allowed channels, and never writes into a read-only env."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_envmgr.engine.bookkeeping import bookkeeping_dir, journal_dir, lock_owner_file
from jupyter_envmgr.engine.policy import Policy

from ..helpers import (
    Sandbox,
    files_on_disk,
    installed,
    kill_mid_link,
    on,
    owned_files,
    pending_journals,
    versions,
)
from .test_change_env import _apply_plan
from .test_full_disk import _mount_or_fail
from .test_policy_kept import _as_kernel, _refused

# Modules of the packages these tests install, and the package each one belongs to.
MODULES = {
    "alpha": "alpha",
    "beta": "beta",
    "tornado": "tornado",
    "zmq": "pyzmq",
    "traitlets": "traitlets",
    "jupyter_client": "jupyter-client",
    "ipykernel": "ipykernel",
}
# Kill points: after the Nth package of the transaction was linked or unlinked (0: as soon as
# the transaction starts). rattler works on several packages at once, so each kill lands with
# other packages part-way through.
KILL_AFTER = {
    "remove": (0, 1, 4, 12),
    "install": (0, 2, 10),
    "update": (0, 1),
    "rollback": (0, 3, 12),
}


def _missing_files(prefix: Path) -> dict[str, list[str]]:
    """Per package whose record is in conda-meta/: the files it lists that are not in the
    prefix as recorded (missing, or a regular file of another size; compiled .pyc files may
    be missing)."""
    broken = {}
    for path in sorted((prefix / "conda-meta").glob("*.json")):
        data = json.loads(path.read_text())
        missing = []
        for entry in data["paths_data"]["paths"]:
            target = prefix / entry["_path"]
            if entry["path_type"] == "pyc_file":
                continue
            if not os.path.lexists(target):
                missing.append(entry["_path"])
            elif entry["path_type"] == "hardlink" and not target.is_symlink():
                if target.stat().st_size != entry["size_in_bytes"]:
                    missing.append(entry["_path"] + " (size)")
        if missing:
            broken[data["name"]] = missing
    return broken


def _import_problems(prefix: Path, names: list[str]) -> str:
    """Import each module with the env's Python: one that is missing, or comes back as an
    empty namespace package (no __file__), is a problem. No .pyc is written (it would count
    as a stray file)."""
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    try:\n"
        "        module = importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        print(name, 'fails:', exc)\n"
        "    else:\n"
        "        if getattr(module, '__file__', None) is None:\n"
        "            print(name, 'is an empty namespace package')\n"
    )
    env = {"PATH": os.environ["PATH"], "PYTHONDONTWRITEBYTECODE": "1", "HOME": str(prefix)}
    res = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", script, *names],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return res.stdout + res.stderr


def _assert_truthful(prefix: Path, expected: dict[str, str]) -> None:
    assert versions(prefix) == expected
    assert not pending_journals(prefix)
    assert _missing_files(prefix) == {}
    stray = files_on_disk(prefix) - owned_files(prefix)
    assert not stray, sorted(stray)[:10]
    modules = [m for m, pkg in MODULES.items() if pkg in expected]
    assert _import_problems(prefix, modules) == ""


def _kill_after(sb: Sandbox, args: list[str], packages: int) -> None:
    """Run `envmgr ARGS --json` and SIGKILL it once `packages` packages were linked or
    unlinked (0: when the transaction starts), or when it ends first."""
    proc = sb.popen(*args, "--json")
    done = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line) if line.startswith("{") else {}
        kind = event.get("event")
        if kind in ("link", "unlink"):
            done += 1
        if (kind == "transaction-start" and packages == 0) or (packages and done >= packages):
            break
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def _revision(prefix: Path) -> int:
    return (prefix / "conda-meta" / "history").read_text().count("==>") - 1


def _kill_and_repair(sb: Sandbox, prefix: Path, kind: str, args: list[str]) -> set[str]:
    """Kill the command at each kill point of its kind and repair: the env ends as it was
    before the command, or as the command leaves it if the kill came after it was done. The
    names of the packages the kills left half-removed are returned."""
    before, revision = versions(prefix), _revision(prefix)
    plan = sb.run(*args, "--dry-run", "--json").result()["plan"]
    after = _apply_plan(before, plan)
    assert after != before
    half_removed: set[str] = set()
    for packages in KILL_AFTER[kind]:
        _kill_after(sb, [*args, "-y"], packages)
        damaged = set(_missing_files(prefix))
        repaired = sb.run("repair", "-p", str(prefix), "--json").result()
        if repaired["repaired"]:
            # Every package the kill left with missing files was linked again.
            assert damaged <= set(repaired["relinked"]), (kind, packages, damaged, repaired)
            _assert_truthful(prefix, before)
        else:  # killed after the journal was dropped: the command had done its work
            assert not damaged
            _assert_truthful(prefix, after)
            sb.run("install", "-p", str(prefix), "--revision", str(revision), "-y")
            assert versions(prefix) == before
        half_removed |= damaged & set(before)
    return half_removed


def test_repair_after_kills_mid_transaction_leaves_only_truthful_records(sandbox, channels):
    sb = sandbox
    main = ["-c", channels.main_url, "--override-channels"]
    sb.run("create", *on(channels.main_url, "k", "python", "alpha=1.0", "beta=1.0", "delta=1.0"))
    prefix = sb.envs / "k"
    half_removed = set()

    # install: ipykernel's closure and a package of 2000 small files.
    install = ["install", "-n", "k", *main, "ipykernel", "manyfiles"]
    half_removed |= _kill_and_repair(sb, prefix, "install", install)
    sb.run(*install, "-y")
    big = versions(prefix)

    # remove: tornado takes ipykernel and its closure along (30 packages), and more.
    remove = ["remove", "-n", "k", "tornado", "manyfiles", "beta", "alpha"]
    half_removed |= _kill_and_repair(sb, prefix, "remove", remove)

    # update: packages replaced by other versions (unlinked, then linked).
    update = ["update", "-n", "k", *main, "alpha", "beta", "delta"]
    half_removed |= _kill_and_repair(sb, prefix, "update", update)

    # rollback to the first revision: what the install added is unlinked.
    rollback = ["install", "-n", "k", "--revision", "0"]
    half_removed |= _kill_and_repair(sb, prefix, "rollback", rollback)

    _assert_truthful(prefix, big)
    # The kills did catch packages part-way through being removed: what this test is about.
    assert half_removed, "no kill caught a package half-removed"


def _half_removed(sb: Sandbox, channels) -> Path:
    """An env with a journal (an install killed mid-link) where alpha is as a kill during
    its unlink leaves it: its record in place, its module file gone."""
    sb.run("create", *on(channels.main_url, "h", "python", "alpha=1.0", "delta=1.0"))
    prefix = sb.envs / "h"
    kill_mid_link(sb, channels.main_url, "install", "h", "ipykernel")
    assert journal_dir(prefix).exists()
    module = next(prefix.glob("lib/python3*/site-packages/alpha/__init__.py"))
    module.unlink()
    assert _missing_files(prefix).keys() == {"alpha"}
    return prefix


@pytest.fixture
def half_removed(sandbox, channels) -> Path:
    return _half_removed(sandbox, channels)


def test_repair_links_a_half_removed_package_again_and_says_so(sandbox, half_removed):
    sb, prefix = sandbox, half_removed
    text = sb.run("repair", "-n", "h")
    assert "Restored" in text.stdout and "Linked again: alpha." in text.stdout, text
    assert _missing_files(prefix) == {}
    assert "ipykernel" not in installed(prefix)
    assert _import_problems(prefix, ["alpha"]) == ""


def test_repair_json_names_the_packages_it_linked_again(sandbox, half_removed):
    sb = sandbox
    res = sb.run("repair", "-n", "h", "--json")
    assert res.result()["relinked"] == ["alpha"]
    restored = [e for e in res.events() if e["event"] == "restored"]
    assert restored and restored[0]["relinked"] == ["alpha"]
    again = sb.run("repair", "-n", "h", "--json").result()
    assert again["repaired"] is False and again["relinked"] == []


def test_a_restore_that_must_download_from_a_forbidden_channel_is_refused(
    private_sandbox, channels
):
    sb = private_sandbox  # its own package cache: alpha is taken out of it
    prefix = _half_removed(sb, channels)
    # alpha must come from its channel again: gone from the package cache.
    for entry in sb.pkgs.glob("alpha-1.0-pyh_envmgr_0*"):
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    kernel = _as_kernel(sb, Policy(allowed_channels=(channels.extra_url,)))
    killed = installed(prefix)
    res = kernel.run("repair", "-n", "h", check=False)
    _refused(res, "alpha-1.0-pyh_envmgr_0", f"{channels.main_url}/noarch/", "not allowed")
    assert "with its journal" in res.stderr and f"'envmgr repair -p {prefix}' again" in res.stderr
    # Nothing was fetched, nothing restored: the journal waits for a repair that may download.
    assert list(sb.pkgs.glob("alpha-1.0-pyh_envmgr_0*")) == []
    assert journal_dir(prefix).exists()
    assert installed(prefix) == killed
    as_json = kernel.run("repair", "-n", "h", "--json", check=False).result()
    assert as_json["event"] == "error" and as_json["reason"] == "restore-forbidden"
    # Where the channel is allowed, the same repair finishes.
    repaired = sb.run("repair", "-n", "h", "--json").result()
    assert repaired["relinked"] == ["alpha"]
    assert _missing_files(prefix) == {} and not pending_journals(prefix)
    assert "ipykernel" not in installed(prefix)


def _bookkeeping_state(prefix: Path) -> dict[str, tuple[int, int]]:
    """Every path under conda-meta/envmgr/ (the lock and its owner file included)."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(bookkeeping_dir(prefix)):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            state[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns)
    return state


def test_repair_of_a_read_only_env_is_refused_before_writing_anything(sandbox, half_removed):
    sb, prefix = sandbox, half_removed
    state = _bookkeeping_state(prefix)
    kernel = _as_kernel(sb, Policy(read_only_envs=("h",)))
    res = kernel.run("repair", "-n", "h", check=False)
    _refused(res, "read-only", "administrator")
    # The journal, the lock and the killed process's owner file are as the kill left them.
    assert _bookkeeping_state(prefix) == state
    # With nothing to repair, still refused, and no owner file is written.
    sb.run("repair", "-n", "h")
    state = _bookkeeping_state(prefix)
    assert not lock_owner_file(prefix).exists()
    res = kernel.run("repair", "-n", "h", "--json", check=False).result()
    assert res["event"] == "error" and res["reason"] == "forbidden"
    assert "read-only" in res["message"]
    assert _bookkeeping_state(prefix) == state
    assert not lock_owner_file(prefix).exists()


@pytest.fixture
def read_only_mount(sandbox, channels, tmp_path) -> Iterator[Path]:
    """An env seen through a read-only bind mount (what root cannot write either)."""
    sandbox.run("create", *on(channels.main_url, "rofs", "delta=1.0"))
    view = tmp_path / "view"
    view.mkdir()
    _mount_or_fail(["--bind", str(sandbox.envs / "rofs"), str(view)], "a bind mount")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", "--lazy", str(view)], check=True)


def test_repair_on_a_read_only_filesystem_is_refused_with_a_reason(sandbox, read_only_mount):
    res = sandbox.run("repair", "-p", str(read_only_mount), check=False)
    _refused(res, "read-only filesystem", "administrator", f"repair -p {read_only_mount}")
