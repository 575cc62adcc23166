"""The server's policy reaches the CLI its kernels run (ENVMGR_SERVER_CONFIG) and holds
whatever the flags say: `-r` moves the settings, never the rules. Read-only rules hold for
envs not made yet (`create` is refused where the result could never be changed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.published import VARIABLE, publish
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, installed, on, tree_snapshot


def _as_kernel(sandbox: Sandbox, policy: Policy) -> Sandbox:
    """The sandbox's CLI as a server's kernel runs it: the server's settings and policy
    published in the environment (what the server's extension puts there)."""
    env = dict(sandbox.env)
    env[VARIABLE] = publish(load_settings(sandbox.env, home=sandbox.home), policy)
    return Sandbox(home=sandbox.home, root=sandbox.root, pkgs=sandbox.pkgs, env=env)


def _refused(res, *words: str) -> None:
    assert res.returncode != 0, res
    assert res.stderr.count("error:") == 1 and "Traceback" not in res.stderr, res
    for word in words:
        assert word in res.stderr, res


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    return tmp_path / "elsewhere"


def test_another_root_prefix_keeps_the_servers_allow_list(sandbox, channels, elsewhere):
    kernel = _as_kernel(sandbox, Policy(allowed_channels=(channels.main_url,)))
    res = kernel.run(
        "create", "-r", str(elsewhere), *on(channels.extra_url, "x", "alpha"), check=False
    )
    _refused(res, "not allowed", channels.extra_url)
    assert not (elsewhere / "envs" / "x").exists()
    # The allowed channel still works under the other root prefix: settings follow -r.
    kernel.run("create", "-r", str(elsewhere), *on(channels.main_url, "x", "delta=1.0"))
    assert "delta" in installed(elsewhere / "envs" / "x")


def test_another_root_prefix_keeps_read_only_envs_read_only(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "ro", "delta=1.0"))
    before = tree_snapshot(sandbox.envs / "ro")
    kernel = _as_kernel(sandbox, Policy(read_only_envs=("ro",)))
    # -r naming the same root explicitly used to drop the published policy.
    res = kernel.run(
        "install", "-r", str(sandbox.root), *on(channels.main_url, "ro", "alpha"), check=False
    )
    _refused(res, "read-only")
    res = kernel.run("env", "remove", "-r", str(sandbox.root), "-n", "ro", "-y", check=False)
    _refused(res, "read-only")
    assert tree_snapshot(sandbox.envs / "ro") == before


def test_another_root_prefix_keeps_cleaning_disabled(private_sandbox, channels, elsewhere):
    sandbox = private_sandbox
    sandbox.run("create", *on(channels.main_url, "c", "delta=1.0"))
    sandbox.run("env", "remove", "-n", "c", "-y")  # its packages are now unused
    before = tree_snapshot(sandbox.pkgs)
    kernel = _as_kernel(sandbox, Policy(allow_clean=False))
    for root in (elsewhere, sandbox.root):
        res = kernel.run("clean", "--all", "-y", "-r", str(root), check=False)
        _refused(res, "disabled")
    assert tree_snapshot(sandbox.pkgs) == before


def test_create_inside_a_read_only_folder_is_refused(sandbox, channels, tmp_path):
    site = tmp_path / "site-envs"
    site.mkdir()
    kernel = _as_kernel(sandbox, Policy(read_only_dirs=(str(site),)))
    target = site / "mine"
    res = kernel.run(
        "create", "-p", str(target), "-c", channels.main_url, "--override-channels",
        "delta=1.0", "-y", check=False,
    )  # fmt: skip
    _refused(res, "read-only folder", str(site), "Choose another")
    assert not target.exists() and list(site.iterdir()) == []


def test_create_with_a_read_only_name_is_refused(sandbox, channels):
    kernel = _as_kernel(sandbox, Policy(read_only_envs=("shared-*",)))
    res = kernel.run("create", *on(channels.main_url, "shared-data", "delta=1.0"), check=False)
    _refused(res, "shared-*", "never be changed or removed")
    assert not (sandbox.envs / "shared-data").exists()
    # Other names are still created.
    kernel.run("create", *on(channels.main_url, "mine", "delta=1.0"))
    assert "delta" in installed(sandbox.envs / "mine")
