"""Recovery after a kill mid-link leaves no trace of the rolled-back packages, not even the
empty directories their files lived in (an empty `tornado/` imports as a namespace package)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ..helpers import Sandbox, installed, kill_mid_link, on, tree_snapshot
from .test_interruptions import _assert_consistent

KILL_ATTEMPTS = 5


def _site_packages(prefix: Path) -> Path:
    return next(prefix.glob("lib/python3*/site-packages"))


def _empty_dirs(prefix: Path) -> set[str]:
    return {
        os.path.relpath(d, prefix) for d, dirs, files in os.walk(prefix) if not dirs and not files
    }


def _owned_tops(prefix: Path, site: Path) -> set[str]:
    """Top-level site-packages names some record owns a file under; a record the kill tore
    owns nothing (the repair drops it)."""
    site_rel = os.path.relpath(site, prefix) + os.sep
    tops = set()
    for path in (prefix / "conda-meta").glob("*.json"):
        try:
            files = json.loads(path.read_text()).get("files", [])
        except ValueError:
            continue
        tops.update(f[len(site_rel) :].split("/")[0] for f in files if f.startswith(site_rel))
    return tops


def _half_linked_dirs(prefix: Path, before: set[str]) -> list[str]:
    """Package directories in site-packages that appeared without a record owning them."""
    site = _site_packages(prefix)
    owned = _owned_tops(prefix, site)
    return sorted(
        entry.name
        for entry in site.iterdir()
        if entry.is_dir() and entry.name not in before and entry.name not in owned
    )


def _kill_mid_link(sb: Sandbox, channels, name: str) -> list[str]:
    """Kill an install of ipykernel's closure just after its first package is linked, until
    the kill catches packages half-linked (others finished or had not started): their dirs."""
    prefix = sb.envs / name
    before = {p.name for p in _site_packages(prefix).iterdir()}
    for _ in range(KILL_ATTEMPTS):
        kill_mid_link(sb, channels.main_url, "install", name, "ipykernel")
        half = _half_linked_dirs(prefix, before)
        if half:
            return half
        sb.run("repair", "-n", name)
    raise AssertionError(f"no kill of {KILL_ATTEMPTS} caught a package half-linked")


def _import_error(python: Path, module: str) -> str:
    check = subprocess.run(
        [str(python), "-c", f"import {module}; print({module}.__path__)"],
        capture_output=True,
        text=True,
    )
    return check.stderr if check.returncode else f"imported: {check.stdout}"


def test_repair_after_a_kill_mid_link_leaves_no_empty_package_dirs(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "k", "python"))
    prefix = sb.envs / "k"
    empty_before = _empty_dirs(prefix)
    half = _kill_mid_link(sb, channels, "k")

    assert sb.run("repair", "-n", "k", "--json").result()["repaired"] is True
    assert _empty_dirs(prefix) - empty_before == set()
    site = _site_packages(prefix)
    assert [d for d in half if (site / d).exists()] == []
    python = prefix / "bin" / "python"
    modules = {d for d in half if d.isidentifier()} | {"tornado", "zmq"}
    for module in sorted(modules):
        assert f"ModuleNotFoundError: No module named '{module}'" in _import_error(python, module)


def test_repair_never_deletes_through_a_symlink_out_of_the_env(private_sandbox, channels, tmp_path):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "s", "python"))
    prefix = sb.envs / "s"
    before = installed(prefix)
    half = _kill_mid_link(sb, channels, "s")
    # A half-linked package dir swapped for a link to someone else's folder holding the same
    # names: the orphan paths now lead out of the env, and nothing there may be deleted.
    site = _site_packages(prefix)
    outside = tmp_path / "outside" / half[0]
    shutil.move(site / half[0], outside)
    (site / half[0]).symlink_to(outside, target_is_directory=True)
    snap = tree_snapshot(outside)

    sb.run("repair", "-n", "s")
    assert tree_snapshot(outside) == snap
    assert installed(prefix) == before
    # Once the link is gone, nothing else is left behind.
    (site / half[0]).unlink()
    _assert_consistent(prefix, before)
