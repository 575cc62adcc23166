"""SLURM batch scripts over REST: the script of an env (checked as the CLI checks it), and its
submission, refused with the reason when the server has no sbatch. Submitting to a running
SLURM is in tests/hpc/test_slurm_batch.py."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ..helpers import on, tree_snapshot

ENV = "batch"
PROBE = "import json, os, sys, alpha; print(json.dumps([sys.prefix, os.environ['CONDA_PREFIX']]))"


@pytest.fixture
def envmgr_config():
    # Submitting runs the env's command and changes no env: read-only envs have scripts too.
    return {"read_only_envs": [ENV]}


@pytest.fixture
def batch_env(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, ENV, "python", "alpha"))
    return sandbox.envs / ENV


@pytest.fixture
def no_sbatch(monkeypatch, tmp_path):
    """The server's PATH (the server runs in this process) holds no sbatch."""
    empty = tmp_path / "bare-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


async def test_script_of_a_read_only_env_runs_the_command_in_it(api, sandbox, batch_env, tmp_path):
    _, env = await api.call("GET", "environments", ENV)
    assert env["read_only"] is True
    params = {"command": f'python -c "{PROBE}"', "time": "1:00:00", "partition": "debug",
              "cpus-per-task": "2", "mem": "1G"}  # fmt: skip
    _, answer = await api.call("GET", "environments", ENV, "batch-script", params=params)
    script = answer["script"]
    assert answer["env"] == ENV and answer["sbatch_available"] == bool(shutil.which("sbatch"))
    for directive in ("--time=1:00:00", "--partition=debug", "--cpus-per-task=2", "--mem=1G"):
        assert f"#SBATCH {directive}\n" in script
    assert f"export CONDA_PREFIX={batch_env}\n" in script
    # The script as a job would run it on a node with a bare PATH: python is the env's.
    job = tmp_path / "job.sh"
    job.write_text(script)
    env = {k: v for k, v in sandbox.env.items() if not k.startswith("CONDA")}
    env["PATH"] = "/usr/bin:/bin"
    out = subprocess.run(["bash", str(job)], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [str(batch_env), str(batch_env)]


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"command": "python x.py", "mem": "lots"}, "--mem 'lots'"),
        ({"command": "python x.py", "partition": "a;b"}, "--partition"),
        ({"command": "python x.py", "mem": "1G", "mem-per-cpu": "1G"}, "exclude each other"),
        ({"command": "python x.py > out.txt"}, "without a shell"),
        ({"command": "python 'x.py"}, "cannot be split"),
        ({"command": "  "}, "'command' must be"),
        ({"command": "python x.py", "color": "red"}, "Unknown field(s) color"),
        ({"command": "python x.py", "sbatch": "#SBATCH --x"}, "only what follows '#SBATCH'"),
    ],
)
async def test_bad_option_is_a_400_with_the_reason_and_nothing_is_submitted(
    api, sandbox, batch_env, no_sbatch, params, said
):
    before = tree_snapshot(sandbox.root)
    _, read = await api.call("GET", "environments", ENV, "batch-script", params=params, expect=400)
    assert read["reason"] == "bad-input" and said in read["message"], read
    # The body is checked before sbatch is looked for: a 400 naming the option, not a 409.
    body = {k: ([v] if k == "sbatch" else v) for k, v in params.items()}
    _, post = await api.call("POST", "environments", ENV, "batch-jobs", body=body, expect=400)
    assert post["reason"] == "bad-input" and said in post["message"], post
    assert tree_snapshot(sandbox.root) == before


async def test_an_option_given_twice_in_the_query_is_refused(api, batch_env):
    params = [("command", "true"), ("time", "1:00"), ("time", "2:00")]
    _, answer = await api.call("GET", "environments", ENV, "batch-script", params=params,
                               expect=400)  # fmt: skip
    assert "'time' is given 2 times" in answer["message"]


async def test_submit_without_sbatch_on_the_servers_path_is_a_409_saying_so(
    api, batch_env, no_sbatch
):
    _, read = await api.call(
        "GET", "environments", ENV, "batch-script", params={"command": "python -V"}
    )
    assert read["sbatch_available"] is False
    body = {"command": "python -V", "time": "10"}
    _, answer = await api.call("POST", "environments", ENV, "batch-jobs", body=body, expect=409)
    assert answer["reason"] == "sbatch-missing"
    assert "sbatch is not on PATH" in answer["message"]


async def test_unknown_env_is_a_404_for_both(api, sandbox):
    await api.call("GET", "environments", "nope", "batch-script", params={"command": "true"},
                   expect=404)  # fmt: skip
    await api.call("POST", "environments", "nope", "batch-jobs", body={"command": "true"},
                   expect=404)  # fmt: skip
