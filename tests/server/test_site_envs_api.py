"""Site environments over REST: an env in the site envs dir that the system-wide .condarc names
(`$CONDA_ROOT/.condarc` here, /etc/conda/.condarc on a cluster), made read-only for the
server's users by `read_only_dirs`: listed read-only with its reason and its kernel, every
change a 403 before any work with nothing written, cloned into the user's own envs, and an
admin's update seen on the next read without a server restart."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..helpers import envmgr_server_config, installed, tree_snapshot

pytestmark = pytest.mark.filterwarnings("error::jupyter_server.utils.JupyterServerAuthWarning")

KERNEL = "conda-env-shared-python3"


@pytest.fixture
def site(sandbox, channels, tmp_path):
    """The site folder with its .condarc and one env the admin made, as root does."""
    root = tmp_path / "site"
    envs = root / "envs"
    envs.mkdir(parents=True)
    (root / ".condarc").write_text(f"envs_dirs:\n  - {envs}\n", encoding="utf-8")
    admin = {k: v for k, v in sandbox.env.items() if not k.startswith("ENVMGR")}
    admin["CONDA_ROOT"] = str(root)

    def run(*args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "jupyter_envmgr", *args], env=admin, check=True,
            capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip

    channel = ["-c", channels.main_url, "--override-channels", "-y"]
    run("create", "-p", str(envs / "shared"), "python", "ipykernel", "alpha=1.0", *channel)
    return root, envs, lambda *specs: run("install", "-p", str(envs / "shared"), *specs, *channel)


@pytest.fixture
def jp_server_config(site, sandbox, monkeypatch):
    root, envs, _ = site
    monkeypatch.setenv("CONDA_ROOT", str(root))
    config = envmgr_server_config(sandbox, monkeypatch, read_only_dirs=[str(envs)])
    config["ServerApp"]["jpserver_extensions"]["jupyter_envmgr.kernels"] = True
    config["EnvKernelSpecManager"] = {"root_prefix": str(sandbox.root), "refresh_interval": 0}
    return config


async def _kernelspecs(jp_fetch) -> dict:
    import json

    response = await jp_fetch("api", "kernelspecs")
    return json.loads(response.body)["kernelspecs"]


async def test_site_env_is_listed_read_only_with_its_kernel_and_never_changed(
    api, jp_fetch, site, sandbox, channels
):
    _, envs, _ = site
    _, listing = await api.call("GET", "environments")
    entry = next(e for e in listing["environments"] if e["name"] == "shared")
    assert entry["prefix"] == str(envs / "shared") and entry["read_only"] is True, entry
    assert "read-only folder" in entry["read_only_reason"], entry
    assert KERNEL in await _kernelspecs(jp_fetch)
    before = tree_snapshot(envs)
    body = {"specs": ["delta"], "channels": [channels.main_url], "override_channels": True}
    for method, path, payload in [
        ("POST", ("environments", "shared", "packages"), body),
        ("PATCH", ("environments", "shared", "packages"), {"all": True}),
        ("DELETE", ("environments", "shared", "packages"), None),
        ("DELETE", ("environments", "shared"), None),
        ("POST", ("environments", "shared", "revisions"), {"revision": 0}),
    ]:
        params = {"spec": "alpha"} if method == "DELETE" and len(path) == 3 else None
        _, error = await api.call(method, *path, body=payload, params=params, expect=403)
        assert "read-only" in error["message"] and "--clone" in error["message"], error
    assert tree_snapshot(envs) == before
    # The user's own copy: in the first envs dir they can write, not the site's.
    await api.run("POST", "environments", "shared", "clone", body={"name": "mine"})
    assert installed(sandbox.envs / "mine") == installed(envs / "shared")
    assert not (envs / "mine").exists()


async def test_an_admins_update_shows_without_a_restart(api, jp_fetch, site):
    _, envs, admin_install = site
    _, packages = await api.call("GET", "environments", "shared", "packages")
    assert {p["name"]: p["version"] for p in packages["packages"]}["alpha"] == "1.0"
    admin_install("alpha=1.5")
    _, packages = await api.call("GET", "environments", "shared", "packages")
    assert {p["name"]: p["version"] for p in packages["packages"]}["alpha"] == "1.5"
    assert KERNEL in await _kernelspecs(jp_fetch)
    _, report = await api.call("GET", "usage", "owners")
    tree = next(t for t in report["trees"] if t["path"] == str(envs / "shared"))
    owner = report["user"]
    assert tree["owners"][owner]["inodes"] > 0 and os.geteuid() == 0, report
