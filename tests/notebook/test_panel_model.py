"""The panel's model and view on their own: no CLI, no kernel."""

from __future__ import annotations

from jupyter_envmgr.notebook.panel_model import PanelModel
from jupyter_envmgr.notebook.panel_view import PanelView


def _env(name: str | None, prefix: str) -> dict:
    return {"name": name, "prefix": prefix, "is_root": False}


def test_the_chooser_lists_the_kernels_env_first_and_tells_same_names_apart():
    model = PanelModel(own_prefix="/b/envs/own")
    model.set_envs([_env("x", "/a/envs/x"), _env("x", "/b/envs/x"), _env("own", "/b/envs/own")])
    assert model.selected == "/b/envs/own"
    assert model.env_choices() == [
        ("own (this kernel's env)", "/b/envs/own"),
        ("x (/a/envs/x)", "/a/envs/x"),
        ("x (/b/envs/x)", "/b/envs/x"),
    ]


def test_an_env_not_in_the_list_can_still_be_chosen():
    model = PanelModel(own_prefix="/venv")  # not a conda env: not offered
    model.set_envs([_env("x", "/a/envs/x")], wanted="/elsewhere/env")
    assert model.selected == "/elsewhere/env"
    assert [p for _, p in model.env_choices()] == ["/elsewhere/env", "/a/envs/x"]
    model.set_envs([_env("x", "/a/envs/x")])  # a refresh keeps the choice
    assert model.selected == "/elsewhere/env"


def test_the_newest_revision_stays_selected_as_revisions_come():
    model = PanelModel(own_prefix="/venv")
    model.set_revisions([{"number": 0}, {"number": 1}])
    assert model.selected_revision == 1
    model.set_revisions([{"number": 0}, {"number": 1}, {"number": 2}])
    assert model.selected_revision == 2
    model.selected_revision = 0
    model.set_revisions([{"number": 0}, {"number": 1}, {"number": 2}, {"number": 3}])
    assert model.selected_revision == 0


def test_the_widgets_keep_their_names_and_descriptions():
    # Browser tests find the widgets by these: change them only with those tests.
    view = PanelView(PanelModel(own_prefix="/venv"), _NoHandlers())
    buttons = {
        "install_button": "Install",
        "remove_button": "Remove",
        "update_button": "Update",
        "update_all_button": "Update all",
        "search_button": "Search",
        "cancel_button": "Cancel",
        "refresh_button": "Refresh",
        "export_button": "Export",
        "rollback_button": "Roll back",
        "clean_preview_button": "Preview clean",
        "clean_button": "Clean",
        "usage_button": "Measure disk use",
    }
    for name, description in buttons.items():
        assert getattr(view, name).description == description
    assert view.spec_text.description == "Packages:"
    assert view.search_text.description == "Search:"
    assert view.env_select.description == "Environment:"
    # The label shows whole: its width is its text's, not ipywidgets' fixed one ("Environm…").
    assert view.env_select.style.description_width == "initial"
    assert set(PanelView.WIDGETS) >= set(buttons)
    assert all(hasattr(view, name) for name in PanelView.WIDGETS)
    # Nothing is chosen yet: nothing that needs an env can be clicked.
    assert view.install_button.disabled and view.cancel_button.disabled


class _NoHandlers(dict):
    def __missing__(self, key):
        return lambda *args: None
