"""Entry point: micromamba's verbs and flags over the engine.

Each verb module's `add_parsers` adds its parsers and sets `run` on them (an async function
taking the Session); `run_cli` parses, makes the Session and awaits `args.run(session)`.

Every `%envmgr` line in a notebook starts this process, so parsing stays light: the verb modules
import no rattler, yaml or Jupyter package at import time, only when their verb runs.

Exit codes: 0 done, 1 an engine error (message on stderr, or a JSON `error` line), 2 bad usage,
130 cancelled. The process ends with os._exit after flushing: a process that used rattler can
crash (rarely) while the interpreter finalizes, and a user must never see that as a failure.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

from .. import __version__
from ..engine.errors import Cancelled, EnvMgrError
from ..engine.rattler_guard import RattlerPanic, is_panic
from . import unknown_flags
from .session import Session

__all__ = ["Session", "build_parser", "main", "run_cli"]

# The verb modules, in the order `envmgr --help` lists their verbs, with the first words of the
# verbs each adds: a command line imports only its verb's module (tests/cli/test_cli_imports.py
# checks the words against what each module adds).
VERB_MODULES: dict[str, tuple[str, ...]] = {
    "solve_cmds": ("create", "install", "remove", "update"),
    "list_cmd": ("list",),
    "search_cmd": ("search",),
    "repair_cmd": ("repair",),
    "info_cmd": ("info",),
    "env_cmds": ("env",),  # env list, env remove, env export, env create, env config vars
    "rename_cmd": ("rename",),
    "repoquery_cmd": ("repoquery",),  # repoquery depends, repoquery whoneeds
    "config_cmd": ("config",),  # config list|get|set|append|prepend|remove-key
    "run_cmds": ("run", "slurm-script"),
    "kernels_cmd": ("kernels",),
    "cache_cmds": ("clean", "usage"),
    "notebook_cmds": ("notebook",),  # notebook lock, notebook sync, notebook show
    "shell_cmds": ("shell", "activate", "deactivate"),  # shell hook|init|deinit
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The CLI's parser. With `only` (the word a command line starts with), only that verb's
    module is imported and only its parser built: a command needs one, and importing and
    building all ~30 costs ~4 ms of every start (an `%envmgr` line, a create). A word no module
    adds gets the full parser and its usage error."""
    parser = argparse.ArgumentParser(
        prog="envmgr", description="Manage conda environments (micromamba-style) for Jupyter."
    )
    # The bare version, as `micromamba --version` prints it (scripts compare it).
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", action=_OneVerb)
    sub.required = True
    assert isinstance(sub, _OneVerb)
    sub.only = only
    for name in _modules_for(only):
        importlib.import_module(f"{__package__}.{name}").add_parsers(sub)
    if only is not None and only not in sub.choices:
        return build_parser()
    return parser


def _modules_for(only: str | None) -> list[str]:
    """The verb modules to build the parser from: the one adding `only`, else all of them."""
    owner = [name for name, words in VERB_MODULES.items() if only in words]
    return owner or list(VERB_MODULES)


class _OneVerb(argparse._SubParsersAction):  # type: ignore[type-arg]
    """Subparsers that build only the verb `only` (all of them when None)."""

    only: str | None = None

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        if self.only is None or self.only == name or self.only in kwargs.get("aliases", ()):
            parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)
            return parser
        return cast(argparse.ArgumentParser, _Unbuilt())


class _Unbuilt:
    """The parser of a verb this command line does not use: every call on it (add_argument,
    set_defaults, add_subparsers, ...) does nothing and returns it."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Unbuilt:
        return self


def _first_word(argv: Sequence[str]) -> str | None:
    return argv[0] if argv and not argv[0].startswith("-") else None


async def _run(session: Session) -> int:
    import asyncio
    import signal

    task = asyncio.current_task()
    # SIGTERM (a batch scheduler, `kill`) cancels like Ctrl-C does: the env is restored.
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    run: Callable[[Session], Awaitable[int]] = session.args.run
    return await run(session)


def run_cli(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_first_word(argv))
    args, extras = parser.parse_known_args(argv)
    if extras:  # said by the verb's parser, with its usage (and a hint for micromamba's flags)
        unknown_flags.reject(parser, argv, extras)
    import asyncio  # after parsing: --help and usage errors do without it

    as_json = getattr(args, "json", False)
    try:
        session = Session(args, argv)
        return asyncio.run(_run(session))
    except (Cancelled, KeyboardInterrupt, asyncio.CancelledError) as exc:
        _report_error(as_json, exc if isinstance(exc, Cancelled) else Cancelled("Cancelled."))
        return 130
    except EnvMgrError as exc:
        _report_error(as_json, exc)
        return 1
    except BaseException as exc:
        if not is_panic(exc):  # a Rust panic past the engine's guards: still one error line
            raise
        _report_error(as_json, RattlerPanic(f"Internal error in rattler: {exc}"))
        return 1


def _report_error(as_json: bool, error: EnvMgrError) -> None:
    if as_json:
        import json

        print(json.dumps({"event": "error", **error.to_json()}), flush=True)
    else:
        print(f"error: {error.message}", file=sys.stderr, flush=True)


def main() -> None:
    try:
        code = run_cli()
        sys.stdout.flush()
    except SystemExit as exc:  # argparse usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 2
    except BrokenPipeError:
        # `envmgr list | head`: the reader has gone, which is not an error of ours.
        code = 0
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
