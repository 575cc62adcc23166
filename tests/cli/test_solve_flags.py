"""micromamba's flags of create/install/update/remove, end to end through the real CLI.

A small channel of its own (`fl-*` packages, so their cache entries never clash with the main
test channel's): fl-app needs fl-lib, fl-tool needs fl-lib, fl-leaf needs nothing, and
fl-native exists for linux-aarch64 only, with a post-link script that must never run here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.factory import index_channel
from jupyter_envmgr.channels.synthetic import generic_package

from ..helpers import Sandbox, installed, tree_snapshot

AARCH64 = "linux-aarch64"


def _pkg(out: Path, name: str, version: str, *, depends: tuple[str, ...] = (), **kw) -> None:
    data = f"{name} {version}\n".encode()
    generic_package(
        out, name, version, [Entry(f"share/{name}/VERSION", data=data)], depends=depends, **kw
    )


@pytest.fixture(scope="module")
def flags_channel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    channel = tmp_path_factory.mktemp("flags") / "channel"
    noarch, aarch64 = channel / "noarch", channel / AARCH64
    for version in ("1.0", "2.0"):
        _pkg(noarch, "fl-lib", version)
        _pkg(noarch, "fl-leaf", version)
    _pkg(noarch, "fl-app", "1.0", depends=("fl-lib",))
    _pkg(noarch, "fl-app", "2.0", depends=("fl-lib >=2",))
    _pkg(noarch, "fl-tool", "1.0", depends=("fl-lib",))
    marker = "$PREFIX/post-link-ran"
    generic_package(
        aarch64,
        "fl-native",
        "1.0",
        [
            Entry("bin/fl-native", data=b"\x7fELF not for this machine\n", executable=True),
            Entry(
                "bin/.fl-native-post-link.sh",
                data=f"#!/bin/sh\ntouch {marker}\n".encode(),
                executable=True,
            ),
        ],
        depends=("fl-lib", "__glibc >=2.17"),
        subdir=AARCH64,
    )
    index_channel(channel)
    assert (aarch64 / "repodata.json").is_file()
    return channel


def _on(channel: Path, *args: str) -> list[str]:
    return ["-c", channel.as_uri(), "--override-channels", *args, "-y"]


# -- create with no package (item 9) ---------------------------------------------------------


def test_create_without_packages_makes_an_empty_env_and_says_so(sandbox: Sandbox, flags_channel):
    res = sandbox.run("create", "-n", "empty", *_on(flags_channel))
    prefix = sandbox.envs / "empty"
    assert res.stdout.strip() == f"Created an empty environment empty at {prefix}"
    assert "Nothing to do" not in res.stdout + res.stderr
    # An env as micromamba makes it: a history, no packages; listed, and filled by install.
    history = (prefix / "conda-meta" / "history").read_text()
    assert "# cmd: envmgr create -n empty" in history
    assert installed(prefix) == {}
    assert str(prefix) in sandbox.run("env", "list", "--json").stdout
    sandbox.run("install", "-n", "empty", *_on(flags_channel, "fl-leaf"))
    assert installed(prefix)["fl-leaf"][0] == "2.0"


def test_create_without_packages_needs_no_terminal_and_dry_run_changes_nothing(
    sandbox: Sandbox,
):
    snap = tree_snapshot(sandbox.root, sandbox.home)
    res = sandbox.run("create", "-n", "e2", "--dry-run")
    assert res.stdout.strip().startswith("Dry run: would create an empty environment e2")
    assert tree_snapshot(sandbox.root, sandbox.home) == snap
    # No -y and no terminal: nothing to confirm (nothing is downloaded or linked).
    res = sandbox.run("create", "-n", "e2", "--json")
    assert res.result()["applied"] is True and "empty" in res.result()["notes"]
    assert (sandbox.envs / "e2" / "conda-meta" / "history").is_file()
