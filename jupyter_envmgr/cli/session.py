"""One CLI invocation: the parsed arguments, the settings, the renderers and the prompts."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..engine.errors import ConfirmationRequired
from .render import JsonRenderer, TextRenderer

if TYPE_CHECKING:
    from pathlib import Path

    from ..engine.plan import Plan
    from ..engine.policy import Policy
    from ..engine.progress import Event
    from ..engine.registry import Env
    from ..engine.settings import Settings


class Session:
    """What every verb's run function gets: `args`, `settings`, `json` (a JsonRenderer with
    --json, else None), `text`, and the one way to ask the user yes or no (`ask`)."""

    def __init__(self, args: argparse.Namespace, argv: Sequence[str]) -> None:
        # Settings read the rc files with yaml: imported per invocation, not when parsing.
        from ..engine.published import load_published
        from ..engine.settings import load_settings

        self.args = args
        self.cmd = shlex.join(["envmgr", *argv])
        self.json = JsonRenderer() if getattr(args, "json", False) else None
        self.text = TextRenderer()
        root_prefix = getattr(args, "root_prefix", None)
        # --no-rc: no rc file; --rc-file FILE: those only (None: the usual ones).
        rc_files = [] if getattr(args, "no_rc", False) else getattr(args, "rc_file", None)
        settings = load_settings(root_prefix=root_prefix, rc_files=rc_files)
        # Started by a Jupyter server (a kernel's magic, a terminal): its envs and its rules.
        # `-r` picks another root prefix (the settings follow it), never other rules: the
        # admin's policy stays whatever the flags say.
        published, policy = load_published(os.environ, settings)
        self.policy: Policy | None = policy
        chosen = root_prefix is not None or rc_files is not None  # the flags say which
        self.settings: Settings = settings if chosen else published
        self._preload: str | None = None  # a module to load once linking starts (confirm)

    def target(self) -> tuple[str | None, str | None]:
        """The existing env this verb acts on, as find_env's (name, prefix): `-n`/`-p`, else
        the active env ($CONDA_PREFIX: an activated shell, `envmgr run`, a kernel's terminal),
        as micromamba does. Never the root prefix by default: with neither, a clear error."""
        name = getattr(self.args, "name", None)
        prefix = getattr(self.args, "prefix", None)
        if name is not None or prefix is not None:
            return name, prefix
        active = active_prefix()
        if not self.json:
            # One line on stderr: stdout stays the verb's (an export, a list) for pipes.
            print(f"Acting on the active environment {active} (CONDA_PREFIX); use -n/-p for "
                  "another.", file=sys.stderr, flush=True)  # fmt: skip
        return None, active

    def target_env(self) -> Env:
        """The existing env this verb acts on (see `target`)."""
        from ..engine.registry import find_env

        name, prefix = self.target()
        return find_env(self.settings, name=name, prefix=prefix)

    def on_event(self, event: Event) -> None:
        if self._preload is not None and event.kind == "transaction-start":
            _load_in_background(self._preload)
            self._preload = None
        (self.json or self.text).on_event(event)

    def ask(self, question: str, *, default: bool, refusal: str) -> bool:
        """Yes or no from the user. `-y` answers yes without asking; with no terminal to ask
        on, ConfirmationRequired(refusal) is raised. An empty answer means `default`."""
        if getattr(self.args, "yes", False):
            return True
        if not sys.stdin.isatty():
            raise ConfirmationRequired(refusal)
        answer = input(f"{question} {'[Y/n]' if default else '[y/N]'} ").strip().lower()
        return answer in ("y", "yes") or (default and answer == "")

    def confirm(self, plan: Plan) -> bool:
        """The engine's confirmation of a package plan: shown (unless --json), then asked."""
        if not self.json:
            self.text.plan(plan, self.settings.channel_alias)
        confirmed = self.ask(
            "Confirm changes:",
            default=True,
            refusal="Refusing to change the environment without confirmation: there is no "
            "terminal to ask on. Pass -y to confirm, or --dry-run to only see the plan.",
        )
        if confirmed and (self.json or not getattr(self.args, "quiet", False)):
            self._preload = _KERNEL_SYNC  # the events reach on_event: loaded as linking starts
        elif confirmed:
            _load_in_background(_KERNEL_SYNC)
        return confirmed

    def result(self, obj: dict[str, Any], text: str) -> None:
        if self.json:
            self.json.emit({"event": "result", **obj})
        elif text:
            print(text)

    def sync_kernels(self, *changed: Path) -> None:
        """After envs changed: rewrite the kernelspecs that tools outside the server read, of
        the `changed` envs (their prefixes) only."""
        from ..kernels.sync import sync_for_settings  # loaded meanwhile: see confirm

        sync_for_settings(self.settings, changed=changed)


def active_prefix() -> str:
    """$CONDA_PREFIX, checked: the env a verb without -n/-p acts on."""
    from pathlib import Path

    from ..engine.errors import BadInput
    from ..engine.prefix import is_conda_prefix

    active = os.environ.get("CONDA_PREFIX", "")
    if not active:
        raise BadInput(
            "Name the environment with -n NAME or -p PREFIX, or activate one (envmgr "
            "activate NAME)."
        )
    if not is_conda_prefix(Path(active)):
        raise BadInput(
            f"CONDA_PREFIX is {active}, which is not a conda environment (it has no "
            "conda-meta/ folder). Name the environment with -n NAME or -p PREFIX, or unset "
            "CONDA_PREFIX (envmgr deactivate)."
        )
    return active


_KERNEL_SYNC = "jupyter_envmgr.kernels.sync"


def _load_in_background(module: str) -> None:
    """Import `module` in a daemon thread. While rattler links in its own threads this process
    mostly waits: the kernelspec sync that follows has its modules (~7 ms of imports) loaded
    meanwhile. Started as linking starts, not at the confirmation: the steps between (locks,
    package checks, journal) are Python and would share the interpreter with the import. A
    failed import is left for the real one to report."""
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
        except Exception:
            pass

    threading.Thread(target=load, name=f"load {module}", daemon=True).start()
