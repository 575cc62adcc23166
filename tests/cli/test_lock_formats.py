"""Lock files other tools speak: conda-lock.yml (version 1) and pixi.lock (versions 7 and 6),
written for two platforms by `env export`, read back by their own tools' parsers (conda-lock's,
rattler's) and by `create -f`, which recreates the env with the same records; a conda-lock.yml
written by conda-lock's own writer creates an env; bad files are refused in one message before
anything is fetched, with nothing on disk changed.

The channels are served over HTTP with a log of every request, so "nothing was fetched" is
what the server saw, and the bad files are tried by another user with a cold package cache.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import rattler
import yaml

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.channels.synthetic import FOREIGN_SUBDIR
from jupyter_envmgr.engine.policy import Policy
from jupyter_envmgr.engine.prefix import read_records
from jupyter_envmgr.engine.published import VARIABLE, publish
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, installed, on, other_machine_sandbox, tree_snapshot
from .test_pip_lock import _pip, index  # noqa: F401  (index: a PEP 503 index of two wheels)

HERE = str(rattler.Subdir.current())
SPECS = ("python", "alpha", "beta=1.0", "delta", "prefixpkg")
# What a conda-lock entry carries of a record (no size, timestamp, license or constrains).
IDENTITY = ("version", "build", "build_number", "subdir", "url", "channel", "sha256", "md5",
            "noarch", "depends")  # fmt: skip


@pytest.fixture
def served(channels):
    log: list[str] = []
    with serve_channel(channels.main.parent, requests=log) as base:
        yield f"{base}/main", log


@pytest.fixture
def src(sandbox, served) -> Path:
    main, _ = served
    sandbox.run("create", *on(main, "src", *SPECS))
    return sandbox.envs / "src"


def _records(prefix: Path, fields: tuple[str, ...] | None = None) -> dict[str, dict]:
    """name -> the record's fields (all of them, or `fields`), as conda-meta holds them."""
    out = {}
    for r in read_records(prefix, files="none"):
        whole = {
            "version": str(r.version), "build": r.build, "build_number": r.build_number,
            "subdir": r.subdir, "url": r.url, "channel": r.channel,
            "sha256": r.sha256.hex() if r.sha256 else None,
            "md5": r.md5.hex() if r.md5 else None, "noarch": str(r.noarch),
            "depends": list(r.depends), "constrains": list(r.constrains), "size": r.size,
            "timestamp": r.timestamp, "license": r.license, "arch": r.arch,
            "platform": r.platform, "file_name": r.file_name,
        }  # fmt: skip
        out[r.name.normalized] = {k: whole[k] for k in fields} if fields else whole
    return out


def _export(sandbox: Sandbox, out: Path, fmt: str, *platforms: str) -> str:
    flags = [arg for p in platforms for arg in ("--platform", p)]
    sandbox.run("env", "export", "-n", "src", "--format", fmt, *flags, "-f", str(out))
    return out.read_text()


def _recreate(sandbox: Sandbox, tmp_path: Path, lock: Path, *extra: str) -> Path:
    other = tmp_path / "elsewhere"
    sandbox.run("create", "-r", str(other), "-n", "copy", "-f", str(lock), "-y", *extra)
    return other / "envs" / "copy"


def test_conda_lock_for_two_platforms_is_read_by_conda_lock_and_recreates_the_env(
    sandbox, src, tmp_path
):
    from conda_lock.lockfile import parse_conda_lock_file

    out = tmp_path / "conda-lock.yml"
    text = _export(sandbox, out, "conda-lock", HERE, FOREIGN_SUBDIR)
    assert text.startswith("# The environment src, locked by jupyter_envmgr")
    parsed = parse_conda_lock_file(out)  # conda-lock's own parser and v1 model
    assert parsed.metadata.platforms == sorted([HERE, FOREIGN_SUBDIR])
    by_platform: dict[str, dict[str, str]] = {}
    for package in parsed.package:
        assert package.manager == "conda" and package.hash.md5 and package.hash.sha256
        by_platform.setdefault(package.platform, {})[package.name] = package.url
    names = {"python", "alpha", "beta", "delta", "prefixpkg"}
    assert {p: set(urls) for p, urls in by_platform.items()} == {HERE: names,
                                                                 FOREIGN_SUBDIR: names}  # fmt: skip
    # The other platform was solved for its own subdir (noarch packages are shared).
    assert f"/{FOREIGN_SUBDIR}/python-" in by_platform[FOREIGN_SUBDIR]["python"]
    assert "/noarch/alpha-" in by_platform[FOREIGN_SUBDIR]["alpha"]

    copy = _recreate(sandbox, tmp_path, out)
    assert _records(copy, IDENTITY) == _records(src, IDENTITY)
    python = next(copy.glob("bin/python3*"))  # the noarch python packages work there
    assert python.exists() and (next(copy.glob("lib/python3*/site-packages/alpha"))).is_dir()


@pytest.mark.parametrize("fmt, version", [("pixi-lock", 7), ("pixi-lock-v6", 6)])
def test_pixi_lock_for_two_platforms_recreates_the_env_with_identical_records(
    sandbox, src, tmp_path, fmt, version
):
    out = tmp_path / "pixi.lock"
    text = _export(sandbox, out, fmt, FOREIGN_SUBDIR)  # this platform is always in
    doc = yaml.safe_load(text)
    assert doc["version"] == version
    assert ("platforms" in doc) == (version == 7)  # version 6 lists no platforms
    assert set(doc["environments"]["default"]["packages"]) == {HERE, FOREIGN_SUBDIR}
    # rattler (pixi's lock library) reads both versions.
    lock = rattler.LockFile.from_path(out)
    env = lock.default_environment()
    assert env is not None
    assert sorted(p.name for p in env.platforms()) == sorted([HERE, FOREIGN_SUBDIR])
    for platform in env.platforms():
        records = env.conda_repodata_records_for_platform(platform)
        assert {r.name.normalized for r in records} == {"python", "alpha", "beta", "delta",
                                                         "prefixpkg"}  # fmt: skip
        assert {r.subdir for r in records} == {platform.name, "noarch"}

    copy = _recreate(sandbox, tmp_path, out)
    assert _records(copy) == _records(src)  # every field: pixi.lock carries whole records


def test_lock_of_the_other_platform_creates_an_env_for_it(sandbox, src, tmp_path):
    out = tmp_path / "conda-lock.yml"
    _export(sandbox, out, "conda-lock", FOREIGN_SUBDIR)
    copy = _recreate(sandbox, tmp_path, out, "--platform", FOREIGN_SUBDIR)
    assert {r["subdir"] for r in _records(copy).values()} == {FOREIGN_SUBDIR, "noarch"}
    assert (copy / ".condarc").read_text() == f"subdir: {FOREIGN_SUBDIR}\n"
    # install -f into it takes the lock's packages for the env's platform: nothing changes.
    before = _records(copy)
    sandbox.run("install", "-p", str(copy), "-f", str(out), "-y")
    assert _records(copy) == before


def test_install_f_lock_makes_an_existing_env_exactly_the_locks_set(sandbox, src, served, tmp_path):
    main, _ = served
    out = tmp_path / "pixi.lock"
    _export(sandbox, out, "pixi-lock")
    sandbox.run("create", *on(main, "tgt", "delta=1.0", "gamma"))
    sandbox.run("install", "-n", "tgt", "-f", str(out), "-y")
    assert _records(sandbox.envs / "tgt") == _records(src)  # gamma gone, delta moved
    res = sandbox.run("install", "-n", "tgt", "-f", str(out), "alpha", "-y", check=False)
    assert res.returncode == 1 and "fixes every package" in res.stderr


def test_export_help_says_what_each_format_is_for(sandbox):
    from jupyter_envmgr.cli.env_cmds import EXPORT_FORMAT_NAMES
    from jupyter_envmgr.engine.export import EXPORT_FORMATS

    assert sorted(EXPORT_FORMAT_NAMES) == sorted(EXPORT_FORMATS)
    text = sandbox.run("env", "export", "--help").stdout
    for fmt in EXPORT_FORMATS:
        assert re.search(rf"^  {re.escape(fmt)} +\S", text, re.M), fmt
    for words in ("conda-lock install", "pixi", "conda create --file", "Binder", "--platform"):
        assert words in text


def test_the_old_flags_still_name_their_formats(sandbox, src):
    for flag, fmt in (("--lock", "lock"), ("--explicit", "explicit"),
                      ("--from-history", "from-history")):  # fmt: skip
        old = sandbox.run("env", "export", "-n", "src", flag, "--json").stdout
        new = sandbox.run("env", "export", "-n", "src", "--format", fmt, "--json").stdout
        assert json.loads(old.splitlines()[-1])["text"] == json.loads(new.splitlines()[-1])["text"]


# -- a conda-lock.yml written by conda-lock itself ---------------------------------------------


def _repodata(channel: Path) -> dict[str, tuple[str, dict]]:
    """file name -> (subdir, record) of the channel's this-platform and noarch packages."""
    out = {}
    for subdir in (HERE, "noarch"):
        data = json.loads((channel / subdir / "repodata.json").read_text())
        for key in ("packages", "packages.conda"):
            for fn, record in data.get(key, {}).items():
                out[fn] = (subdir, record)
    return out


def test_a_conda_lock_file_written_by_conda_lock_creates_the_env(
    sandbox, channels, served, tmp_path
):
    from conda_lock.lockfile import write_conda_lock_file
    from conda_lock.lockfile.v2prelim.models import (
        HashModel,
        LockedDependency,
        Lockfile,
        LockMeta,
    )

    main, _ = served
    wanted = {"python": None, "alpha": "1.5", "beta": "1.0", "delta": "1.1", "prefixpkg": "1.0"}
    chosen = {}
    for fn, (subdir, record) in _repodata(channels.main).items():
        name = record["name"]
        if name in wanted and (wanted[name] in (None, record["version"])):
            chosen[name] = (subdir, fn, record)
    assert set(chosen) == set(wanted)
    packages = [
        LockedDependency(
            name=name,
            version=record["version"],
            manager="conda",
            platform=HERE,
            dependencies={
                d.split(" ", 1)[0]: (d.split(" ", 1) + [""])[1] for d in record["depends"]
            },
            url=f"{main}/{subdir}/{fn}",
            hash=HashModel(md5=record["md5"], sha256=record["sha256"]),
            categories={"main"},
        )  # fmt: skip
        for name, (subdir, fn, record) in chosen.items()
    ]
    meta = LockMeta(content_hash={HERE: "0" * 64}, channels=[main], platforms=[HERE],
                    sources=["environment.yml"])  # fmt: skip
    out = tmp_path / "conda-lock.yml"
    write_conda_lock_file(Lockfile(package=packages, metadata=meta), out, metadata_choices=set())
    assert yaml.safe_load(out.read_text())["version"] == 1

    sandbox.run("create", "-n", "fromlock", "-f", str(out), "-y")
    got = installed(sandbox.envs / "fromlock")
    assert {n: (v, b) for n, (v, b, _) in got.items()} == {
        n: (r["version"], r["build"]) for n, (_, _, r) in chosen.items()
    }
    records = _records(sandbox.envs / "fromlock")
    assert records["alpha"]["noarch"] == 'NoArchType("python")'  # linked as noarch python
    assert sorted(records["beta"]["depends"]) == ["alpha <2", "python"]


# -- bad files: one message, nothing fetched, nothing changed ----------------------------------


def _as_kernel(sandbox: Sandbox, policy: Policy) -> Sandbox:
    env = dict(sandbox.env)
    env[VARIABLE] = publish(load_settings(sandbox.env, home=sandbox.home), policy)
    return Sandbox(home=sandbox.home, root=sandbox.root, pkgs=sandbox.pkgs, env=env)


def _dump(doc: dict) -> str:
    """YAML without anchors (objects shared in `doc` are written out in full, as the envmgr
    reader wants them)."""
    return yaml.safe_dump(json.loads(json.dumps(doc)))


def _bad_conda_lock(doc: dict, case: str) -> dict:
    if case == "version":
        doc["version"] = 2
    elif case == "no-hash":
        doc["package"][0]["hash"] = {}
    elif case == "listed-unpackaged":  # metadata.platforms lies: no package for one of them
        doc["metadata"]["platforms"] += ["win-64"]
    elif case == "unlisted-packaged":  # packages for a platform metadata.platforms lacks
        doc["metadata"]["platforms"] = [FOREIGN_SUBDIR]
    elif case == "other-platform-only":
        doc["package"] = [p for p in doc["package"] if p["platform"] == FOREIGN_SUBDIR]
        doc["metadata"]["platforms"] = [FOREIGN_SUBDIR]
    elif case == "wrong-subdir":  # a package of the other platform listed for this one
        foreign = next(p for p in doc["package"] if p["platform"] == FOREIGN_SUBDIR
                       and f"/{FOREIGN_SUBDIR}/" in p["url"])  # fmt: skip
        here = next(p for p in doc["package"] if p["platform"] == HERE
                    and p["name"] == foreign["name"])  # fmt: skip
        here["url"] = foreign["url"]
    return doc


def _bad_pixi(doc: dict, case: str) -> dict:
    if case == "version":
        doc["version"] = 99
    elif case == "no-hash":
        for package in doc["packages"]:
            package.pop("sha256", None)
            package.pop("md5", None)
    elif case == "unlisted-packaged":
        doc["platforms"] = [p for p in doc["platforms"] if p["name"] == HERE]
    elif case == "wrong-subdir":
        env = doc["environments"]["default"]["packages"]
        foreign = next(r for r in env[FOREIGN_SUBDIR] if f"/{FOREIGN_SUBDIR}/" in r["conda"])
        env[HERE].append(foreign)
    return doc


CASES = [
    ("conda-lock", "version", [], "conda-lock file of version 2; this reads version 1"),
    ("conda-lock", "no-hash", [], "has no md5 or sha256"),
    ("conda-lock", "listed-unpackaged", [], "metadata.platforms lists win-64, but no conda"),
    ("conda-lock", "unlisted-packaged", [], "for a platform metadata.platforms does not list"),
    ("conda-lock", "wrong-subdir", [], f"is a {FOREIGN_SUBDIR} package, listed for {HERE}"),
    ("conda-lock", "other-platform-only", [],
     f"has no packages for {HERE}; it has packages for {FOREIGN_SUBDIR}"),
    ("conda-lock", "lock-env", ["--lock-env", "test"], "is a conda-lock file: it holds one"),
    ("pixi-lock", "version", [], "version 99, written by a newer pixi"),
    ("pixi-lock", "no-hash", [], "has no sha256 or md5"),
    ("pixi-lock", "unlisted-packaged", [], "a platform the file's platforms: list does not name"),
    ("pixi-lock", "wrong-subdir", [], f"is a {FOREIGN_SUBDIR} package, listed for {HERE}"),
    ("pixi-lock", "lock-env", ["--lock-env", "test"],
     "has no environment 'test'; it has: default"),
    ("pixi-lock", "allow-list", [], "is not allowed"),
    ("conda-lock", "allow-list", [], "is not allowed"),
]  # fmt: skip


@pytest.mark.parametrize("fmt, case, flags, expect", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_lock_files_are_refused_before_anything_is_fetched(
    sandbox, src, served, tmp_path, fmt, case, flags, expect
):
    main, log = served
    name = "conda-lock.yml" if fmt == "conda-lock" else "pixi.lock"
    good = tmp_path / "good" / name
    good.parent.mkdir()
    doc = yaml.safe_load(_export(sandbox, good, fmt, FOREIGN_SUBDIR))
    bad = tmp_path / name
    bad.write_text(_dump(_bad_conda_lock(doc, case) if fmt == "conda-lock"
                         else _bad_pixi(doc, case)))  # fmt: skip
    # Another user with a cold package cache: any download would reach the server.
    user = other_machine_sandbox(tmp_path / "other")
    if case == "allow-list":
        user = _as_kernel(user, Policy(allowed_channels=(main.replace("/main", "/extra"),)))
    user.root.mkdir(parents=True)

    def snapshot() -> dict | None:
        return tree_snapshot(user.root, user.home, user.pkgs) if user.pkgs.exists() else None

    before = snapshot()
    log.clear()
    for verb in (["create", "-n", "copy"], ["env", "create", "-n", "copy"]):
        res = user.run(*verb, "-f", str(bad), *flags, "-y", check=False)
        assert res.returncode != 0, res
        assert res.stderr.count("error:") == 1 and "Traceback" not in res.stderr, res
        assert expect in res.stderr, res
    assert log == []  # not a package, not an index
    assert not (user.root / "envs" / "copy").exists()
    assert snapshot() == before


def test_lock_env_picks_a_pixi_environment_and_is_refused_elsewhere(sandbox, src, tmp_path):
    out = tmp_path / "pixi.lock"
    doc = yaml.safe_load(_export(sandbox, out, "pixi-lock"))
    # A second environment, "small": delta only.
    small = {p: [r for r in refs if "/delta-" in r["conda"]]
             for p, refs in doc["environments"]["default"]["packages"].items()}  # fmt: skip
    doc["environments"]["small"] = {**doc["environments"]["default"], "packages": small}
    out.write_text(_dump(doc))
    sandbox.run("create", "-n", "small", "-f", str(out), "--lock-env", "small", "-y")
    assert set(installed(sandbox.envs / "small")) == {"delta"}
    sandbox.run("env", "create", "-n", "whole", "-f", str(out), "-y")  # default: "default"
    assert set(installed(sandbox.envs / "whole")) == set(installed(src))
    yml = tmp_path / "environment.yml"
    yml.write_text("dependencies: [delta]\n")
    res = sandbox.run("create", "-n", "x", "-f", str(yml), "--lock-env", "small", check=False)
    assert res.returncode == 1 and "is not a pixi.lock" in res.stderr
    res = sandbox.run("create", "-n", "x", "delta", "--lock-env", "small", check=False)
    assert res.returncode == 1 and "give it with -f" in res.stderr


@pytest.mark.parametrize("platform", ["osx-arm65", "noarch", "linux"])
def test_an_unknown_platform_is_refused_before_the_env_is_read(sandbox, src, platform):
    res = sandbox.run("env", "export", "-n", "src", "--format", "conda-lock",
                      "--platform", platform, check=False)  # fmt: skip
    assert res.returncode == 1 and f"{platform!r} is not a platform to lock for" in res.stderr
    res = sandbox.run("env", "export", "-n", "nope", "--format", "yml", "--platform",
                      FOREIGN_SUBDIR, check=False)  # fmt: skip
    assert res.returncode == 1 and "other platforms go into a lock file" in res.stderr


# -- pip packages ------------------------------------------------------------------------------


@pytest.fixture
def pip_src(sandbox, channels, index) -> Path:  # noqa: F811
    """python and pip from the test channel; tinywheel from the index (pip records no URL for
    it), otherwheel from its wheel's URL (pip records the URL and the sha256)."""
    sandbox.run("create", *on(channels.main_url, "pipsrc", "python", "pip"))
    prefix = sandbox.envs / "pipsrc"
    _pip(sandbox, prefix, "install", "--no-deps", "--index-url", index.simple, "tinywheel==0.1")
    _pip(sandbox, prefix, "install", "--no-deps", index.wheel_url("otherwheel", "0.2"))
    return prefix


def test_pip_packages_with_a_url_are_locked_and_the_others_named(
    sandbox,
    pip_src,
    index,  # noqa: F811  (the fixture imported above)
    tmp_path,
):
    from conda_lock.lockfile import parse_conda_lock_file

    wheel = index.wheel_url("otherwheel", "0.2")
    sha256 = index.sha256["otherwheel-0.2-py3-none-any.whl"]
    out = tmp_path / "conda-lock.yml"
    res = sandbox.run("env", "export", "-n", "pipsrc", "--format", "conda-lock", "--platform",
                      FOREIGN_SUBDIR, "-f", str(out))  # fmt: skip
    assert "Note: Not in the file (pip recorded no file URL for them): tinywheel==0.1" in res.stderr
    assert f"pip packages are locked for {HERE} only, not for {FOREIGN_SUBDIR}" in res.stderr
    assert "#   tinywheel==0.1\n" in out.read_text()  # said in the file too
    pip = [p for p in parse_conda_lock_file(out).package if p.manager == "pip"]
    assert [(p.name, p.version, p.platform, p.url, p.hash.sha256) for p in pip] == [
        ("otherwheel", "0.2", HERE, wheel, sha256)
    ]
    # pixi.lock: a pypi entry with its sha256 (which py-rattler cannot pass, added after).
    pixi = tmp_path / "pixi.lock"
    sandbox.run("env", "export", "-n", "pipsrc", "--format", "pixi-lock", "-f", str(pixi))
    entry = next(p for p in yaml.safe_load(pixi.read_text())["packages"] if "pypi" in p)
    assert (entry["pypi"], entry["name"], entry["sha256"]) == (wheel, "otherwheel", sha256)
    env = rattler.LockFile.from_path(pixi).default_environment()
    (platform,) = env.platforms()
    assert [p.name for p in env.pypi_packages_for_platform(platform)] == ["otherwheel"]
    # Both recreate the conda packages and the locked pip package, with the env's own pip.
    for lock in (out, pixi):
        other = tmp_path / f"elsewhere-{lock.name}"
        sandbox.run("create", "-r", str(other), "-n", "copy", "-f", str(lock), "-y")
        copy = other / "envs" / "copy"
        assert installed(copy) == installed(pip_src)
        assert list(copy.glob("lib/python3*/site-packages/otherwheel-0.2.dist-info"))
        assert not list(copy.glob("lib/python3*/site-packages/tinywheel-*"))
