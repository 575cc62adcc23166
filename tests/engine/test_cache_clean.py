"""`clean`: plans first, never removes what a known env uses, frees exactly what it announced."""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from jupyter_envmgr.channels import serve_channel
from jupyter_envmgr.engine import cache
from jupyter_envmgr.engine.bookkeeping import journal_dir
from jupyter_envmgr.engine.settings import load_settings

from ..helpers import Sandbox, files_on_disk, on, owned_files, tree_snapshot

OLD = time.time() - 3600  # leftovers this old are stale for clean


def _with_env(sb: Sandbox, **extra: str) -> Sandbox:
    return dataclasses.replace(sb, env={**sb.env, **extra})


def _create(sb: Sandbox, url: str, target: tuple[str, str], *specs: str) -> None:
    sb.run("create", *target, "-c", url, "--override-channels", *specs, "-y")


def _disk(*roots: Path) -> tuple[int, int]:
    """Independent count: allocated bytes and number of distinct inodes under the roots."""
    seen: dict[tuple[int, int], int] = {}
    for root in roots:
        seen[_key(root)] = os.lstat(root).st_blocks * 512
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
    return sum(seen.values()), len(seen)


def _key(path: Path) -> tuple[int, int]:
    st = os.lstat(path)
    return (st.st_dev, st.st_ino)


def _records(prefix: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (prefix / "conda-meta").glob("*.json")]


def _assert_env_works(prefix: Path) -> None:
    names = {r["name"]: r["version"] for r in _records(prefix)}
    assert owned_files(prefix) <= files_on_disk(prefix)
    if "alpha" in names:
        out = subprocess.run(
            [str(prefix / "bin" / "python"), "-c", "import alpha; print(alpha.__version__)"],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == names["alpha"]
    if "delta" in names:
        assert (prefix / "share" / "delta" / "delta.txt").read_text().strip()


def _package_dirs(pkgs: Path) -> set[str]:
    return {p.name for p in pkgs.iterdir() if p.is_dir() and (p / "info").is_dir()}


PACKAGE_SETS = [
    ("python", "alpha=1.0"),
    ("python", "alpha=2.0"),
    ("python", "beta=1.0"),
    ("delta=1.0",),
    ("delta=1.1",),
    ("python", "alpha=1.5", "delta=1.0"),
]


@pytest.mark.parametrize("seed", range(1, 7))
def test_clean_all_property_random_envs_over_one_cache(private_sandbox, channels, tmp_path, seed):
    """Random envs (named in two envs dirs, or prefix envs known only through
    environments.txt) over one cache, random deletions, `clean --all`; twice, so the second
    round re-extracts packages the first round cleaned."""
    rng = random.Random(seed)
    other_envs = tmp_path / "other-envs"  # a second envs dir, listed first (CONDA_ENVS_PATH)
    prefixes = tmp_path / "prefixes"
    sb = _with_env(private_sandbox, CONDA_ENVS_PATH=str(other_envs))
    alive: list[Path] = []
    for round_ in range(2):
        for i in range(rng.randint(2, 3)):
            name = f"r{round_}e{i}"
            place = rng.choice(["other-envs", "root-envs", "prefix"])
            if place == "other-envs":
                target, path = ("-n", name), other_envs / name
            else:
                path = (sb.root / "envs" if place == "root-envs" else prefixes) / name
                target = ("-p", str(path))
            _create(sb, channels.main_url, target, *rng.choice(PACKAGE_SETS))
            alive.append(path)
        for path in rng.sample(alive, k=rng.randint(1, len(alive) - 1)):
            alive.remove(path)
            if rng.random() < 0.7:
                sb.run("env", "remove", "-p", str(path), "-y")
            else:
                shutil.rmtree(path)  # behind our back: environments.txt still names it
        _clean_all_and_check(sb, alive, tmp_path)


def _clean_all_and_check(sb: Sandbox, survivors: list[Path], tmp_path: Path) -> None:
    used = {r["extracted_package_dir"] for p in survivors for r in _records(p)}
    envs_before = tree_snapshot(*survivors)
    used_before = tree_snapshot(*map(Path, used))

    dry = sb.run("clean", "--all", "--dry-run", "--json").result()
    assert dry["applied"] is False
    disk_before = _disk(tmp_path)
    real = sb.run("clean", "--all", "-y", "--json").result()
    disk_after = _disk(tmp_path)

    # The dry run announced exactly what the real run removed and freed, and a walk agrees.
    freed = (disk_before[0] - disk_after[0], disk_before[1] - disk_after[1])
    assert freed == (dry["plan"]["bytes"], dry["plan"]["inodes"])
    assert freed == (real["freed_bytes"], real["freed_inodes"])
    assert [i["paths"] for i in real["removed"]] == [i["paths"] for i in dry["plan"]["items"]]
    assert not real["failed"] and not real["skipped"]

    # Every remaining env is untouched and runs; every cache entry it uses is untouched; and
    # clean was thorough: what is left in the cache is exactly what the survivors use.
    assert tree_snapshot(*survivors) == envs_before
    assert tree_snapshot(*map(Path, used)) == used_before
    for prefix in survivors:
        _assert_env_works(prefix)
    names = {Path(u).name for u in used}
    assert _package_dirs(sb.pkgs) == names
    assert {p.name for p in sb.pkgs.iterdir()} == (
        {".cache.lock"} | names | {n + ".lock" for n in names}
    )
    again = sb.run("clean", "--all", "-y", "--json").result()
    assert again["plan"]["items"] == [] and again["freed_inodes"] == 0


@pytest.fixture
def quiet_fs_sandbox(private_sandbox):
    """The sandbox's root on /dev/shm: statvfs there sees only us (the test filesystem is shared
    with other processes whose writes would blur a free-space difference)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        pytest.skip("no writable /dev/shm for an undisturbed statvfs measurement")
    root = Path(tempfile.mkdtemp(prefix="envmgr-clean-", dir=shm))
    try:
        yield dataclasses.replace(
            private_sandbox,
            root=root,
            pkgs=root / "pkgs",
            env={**private_sandbox.env, "MAMBA_ROOT_PREFIX": str(root)},
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_clean_frees_what_statvfs_sees(quiet_fs_sandbox, channels):
    sb = quiet_fs_sandbox
    _create(sb, channels.main_url, ("-n", "big"), "python", "manyfiles")
    _create(sb, channels.main_url, ("-n", "small"), "delta")
    sb.run("env", "remove", "-n", "big", "-y")
    dry = sb.run("clean", "--all", "--dry-run", "--json").result()["plan"]
    names = {i["name"] for i in dry["items"]}
    assert names == {"python-3.11.7-h_envmgr_0", "manyfiles-1.0-h_envmgr_0"}
    assert dry["inodes"] > 2000 and dry["bytes"] > 10_000_000

    before = os.statvfs(sb.pkgs)
    real = sb.run("clean", "--all", "-y", "--json").result()
    after = os.statvfs(sb.pkgs)
    freed_bytes = (after.f_bfree - before.f_bfree) * after.f_frsize
    freed_inodes = after.f_ffree - before.f_ffree
    assert (freed_bytes, freed_inodes) == (dry["bytes"], dry["inodes"])
    assert (real["freed_bytes"], real["freed_inodes"]) == (dry["bytes"], dry["inodes"])
    _assert_env_works(sb.envs / "small")


def _hold_flock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_clean_refuses_while_another_process_writes_the_cache(private_sandbox, channels):
    sb = _with_env(private_sandbox, ENVMGR_LOCK_TIMEOUT="0.3")
    _create(sb, channels.main_url, ("-n", "old"), "delta=1.0")
    sb.run("env", "remove", "-n", "old", "-y")  # delta 1.0 is now unused: a clean candidate
    unused = sb.pkgs / "delta-1.0-h_envmgr_0"
    snapshot = tree_snapshot(unused, unused.with_name(unused.name + ".lock"))

    with serve_channel(channels.main, chunk_delay=0.25, chunk_size=64) as url:
        install = sb.popen("create", *on(url, "new", "delta=1.1"))
        _wait_until_locked(sb.pkgs / ".cache.lock", install)
        for args in (("--all", "-y"), ("--all", "--dry-run")):
            res = sb.run("clean", *args, "--json", check=False)
            assert res.returncode == 1, res
            err = res.result()
            assert err["reason"] == "locked"
            assert "being written by process" in err["message"]
            assert "Nothing was removed" in err["message"]
        _out, errs = install.communicate(timeout=60)
        assert install.returncode == 0, errs

    # Nothing was lost: the unused entry is still whole and the new env works.
    assert tree_snapshot(unused, unused.with_name(unused.name + ".lock")) == snapshot
    _assert_env_works(sb.envs / "new")
    done = sb.run("clean", "--all", "-y", "--json").result()
    removed = [i["name"] for i in done["removed"] if i["category"] != "index-cache"]
    assert removed == ["delta-1.0-h_envmgr_0"]
    _assert_env_works(sb.envs / "new")


def _wait_until_locked(path: Path, proc: subprocess.Popen, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if path.exists():
            fd = os.open(path, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
            except BlockingIOError:
                return
            finally:
                os.close(fd)
        time.sleep(0.02)
    raise AssertionError("the install never took the package cache lock")


def test_clean_skips_an_entry_whose_own_lock_is_held(private_sandbox, channels):
    sb = private_sandbox
    _create(sb, channels.main_url, ("-n", "a"), "delta=1.0")
    _create(sb, channels.main_url, ("-n", "b"), "delta=1.1")
    for name in ("a", "b"):
        sb.run("env", "remove", "-n", name, "-y")
    fd = _hold_flock(sb.pkgs / "delta-1.0-h_envmgr_0.lock")
    try:
        res = sb.run("clean", "--packages", "-y", "--json").result()
    finally:
        os.close(fd)
    assert [i["name"] for i in res["removed"]] == ["delta-1.1-h_envmgr_0"]
    assert [(k["name"], k["reason"]) for k in res["plan"]["kept"]] == [
        ("delta-1.0-h_envmgr_0", "busy")
    ]
    assert (sb.pkgs / "delta-1.0-h_envmgr_0" / "info").is_dir()


def test_categories_each_remove_only_their_own(private_sandbox, channels):
    sb = private_sandbox
    with serve_channel(channels.main) as url:  # over HTTP, so the repodata cache is filled
        _create(sb, url, ("-n", "keep"), "delta=1.1")
    _create(sb, channels.main_url, ("-n", "drop"), "delta=1.0")
    sb.run("env", "remove", "-n", "drop", "-y")
    pkgs = sb.pkgs
    tarball = pkgs / "alpha-1.0-pyh_envmgr_0.conda"  # as conda/micromamba leave them
    shutil.copy(channels.main / "noarch" / tarball.name, tarball)
    stale_tmp = pkgs / ".delta-1.0-h_envmgr_0Xy7Qz1"  # a cancelled fetch, long ago
    (stale_tmp / "info").mkdir(parents=True)
    (stale_tmp / "info" / "index.json").write_text("{}")
    for p in (stale_tmp / "info" / "index.json", stale_tmp / "info", stale_tmp):
        os.utime(p, (OLD, OLD))
    fresh_tmp = pkgs / ".delta-1.1-h_envmgr_0Ab3De9"  # maybe a fetch by a tool that never locks
    fresh_tmp.mkdir()
    orphan = pkgs / "gamma-1.0-pyh_envmgr_0.lock"
    orphan.write_bytes(b"\0" * 40)
    index = sorted(p.name for p in (pkgs / "cache").iterdir())
    assert any(n.endswith(".json") for n in index)

    def names(res: dict, key: str = "removed") -> set[str]:
        return {Path(p).name for i in res[key] for p in i["paths"]}

    res = sb.run("clean", "--index-cache", "--dry-run", "--json").result()
    assert names(res["plan"], "items") == set(index)
    res = sb.run("clean", "--index-cache", "-y", "--json").result()
    assert names(res) == set(index) and list((pkgs / "cache").iterdir()) == []

    res = sb.run("clean", "--tarballs", "-y", "--json").result()
    assert names(res) == {tarball.name, stale_tmp.name}
    assert [(k["name"], k["reason"]) for k in res["plan"]["kept"]] == [(fresh_tmp.name, "recent")]

    res = sb.run("clean", "--locks", "-y", "--json").result()
    assert names(res) == {orphan.name}
    assert (pkgs / ".cache.lock").exists() and (pkgs / "delta-1.0-h_envmgr_0.lock").exists()

    broken = pkgs / "gamma-1.0-pyh_envmgr_0"  # no info/ beside its .lock: a cut-short fetch
    lookalike = pkgs / "my-old-stuff"  # named like a package, but no .lock: not ours
    for folder in (broken, lookalike):
        (folder / "site-packages").mkdir(parents=True)
        os.utime(folder / "site-packages", (OLD, OLD))
        os.utime(folder, (OLD, OLD))
    orphan.write_bytes(b"\0" * 40)
    os.utime(orphan, (OLD, OLD))
    res = sb.run("clean", "--packages", "-y", "--json").result()
    assert names(res) == {
        "delta-1.0-h_envmgr_0",
        "delta-1.0-h_envmgr_0.lock",
        broken.name,
        orphan.name,
    }
    assert lookalike.is_dir()
    assert sorted(k["reason"] for k in res["plan"]["kept"]) == ["in-use", "recent"]
    assert _package_dirs(pkgs) == {"delta-1.1-h_envmgr_0"}
    _assert_env_works(sb.envs / "keep")


def test_confirmation_and_bad_flags(private_sandbox, channels):
    sb = private_sandbox
    _create(sb, channels.main_url, ("-n", "x"), "delta=1.0")
    sb.run("env", "remove", "-n", "x", "-y")
    snapshot = tree_snapshot(sb.pkgs)
    res = sb.run("clean", "--all", "--json", check=False)
    assert res.returncode == 1 and res.result()["reason"] == "confirmation-required"
    res = sb.run("clean", "--all", check=False)
    assert res.returncode == 1 and "-y" in res.stderr
    res = sb.run("clean", "--json", check=False)
    assert res.returncode == 1 and res.result()["reason"] == "bad-input"
    text = sb.run("clean", "--all", "--dry-run").stdout
    assert "delta-1.0-h_envmgr_0" in text and "Dry run: nothing was removed." in text
    assert tree_snapshot(sb.pkgs) == snapshot
    text = sb.run("clean", "--all", "-y").stdout
    assert "Removed 1 entries" in text
    assert "Nothing to clean." in sb.run("clean", "--all", "-y").stdout


def test_in_use_by_journal_and_by_records_without_paths(private_sandbox, channels, tmp_path):
    sb = private_sandbox
    _create(sb, channels.main_url, ("-n", "a"), "delta=1.0")
    _create(sb, channels.main_url, ("-n", "b"), "delta=1.1")
    _create(sb, channels.main_url, ("-n", "c"), "python", "alpha=1.0")
    sb.run("env", "remove", "-n", "b", "-y")
    settings = load_settings(sb.env)
    assert {i.name for i in cache.plan_clean(settings, ["packages"]).items} == {
        "delta-1.1-h_envmgr_0"
    }

    # An operation in progress in env a links delta 1.1 (its journal says so): keep it.
    journal = journal_dir(sb.envs / "a")
    journal.mkdir(parents=True)
    (journal / "journal.json").write_text(
        json.dumps({"linking": [str(sb.pkgs / "delta-1.1-h_envmgr_0")]})
    )
    plan = cache.plan_clean(settings, ["packages"])
    assert plan.items == []
    assert [(k.name, k.envs) for k in plan.kept if k.name.startswith("delta-1.1")] == [
        ("delta-1.1-h_envmgr_0", (str(sb.envs / "a"),))
    ]
    shutil.rmtree(journal)

    # A record that says nothing of where it was linked from (an older tool) protects its
    # package by name; a record the JSON parser cannot read protects it by its file name.
    record = next((sb.envs / "c" / "conda-meta").glob("alpha-*.json"))
    data = json.loads(record.read_text())
    data.pop("extracted_package_dir")
    data.pop("link")
    record.write_text(json.dumps(data))
    python_record = next((sb.envs / "c" / "conda-meta").glob("python-*.json"))
    python_record.write_text("{not json")
    plan = cache.plan_clean(settings, ["packages"])
    assert {i.name for i in plan.items} == {"delta-1.1-h_envmgr_0"}
    assert {k.name for k in plan.kept} >= {"alpha-1.0-pyh_envmgr_0", "python-3.11.7-h_envmgr_0"}

    # A record naming the cache through a symlinked path still points at the same folder.
    link = tmp_path / "pkgs-link"
    link.symlink_to(sb.pkgs)
    rec_a = next((sb.envs / "a" / "conda-meta").glob("delta-*.json"))
    data = json.loads(rec_a.read_text())
    data["extracted_package_dir"] = str(link / "delta-1.0-h_envmgr_0")
    data["link"]["source"] = data["extracted_package_dir"]
    rec_a.write_text(json.dumps(data))
    assert "delta-1.0-h_envmgr_0" in {k.name for k in cache.plan_clean(settings, ["packages"]).kept}
