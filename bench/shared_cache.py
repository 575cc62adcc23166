"""Figure shared-cache: two users creating the same env from a site package cache.

root fills a site cache (`envmgr create` with `CONDA_PKGS_DIRS=<site cache>`, then `chmod -R
a+rX,go-w`); two real unix users (`envmgr-alice`, `envmgr-bob`, made when missing) each create
the same env with `CONDA_PKGS_DIRS=<site cache>,<own cache>`, the CLI run through setpriv. The
channel is served over HTTP on 127.0.0.1, so every package download is counted.

Measured for the second user: the new bytes (allocated blocks) and inodes in their env plus
their own cache, counting only inodes the site cache does not hold, each once. Once with
`fs.protected_hardlinks=1` (the kernel's default: the engine copies the site's files, as
rattler falls back to a copy when a hard link is refused) and once with 0 (set for the
measurement and restored; hard links to the site's inodes). The 0 variant is skipped where the
sysctl cannot be written and under CI=true; the whole figure is skipped when not root.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import SKIP, Row, clean_environ, fmt_bytes

USERS = ("envmgr-alice", "envmgr-bob")
QUICK_SPECS = ["python", "alpha"]
FULL_SPECS = ["python", "ipykernel", "pyyaml"]
HARDLINKS = Path("/proc/sys/fs/protected_hardlinks")


def _user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
        return pwd.getpwnam(name)


def _envmgr(args: list[str], env: dict[str, str], user: pwd.struct_passwd | None = None) -> Any:
    as_user = []
    if user is not None:
        as_user = ["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups"]
    proc = subprocess.run(
        [*as_user, sys.executable, "-m", "jupyter_envmgr", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"envmgr {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _inodes(*roots: Path) -> dict[tuple[int, int], int]:
    """(dev, ino) -> allocated bytes of every file, link and folder under the roots (lstat)."""
    found: dict[tuple[int, int], int] = {}
    for root in roots:
        for base, dirs, files in os.walk(root):
            for name in (*dirs, *files, ""):
                st = os.lstat(os.path.join(base, name) if name else base)
                found[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return found


def _new(site: set[tuple[int, int]], *roots: Path) -> tuple[int, int]:
    mine = {k: v for k, v in _inodes(*roots).items() if k not in site}
    return sum(mine.values()), len(mine)


def _one_setting(
    base: Path, site_cache: Path, url: str, specs: list[str], setting: str
) -> dict[str, Any]:
    site = set(_inodes(site_cache))
    out: dict[str, Any] = {"protected_hardlinks": setting}
    for name in USERS:
        pw = _user(name)
        home = base / f"{name}-{setting}"
        home.mkdir()
        os.chown(home, pw.pw_uid, pw.pw_gid)
        env = clean_environ(
            HOME=str(home),
            MAMBA_ROOT_PREFIX=str(home / "root"),
            CONDA_PKGS_DIRS=f"{site_cache},{home / 'pkgs'}",
        )
        args = ["create", "-n", "same", "-c", url, "--override-channels", "-y", *specs]
        result = _envmgr(args, env, pw)
        prefix, own = home / "root" / "envs" / "same", home / "pkgs"
        new_bytes, new_inodes = _new(site, prefix, own)
        env_all = _inodes(prefix)
        out[name] = {
            "new_bytes": new_bytes,
            "new_inodes": new_inodes,
            "env_bytes": sum(env_all.values()),
            "env_inodes": len(env_all),
            "links": result.get("links"),
        }
    return out


def _set_hardlinks(value: str) -> bool:
    try:
        HARDLINKS.write_text(value)
    except OSError:
        return False
    return True


def _cannot_set(before: str, setting: str) -> str:
    """Why `fs.protected_hardlinks` cannot be `setting` for a measurement ('' when it can)."""
    if setting == before:
        return ""
    if os.environ.get("CI") == "true":
        return "the sysctl is not changed under CI"
    if not os.access(HARDLINKS, os.W_OK):
        return "fs.protected_hardlinks cannot be written here"
    return ""


def _row(data: dict[str, Any]) -> Row:
    second = data[USERS[1]]
    setting = data["protected_hardlinks"]
    links = second["links"] or {}
    behaviour = (
        "the site's files are hard-linked into the env (same inodes)"
        if links.get("mode") == "linked"
        else "the site's files are copied into the env (rattler's hard link is refused with "
        "EPERM and it copies each file); the own cache gets only pointers"
    )
    return Row(
        "shared-cache",
        f"second user from a site cache, protected_hardlinks={setting}: new bytes, inodes",
        f"{fmt_bytes(second['new_bytes'])}, {second['new_inodes']} inodes",
        f"env {fmt_bytes(second['env_bytes'])}, {second['env_inodes']} inodes",
        None,
        "",
        "",
        f"{behaviour}; output: {links.get('text', '?')}",
        data,
    )


def figure(work: Path, quick: bool) -> list[Row]:
    if os.geteuid() != 0 or not shutil.which("setpriv") or not HARDLINKS.exists():
        return [Row("shared-cache", "two users from a site cache", "", result=SKIP,
                    note="needs root (real users, setpriv) and Linux")]  # fmt: skip
    from jupyter_envmgr.channels import build_test_channels, serve_channel

    specs = QUICK_SPECS if quick else FULL_SPECS
    # Not under `work`: the users must reach their homes, and `work` may be private to root.
    base = Path(tempfile.mkdtemp(prefix="envmgr-bench-shared-"))
    base.chmod(0o755)
    rows: list[Row] = []
    before = HARDLINKS.read_text().strip()
    try:
        with serve_channel(build_test_channels().main) as url:
            _measure(base, url, specs, before, rows)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def _measure(base: Path, url: str, specs: list[str], before: str, rows: list[Row]) -> None:
    site_cache = base / "site-pkgs"
    admin = clean_environ(
        HOME=str(base / "admin"),
        MAMBA_ROOT_PREFIX=str(base / "site"),
        CONDA_PKGS_DIRS=str(site_cache),
    )
    _envmgr(["create", "-n", "site", "-c", url, "--override-channels", "-y", *specs], admin)
    subprocess.run(["chmod", "-R", "a+rX,go-w", str(site_cache)], check=True)
    for setting in ("1", "0"):
        why = _cannot_set(before, setting)
        if why:
            rows.append(Row("shared-cache", f"protected_hardlinks={setting}", "",
                            result=SKIP, note=why))  # fmt: skip
            continue
        try:
            if setting != before:
                _set_hardlinks(setting)
            rows.append(_row(_one_setting(base, site_cache, url, specs, setting)))
        finally:
            if setting != before:
                _set_hardlinks(before)
