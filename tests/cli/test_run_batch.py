"""`envmgr run` and `slurm-script`: commands see the env activated like micromamba's."""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from ..helpers import on

PROBE = (
    "import os, sys, json; print(json.dumps({'prefix': sys.prefix, "
    "'activated': os.environ.get('ENVMGR_TEST_ACTIVATED'), 'state': os.environ.get('MYVAR'), "
    "'conda_prefix': os.environ.get('CONDA_PREFIX')}))"
)


@pytest.fixture
def actenv(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "act", "python", "activate-pkg"))
    prefix = sandbox.envs / "act"
    (prefix / "conda-meta" / "state").write_text(json.dumps({"env_vars": {"MYVAR": "it's $x"}}))
    return prefix


def test_run_applies_activate_scripts_and_state_vars(sandbox, actenv):
    res = sandbox.run("run", "-n", "act", "python", "-c", PROBE)
    got = json.loads(res.stdout)
    assert got == {
        "prefix": str(actenv),
        "activated": "yes",
        "state": "it's $x",
        "conda_prefix": str(actenv),
    }


def test_run_passes_the_exit_code_through(sandbox, actenv):
    res = sandbox.run("run", "-n", "act", "--", "python", "-c", "raise SystemExit(3)", check=False)
    assert res.returncode == 3


def test_run_of_an_unknown_command_says_so(sandbox, actenv):
    res = sandbox.run("run", "-n", "act", "no-such-program-xyz", check=False)
    assert res.returncode == 1 and "'no-such-program-xyz' is not found" in res.stderr


def test_slurm_script_is_valid_bash_and_runs_the_command_in_the_env(sandbox, actenv, tmp_path):
    res = sandbox.run(
        "slurm-script",
        "-n",
        "act",
        "--time",
        "01:00:00",
        "--partition",
        "short",
        "--cpus-per-task",
        "4",
        "--",
        "python",
        "-c",
        PROBE,
    )
    script = tmp_path / "job.sh"
    script.write_text(res.stdout)
    assert "#SBATCH --time=01:00:00" in res.stdout and "#SBATCH --partition=short" in res.stdout
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    env = {k: v for k, v in sandbox.env.items() if k != "CONDA_PREFIX"}
    env["PATH"] = "/usr/bin:/bin"  # a compute node's bare PATH
    out = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["prefix"] == str(actenv) and got["activated"] == "yes"
    assert got["state"] == "it's $x"


def test_slurm_options_with_shell_characters_are_refused(sandbox, actenv):
    res = sandbox.run(
        "slurm-script", "-n", "act", "--partition", "x; rm -rf ~", "--", "true", check=False
    )
    assert res.returncode == 2 and "--partition" in res.stderr  # a usage error, its usage


def test_submit_without_sbatch_on_path_says_so_and_prints_no_job(sandbox, actenv, tmp_path):
    bare = dataclasses.replace(sandbox, env={**sandbox.env, "PATH": str(tmp_path)})
    res = bare.run("slurm-script", "-n", "act", "--submit", "--", "true", check=False)
    assert res.returncode == 1 and res.stdout == ""
    assert "sbatch is not on PATH" in res.stderr and "without --submit" in res.stderr
    as_json = bare.run("slurm-script", "-n", "act", "--submit", "--json", "--", "true", check=False)
    assert as_json.result()["reason"] == "sbatch-missing"


def test_submit_checks_every_option_before_looking_for_sbatch(sandbox, actenv, tmp_path):
    bare = dataclasses.replace(sandbox, env={**sandbox.env, "PATH": str(tmp_path)})
    res = bare.run(
        "slurm-script", "-n", "act", "--submit", "--mem", "lots", "--", "true", check=False
    )
    assert res.returncode == 2 and "--mem" in res.stderr and "sbatch is not" not in res.stderr
