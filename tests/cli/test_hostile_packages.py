"""Hostile packages through the real CLI: each is refused by name with the path it carries, a
file outside the env is untouched, nothing lands next to the env, and the env is unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from jupyter_envmgr.channels.hostile import hostile_packages

from ..helpers import hostile_channel, installed, on, tree_snapshot

NAMES = list(hostile_packages(Path("/victim")))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[str, Path, dict[str, str]]:
    channel, victim, offending = hostile_channel(tmp_path_factory.mktemp("hostile"))
    return channel.as_uri(), victim, offending


def _outside(sandbox) -> dict[str, tuple]:
    # The envs dir's neighbours (where `../x` would land) and the user's home.
    return tree_snapshot(sandbox.root, sandbox.home, skip=(str(sandbox.envs),))


def _assert_refused(res, name: str, path: str) -> None:
    assert res.returncode == 1, res
    lines = res.stderr.splitlines()
    assert lines[-1].startswith("error: "), res  # after the solve's one-line summary
    assert sum(line.startswith("error:") for line in lines) == 1, res
    assert "Traceback" not in res.stderr and "panic" not in res.stderr, res
    assert f"Refused the package '{name}'" in res.stderr, res
    assert repr(path)[1:-1][:150] in res.stderr, res


@pytest.mark.parametrize("name", NAMES)
def test_create_refuses_a_hostile_package(sandbox, channels, hostile, name):
    url, victim, offending = hostile
    outside = _outside(sandbox)
    # Two channels: python for the noarch console-script package comes from main.
    res = sandbox.run(
        "create", "-n", "h", "-c", url, "-c", channels.main_url, "--override-channels",
        name, "-y", check=False,
    )  # fmt: skip
    _assert_refused(res, name, offending[name])
    assert victim.read_text() == "precious\n"
    assert not (sandbox.envs / "h").exists(), "a refused create leaves no env"
    assert not list(sandbox.envs.glob("*was-here*"))
    assert _outside(sandbox) == outside


def test_install_refuses_and_leaves_the_env_as_it_was(sandbox, channels, hostile):
    url, victim, offending = hostile
    sandbox.run("create", *on(channels.main_url, "keep", "alpha"))
    prefix = sandbox.envs / "keep"
    before_pkgs = installed(prefix)
    before = tree_snapshot(prefix)
    outside = _outside(sandbox)
    for name in ("evil-dotdot", "evil-absolute", "evil-symlink"):
        res = sandbox.run(
            "install", "-n", "keep", "-c", url, "-c", channels.main_url, "--override-channels",
            name, "-y", check=False,
        )  # fmt: skip
        _assert_refused(res, name, offending[name])
    assert victim.read_text() == "precious\n"
    assert installed(prefix) == before_pkgs
    assert tree_snapshot(prefix) == before
    assert _outside(sandbox) == outside


def test_json_stream_ends_in_one_error_naming_the_package(sandbox, channels, hostile):
    url, victim, offending = hostile
    res = sandbox.run(
        "create", "-n", "h", "-c", url, "--override-channels", "evil-sibling", "-y", "--json",
        check=False,
    )  # fmt: skip
    assert res.returncode == 1, res
    last = res.result()
    assert last["event"] == "error" and last["reason"] == "unsafe-package", last
    assert offending["evil-sibling"] in last["message"]
    assert victim.read_text() == "precious\n"


def test_a_hostile_package_in_an_explicit_file_is_refused(sandbox, hostile, tmp_path):
    url, victim, offending = hostile
    spec = tmp_path / "explicit.txt"
    pkg = f"{url}/noarch/evil-dotdot-1.0-0.conda"
    spec.write_text(f"@EXPLICIT\n{pkg}\n")
    res = sandbox.run("create", "-n", "x", "-f", str(spec), "-y", check=False)
    _assert_refused(res, "evil-dotdot", offending["evil-dotdot"])
    assert victim.read_text() == "precious\n"
    assert not (sandbox.envs / "x").exists()


def test_a_link_climbing_through_a_symlinked_folder_already_in_the_env_is_refused(sandbox, hostile):
    url, _victim, offending = hostile
    sandbox.run("create", *on(url, "up", "evil-up"))  # lib/up -> .. stays inside: accepted
    prefix = sandbox.envs / "up"
    assert (prefix / "lib" / "up").is_symlink()
    before = tree_snapshot(prefix)
    res = sandbox.run("install", *on(url, "up", "evil-climb"), check=False)
    _assert_refused(res, "evil-climb", offending["evil-climb"])
    assert "inside the symlinked folder 'lib/up'" in res.stderr
    assert tree_snapshot(prefix) == before
    assert not (sandbox.root.parent / "climbed-out").exists()
