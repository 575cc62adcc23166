"""Write a conda package (``.conda``) from an in-memory description of its files.

We write ``info/`` ourselves instead of using ``rattler_build.assemble_package`` because we need
full control over prefix placeholders and noarch-python entry points.  We also write the archive
ourselves instead of calling ``conda_package_handling.api.create``: that one ``chdir``s the whole
process while it works, which is unsafe when tests run servers in threads.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python >= 3.14 has zstd in the stdlib; before that, conda-package-handling's dependency.
    from compression import zstd as _zstd  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the interpreter
    try:
        from backports import zstd as _zstd  # type: ignore[no-redef]
    except ImportError:
        _zstd = None  # type: ignore[assignment]

# Text-mode prefix placeholder.  The installer replaces it with the real prefix; text mode has no
# length constraint, but a long, unmistakable value cannot clash with real file contents.
PLACEHOLDER = "/opt/jupyter_envmgr_placeholder_prefix/" + "_placehold" * 8

# Fast compression: these packages are rebuilt whenever the factory changes, and size is secondary.
_ZSTD_LEVEL = 3


@dataclass
class Entry:
    """One path inside a package (relative, posix).

    Exactly one of ``data``, ``source`` or ``link_target`` gives the contents.
    """

    path: str
    data: bytes | None = None
    source: Path | None = None
    link_target: str | None = None
    executable: bool = False
    # When set, the file is text whose contents hold this placeholder (rewritten at install).
    prefix_placeholder: str | None = None

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.source is not None, self.path
        return self.source.read_bytes()


@dataclass
class PackageMeta:
    name: str
    version: str
    build: str
    subdir: str  # "noarch" or "linux-64"
    noarch: str | None = None  # "python", "generic" or None
    depends: Sequence[str] = ()
    constrains: Sequence[str] = ()
    build_number: int = 0
    license: str = "BSD-3-Clause"
    summary: str = ""
    entry_points: Sequence[str] = ()  # noarch python only: "name = module:func"
    extra_index: dict[str, object] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}-{self.build}.conda"


def _package_mtime(meta: PackageMeta) -> int:
    # Give every package its own file mtime.  Python validates cached .pyc files by source mtime
    # and size only, and rattler leaves runtime-written __pycache__ behind on upgrade: alpha 1.0
    # and 2.0 have same-sized __init__.py files, so equal mtimes would let a stale .pyc win.
    key = f"{meta.name}-{meta.version}-{meta.build}".encode()
    return 1_600_000_000 + zlib.crc32(key) % 100_000_000


def _add(
    tar: tarfile.TarFile,
    name: str,
    data: bytes | None,
    *,
    mode: int,
    mtime: int,
    link_target: str | None = None,
) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if link_target is not None:
        info.type = tarfile.SYMTYPE
        info.linkname = link_target
        info.mode = 0o777
        tar.addfile(info)
        return
    assert data is not None
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def _tar_bytes(members: list[tuple[str, bytes | None, int, str | None]], mtime: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode, link in members:
            _add(tar, name, data, mode=mode, mtime=mtime, link_target=link)
    return buf.getvalue()


def write_conda_package(
    out_dir: Path,
    meta: PackageMeta,
    entries: Sequence[Entry],
    *,
    extra_paths: Sequence[dict[str, object]] = (),
) -> Path:
    """Write ``<out_dir>/<name>-<version>-<build>.conda`` (or ``.tar.bz2`` without zstd).

    `extra_paths` are listed in ``info/paths.json`` and ``info/files`` as they are, with no
    file behind them: how the tests build hostile packages (``..`` or absolute paths)."""
    mtime = _package_mtime(meta)
    seen: set[str] = set()
    pkg_members: list[tuple[str, bytes | None, int, str | None]] = []
    paths: list[dict[str, object]] = []
    has_prefix: list[str] = []
    for entry in sorted(entries, key=lambda e: e.path):
        if entry.path in seen:
            raise ValueError(f"{meta.name}: duplicate path {entry.path}")
        seen.add(entry.path)
        if entry.link_target is not None:
            pkg_members.append((entry.path, None, 0o777, entry.link_target))
            paths.append({"_path": entry.path, "path_type": "softlink"})
            continue
        data = entry.read()
        pkg_members.append((entry.path, data, 0o755 if entry.executable else 0o644, None))
        record: dict[str, object] = {
            "_path": entry.path,
            "path_type": "hardlink",
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_in_bytes": len(data),
        }
        if entry.prefix_placeholder:
            record["file_mode"] = "text"
            record["prefix_placeholder"] = entry.prefix_placeholder
            has_prefix.append(f"{entry.prefix_placeholder} text {entry.path}")
        paths.append(record)
    paths += [dict(extra) for extra in extra_paths]

    index: dict[str, object] = {
        "name": meta.name,
        "version": meta.version,
        "build": meta.build,
        "build_number": meta.build_number,
        "depends": list(meta.depends),
        "license": meta.license,
        "subdir": meta.subdir,
        # rattler's solver may require timestamps (timestamp_policy); ms like conda-build.
        "timestamp": int(time.time() * 1000),
    }
    if meta.constrains:
        index["constrains"] = list(meta.constrains)
    if meta.noarch:
        index["noarch"] = meta.noarch
    if meta.subdir == "linux-64":
        index["arch"] = "x86_64"
        index["platform"] = "linux"
    index.update(meta.extra_index)

    info: list[tuple[str, bytes | None, int, str | None]] = [
        ("info/index.json", _json(index), 0o644, None),
        ("info/paths.json", _json({"paths": paths, "paths_version": 1}), 0o644, None),
        ("info/files", "".join(f"{p['_path']}\n" for p in paths).encode(), 0o644, None),
        ("info/about.json", _json({"summary": meta.summary, "license": meta.license}), 0o644, None),
    ]
    if has_prefix:
        info.append(("info/has_prefix", ("\n".join(has_prefix) + "\n").encode(), 0o644, None))
    if meta.noarch == "python":
        link = {
            "noarch": {"type": "python", "entry_points": list(meta.entry_points)},
            "package_metadata_version": 1,
        }
        info.append(("info/link.json", _json(link), 0o644, None))

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{meta.name}-{meta.version}-{meta.build}"
    if _zstd is None:  # pragma: no cover - fallback without a zstd module
        out = out_dir / f"{stem}.tar.bz2"
        with tarfile.open(out, "w:bz2") as tar:
            for member, content, mode, target in info + pkg_members:
                _add(tar, member, content, mode=mode, mtime=mtime, link_target=target)
        return out

    out = out_dir / f"{stem}.conda"
    # A .conda is an uncompressed zip: metadata.json, then pkg-*.tar.zst and info-*.tar.zst.
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
        for component, members in (
            (f"pkg-{stem}.tar.zst", pkg_members),
            (f"info-{stem}.tar.zst", info),
        ):
            raw = _tar_bytes(members, mtime)
            zf.writestr(component, _zstd.compress(raw, level=_ZSTD_LEVEL))
    return out


def _json(obj: object) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()
