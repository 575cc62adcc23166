"""micromamba's flags and verbs as its users' scripts use them (issue 26, items 5-8)."""

from __future__ import annotations

import json
import subprocess

import pytest


def _create(sandbox, channels, name, *specs):
    sandbox.run("create", "-n", name, "-c", channels.main_url, "--override-channels", *specs, "-y")
    return sandbox.envs / name


@pytest.fixture
def two_envs(sandbox, channels):
    return _create(sandbox, channels, "one", "delta"), _create(sandbox, channels, "two", "delta")


# ---------------------------------------------------------------------------------------------
# env list


def test_env_list_skips_exactly_its_header_lines_under_awk_fnr_2(sandbox, two_envs):
    text = sandbox.run("env", "list").stdout
    body = subprocess.run(
        ["awk", "FNR>2"], input=text, capture_output=True, text=True, check=True
    ).stdout
    names = [line.split()[0] for line in body.splitlines()]
    assert names == ["one", "two"]  # the first env is not eaten with the header
    assert text.splitlines()[0].split() == ["Name", "Active", "Path"]


def test_env_list_json_is_micromamba_shaped_with_details_beside(sandbox, two_envs):
    out = sandbox.run("env", "list", "--json").stdout
    data = json.loads(out)  # one JSON document, as `json.load` in a script reads it
    assert data["envs"] == [str(p) for p in two_envs]
    assert [e["name"] for e in data["environments"]] == ["one", "two"]
