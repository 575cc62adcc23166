"""`envmgr search`: what the channels have, newest first, without touching any env."""

from __future__ import annotations

from ..helpers import tree_snapshot


def test_search_lists_versions_newest_first(sandbox, channels):
    snap = tree_snapshot(sandbox.root)
    result = sandbox.run("search", "alpha", "-c", channels.main_url, "--json").result()
    versions = [p["version"] for p in result["packages"] if p["name"] == "alpha"]
    assert versions == ["2.0", "1.5", "1.0"], versions
    narrowed = sandbox.run("search", "alpha>=1.5", "-c", channels.main_url, "--json").result()
    assert {p["version"] for p in narrowed["packages"]} == {"2.0", "1.5"}
    text = sandbox.run("search", "alpha", "-c", channels.extra_url).stdout
    assert "9.0" in text
    assert tree_snapshot(sandbox.root) == snap


def test_search_errors_are_one_line(sandbox, channels):
    res = sandbox.run("search", "alpha", "-c", "file:///nonexistent/channel", check=False)
    assert (
        res.returncode == 1 and res.stderr.startswith("error:") and "does not exist" in res.stderr
    )
    res = sandbox.run("search", 'alpha[build_number="99999999999999999999"]', check=False)
    assert res.returncode == 1 and "too large" in res.stderr, res
