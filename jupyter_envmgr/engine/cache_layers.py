"""Package caches in layers: a site cache an admin fills, read by every user, before each
user's own writable cache (conda's multi-user `pkgs_dirs`).

`pkgs_dirs` is searched in order; the first one we can write (settings.pkgs_dir) receives
downloads, extractions and the cache lock. The others we cannot write are read-only layers:
never locked, written or cleaned by us.

rattler 0.28 cannot be handed such a layer: it decides "read-only" from permission bits or a
read-only mount only (a root-owned 0755 folder counts as writable, so it takes its lock
there), and even looking a package up in a layer opens that entry's `<dist>.lock` for writing.
Both fail with EACCES for every user but the admin. So the engine does the layering itself:
a package found in a read-only layer is checked here as untrusted content (it is someone
else's), and the user's own cache gets a pointer to it, a symlink `<own>/<dist>` ->
`<site>/<dist>`. rattler then validates and links through the pointer without downloading,
and its bookkeeping (`<own>/<dist>.lock`, `.cache.lock`) stays in the user's cache.

Linking reads the site's files: rattler hard-links them and, when the kernel refuses
(`fs.protected_hardlinks=1` forbids a hard link to a file the user does not own unless they
can read and write it), copies each file instead. `link_report` measures what happened, and
the env keeps it (`conda-meta/envmgr/links.json`) for `usage`.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .package_check import check_extracted

if TYPE_CHECKING:  # settings.py imports this module: every command, so no rattler here
    import rattler

LINKS_FILE = "links.json"  # in the env's conda-meta/envmgr/
ACROSS_OWNERS = "hard links not permitted across owners"
_HASH_CHUNK = 1 << 20


def is_writable(path: Path) -> bool:
    """We can create entries in `path` (or in the nearest folder that exists above it)."""
    probe = path
    while not probe.exists():
        if probe.parent == probe:
            return False
        probe = probe.parent
    return probe.is_dir() and os.access(probe, os.W_OK | os.X_OK)


def first_writable(pkgs_dirs: Sequence[Path]) -> Path:
    """The package cache that receives downloads: the first we can write (conda's rule), or
    the first of all when none is (what we then fail to write names it)."""
    for path in pkgs_dirs:
        if is_writable(path):
            return path
    return pkgs_dirs[0]


def read_only_layers(pkgs_dirs: Sequence[Path]) -> list[Path]:
    """The caches we only read: every existing one we cannot write, in order."""
    return [p for p in pkgs_dirs if p.is_dir() and not is_writable(p)]


def dist_name(record: rattler.RepoDataRecord) -> str:
    return f"{record.name.normalized}-{record.version}-{record.build}"  # as prefix.dist_name


def _sha256(path: Path) -> str:
    import hashlib  # here: only checking a cached package's files hashes

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _recorded_sha256(folder: Path) -> str | None:
    """The archive's sha256 rattler wrote beside an entry (`<dist>.lock`, bytes 8-40)."""
    try:
        raw = folder.with_name(folder.name + ".lock").read_bytes()
    except OSError:
        return None
    return raw[8:40].hex() if len(raw) >= 40 else None


def _writable_by_others(st: os.stat_result) -> bool:
    return bool(st.st_mode & stat.S_IWOTH)


def site_entry_problem(folder: Path, record: rattler.RepoDataRecord) -> str | None:
    """Why the extracted package `folder` of a read-only layer may not be linked for `record`;
    None when it may. Someone else's files: it must be this very package (name, version and
    build; the archive's sha256 where the layer recorded it), every file must be what its
    `info/paths.json` says (type, size, sha256), and nothing in it may be writable by every
    user (it could change after this check). Hostile paths are refused by `check_extracted`."""
    try:
        index = json.loads((folder / "info" / "index.json").read_text(encoding="utf-8"))
        paths = json.loads((folder / "info" / "paths.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "its info/index.json or info/paths.json is missing or unreadable"
    if not isinstance(index, dict) or not isinstance(paths, dict):
        return "its metadata is not what a package holds"
    wanted = (record.name.normalized, str(record.version), str(record.build))
    if (index.get("name"), str(index.get("version")), index.get("build")) != wanted:
        return "its info/index.json names another package"
    recorded = _recorded_sha256(folder)
    if recorded and record.sha256 is not None and recorded != bytes(record.sha256).hex():
        return "it was extracted from another archive (sha256)"
    for base, dirs, files in os.walk(folder):
        for name in (base, *(os.path.join(base, d) for d in dirs)):
            if _writable_by_others(os.lstat(name)):
                return f"{name} is writable by every user"
        for name in files:
            st = os.lstat(os.path.join(base, name))
            if not stat.S_ISLNK(st.st_mode) and _writable_by_others(st):
                return f"{os.path.join(base, name)} is writable by every user"
    for entry in paths.get("paths", []):
        problem = _file_problem(folder, entry)
        if problem:
            return problem
    return None


def _file_problem(folder: Path, entry: Any) -> str | None:
    if not isinstance(entry, dict) or not isinstance(entry.get("_path"), str):
        return "its info/paths.json has an entry without a path"
    rel = entry["_path"]
    kind = entry.get("path_type", "hardlink")
    try:
        st = os.lstat(folder / rel)
    except OSError:
        return f"{rel} is missing"
    if kind == "softlink":
        return None if stat.S_ISLNK(st.st_mode) else f"{rel} is not the symlink it should be"
    if kind == "directory":
        return None if stat.S_ISDIR(st.st_mode) else f"{rel} is not a directory"
    if not stat.S_ISREG(st.st_mode):
        return f"{rel} is not a regular file"
    size = entry.get("size_in_bytes")
    if isinstance(size, int) and st.st_size != size:
        return f"{rel} has {st.st_size} bytes, not {size}"
    sha = entry.get("sha256")
    if isinstance(sha, str) and _sha256(folder / rel) != sha.lower():
        return f"{rel} does not match its sha256"
    return None


@dataclass
class SiteEntry:
    record: rattler.RepoDataRecord
    folder: Path  # the extracted package in the read-only layer
    links: list[tuple[str, str]]  # its symlinks, for package_check.check_links_in_place


def find_in_layers(
    record: rattler.RepoDataRecord, layers: Sequence[Path]
) -> tuple[SiteEntry | None, list[str]]:
    """The first entry of `layers` holding `record` that passes the checks, and why the ones
    before it were passed over (`<folder>: <reason>`). Blocking: call in a thread."""
    skipped: list[str] = []
    for layer in layers:
        folder = layer / dist_name(record)
        if not (folder / "info").is_dir():
            continue
        problem = site_entry_problem(folder, record)
        if problem is None:
            try:
                links = check_extracted(folder, record.name.normalized)
            except Exception as exc:  # UnsafePackage: say why, and fetch our own copy
                problem = str(exc)
            else:
                return SiteEntry(record, folder, links), skipped
        skipped.append(f"{folder}: {problem}")
    return None, skipped


def point_at(own_cache: Path, entry: SiteEntry) -> Path:
    """Make `<own>/<dist>` a symlink to the site's entry (replacing an older pointer, never a
    folder of our own); rattler finds it there. Returns the pointer."""
    pointer = own_cache / entry.folder.name
    own_cache.mkdir(parents=True, exist_ok=True)
    if pointer.is_symlink() and os.readlink(pointer) == str(entry.folder):
        return pointer
    staging = own_cache / f".envmgr-pointer-{entry.folder.name}-{os.getpid()}"
    try:
        staging.unlink()
    except FileNotFoundError:
        pass
    os.symlink(entry.folder, staging)
    # A leftover `<dist>.lock` of our own may record another archive's sha256: rattler would
    # then fetch again instead of using the site's entry.
    try:
        (own_cache / f"{entry.folder.name}.lock").unlink()
    except FileNotFoundError:
        pass
    os.replace(staging, pointer)
    return pointer


def is_pointer(path: Path) -> bool:
    """`path` (an entry of our own cache) points into a read-only layer."""
    return path.is_symlink()


# ---------------------------------------------------------------------------------------------
# What linking did


@dataclass
class LinkReport:
    site_packages: int = 0  # packages linked from a read-only layer
    linked_files: int = 0  # their files hard-linked into the env
    copied_files: int = 0  # their files copied (the kernel refused the hard link)
    copied_bytes: int = 0
    notes: list[str] = field(default_factory=list)  # entries of read-only layers refused

    @property
    def mode(self) -> str:
        return "copied" if self.copied_files else "linked"

    @property
    def text(self) -> str:
        """`linked`, or `copied (N MB: hard links not permitted across owners)`."""
        if not self.copied_files:
            return "linked"
        return f"copied ({self.copied_bytes / 1e6:.1f} MB: {ACROSS_OWNERS})"

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "text": self.text,
            "site_packages": self.site_packages,
            "linked_files": self.linked_files,
            "copied_files": self.copied_files,
            "copied_bytes": self.copied_bytes,
        }


def _destination(rel: str, site_packages: str | None) -> str:
    if rel.startswith("site-packages/") and site_packages:
        return site_packages + rel[len("site-packages") :]
    if rel.startswith("python-scripts/"):
        return "bin" + rel[len("python-scripts") :]
    return rel


def link_report(
    prefix: Path,
    own_cache: Path,
    records: Iterable[rattler.RepoDataRecord],
    site_packages: str | None,
) -> LinkReport:
    """How the files of the packages linked from read-only layers arrived in `prefix`: hard
    links (same inode as the site's file) or copies. Files rattler must rewrite (prefix
    placeholders) are copies whatever the owner and are not counted. Blocking."""
    report = LinkReport()
    me = os.geteuid()
    for record in records:
        pointer = own_cache / dist_name(record)
        if not is_pointer(pointer):
            continue
        report.site_packages += 1
        try:
            paths = json.loads((pointer / "info" / "paths.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for entry in paths.get("paths", []):
            if entry.get("path_type", "hardlink") != "hardlink" or entry.get("prefix_placeholder"):
                continue
            try:
                source = os.stat(pointer / entry["_path"])
                linked = os.lstat(prefix / _destination(entry["_path"], site_packages))
            except (OSError, KeyError, TypeError):
                continue
            if (source.st_dev, source.st_ino) == (linked.st_dev, linked.st_ino):
                report.linked_files += 1
            elif source.st_uid != me:
                report.copied_files += 1
                report.copied_bytes += linked.st_size
    return report


def write_link_report(prefix: Path, report: LinkReport) -> None:
    """Kept with the env for `usage` (only when it took packages from a read-only layer)."""
    from .bookkeeping import bookkeeping_dir

    path = bookkeeping_dir(prefix) / LINKS_FILE
    if not report.site_packages:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json()), encoding="utf-8")


def read_link_report(prefix: Path) -> dict[str, Any] | None:
    """What the last operation that took packages from a read-only layer did: `mode`
    (linked/copied), `text`, `copied_bytes`... None when the env took none."""
    from .bookkeeping import bookkeeping_dir

    try:
        data = json.loads((bookkeeping_dir(prefix) / LINKS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------------------------------------
# What a plan can say before linking


def _hard_link_allowed(source: Path, target_dir: Path) -> bool:
    """The kernel's rule for linking `source` into `target_dir`'s filesystem: the same
    filesystem, and with `fs.protected_hardlinks=1` a file we own or can read and write
    (root may link anything). What rattler tries first; it copies when this fails."""
    try:
        st = os.stat(source)
        if st.st_dev != os.stat(target_dir).st_dev:
            return False
        protected = Path("/proc/sys/fs/protected_hardlinks").read_text().strip() != "0"
    except OSError:
        return False
    me = os.geteuid()
    return not protected or me in (0, st.st_uid) or os.access(source, os.R_OK | os.W_OK)


def _a_file(folder: Path) -> Path | None:
    try:
        paths = json.loads((folder / "info" / "paths.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    for entry in paths.get("paths", []) if isinstance(paths, dict) else []:
        if isinstance(entry, dict) and entry.get("path_type", "hardlink") == "hardlink":
            rel = entry.get("_path")
            if not entry.get("prefix_placeholder") and isinstance(rel, str):
                return folder / rel
    return None


def planned_from_layers(
    records: Iterable[rattler.RepoDataRecord], pkgs_dirs: Sequence[Path], prefix: Path
) -> dict[str, Any] | None:
    """For a plan: how many packages to link come from read-only layers (our own cache lacks
    them), and whether their files will be `linked` or `copied` (with why). None when none
    will. Reads only; nothing is written."""
    layers = read_only_layers(pkgs_dirs)
    if not layers:
        return None
    own = first_writable(pkgs_dirs)
    count, sample = 0, None
    for record in records:
        mine = own / dist_name(record)
        if (mine / "info").is_dir() and not is_pointer(mine):
            continue
        for layer in layers:
            if (layer / dist_name(record) / "info").is_dir():
                count += 1
                sample = sample or _a_file(layer / dist_name(record))
                break
    if not count:
        return None
    target = prefix
    while not target.exists() and target.parent != target:
        target = target.parent
    linked = sample is None or _hard_link_allowed(sample, target)
    return {
        "packages": count,
        "links": "linked" if linked else "copied",
        "text": "linked" if linked else f"copied ({ACROSS_OWNERS})",
    }
