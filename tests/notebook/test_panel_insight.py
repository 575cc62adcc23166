"""The panel's package table shows the package insight: requested or a dependency (and which
requested packages pull it in, on hover), a newer version in the channels, and the channel's
short name with its URL on hover; over the real CLI on a real local channel."""

from __future__ import annotations

import re

from ..engine.test_package_insight import publish
from ..helpers import on
from .conftest import use_channels


def _row(html: str, name: str) -> str:
    found = re.search(rf'<tr data-package="{name}">(.*?)</tr>', html)
    assert found, f"no row for {name} in the table"
    return found.group(1)


def test_the_table_marks_requested_dependencies_updates_and_channels(
    cli_sandbox, tmp_path, open_panel
):
    channel = tmp_path / "panelchan"
    publish(channel, "libcore", "1.0")
    publish(channel, "app", "1.0", ("libcore",))
    use_channels(cli_sandbox, channel.as_uri())
    cli_sandbox.run("create", *on(channel.as_uri(), "pi", "app"))
    publish(channel, "libcore", "1.4")

    panel = open_panel(cli_sandbox.envs / "pi")
    html = panel.package_table.value
    app, lib = _row(html, "app"), _row(html, "libcore")
    assert 'title="You asked for app"' in app and ">requested<" in app
    assert ">dependency<" in lib and 'title="Installed because app needs it"' in lib
    assert ">→ 1.4<" in lib and "→" not in app
    assert f'title="{channel.as_uri()}"' in lib and ">panelchan<" in lib
