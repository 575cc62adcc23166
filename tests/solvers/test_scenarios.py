"""create / install / update / update --all / remove on the test channels, through the CLI with
each `--solver`: the same outcomes, and every env left behind passes the independent check."""

from __future__ import annotations

from pathlib import Path

import pytest
import rattler

from jupyter_envmgr.engine.errors import Forbidden
from jupyter_envmgr.engine.operations import Request, prepare
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.prefix import read_records, requested_specs
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.engine.solution_check import solution_problems

from ..helpers import installed, versions


def _valid(prefix: Path) -> None:
    records = read_records(prefix)
    requested = [rattler.MatchSpec(s) for s in requested_specs(prefix).values()]
    virtual = rattler.VirtualPackage.detect()
    assert solution_problems(records, requested=requested, virtual_packages=virtual) == []


def _without_python(prefix: Path) -> dict[str, str]:
    got = versions(prefix)
    assert "python" in got
    return {name: v for name, v in got.items() if name != "python"}


def test_create_install_update_remove(sandbox, channels, solver):
    common = ["-n", "e", "-c", channels.main_url, "--override-channels", "--solver", solver, "-y"]
    prefix = sandbox.envs / "e"

    sandbox.run("create", *common, "python", "beta=1.0")
    assert _without_python(prefix) == {"beta": "1.0", "alpha": "1.5"}  # alpha <2 for beta 1.0
    _valid(prefix)

    sandbox.run("install", *common, "delta=1.0")  # a new package; nothing else moves
    assert _without_python(prefix) == {"beta": "1.0", "alpha": "1.5", "delta": "1.0"}
    _valid(prefix)

    sandbox.run("install", *common, "beta=2.0")  # forces its dependency alpha up
    assert _without_python(prefix) == {"beta": "2.0", "alpha": "2.0", "delta": "1.0"}
    _valid(prefix)

    sandbox.run("update", *common, "delta")  # 'delta' replaces the user's 'delta=1.0'
    assert _without_python(prefix) == {"beta": "2.0", "alpha": "2.0", "delta": "1.1"}
    _valid(prefix)

    sandbox.run("remove", *common, "beta")  # and alpha, which only beta needed
    assert _without_python(prefix) == {"delta": "1.1"}
    _valid(prefix)


def test_update_all_respects_user_constraints(sandbox, channels, solver):
    common = ["-n", "c", "-c", channels.main_url, "--override-channels", "--solver", solver, "-y"]
    prefix = sandbox.envs / "c"
    sandbox.run("create", *common, "python", "alpha=1.0", "delta=1.0")
    sandbox.run("install", *common, "alpha<2")  # 1.0 satisfies it and installed ones stay
    assert versions(prefix)["alpha"] == "1.0"
    plan = sandbox.run("update", *common, "--all", "--json").result()["plan"]
    assert [(c["to"]["name"], c["kind"]) for c in plan["change"]] == [("alpha", "upgrade")]
    assert _without_python(prefix) == {"alpha": "1.5", "delta": "1.0"}  # the highest alpha<2
    _valid(prefix)


def _dry_create(sandbox, solver, *args: str) -> dict[str, tuple[str, str]]:
    result = sandbox.run(
        "create", "-n", "dry", "--solver", solver, "--dry-run", "--json", *args
    ).result()
    return {r["name"]: (r["version"], r["channel"]) for r in result["plan"]["add"]}


def test_strict_channel_priority_and_channel_prefixed_specs(sandbox, channels, solver):
    main, extra = channels.main_url, channels.extra_url
    first_extra = _dry_create(
        sandbox, solver, "-c", extra, "-c", main, "--override-channels", "python", "alpha"
    )
    assert first_extra["alpha"][0] == "9.0"
    # Strict: alpha is in main, so extra's higher version is never considered.
    first_main = _dry_create(
        sandbox, solver, "-c", main, "-c", extra, "--override-channels", "python", "alpha"
    )
    assert first_main["alpha"][0] == "2.0"
    # `channel::pkg` takes pkg from there, even from a channel of lower priority.
    sandbox.run("create", "-n", "cp", "-c", main, "--override-channels", "--solver", solver,
                f"{extra}::delta", "python", "-y")  # fmt: skip
    version, _, channel = installed(sandbox.envs / "cp")["delta"]
    assert version == "5.0" and channel.rstrip("/") == extra


def test_unsatisfiable_is_one_error_type_with_the_solvers_explanation(sandbox, channels, solver):
    # gamma forbids alpha >=1.5 without depending on it.
    args = ["-c", channels.main_url, "--override-channels", "gamma", "alpha=2"]
    failed = sandbox.run(
        "create", "-n", "u", "--solver", solver, "--dry-run", "--json", *args, check=False
    )
    assert failed.returncode != 0
    error = failed.result()
    assert error["event"] == "error" and error["reason"] == "unsatisfiable"
    assert error["message"].startswith("The request cannot be satisfied:")
    assert "gamma" in error["message"] and "alpha" in error["message"]
    wording = {"rattler": "Cannot solve the request", "libmamba": "Could not solve for environment"}
    assert wording[solver] in error["message"]
    assert not (sandbox.envs / "u").exists()


def test_a_channel_named_in_history_keeps_its_package(sandbox, channels, solver):
    # `extra::delta` with a name from custom_channels, as users write `conda-forge::numpy`: the
    # history keeps the name, and a later install must keep delta from there.
    base = channels.extra.parent
    (sandbox.home / ".condarc").write_text(
        f"custom_channels:\n  {channels.extra.name}: file://{base}\n"
    )
    common = ["-n", "cn", "-c", channels.main_url, "--override-channels", "--solver", solver, "-y"]
    sandbox.run("create", *common, f"{channels.extra.name}::delta", "python")
    sandbox.run("install", *common, "alpha")
    got = installed(sandbox.envs / "cn")
    assert got["delta"][0] == "5.0" and got["alpha"][0] == "2.0"
    _valid(sandbox.envs / "cn")


def test_a_channel_named_through_channel_alias_in_history_keeps_its_package(
    sandbox, channels, solver
):
    # `extra::delta` resolved with channel_alias, as `conda-forge::numpy` is with the default
    # alias: history keeps the name, and later solves must read it as it was written (the
    # alias's extra), also `update --all`, which holds nothing installed back.
    base = channels.main.parent
    assert channels.extra.parent == base
    (sandbox.home / ".condarc").write_text(
        f"channel_alias: {base.as_uri()}\nchannels: [{channels.main.name}, {channels.extra.name}]\n"
    )
    common = ["-n", "ca", "--solver", solver, "-y"]
    sandbox.run("create", *common, f"{channels.extra.name}::delta", "python")
    assert installed(sandbox.envs / "ca")["delta"][0] == "5.0"
    sandbox.run("install", *common, "alpha")
    sandbox.run("update", *common, "--all")
    got = installed(sandbox.envs / "ca")
    assert got["delta"][0] == "5.0" and got["alpha"][0] == "2.0"
    assert got["delta"][2].rstrip("/") == channels.extra_url
    _valid(sandbox.envs / "ca")


@pytest.mark.parametrize("mapping", ["channel_alias", "custom_channels"])
def test_specs_pinned_to_a_mirrored_conda_forge_stay_solvable(sandbox, channels, solver, mapping):
    # Issue 26: `conda-forge` mapped to a mirror by the rc file; after
    # `create python conda-forge::alpha conda-forge::beta`, later solves read those history
    # specs as written (the mirror, not conda.anaconda.org) and find their records there.
    mirror = sandbox.home / "mirror"
    mirror.mkdir()
    (mirror / "conda-forge").symlink_to(channels.main)
    rc = f"channel_alias: {mirror.as_uri()}\n"
    if mapping == "custom_channels":
        rc = f"custom_channels:\n  conda-forge: {mirror.as_uri()}\n"
    (sandbox.home / ".condarc").write_text(rc + "channels: [conda-forge]\n")
    common = ["-n", "t", "--solver", solver, "-y"]
    prefix = sandbox.envs / "t"
    sandbox.run("create", *common, "python", "conda-forge::alpha", "conda-forge::beta")
    assert _without_python(prefix) == {"alpha": "2.0", "beta": "2.0"}
    sandbox.run("install", *common, "alpha=1.0")  # beta 2.0 needs alpha >=2: beta moves
    assert _without_python(prefix) == {"alpha": "1.0", "beta": "1.0"}
    sandbox.run("update", *common, "--all")
    assert _without_python(prefix) == {"alpha": "1.0", "beta": "1.0"}
    assert {r[2].rstrip("/") for r in installed(prefix).values()} == {
        (mirror / "conda-forge").as_uri()
    }
    _valid(prefix)


def test_a_channel_kept_in_history_is_searched_again(sandbox, channels, solver):
    # `extra::alpha` installed with only main given: later solves search extra too (after the
    # requested channels), as conda and micromamba do, without `-c extra` again.
    common = ["-n", "h", "-c", channels.main_url, "--override-channels", "--solver", solver, "-y"]
    prefix = sandbox.envs / "h"
    sandbox.run("create", *common, "python", "delta")
    sandbox.run("install", *common, f"{channels.extra_url}::alpha")
    sandbox.run("update", *common, "--all")
    assert _without_python(prefix) == {"alpha": "9.0", "delta": "1.1"}
    assert installed(prefix)["alpha"][2].rstrip("/") == channels.extra_url
    plan = sandbox.run("install", *common, "alpha=2.0", "--json").result()["plan"]
    # A new spec for alpha replaces the pinned one: main's alpha, extra no longer searched.
    assert [(c["to"]["version"], c["to"]["channel"]) for c in plan["change"]] == [
        ("2.0", channels.main_url)
    ]
    _valid(prefix)


def test_a_channel_kept_in_history_is_checked_against_the_allow_list(sandbox, channels):
    common = ["-n", "p", "-c", channels.main_url, "--override-channels", "-y"]
    sandbox.run("create", *common, "python", f"{channels.extra_url}::alpha")
    settings = load_settings(sandbox.env)
    request = Request("update-all", name="p", channels=[channels.main_url], override_channels=True)
    allowed = Policy(allowed_channels=(channels.main_url, channels.extra_url))
    assert prepare(settings, request, allowed).channels == [channels.main_url, channels.extra_url]
    with pytest.raises(Forbidden, match=f"{channels.extra_url} is not allowed") as refused:
        prepare(settings, request, Policy(allowed_channels=(channels.main_url,)))
    assert f"'{channels.extra_url}::alpha', in its history" in refused.value.message


@pytest.mark.parametrize(
    "rc, flags, alpha",
    [
        ("disabled", ["--strict-channel-priority"], "2.0"),  # main's: main comes first
        ("strict", ["--channel-priority", "disabled"], "9.0"),  # the highest, in extra
        ("strict", ["--no-channel-priority"], "9.0"),
        ("disabled", [], "9.0"),  # the rc file's, without a flag
    ],
)
def test_channel_priority_flags_override_the_rc_files(sandbox, channels, solver, rc, flags, alpha):
    (sandbox.home / ".condarc").write_text(f"channel_priority: {rc}\n")
    main, extra = channels.main_url, channels.extra_url
    got = _dry_create(
        sandbox, solver, "-c", main, "-c", extra, "--override-channels", "alpha", *flags
    )
    assert got["alpha"][0] == alpha
