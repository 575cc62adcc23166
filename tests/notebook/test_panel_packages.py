"""The panel's env chooser, package table and its buttons, over the real CLI."""

from __future__ import annotations

import pytest

from jupyter_envmgr.channels import TestChannels
from jupyter_envmgr.notebook import panel as panel_module

from ..helpers import Sandbox, installed, on, versions
from .conftest import click, output_text, table_names, use_channels


def test_panel_opens_on_the_chosen_env_with_its_packages(env, open_panel):
    panel = open_panel(env)
    assert panel.model.selected == str(env)
    assert panel.env_select.value == str(env)
    assert table_names(panel) == {"python", "delta"}
    assert "delta" in panel.package_table.value and "1.0" in panel.package_table.value
    assert "no Jupyter kernel" in panel.kernel_info.value
    assert panel.model.last_error is None and output_text(panel, "stderr") == ""
    assert not panel.busy and not panel.install_button.disabled and panel.cancel_button.disabled


def test_the_kernels_own_env_comes_first_and_is_chosen(
    cli_sandbox: Sandbox, channels: TestChannels, open_panel, monkeypatch
):
    for name in ("a", "own"):
        cli_sandbox.run("create", *on(channels.main_url, name, "python"))
    own = cli_sandbox.envs / "own"
    monkeypatch.setattr(panel_module, "own_prefix", lambda: str(own))
    panel = open_panel()
    label, prefix = panel.env_select.options[0]
    assert prefix == str(own) and "this kernel" in label
    assert panel.model.selected == str(own)
    assert "This notebook's kernel runs in it" in panel.kernel_info.value


def test_choosing_another_env_shows_its_packages(
    env, cli_sandbox: Sandbox, channels: TestChannels, open_panel
):
    cli_sandbox.run("create", *on(channels.main_url, "other", "python", "gamma"))
    panel = open_panel(env)
    panel.env_select.value = str(cli_sandbox.envs / "other")  # as the frontend sets it
    assert panel.wait(120)
    assert panel.model.selected == str(cli_sandbox.envs / "other")
    assert table_names(panel) == {"python", "gamma"}
    assert "gamma" in panel.package_table.value


def test_install_button_installs_the_spec_and_refreshes_the_table(env, open_panel):
    panel = open_panel(env)
    panel.spec_text.value = "alpha=1.5 beta=1.0"
    click(panel, panel.install_button)
    assert versions(env)["alpha"] == "1.5" and versions(env)["beta"] == "1.0"
    assert {"alpha", "beta"} <= table_names(panel)
    assert "alpha" in panel.package_table.value
    assert "+ alpha 1.5" in output_text(panel, "stdout")
    assert panel.model.status == "Done." and panel.progress_bar.value == 1.0
    assert panel.model.revisions[-1]["number"] == panel.revisions_select.value


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("nonexistent-pkg", "nonexistent-pkg"),
        ("alpha[build_number=x", "Could not read package spec"),
        ("'alpha", "Could not read the package specs"),
        ("-p /elsewhere", "cannot start with '-'"),
        ("", "Type package specs first"),
    ],
)
def test_a_bad_spec_is_said_in_the_output_and_nothing_changes(env, open_panel, spec, words):
    panel = open_panel(env)
    before = installed(env)
    panel.spec_text.value = spec
    click(panel, panel.install_button)  # raises nothing
    assert words in output_text(panel, "stderr")
    assert panel.model.last_error and words in panel.model.last_error
    assert "Traceback" not in output_text(panel)
    assert installed(env) == before
    assert not panel.busy and not panel.install_button.disabled


def test_remove_button_removes_and_refreshes(env, open_panel):
    panel = open_panel(env)
    panel.spec_text.value = "delta"
    click(panel, panel.remove_button)
    assert "delta" not in installed(env)
    assert table_names(panel) == {"python"}
    assert "- delta 1.0" in output_text(panel, "stdout")


def test_update_all_takes_every_package_to_the_newest(
    cli_sandbox: Sandbox, channels: TestChannels, open_panel
):
    cli_sandbox.run("create", *on(channels.main_url, "u", "python", "alpha", "delta"))
    prefix = cli_sandbox.envs / "u"
    use_channels(cli_sandbox, channels.extra_url, channels.main_url)  # newer alpha and delta
    panel = open_panel(prefix)
    click(panel, panel.update_all_button)
    assert versions(prefix)["alpha"] == "9.0" and versions(prefix)["delta"] == "5.0"
    shown = {p["name"]: p["version"] for p in panel.model.packages}
    assert shown["alpha"] == "9.0" and shown["delta"] == "5.0"


def test_update_button_updates_only_the_named_package(
    cli_sandbox: Sandbox, channels: TestChannels, open_panel
):
    cli_sandbox.run("create", *on(channels.main_url, "u", "python", "alpha", "delta"))
    prefix = cli_sandbox.envs / "u"
    use_channels(cli_sandbox, channels.extra_url, channels.main_url)
    panel = open_panel(prefix)
    panel.spec_text.value = "delta"
    click(panel, panel.update_button)
    assert versions(prefix)["delta"] == "5.0" and versions(prefix)["alpha"] == "2.0"


def test_search_lists_the_channels_versions_and_changes_nothing(env, open_panel):
    panel = open_panel(env)
    before = installed(env)
    panel.search_text.value = "alpha"
    click(panel, panel.search_button)
    results = panel.search_results.value
    assert all(f"<td>{v}</td>" in results for v in ("1.0", "1.5", "2.0")), results
    assert results.index("2.0") < results.index("1.5")  # newest first
    assert installed(env) == before
    panel.search_text.value = "nonexistent-pkg"
    click(panel, panel.search_button)
    assert "No package matches" in panel.search_results.value


def test_the_kernel_line_names_the_kernel_once_ipykernel_is_in(env, open_panel):
    panel = open_panel(env)
    assert "no Jupyter kernel" in panel.kernel_info.value
    panel.spec_text.value = "ipykernel"
    click(panel, panel.install_button)
    assert "This env's kernel:" in panel.kernel_info.value
    assert "conda-env-e-python3" in panel.kernel_info.value


def test_without_the_cli_the_panel_says_so(env, open_panel):
    from jupyter_envmgr.notebook.client import EnvmgrClient

    panel = open_panel(env, client=EnvmgrClient(["/nonexistent/python", "-m", "jupyter_envmgr"]))
    assert "Could not start envmgr" in output_text(panel, "stderr")
    assert panel.model.status == "Failed." and panel.install_button.disabled  # no env known
    click(panel, panel.refresh_button)
    assert output_text(panel, "stderr").count("Could not start envmgr") == 2
