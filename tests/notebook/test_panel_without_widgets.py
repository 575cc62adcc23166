"""In a kernel whose env has no ipywidgets, `%envmgr panel` says how to get them."""

from __future__ import annotations

import sys

import pytest

from jupyter_envmgr.notebook.client import EnvmgrClient
from jupyter_envmgr.notebook.panel import NEEDS_IPYWIDGETS, EnvPanel, show_panel


@pytest.fixture
def no_ipywidgets(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets -> ImportError
    monkeypatch.delitem(sys.modules, "jupyter_envmgr.notebook.panel_view", raising=False)


def test_show_panel_says_to_install_ipywidgets(no_ipywidgets, capsys):
    assert show_panel(EnvmgrClient(["/nonexistent/python"])) is None
    out = capsys.readouterr().out
    assert "The panel needs ipywidgets in this environment" in out
    assert "%envmgr install ipywidgets" in out


def test_making_the_panel_says_the_same(no_ipywidgets):
    with pytest.raises(ImportError, match="%envmgr install ipywidgets"):
        EnvPanel(EnvmgrClient(["/nonexistent/python"]))
    assert "%envmgr panel again" in NEEDS_IPYWIDGETS
