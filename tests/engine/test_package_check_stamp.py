"""A package checked once is not read again until it changes, and any change that could make it
link something else is checked again in full (engine/package_check.py's stamp)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from jupyter_envmgr.engine import package_check, stamps
from jupyter_envmgr.engine.errors import UnsafePackage
from jupyter_envmgr.engine.package_check import check_extracted

# The file system's clock ticks in a few ms here; the tests wait past a shortened racy window
# instead of the real 2 s (what the stamp trusts is the same: a change time older than it).
TICK_NS = 30_000_000


@pytest.fixture(autouse=True)
def short_racy_window(monkeypatch):
    monkeypatch.setattr(stamps, "RACY_NS", TICK_NS)


def _settle() -> None:
    time.sleep(2 * TICK_NS / 1e9)


def _package(root: Path) -> Path:
    pkg = root / "pkg-1.0-0"
    (pkg / "info").mkdir(parents=True)
    (pkg / "lib" / "deep" / "er").mkdir(parents=True)
    (pkg / "lib" / "deep" / "er" / "f.txt").write_text("x")
    os.symlink("er/f.txt", pkg / "lib" / "deep" / "link")
    paths = [{"_path": "lib/deep/er/f.txt"}, {"_path": "lib/deep/link"}]
    (pkg / "info" / "paths.json").write_text(json.dumps({"paths": paths}))
    _settle()
    return pkg


def test_a_checked_package_is_stamped_and_not_read_again(tmp_path, monkeypatch):
    pkg = _package(tmp_path)
    assert check_extracted(pkg, "pkg") == [("lib/deep/link", "er/f.txt")]
    assert (pkg / "info" / "envmgr-checked.json").is_file()

    def no_reading(*args, **kwargs):
        raise AssertionError("a stamped, unchanged package was read again")

    monkeypatch.setattr(package_check, "_listed_paths", no_reading)
    monkeypatch.setattr(package_check, "_symlinks", no_reading)
    assert check_extracted(pkg, "pkg") == [("lib/deep/link", "er/f.txt")]


def test_a_symlink_planted_deep_in_a_stamped_package_is_refused(tmp_path):
    pkg = _package(tmp_path)
    check_extracted(pkg, "pkg")
    assert (pkg / "info" / "envmgr-checked.json").is_file()
    _settle()
    os.symlink("../../../../../etc/passwd", pkg / "lib" / "deep" / "er" / "evil")
    with pytest.raises(UnsafePackage, match="evil"):
        check_extracted(pkg, "pkg")


def test_a_rewritten_paths_json_is_checked_again(tmp_path):
    pkg = _package(tmp_path)
    check_extracted(pkg, "pkg")
    _settle()
    (pkg / "info" / "paths.json").write_text(json.dumps({"paths": [{"_path": "../escape"}]}))
    with pytest.raises(UnsafePackage, match="escape"):
        check_extracted(pkg, "pkg")


def test_a_package_changed_within_the_racy_window_is_not_stamped(tmp_path):
    pkg = _package(tmp_path)
    (pkg / "lib" / "new.txt").write_text("y")  # lib/ changed just now
    check_extracted(pkg, "pkg")
    assert not (pkg / "info" / "envmgr-checked.json").exists()


def test_a_stamp_of_other_rules_is_not_trusted(tmp_path, monkeypatch):
    pkg = _package(tmp_path)
    check_extracted(pkg, "pkg")
    monkeypatch.setattr(package_check, "_STAMP_VERSION", package_check._STAMP_VERSION + 1)
    read = []
    listed = package_check._listed_paths
    monkeypatch.setattr(package_check, "_listed_paths", lambda *a: read.append(1) or listed(*a))
    assert check_extracted(pkg, "pkg") == [("lib/deep/link", "er/f.txt")]
    assert read  # checked in full
