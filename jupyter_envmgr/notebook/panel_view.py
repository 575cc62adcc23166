"""The panel's widgets: stock ipywidgets, laid out once, repainted from the PanelModel.

Imports ipywidgets at once: panel.py imports this module only when the panel is made, and
says how to install ipywidgets when it is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from .panel_html import (
    clean_html,
    download_html,
    kernel_html,
    packages_html,
    revision_html,
    revision_label,
    search_html,
    usage_html,
)
from .panel_model import PanelModel

Handlers = dict[str, Callable[..., None]]

_EXPORT_CHOICES = [
    ("environment.yml", "yaml"),
    ("environment.yml, only what was asked for", "from-history"),
    ("explicit URLs", "explicit"),
    ("lock file", "lock"),
]


def _button(description: str, tooltip: str, style: str = "") -> Any:
    return widgets.Button(
        description=description,
        tooltip=tooltip,
        button_style=style,
        layout=widgets.Layout(width="auto"),
    )


class PanelView:
    """The widgets, as attributes with stable names (tests and browser tests use them)."""

    # Widgets an EnvPanel hands out as its own attributes.
    WIDGETS = (
        "env_select",
        "refresh_button",
        "kernel_info",
        "progress_bar",
        "progress_label",
        "cancel_button",
        "spec_text",
        "install_button",
        "remove_button",
        "update_button",
        "update_all_button",
        "search_text",
        "search_button",
        "search_results",
        "package_table",
        "export_format",
        "export_button",
        "export_text",
        "export_download",
        "revisions_select",
        "rollback_button",
        "revision_details",
        "clean_preview_button",
        "clean_button",
        "clean_report",
        "usage_button",
        "usage_report",
        "tabs",
        "output",
    )

    def __init__(self, model: PanelModel, on: Handlers) -> None:
        self.model = model
        self._rendering_thread: int | None = None
        wide = widgets.Layout(width="auto", flex="1 1 auto")

        # The label's width is its own ("initial"): ipywidgets' default cuts it to "Environm…".
        self.env_select = widgets.Dropdown(
            description="Environment:",
            options=[],
            layout=widgets.Layout(width="60%"),
            style={"description_width": "initial"},
        )
        self.refresh_button = _button("Refresh", "Read the environments and packages again")
        self.kernel_info = widgets.HTML()

        self.progress_bar = widgets.FloatProgress(min=0.0, max=1.0, value=0.0)
        self.progress_label = widgets.Label(model.status)
        self.cancel_button = _button(
            "Cancel", "Stop the running operation; the environment is restored", "warning"
        )

        self.spec_text = widgets.Text(
            description="Packages:", placeholder="numpy>=1.26 scipy", layout=wide
        )
        self.install_button = _button("Install", "Install these specs", "primary")
        self.remove_button = _button("Remove", "Remove these packages (and what needs them)")
        self.update_button = _button("Update", "Update these packages")
        self.update_all_button = _button("Update all", "Update every package of the env")
        self.search_text = widgets.Text(
            description="Search:", placeholder="a package, e.g. numpy or numpy>=2", layout=wide
        )
        self.search_button = _button("Search", "Show what installing it would change")
        self.search_results = widgets.HTML()
        self.package_table = widgets.HTML(
            layout=widgets.Layout(max_height="360px", overflow="auto")
        )

        self.export_format = widgets.Dropdown(
            description="Format:", options=_EXPORT_CHOICES, value=model.export_format
        )
        self.export_button = _button("Export", "Export the environment")
        self.export_text = widgets.Textarea(
            placeholder="The export shows here.",
            layout=widgets.Layout(width="100%", height="220px"),
        )
        self.export_download = widgets.HTML()

        self.revisions_select = widgets.Select(
            description="Revisions:", options=[], rows=8, layout=widgets.Layout(width="60%")
        )
        self.rollback_button = _button(
            "Roll back", "Make the environment what it was at this revision", "warning"
        )
        self.revision_details = widgets.HTML()

        self.clean_preview_button = _button(
            "Preview clean", "Show what cleaning the package cache would remove"
        )
        self.clean_button = _button("Clean", "Remove what the preview shows", "danger")
        self.clean_report = widgets.HTML()

        self.usage_button = _button("Measure disk use", "Own and shared bytes, inodes")
        self.usage_report = widgets.HTML()

        self.output = widgets.Output()

        row = widgets.HBox
        packages = widgets.VBox(
            [
                row([self.spec_text, self.install_button, self.remove_button,
                     self.update_button, self.update_all_button]),
                row([self.search_text, self.search_button]),
                self.search_results,
                self.package_table,
            ]
        )  # fmt: skip
        export = widgets.VBox(
            [row([self.export_format, self.export_button]), self.export_text, self.export_download]
        )
        revisions = widgets.VBox(
            [row([self.revisions_select, self.rollback_button]), self.revision_details]
        )
        cache = widgets.VBox([row([self.clean_preview_button, self.clean_button]),
                              self.clean_report])  # fmt: skip
        usage = widgets.VBox([self.usage_button, self.usage_report])
        self.tabs = widgets.Tab()
        self.tabs.children = [packages, export, revisions, cache, usage]
        for index, title in enumerate(
            ("Packages", "Export", "Revisions", "Package cache", "Disk use")
        ):
            self.tabs.set_title(index, title)
        self.root = widgets.VBox()
        self.root.children = [
            widgets.HTML("<b>Conda environments</b>"),
            row([self.env_select, self.refresh_button]),
            self.kernel_info,
            row([self.progress_bar, self.progress_label, self.cancel_button]),
            self.tabs,
            self.output,
        ]

        clicks = {
            self.refresh_button: "refresh",
            self.cancel_button: "cancel",
            self.install_button: "install",
            self.remove_button: "remove",
            self.update_button: "update",
            self.update_all_button: "update-all",
            self.search_button: "search",
            self.export_button: "export",
            self.rollback_button: "rollback",
            self.clean_preview_button: "clean-preview",
            self.clean_button: "clean",
            self.usage_button: "usage",
        }
        for button, name in clicks.items():
            handler = on[name]
            button.on_click(lambda _b, handler=handler: handler())
        self.env_select.observe(on["select-env"], names="value")
        self.revisions_select.observe(on["select-revision"], names="value")
        self.export_format.observe(on["export-format"], names="value")
        self.render()

    @property
    def rendering(self) -> bool:
        """True while this thread repaints: value changes then are ours, not the user's."""
        return self._rendering_thread == threading.get_ident()

    @staticmethod
    def _set(widget: Any, trait: str, value: Any) -> None:
        """Send a value only when the widget shows another one."""
        if getattr(widget, trait) != value:
            setattr(widget, trait, value)

    def render(self) -> None:
        self._rendering_thread = threading.get_ident()
        try:
            self._render()
        finally:
            self._rendering_thread = None

    def _render(self) -> None:
        m = self.model
        busy = m.busy is not None
        has_env = m.selected is not None
        env = m.selected_env()

        self._set(self.env_select, "options", tuple(m.env_choices()))
        self._set(self.env_select, "value", m.selected if has_env else None)
        self._set(self.env_select, "disabled", busy)
        self._set(self.refresh_button, "disabled", busy)
        self._set(
            self.kernel_info,
            "value",
            kernel_html(m.kernels_of_selected(), m.selected_is_own(), has_env),
        )

        for button in (
            self.install_button,
            self.remove_button,
            self.update_button,
            self.update_all_button,
            self.search_button,
            self.export_button,
            self.usage_button,
        ):
            self._set(button, "disabled", busy or not has_env)
        self._set(self.clean_preview_button, "disabled", busy)
        self._set(self.clean_button, "disabled", busy or not m.clean_would_free())

        self._set(self.package_table, "value", packages_html(m.packages, env) if has_env else "")
        self._set(
            self.search_results,
            "value",
            search_html(m.search_result, m.search_query) if m.search_result else "",
        )

        self._set(self.export_format, "value", m.export_format)
        self._set(self.export_text, "value", m.export_text)
        self._set(self.export_download, "value", download_html(m.export_text, env, m.export_format))

        options = tuple((revision_label(r), int(r["number"])) for r in reversed(m.revisions))
        self._set(self.revisions_select, "options", options)
        self._set(self.revisions_select, "value", m.selected_revision)
        self._set(self.rollback_button, "disabled", busy or m.selected_revision is None)
        self._set(self.revision_details, "value", revision_html(m.revision(m.selected_revision)))

        self._set(self.clean_report, "value", clean_html(m.clean_result))
        self._set(self.usage_report, "value", usage_html(m.usage))

        self._set(
            self.output,
            "outputs",
            tuple(
                {
                    "output_type": "stream",
                    "name": "stderr" if kind == "error" else "stdout",
                    "text": text + "\n",
                }
                for kind, text in m.messages
            ),
        )
        self.render_progress()

    def render_progress(self) -> None:
        m = self.model
        busy = m.busy is not None
        fraction = m.progress.fraction
        if busy:
            label = m.progress.status
            value = fraction if fraction is not None else self.progress_bar.value
            style = "info" if fraction is None else ""
        else:
            label = m.status
            failed = m.status == "Failed."
            value = 1.0 if m.status == "Done." or failed else 0.0
            style = "danger" if failed else ("success" if m.status == "Done." else "")
        self.progress_label.value = label
        self.progress_bar.value = max(0.0, min(1.0, float(value)))
        self.progress_bar.bar_style = style
        self.cancel_button.disabled = not busy or m.cancelling
        # Orange only while there is something to cancel.
        self.cancel_button.button_style = "warning" if busy and not m.cancelling else ""
