"""`envmgr list` with package insight: `--json` carries what was requested, what is updatable,
the channel's short name and URL and why each package is installed (the old fields kept); the
table marks requested and updatable packages; `list --why PKG` answers in words."""

from __future__ import annotations

from ..engine.test_package_insight import configure, publish
from ..helpers import on


def test_list_marks_requested_updatable_and_why(sandbox, tmp_path):
    channel = tmp_path / "listchan"
    publish(channel, "libcore", "1.0")
    publish(channel, "app", "1.0", ("libcore",))
    configure(sandbox, channel.as_uri())
    sandbox.run("create", *on(channel.as_uri(), "li", "app"))
    publish(channel, "libcore", "1.2")

    packages = sandbox.run("list", "-n", "li", "--json").result()["packages"]
    by_name = {p["name"]: p for p in packages}
    app, lib = by_name["app"], by_name["libcore"]
    # The fields scripts read already stay; the channel is its short name, the URL beside it.
    assert {"name", "version", "build", "channel", "size"} <= app.keys()
    assert app["channel"] == "listchan" and app["channel_url"] == channel.as_uri()
    assert app["requested"] is True and app["requested_spec"] == "app"
    assert lib["requested"] is False and lib["required_by"] == ["app"]
    assert lib["updatable"] == "1.2" and lib["updates_known"] is True
    assert app["updatable"] is None

    rows = {
        line.split()[0]: line.split()[4:]
        for line in sandbox.run("list", "-n", "li").stdout.splitlines()
        if line.startswith("  ")
    }
    assert rows["app"] == ["requested"]
    assert rows["libcore"] == ["update", "1.2"]

    why = sandbox.run("list", "-n", "li", "--why", "libcore").stdout
    assert "libcore 1.0 is needed by: app (requested)" in why
    asked = sandbox.run("list", "-n", "li", "--why", "app", "--json").result()
    assert asked["requested"] is True and asked["package"]["requested_spec"] == "app"
    missing = sandbox.run("list", "-n", "li", "--why", "nothere", check=False)
    assert missing.returncode == 1 and "not installed in this environment" in missing.stderr
