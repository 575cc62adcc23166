"""After a change to the kernel's own env: new packages import at once, changed ones are named.

Python caches directory listings and read `.pth` files at start-up: `invalidate_caches` and
`site.addsitedir` make a package installed a moment ago importable in this same kernel. A
module imported before the change keeps running its old code, so those whose files were
replaced or removed are named, with the advice to restart.
"""

from __future__ import annotations

import importlib
import os
import site
import sys
from pathlib import Path

# module name -> (file, inode, mtime_ns) of a module loaded from the env
LoadedFiles = dict[str, tuple[str, int, int]]


def _within(path: str, prefix: str) -> bool:
    try:
        return os.path.commonpath([os.path.realpath(path), prefix]) == prefix
    except ValueError:
        return False


def loaded_files(prefix: str | None = None) -> LoadedFiles:
    """The modules this kernel imported from files inside `prefix` (the kernel's env)."""
    root = os.path.realpath(prefix or sys.prefix)
    found: LoadedFiles = {}
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not _within(path, root):
            continue
        try:
            st = os.stat(path)
        except OSError:
            continue
        found[name] = (path, st.st_ino, st.st_mtime_ns)
    return found


def changed_modules(before: LoadedFiles) -> list[str]:
    """Top-level names of loaded modules whose files were replaced or removed since `before`.
    Installs replace files (new hard links, so new inodes): an identical re-link counts too."""
    changed: set[str] = set()
    for name, (path, inode, mtime) in before.items():
        try:
            st = os.stat(path)
        except OSError:
            changed.add(name.split(".")[0])
            continue
        if (st.st_ino, st.st_mtime_ns) != (inode, mtime):
            changed.add(name.split(".")[0])
    return sorted(changed)


def refresh_imports(prefix: str | None = None) -> None:
    """Make what was just installed importable without a restart."""
    importlib.invalidate_caches()
    root = os.path.realpath(prefix or sys.prefix)
    for folder in site.getsitepackages():
        if _within(folder, root) and Path(folder).is_dir():
            # Adds nothing already on sys.path, but reads .pth files that are new.
            site.addsitedir(folder)
