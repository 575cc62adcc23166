"""The cluster harness for the `hpc` tests: real SLURM, munge, two unix users and a venv they
run JupyterHub from (scripts/hpc-harness). Started once per session, stopped at the end when
this session started it. Where it cannot start (not root, no apt) the tests skip with the
reason, except under CI (`CI=true`), where that is a failure."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_envmgr.channels import TestChannels

REPO = Path(__file__).resolve().parents[2]
HARNESS = REPO / "scripts" / "hpc-harness"
STATE = Path(os.environ.get("ENVMGR_HPC_STATE", "/var/tmp/envmgr-hpc"))
VENV = Path(os.environ.get("ENVMGR_HPC_VENV", "/opt/envmgr-hpc/venv"))
USERS = ("envmgr-alice", "envmgr-bob")


@dataclass(frozen=True)
class Cluster:
    venv: Path
    state: Path
    proxy_bin: Path  # the folder holding configurable-http-proxy
    users: tuple[str, ...]


def _cannot(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the cluster harness cannot start under CI: {reason}")
    pytest.skip(f"the cluster harness cannot start here: {reason}")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    if os.geteuid() != 0:
        _cannot("not root (it starts daemons and creates unix users)")
    already = subprocess.run([str(HARNESS), "status"], capture_output=True).returncode == 0
    proc = subprocess.run([str(HARNESS), "start"], capture_output=True, text=True)
    if proc.returncode == 2:
        _cannot(proc.stderr.strip())
    assert proc.returncode == 0, f"scripts/hpc-harness start failed:\n{proc.stdout}{proc.stderr}"
    try:
        yield Cluster(VENV, STATE, STATE / "chp" / "node_modules" / ".bin", USERS)
    finally:
        if not already:
            subprocess.run([str(HARNESS), "stop"], capture_output=True)


@pytest.fixture(scope="session")
def shared_channels(cluster: Cluster, channels: TestChannels) -> TestChannels:
    """The test channels copied where the unix users can read them (root's home is private)."""
    built = channels.main.parent
    dest = cluster.state / "channels" / built.name
    if not (dest / "meta.json").exists():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(built, tmp, symlinks=True)
        subprocess.run(["chmod", "-R", "a+rX", str(cluster.state / "channels")], check=True)
        tmp.rename(dest)
    return TestChannels(dest / "main", dest / "extra", channels.python_version)
