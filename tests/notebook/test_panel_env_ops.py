"""Export, revisions with rollback, the package cache's clean, and disk use, from the panel."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import yaml

from jupyter_envmgr.channels import TestChannels

from ..helpers import Sandbox, on, versions
from .conftest import click, output_text


def test_export_shows_the_yaml_and_offers_a_download(env, open_panel):
    panel = open_panel(env)
    click(panel, panel.export_button)
    text = panel.export_text.value
    data = yaml.safe_load(text)
    assert data["name"] == "e"
    assert any(str(d).startswith("delta=1.0") for d in data["dependencies"])
    link = panel.export_download.value
    assert 'download="e-environment.yml"' in link
    encoded = re.search(r"base64,([A-Za-z0-9+/=]+)", link)
    assert encoded and base64.b64decode(encoded.group(1)).decode() == text

    panel.export_format.value = "explicit"  # as the frontend sets it
    click(panel, panel.export_button)
    assert "@EXPLICIT" in panel.export_text.value
    assert 'download="e-explicit.txt"' in panel.export_download.value


def test_rollback_restores_the_packages_of_the_chosen_revision(env, open_panel):
    panel = open_panel(env)
    panel.spec_text.value = "alpha"
    click(panel, panel.install_button)
    panel.spec_text.value = "delta"
    click(panel, panel.remove_button)
    assert set(versions(env)) == {"python", "alpha"}
    assert [r["number"] for r in panel.model.revisions] == [0, 1, 2]
    assert panel.revisions_select.value == 2  # the newest

    panel.revisions_select.value = 0  # as the frontend sets it
    assert "delta" in panel.revision_details.value
    click(panel, panel.rollback_button)
    assert versions(env) == {"python": versions(env)["python"], "delta": "1.0"}
    assert {p["name"] for p in panel.model.packages} == {"python", "delta"}
    assert panel.model.revisions[-1]["number"] == 3
    assert "- alpha" in output_text(panel, "stdout")


def test_clean_preview_shows_what_goes_then_clean_frees_it(
    cli_sandbox: Sandbox, channels: TestChannels, open_panel, monkeypatch, tmp_path: Path
):
    # A package cache of our own: the session's shared one must not be cleaned.
    pkgs = tmp_path / "own-pkgs"
    monkeypatch.setenv("CONDA_PKGS_DIRS", str(pkgs))
    cli_sandbox.env["CONDA_PKGS_DIRS"] = str(pkgs)
    cli_sandbox.run("create", *on(channels.main_url, "c", "python", "alpha"))
    cli_sandbox.run("remove", "-n", "c", "alpha", "-y")  # alpha is unused in the cache now
    alpha = pkgs / "alpha-2.0-pyh_envmgr_0"
    assert alpha.is_dir()
    panel = open_panel(cli_sandbox.envs / "c")
    assert panel.clean_button.disabled  # nothing previewed yet

    click(panel, panel.clean_preview_button)
    report = panel.clean_report.value
    assert "Cleaning would free" in report and "inodes" in report and alpha.name in report
    assert panel.model.clean_result["plan"]["bytes"] > 0
    assert alpha.is_dir()  # a preview removes nothing

    click(panel, panel.clean_button)
    assert "Freed" in panel.clean_report.value
    assert not alpha.exists()
    assert any(p.name.startswith("python-") for p in pkgs.iterdir())  # the env still uses it
    assert panel.clean_button.disabled  # a new preview first


def test_usage_shows_own_and_shared_bytes_and_inodes(env, open_panel):
    panel = open_panel(env)
    click(panel, panel.usage_button)
    report = panel.usage_report.value
    for word in ("Own", "Shared", "Inodes", "e", "pkgs"):
        assert word in report
    kinds = {t["kind"] for t in panel.model.usage["trees"]}
    assert kinds == {"env", "pkgs"}
