"""Shared test helpers: run the real CLI in a subprocess, snapshot trees, read records."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


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
    """Every path under the roots with type, size, mtime and inode: equal means untouched."""
    snap: dict[str, tuple] = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            # conda-meta/envmgr/ holds only our lock bookkeeping, not the env's content.
            dirnames[:] = [
                d
                for d in dirnames
                if os.path.join(dirpath, d) not in skip
                and not (d == "envmgr" and os.path.basename(dirpath) == "conda-meta")
            ]
            for name in dirnames + filenames:
                path = os.path.join(dirpath, name)
                st = os.lstat(path)
                snap[path] = (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ino)
    return snap


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


def on(channel: str, name: str, *specs: str, json: bool = False) -> list[str]:
    """The arguments of `envmgr VERB -n NAME -c CHANNEL --override-channels SPECS... -y`."""
    return ["-n", name, "-c", channel, "--override-channels", *specs, "-y"] + (
        ["--json"] if json else []
    )
