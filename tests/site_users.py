"""Real second users and a site folder for the many-users tests.

`envmgr-alice` and `envmgr-bob` are real unix users (made once, `useradd -m`, idempotent);
the CLI runs as them through `setpriv`. The site is a folder root makes under /tmp that every
user can read (pytest's tmp_path is private to root): the test channel (hard links to the
built one), a site envs dir with the site's `.condarc` naming it (read as `$CONDA_ROOT/.condarc`,
as conda reads a system-wide one; on a cluster it is /etc/conda/.condarc), and a site package
cache. Where this cannot be set up (not root, no setpriv or useradd) the tests skip, except
under CI=true, where they fail."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from .helpers import CliResult

USERS = ("envmgr-alice", "envmgr-bob")


def cannot(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run the many-users tests under CI: {why}")
    pytest.skip(why)


def ensure_user(name: str) -> pwd.struct_passwd:
    """The unix user `name`, made with `useradd -m` when missing."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0 or not shutil.which("useradd"):
        cannot(f"making the user {name} needs root and useradd(8)")
    made = subprocess.run(["useradd", "-m", name], capture_output=True, text=True)
    if made.returncode not in (0, 9):  # 9: made meanwhile by another test process
        cannot(f"useradd {name} failed: {made.stderr.strip()}")
    return pwd.getpwnam(name)


def require_root_and_setpriv() -> None:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        cannot("running the CLI as another user needs root and setpriv(1)")


@dataclass
class User:
    """A real user with a HOME of their own under the site's base (their envs and cache)."""

    name: str
    uid: int
    gid: int
    home: Path
    env: dict[str, str]

    @property
    def argv(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups"]

    @property
    def envs(self) -> Path:
        return self.home / "micromamba" / "envs"

    @property
    def pkgs(self) -> Path:
        return self.home / "micromamba" / "pkgs"

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None) -> CliResult:
        return self.command([sys.executable, "-m", "jupyter_envmgr", *args], check=check, env=env)

    def command(
        self, argv: list[str], *, check: bool = True, env: dict[str, str] | None = None
    ) -> CliResult:
        proc = subprocess.run(
            [*self.argv, *argv],
            env=env or self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(argv)} failed: {result}")
        return result

    def popen(self, argv: list[str]) -> subprocess.Popen:
        return subprocess.Popen(
            [*self.argv, *argv],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def clean_environ(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONDA", "MAMBA", "ENVMGR", "JUPYTER"))
    }
    env.update(PYTHONUNBUFFERED="1", **extra)
    return env


@dataclass
class Site:
    base: Path  # world-readable, root's
    channel: Path  # the main test channel, readable by every user
    root: Path  # $CONDA_ROOT: holds the site's .condarc
    envs: Path  # the site envs dir
    pkgs: Path  # the site package cache (the admin's)
    admin_env: dict[str, str]  # root's environment as the admin who publishes

    @property
    def channel_url(self) -> str:
        return self.channel.as_uri()

    def admin(self, *args: str, check: bool = True) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-m", "jupyter_envmgr", *args],
            env=self.admin_env,
            capture_output=True,
            text=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        result = CliResult(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            raise AssertionError(f"admin: envmgr {' '.join(args)} failed: {result}")
        return result

    def user(self, name: str) -> User:
        pw = ensure_user(name)
        home = self.base / f"home-{name}"
        home.mkdir(exist_ok=True)
        os.chown(home, pw.pw_uid, pw.pw_gid)
        env = clean_environ(HOME=str(home), USER=name, LOGNAME=name, CONDA_ROOT=str(self.root))
        return User(name, pw.pw_uid, pw.pw_gid, home, env)


def make_site(channel_dir: Path) -> Site:
    """A fresh site under /tmp, root's and readable by all; remove it with `remove_site`."""
    require_root_and_setpriv()
    base = Path(tempfile.mkdtemp(prefix="envmgr-site-"))
    base.chmod(0o755)
    channel = base / "channel"
    # Hard links: instant, and readable through this world-readable path.
    subprocess.run(["cp", "-al", str(channel_dir), str(channel)], check=True)
    subprocess.run(["chmod", "-R", "a+rX", str(channel)], check=True)
    root = base / "site"
    envs, pkgs = root / "envs", root / "pkgs"
    envs.mkdir(parents=True)
    pkgs.mkdir()
    (root / ".condarc").write_text(f"envs_dirs:\n  - {envs}\n", encoding="utf-8")
    admin_home = base / "admin-home"
    admin_home.mkdir(mode=0o700)
    admin_env = clean_environ(
        HOME=str(admin_home),
        MAMBA_ROOT_PREFIX=str(admin_home / "micromamba"),
        CONDA_PKGS_DIRS=str(pkgs),
        CONDA_ROOT=str(root),
    )
    return Site(base, channel, root, envs, pkgs, admin_env)


def remove_site(site: Site) -> None:
    shutil.rmtree(site.base, ignore_errors=True)
