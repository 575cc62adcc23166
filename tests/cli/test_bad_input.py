"""Bad input: one clear error, exit code != 0, and nothing on disk changes."""

from __future__ import annotations

import pytest

from ..helpers import on, tree_snapshot


@pytest.fixture
def existing(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "here", "delta=1.0"))
    return sandbox


def _unchanged(sandbox, args, expect):
    # The repodata cache may be written by a solve; everything else must stay as it was.
    skip = (str(sandbox.pkgs / "cache"),)
    snap = tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs, skip=skip)
    res = sandbox.run(*args, check=False)
    assert res.returncode != 0, res
    assert res.stderr.count("error:") == 1, res
    assert expect.lower() in res.stderr.lower(), res
    assert "Traceback" not in res.stderr, res
    assert tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs, skip=skip) == snap


@pytest.mark.parametrize(
    "name, expect",
    [
        ("../x", "not a valid environment name"),
        ("/abs", "not a valid environment name"),
        ("", "empty"),
        ("has space", "not a valid environment name"),
        ("tab\tname", "not a valid environment name"),
        ("ünï", "not a valid environment name"),
        ("base", "reserved"),
        ("here", "already exists"),
        ("--dash", "not a valid environment name"),
    ],
)
def test_bad_env_names_are_refused(existing, channels, name, expect):
    _unchanged(
        existing, ["create", f"--name={name}", "-c", channels.main_url, "delta", "-y"], expect
    )


@pytest.mark.parametrize(
    "spec, expect",
    [
        ("delta >=>= 1", "could not read package spec"),
        ("", "empty"),
        ("delta;;x", "could not read package spec"),
        ("*", "only exact package names"),
    ],
)
def test_bad_specs_are_refused(existing, channels, spec, expect):
    _unchanged(existing, ["install", "-n", "here", "-c", channels.main_url, spec, "-y"], expect)


def test_unknown_env_is_refused(existing, channels):
    _unchanged(
        existing,
        ["install", "-n", "nope", "-c", channels.main_url, "delta", "-y"],
        "No environment named 'nope'",
    )


def test_unknown_local_channel_is_refused(existing, tmp_path):
    missing = f"file://{tmp_path}/no-such-channel"
    _unchanged(
        existing,
        ["create", *on(missing, "new", "delta")],
        "does not exist",
    )


def test_folder_that_is_not_a_channel_is_refused(existing, tmp_path):
    (tmp_path / "empty").mkdir()
    _unchanged(
        existing,
        ["create", *on(str(tmp_path / "empty"), "new", "delta")],
        "could not read a channel",
    )


def test_unreachable_channel_is_refused(existing):
    _unchanged(
        existing,
        ["create", *on("http://127.0.0.1:9/nothing", "new", "delta")],
        "could not read a channel",
    )


def test_bad_channel_scheme_and_name_are_refused(existing):
    _unchanged(
        existing, ["create", "-n", "new", "-c", "ftp://x/y", "delta", "-y"], "unsupported scheme"
    )
    _unchanged(
        existing, ["create", "-n", "new", "-c", "bad name!", "delta", "-y"], "is not a channel name"
    )


@pytest.mark.parametrize(
    "specs",
    [["broken-dep"], ["python", "gamma", "alpha=2.0"], ["delta=99"]],
)
def test_unsatisfiable_requests_are_refused_with_the_solver_reason(existing, channels, specs):
    _unchanged(
        existing,
        ["create", "-n", "new", "-c", channels.main_url, "--override-channels", *specs, "-y"],
        "cannot be satisfied",
    )
    _unchanged(
        existing,
        ["install", "-n", "here", "-c", channels.main_url, "--override-channels", *specs, "-y"],
        "cannot be satisfied",
    )


def test_prefix_that_is_not_a_conda_env_is_refused(existing, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "file.txt").write_text("mine")
    _unchanged(existing, ["install", "-p", str(plain), "delta", "-y"], "not a conda environment")
    _unchanged(existing, ["list", "-p", str(plain)], "not a conda environment")
    _unchanged(existing, ["create", "-p", str(plain), "delta", "-y"], "already exists")


def test_removing_what_is_not_installed_is_refused(existing):
    _unchanged(existing, ["remove", "-n", "here", "alpha", "-y"], "Not installed")
    _unchanged(existing, ["update", "-n", "here", "alpha", "-y"], "not installed")


def test_unreadable_config_is_reported(existing, channels):
    (existing.home / ".condarc").write_text("channels: [unclosed\n")
    _unchanged(
        existing,
        ["create", "-n", "new", "-c", channels.main_url, "delta", "-y"],
        ".condarc is not valid YAML",
    )


def test_usage_errors_exit_2(existing):
    res = existing.run("create", "--no-such-flag", check=False)
    assert res.returncode == 2 and "usage:" in res.stderr


def test_a_damaged_record_is_named_not_a_traceback(existing, channels):
    record = next((existing.envs / "here" / "conda-meta").glob("delta-*.json"))
    record.write_text("{ not json")
    _unchanged(
        existing, ["install", "-n", "here", "-c", channels.main_url, "alpha", "-y"], "is damaged"
    )
