"""Attacks replayed through the real CLI: each ends in one `error:` line, exit 1, no traceback,
and nothing written (no env folder, environments.txt untouched)."""

from __future__ import annotations

import os
import time

import pytest

from ..engine.test_envfile_limits import BILLION_LAUGHS
from ..helpers import on, tree_snapshot


def _refused(sandbox, args, *expected, timeout=60):
    skip = (str(sandbox.pkgs / "cache"),)  # a solve may write the repodata cache
    before = tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs, skip=skip)
    started = time.monotonic()
    res = sandbox.run(*args, check=False, timeout=timeout)
    elapsed = time.monotonic() - started
    assert res.returncode == 1, res
    assert res.stderr.startswith("error: ") and res.stderr.count("\n") == 1, res
    assert "Traceback" not in res.stderr and "RecursionError" not in res.stderr, res
    for text in expected:
        assert text in res.stderr, res
    assert tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs, skip=skip) == before
    return res, elapsed


@pytest.fixture
def plain_env(sandbox):
    # An env is any folder with conda-meta/ (registry.py): enough for run, export, slurm-script.
    (sandbox.envs / "plain" / "conda-meta").mkdir(parents=True)
    return sandbox.envs / "plain"


# --- env files --------------------------------------------------------------------------------


def test_create_from_dev_zero_fails_fast(sandbox, channels):
    _res, elapsed = _refused(
        sandbox,
        ["create", "-f", "/dev/zero", *on(channels.main_url, "x")],
        "/dev/zero is a character device, not a file",
    )
    assert elapsed < 30


def test_create_from_a_fifo_does_not_block(sandbox, channels, tmp_path):
    fifo = tmp_path / "env.yml"
    os.mkfifo(fifo)
    _refused(
        sandbox,
        ["create", "-f", str(fifo), *on(channels.main_url, "x")],
        "is a named pipe (FIFO), not a file",
        timeout=30,
    )


def test_create_from_a_folder_or_a_binary_is_refused(sandbox, channels, tmp_path):
    _refused(sandbox, ["create", "-f", str(tmp_path), *on(channels.main_url, "x")], "folder")
    binary = tmp_path / "env.txt"
    binary.write_bytes(b"delta\n\0\x00\xff")
    _refused(
        sandbox,
        ["create", "-f", str(binary), *on(channels.main_url, "x")],
        "env.txt is not a text file",
    )


def test_create_from_an_oversized_file_is_refused(sandbox, channels, tmp_path):
    big = tmp_path / "big.yml"
    with open(big, "wb") as fh:
        fh.truncate(32 * 1024 * 1024)
    _refused(sandbox, ["create", "-f", str(big), *on(channels.main_url, "x")], "larger than 5 MB")


def test_billion_laughs_is_refused_before_anything_is_written(sandbox, channels, tmp_path):
    bomb = tmp_path / "bomb.yml"
    bomb.write_text(BILLION_LAUGHS)
    _res, elapsed = _refused(
        sandbox,
        ["create", "-f", str(bomb), "-c", channels.main_url, "--override-channels", "-y"],
        "bomb.yml, line 4",
        "anchors ('&a') are not allowed",
    )
    assert elapsed < 15
    assert not (sandbox.envs / "bomb").exists()


def test_deeply_nested_yaml_is_a_clean_error(sandbox, channels, tmp_path):
    deep = tmp_path / "deep.yml"
    deep.write_text("dependencies: " + "[" * 5000 + "]" * 5000 + "\n")
    _refused(
        sandbox,
        ["create", "-f", str(deep), *on(channels.main_url, "x")],
        "deep.yml, line 1",
        "nested deeper than 20 levels",
    )


@pytest.mark.parametrize(
    "fname, content",
    [
        ("empty.yml", ""),
        ("comments.yml", "# nothing here\n"),
        ("nodeps.yml", "name: e\ndependencies: []\n"),
        ("empty.txt", ""),
        ("comments.txt", "# just a comment\n\n"),
    ],
)
def test_a_file_that_names_no_packages_creates_nothing(sandbox, channels, tmp_path, fname, content):
    path = tmp_path / fname
    path.write_text(content)
    _refused(
        sandbox,
        ["create", "-f", str(path), *on(channels.main_url, "e")],
        f"{fname}: names no packages",
    )
    assert not (sandbox.envs / "e").exists()


@pytest.mark.parametrize(
    "line, expect",
    [
        ("--index-url=https://evil.example/simple", "is a pip option"),
        ("-r /etc/passwd", "is a pip option"),
        ("-e .", "is a pip option"),
        ("evil @ https://evil.example/evil-1.0.whl", "is a direct reference"),
        ("git+https://evil.example/repo.git", "is a VCS checkout"),
        ("./local-pkg", "is a path"),
    ],
)
def test_a_bad_pip_line_is_refused_while_parsing(sandbox, channels, tmp_path, line, expect):
    yml = tmp_path / "env.yml"
    yml.write_text(
        f"name: p\nchannels: [{channels.main_url}]\ndependencies:\n  - python\n  - pip\n"
        f"  - pip:\n    - requests\n    - '{line}'\n"
    )
    _refused(
        sandbox,
        ["create", "-f", str(yml), "--override-channels", "-y"],
        "env.yml, line 8: pip line",
        expect,
    )
    assert not (sandbox.envs / "p").exists()


def test_bad_variables_are_refused(sandbox, channels, tmp_path):
    yml = tmp_path / "env.yml"
    yml.write_text("name: v\ndependencies: [delta]\nvariables:\n  'PATH; rm -rf ~': x\n")
    _refused(
        sandbox,
        ["create", "-f", str(yml), "-c", channels.main_url, "--override-channels", "-y"],
        "env.yml, line 4",
        "is not a variable name",
    )


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["e1\n", "e1\r", "\ne1", "e1\n\nx"])
def test_env_name_with_a_line_break_is_refused(sandbox, channels, name):
    environments_txt = sandbox.home / ".conda" / "environments.txt"
    environments_txt.parent.mkdir(parents=True)
    environments_txt.write_text("/somewhere/else\n")
    _refused(
        sandbox, ["create", *on(channels.main_url, name, "delta")], "not a valid environment name"
    )
    envs = sandbox.envs
    assert not envs.exists() or not [p for p in os.listdir(envs) if "\n" in p or "\r" in p]
    assert environments_txt.read_text() == "/somewhere/else\n"


def test_a_prefix_with_a_line_break_is_refused(sandbox, channels, tmp_path):
    # It would be two lines in environments.txt: two envs, one of them anywhere.
    prefix = f"{tmp_path}/x\n{tmp_path}/other"
    args = ["create", "-p", prefix, "-c", channels.main_url, "--override-channels", "delta", "-y"]
    _refused(sandbox, args, "control character")
    assert not (tmp_path / "x\n").exists() and not (tmp_path / "other").exists()


def test_yaml_env_name_with_a_line_break_is_refused(sandbox, channels, tmp_path):
    yml = tmp_path / "env.yml"
    yml.write_text('name: "e1\\n"\ndependencies: [delta]\n')
    _refused(
        sandbox,
        ["create", "-f", str(yml), "-c", channels.main_url, "--override-channels", "-y"],
        "not a valid environment name",
    )


# --- slurm-script -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, expect",
    [
        ("--time", "abc", "hours:minutes:seconds, days-hours"),
        ("--time", "10\n#SBATCH --uid=0", "hours:minutes:seconds"),
        ("--mem", "lots", "K, M, G or T"),
        ("--cpus-per-task", "0", "positive whole number"),
        ("--partition", "short\n#SBATCH --uid=0", "letters, digits"),
    ],
)
def test_slurm_options_outside_slurms_formats_are_refused(
    sandbox, plain_env, option, value, expect
):
    # A usage error of slurm-script (exit 2), under its own usage, as argparse reports one.
    before = tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs)
    res = sandbox.run("slurm-script", "-n", "plain", option, value, "--", "true", check=False)
    assert res.returncode == 2, res
    assert res.stderr.startswith("usage: envmgr slurm-script"), res
    error = res.stderr.rstrip("\n").splitlines()[-1]
    assert error.startswith("envmgr slurm-script: error: ") and option in error, res
    assert expect in error and "Traceback" not in res.stderr, res
    assert "#SBATCH" not in res.stdout
    assert tree_snapshot(sandbox.root, sandbox.home, sandbox.pkgs) == before


def test_slurm_options_in_slurms_formats_are_written(sandbox, plain_env):
    res = sandbox.run(
        "slurm-script", "-n", "plain", "--time", "1-12:30", "--mem", "16G",
        "--cpus-per-task", "8", "--", "true",
    )  # fmt: skip
    assert "#SBATCH --time=1-12:30\n#SBATCH --cpus-per-task=8\n#SBATCH --mem=16G\n" in res.stdout


# --- export and run: errors, not tracebacks ----------------------------------------------------


def test_export_to_a_missing_folder_is_an_error_line(sandbox, plain_env):
    _refused(
        sandbox,
        ["env", "export", "-n", "plain", "-f", "/nonexistent-dir/x.yml"],
        "Cannot write /nonexistent-dir/x.yml",
    )


def test_export_onto_a_folder_is_an_error_line(sandbox, plain_env, tmp_path):
    _refused(sandbox, ["env", "export", "-n", "plain", "-f", str(tmp_path)], "Cannot write")


def test_run_of_a_missing_path_is_an_error_line(sandbox, plain_env):
    _refused(sandbox, ["run", "-n", "plain", "/nonexistent-binary"], "/nonexistent-binary")


def test_run_of_a_file_that_is_not_executable_is_an_error_line(sandbox, plain_env, tmp_path):
    script = tmp_path / "script.sh"
    script.write_text("echo hi\n")
    script.chmod(0o644)
    _refused(sandbox, ["run", "-n", "plain", str(script)], f"Cannot run {script}", "chmod +x")


def test_run_with_a_missing_cwd_is_an_error_line(sandbox, plain_env):
    _refused(sandbox, ["run", "-n", "plain", "--cwd", "/nonexistent", "true"], "--cwd /nonexistent")
