"""Assemble, index and cache the local test channels "main" and "extra"."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..engine.blocking import run_blocking
from .python_pkg import build_python_package, python_version
from .synthetic import build_extra_synthetic, build_foreign_synthetic, build_main_synthetic
from .wheels import distribution_closure, package_installed_distribution

# Distributions converted from the running environment, with their runtime closures.
# ipywidgets brings widgetsnbextension and jupyterlab_widgets (with its labextension files):
# envs whose kernels run widgets and the %envmgr magics.
REQUIRED_ROOTS = ("ipykernel", "ipywidgets", "pip")
OPTIONAL_ROOTS = ("pyyaml", "filelock")

# Bump to force a rebuild when the layout changes in a way the source hash would not show.
_FORMAT = 1


@dataclass(frozen=True)
class TestChannels:
    """Paths of the built channels.  Not a pytest test class despite its name."""

    __test__ = False  # keep pytest from trying to collect this when tests import it

    main: Path
    extra: Path
    python_version: str

    @property
    def main_url(self) -> str:
        return self.main.as_uri()

    @property
    def extra_url(self) -> str:
        return self.extra.as_uri()


def default_cache_dir() -> Path:
    env = os.environ.get("ENVMGR_TEST_CHANNEL_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "jupyter_envmgr" / "test-channels"


def _roots() -> list[str]:
    roots = list(REQUIRED_ROOTS)
    for name in OPTIONAL_ROOTS:
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        roots.append(name)
    return roots


def _cache_key(extra: object, dists: list[metadata.Distribution]) -> str:
    """16 hex digits naming a build: this package's sources, the interpreter, ``extra`` and the
    versions of the distributions converted."""
    h = hashlib.sha256()
    here = Path(__file__).parent
    for src in sorted(here.glob("*.py")):
        h.update(src.name.encode() + b"\0" + src.read_bytes() + b"\0")
    h.update(f"{_FORMAT}|{sys.version}|{sys.base_prefix}|{sys.platform}|{extra}".encode())
    for d in sorted(dists, key=lambda d: d.metadata["Name"].lower()):
        h.update(f"|{d.metadata['Name']}=={d.version}".encode())
    return h.hexdigest()[:16]


def index_channel(channel: Path) -> None:
    """Write repodata.json for every subdir of ``channel`` (noarch/ and linux-64/ are made when
    missing; others, such as the main channel's osx-arm64/, are indexed when present)."""
    from rattler.index import index_fs  # heavy import, only needed on a cache miss

    for subdir in ("noarch", "linux-64"):
        (channel / subdir).mkdir(parents=True, exist_ok=True)
    # index_fs is a coroutine in py-rattler 0.28; passing target_platform breaks it there.
    # Plain repodata.json only: no .zst or shards that could go stale if a test edits it.
    run_blocking(index_fs(channel, force=True, write_zst=False, write_shards=False))


def _build(dest: Path, many_files: int, dists: list[metadata.Distribution]) -> None:
    main, extra = dest / "main", dest / "extra"
    build_python_package(main / "linux-64")
    for dist in dists:
        package_installed_distribution(dist.metadata["Name"], main)
    build_main_synthetic(main, many_files)
    build_foreign_synthetic(main, python_version())
    build_extra_synthetic(extra)
    index_channel(main)
    index_channel(extra)
    (dest / "meta.json").write_text(
        json.dumps(
            {
                "python_version": python_version(),
                "many_files": many_files,
                "built": time.time(),
            }
        )
    )


def _prune(cache_dir: Path, keep: str) -> None:
    """Drop killed builds and entries unused for an hour (each code change makes a new key).

    Hits touch meta.json, so an entry some running test session still uses is kept.
    """
    for entry in cache_dir.iterdir():
        if entry.name == keep or not (entry.name.startswith(".tmp-") or len(entry.name) == 16):
            continue
        marker = entry / "meta.json"
        try:
            stamp = (marker if marker.exists() else entry).stat().st_mtime
            if time.time() - stamp > 3600:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def cached_build(cache: Path, key: str, build: Callable[[Path], None]) -> Path:
    """``cache/key``, made by ``build(tmp)`` unless it exists (its ``meta.json`` marks it whole).

    Builds go to a temporary directory that is renamed into place, so concurrent processes
    never see a half-built channel; entries unused for an hour are pruned when a new one is made.
    """
    final = cache / key
    if not (final / "meta.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        _prune(cache, key)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=cache))
        try:
            build(tmp)
            try:
                os.rename(tmp, final)
            except OSError:
                # Another process finished first (rename onto a non-empty dir fails): use theirs.
                if not (final / "meta.json").exists():
                    raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.utime(final / "meta.json")  # mark as in use for _prune
    return final


def build_test_channels(cache_dir: Path | None = None, many_files: int = 2000) -> TestChannels:
    """Build (or reuse from ``cache_dir``) the "main" and "extra" test channels.

    The cache entry is keyed by this package's sources, the interpreter and the versions of the
    distributions converted, so any change rebuilds.
    """
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    dists = distribution_closure(_roots())
    key = _cache_key(many_files, dists)
    final = cached_build(cache, key, lambda tmp: _build(tmp, many_files, dists))
    meta = json.loads((final / "meta.json").read_text())
    return TestChannels(
        main=final / "main", extra=final / "extra", python_version=meta["python_version"]
    )
