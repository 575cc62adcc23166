"""Failures, kills, cancels and concurrent writers leave a consistent environment."""

from __future__ import annotations

import os
import signal

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.engine.bookkeeping import journal_dir

from ..helpers import (
    files_on_disk,
    installed,
    kill_mid_link,
    on,
    owned_files,
    pending_journals,
    wait_for_event,
)


def _assert_consistent(prefix, expected):
    assert installed(prefix) == expected
    assert not pending_journals(prefix)
    # No file left behind by a half-linked package: everything on disk is owned by a record.
    stray = files_on_disk(prefix) - owned_files(prefix)
    assert not stray, sorted(stray)[:10]


def test_sigkill_during_linking_is_undone_by_the_next_command(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "k", "delta"))
    prefix = sb.envs / "k"
    before = installed(prefix)
    kill_mid_link(sb, channels.main_url, "install", "k", "python", "ipykernel")
    assert journal_dir(prefix).exists(), "killed before the journal?"
    repaired = sb.run("repair", "-n", "k", "--json").result()
    assert repaired["repaired"] is True
    _assert_consistent(prefix, before)
    # The env is usable afterwards: the same install now succeeds.
    sb.run("install", *on(channels.main_url, "k", "python"))
    assert "python" in installed(prefix)


def test_next_install_recovers_a_killed_one_on_lock_acquisition(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "k2", "delta=1.0"))
    prefix = sb.envs / "k2"
    kill_mid_link(sb, channels.main_url, "install", "k2", "python", "ipykernel")
    res = sb.run("install", *on(channels.main_url, "k2", "delta=1.1", json=True))
    assert any(e["event"] == "restore" for e in res.events())
    assert installed(prefix)["delta"][0] == "1.1"
    assert "python" not in installed(prefix)


def test_connection_dropped_mid_download_leaves_env_as_it_was(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "d", "delta=1.0"))
    prefix = sb.envs / "d"
    before = installed(prefix)
    with serve_channel(channels.main, drop_after=200_000) as url:
        res = sb.run(
            "install",
            *on(url, "d", "python", "delta=1.1"),
            check=False,
        )
        assert res.returncode == 1, res
        # Packages arrive before anything is linked: the env was never touched.
        assert "Downloading 'python'" in res.stderr and "Nothing was changed" in res.stderr
        _assert_consistent(prefix, before)
        # A failed create leaves no env behind.
        res = sb.run("create", *on(url, "d2", "python"), check=False)
        assert res.returncode == 1
        assert not (sb.envs / "d2").exists()
        assert str(sb.envs / "d2") not in (sb.home / ".conda" / "environments.txt").read_text()


def test_sigterm_during_slow_download_cancels_and_restores(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "s", "delta=1.0"))
    prefix = sb.envs / "s"
    before = installed(prefix)
    with serve_channel(channels.main, chunk_delay=0.05, chunk_size=16384) as url:
        proc = sb.popen("install", *on(url, "s", "python", json=True))
        wait_for_event(proc, "download-progress")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert '"reason": "cancelled"' in out
    _assert_consistent(prefix, before)


def test_two_installs_into_one_env_take_turns(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "two", "python"))
    prefix = sb.envs / "two"
    with serve_channel(channels.main, chunk_delay=0.02, chunk_size=16384) as url:
        first = sb.popen("install", *on(url, "two", "ipykernel", json=True))
        wait_for_event(first, "solve-done")
        second = sb.popen("install", *on(channels.main_url, "two", "delta", json=True))
        wait = wait_for_event(second, "lock-wait")
        assert wait["holder"]["pid"] == first.pid
        out1, err1 = first.communicate(timeout=300)
        out2, err2 = second.communicate(timeout=300)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    names = set(installed(prefix))
    assert {"python", "ipykernel", "delta"} <= names
    history = (prefix / "conda-meta" / "history").read_text()
    assert history.count("==>") == 3
    assert files_on_disk(prefix) - owned_files(prefix) == set()


def test_a_held_lock_times_out_with_a_message_naming_the_holder(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "lk", "python"))
    with serve_channel(channels.main, chunk_delay=0.05, chunk_size=16384) as url:
        first = sb.popen("install", *on(url, "lk", "ipykernel", json=True))
        wait_for_event(first, "solve-done")
        env = dict(sb.env, ENVMGR_LOCK_TIMEOUT="0.5")
        import subprocess
        import sys

        res = subprocess.run(
            [
                sys.executable,
                "-m",
                "jupyter_envmgr",
                "install",
                "-n",
                "lk",
                "-c",
                channels.main_url,
                "--override-channels",
                "delta",
                "-y",
            ],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
        )
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert res.returncode == 1
    assert "is locked by process" in res.stderr and str(first.pid) in res.stderr
    assert "delta" not in installed(sb.envs / "lk")


def test_env_list_shows_envs_from_environments_txt(sandbox, channels, tmp_path):
    sandbox.run("create", *on(channels.main_url, "named", "delta"))
    elsewhere = tmp_path / "elsewhere" / "proj-env"
    sandbox.run(
        "create",
        "-p",
        str(elsewhere),
        "-c",
        channels.main_url,
        "--override-channels",
        "delta",
        "-y",
    )
    # An env made by another tool (conda/micromamba) that only environments.txt knows about.
    foreign = tmp_path / "conda-made"
    (foreign / "conda-meta").mkdir(parents=True)
    with open(sandbox.home / ".conda" / "environments.txt", "a") as fh:
        fh.write(f"{foreign}\n{tmp_path / 'deleted-env'}\n")
    envs = sandbox.run("env", "list", "--json").result()["environments"]
    prefixes = {e["prefix"]: e["name"] for e in envs}
    assert prefixes[str(sandbox.envs / "named")] == "named"
    assert str(elsewhere) in prefixes and str(foreign) in prefixes
    assert str(tmp_path / "deleted-env") not in prefixes
    text = sandbox.run("env", "list").stdout
    assert "named" in text and str(foreign) in text


def test_env_remove_deletes_and_unregisters(sandbox, channels, tmp_path):
    target = tmp_path / "gone"
    sandbox.run(
        "create", "-p", str(target), "-c", channels.main_url, "--override-channels", "delta", "-y"
    )
    sandbox.run("env", "remove", "-p", str(target), "-y")
    assert not target.exists()
    assert str(target) not in (sandbox.home / ".conda" / "environments.txt").read_text()
    assert os.path.isdir(sandbox.pkgs)  # the cache stays


def test_recovery_survives_a_record_cut_in_half_by_the_kill(private_sandbox, channels):
    sb = private_sandbox
    sb.run("create", *on(channels.main_url, "half", "delta=1.0"))
    prefix = sb.envs / "half"
    before = installed(prefix)
    kill_mid_link(sb, channels.main_url, "install", "half", "python", "ipykernel")
    # As if the kill had landed while rattler wrote a record: a new one and an old one, torn.
    new_record = next(p for p in (prefix / "conda-meta").glob("*.json") if "delta" not in p.name)
    new_record.write_text(new_record.read_text()[:100])
    old_record = next((prefix / "conda-meta").glob("delta-*.json"))
    old_record.write_text("{")
    sb.run("repair", "-n", "half")
    _assert_consistent(prefix, before)
