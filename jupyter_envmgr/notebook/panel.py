"""`%envmgr panel`: an ipywidgets panel over the envmgr CLI.

An env chooser (this kernel's env first), its packages, install / remove / update / update all,
a search box, export with a download, revisions with rollback, the package cache's clean
(preview, then run), disk use, and which kernel runs the env. The state is one `PanelModel`
(panel_model.py); the widgets (panel_view.py) only render it; CLI runs happen in a background
thread (panel_runner.py), so the kernel stays responsive and Cancel works. Callbacks never
raise: problems are said, in words, in the panel's Output.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Callable
from typing import Any

from .client import EnvmgrClient, own_prefix
from .panel_model import ACTION_VERBS, ACTION_WORDS, EXPORT_FLAGS, Action, PanelModel
from .panel_runner import CANCELLED, Runner, Stopped
from .render import env_label, plan_lines

NEEDS_IPYWIDGETS = (
    "The panel needs ipywidgets in this environment: run %envmgr install ipywidgets, "
    "then %envmgr panel again."
)


class EnvPanel:
    """The panel: display it (`display(panel)`, or as a cell's value) or embed `panel.widget`.

    Its widgets are attributes under stable names (`panel.install_button`, `panel.spec_text`,
    ...: see `PanelView.WIDGETS`); its state is `panel.model`. `prefix` chooses the env shown
    first (default: this kernel's env)."""

    def __init__(self, client: EnvmgrClient | None = None, prefix: str | None = None) -> None:
        try:
            from .panel_view import PanelView
        except ImportError:
            raise ImportError(NEEDS_IPYWIDGETS) from None
        own = own_prefix()
        self.client = client if client is not None else EnvmgrClient()
        self.model = PanelModel(own_prefix=own, own_is_env=os.path.isdir(f"{own}/conda-meta"))
        self._lock = threading.RLock()
        self.view = PanelView(self.model, self._handlers())
        self.widget = self.view.root
        self.runner = Runner(self.client, self.model, self._lock, self._paint, self._progress)
        self.runner.start("load", lambda: self._load(prefix))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)

    def __getattr__(self, name: str) -> Any:
        # panel.install_button and friends: the view's widgets.
        view = self.__dict__.get("view")
        if view is not None and name in view.WIDGETS:
            return getattr(view, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def busy(self) -> bool:
        return self.model.busy is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running operation; True when none runs any more."""
        return self.runner.wait(timeout)

    def cancel(self) -> None:
        """Stop the running operation; the CLI restores the env."""
        self.runner.cancel()

    # -- wiring ---------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[..., None]]:
        clicks: dict[str, Callable[[], None]] = {
            "install": lambda: self._change("install"),
            "remove": lambda: self._change("remove"),
            "update": lambda: self._change("update"),
            "update-all": lambda: self._change("update-all"),
            "search": self._search,
            "export": self._export,
            "rollback": self._rollback,
            "clean-preview": lambda: self._start("clean-preview", self._clean_preview),
            "clean": lambda: self._start("clean", self._clean),
            "usage": lambda: self._start("usage", self._usage),
            "refresh": lambda: self._start("refresh", lambda: self._load(None)),
        }
        handlers = {name: self._guard(name, fn) for name, fn in clicks.items()}
        handlers["cancel"] = self._guard("cancel", self.cancel)
        handlers["select-env"] = self._guard("select", self._select_env)
        handlers["select-revision"] = self._guard("select", self._select_revision)
        handlers["export-format"] = self._guard("export", self._export_format)
        return handlers

    def _guard(self, name: str, fn: Callable[..., None]) -> Callable[..., None]:
        """A widget callback that never raises: a problem is said in the Output."""
        what = ACTION_VERBS.get(name, name)

        def callback(*args: Any) -> None:
            try:
                fn(*args)
            except Exception as exc:  # noqa: BLE001 - said in the panel, never raised
                try:
                    self._refuse(f"Could not {what}: {exc}")
                except Exception:  # noqa: BLE001 - the view itself failed: nothing to say it in
                    pass

        return callback

    def _paint(self) -> None:
        with self._lock:
            self.view.render()

    def _progress(self) -> None:
        with self._lock:
            self.view.render_progress()

    def _start(self, action: Action, job: Callable[[], None]) -> None:
        self.runner.start(action, job)

    def _refuse(self, message: str) -> None:
        with self._lock:
            self.model.fail(message)
            self._paint()

    # -- callbacks (the kernel's thread): check the input, start a job ---------------------

    def _specs(self, text: str, example: str) -> list[str] | None:
        try:
            specs = shlex.split(text)
        except ValueError as exc:
            self._refuse(f"Could not read the package specs: {exc}.")
            return None
        if not specs:
            self._refuse(f"Type package specs first, e.g. {example}.")
            return None
        flags = [s for s in specs if s.startswith("-")]
        if flags:
            self._refuse(f"A package spec cannot start with '-': {flags[0]}.")
            return None
        return specs

    def _target(self) -> str | None:
        prefix = self.model.selected
        if prefix is None:
            self._refuse("Choose an environment first.")
        return prefix

    def _change(self, action: Action) -> None:
        prefix = self._target()
        if prefix is None:
            return
        if action == "update-all":
            self._start(action, lambda: self._apply(action, ["update", "-p", prefix, "--all"]))
            return
        specs = self._specs(self.view.spec_text.value, "numpy>=1.26 scipy")
        if specs is not None:
            self._start(action, lambda: self._apply(action, [action, "-p", prefix, *specs]))

    def _search(self) -> None:
        prefix = self._target()
        specs = self._specs(self.view.search_text.value, "numpy") if prefix else None
        if prefix is not None and specs is not None:
            if len(specs) != 1:
                self._refuse("Search for one package at a time, e.g. numpy or numpy>=2.")
                return
            with self._lock:
                self.model.search_query = specs[0]
            self._start("search", lambda: self._search_run(specs[0]))

    def _export(self) -> None:
        prefix = self._target()
        if prefix is not None:
            argv = ["env", "export", "-p", prefix, *EXPORT_FLAGS[self.model.export_format]]
            self._start("export", lambda: self._export_run(argv))

    def _rollback(self) -> None:
        prefix, number = self._target(), self.model.selected_revision
        if prefix is None:
            return
        if number is None:
            self._refuse("Choose a revision to roll back to.")
            return
        argv = ["install", "-p", prefix, "--revision", str(number)]
        self._start("rollback", lambda: self._apply("rollback", argv))

    def _select_env(self, change: dict[str, Any]) -> None:
        prefix = change.get("new")
        if self.view.rendering or not prefix or prefix == self.model.selected:
            return
        with self._lock:
            if self.model.busy is not None:
                self.model.fail(f"{ACTION_WORDS[self.model.busy]} is still running: wait for it.")
                self._paint()  # shows the env that is still selected
                return
            self.model.select(str(prefix))
        self._start("select", self._load_env)

    def _select_revision(self, change: dict[str, Any]) -> None:
        if not self.view.rendering:
            with self._lock:
                new = change.get("new")
                self.model.selected_revision = new if isinstance(new, int) else None
                self._paint()

    def _export_format(self, change: dict[str, Any]) -> None:
        if not self.view.rendering and change.get("new") in EXPORT_FLAGS:
            with self._lock:
                self.model.export_format = change["new"]
                self._paint()

    # -- jobs (the background thread) -----------------------------------------------------

    def _run(self, argv: list[str], what: str) -> dict[str, Any]:
        return self.runner.run(argv, what)

    def _load(self, wanted: str | None) -> None:
        envs = self._run(["env", "list"], "list the environments")
        kernels = self._run(["kernels"], "list the kernels")
        with self._lock:
            self.model.kernels = list(kernels.get("kernels", []))
            self.model.set_envs(list(envs.get("environments", [])), wanted)
            if self.model.selected is None:
                self.model.say(
                    "No environments yet: create one, e.g. %envmgr create -n NAME python ipykernel."
                )
            self._paint()
        self._load_env()

    def _load_env(self) -> None:
        prefix = self.model.selected
        if prefix is None:
            return
        listing = self._run(["list", "-p", prefix], f"list the packages of {prefix}")
        revisions = self._run(["list", "-p", prefix, "--revisions"], "read the revisions")
        with self._lock:
            if self.model.selected == prefix:
                self.model.packages = list(listing.get("packages", []))
                self.model.set_revisions(list(revisions.get("revisions", [])))

    def _apply(self, action: Action, argv: list[str]) -> None:
        """A change to the selected env; then its table, revisions and kernels, read again."""
        from .reload import changed_modules, loaded_files, refresh_imports

        own = self.model.selected_is_own()
        before = loaded_files() if own else {}
        try:
            result = self._run([*argv, "-y"], ACTION_VERBS[action])
        except Stopped as stop:
            if stop.status == CANCELLED:
                stop.said = True
                with self._lock:
                    self.model.say("Cancelled: the environment was restored to its previous state.")
            with self.runner.not_cancelled():
                self._reread()
            raise
        with self._lock:
            self.model.say(_change_words(result))
        if own and result.get("applied"):
            refresh_imports()
            stale = changed_modules(before)
            if stale:
                with self._lock:
                    self.model.say(
                        f"Already imported and changed by this operation: {', '.join(stale)}. "
                        "Restart the kernel to use the new versions."
                    )
        self._reread()

    def _reread(self) -> None:
        kernels = self._run(["kernels"], "list the kernels")  # ipykernel may have come or gone
        with self._lock:
            self.model.kernels = list(kernels.get("kernels", []))
        self._load_env()

    def _search_run(self, query: str) -> None:
        result = self._run(["search", query], "search the channels")
        with self._lock:
            self.model.search_result = result

    def _export_run(self, argv: list[str]) -> None:
        result = self._run(argv, "export")
        with self._lock:
            self.model.export_text = str(result.get("text", ""))

    def _clean_preview(self) -> None:
        result = self._run(["clean", "--all", "--dry-run"], "look at the package cache")
        with self._lock:
            self.model.clean_result = result

    def _clean(self) -> None:
        result = self._run(["clean", "--all", "-y"], "clean the package cache")
        with self._lock:
            self.model.clean_result = result

    def _usage(self) -> None:
        prefix = self.model.selected
        result = self._run(["usage", "-p", prefix] if prefix else ["usage"], "measure disk use")
        with self._lock:
            self.model.usage = result


def _change_words(result: dict[str, Any]) -> str:
    env = env_label(result.get("env"))
    lines = plan_lines(result.get("plan", {}))
    if not lines:
        return f"Nothing to change in {env}: it already has what was asked for."
    return "\n".join([f"Done: {env}", *lines])


def show_panel(client: EnvmgrClient | None = None) -> EnvPanel | None:
    """`%envmgr panel`: display the panel, or say how to get ipywidgets."""
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        print(NEEDS_IPYWIDGETS, flush=True)
        return None
    panel = EnvPanel(client)
    try:
        from IPython.display import display
    except ImportError:
        return panel
    display(panel)
    return panel
