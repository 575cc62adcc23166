"""Which kernels every known environment can run, read from the filesystem only.

Two sources per environment: kernelspecs the env ships in `share/jupyter/kernels/*/kernel.json`
(ipykernel, IRkernel, xeus-*, ...) and, when the env has `ipykernel` in its site-packages but no
spec for it (pip installs ship none), a spec we make. No subprocess and no import of the env's
Python: this runs on every kernelspec request of the server.

Cost model. A full scan reads a few directories and JSON files per env, so results are cached
per env and keyed by mtimes (conda-meta/, the kernels dir, each kernel.json, site-packages/).
The env set itself is keyed by the mtimes of the envs dirs and environments.txt, checked on
every call, so creating or removing a named env (also with `rm -rf`) shows at once.
Re-stat'ing every env on every request costs about 5 us per env (4 stats), which dominates a
listing with hundreds of envs (bench/kernel_discovery.py); so per-env keys are re-checked at
most every `max_age` seconds (the caller's choice; 0 means every call). Timestamps younger
than `_RACY_NS` are never trusted, as git does: two changes inside one filesystem clock tick
(a few ms) would otherwise look like one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.prefix import META
from ..engine.registry import Env, list_envs
from ..engine.settings import Settings

log = logging.getLogger(__name__)

KERNELS_DIR = os.path.join("share", "jupyter", "kernels")
_RACY_NS = 2_000_000_000
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


def _warn(env: Env, kernel: str, why: str, logger: logging.Logger) -> None:
    logger.warning("Skipping kernel %r of environment %s: %s", kernel, env.label, why)


def _inside(path: str, prefix: Path) -> bool:
    try:
        return os.path.commonpath([path, str(prefix)]) == str(prefix)
    except ValueError:  # different drives (Windows) or a mix of relative and absolute
        return False


def resolve_program(prefix: Path, program: str) -> tuple[str | None, str]:
    """The absolute path of a kernel's argv[0] inside the env, or (None, the reason).

    A bare name ("python", "R", "xcpp") means the env's `bin/` one: jupyter_client would
    otherwise replace "python" with the *server's* interpreter, and other names would be looked
    up on the server's PATH.
    """
    if os.path.isabs(program):
        path = os.path.normpath(program)
        if not _inside(path, prefix):
            return None, f"its program {program} is outside the environment"
    elif os.sep in program or (os.altsep and os.altsep in program):
        return None, f"its program {program!r} is a relative path"
    else:
        path = str(prefix / "bin" / program)
    if not os.path.exists(path):
        return None, f"its program {path} does not exist"
    # `bin/evil -> /bin/sh` is inside by name only: what would run is where the links lead.
    target = os.path.realpath(path)
    if not _inside(target, Path(os.path.realpath(prefix))):
        return None, f"its program {path} leads to {target}, outside the environment"
    return path, ""


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


def read_kernel(env: Env, kernel_dir: Path, logger: logging.Logger = log) -> FoundKernel | None:
    """The kernel in `kernel_dir` (inside the env), or None with a warning when unusable."""
    name = kernel_dir.name
    try:
        raw = json.loads((kernel_dir / "kernel.json").read_bytes())
    except FileNotFoundError:
        return None  # not a kernel dir, as jupyter_client also ignores it
    except (OSError, ValueError) as exc:
        _warn(env, name, f"kernel.json cannot be read ({exc})", logger)
        return None
    problem = _spec_problem(raw)
    if problem:
        _warn(env, name, problem, logger)
        return None
    # Resolved now, because written copies of this spec live in another directory.
    argv = [a.replace("{resource_dir}", str(kernel_dir)) for a in raw["argv"]]
    program, why = resolve_program(env.prefix, argv[0])
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
    return FoundKernel(env, name, str(kernel_dir), spec)


def site_packages(prefix: Path) -> Path | None:
    """The env's `lib/pythonX.Y/site-packages` (the newest, if an upgrade left an old one)."""
    try:
        names = [n for n in os.listdir(prefix / "lib") if n.startswith("python3")]
    except OSError:
        return None

    def version(name: str) -> tuple[int, ...]:
        digits = name[len("python") :].rstrip("t").split(".")
        return tuple(int(d) for d in digits if d.isdigit())

    for name in sorted(names, key=version, reverse=True):
        path = prefix / "lib" / name / "site-packages"
        if path.is_dir():
            return path
    return None


def ipykernel_kernel(env: Env, sp: Path, logger: logging.Logger = log) -> FoundKernel | None:
    """The spec `python -m ipykernel install` would write, for an ipykernel that has none."""
    pkg = sp / "ipykernel"
    python = env.prefix / "bin" / "python"
    if not (pkg / "__init__.py").is_file() or not python.exists():
        return None
    # The same rule as for a spec the env ships: its python must not lead out of the env.
    program, why = resolve_program(env.prefix, "python")
    if program is None:
        _warn(env, "python3", why, logger)
        return None
    resources = pkg / "resources"
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "interrupt_mode": "signal",
        "env": {},
        "metadata": {"debugger": True},
        "kernel_protocol_version": "",
    }
    resource_dir = resources if resources.is_dir() else pkg
    return FoundKernel(env, "python3", str(resource_dir), spec, generated=True)


def _runs_ipykernel(found: FoundKernel) -> bool:
    return any("ipykernel" in arg for arg in found.spec["argv"][1:])


def kernel_dir_names(prefix: Path) -> list[str]:
    try:
        with os.scandir(prefix / KERNELS_DIR) as entries:
            return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))
    except OSError:
        return []


def scan_env(env: Env, logger: logging.Logger = log) -> tuple[list[str], list[FoundKernel]]:
    """(kernel dir names, usable kernels) of one env, reading its files once."""
    names = kernel_dir_names(env.prefix)
    kernels = [k for n in names if (k := read_kernel(env, env.prefix / KERNELS_DIR / n, logger))]
    # A `python3` dir, even a broken one, is the env's own say on its Python kernel.
    if "python3" not in names and not any(_runs_ipykernel(k) for k in kernels):
        sp = site_packages(env.prefix)
        made = ipykernel_kernel(env, sp, logger) if sp else None
        if made:
            kernels.append(made)
    return names, kernels


# ---------------------------------------------------------------------------------------------
# Cache keys


def mtime_key(paths: Iterable[str], now_ns: int | None = None) -> tuple[int, ...] | None:
    """The paths' mtimes (-1 when absent), or None when one is too recent to be trusted."""
    limit = (time.time_ns() if now_ns is None else now_ns) - _RACY_NS
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
        changed = False
        entries: dict[Path, _EnvEntry] = {}
        for env in self._envs:
            old = self._entries.get(env.prefix)
            self.stats.checks += 1
            if old is not None and old.key is not None:
                if mtime_key(old.key_paths, now_ns) == old.key:
                    entries[env.prefix] = old
                    continue
            entry = self._scan(env, now_ns)
            changed = changed or old is None or entry.kernels != old.kernels
            entries[env.prefix] = entry
        changed = changed or entries.keys() != self._entries.keys()
        self._entries = entries
        return changed

    def _scan(self, env: Env, now_ns: int) -> _EnvEntry:
        self.stats.env_scans += 1
        # The key is read before the files, so a change during the scan shows next time.
        names = kernel_dir_names(env.prefix)
        paths = _env_key_paths(env.prefix, names, site_packages(env.prefix))
        key = mtime_key(paths, now_ns)
        try:
            scanned, kernels = scan_env(env, self.logger)
        except Exception as exc:  # one odd env must never take the listing down
            self.logger.warning("Skipping environment %s: %s", env.label, exc)
            scanned, kernels = names, []
        if scanned != names:
            key = None  # kernels were added or removed while we read them
        if not (env.prefix / META).is_dir():
            kernels = []  # removed behind our back since the registry was read
        return _EnvEntry(paths, key, kernels)


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
