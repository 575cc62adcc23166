"""Turn Python distributions installed in the running environment into conda packages.

Nothing is downloaded: each distribution's ``RECORD`` lists the files it installed, which we
re-pack.  Pure distributions become ``noarch: python`` packages (files under ``site-packages/``,
console scripts as link.json entry points created by the installer); ones with compiled
extensions become ``linux-64`` packages pinned to this interpreter's ``X.Y``.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from .conda_pkg import PLACEHOLDER, Entry, PackageMeta, write_conda_package

_EXT_SUFFIXES = (".so", ".pyd", ".dylib")
# dist-info files that describe *this* pip install, not the package; INSTALLER is rewritten.
_DROP_DIST_INFO = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
_SCRIPT_GROUPS = ("console_scripts", "gui_scripts")


def _xy() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _site_packages() -> str:
    return f"lib/python{_xy()}/site-packages"


def _distribution(name: str) -> metadata.Distribution:
    return metadata.distribution(name)


def runtime_requirements(dist: metadata.Distribution) -> list[Requirement]:
    """``Requires-Dist`` entries that apply to this interpreter, extras dropped."""
    reqs = []
    for line in dist.requires or []:
        req = Requirement(line)
        # An empty "extra" makes `extra == "test"` false: only unconditional requirements stay.
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        reqs.append(req)
    return reqs


def distribution_closure(roots: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need at run time, roots first, each once."""
    found: dict[str, metadata.Distribution] = {}
    queue: list[tuple[str, str | None]] = [(r, None) for r in roots]
    while queue:
        name, wanted_by = queue.pop(0)
        key = canonicalize_name(name)
        if key in found:
            continue
        try:
            dist = _distribution(name)
        except metadata.PackageNotFoundError:
            by = f" (required by {wanted_by})" if wanted_by else ""
            raise RuntimeError(f"distribution {name!r}{by} is not installed") from None
        found[key] = dist
        queue.extend((req.name, key) for req in runtime_requirements(dist))
    return list(found.values())


def conda_spec(req: Requirement) -> str:
    """A conda match spec for a PEP 508 requirement (name canonicalised, extras dropped)."""
    name = canonicalize_name(req.name)
    parts = []
    for spec in sorted(req.specifier, key=str):
        op, ver = spec.operator, spec.version
        if op == "~=":
            # ~=2.1.3 means >=2.1.3 and 2.1.*; conda spells the prefix match as "2.1.*".
            prefix = ".".join(ver.split(".")[:-1])
            parts += [f">={ver}", f"{prefix}.*"]
        elif op in ("==", "===") and ver.endswith(".*"):
            parts.append(ver)
        elif op == "===":
            parts.append(f"=={ver}")
        else:
            parts.append(f"{op}{ver}")
    return f"{name} {','.join(parts)}" if parts else name


def _merge_depends(reqs: list[Requirement]) -> list[str]:
    # The same name can appear twice with different markers; a conda record wants one entry.
    by_name: dict[str, list[str]] = {}
    for req in reqs:
        spec = conda_spec(req)
        name, _, ver = spec.partition(" ")
        by_name.setdefault(name, [])
        if ver:
            by_name[name].append(ver)
    return [f"{n} {','.join(v)}" if v else n for n, v in sorted(by_name.items())]


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def _rewrite_shebang(data: bytes) -> bytes | None:
    """Point a Python script's shebang at the prefix placeholder; None if not a python script."""
    if not data.startswith(b"#!"):
        return None
    first, _, rest = data.partition(b"\n")
    if b"python" not in first:
        return None
    return f"#!{PLACEHOLDER}/bin/python\n".encode() + rest


def _script(entry_point: metadata.EntryPoint) -> bytes:
    module, _, attr_text = entry_point.value.partition(":")
    attr = attr_text.strip() or None
    call = f"{attr.split('.')[0]}" if attr else None
    lines = [
        f"#!{PLACEHOLDER}/bin/python",
        "# -*- coding: utf-8 -*-",
        "import re",
        "import sys",
        f"from {module.strip()} import {call}" if call else f"import {module.strip()}",
        "if __name__ == '__main__':",
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])",
        f"    sys.exit({attr}())" if attr else f"    sys.exit({module.strip()}.main())",
    ]
    return ("\n".join(lines) + "\n").encode()


def package_installed_distribution(
    dist_name: str, channel_dir: Path, *, build_number: int = 0
) -> Path:
    """Convert the installed distribution ``dist_name`` into a conda package.

    It is written to ``channel_dir/noarch`` (pure) or ``channel_dir/linux-64`` (compiled).

    Returns the path of the written ``.conda``.  Dependencies are the distribution's runtime
    ``Requires-Dist`` (markers evaluated for this interpreter) plus ``python``.
    """
    dist = _distribution(dist_name)
    name = canonicalize_name(dist.metadata["Name"])
    version = dist.version
    files = [f for f in dist.files or [] if "__pycache__" not in f.parts and f.suffix != ".pyc"]
    binary = any(f.name.endswith(_EXT_SUFFIXES) or ".so." in f.name for f in files)
    site = _site_packages()
    scripts = [ep for ep in dist.entry_points if ep.group in _SCRIPT_GROUPS]
    script_names = {ep.name for ep in scripts}

    # Map each installed file to its path relative to the prefix.
    entries: list[Entry] = []
    record: list[str] = []  # RECORD lines, relative to site-packages like pip writes them
    dist_info = None
    for f in files:
        rel = posixpath.normpath(posixpath.join(site, f.as_posix()))
        if rel.startswith("../") or rel.startswith("/"):
            continue  # outside the prefix: nothing sensible to package
        src = Path(str(dist.locate_file(f)))
        if not src.is_file():
            continue
        in_site = rel.startswith(site + "/")
        inner = rel[len(site) + 1 :] if in_site else None
        if inner is not None and inner.split("/")[0].endswith(".dist-info"):
            dist_info = inner.split("/")[0]
            if f.name in _DROP_DIST_INFO:
                continue
        if rel.startswith("bin/"):
            if f.name in script_names:
                continue  # regenerated below for the target prefix
            data = src.read_bytes()
            fixed = _rewrite_shebang(data)
            entries.append(
                Entry(
                    rel if binary else f"python-scripts/{f.name}",
                    data=fixed if fixed is not None else data,
                    executable=True,
                    prefix_placeholder=PLACEHOLDER if fixed is not None else None,
                )
            )
            record.append(_record_line(f"../../../{rel}", data))
            continue
        data = src.read_bytes()
        exe = bool(src.stat().st_mode & 0o111)
        if in_site and not binary:
            entries.append(Entry(f"site-packages/{inner}", data=data, executable=exe))
        else:
            entries.append(Entry(rel, data=data, executable=exe))
        record.append(_record_line(posixpath.relpath(rel, site), data))

    entry_points: list[str] = []
    for ep in sorted(scripts, key=lambda e: e.name):
        if binary:
            data = _script(ep)
            entries.append(
                Entry(f"bin/{ep.name}", data=data, executable=True, prefix_placeholder=PLACEHOLDER)
            )
            record.append(_record_line(f"../../../bin/{ep.name}", data))
        else:
            entry_points.append(f"{ep.name} = {ep.value}")

    if dist_info is None:
        raise RuntimeError(f"{dist_name}: no .dist-info found in RECORD")
    installer = b"conda\n"
    record.append(_record_line(f"{dist_info}/INSTALLER", installer))
    record.append(f"{dist_info}/RECORD,,")
    prefix = f"{site}/" if binary else "site-packages/"
    entries.append(Entry(f"{prefix}{dist_info}/INSTALLER", data=installer))
    entries.append(Entry(f"{prefix}{dist_info}/RECORD", data=("\n".join(record) + "\n").encode()))

    xy = _xy()
    python_dep = f"python >={xy},<{sys.version_info.major}.{sys.version_info.minor + 1}"
    depends = [python_dep if binary else "python", *_merge_depends(runtime_requirements(dist))]
    meta = PackageMeta(
        name=name,
        version=version,
        build=(
            f"py{xy.replace('.', '')}_envmgr_{build_number}"
            if binary
            else f"pyh_envmgr_{build_number}"
        ),
        build_number=build_number,
        subdir="linux-64" if binary else "noarch",
        noarch=None if binary else "python",
        depends=depends,
        license=dist.metadata.get("License-Expression") or "unknown",  # type: ignore[attr-defined]
        summary=dist.metadata.get("Summary") or "",  # type: ignore[attr-defined]
        entry_points=entry_points,
    )
    return write_conda_package(channel_dir / meta.subdir, meta, entries)
