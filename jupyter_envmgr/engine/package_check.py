"""What a package may link, checked before rattler links anything of it.

A package's `info/paths.json` (or, for old packages, `info/files` and `info/has_prefix`) is the
author's word. rattler joins each path to the prefix as it is: a path with `..` segments, or an
absolute one, lands outside the env (rattler then writes there, or, on EEXIST, deletes the
file it finds), and some absolute paths make rattler abort the whole process. So every path a
package would link, every symlink it carries, every placeholder file and every console script
it would generate is checked here, on the extracted package in the cache, before the journal is
written and before rattler sees the package. A package that fails is refused by name with the
offending path; nothing has been touched.

The rules: a path is relative, normalised (no `.`/`..` segments, no empty ones), and not inside
`conda-meta/` (where a forged record or journal would be believed); a symlink's target is
relative and stays inside the prefix from where the link is; entry point names are plain file
names; the record's name, version and build make a plain folder name in the package cache.

A package that passed is stamped (`info/envmgr-checked.json`, the symlinks found and the inode
and change time of every folder walked and of the metadata read): the next check of the same
folder compares those with a stat each instead of reading and walking it all again. Whatever
could make the package link something else (an entry added, removed or replaced in any of its
folders, a metadata file rewritten) changes a change time, which no one can set back: the
package is then checked again in full. Stamps younger than the file system's clock tick
(stamps.py), written by another user, or of other rules (`_STAMP_VERSION`) are not trusted.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
from collections.abc import Iterable, Iterator
from pathlib import Path

from .errors import UnsafePackage
from .stamps import too_recent

# Folder names in the package cache and console script names: what real packages use.
_DIST_PART = re.compile(r"[A-Za-z0-9_.+!-]+")
_SCRIPT_NAME = re.compile(r"[A-Za-z0-9_.+-]+")
# conda-meta/ is conda's and ours (records, history, journal): no package ships files there.
_RESERVED = "conda-meta"
_MAX_REPORTED = 200  # characters of a hostile path quoted in a message
_STAMP = "envmgr-checked.json"  # in info/, which is never linked
_STAMP_VERSION = 1  # bump when the rules change: older stamps are checked again
# What `_listed_paths` and `_entry_point_names` read (absent ones stay absent).
_INFO_FILES = ("paths.json", "files", "has_prefix", "link.json")
# (inode, change time in ns) of a file or folder; None when it is missing.
StatKey = list[int] | None


def _quote(path: str) -> str:
    shown = path if len(path) <= _MAX_REPORTED else path[:_MAX_REPORTED] + "..."
    return repr(shown)


def path_problem(path: object) -> str | None:
    """Why `path` (as a package lists it) may not be linked into a prefix; None when it may."""
    if not isinstance(path, str) or not path:
        return "an empty or non-text path"
    if "\x00" in path:
        return "a path with a NUL character"
    if path.startswith("/"):
        return "an absolute path"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "a path with '..', '.' or empty segments"
    if parts[0] == _RESERVED:
        return "a path inside conda-meta/"
    return None


def link_target_problem(link: str, target: str) -> str | None:
    """Why a symlink at `link` (relative to the prefix) pointing to `target` may not be linked."""
    if not target or "\x00" in target:
        return "a symlink with an empty target"
    if target.startswith("/"):
        return f"a symlink to the absolute path {_quote(target)}"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if resolved == ".." or resolved.startswith("../"):
        return f"a symlink to {_quote(target)}, which leaves the environment"
    return None


def _refuse(name: str, path: str, problem: str) -> UnsafePackage:
    return UnsafePackage(
        f"Refused the package '{name}': it would link {problem} ({_quote(path)}), outside or "
        "over the environment's own files. Nothing was installed; the environment is "
        "unchanged. Ask the package's channel to fix it, or do not use this package."
    )


def _listed_paths(info: Path, name: str) -> Iterator[object]:
    """Every path the package says it links: paths.json, else info/files and has_prefix."""
    try:
        paths_json = json.loads((info / "paths.json").read_bytes())
    except FileNotFoundError:
        paths_json = None
    except (OSError, ValueError) as exc:
        raise UnsafePackage(
            f"Refused the package '{name}': its info/paths.json cannot be read ({exc})."
        ) from None
    if paths_json is not None:
        entries = paths_json.get("paths") if isinstance(paths_json, dict) else None
        if not isinstance(entries, list):
            raise UnsafePackage(
                f"Refused the package '{name}': its info/paths.json lists no paths."
            )
        for entry in entries:
            yield entry.get("_path") if isinstance(entry, dict) else entry
        return
    yield from _lines(info / "files")
    for line in _lines(info / "has_prefix"):
        # `placeholder mode path` (quoted when it has spaces), or just `path`.
        try:
            fields = shlex.split(line)
        except ValueError:
            fields = [line]
        if fields:
            yield fields[-1]


def _lines(path: Path) -> Iterator[str]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except FileNotFoundError:
        return
    for line in text.splitlines():
        if line.strip():
            yield line.rstrip("\n")


def _entry_point_names(info: Path) -> Iterable[str]:
    """Console scripts the installer generates for noarch python packages (`bin/NAME`)."""
    try:
        link = json.loads((info / "link.json").read_bytes())
    except (FileNotFoundError, ValueError):
        return []
    noarch = link.get("noarch") if isinstance(link, dict) else None
    points = noarch.get("entry_points") if isinstance(noarch, dict) else None
    if not isinstance(points, list):
        return []
    return [p.split("=")[0].strip() if isinstance(p, str) else "" for p in points]


def _stat_key(path: Path | str) -> StatKey:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_ctime_ns]


def _symlinks(root: Path, folders: dict[str, StatKey]) -> Iterator[tuple[str, str]]:
    """(path relative to the package, target) of every symlink in the extracted package,
    listed or not: rattler may hard-link a symlink as it is, whatever paths.json calls it.
    Each folder's stat key goes into `folders` before it is read (None: it could not be)."""
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            folder = root / rel if rel else root
            folders[rel] = _stat_key(folder)
            entries = list(os.scandir(folder))
        except OSError:
            folders[rel] = None
            continue
        for entry in entries:
            entry_rel = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                yield entry_rel, os.readlink(entry.path)
            elif entry.is_dir(follow_symlinks=False) and entry_rel != "info":
                stack.append(entry_rel)


def check_record_names(name: str, version: str, build: str) -> None:
    """The package cache folder `<name>-<version>-<build>` must be a plain folder name."""
    for part in (name, version, build):
        if not _DIST_PART.fullmatch(part) or part in (".", ".."):
            raise UnsafePackage(
                f"Refused the package {_quote(name)}: its name, version or build "
                f"({_quote(f'{name}-{version}-{build}')}) is not a plain file name."
            )


def check_extracted(extracted: Path, name: str) -> list[tuple[str, str]]:
    """Raise UnsafePackage when the package extracted at `extracted` would link anything
    outside a prefix, or into its conda-meta/. Reads the package's own metadata only.
    Returns the package's symlinks, for `check_links_in_place`. A package this user's check
    passed before, unchanged since, is not read again (its stamp, see above)."""
    info = extracted / "info"
    stamped = _stamped_links(extracted)
    if stamped is not None:
        return stamped
    files = {file: _stat_key(info / file) for file in _INFO_FILES}  # before they are read
    for path in _listed_paths(info, name):
        problem = path_problem(path)
        if problem is not None:
            raise _refuse(name, str(path), problem)
    for script in _entry_point_names(info):
        if not _SCRIPT_NAME.fullmatch(script) or script in (".", ".."):
            raise _refuse(name, f"bin/{script}", "a console script that is not a plain name")
    folders: dict[str, StatKey] = {}
    links = list(_symlinks(extracted, folders))
    for link, target in links:
        problem = path_problem(link) or link_target_problem(link, target)
        if problem is not None:
            raise _refuse(name, link, problem)
    _write_stamp(info, files, folders, links)
    return links


def _stamped_links(extracted: Path) -> list[tuple[str, str]] | None:
    """The symlinks a valid stamp of `extracted` records; None when it has no valid one."""
    stamp = extracted / "info" / _STAMP
    try:
        if os.stat(stamp).st_uid != os.getuid():
            return None
        data = json.loads(stamp.read_bytes())
        if data["version"] != _STAMP_VERSION:
            return None
        files, folders = data["files"], data["folders"]
        root = str(extracted)  # plain strings: thousands of folders in a big package
        if any(_stat_key(f"{root}/info/{file}") != files[file] for file in _INFO_FILES):
            return None
        if not folders or any(
            key is None or _stat_key(f"{root}/{rel}" if rel else root) != key
            for rel, key in folders.items()
        ):
            return None
        return [(str(link), str(target)) for link, target in data["links"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_stamp(
    info: Path,
    files: dict[str, StatKey],
    folders: dict[str, StatKey],
    links: list[tuple[str, str]],
) -> None:
    """Stamp a package that passed; not when a folder could not be read or a change time is
    too recent to tell a later change by (or where this user cannot write: checked each time)."""
    keys = [*files.values(), *folders.values()]
    if any(key is None for key in folders.values()):
        return
    if too_recent(*(key[1] for key in keys if key is not None)):
        return
    data = {"version": _STAMP_VERSION, "files": files, "folders": folders, "links": links}
    staging = info / f".{_STAMP}.{os.getpid()}"
    try:
        staging.write_text(json.dumps(data), encoding="utf-8")
        os.replace(staging, info / _STAMP)
    except OSError:
        try:
            staging.unlink()
        except OSError:
            pass


def check_links_in_place(prefix: Path, links: dict[str, list[tuple[str, str]]]) -> None:
    """The target check above is made from where a link is written. A link with `..` in its
    target, written through a folder that is itself a symlink (in the prefix, or from any
    package being linked), would resolve from elsewhere: `a/b/l -> ../../../x` inside
    `a/b -> .` leaves the prefix. Such a link is refused; links without `..` cannot climb."""
    linked_dirs = {link for package in links.values() for link, _ in package}
    for name, package in links.items():
        for link, target in package:
            if ".." not in target.split("/"):
                continue
            parts = link.split("/")[:-1]
            for depth in range(1, len(parts) + 1):
                folder = "/".join(parts[:depth])
                if folder in linked_dirs or os.path.islink(prefix / folder):
                    raise _refuse(
                        name, link, f"a symlink to {_quote(target)} inside the symlinked folder "
                        f"{_quote(folder)}, which may leave the environment",
                    )  # fmt: skip
