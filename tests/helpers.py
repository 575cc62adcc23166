"""Shared test helpers: run the real CLI in a subprocess, snapshot trees, read records."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from jupyter_envmgr.engine.bookkeeping import (
    bookkeeping_dir,
    journal_dir,
    journal_staging_dir,
    legacy_journal_dir,
    legacy_journal_staging_dir,
    lock_file,
    lock_owner_file,
    records_archive_dir,
)


@dataclass
class Sandbox:
    """An isolated user: HOME, root prefix, and a package cache shared across the session."""

    home: Path
    root: Path
    pkgs: Path
    env: dict[str, str]

    @property
    def envs(self) -> Path:
        return self.root / "envs"

    def run(self, *args: str, check: bool = True, timeout: float = 300, **kw) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter_envmgr", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            **kw,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"envmgr {' '.join(args)} failed: {result}")
        return result

    def popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "jupyter_envmgr", *args],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )


def other_machine_sandbox(base: Path, pkgs: Path | None = None) -> Sandbox:
    """Another user on another machine, under `base`: its own HOME and root prefix, and the
    package cache `pkgs` (default: a cold one of its own)."""
    pkgs = pkgs if pkgs is not None else base / "pkgs"
    (base / "home").mkdir(parents=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONDA", "MAMBA", "ENVMGR", "JUPYTER"))}  # fmt: skip
    env.update(HOME=str(base / "home"), MAMBA_ROOT_PREFIX=str(base / "root"),
               CONDA_PKGS_DIRS=str(pkgs), PYTHONUNBUFFERED="1")  # fmt: skip
    return Sandbox(home=base / "home", root=base / "root", pkgs=pkgs, env=env)


def hostile_channel(base: Path) -> tuple[Path, Path, dict[str, str]]:
    """(channel folder, a victim file outside every env, package name -> offending path)."""
    from jupyter_envmgr.channels.hostile import build_hostile_channel

    victim = base / "victim.txt"
    victim.write_text("precious\n")
    return base / "channel", victim, build_hostile_channel(base / "channel", victim)


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def result(self) -> dict:
        last = self.events()[-1]
        assert last["event"] in ("result", "error"), last
        return last

    def __str__(self) -> str:
        return f"rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


def tree_snapshot(*roots: Path, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """Every path under the roots with type, size, mtime and inode: equal means untouched.

    Taking an env's lock writes our lock bookkeeping (see `_lock_bookkeeping`), which is not
    the env's content: left out. The journal and the kernelspec copies beside it count."""
    snap: dict[str, tuple] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            ours = _is_bookkeeping_dir(dirpath)
            dirnames[:] = [
                d
                for d in dirnames
                if os.path.join(dirpath, d) not in skip and not (ours and _lock_bookkeeping(d))
            ]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                if (ours and _lock_bookkeeping(name)) or _is_bookkeeping_dir(path):
                    continue  # the folder itself changes whenever the lock's owner file does
                st = os.lstat(path)
                snap[path] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return snap


def _is_bookkeeping_dir(path: str) -> bool:
    return Path(path) == bookkeeping_dir(Path(path).parent.parent)


def _lock_bookkeeping(name: str) -> bool:
    """In conda-meta/envmgr/: the lock (and filelock's passing `lock.*` files), its owner file,
    and the records archive every operation adds to."""
    here = Path("prefix")
    lock = lock_file(here).name
    names = (lock, lock_owner_file(here).name, records_archive_dir(here).name)
    return name in names or name.startswith(lock + ".")


def pending_journals(prefix: Path) -> list[Path]:
    """The journal folders an operation left in the env (committed or being written), in
    our place or in the one 0.1.0 used: an env that is done with its operations has none."""
    places = (journal_dir, journal_staging_dir, legacy_journal_dir, legacy_journal_staging_dir)
    return [place(prefix) for place in places if os.path.lexists(place(prefix))]


def installed(prefix: Path) -> dict[str, tuple[str, str, str]]:
    """name -> (version, build, channel) from the env's conda-meta records."""
    out = {}
    for path in (prefix / "conda-meta").glob("*.json"):
        data = json.loads(path.read_text())
        out[data["name"]] = (data["version"], data["build"], data.get("channel", ""))
    return out


def versions(prefix: Path) -> dict[str, str]:
    return {name: v[0] for name, v in installed(prefix).items()}


def owned_files(prefix: Path) -> set[str]:
    files: set[str] = set()
    for path in (prefix / "conda-meta").glob("*.json"):
        files.update(json.loads(path.read_text()).get("files", []))
    return files


def files_on_disk(prefix: Path) -> set[str]:
    result = set()
    for dirpath, _dirnames, filenames in os.walk(prefix):
        rel_dir = os.path.relpath(dirpath, prefix)
        if rel_dir == "conda-meta" or rel_dir.startswith("conda-meta" + os.sep):
            continue
        for name in filenames:
            if rel_dir == "." and name == "CACHEDIR.TAG":
                continue  # rattler's install writes this marker into every prefix
            result.add(os.path.normpath(os.path.join(rel_dir, name)))
    return result


def envmgr_server_config(sandbox: Sandbox, monkeypatch, **envmgr: object) -> dict:
    """pytest-jupyter's `jp_server_config` for our extension over the sandbox, token auth on;
    the sandbox's HOME, root prefix and package cache also hold in the server's process."""
    for key in ("HOME", "MAMBA_ROOT_PREFIX", "CONDA_PKGS_DIRS"):
        monkeypatch.setenv(key, sandbox.env[key])
    return {
        "ServerApp": {
            "jpserver_extensions": {"jupyter_envmgr": True},
            "allow_unauthenticated_access": False,
            "terminals_enabled": False,
        },
        "EnvMgrExtension": {"root_prefix": str(sandbox.root), **envmgr},
    }


def on(channel: str, name: str, *specs: str, json: bool = False) -> list[str]:
    """The arguments of `envmgr VERB -n NAME -c CHANNEL --override-channels SPECS... -y`."""
    return ["-n", name, "-c", channel, "--override-channels", *specs, "-y"] + (
        ["--json"] if json else []
    )


def wait_for_event(proc: subprocess.Popen, kind: str, timeout: float = 120) -> dict:
    """Read a `--json` CLI's events until one of `kind` arrives."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("{"):
            event = json.loads(line)
            if event["event"] == kind:
                return event
    raise AssertionError(f"no {kind!r} event; stderr: {proc.stderr.read()}")


def kill_mid_link(sandbox: Sandbox, channel: str, verb: str, name: str, *specs: str) -> None:
    """`envmgr VERB -n NAME SPECS` SIGKILLed right after its first package link began: what a
    killed process leaves behind (a journal, half-linked files)."""
    proc = sandbox.popen(verb, *on(channel, name, *specs, json=True))
    wait_for_event(proc, "link")
    proc.send_signal(signal.SIGKILL)
    proc.wait()


NOBODY = 65534  # the unprivileged user the root-run tests act as


def user_without_root_powers(tmp_path: Path) -> tuple[list[str], Path]:
    """(the command prefix that runs a program as a user who cannot write through permission
    bits, a folder that user can read). Root writes through any bits: as root (as CI runs),
    that user is `nobody` (setpriv(1)), and the folder one outside pytest's, which is private
    to root; the caller removes it. Without setpriv the test skips, but never under CI."""
    import shutil
    import tempfile

    import pytest

    if os.geteuid() != 0:
        return [], tmp_path
    if not shutil.which("setpriv"):
        if os.environ.get("CI") == "true":
            pytest.fail("running as another user needs setpriv(1), under CI too")
        pytest.skip("running as another user needs setpriv(1)")
    base = Path(tempfile.mkdtemp(prefix="envmgr-nobody-"))
    base.chmod(0o755)
    return ["setpriv", "--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"], base
