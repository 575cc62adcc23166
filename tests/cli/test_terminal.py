"""On a terminal: the plan, a [Y/n] prompt, and a progress line; `jupyter envmgr` works too.

Every confirmation (a package plan, removing an env) goes through one prompt: asked on a
terminal, answered by -y, refused with no terminal to ask on.
"""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
import time

from ..helpers import installed, on


def _run_on_tty(
    sandbox, args, answer: bytes, timeout: float = 120, prompt: bytes = b"Confirm changes: [Y/n]"
) -> str:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_envmgr", *args],
        env=sandbox.env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
        if not answered and prompt in out:
            os.write(master, answer)
            answered = True
    proc.wait(timeout=60)
    os.close(master)
    assert answered, out.decode(errors="replace")
    return out.decode(errors="replace")


def test_terminal_prompt_no_aborts_and_yes_applies_with_progress(sandbox, channels):
    args = ["create", "-n", "tty", "-c", channels.main_url, "--override-channels", "delta"]
    out = _run_on_tty(sandbox, args, b"n\n")
    assert "Aborted: nothing was changed." in out
    assert not (sandbox.envs / "tty").exists()
    out = _run_on_tty(sandbox, args, b"\n")  # Enter means yes, as in micromamba
    assert "+  delta" in out and "Summary: install 1" in out
    assert "Linking 1/1: delta" in out  # the notebook's words: progress_text.ProgressState
    assert "delta" in installed(sandbox.envs / "tty")


def test_env_remove_asks_on_a_terminal_and_no_is_the_default(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "gone", "delta"))
    prefix = sandbox.envs / "gone"
    prompt = f"Remove environment {prefix}? [y/N]".encode()
    out = _run_on_tty(sandbox, ["env", "remove", "-n", "gone"], b"\n", prompt=prompt)
    assert "Aborted: nothing was changed." in out
    assert "delta" in installed(prefix)
    out = _run_on_tty(sandbox, ["env", "remove", "-n", "gone"], b"y\n", prompt=prompt)
    assert f"Removed {prefix}" in out
    assert not prefix.exists()


def test_env_remove_without_terminal_or_yes_refuses(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "kept", "delta"))
    res = sandbox.run("env", "remove", "-n", "kept", "--json", check=False)
    assert res.returncode == 1
    error = res.result()
    assert error["event"] == "error" and error["reason"] == "confirmation-required"
    assert "pass -y" in error["message"]
    assert "delta" in installed(sandbox.envs / "kept")


def test_jupyter_envmgr_is_the_same_command(sandbox, channels):
    jupyter = shutil.which("jupyter", path=os.path.dirname(sys.executable))
    assert jupyter, "jupyter_core's `jupyter` should be installed beside this Python"
    proc = subprocess.run(
        [jupyter, "envmgr", "info", "--json"],
        env=sandbox.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert f'"root_prefix": "{sandbox.root}"' in proc.stdout
