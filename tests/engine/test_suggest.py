"""`engine.suggest.suggest_specs`, the create form's placeholder: specs that the channels have
(the newest Python that ipykernel has a build for, ipykernel, familiar packages that have a
build for that Python), nothing when nothing is known, and every check before a read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from jupyter_envmgr.channels import index_channel
from jupyter_envmgr.channels.synthetic import generic_package, python_module_package
from jupyter_envmgr.engine.errors import ChannelError, Forbidden
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.settings import Settings, load_settings
from jupyter_envmgr.engine.suggest import suggest_specs

from ..helpers import installed, on


def _settings(tmp_path: Path) -> Settings:
    (tmp_path / "home").mkdir(parents=True)
    return load_settings(
        env={"HOME": str(tmp_path / "home"), "MAMBA_ROOT_PREFIX": str(tmp_path / "root")}
    )


def _suggest(settings: Settings, *channels: Path, policy: Policy | None = None) -> list[str]:
    found = asyncio.run(suggest_specs(settings, [c.as_uri() for c in channels], policy=policy))
    assert found["channels"] == [c.as_uri() for c in channels]
    return found["specs"]


def _python_only_for(channel: Path, name: str, minor: str) -> None:
    """`name` built for one Python minor only, as a compiled package is."""
    upper = f"{minor.split('.')[0]}.{int(minor.split('.')[1]) + 1}"
    generic_package(channel / "noarch", name, "1.0", [], depends=[f"python >={minor},<{upper}"])


def test_the_newest_python_that_ipykernel_has_a_build_for_and_familiar_packages(tmp_path):
    channel = tmp_path / "chan"
    for version in ("3.11.9", "3.12.4", "3.13.1"):
        generic_package(channel / "noarch", "python", version, [])
    _python_only_for(channel, "ipykernel", "3.12")  # none for 3.13 yet
    python_module_package(channel / "noarch", "requests", "2.0")  # noarch: any python
    _python_only_for(channel, "numpy", "3.12")
    _python_only_for(channel, "pandas", "3.11")  # not for the Python suggested
    python_module_package(channel / "noarch", "scipy", "1.0")  # a third familiar one
    index_channel(channel)
    assert _suggest(_settings(tmp_path), channel) == ["python=3.12", "ipykernel", "numpy", "scipy"]


def test_without_ipykernel_the_newest_python(tmp_path):
    channel = tmp_path / "chan"
    for version in ("3.10.2", "3.12.0"):
        generic_package(channel / "noarch", "python", version, [])
    generic_package(channel / "noarch", "solo", "1.0", [])
    index_channel(channel)
    assert _suggest(_settings(tmp_path), channel) == ["python=3.12"]


def test_nothing_is_suggested_when_nothing_is_known(tmp_path):
    settings = _settings(tmp_path)
    no_python = tmp_path / "nopython"
    generic_package(no_python / "noarch", "solo", "1.0", [])
    index_channel(no_python)
    assert _suggest(settings, no_python) == []
    # A channel that cannot be read (nothing listens there): nothing, and no error.
    found = asyncio.run(suggest_specs(settings, ["http://127.0.0.1:9/nothing"]))
    assert found == {"specs": [], "channels": ["http://127.0.0.1:9/nothing"]}


def test_channels_are_checked_before_anything_is_read(tmp_path):
    settings = _settings(tmp_path)
    missing = tmp_path / "missing"
    allowed = Policy(allowed_channels=((tmp_path / "allowed").as_uri(),))
    with pytest.raises(Forbidden):
        _suggest(settings, missing, policy=allowed)
    with pytest.raises(ChannelError, match="does not exist"):
        _suggest(settings, missing)


def test_an_env_created_from_the_suggestion_solves_and_installs(tmp_path, sandbox, channels):
    # The main test channel: real python and ipykernel packages.
    specs = _suggest(_settings(tmp_path / "reader"), channels.main)
    minor = ".".join(channels.python_version.split(".")[:2])
    assert specs[:2] == [f"python={minor}", "ipykernel"]
    sandbox.run("create", *on(channels.main_url, "suggested", *specs))
    assert {s.split("=")[0] for s in specs} <= set(installed(sandbox.envs / "suggested"))
