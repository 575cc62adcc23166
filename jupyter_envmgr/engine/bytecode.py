"""Bytecode for the Python files of packages just linked, written by the env's own Python.

conda and micromamba compile the `.py` files of `noarch: python` packages after linking them
(their build cannot know the env's Python version); rattler's installer does not, so a new env's
first kernel compiles everything it imports, and the user waits for it. Here the env's Python
does it in the background once a change is linked, at a low priority (it takes idle CPU, and
a kernel started meanwhile is not slowed down much by it):

1. when ipykernel was linked, it first imports what a kernel start imports (each module on its
   own, failures ignored), so the bytecode a kernel needs first is written first and a kernel
   started meanwhile finds most of it written;
2. then it compiles the rest of those packages' files (`py_compile`, in
   the env's `__pycache__` folders next to the files; never the shared package cache: linked
   files are hard links, but `__pycache__` entries are new files in the env).

It never runs in a read-only env, and nothing it does can fail a change: it reports nothing and
every error is skipped (a file that does not compile stays without bytecode, as with conda).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from .prefix import META

# What `python -m ipykernel_launcher` imports before the kernel is ready (ipykernel 6-7), the
# heavy modules first. A missing one is skipped.
KERNEL_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",
    "debugpy",
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.extensions.storemagic",
    "ipykernel_launcher",
)

# Run by the env's Python (any 3.x): argv[1] is a JSON list of modules to import first; the
# files to compile come on stdin, one per line.
_SCRIPT = r"""
import json, os, signal, sys
sys.dont_write_bytecode = False
try:
    os.nice(10)  # the user's kernel, browser and server come first: this uses idle CPU
except Exception:
    pass
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # stop between files, never mid-write
for name in json.loads(sys.argv[1]):
    if stop:
        sys.exit(0)
    if name == "ipykernel_launcher":
        continue  # running it would start a kernel; it is compiled with the rest
    try:
        __import__(name)
    except BaseException:
        pass
import importlib.util, py_compile
for line in sys.stdin:
    if stop:
        break
    path = line.rstrip("\n")
    try:
        if not os.path.exists(importlib.util.cache_from_source(path)):
            py_compile.compile(path, doraise=True)
    except Exception:
        pass
"""


def env_python(prefix: Path) -> Path | None:
    """The env's Python, or None when it has none (or, on Windows, where it lives)."""
    python = prefix / ("python.exe" if sys.platform == "win32" else "bin/python")
    return python if python.is_file() else None


def _noarch_python(record: dict[str, object]) -> bool:
    noarch = record.get("noarch")
    if isinstance(noarch, dict):
        noarch = noarch.get("type")
    return noarch == "python"


def python_files(prefix: Path, names: Iterable[str]) -> list[Path]:
    """The `.py` files of the `noarch: python` packages named, as their records list them."""
    wanted = set(names)
    files: list[Path] = []
    meta = prefix / META
    try:
        entries = sorted(meta.glob("*.json"))
    except OSError:
        return []
    for entry in entries:
        # `<name>-<version>-<build>.json`: read only the records of the packages named.
        if entry.name.rsplit("-", 2)[0] not in wanted:
            continue
        try:
            record = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if record.get("name") not in wanted or not _noarch_python(record):
            continue
        listed = record.get("files") or []
        files.extend(prefix / f for f in listed if isinstance(f, str) and f.endswith(".py"))
    return files


def writable(prefix: Path) -> bool:
    return os.access(prefix, os.W_OK) and os.access(prefix / META, os.W_OK)


def compile_command(prefix: Path, names: Iterable[str]) -> tuple[list[str], str] | None:
    """(argv, stdin) of the env's Python compiling what was linked, or None when there is
    nothing to do (no Python, a read-only env, no `noarch: python` files)."""
    names = set(names)
    python = env_python(prefix)
    if python is None or not writable(prefix):
        return None
    files = python_files(prefix, names)
    first = list(KERNEL_MODULES) if "ipykernel" in names else []
    if not files and not first:
        return None
    # -I: none of the user's PYTHON* variables (PYTHONDONTWRITEBYTECODE, PYTHONPYCACHEPREFIX)
    # and no user site: only the env's own files are imported and compiled, in the env.
    argv = [str(python), "-I", "-c", _SCRIPT, json.dumps(first)]
    return argv, "".join(f"{f}\n" for f in files)


def compile_linked(prefix: Path, names: Iterable[str]) -> None:
    """Compile what was linked and wait for it (tests, and callers with time to spare)."""
    command = compile_command(prefix, names)
    if command is None:
        return
    argv, stdin = command
    subprocess.run(
        argv, input=stdin, text=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        check=False, cwd=prefix,
    )  # fmt: skip
