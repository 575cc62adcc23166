"""After a change is linked, the env's Python writes the bytecode of the noarch packages it got,
in the env (never in the shared package cache), and nothing in an env the user cannot write."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from jupyter_envmgr.engine.bytecode import compile_command, compile_linked, python_files

from ..helpers import on, user_without_root_powers


def _names(prefix: Path) -> list[str]:
    return [json.loads(p.read_text())["name"] for p in (prefix / "conda-meta").glob("*.json")]


def _cached(prefix: Path, source: Path) -> Path:
    """Where the env's Python keeps the bytecode of `source`."""
    script = f"import importlib.util; print(importlib.util.cache_from_source({str(source)!r}))"
    out = subprocess.run([str(prefix / "bin" / "python"), "-I", "-c", script], capture_output=True)
    return Path(out.stdout.decode().strip())


def test_a_new_env_gets_the_bytecode_of_its_noarch_packages_in_the_env(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "k", "python", "ipykernel"))
    prefix = sandbox.envs / "k"
    files = python_files(prefix, _names(prefix))
    assert prefix / "lib" in files[0].parents  # the noarch files, where they were linked
    kernelapp = next(f for f in files if f.as_posix().endswith("ipykernel/kernelapp.py"))
    assert not _cached(prefix, kernelapp).exists()  # rattler writes none

    compile_linked(prefix, _names(prefix))

    missing = [f for f in files if not _cached(prefix, f).exists()]
    assert missing == []
    # In the env: the package cache's extracted files have no bytecode beside them.
    assert not list(sandbox.pkgs.glob("*/site-packages/ipykernel/__pycache__/*.pyc"))
    # A kernel in the env runs with it (imports work, nothing else changed).
    code = "import ipykernel.kernelapp, sys; print(sys.prefix)"
    out = subprocess.run([str(prefix / "bin" / "python"), "-c", code], capture_output=True)
    assert out.stdout.decode().strip() == str(prefix)


def test_only_the_packages_just_linked_are_compiled(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "k", "python", "ipykernel"))
    prefix = sandbox.envs / "k"
    compile_linked(prefix, ["traitlets"])
    traitlets = [f for f in python_files(prefix, ["traitlets"])]
    assert traitlets and all(_cached(prefix, f).exists() for f in traitlets)
    others = python_files(prefix, ["ipython"])
    assert others and not any(_cached(prefix, f).exists() for f in others)
    # Not asked, not started: ipykernel's modules were not imported either.
    kernelapp = next(f for f in python_files(prefix, ["ipykernel"]) if f.name == "kernelapp.py")
    assert not _cached(prefix, kernelapp).exists()


_COMPILE_AS_USER = (
    "import json, sys; from pathlib import Path; "
    "from jupyter_envmgr.engine.bytecode import compile_command, compile_linked; "
    "prefix = Path(sys.argv[1]); "
    "names = [json.loads(p.read_text())['name'] for p in (prefix / 'conda-meta').glob('*.json')]; "
    "assert compile_command(prefix, names) is None, 'a compile was planned'; "
    "compile_linked(prefix, names)"
)


def test_an_env_the_user_cannot_write_gets_no_bytecode(sandbox, channels, tmp_path):
    sandbox.run("create", *on(channels.main_url, "k", "python", "ipykernel"))
    as_user, base = user_without_root_powers(tmp_path)
    try:
        # As root (CI): root's env, hard-linked where `nobody` can read it but not write. As
        # a user: that user's env with its write bits taken away.
        prefix = base / "k"
        subprocess.run(["cp", "-al", str(sandbox.envs / "k"), str(prefix)], check=True)
        mode = prefix.stat().st_mode
        if not as_user:
            prefix.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        try:
            subprocess.run(
                [*as_user, sys.executable, "-c", _COMPILE_AS_USER, str(prefix)],
                check=True, capture_output=True, text=True, timeout=120,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
        finally:
            prefix.chmod(mode)
        assert not list(prefix.rglob("*.pyc"))
    finally:
        if base != tmp_path:
            shutil.rmtree(base, ignore_errors=True)


def test_an_env_without_python_or_noarch_files_starts_nothing(sandbox, channels):
    sandbox.run("create", *on(channels.main_url, "plain", "delta=1.0"))
    prefix = sandbox.envs / "plain"
    assert compile_command(prefix, _names(prefix)) is None
