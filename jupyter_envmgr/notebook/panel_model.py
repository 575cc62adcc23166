"""The panel's state in plain Python: what the view shows, and nothing of widgets or threads.

`EnvPanel` (panel.py) runs CLI verbs and feeds their results in here; its view only renders
this object. Tests can drive and read it without a frontend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from ._shared import ProgressState
from .render import env_label

# What the panel can be busy with (one thing at a time).
Action = Literal[
    "load",
    "select",
    "refresh",
    "install",
    "remove",
    "update",
    "update-all",
    "search",
    "export",
    "rollback",
    "clean-preview",
    "clean",
    "usage",
]
ExportFormat = Literal["yaml", "from-history", "explicit", "lock"]
MessageKind = Literal["info", "error"]

ACTION_WORDS: dict[Action, str] = {
    "load": "Loading the environments",
    "select": "Loading the environment",
    "refresh": "Refreshing",
    "install": "Installing",
    "remove": "Removing",
    "update": "Updating",
    "update-all": "Updating all packages",
    "search": "Searching",
    "export": "Exporting",
    "rollback": "Rolling back",
    "clean-preview": "Looking at the package cache",
    "clean": "Cleaning the package cache",
    "usage": "Measuring disk use",
}

# "Could not ...": what failed, in words.
ACTION_VERBS: dict[str, str] = {
    "load": "read the environments",
    "select": "read the environment",
    "refresh": "refresh",
    "install": "install",
    "remove": "remove",
    "update": "update",
    "update-all": "update all packages",
    "search": "search",
    "export": "export",
    "rollback": "roll back",
    "clean-preview": "look at the package cache",
    "clean": "clean the package cache",
    "usage": "measure disk use",
}

EXPORT_FLAGS: dict[ExportFormat, tuple[str, ...]] = {
    "yaml": (),
    "from-history": ("--from-history",),
    "explicit": ("--explicit",),
    "lock": ("--lock",),
}

MAX_MESSAGES = 20


def same_path(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    return os.path.realpath(a) == os.path.realpath(b)


@dataclass
class PanelModel:
    """Everything the panel shows. Mutated by EnvPanel under its lock; read by its view."""

    own_prefix: str  # the env this kernel runs in
    own_is_env: bool = False  # ... and whether that is a conda env at all
    envs: list[dict[str, Any]] = field(default_factory=list)  # `env list` entries
    extra_prefix: str | None = None  # asked for by the caller, not in `env list`
    selected: str | None = None  # prefix of the env the panel acts on
    packages: list[dict[str, Any]] = field(default_factory=list)
    kernels: list[dict[str, Any]] = field(default_factory=list)  # every env's kernels
    revisions: list[dict[str, Any]] = field(default_factory=list)
    selected_revision: int | None = None
    export_format: ExportFormat = "yaml"
    export_text: str = ""
    search_query: str = ""
    search_result: dict[str, Any] | None = None  # `envmgr search`'s result
    clean_result: dict[str, Any] | None = None  # `clean --all [--dry-run]` result
    usage: dict[str, Any] | None = None
    busy: Action | None = None
    cancelling: bool = False
    progress: ProgressState = field(default_factory=ProgressState)
    status: str = "Ready."
    messages: list[tuple[MessageKind, str]] = field(default_factory=list)
    last_error: str | None = None

    # -- messages -------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self._add("info", text)

    def fail(self, text: str) -> None:
        self.last_error = text
        self._add("error", text)

    def _add(self, kind: MessageKind, text: str) -> None:
        self.messages.append((kind, text))
        del self.messages[:-MAX_MESSAGES]

    # -- busy -----------------------------------------------------------------------------

    def begin(self, action: Action) -> None:
        self.busy = action
        self.cancelling = False
        self.last_error = None
        self.progress = ProgressState()
        self.progress.status = f"{ACTION_WORDS[action]}..."
        self.status = self.progress.status

    def end(self, status: str | None = None) -> None:
        self.busy = None
        self.cancelling = False
        if status is not None:
            self.status = status
        elif self.last_error is not None:
            self.status = "Failed."
        else:
            self.status = "Done."

    # -- environments ---------------------------------------------------------------------

    def set_envs(self, envs: list[dict[str, Any]], wanted: str | None = None) -> None:
        """The `env list` result; selects `wanted`, else the kept selection, else this
        kernel's env, else the first one."""
        self.envs = list(envs)
        listed = [str(e["prefix"]) for e in self.envs]
        keep = wanted or self.selected
        match = next((p for p in listed if same_path(p, keep)), None)
        if match is not None:
            self.selected = match
        elif keep and (wanted or same_path(keep, self.extra_prefix)):
            self.extra_prefix = self.selected = keep
        else:
            own = next((p for p in listed if same_path(p, self.own_prefix)), None)
            if own is None and self.own_is_env:
                self.extra_prefix = own = self.own_prefix
            self.selected = own or (listed[0] if listed else None)

    def env_choices(self) -> list[tuple[str, str]]:
        """(label, prefix) for the chooser: this kernel's env first."""
        entries: list[tuple[str, str]] = []
        if self.extra_prefix and not any(
            same_path(e["prefix"], self.extra_prefix) for e in self.envs
        ):
            entries.append((self.extra_prefix, self.extra_prefix))
        entries += [(env_label(e), str(e["prefix"])) for e in self.envs]
        entries.sort(key=lambda entry: not same_path(entry[1], self.own_prefix))
        names = [label for label, _ in entries]
        choices = []
        for label, prefix in entries:
            if names.count(label) > 1 and label != prefix:
                label = f"{label} ({prefix})"
            if same_path(prefix, self.own_prefix):
                label += " (this kernel's env)"
            choices.append((label, prefix))
        return choices

    def selected_env(self) -> dict[str, Any] | None:
        for env in self.envs:
            if same_path(env["prefix"], self.selected):
                return env
        if self.selected:
            return {"name": None, "prefix": self.selected}
        return None

    def select(self, prefix: str) -> None:
        """Another env: what was shown of the previous one goes."""
        self.selected = prefix
        self.packages = []
        self.revisions = []
        self.selected_revision = None
        self.export_text = ""
        self.search_result = None
        self.usage = None

    def selected_is_own(self) -> bool:
        return same_path(self.selected, self.own_prefix)

    def kernels_of_selected(self) -> list[dict[str, Any]]:
        return [
            k for k in self.kernels if same_path((k.get("env") or {}).get("prefix"), self.selected)
        ]

    # -- results --------------------------------------------------------------------------

    def set_revisions(self, revisions: list[dict[str, Any]]) -> None:
        """The env's revisions; the newest is selected unless an older one was."""
        old_newest = self.revisions[-1].get("number") if self.revisions else None
        self.revisions = list(revisions)
        numbers = [int(r["number"]) for r in self.revisions]
        if self.selected_revision not in numbers or self.selected_revision == old_newest:
            self.selected_revision = numbers[-1] if numbers else None

    def revision(self, number: int | None) -> dict[str, Any] | None:
        return next((r for r in self.revisions if r.get("number") == number), None)

    def clean_would_free(self) -> bool:
        """A preview is shown and it has something to remove: the Clean button may run."""
        result = self.clean_result
        if not result or result.get("applied"):
            return False
        return bool(result.get("plan", {}).get("items"))
