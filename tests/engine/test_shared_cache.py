"""A package cache shared across users: a site cache root fills (owned by root, readable by
all) layered before each user's own cache, `CONDA_PKGS_DIRS=<site>,<own>`, used by real unix
users (`envmgr-alice`, `envmgr-bob`) running the CLI through setpriv.

What a user relies on: their create takes what the site cache has without downloading it
again and without writing there (no lock, no file), their own cache receives only what the
site lacks, the env works, and the output says whether the site's files were hard-linked or
copied (`fs.protected_hardlinks=1` forbids hard links to root's files). With the sysctl at 0
the env's files are the site's inodes. A corrupt site entry is never linked. `clean` never
touches the site cache and says so.

Needs root (users, setpriv, sysctl); skips elsewhere, never under CI=true."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jupyter_envmgr.channels import serve_channel

from ..helpers import CliResult, tree_snapshot

USERS = ("envmgr-alice", "envmgr-bob")
SITE_SPECS = ("python", "alpha")
HARDLINKS = Path("/proc/sys/fs/protected_hardlinks")


def _cannot(why: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot set up users for a shared package cache under CI: {why}")
    pytest.skip(why)


def ensure_user(name: str) -> pwd.struct_passwd:
    """The test user, made if missing (another harness uses the same names)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "-m", name], check=True, capture_output=True)
        return pwd.getpwnam(name)


@dataclass
class User:
    pw: pwd.struct_passwd
    home: Path
    env: dict[str, str]

    @property
    def own_pkgs(self) -> Path:
        return self.home / "pkgs"

    @property
    def envs(self) -> Path:
        return self.home / "root" / "envs"

    def as_me(self) -> list[str]:
        uid, gid = self.pw.pw_uid, self.pw.pw_gid
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups"]

    def run(self, *args: str) -> CliResult:
        proc = subprocess.run(
            [*self.as_me(), sys.executable, "-m", "jupyter_envmgr", *args],
            env=self.env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    def python(self, env: str, code: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_me(), str(self.envs / env / "bin" / "python"), "-c", code],
            env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip


@dataclass
class Site:
    base: Path
    cache: Path
    url: str
    requests: list[str]

    def packages_fetched(self) -> list[str]:
        return sorted(p.rsplit("/", 1)[-1] for p in self.requests if p.endswith(".conda"))


@pytest.fixture(scope="module")
def site(channels) -> Iterator[Site]:
    """The site cache, filled by root with a create (python, alpha) and made readable by all;
    the channel served over HTTP so that every package download is counted."""
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"):
        _cannot("real second users need root, setpriv(1) and useradd(8)")
    base = Path(tempfile.mkdtemp(prefix="envmgr-shared-"))
    requests: list[str] = []
    try:
        base.chmod(0o755)
        with serve_channel(channels.main, requests=requests) as url:
            cache = base / "site-pkgs"
            env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA"))}
            env.update(HOME=str(base / "admin"), MAMBA_ROOT_PREFIX=str(base / "site"),
                       CONDA_PKGS_DIRS=str(cache))  # fmt: skip
            subprocess.run(
                [sys.executable, "-m", "jupyter_envmgr", "create", "-n", "site-env", "-c", url,
                 "--override-channels", "-y", *SITE_SPECS],
                env=env, check=True, capture_output=True, timeout=300, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            subprocess.run(["chmod", "-R", "a+rX,go-w", str(cache)], check=True)
            requests.clear()
            yield Site(base, cache, url, requests)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def user_factory(site: Site):
    made: list[Path] = []
    site.requests.clear()  # each test counts its own downloads

    def make(name: str) -> User:
        pw = ensure_user(name)
        home = site.base / f"{name}-{len(made)}"
        home.mkdir()
        os.chown(home, pw.pw_uid, pw.pw_gid)
        made.append(home)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONDA", "MAMBA"))}
        env.update(
            HOME=str(home),
            MAMBA_ROOT_PREFIX=str(home / "root"),
            CONDA_PKGS_DIRS=f"{site.cache},{home / 'pkgs'}",  # the site's first, then their own
            PYTHONUNBUFFERED="1",
        )
        return User(pw, home, env)

    yield make
    for home in made:
        shutil.rmtree(home, ignore_errors=True)


def _dist_dirs(cache: Path) -> set[str]:
    """Extracted packages really held in `cache` (not pointers to another cache)."""
    return (
        {p.name for p in cache.iterdir() if not p.is_symlink() and (p / "info").is_dir()}
        if cache.is_dir()
        else set()
    )


def _create(user: User, site: Site, env: str, *specs: str, json_out: bool = True) -> CliResult:
    args = ["create", "-n", env, "-c", site.url, "--override-channels", "-y", *specs]
    res = user.run(*args, "--json") if json_out else user.run(*args)
    assert res.returncode == 0, res
    return res


def _alpha_file(root: Path) -> Path:
    return next(root.glob("**/site-packages/alpha/__init__.py"))


@pytest.fixture
def hardlinks_allowed() -> Iterator[None]:
    """fs.protected_hardlinks=0 for the test, restored after."""
    if os.environ.get("CI") == "true":
        pytest.skip("the sysctl is the machine's: not changed under CI")
    before = HARDLINKS.read_text().strip()
    try:
        HARDLINKS.write_text("0")
    except OSError as exc:
        pytest.skip(f"fs.protected_hardlinks cannot be written here: {exc}")
    try:
        yield
    finally:
        HARDLINKS.write_text(before)


def test_a_user_creates_from_the_site_cache_without_downloading_or_writing_there(
    site: Site, user_factory
):
    before = tree_snapshot(site.cache)
    alice = user_factory("envmgr-alice")
    res = _create(alice, site, "mine", *SITE_SPECS, "beta")
    # Only what the site lacks is downloaded, into alice's own cache.
    assert site.packages_fetched() == ["beta-2.0-pyh_envmgr_0.conda"], site.requests
    assert _dist_dirs(alice.own_pkgs) == {"beta-2.0-pyh_envmgr_0"}
    assert tree_snapshot(site.cache) == before  # no file written, no lock taken
    ran = alice.python("mine", "import os, alpha, beta; print(os.getuid())")
    assert ran.returncode == 0 and ran.stdout.strip() == str(alice.pw.pw_uid), ran
    links = res.result()["links"]
    # The plan said beforehand what comes from the site cache, and how.
    planned = next(e for e in res.events() if e["event"] == "plan")["site_cache"]
    assert planned["packages"] == links["site_packages"] >= 2, planned
    assert planned["links"] == links["mode"], (planned, links)
    if HARDLINKS.read_text().strip() == "1":
        # root's files cannot be hard-linked by alice: the engine copies them, and says so.
        assert links["mode"] == "copied" and links["copied_bytes"] > 0, links
        assert "hard links not permitted across owners" in links["text"]
        assert (
            os.stat(_alpha_file(alice.envs / "mine")).st_ino
            != os.stat(_alpha_file(site.cache)).st_ino
        )
    # `usage` says it per env.
    usage = alice.run("usage", "-n", "mine")
    assert usage.returncode == 0, usage
    assert f"mine: files from the site package cache {links['text']}" in usage.stdout, usage


def test_the_second_user_is_told_linked_or_copied_in_plain_text(site: Site, user_factory):
    bob = user_factory("envmgr-bob")
    dry = bob.run("create", "-n", "same", "-c", site.url, "--override-channels", "--dry-run",
                  *SITE_SPECS)  # fmt: skip
    assert dry.returncode == 0 and "From the site package cache: " in dry.stdout, dry
    # A dry run links and points at nothing (the channel's index is cached, as for any solve).
    assert not (bob.envs / "same").exists()
    assert {p.name for p in bob.own_pkgs.iterdir()} <= {"cache"}
    res = _create(bob, site, "same", *SITE_SPECS, json_out=False)
    assert site.packages_fetched() == [], site.requests
    assert _dist_dirs(bob.own_pkgs) == set()
    expected = "linked" if HARDLINKS.read_text().strip() == "0" else "copied ("
    assert f"Files from the site package cache: {expected}" in res.stdout, res


def test_with_protected_hardlinks_off_the_env_shares_the_site_cache_inodes(
    site: Site, user_factory, hardlinks_allowed
):
    before = tree_snapshot(site.cache)
    bob = user_factory("envmgr-bob")
    res = _create(bob, site, "linked", *SITE_SPECS)
    assert res.result()["links"]["mode"] == "linked", res.result()["links"]
    mine, theirs = os.stat(_alpha_file(bob.envs / "linked")), os.stat(_alpha_file(site.cache))
    assert (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
    assert mine.st_nlink >= 2
    assert site.packages_fetched() == [] and tree_snapshot(site.cache) == before
    assert bob.python("linked", "import alpha").returncode == 0


SITE_GROUP = "envmgr-site"


@pytest.fixture
def group_may_write_site_files(site: Site) -> Iterator[str]:
    """The site cache's files read-write for a group (its folders stay root's only): what an
    admin does so that its users may hard-link them with fs.protected_hardlinks=1, without
    changing the machine's sysctl (so it runs under CI too). Restored after."""
    subprocess.run(["groupadd", "-f", SITE_GROUP], check=True, capture_output=True)
    files = [p for p in site.cache.rglob("*") if p.is_file() and not p.is_symlink()]
    try:
        for f in files:
            os.chown(f, 0, _group_id(SITE_GROUP))
            f.chmod(f.stat().st_mode | 0o060)
        yield SITE_GROUP
    finally:
        for f in files:
            os.chown(f, 0, 0)
            f.chmod(f.stat().st_mode & ~0o020)


def _group_id(name: str) -> int:
    return grp.getgrnam(name).gr_gid


def test_files_a_user_may_read_and_write_are_hard_linked_with_protected_hardlinks_on(
    site: Site, user_factory, group_may_write_site_files
):
    bob = user_factory("envmgr-bob")
    subprocess.run(["usermod", "-aG", group_may_write_site_files, bob.pw.pw_name], check=True)
    try:
        res = _create(bob, site, "grouplinked", *SITE_SPECS)
        links = res.result()["links"]
        mine = os.stat(_alpha_file(bob.envs / "grouplinked"))
        theirs = os.stat(_alpha_file(site.cache))
        assert (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
        assert links["mode"] == "linked", links
        assert site.packages_fetched() == []
    finally:
        subprocess.run(["gpasswd", "-d", bob.pw.pw_name, group_may_write_site_files],
                       check=False, capture_output=True)  # fmt: skip


def test_a_corrupt_site_entry_is_not_linked_but_fetched_into_the_users_cache(
    site: Site, user_factory
):
    victim = _alpha_file(site.cache)
    dist = victim.relative_to(site.cache).parts[0]  # alpha-<version>-<build>
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + b"#")  # same size, other bytes
    try:
        alice = user_factory("envmgr-alice")
        res = _create(alice, site, "careful", *SITE_SPECS)
        assert site.packages_fetched() == [f"{dist}.conda"], site.requests
        assert _dist_dirs(alice.own_pkgs) == {dist}
        notes = res.result()["notes"]
        assert any("does not match its sha256" in n for n in notes), notes
        assert _alpha_file(alice.envs / "careful").read_bytes() == original
    finally:
        victim.write_bytes(original)


def test_clean_as_a_user_never_touches_the_site_cache_and_says_so(site: Site, user_factory):
    alice = user_factory("envmgr-alice")
    _create(alice, site, "gone", *SITE_SPECS, "beta")
    _create(alice, site, "kept", *SITE_SPECS)
    assert alice.run("env", "remove", "-n", "gone", "-y").returncode == 0
    before = tree_snapshot(site.cache)
    res = alice.run("clean", "--all", "-y")
    assert res.returncode == 0, res
    assert f"Not cleaned: {site.cache}" in res.stdout, res
    assert tree_snapshot(site.cache) == before
    assert _dist_dirs(alice.own_pkgs) == set()  # their own entries are gone
    # Pointers to the site's entries that an env uses are kept; the env still works.
    pointers = {p.name for p in alice.own_pkgs.iterdir() if p.is_symlink()}
    assert pointers and all(name.startswith(("python-", "alpha-")) for name in pointers), pointers
    assert alice.python("kept", "import alpha").returncode == 0
    # Once no env uses them, clean removes the pointers (only the links) too.
    assert alice.run("env", "remove", "-n", "kept", "-y").returncode == 0
    assert alice.run("clean", "--all", "-y").returncode == 0
    assert not any(p.is_symlink() for p in alice.own_pkgs.iterdir())
    assert tree_snapshot(site.cache) == before
    plan = json.loads(alice.run("clean", "--all", "--dry-run", "--json").stdout.splitlines()[-1])
    assert plan["plan"]["not_cleaned"] == [str(site.cache)], plan
