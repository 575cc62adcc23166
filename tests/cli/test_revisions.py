"""Revisions from conda-meta/history, and rollbacks from the cache without a network."""

from __future__ import annotations

import shutil

from jupyter_envmgr.channels import serve_channel

from ..helpers import installed, on, tree_snapshot


def test_rollback_restores_the_exact_previous_set_offline(private_sandbox, channels):
    sb = private_sandbox
    with serve_channel(channels.main) as url:
        common = ["-n", "rb", "-c", url, "--override-channels", "-y"]
        sb.run("create", *common, "python", "alpha=1.0", "delta=1.0")
        rev0 = installed(sb.envs / "rb")
        sb.run("install", *common, "alpha=2.0", "beta=2.0", "delta=1.1")
    # The channel server is gone: the rollback must come from the cache and our records.
    revisions = sb.run("list", "-n", "rb", "--revisions", "--json").result()["revisions"]
    assert [r["number"] for r in revisions] == [0, 1]
    assert any("beta-2.0" in d for d in revisions[1]["added"])
    sb.run("install", "-n", "rb", "--revision", "0", "-y")
    assert installed(sb.envs / "rb") == rev0
    text = sb.run("list", "-n", "rb", "--revisions").stdout
    assert "(rev 2)" in text


def test_unknown_revision_is_refused(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "r", "delta"))
    snap = tree_snapshot(sandbox.envs)
    res = sandbox.run("install", "-n", "r", "--revision", "7", "-y", check=False)
    assert res.returncode == 1 and "Revision 7 does not exist" in res.stderr
    assert tree_snapshot(sandbox.envs) == snap


def test_rollback_whose_packages_are_gone_everywhere_fails_cleanly(private_sandbox, channels):
    sb = private_sandbox
    with serve_channel(channels.main) as url:
        common = ["-n", "gone", "-c", url, "--override-channels", "-y"]
        sb.run("create", *common, "delta=1.0")
        sb.run("install", *common, "delta=1.1")
    for entry in sb.pkgs.glob("delta-1.0-*"):
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    before = installed(sb.envs / "gone")
    res = sb.run("install", "-n", "gone", "--revision", "0", "-y", check=False)
    assert res.returncode == 1
    # The packages are fetched before anything is unlinked: the env was never touched.
    assert "Downloading 'delta'" in res.stderr and "Nothing was changed" in res.stderr
    assert installed(sb.envs / "gone") == before


def test_a_rollback_forgets_what_was_asked_for_after_that_revision(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "fh", "delta=1.0"))
    sandbox.run("install", *on(channels.main_url, "fh", "gamma"))
    sandbox.run("install", "-n", "fh", "--revision", "0", "-y")
    exported = sandbox.run("env", "export", "-n", "fh", "--from-history").stdout
    assert "delta=1.0" in exported and "gamma" not in exported, exported
    # A later solve does not bring gamma back.
    plan = sandbox.run("install", *on(channels.main_url, "fh", "alpha"), "--dry-run", "--json")
    added = {p["name"] for p in plan.result()["plan"]["add"]}
    assert "gamma" not in added and "alpha" in added, added
