"""Batch work on a real SLURM cluster: a user (a real unix user) submits a command in their env
with `envmgr slurm-script --submit`; the job runs on the node with the env activated (its
python, its packages), also when the job calls `envmgr run`; and the server's REST submit
answers a job id that SLURM runs."""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_envmgr.channels import TestChannels

from ..helpers import envmgr_server_config, on
from ..server.conftest import Api
from .conftest import Cluster

pytestmark = pytest.mark.hpc

USER = "envmgr-alice"
RUN = uuid.uuid4().hex[:6]
ENV = f"batch-{RUN}"
FINAL_STATES = ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL")


@dataclass
class User:
    name: str
    workdir: Path  # theirs (mode 700): root prefix, package cache, the jobs' output files
    env: dict[str, str]
    venv: Path

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        entry = pwd.getpwnam(self.name)
        proc = subprocess.run(
            ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
             *argv],
            env=self.env, cwd=self.workdir, capture_output=True, text=True, timeout=600,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert not check or proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
        return proc


@pytest.fixture(scope="module")
def alice(cluster: Cluster, shared_channels: TestChannels) -> Iterator[User]:
    """envmgr-alice with an env of her own holding python and alpha, from the shared channel."""
    entry = pwd.getpwnam(USER)
    workdir = cluster.state / "batch" / f"{USER}-{RUN}"
    workdir.mkdir(parents=True)
    (cluster.state / "batch").chmod(0o755)
    os.chown(workdir, entry.pw_uid, entry.pw_gid)
    workdir.chmod(0o700)
    env = {
        "HOME": entry.pw_dir, "USER": USER, "LOGNAME": USER, "LANG": "C.UTF-8",
        "PATH": f"{cluster.venv / 'bin'}:/usr/bin:/bin",  # envmgr on her PATH
        "MAMBA_ROOT_PREFIX": str(workdir / "root"), "CONDA_PKGS_DIRS": str(workdir / "pkgs"),
    }  # fmt: skip
    user = User(USER, workdir, env, cluster.venv)
    user.run("envmgr", "create", *on(shared_channels.main_url, ENV, "python", "alpha"))
    try:
        yield user
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_for_job(job_id: int, timeout: float = 300) -> dict[str, str]:
    """`scontrol show job ID` as key=value pairs once the job has ended (no accounting here:
    finished jobs stay in slurmctld's memory for a few minutes)."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(["scontrol", "show", "job", str(job_id)], capture_output=True,
                             text=True, check=True).stdout  # fmt: skip
        fields = dict(re.findall(r"(\w+)=(\S*)", out))
        if fields.get("JobState") in FINAL_STATES:
            return fields
        assert time.monotonic() < deadline, f"job {job_id} did not end: {out}"
        time.sleep(0.3)


def _job_output(workdir: Path, job_id: int) -> str:
    return (workdir / f"slurm-{job_id}.out").read_text()


def test_a_submitted_job_runs_in_the_users_env_and_imports_its_package(alice: User) -> None:
    prefix = alice.workdir / "root" / "envs" / ENV
    res = alice.run(
        "envmgr", "slurm-script", "-n", ENV, "--time", "5", "--submit", "--",
        "python", "-c", "import sys, alpha; print(sys.prefix)",
    )  # fmt: skip
    found = re.fullmatch(r"Submitted batch job (\d+)\n", res.stdout)
    assert found, res.stdout
    job_id = int(found.group(1))
    job = _wait_for_job(job_id)
    assert job["UserId"].startswith(f"{USER}("), job
    assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
    assert _job_output(alice.workdir, job_id) == f"{prefix}\n"


def test_envmgr_run_works_inside_a_job_without_envmgr_on_the_users_path(alice: User) -> None:
    # Her PATH lacks envmgr's folder; she calls it by its path. The job still finds `envmgr`.
    bare = User(alice.name, alice.workdir, {**alice.env, "PATH": "/usr/bin:/bin"}, alice.venv)
    probe = (
        "import alpha, json, os, sys; print(json.dumps([sys.prefix, os.environ['CONDA_PREFIX']]))"
    )
    res = bare.run(
        str(alice.venv / "bin" / "envmgr"), "slurm-script", "-n", ENV, "--submit", "--json",
        "--", "envmgr", "run", "-n", ENV, "--", "python", "-c", probe,
    )  # fmt: skip
    answer = json.loads(res.stdout)
    assert set(answer) == {"job_id", "script"} and "exec envmgr run -n" in answer["script"]
    job = _wait_for_job(answer["job_id"])
    output = _job_output(alice.workdir, answer["job_id"])
    assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), (job, output)
    prefix = str(alice.workdir / "root" / "envs" / ENV)
    assert json.loads(output) == [prefix, prefix]


def test_sbatch_refusing_the_job_is_reported_with_its_text_and_exit_code(alice: User) -> None:
    res = alice.run(
        "envmgr", "slurm-script", "-n", ENV, "--partition", f"nope{RUN}", "--submit", "--",
        "true", check=False,
    )  # fmt: skip
    assert res.returncode == 1 and res.stdout == ""
    assert "sbatch refused the job (exit code 1)" in res.stderr
    assert "invalid partition" in res.stderr.lower(), res.stderr


# --- REST: the server's own sbatch ----------------------------------------------------------


@pytest.fixture
def jp_server_config(sandbox, monkeypatch):
    return envmgr_server_config(sandbox, monkeypatch)


async def test_rest_submit_answers_a_job_id_that_slurm_runs(
    cluster: Cluster, jp_fetch, jp_root_dir, sandbox, channels
) -> None:
    api = Api(jp_fetch)
    sandbox.run("create", *on(channels.main_url, "rest-batch", "python", "alpha"))
    prefix = sandbox.envs / "rest-batch"
    _, read = await api.call("GET", "environments", "rest-batch", "batch-script",
                             params={"command": "true"})  # fmt: skip
    assert read["sbatch_available"] is True
    body = {"command": 'python -c "import sys, alpha; print(sys.prefix)"', "time": "5"}
    _, job = await api.call(
        "POST", "environments", "rest-batch", "batch-jobs", body=body, expect=201
    )
    assert isinstance(job["job_id"], int) and job["directory"] == str(jp_root_dir)
    state = _wait_for_job(job["job_id"])
    output = _job_output(Path(job["directory"]), job["job_id"])
    assert (state["JobState"], state["ExitCode"]) == ("COMPLETED", "0:0"), (state, output)
    assert output == f"{prefix}\n"
