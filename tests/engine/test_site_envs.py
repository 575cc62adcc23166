"""Site environments: an admin (root) publishes an env in a site envs dir that the system-wide
.condarc names; a real second user (`envmgr-alice`) lists it with its kernel, cannot change it
(one clear error before any work, nothing written), clones it into her own envs, sees the
admin's updates at once, and a kernel of hers running in it survives an admin's update."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..helpers import on, tree_snapshot, versions
from ..site_users import Site, User, make_site, remove_site

KERNEL = "conda-env-shared-python3"


@pytest.fixture(scope="module")
def site(channels) -> Iterator[Site]:
    site = make_site(channels.main)
    try:
        site.admin(
            "create", "-p", str(site.envs / "shared"), "-c", site.channel_url,
            "--override-channels", "python", "ipykernel", "alpha=1.0", "-y",
        )  # fmt: skip
        yield site
    finally:
        remove_site(site)


@pytest.fixture(scope="module")
def alice(site) -> User:
    return site.user("envmgr-alice")


def _one_error(res) -> str:
    assert res.returncode == 1, res
    assert "Traceback" not in res.stderr, res
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res
    return errors[0]


def test_a_user_lists_the_site_env_read_only_with_its_kernel(site, alice):
    listed = alice.run("env", "list", "--json").result()
    assert str(site.envs / "shared") in listed["envs"], listed
    info = alice.run("info", "--json").result()
    assert str(site.envs) in info["envs_dirs"], info
    assert info["read_only_envs_dirs"] == [f"{site.envs} (root's)"], info
    kernels = alice.run("kernels", "--json").result()
    assert KERNEL in json.dumps(kernels), kernels
    # `jupyter kernelspec list` as alice, after her sync: a copy in her own kernels dir,
    # nothing written into the site env.
    before = tree_snapshot(site.envs)
    alice.run("kernels", "--sync")
    assert tree_snapshot(site.envs) == before
    specs = alice.command([sys.executable, "-m", "jupyter_client.kernelspecapp", "list", "--json"])
    spec = json.loads(specs.stdout)["kernelspecs"][KERNEL]
    assert spec["resource_dir"].startswith(str(alice.home)), spec
    assert spec["spec"]["argv"][0] == str(site.envs / "shared" / "bin" / "python"), spec


@pytest.mark.parametrize(
    "verb",
    [
        ["install", "-n", "shared", "delta", "-y"],
        ["remove", "-n", "shared", "alpha", "-y"],
        ["update", "-n", "shared", "alpha", "-y"],
        ["env", "remove", "-n", "shared", "-y"],
        ["install", "-p", "{site}/shared", "delta", "-y"],
        ["env", "config", "vars", "set", "-n", "shared", "FOO=1"],
    ],
    ids=["install", "remove", "update", "env-remove", "install-by-path", "config-vars"],
)
def test_a_user_cannot_change_a_site_env_and_nothing_is_written(site, alice, verb):
    before = tree_snapshot(site.base)
    args = [a.replace("{site}", str(site.envs)) for a in verb]
    if args[0] in ("install", "update"):
        args += ["-c", site.channel_url, "--override-channels"]
    error = _one_error(alice.run(*args, check=False))
    assert "read-only" in error and "root" in error and "--clone" in error, error
    assert tree_snapshot(site.base) == before


def test_a_user_cannot_create_an_env_in_the_site_folder(site, alice):
    before = tree_snapshot(site.base)
    res = alice.run(
        "create", "-p", str(site.envs / "mine"), *on(site.channel_url, "x", "alpha")[2:],
        check=False,
    )  # fmt: skip
    error = _one_error(res)
    assert "cannot write" in error and "root" in error, error
    assert tree_snapshot(site.base) == before


def test_a_user_clones_the_site_env_into_her_own_envs_and_it_works(site, alice):
    alice.run("create", "-n", "mine", "--clone", "shared", "-y")
    prefix = alice.envs / "mine"  # her first writable envs dir, not the site's
    assert versions(prefix)["alpha"] == versions(site.envs / "shared")["alpha"]
    ran = alice.run("run", "-n", "mine", "python", "-c", "import alpha, os; print(os.getuid())")
    assert ran.stdout.strip() == str(alice.uid), ran
    owners = {p.stat().st_uid for p in prefix.rglob("*") if p.is_file() and not p.is_symlink()}
    assert owners == {alice.uid}, owners
    alice.run("install", *on(site.channel_url, "mine", "delta"))  # hers to change


def test_a_clone_from_the_site_cache_copies_what_he_cannot_hard_link(site):
    """With the site's package cache layered before his own (conda's multi-user pkgs_dirs),
    bob's clone takes root's files from it without a download: copied, as protected_hardlinks
    forbids hard links to files he does not own; nothing in the site cache changes."""
    bob = site.user("envmgr-bob")
    bob.env["CONDA_PKGS_DIRS"] = f"{site.pkgs},{bob.pkgs}"
    cache = tree_snapshot(site.pkgs)
    res = bob.run("create", "-n", "layered", "--clone", "shared", "-y")
    protected = Path("/proc/sys/fs/protected_hardlinks").read_text().strip() == "1"
    assert "download 0 packages" in res.stdout, res
    assert ("copied" if protected else "linked") in res.stdout, res
    assert tree_snapshot(site.pkgs) == cache
    bob.run("run", "-n", "layered", "python", "-c", "import alpha")


_KERNEL_SCRIPT = """
import json, sys
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name=sys.argv[1], startup_timeout=120)

def run(code):
    out = []
    def hook(msg):
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(msg["content"]["ename"])
    reply = kc.execute_interactive(code, output_hook=hook, timeout=120)
    print(json.dumps([reply["content"]["status"], "".join(out).strip()]), flush=True)

run("import os, alpha; print(alpha.__version__, os.getuid())")
sys.stdin.readline()  # the admin updates the env meanwhile
run("print(alpha.__version__)")
run("import json as j2, importlib; importlib.reload(alpha); print(alpha.__version__)")
run("import subprocess, sys; print(subprocess.run([sys.executable, '-c', "
    "'import alpha; print(alpha.__version__)'], capture_output=True, text=True).stdout.strip())")
km.shutdown_kernel(now=True)
"""


def test_a_running_kernel_survives_the_admins_update_and_a_user_sees_it_at_once(site, alice):
    alice.run("kernels", "--sync")
    kernel = alice.popen([sys.executable, "-c", _KERNEL_SCRIPT, KERNEL])
    try:
        assert kernel.stdout is not None and kernel.stdin is not None
        first = kernel.stdout.readline()
        assert json.loads(first) == ["ok", f"1.0 {alice.uid}"], first + kernel.stderr.read()
        site.admin("install", "-p", str(site.envs / "shared"), "alpha=1.5", "-c",
                   site.channel_url, "--override-channels", "-y")  # fmt: skip
        kernel.stdin.write("go\n")
        kernel.stdin.flush()
        lines = [json.loads(kernel.stdout.readline()) for _ in range(3)]
        # The module it imported stays as it was; a reload and a new process get the update.
        assert lines == [["ok", "1.0"], ["ok", "1.5"], ["ok", "1.5"]], lines
        assert kernel.wait(timeout=120) == 0, kernel.stderr.read()
    finally:
        if kernel.poll() is None:
            kernel.kill()
    # The user's next read sees the update: no server or cache to restart.
    listed = alice.run("list", "-n", "shared", "--json").result()
    assert {"alpha": "1.5"}.items() <= {p["name"]: p["version"] for p in listed["packages"]}.items()
