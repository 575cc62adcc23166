"""The cold scan of kernel discovery: what it costs in system calls, and that reading each thing
once still notices every change the warm path must notice.

Envs here are made by hand (shaped like bench/kernel_discovery.py's): conda-meta/, bin/python,
lib/python3.X/site-packages/ipykernel/ and, when asked, ipykernel's kernelspec.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from jupyter_envmgr.engine.registry import Env
from jupyter_envmgr.engine.settings import load_settings
from jupyter_envmgr.kernels.discovery import KernelDiscovery, resolve_program

KERNELS = Path("share", "jupyter", "kernels")
SITE = Path("lib", "python3.11", "site-packages")


def _make_env(prefix: Path, *, spec: bool = True, ipykernel: bool = True) -> Path:
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "bin").mkdir()
    python = prefix / "bin" / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    python.chmod(0o755)
    (prefix / SITE).mkdir(parents=True)
    if ipykernel:
        (prefix / SITE / "ipykernel" / "resources").mkdir(parents=True)
        (prefix / SITE / "ipykernel" / "__init__.py").write_text("")
    if spec:
        (prefix / KERNELS / "python3").mkdir(parents=True)
        argv = ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        kernel = {"argv": argv, "display_name": "Python 3 (ipykernel)", "language": "python"}
        (prefix / KERNELS / "python3" / "kernel.json").write_text(json.dumps(kernel))
    return prefix


def _age(*trees: Path, seconds: float = 10) -> None:
    """Discovery never trusts mtimes younger than 2 s: move them all into the past."""
    old = time.time() - seconds
    for tree in trees:
        for dirpath, dirnames, filenames in os.walk(tree):
            for name in [".", *dirnames, *filenames]:
                os.utime(os.path.join(dirpath, name), (old, old), follow_symlinks=False)


def _discovery(root: Path, envs: list[Env]) -> KernelDiscovery:
    settings = load_settings({"HOME": str(root / "home"), "MAMBA_ROOT_PREFIX": str(root)})
    return KernelDiscovery(settings, list_envs=lambda _settings: list(envs))


@pytest.fixture
def count_calls(monkeypatch):
    """Counts the os calls that reach the filesystem, by name and first argument."""
    calls: Counter[tuple[str, str]] = Counter()

    def counting(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def call(*args: object, **kwargs: object) -> object:
            calls[(name, os.fspath(args[0]) if isinstance(args[0], (str, Path)) else "")] += 1
            return real(*args, **kwargs)

        return call

    for name in ("stat", "lstat", "open", "fstat", "scandir", "listdir", "readlink"):
        monkeypatch.setattr(os, name, counting(name, getattr(os, name)))
    return calls


def test_a_cold_scan_makes_a_few_calls_per_env_and_opens_each_kernel_json_once(
    tmp_path, count_calls
):
    """Not a timing test: the cold listing of bench figure 4 is mostly these calls."""
    root = tmp_path / "root"
    envs = [Env(_make_env(root / "envs" / f"e{i}", spec=i % 4 != 0), f"e{i}") for i in range(20)]
    _age(root)
    discovery = _discovery(root, envs)
    count_calls.clear()
    found = discovery.kernels()

    assert [(k.env.name, k.generated) for k in found] == [
        (e.name, i % 4 == 0) for i, e in enumerate(envs)
    ]
    for env in envs[1:4]:
        kernel_json = str(env.prefix / KERNELS / "python3" / "kernel.json")
        assert count_calls[("open", kernel_json)] == 1
        assert count_calls[("stat", kernel_json)] == 0  # its mtime comes from the open file
    kernels_dir = str(envs[1].prefix / KERNELS)
    assert count_calls[("scandir", kernels_dir)] == 1
    # About 8 per env (a dozen syscalls in all); reading without care took over 30.
    per_env = (sum(count_calls.values()) - 30) / len(envs)
    assert per_env <= 10, count_calls.most_common(15)


def test_ipykernel_installed_with_pip_shows_at_the_next_check(tmp_path):
    root = tmp_path / "root"
    env = Env(_make_env(root / "envs" / "late", spec=False, ipykernel=False), "late")
    _age(root)
    discovery = _discovery(root, [env])
    assert discovery.kernels() == ()

    pkg = env.prefix / SITE / "ipykernel"  # pip touches site-packages, not conda-meta
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    assert discovery.kernels(max_age=3600) == ()  # within max_age, as documented
    (made,) = discovery.kernels(max_age=0)
    assert made.generated and made.spec["argv"][0] == str(env.prefix / "bin" / "python")
    assert made.resource_dir == str(pkg)  # no resources/ folder: the package's own


def test_removing_the_shipped_spec_makes_one_from_ipykernel(tmp_path):
    root = tmp_path / "root"
    env = Env(_make_env(root / "envs" / "data"), "data")
    _age(root)
    discovery = _discovery(root, [env])
    (shipped,) = discovery.kernels()
    assert not shipped.generated
    scans = discovery.stats.env_scans
    assert discovery.kernels() is discovery.kernels()
    assert discovery.stats.env_scans == scans

    shutil.rmtree(env.prefix / KERNELS / "python3")
    (made,) = discovery.kernels()
    assert made.generated
    assert made.resource_dir == str(env.prefix / SITE / "ipykernel" / "resources")


def test_an_env_whose_conda_meta_went_has_no_kernels_until_it_comes_back(tmp_path):
    root = tmp_path / "root"
    env = Env(_make_env(root / "envs" / "data"), "data")
    _age(root)
    discovery = _discovery(root, [env])
    assert len(discovery.kernels()) == 1
    shutil.rmtree(env.prefix / "conda-meta")
    assert discovery.kernels() == ()
    (env.prefix / "conda-meta").mkdir()
    assert len(discovery.kernels()) == 1


def _by_realpath(prefix: Path, program: str) -> tuple[str | None, str]:
    """The rule resolve_program keeps, computed the slow way (os.path.realpath from the root)."""
    if os.path.isabs(program):
        path = os.path.normpath(program)
        if os.path.commonpath([path, str(prefix)]) != str(prefix):
            return None, "outside"
    else:
        path = str(prefix / "bin" / program)
    if not os.path.exists(path):
        return None, "does not exist"
    real_prefix = os.path.realpath(prefix)
    if os.path.commonpath([os.path.realpath(path), real_prefix]) != real_prefix:
        return None, "leads to"
    return path, ""


def test_programs_are_followed_through_links_as_realpath_follows_them(tmp_path):
    real_envs = tmp_path / "real-envs"
    env = _make_env(real_envs / "env", spec=False, ipykernel=False)
    (tmp_path / "envs").symlink_to(real_envs)  # the env is known by a path through a link
    prefix = tmp_path / "envs" / "env"
    bin_dir = env / "bin"
    (env / "libexec" / "tools").mkdir(parents=True)
    (env / "libexec" / "tools" / "tool").write_text("#!/bin/sh\n")
    links = {
        "alias": "python",
        "chain": "alias",
        "absolute-in": str(prefix / "bin" / "python"),
        "absolute-real": str(env / "bin" / "python"),
        "up-and-down": "../bin/python",
        "tools": "../libexec/tools",
        "out": "/bin/sh",
        "out-relative": os.path.relpath("/bin/sh", bin_dir),
        "via-out": "out",
        "up-too-far": "../../../../../../../../../bin/sh",
        "loop": "loop2",
        "loop2": "loop",
        "dangling": "nothing-here",
    }
    for name, target in links.items():
        (bin_dir / name).symlink_to(target)
    programs = [
        *links,
        "python",
        "missing",
        "tools/tool",
        str(prefix / "bin" / "tools" / "tool"),
        str(prefix / "bin" / ".." / "bin" / "alias"),
        str(prefix / "bin" / "tools" / ".." / "python"),
        "/bin/sh",
    ]
    for program in programs:
        got, why = resolve_program(prefix, program)
        want, want_why = _by_realpath(prefix, program)
        if program == "tools/tool":
            assert got is None and "relative path" in why
            continue
        assert got == want, (program, why)
        assert want_why in why, (program, why)
