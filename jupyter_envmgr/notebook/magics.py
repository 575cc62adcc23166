"""`%envmgr VERB ...` and `%%envmgr`: the CLI's verbs inside a notebook, on the kernel's env.

Like IPython's `%conda`, it installs into the kernel's own environment (`sys.prefix`) unless
`-n`/`-p` names another, and never waits for stdin: changes are confirmed by running the magic
(`-y` is implied; `--dry-run` only shows the plan).
"""

from __future__ import annotations

import os
import shlex
import tempfile
from collections.abc import Sequence
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from .client import ClientError, CliOutcome, EnvmgrClient, own_prefix
from .progress import ProgressView
from .reload import changed_modules, loaded_files, refresh_imports
from .render import render_error, render_result, show_text

HELP = """\
%envmgr VERB [OPTIONS]   conda environments from the notebook (the kernel's own env by default)

  %envmgr install numpy            install into this kernel's environment
  %envmgr install -n data scipy    ... or into another one (-n NAME or -p PREFIX)
  %envmgr remove numpy             remove (and what depends on it)
  %envmgr update numpy | --all     update
  %envmgr install numpy --dry-run  only show the plan
  %envmgr list [--revisions]       packages (or revisions) of the environment
  %envmgr install --revision 2     roll back to revision 2
  %envmgr env list                 every environment
  %envmgr env export [--from-history|--explicit|--lock]
  %envmgr create -n NAME SPECS     a new environment (it gets a kernel at once)
  %envmgr clean --all [--dry-run]  free the package cache (what goes, bytes and inodes)
  %envmgr usage                    disk use: own vs shared bytes, inodes
  %envmgr kernels                  the kernel of every environment
  %envmgr panel                    buttons for all of the above (ipywidgets)
  %envmgr notebook                 how to embed this env in the notebook (envmgr notebook lock)

%%envmgr [-n NAME]   with an environment.yml body: install its dependencies into the env.
"""

# Verbs that act on one env: without -n/-p they act on the kernel's own.
_TARGETED = {("install",), ("remove",), ("update",), ("list",), ("repair",), ("env", "export")}
# Verbs that change something: confirmed by running the magic.
_CHANGING = {("install",), ("remove",), ("update",), ("create",), ("clean",), ("env", "remove")}
# Verbs that show a progress bar: those that change an env and those that may take long (a solve,
# repodata fetches, walking the disk). A read that answers at once (list, env list, kernels)
# shows its answer only: a bar there would flash by for nothing.
_PROGRESS = _CHANGING | {
    ("repair",), ("rename",), ("env", "create"), ("env", "export"), ("search",), ("repoquery",),
    ("usage",),
}  # fmt: skip
_UNSUPPORTED = {"run": "use `!envmgr run ...` in a terminal", "slurm-script": "use the CLI"}
_TARGET_FLAGS = ("-n", "--name", "-p", "--prefix")


class MagicUsageError(Exception):
    """What the user typed cannot be run; the message says what to type instead."""


def _verb(args: Sequence[str]) -> tuple[str, ...]:
    if args and args[0] == "env" and len(args) > 1:
        return ("env", args[1])
    return (args[0],) if args else ()


def _names_target(args: Sequence[str]) -> bool:
    return any(a in _TARGET_FLAGS or a.startswith(("--name=", "--prefix=")) for a in args)


def complete_args(args: Sequence[str], prefix: str) -> list[str]:
    """The CLI argv for what was typed: the kernel's env as default target, `-y` implied."""
    args = list(args)
    verb = _verb(args)
    if not verb:
        raise MagicUsageError("Give a verb, e.g. %envmgr install numpy (see %envmgr).")
    if verb[0] in _UNSUPPORTED:
        raise MagicUsageError(f"%envmgr {verb[0]} is not available in a notebook: "
                              f"{_UNSUPPORTED[verb[0]]}.")  # fmt: skip
    if verb == ("env", "remove") and not _names_target(args):
        raise MagicUsageError("Name the environment to remove: %envmgr env remove -n NAME.")
    if verb in _TARGETED and not _names_target(args):
        args[len(verb) : len(verb)] = ["-p", prefix]
    if verb in _CHANGING and not {"-y", "--yes", "--dry-run"} & set(args):
        args.append("-y")
    return args


def notebook_advice(prefix: str) -> str:
    """`%envmgr notebook ...`: what to do instead. The open notebook's file belongs to the
    frontend, which would overwrite an edit made behind its back by the kernel."""
    return (
        "A kernel cannot safely edit the notebook that is open in front of it. To embed this\n"
        "kernel's environment in the notebook, use the notebook toolbar's Environment button in\n"
        "JupyterLab, or save the notebook and run in a terminal:\n"
        f"    envmgr notebook lock NOTEBOOK.ipynb -p {prefix}\n"
        "On another machine, `envmgr notebook sync NOTEBOOK.ipynb` makes the same environment."
    )


def env_file_args(line_args: Sequence[str], path: str, prefix: str) -> list[str]:
    """`%%envmgr [-n NAME]`: install the body's dependencies (and channels) into the env."""
    args = ["install", *line_args, "-f", path]
    return complete_args(args, prefix)


@magics_class
class EnvmgrMagics(Magics):
    def __init__(self, shell: Any, client: EnvmgrClient | None = None) -> None:
        super().__init__(shell)
        self.client = client or EnvmgrClient()

    @line_cell_magic
    def envmgr(self, line: str, cell: str | None = None) -> None:
        """Manage conda environments: `%envmgr` alone prints help."""
        try:
            args = shlex.split(line)
        except ValueError as exc:
            render_error(f"Could not read the arguments: {exc}.")
            return
        if cell is None and (not args or args[0] in ("-h", "--help", "help")):
            show_text(HELP)
            return
        if cell is None and args[0] == "notebook":
            show_text(notebook_advice(own_prefix()))
            return
        if cell is None and args[0] == "panel":
            from .panel import show_panel

            show_panel(self.client)
            return
        try:
            if cell is not None:
                self._apply_env_file(args, cell)
            else:
                self._run(complete_args(args, own_prefix()))
        except (MagicUsageError, ClientError) as exc:
            render_error(str(exc))

    def _apply_env_file(self, args: Sequence[str], body: str) -> None:
        with tempfile.TemporaryDirectory(prefix="envmgr-cell-") as tmp:
            path = os.path.join(tmp, "environment.yml")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(body)
            self._run(env_file_args(args, path, own_prefix()))

    def _run(self, argv: list[str]) -> CliOutcome:
        verb = _verb(argv)
        own_env_changes = verb in _CHANGING and self._targets_own_env(argv)
        before = loaded_files() if own_env_changes else {}
        view = ProgressView() if verb in _PROGRESS else None
        outcome = self.client.run(argv, on_event=view.on_event if view is not None else None)
        if outcome.interrupted:
            if view is not None:
                view.close("Interrupted.", failed=True)
            render_error(
                "Interrupted: the operation was stopped and the environment restored to its "
                "previous state."
                if verb in _CHANGING
                else "Interrupted."
            )
            return outcome
        if outcome.error is not None:
            if view is not None:
                view.close("Failed.", failed=True)
            render_error(str(outcome.error.get("message") or "envmgr failed."))
            return outcome
        if view is not None:
            view.close("Done.")
        if outcome.result is not None:
            render_result(verb, outcome.result)
        if own_env_changes and outcome.result is not None and outcome.result.get("applied"):
            refresh_imports()
            stale = changed_modules(before)
            if stale:
                from .render import offer_restart

                offer_restart(stale)
        return outcome

    @staticmethod
    def _targets_own_env(argv: Sequence[str]) -> bool:
        for flag in ("-p", "--prefix"):
            if flag in argv:
                index = list(argv).index(flag)
                if index + 1 < len(argv):
                    return os.path.realpath(argv[index + 1]) == os.path.realpath(own_prefix())
        return not _names_target(argv)
