"""The kernel side's only way to change an environment: run the server env's `envmgr` CLI.

An env's kernel runs the env's own Python, which has no py-rattler and no jupyter_envmgr, and
must stay that way. So this module needs nothing but the standard library: it runs
`<server python> -m jupyter_envmgr VERB ... --json` with an argv list (never a shell), reads one
JSON event per line, and hands each to a callback. The CLI takes the env's lock like the server
does, so a magic, a panel and a REST task never interleave on one env.

This folder is imported under two names: `jupyter_envmgr.notebook` in the server's Python, and
`jupyter_envmgr_notebook` in env kernels (the provisioner puts a folder holding only it, and
progress_text.py that _shared.py imports, on the kernel's PYTHONPATH). Hence relative imports
only, and no import of the engine.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

# Set by the provisioner: the Python of the server's env, which has jupyter_envmgr.
PYTHON_VAR = "ENVMGR_PYTHON"
# Variables of the kernel that must not reach the CLI's (different) Python.
_KERNEL_ONLY = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")

EventCallback = Callable[[dict[str, Any]], None]


class ClientError(Exception):
    """The CLI could not be found or started: said in words, for the cell."""


@dataclass
class CliOutcome:
    """What one CLI run ended with."""

    returncode: int
    result: dict[str, Any] | None = None  # the `result` event, when it succeeded
    error: dict[str, Any] | None = None  # {"message", "reason"} when it failed
    events: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False  # stopped by Ctrl-C / the kernel's interrupt / a cancel

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.error is None


def cli_command() -> list[str]:
    """How to start the CLI: the server env's Python, or this one if it has the engine."""
    python = os.environ.get(PYTHON_VAR)
    if python:
        return [python, "-m", "jupyter_envmgr"]
    if importlib.util.find_spec("jupyter_envmgr") is not None:
        return [sys.executable, "-m", "jupyter_envmgr"]
    raise ClientError(
        "envmgr is not available in this kernel: start it from JupyterLab with jupyter_envmgr "
        f"installed (its kernels set {PYTHON_VAR}), or set {PYTHON_VAR} to the Python of the "
        "environment where jupyter_envmgr is installed."
    )


def own_prefix() -> str:
    """The environment this kernel runs in."""
    return sys.prefix


def _cli_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _KERNEL_ONLY}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class EnvmgrClient:
    """Runs CLI verbs and reports their events; one instance serves a magic or a panel."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        self._command = list(command) if command is not None else None

    @property
    def command(self) -> list[str]:
        if self._command is None:
            self._command = cli_command()
        return self._command

    def run(
        self,
        args: Sequence[str],
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> CliOutcome:
        """Run `envmgr ARGS --json` to its end. A KeyboardInterrupt (the kernel's interrupt)
        or `cancel` stops it as Ctrl-C stops the CLI: it restores the env, then this returns
        with `interrupted` set. Never raises for the CLI's own failures: they are in `error`."""
        argv = [*self.command, *args, "--json"]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_cli_environ(),
                # Its own session: a signal sent to the kernel's process group must not reach
                # it twice; we forward exactly one SIGINT ourselves.
                start_new_session=True,
            )
        except OSError as exc:
            raise ClientError(f"Could not start envmgr ({argv[0]}): {exc.strerror}.") from None
        outcome = CliOutcome(returncode=-1)
        stderr: list[str] = []
        reader = threading.Thread(target=_drain, args=(proc.stderr, stderr), daemon=True)
        reader.start()
        if cancel is not None:
            threading.Thread(target=_cancel_on, args=(proc, cancel, outcome), daemon=True).start()
        try:
            self._read_events(proc, outcome, on_event)
        except KeyboardInterrupt:
            outcome.interrupted = True
            _interrupt(proc)
            self._finish_after_interrupt(proc, outcome, on_event)
        outcome.returncode = proc.wait()
        reader.join(timeout=5)
        if outcome.returncode != 0 and outcome.error is None:
            outcome.error = {"message": _last_words(stderr, outcome.returncode), "reason": None}
        return outcome

    def ask(self, args: Sequence[str], timeout: float) -> CliOutcome | None:
        """A verb that only reads (search, list), bounded in time: its outcome, or None when it
        did not end within `timeout` seconds. Then it is killed: it changed nothing, so there
        is nothing to restore (unlike `run`, whose changes must be undone on a stop)."""
        argv = [*self.command, *args, "--json"]
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                env=_cli_environ(),
                timeout=timeout,
                start_new_session=True,  # as in `run`: the kernel's signals are not its own
            )
        except subprocess.TimeoutExpired:
            return None
        except OSError as exc:
            raise ClientError(f"Could not start envmgr ({argv[0]}): {exc.strerror}.") from None
        outcome = CliOutcome(returncode=done.returncode)
        for line in done.stdout.splitlines():
            _record(outcome, line)
        if outcome.returncode != 0 and outcome.error is None:
            outcome.error = {
                "message": _last_words(done.stderr.splitlines(), outcome.returncode),
                "reason": None,
            }
        return outcome

    def _read_events(
        self, proc: subprocess.Popen[str], outcome: CliOutcome, on_event: EventCallback | None
    ) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            event = _record(outcome, line)
            if event is not None and on_event is not None:
                on_event(event)

    def _finish_after_interrupt(
        self, proc: subprocess.Popen[str], outcome: CliOutcome, on_event: EventCallback | None
    ) -> None:
        """The CLI is restoring the env: wait for it, whatever more interrupts arrive (a half
        restored env is the one outcome we never accept)."""
        while True:
            try:
                self._read_events(proc, outcome, on_event)
                return
            except KeyboardInterrupt:
                continue


def _record(outcome: CliOutcome, line: str) -> dict[str, Any] | None:
    """One line of the CLI's --json output into `outcome`: the event it was, or None."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    if not isinstance(event, dict):
        return None
    outcome.events.append(event)
    kind = event.get("event")
    if kind == "result":
        outcome.result = event
    elif kind == "error":
        outcome.error = {"message": event.get("message"), "reason": event.get("reason")}
        if event.get("reason") == "cancelled":
            outcome.interrupted = True
    return event


def _interrupt(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
        except OSError:
            pass


def _cancel_on(proc: subprocess.Popen[str], cancel: threading.Event, outcome: CliOutcome) -> None:
    while proc.poll() is None:
        if cancel.wait(0.1):
            outcome.interrupted = True
            _interrupt(proc)
            return


def _drain(stream: Any, into: list[str]) -> None:
    for line in stream:
        into.append(line.rstrip("\n"))
        del into[:-20]


def _last_words(stderr: list[str], code: int) -> str:
    lines = [line for line in stderr if line.strip()]
    text = lines[-1] if lines else f"envmgr ended with exit code {code}."
    return text.removeprefix("error: ").strip()
