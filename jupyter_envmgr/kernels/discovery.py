"""Which kernels every known environment can run, read from the filesystem only.

Two sources per environment: kernelspecs the env ships in `share/jupyter/kernels/*/kernel.json`
(ipykernel, IRkernel, xeus-*, ...) and, when the env has `ipykernel` in its site-packages but no
spec for it (pip installs ship none), a spec we make. No subprocess and no import of the env's
Python: this runs on every kernelspec request of the server.

Cost model. A full scan reads a few directories and JSON files per env, so results are cached
per env and keyed by mtimes (conda-meta/, the kernels dir, each kernel.json, and site-packages/
when a kernel could be made from it). The env set itself is keyed by the mtimes of the envs
dirs and environments.txt, checked on every call, so creating or removing a named env (also with
`rm -rf`) shows at once. Re-stat'ing every env on every request costs about 5 us per env (3 or 4
stats), which dominates a listing with hundreds of envs (bench/kernel_discovery.py); so per-env
keys are re-checked at most every `max_age` seconds (the caller's choice; 0 means every call).
Timestamps younger than `RACY_NS` are never trusted, as git does (engine/stamps.py): two
changes inside one filesystem clock tick (a few ms) would otherwise look like one. The first
listing of a process scans every env: about a dozen system calls per env (see "Reading one
environment").
"""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.prefix import META
from ..engine.registry import Env, list_envs
from ..engine.settings import Settings
from ..engine.stamps import RACY_NS

log = logging.getLogger(__name__)

KERNELS_DIR = os.path.join("share", "jupyter", "kernels")
_MISSING = -1
_INTERRUPT_MODES = ("message", "signal")


@dataclass(frozen=True)
class FoundKernel:
    """One kernel an env can run, before naming: what kernel.json says, argv made absolute."""

    env: Env
    kernel: str  # the kernelspec directory name, e.g. "python3"
    resource_dir: str  # logos and kernel.js are served from here
    spec: dict[str, Any]  # argv, display_name, language, interrupt_mode, env, metadata, ...
    generated: bool = False  # True when made for an ipykernel that ships no kernelspec


# ---------------------------------------------------------------------------------------------
# Reading one environment
#
# A cold listing reads every env, so each read is counted in system calls: the mtimes of the
# env's cache key come from the stat calls the reading makes anyway (a directory's before it is
# listed, a kernel.json's from the open file before it is read), each kernel.json is opened
# once, and a program's real path is found from the env's real prefix (known once per env)
# instead of from the root for each kernel.


def _warn(env: Env, kernel: str, why: str, logger: logging.Logger) -> None:
    logger.warning("Skipping kernel %r of environment %s: %s", kernel, env.label, why)


def _inside(path: str, prefix: str) -> bool:
    try:
        return os.path.commonpath([path, prefix]) == prefix
    except ValueError:  # different drives (Windows) or a mix of relative and absolute
        return False


_MAX_HOPS = 40  # symlinks followed in one path before leaving it to os.path.realpath


def _realpath_below(real: str, rel: str) -> str | None:
    """`os.path.realpath(os.path.join(real, rel))` for a `real` that is already resolved, with
    an lstat per component of `rel` only; None when a component is missing or the links go
    round (the caller then asks os.path.realpath)."""
    parts = [p for p in reversed(rel.split(os.sep)) if p and p != os.curdir]
    path, hops = real, 0
    while parts:
        part = parts.pop()
        if part == os.pardir:
            path = os.path.dirname(path)
            continue
        step = os.path.join(path, part)
        try:
            mode = os.lstat(step).st_mode
        except OSError:
            return None
        if not stat.S_ISLNK(mode):
            path = step
            continue
        hops += 1
        if hops > _MAX_HOPS:
            return None
        target = os.readlink(step)
        if os.path.isabs(target):
            path = os.sep
        parts += [p for p in reversed(target.split(os.sep)) if p and p != os.curdir]
    return path


class _RealPaths:
    """Real paths of env prefixes, with the real path of each envs dir looked up once."""

    def __init__(self) -> None:
        self._dirs: dict[str, str] = {}

    def prefix(self, prefix: str) -> str:
        parent, name = os.path.split(prefix)
        real_parent = self._dirs.get(parent)
        if real_parent is None:
            real_parent = self._dirs[parent] = os.path.realpath(parent)
        found = _realpath_below(real_parent, name) if name else None
        return found if found is not None else os.path.realpath(prefix)


def _resolve(
    prefix: str, real_prefix: Callable[[], str], program: str
) -> tuple[str | None, str, bool]:
    """`resolve_program`, and whether the program exists."""
    if os.path.isabs(program):
        path = os.path.normpath(program)
        if not _inside(path, prefix):
            return None, f"its program {program} is outside the environment", True
    elif os.sep in program or (os.altsep and os.altsep in program):
        return None, f"its program {program!r} is a relative path", True
    else:
        path = os.path.join(prefix, "bin", program)
    real = real_prefix()
    # `bin/evil -> /bin/sh` is inside by name only: what would run is where the links lead.
    target = _realpath_below(real, os.path.relpath(path, prefix))
    if target is None:  # a missing component, or links that go round
        if not os.path.exists(path):
            return None, f"its program {path} does not exist", False
        target = os.path.realpath(path)
    if not _inside(target, real):
        return None, f"its program {path} leads to {target}, outside the environment", True
    return path, "", True


def resolve_program(prefix: Path, program: str) -> tuple[str | None, str]:
    """The absolute path of a kernel's argv[0] inside the env, or (None, the reason).

    A bare name ("python", "R", "xcpp") means the env's `bin/` one: jupyter_client would
    otherwise replace "python" with the *server's* interpreter, and other names would be looked
    up on the server's PATH.
    """
    path, why, _exists = _resolve(str(prefix), lambda: os.path.realpath(prefix), program)
    return path, why


def _spec_problem(raw: Any) -> str:
    """Why a kernel.json cannot be used, or '' when it can."""
    if not isinstance(raw, dict):
        return "kernel.json is not a JSON object"
    argv = raw.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        return "'argv' is not a non-empty list of strings"
    for key, kind in (("display_name", str), ("language", str), ("env", dict), ("metadata", dict)):
        if key in raw and not isinstance(raw[key], kind):
            return f"{key!r} has the wrong type"
    if not all(isinstance(v, str) for v in raw.get("env", {}).values()):
        return "'env' values must be strings"
    if str(raw.get("interrupt_mode", "signal")).lower() not in _INTERRUPT_MODES:
        return "'interrupt_mode' must be 'message' or 'signal'"
    return ""


def _spec_from(
    env: Env,
    name: str,
    kernel_dir: str,
    raw: Any,
    real_prefix: Callable[[], str],
    logger: logging.Logger,
) -> FoundKernel | None:
    problem = _spec_problem(raw)
    if problem:
        _warn(env, name, problem, logger)
        return None
    # Resolved now, because written copies of this spec live in another directory.
    argv = [a.replace("{resource_dir}", kernel_dir) for a in raw["argv"]]
    program, why, _exists = _resolve(str(env.prefix), real_prefix, argv[0])
    if program is None:
        _warn(env, name, why, logger)
        return None
    spec = {
        "argv": [program, *argv[1:]],
        "display_name": raw.get("display_name") or name,
        "language": raw.get("language", ""),
        "interrupt_mode": str(raw.get("interrupt_mode", "signal")).lower(),
        "env": dict(raw.get("env", {})),
        "metadata": dict(raw.get("metadata", {})),
        "kernel_protocol_version": str(raw.get("kernel_protocol_version", "")),
    }
    return FoundKernel(env, name, kernel_dir, spec)


def _read_file(path: str) -> tuple[int, bytes]:
    """(mtime, content) from one open: the mtime is read before the content, so a change
    while we read shows as a newer mtime next time. O_NONBLOCK: a FIFO must not hang us."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        chunks = []
        while chunk := os.read(fd, max(st.st_size + 1, 4096)):
            chunks.append(chunk)
    except OSError as exc:  # name the file, as open() would (a directory fails only here)
        raise OSError(exc.errno, exc.strerror, path) from None
    finally:
        os.close(fd)
    return st.st_mtime_ns, b"".join(chunks)


def site_packages(prefix: Path) -> Path | None:
    """The env's `lib/pythonX.Y/site-packages` (the newest, if an upgrade left an old one)."""
    found = _site_packages(str(prefix))
    return Path(found[0]) if found else None


def _python_version(name: str) -> tuple[int, ...]:
    digits = name[len("python") :].rstrip("t").split(".")
    return tuple(int(d) for d in digits if d.isdigit())


def _site_packages(prefix: str) -> tuple[str, os.stat_result] | None:
    """(path, stat) of the env's newest `lib/pythonX.Y/site-packages`."""
    lib = os.path.join(prefix, "lib")
    try:
        names = [n for n in os.listdir(lib) if n.startswith("python3")]
    except OSError:
        return None
    for name in sorted(names, key=_python_version, reverse=True):
        path = os.path.join(lib, name, "site-packages")
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            return path, st
    return None


def _runs_ipykernel(found: FoundKernel) -> bool:
    return any("ipykernel" in arg for arg in found.spec["argv"][1:])


def kernel_dir_names(prefix: Path) -> list[str]:
    return _kernel_dir_names(os.path.join(prefix, KERNELS_DIR))


def _kernel_dir_names(kernels: str) -> list[str]:
    try:
        with os.scandir(kernels) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


class _EnvReader:
    """Reads one env's kernels, noting the path and mtime of each thing read (the env's key)."""

    def __init__(self, env: Env, logger: logging.Logger, real_paths: _RealPaths):
        self.env = env
        self.prefix = str(env.prefix)
        self.logger = logger
        self.paths: list[str] = []
        self.mtimes: list[int] = []
        self._real_paths = real_paths
        self._real: str | None = None

    def real_prefix(self) -> str:
        if self._real is None:
            self._real = self._real_paths.prefix(self.prefix)
        return self._real

    def _note(self, path: str, mtime: int) -> None:
        self.paths.append(path)
        self.mtimes.append(mtime)

    def stat(self, path: str) -> os.stat_result | None:
        try:
            st = os.stat(path)
        except OSError:
            self._note(path, _MISSING)
            return None
        self._note(path, st.st_mtime_ns)
        return st

    def key(self, now_ns: int) -> tuple[int, ...] | None:
        """The mtimes noted, or None when one is too recent to be trusted (see mtime_key)."""
        limit = now_ns - RACY_NS
        return None if any(m > limit for m in self.mtimes) else tuple(self.mtimes)

    def kernel(self, name: str, kernel_dir: str) -> FoundKernel | None:
        path = os.path.join(kernel_dir, "kernel.json")
        try:
            mtime, data = _read_file(path)
        except FileNotFoundError:
            self._note(path, _MISSING)
            return None  # not a kernel dir, as jupyter_client also ignores it
        except OSError as exc:
            self.stat(path)
            _warn(self.env, name, f"kernel.json cannot be read ({exc})", self.logger)
            return None
        self._note(path, mtime)
        try:
            raw = json.loads(data)
        except ValueError as exc:
            _warn(self.env, name, f"kernel.json cannot be read ({exc})", self.logger)
            return None
        return _spec_from(self.env, name, kernel_dir, raw, self.real_prefix, self.logger)

    def made_kernel(self, sp: str) -> FoundKernel | None:
        pkg = os.path.join(sp, "ipykernel")
        if not os.path.isfile(os.path.join(pkg, "__init__.py")):
            return None
        # The same rule as for a spec the env ships: its python must not lead out of the env.
        python, why, exists = _resolve(self.prefix, self.real_prefix, "python")
        if python is None:
            if exists:
                _warn(self.env, "python3", why, self.logger)
            return None
        resources = os.path.join(pkg, "resources")
        spec = {
            "argv": [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "interrupt_mode": "signal",
            "env": {},
            "metadata": {"debugger": True},
            "kernel_protocol_version": "",
        }
        resource_dir = resources if os.path.isdir(resources) else pkg
        return FoundKernel(self.env, "python3", resource_dir, spec, generated=True)

    def scan(self) -> tuple[list[str], list[FoundKernel]]:
        """(kernel dir names, usable kernels); no kernels when conda-meta/ has gone."""
        meta = self.stat(os.path.join(self.prefix, META))
        if meta is None or not stat.S_ISDIR(meta.st_mode):
            return [], []  # removed behind our back since the registry was read
        kernels_dir = os.path.join(self.prefix, KERNELS_DIR)
        found = self.stat(kernels_dir)
        names = _kernel_dir_names(kernels_dir) if found else []
        kernels = [
            k for n in names if (k := self.kernel(n, os.path.join(kernels_dir, n))) is not None
        ]
        # A `python3` dir, even a broken one, is the env's own say on its Python kernel.
        if "python3" in names or any(_runs_ipykernel(k) for k in kernels):
            return names, kernels
        # pip installs of ipykernel touch neither conda-meta nor the kernels dir.
        sp = _site_packages(self.prefix)
        if sp is None:
            self.stat(os.path.join(self.prefix, "lib"))
            return names, kernels
        self._note(sp[0], sp[1].st_mtime_ns)
        made = self.made_kernel(sp[0])
        if made is not None:
            kernels.append(made)
        return names, kernels


# ---------------------------------------------------------------------------------------------
# Cache keys


def mtime_key(paths: Iterable[str], now_ns: int | None = None) -> tuple[int, ...] | None:
    """The paths' mtimes (-1 when absent), or None when one is too recent to be trusted."""
    limit = (time.time_ns() if now_ns is None else now_ns) - RACY_NS
    key = []
    for path in paths:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = _MISSING
        if mtime > limit:
            return None
        key.append(mtime)
    return tuple(key)


def _env_key_paths(prefix: Path, kernel_dirs: list[str], sp: Path | None) -> list[str]:
    kernels = os.path.join(prefix, KERNELS_DIR)
    paths = [os.path.join(prefix, META), kernels]
    paths += [os.path.join(kernels, name, "kernel.json") for name in kernel_dirs]
    # pip installs of ipykernel touch neither conda-meta nor the kernels dir.
    paths.append(str(sp) if sp else os.path.join(prefix, "lib"))
    return paths


def _registry_key_paths(settings: Settings) -> list[str]:
    paths = [str(d) for d in settings.envs_dirs]
    return [*paths, str(settings.environments_txt), str(settings.root_prefix / META)]


@dataclass
class _EnvEntry:
    key_paths: list[str]  # stat'ed to tell whether the env changed
    key: tuple[int, ...] | None  # None: racy, rescan on the next check
    kernels: list[FoundKernel]


# ---------------------------------------------------------------------------------------------
# The cache


@dataclass
class DiscoveryStats:
    """Counters for tests and the benchmark: what the last calls had to redo."""

    registry_scans: int = 0
    env_scans: int = 0
    checks: int = 0


@dataclass
class KernelDiscovery:
    """Kernels of every env known to `settings`, cached and refreshed by mtimes."""

    settings: Settings
    logger: logging.Logger = log
    list_envs: Callable[[Settings], list[Env]] = list_envs
    stats: DiscoveryStats = field(default_factory=DiscoveryStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._registry_paths = _registry_key_paths(self.settings)
        self._registry_key: tuple[int, ...] | None = None
        self._envs: list[Env] = []
        self._entries: dict[Path, _EnvEntry] = {}
        self._checked_at = float("-inf")
        self._result: tuple[FoundKernel, ...] = ()

    @property
    def envs(self) -> list[Env]:
        """The envs of the last call (excluded ones included)."""
        with self._lock:
            return list(self._envs)

    def kernels(self, max_age: float = 0.0) -> tuple[FoundKernel, ...]:
        """Every env's kernels; per-env mtimes are re-checked when older than `max_age` s.

        The same tuple object comes back while nothing changed, so callers can cache what
        they derive from it by identity.
        """
        with self._lock:
            now = time.monotonic()
            envs_changed = self._refresh_registry()
            if envs_changed or now - self._checked_at >= max_age:
                if self._revalidate() or envs_changed:
                    self._result = tuple(
                        k for env in self._envs for k in self._entries[env.prefix].kernels
                    )
                self._checked_at = now
            return self._result

    def _refresh_registry(self) -> bool:
        key = mtime_key(self._registry_paths)
        if key is not None and key == self._registry_key:
            return False
        try:
            envs = self.list_envs(self.settings)
        except Exception as exc:  # an unreadable environments.txt must not break listings
            self.logger.warning("Listing environments failed: %s", exc)
            envs = []
        self.stats.registry_scans += 1
        self._registry_key = key
        if envs == self._envs:
            return False
        self._envs = envs
        return True

    def _revalidate(self) -> bool:
        """Rescan the envs whose key changed; True when any kernel list changed."""
        now_ns = time.time_ns()
        real_paths = _RealPaths()
        changed = False
        entries: dict[Path, _EnvEntry] = {}
        for env in self._envs:
            old = self._entries.get(env.prefix)
            self.stats.checks += 1
            if old is not None and old.key is not None:
                if mtime_key(old.key_paths, now_ns) == old.key:
                    entries[env.prefix] = old
                    continue
            entry = self._scan(env, now_ns, real_paths)
            changed = changed or old is None or entry.kernels != old.kernels
            entries[env.prefix] = entry
        changed = changed or entries.keys() != self._entries.keys()
        self._entries = entries
        return changed

    def _scan(self, env: Env, now_ns: int, real_paths: _RealPaths) -> _EnvEntry:
        self.stats.env_scans += 1
        reader = _EnvReader(env, self.logger, real_paths)
        try:
            _names, kernels = reader.scan()
        except Exception as exc:  # one odd env must never take the listing down
            self.logger.warning("Skipping environment %s: %s", env.label, exc)
            # Skipped until something it is made of changes.
            prefix = env.prefix
            paths = _env_key_paths(prefix, kernel_dir_names(prefix), site_packages(prefix))
            return _EnvEntry(paths, mtime_key(paths, now_ns), [])
        return _EnvEntry(reader.paths, reader.key(now_ns), kernels)


# One cache per set of places envs live, shared by every manager of the process (the server
# makes one, but tools such as nbclient make a new KernelSpecManager for each notebook).
_shared: dict[tuple[object, ...], KernelDiscovery] = {}
_shared_lock = threading.Lock()


def shared_discovery(settings: Settings, logger: logging.Logger = log) -> KernelDiscovery:
    key = (settings.root_prefix, settings.envs_dirs, settings.environments_txt, settings.home)
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = KernelDiscovery(settings, logger)
        return found
