"""micromamba's flags of create/install/update/remove, end to end through the real CLI.

A small channel of its own (`fl-*` packages, so their cache entries never clash with the main
test channel's): fl-app needs fl-lib, fl-tool needs fl-lib, fl-leaf needs nothing, and
fl-native exists for linux-aarch64 only, with a post-link script that must never run here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jupyter_envmgr.channels.conda_pkg import Entry
from jupyter_envmgr.channels.factory import index_channel
from jupyter_envmgr.channels.serve import serve_channel
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


# -- output: -d, -q, -v ----------------------------------------------------------------------


def test_d_is_dry_run_and_quiet_prints_only_the_result(sandbox: Sandbox, flags_channel):
    snap = tree_snapshot(sandbox.root, sandbox.home)
    res = sandbox.run("create", "-n", "q", *_on(flags_channel, "fl-leaf", "-d"))
    assert "fl-leaf" in res.stdout and "Dry run: nothing was changed." in res.stdout
    assert tree_snapshot(sandbox.root, sandbox.home) == snap
    res = sandbox.run("create", "-n", "q", *_on(flags_channel, "fl-app", "-q"))
    assert res.stdout == "Done: q\n" and res.stderr == ""  # no plan, no progress, no "Solved"
    bad = sandbox.run("install", "-n", "q", *_on(flags_channel, "fl-nothing", "-q"), check=False)
    assert bad.returncode == 1 and "fl-nothing" in bad.stderr  # errors still show


def test_verbose_shows_the_solve_channels_specs_and_pins(sandbox: Sandbox, flags_channel):
    sandbox.run("create", "-n", "v", *_on(flags_channel, "fl-leaf"))
    (sandbox.envs / "v" / "conda-meta" / "pinned").write_text("# held back\nfl-lib 1.*\n")
    res = sandbox.run("install", "-n", "v", *_on(flags_channel, "fl-tool", "-v"))
    assert "Solving for: fl-leaf fl-tool" in res.stderr
    assert f"channel: {flags_channel.as_uri()}" in res.stderr
    assert "pinned: fl-lib 1.*" in res.stderr
    res = sandbox.run("install", "-n", "v", *_on(flags_channel, "fl-app", "-vv", "-d"))
    assert "[solve-done]" in res.stderr  # -vv: every event


# -- what the solve may change: pins, --no-pin, --freeze-installed -------------------------


def test_pinned_file_holds_packages_back_and_no_pin_ignores_it(sandbox: Sandbox, flags_channel):
    prefix = sandbox.envs / "p"
    sandbox.run("create", "-n", "p", *_on(flags_channel, "fl-leaf"))
    (prefix / "conda-meta" / "pinned").write_text("fl-lib 1.*\n")
    # A pin constrains what comes in, without installing anything by itself.
    sandbox.run("install", "-n", "p", *_on(flags_channel, "fl-app"))
    assert {n: v[0] for n, v in installed(prefix).items()} == {
        "fl-leaf": "2.0", "fl-app": "1.0", "fl-lib": "1.0"
    }  # fmt: skip
    # A request that conflicts with a pin: the solver's message, naming the pin and its file.
    snap = tree_snapshot(prefix)
    res = sandbox.run("install", "-n", "p", *_on(flags_channel, "fl-lib=2"), check=False)
    assert res.returncode == 1
    assert "fl-lib 1.*" in res.stderr and str(prefix / "conda-meta" / "pinned") in res.stderr
    assert "--no-pin" in res.stderr and tree_snapshot(prefix) == snap
    sandbox.run("install", "-n", "p", *_on(flags_channel, "fl-app=2", "--no-pin"))
    assert installed(prefix)["fl-lib"][0] == "2.0"


def test_bad_pinned_line_is_named_before_anything_changes(sandbox: Sandbox, flags_channel):
    sandbox.run("create", "-n", "bp", *_on(flags_channel, "fl-leaf"))
    (sandbox.envs / "bp" / "conda-meta" / "pinned").write_text("fl-lib >=>=1\n")
    res = sandbox.run("install", "-n", "bp", *_on(flags_channel, "fl-app"), check=False)
    assert res.returncode == 1 and "pinned, line 1" in res.stderr and "--no-pin" in res.stderr
    assert "fl-app" not in installed(sandbox.envs / "bp")


def _env_with_old_lib(sandbox: Sandbox, channel: Path, name: str) -> Path:
    """fl-tool with fl-lib 1.0 as a dependency (not requested): a pin brings it, then goes."""
    prefix = sandbox.envs / name
    sandbox.run("create", "-n", name, *_on(channel, "fl-leaf"))
    (prefix / "conda-meta" / "pinned").write_text("fl-lib 1.*\n")
    sandbox.run("install", "-n", name, *_on(channel, "fl-tool"))
    (prefix / "conda-meta" / "pinned").unlink()
    assert installed(prefix)["fl-lib"][0] == "1.0"
    return prefix


def test_freeze_installed_changes_no_installed_package(sandbox: Sandbox, flags_channel):
    prefix = _env_with_old_lib(sandbox, flags_channel, "fr")
    # Without the flag, the newest fl-app upgrades fl-lib; frozen, the solve keeps it.
    plain = sandbox.run("install", "-n", "fr", *_on(flags_channel, "fl-app", "-d", "--json"))
    changed = [c["to"]["name"] for c in plain.result()["plan"]["change"]]
    assert changed == ["fl-lib"]
    sandbox.run("install", "-n", "fr", *_on(flags_channel, "fl-app", "--freeze-installed"))
    assert installed(prefix)["fl-lib"][0] == "1.0" and installed(prefix)["fl-app"][0] == "1.0"
    res = sandbox.run(
        "install", "-n", "fr", *_on(flags_channel, "fl-app=2", "--freeze-installed"), check=False
    )
    assert res.returncode == 1 and "--freeze-installed" in res.stderr


# -- which packages: --no-deps, --only-deps --------------------------------------------------


def test_no_deps_links_only_the_named_package(sandbox: Sandbox, flags_channel):
    prefix = sandbox.envs / "nd"
    sandbox.run("create", "-n", "nd", *_on(flags_channel, "fl-app", "--no-deps"))
    assert set(installed(prefix)) == {"fl-app"}
    assert "fl-app" in (prefix / "conda-meta" / "history").read_text().split("update specs")[-1]
    # Into an env: the named package only, what is installed stays as it is.
    prefix2 = _env_with_old_lib(sandbox, flags_channel, "nd2")
    sandbox.run("install", "-n", "nd2", *_on(flags_channel, "fl-app=2", "--no-deps"))
    assert installed(prefix2)["fl-app"][0] == "2.0" and installed(prefix2)["fl-lib"][0] == "1.0"


def test_only_deps_links_the_dependencies_without_the_package(sandbox: Sandbox, flags_channel):
    prefix = sandbox.envs / "od"
    sandbox.run("create", "-n", "od", *_on(flags_channel, "fl-leaf"))
    sandbox.run("install", "-n", "od", *_on(flags_channel, "fl-app", "--only-deps"))
    assert set(installed(prefix)) == {"fl-leaf", "fl-lib"}
    # Not requested either: a later solve never brings fl-app in.
    assert (
        "# update specs" not in (prefix / "conda-meta" / "history").read_text().split("# cmd")[-1]
    )
    sandbox.run("update", "-n", "od", "--all", *_on(flags_channel))
    assert "fl-app" not in installed(prefix)
    res = sandbox.run(
        "install", "-n", "od", *_on(flags_channel, "fl-app", "--no-deps", "--only-deps"),
        check=False,
    )  # fmt: skip
    assert res.returncode == 2 and "not allowed with argument" in res.stderr


# -- remove --force, --no-prune --------------------------------------------------------------


def test_remove_force_removes_only_the_named_package(sandbox: Sandbox, flags_channel):
    prefix = sandbox.envs / "rf"
    sandbox.run("create", "-n", "rf", *_on(flags_channel, "fl-app", "fl-leaf"))
    plain = sandbox.run("remove", "-n", "rf", "fl-lib", "-y", "-d", "--json").result()["plan"]
    assert {r["name"] for r in plain["remove"]} == {"fl-lib", "fl-app"}  # its dependents too
    sandbox.run("remove", "-n", "rf", "fl-lib", "-y", "--force")
    assert set(installed(prefix)) == {"fl-app", "fl-leaf"}


def test_remove_no_prune_keeps_the_unneeded_dependencies(sandbox: Sandbox, flags_channel):
    prefix = sandbox.envs / "np"
    sandbox.run("create", "-n", "np", *_on(flags_channel, "fl-app", "fl-leaf"))
    plain = sandbox.run("remove", "-n", "np", "fl-app", "-y", "-d", "--json").result()["plan"]
    assert {r["name"] for r in plain["remove"]} == {"fl-app", "fl-lib"}  # pruned by default
    sandbox.run("remove", "-n", "np", "fl-app", "-y", "--no-prune")
    assert set(installed(prefix)) == {"fl-lib", "fl-leaf"}


# -- --copy, --clone -------------------------------------------------------------------------


def test_copy_links_nothing_from_the_cache(sandbox: Sandbox, flags_channel):
    sandbox.run("create", "-n", "cp", *_on(flags_channel, "fl-leaf", "--copy"))
    sandbox.run("create", "-n", "hl", *_on(flags_channel, "fl-leaf"))
    rel = "share/fl-leaf/VERSION"
    record = json.loads(
        next((sandbox.envs / "cp" / "conda-meta").glob("fl-leaf-*.json")).read_text()
    )
    cached = os.stat(Path(record["extracted_package_dir"]) / rel)
    copied, linked = os.stat(sandbox.envs / "cp" / rel), os.stat(sandbox.envs / "hl" / rel)
    assert linked.st_ino == cached.st_ino  # the default: a hard link of the cache's file
    assert copied.st_ino != cached.st_ino and copied.st_nlink == 1
    assert (sandbox.envs / "cp" / rel).read_text() == "fl-leaf 2.0\n"


def test_create_clone_copies_the_exact_package_set(sandbox: Sandbox, flags_channel):
    src = _env_with_old_lib(sandbox, flags_channel, "src")
    sandbox.run("create", "-n", "dst", "--clone", "src", "-y")
    assert installed(sandbox.envs / "dst") == installed(src)
    res = sandbox.run("create", "-n", "dst2", "--clone", "nope", "-y", check=False)
    assert res.returncode == 1 and "nope" in res.stderr and not (sandbox.envs / "dst2").exists()


# -- --no-rc, --rc-file ----------------------------------------------------------------------


def test_no_rc_and_rc_file_choose_the_settings(sandbox: Sandbox, tmp_path: Path):
    (sandbox.home / ".condarc").write_text(f"envs_dirs: [{tmp_path / 'from-condarc'}]\n")
    other = tmp_path / "other.yml"
    other.write_text(f"envs_dirs: [{tmp_path / 'from-rc-file'}]\n")
    sandbox.run("create", "-n", "a", "-y")
    assert (tmp_path / "from-condarc" / "a" / "conda-meta" / "history").is_file()
    sandbox.run("create", "-n", "b", "-y", "--no-rc")
    assert (sandbox.envs / "b" / "conda-meta" / "history").is_file()
    sandbox.run("create", "-n", "c", "-y", "--rc-file", str(other))
    assert (tmp_path / "from-rc-file" / "c" / "conda-meta" / "history").is_file()
    res = sandbox.run("create", "-n", "d", "-y", "--rc-file", str(tmp_path / "nope"), check=False)
    assert res.returncode == 1 and "--rc-file" in res.stderr


# -- --platform ------------------------------------------------------------------------------


def test_platform_creates_an_env_for_another_subdir_without_running_it(
    sandbox: Sandbox, flags_channel
):
    prefix = sandbox.envs / "arm"
    # Not for this machine: fl-native exists for linux-aarch64 only.
    here = sandbox.run("create", "-n", "arm", *_on(flags_channel, "fl-native"), check=False)
    assert here.returncode == 1 and not prefix.exists()
    res = sandbox.run(
        "create", "-n", "arm", *_on(flags_channel, "fl-native", "--platform", AARCH64, "-v")
    )
    assert f"platforms: {AARCH64}, noarch" in res.stderr
    records = {
        json.loads(p.read_text())["name"]: json.loads(p.read_text())
        for p in (prefix / "conda-meta").glob("*.json")
    }
    assert records["fl-native"]["subdir"] == AARCH64 and records["fl-lib"]["subdir"] == "noarch"
    assert (prefix / "bin" / "fl-native").is_file()
    assert not (prefix / "post-link-ran").exists()  # its post-link script never ran
    # Remembered as conda and micromamba do; later solves keep that platform.
    assert (prefix / ".condarc").read_text() == f"subdir: {AARCH64}\n"
    assert (prefix / ".mambarc").read_text() == f"platform: {AARCH64}\n"
    res = sandbox.run("install", "-n", "arm", *_on(flags_channel, "fl-leaf", "-v"))
    assert f"platforms: {AARCH64}, noarch" in res.stderr
    res = sandbox.run(
        "install", "-n", "arm", *_on(flags_channel, "fl-leaf", "--platform", "osx-arm64"),
        check=False,
    )  # fmt: skip
    assert res.returncode == 1 and f"created for {AARCH64}" in res.stderr
    bad = sandbox.run("create", "-n", "x", *_on(flags_channel, "--platform", "arm"), check=False)
    assert bad.returncode == 1 and "linux-aarch64" in bad.stderr


# -- --offline -------------------------------------------------------------------------------


def test_offline_uses_only_the_cache_and_names_what_is_missing(
    private_sandbox: Sandbox, flags_channel
):
    sb = private_sandbox
    with serve_channel(flags_channel) as url:
        sb.run("create", "-n", "on", "-c", url, "--override-channels", "fl-leaf=1", "-y")
    # The server is gone: what the cache holds still installs, index and package.
    args = ["-c", url, "--override-channels", "-y", "--offline"]
    sb.run("create", "-n", "off", *args, "fl-leaf=1")
    assert installed(sb.envs / "off")["fl-leaf"][0] == "1.0"
    # A package the cache lacks: named, nothing created.
    res = sb.run("create", "-n", "off2", *args, "fl-app", check=False)
    assert res.returncode == 1 and "Offline" in res.stderr
    assert "fl-app-2.0" in res.stderr and "fl-lib-2.0" in res.stderr
    assert not (sb.envs / "off2").exists()
    # A remote channel never read before: no network, a clear error.
    res = sb.run("create", "-n", "off3", "-c", "http://127.0.0.1:9/none", "--override-channels",
                 "-y", "--offline", "fl-leaf", check=False)  # fmt: skip
    assert res.returncode == 1 and not (sb.envs / "off3").exists()
    # Local channels need no network: they still work offline.
    sb.run("create", "-n", "local", *_on(flags_channel, "fl-app", "--offline"))
    assert "fl-app" in installed(sb.envs / "local")


# -- flags we do not have: the verb's usage, and the alternative -----------------------------


def test_unknown_flag_is_named_under_the_verbs_usage_with_the_alternative(sandbox: Sandbox):
    res = sandbox.run("install", "-n", "x", "--bogus", "numpy", check=False)
    assert res.returncode == 2
    assert res.stderr.startswith("usage: envmgr install ")
    assert "envmgr install: error: unrecognized arguments: --bogus" in res.stderr
    res = sandbox.run("create", "-n", "x", "--always-copy", "numpy", check=False)
    assert res.returncode == 2 and "--always-copy: use --copy" in res.stderr
    assert res.stderr.startswith("usage: envmgr create ")
    res = sandbox.run("env", "export", "-n", "x", "--lock-timeout=5", check=False)
    assert res.stderr.startswith("usage: envmgr env export ")
    assert "ENVMGR_LOCK_TIMEOUT" in res.stderr
    assert not sandbox.root.exists()  # nothing was started
