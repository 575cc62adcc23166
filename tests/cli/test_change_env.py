"""install / remove / update / update --all change exactly what the plan said."""

from __future__ import annotations

import subprocess

import pytest

from ..helpers import installed, on, tree_snapshot, versions


@pytest.fixture
def pyenv(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "e", "python", "alpha=1.0"))
    return sandbox.envs / "e"


@pytest.fixture
def depenv(sandbox, channels):
    """alpha is only a dependency here (of beta 1.0), so it may move."""
    sandbox.run("create", *on(channels.main_url, "e", "python", "beta=1.0"))
    return sandbox.envs / "e"


def _apply_plan(before: dict, plan: dict) -> dict:
    after = dict(before)
    for rec in plan["remove"]:
        del after[rec["name"]]
    for rec in plan["add"]:
        after[rec["name"]] = rec["version"]
    for change in plan["change"]:
        after[change["to"]["name"]] = change["to"]["version"]
    return after


@pytest.mark.parametrize(
    "verb_args",
    [
        ("install", "delta"),
        ("install", "beta=2.0"),  # forces alpha up to 2.0
        ("remove", "beta"),  # and its dependency alpha, which nobody asked for
        ("remove", "alpha"),  # and beta, which depends on it
        ("update", "beta"),
    ],
)
def test_change_matches_the_dry_run_plan(sandbox, channels, depenv, verb_args):
    verb, *args = verb_args
    common = ["-n", "e", "-c", channels.main_url, "--override-channels", "--json"]
    before = versions(depenv)
    snap = tree_snapshot(depenv)
    dry = sandbox.run(verb, *common, *args, "--dry-run").result()
    assert tree_snapshot(depenv) == snap, "--dry-run must not touch the env"
    expected = _apply_plan(before, dry["plan"])
    assert expected != before
    real = sandbox.run(verb, *common, *args, "-y").result()
    assert real["plan"] == dry["plan"]
    assert versions(depenv) == expected


def test_install_then_import_and_history_records_specs(sandbox, channels, depenv):
    sandbox.run("install", *on(channels.main_url, "e", "beta=2.0"))
    assert versions(depenv)["alpha"] == "2.0"
    imported = subprocess.run(
        [str(depenv / "bin" / "python"), "-c", "import alpha, beta; print(alpha.__version__)"],
        capture_output=True,
        text=True,
    )
    assert imported.stdout.strip() == "2.0", imported.stderr
    history = (depenv / "conda-meta" / "history").read_text()
    assert "# update specs: ['beta=2.0']" in history
    build = installed(depenv)["alpha"][1]
    assert f"-{channels.main_url}/noarch::alpha-1.5-{build}" in history
    assert f"+{channels.main_url}/noarch::alpha-2.0-{build}" in history


def test_remove_works_offline_without_any_channel(sandbox, depenv):
    # No -c, and the configured conda-forge is unreachable here: remove must not need it.
    sandbox.run("remove", "-n", "e", "beta", "-y")
    assert set(installed(depenv)) == {"python"}


def test_remove_takes_dependents_along(sandbox, channels, pyenv):
    sandbox.run("install", *on(channels.main_url, "e", "beta=1.0"))
    sandbox.run("remove", "-n", "e", "alpha", "-y")
    names = set(installed(pyenv))
    assert "alpha" not in names and "beta" not in names and "python" in names
    assert "# remove specs: ['alpha']" in (pyenv / "conda-meta" / "history").read_text()


def test_update_all_respects_user_constraints(sandbox, channels):
    common = ["-n", "c", "-c", channels.main_url, "--override-channels", "-y"]
    sandbox.run("create", *common, "python", "alpha=1.0", "delta=1.0")
    # alpha 1.0 already satisfies 'alpha<2', and installed versions are kept: nothing moves.
    sandbox.run("install", *common, "alpha<2")
    assert versions(sandbox.envs / "c")["alpha"] == "1.0"
    plan = sandbox.run("update", *common, "--all", "--json").result()["plan"]
    assert [(c["to"]["name"], c["kind"]) for c in plan["change"]] == [("alpha", "upgrade")]
    got = versions(sandbox.envs / "c")
    assert got["alpha"] == "1.5"  # highest allowed by the user's 'alpha<2'
    assert got["delta"] == "1.0"  # pinned by the user's 'delta=1.0'


def test_strict_channel_priority_follows_the_order_given(sandbox, channels):
    sandbox.run(
        "create",
        "-n",
        "ex",
        "-c",
        channels.extra_url,
        "-c",
        channels.main_url,
        "--override-channels",
        "python",
        "alpha",
        "-y",
    )
    assert installed(sandbox.envs / "ex")["alpha"][0] == "9.0"
    assert installed(sandbox.envs / "ex")["alpha"][2].rstrip("/") == channels.extra_url
    sandbox.run(
        "create",
        "-n",
        "mx",
        "-c",
        channels.main_url,
        "-c",
        channels.extra_url,
        "--override-channels",
        "python",
        "alpha",
        "-y",
    )
    # Strict: alpha exists in main, so extra's higher version is never considered.
    assert installed(sandbox.envs / "mx")["alpha"][0] == "2.0"


def test_channel_prefix_in_spec_picks_that_channel(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "cp", f"{channels.extra_url}::delta"))
    version, _, channel = installed(sandbox.envs / "cp")["delta"]
    assert version == "5.0" and channel.rstrip("/") == channels.extra_url


def test_channel_name_prefix_resolves_through_custom_channels(sandbox, channels):
    # `extra::delta` with a name, as users write `conda-forge::numpy`.
    base = channels.extra.parent
    (sandbox.home / ".condarc").write_text(
        f"custom_channels:\n  {channels.extra.name}: file://{base}\n"
    )
    sandbox.run("create", *on(channels.main_url, "cn", f"{channels.extra.name}::delta"))
    assert installed(sandbox.envs / "cn")["delta"][0] == "5.0"
