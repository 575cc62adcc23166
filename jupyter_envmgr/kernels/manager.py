"""Every environment's kernels as Jupyter kernelspecs, live in the server.

`EnvKernelSpecManager` (a `KernelSpecManager` subclass that our server extension installs, see
`jupyter_envmgr.kernels`) adds the env kernels to the ordinary ones on every request. Nothing is
written, so a kernel appears after `envmgr install ipykernel` and disappears after `envmgr env
remove` or an `rm -rf` of the env, without a restart and even when the change came from conda
or micromamba. Tools outside the server cannot be given another manager class: sync.py writes
kernelspecs for them, and this manager skips those written copies (it lists live).

An env's own `python3` spec is always renamed `conda-env-<env>-python3`, and ordinary specs
win any name clash, so no env ever shadows the server's `python3`. The names nb_conda_kernels
gave the same kernels (`conda-env-<env>-py`, which notebooks saved under it carry) start them
too, as aliases: never listed (each kernel is listed once, by our name), and never taking a
name an ordinary kernelspec has.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from traitlets import Float, Instance, List, TraitError, Unicode, observe, validate

from ..engine.errors import EnvMgrError
from ..engine.registry import env_key
from ..engine.settings import Settings, load_settings
from .config_files import load_jupyter_config
from .discovery import FoundKernel, KernelDiscovery, mtime_key, shared_discovery
from .names import DEFAULT_DISPLAY_NAME_FORMAT, DEFAULT_NAME_FORMAT, nb_conda_aliases
from .specs import (
    EnvKernelSpec,
    KernelOptions,
    env_kernel_specs,
    format_problem,
    is_env_spec,
    is_written_copy,
)

_SETTINGS_MAX_AGE = 60.0


@dataclass
class _PlainCache:
    setup: tuple[object, ...]  # kernel_dirs, ensure_native_kernel, allowed_kernelspecs
    paths: list[str]  # the kernel dirs and each found kernel.json
    key: tuple[int, ...] | None
    specs: dict[str, dict[str, Any]]


class EnvKernelSpecManager(KernelSpecManager):
    """Kernelspecs of the ordinary kernel dirs plus one per kernel of every conda environment."""

    # Caches keyed by identity of what they were built from (see _env_kernel_specs/_listing).
    _named_from: tuple[FoundKernel, ...] | None
    _listed: tuple[dict[str, Any], dict[str, EnvKernelSpec], dict[str, EnvKernelSpec]] | None

    exclude_envs = List(
        Unicode(),
        help="""Environments whose kernels are not listed: shell-style patterns (fnmatch) matched
        against the environment name and its full path, e.g. ["base", "test-*", "/scratch/*"].""",
    ).tag(config=True)

    name_format = Unicode(
        DEFAULT_NAME_FORMAT,
        help="""Kernel name of an env kernel. Fields: {env} (the env name, normalised; for an env
        outside the envs dirs its folder name and a short hash of its path), {kernel} (the
        kernelspec dir name, e.g. python3), {hash} (short hash of the env path). Names that
        still collide get a hash suffix. Changing it renames kernels in existing notebooks.""",
    ).tag(config=True)

    display_name_format = Unicode(
        DEFAULT_DISPLAY_NAME_FORMAT,
        help="""Display name of an env kernel (launcher and kernel picker). Fields:
        {display_name} (the env's own), {env} (env name, or path with ~), {kernel},
        {language}, {prefix} (full path).""",
    ).tag(config=True)

    refresh_interval = Float(
        2.0,
        help="""Seconds during which the per-environment mtimes are not re-checked. Envs created
        or removed show at once; changes inside an env (installing ipykernel) within this
        delay. 0 checks every env on every request (about 4 stat calls per env).""",
    ).tag(config=True)

    root_prefix = Unicode(
        None,
        allow_none=True,
        help="""Root prefix to find environments in (default: $MAMBA_ROOT_PREFIX, ~/micromamba).
        Not used when the jupyter_envmgr server extension runs: the kernels are then those of
        the envs it manages (EnvMgrExtension.root_prefix, envs_dirs, read_only_dirs).""",
    ).tag(config=True)

    settings = Instance(
        Settings,
        allow_none=True,
        help="Engine settings to use instead of reading the rc files (for embedding).",
    )

    @validate("name_format", "display_name_format")
    def _check_format(self, proposal: Any) -> str:
        problem = format_problem(proposal.trait.name, proposal.value)
        if problem:
            raise TraitError(problem)
        return str(proposal.value)

    @observe("exclude_envs", "name_format", "display_name_format", "allowed_kernelspecs")
    def _forget_names(self, change: Any) -> None:
        self._named_from = None
        self._listed = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._named_from = None
        self._env_specs: dict[str, EnvKernelSpec] = {}
        self._aliases: dict[str, str] = {}
        self._loaded_settings: Settings | None = None
        self._settings_at = float("-inf")
        self._shadow_warned: set[str] = set()
        self._plain_cache: _PlainCache | None = None
        self._listed = None

    @classmethod
    def from_jupyter_config(cls, **kwargs: Any) -> EnvKernelSpecManager:
        return cls(config=load_jupyter_config(), **kwargs)

    # --- env kernels ---------------------------------------------------------------------

    def _current_settings(self) -> Settings | None:
        if self.settings is not None:
            return self.settings
        # Re-read now and then: an admin may add envs_dirs to .condarc while the server runs.
        now = time.monotonic()
        if now - self._settings_at >= _SETTINGS_MAX_AGE:
            self._settings_at = now
            try:
                self._loaded_settings = load_settings(root_prefix=self.root_prefix)
            except EnvMgrError as exc:
                self.log.warning("Environment kernels are not listed: %s", exc.message)
        return self._loaded_settings

    def discovery(self) -> KernelDiscovery | None:
        settings = self._current_settings()
        return shared_discovery(settings, self.log) if settings else None

    def env_kernel_specs(self) -> dict[str, EnvKernelSpec]:
        """name -> spec of every env kernel not excluded; cached while nothing changes."""
        discovery = self.discovery()
        if discovery is None:
            return {}
        found = discovery.kernels(max_age=self.refresh_interval)
        if self._named_from is not found:
            self._env_specs = env_kernel_specs(
                found, self.options(), home=discovery.settings.home, logger=self.log
            )
            named = [s.named for s in self._env_specs.values()]
            self._aliases = nb_conda_aliases(named, discovery.envs, discovery.settings.root_prefix)
            self._named_from = found
        return self._env_specs

    def env_kernel_aliases(self) -> dict[str, str]:
        """nb_conda_kernels' kernel name -> our name, for the env kernels (see names.py)."""
        self.env_kernel_specs()
        return self._aliases

    def options(self) -> KernelOptions:
        return KernelOptions(
            tuple(self.exclude_envs),
            self.name_format,
            self.display_name_format,
            self.refresh_interval,
        )

    def _allowed(self, name: str) -> bool:
        return not self.allowed_kernelspecs or name in self.allowed_kernelspecs

    # --- KernelSpecManager API -----------------------------------------------------------

    def _plain_dirs(self) -> dict[str, str]:
        """Ordinary kernel dirs, minus the copies `sync_kernelspecs` wrote (we list live)."""
        plain = KernelSpecManager.find_kernel_specs(self)
        return {n: d for n, d in plain.items() if not is_written_copy(d)}

    def _shadowed(self, name: str) -> None:
        if name not in self._shadow_warned:
            self._shadow_warned.add(name)
            self.log.warning("Env kernel %r is hidden by a kernelspec of the same name", name)

    def find_kernel_specs(self) -> dict[str, str]:
        found = self._plain_dirs()
        for name, spec in self.env_kernel_specs().items():
            if name in found:
                self._shadowed(name)
            elif self._allowed(name):
                found[name] = spec.resource_dir
        return found

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        asked = kernel_name.lower()
        specs = self.env_kernel_specs()
        # An alias (the name a notebook saved under nb_conda_kernels carries) starts the kernel
        # it leads to; an ordinary kernelspec of either name wins, as for our own names.
        name = asked if asked in specs else self._aliases.get(asked, asked)
        spec = specs.get(name)
        if spec is not None and self._allowed(name) and not {asked, name} & set(self._plain_dirs()):
            # A copy: the caller (the kernel manager) may change its metadata.
            return self.kernel_spec_class(
                resource_dir=spec.resource_dir, **copy.deepcopy(spec.spec)
            )
        found = super().get_kernel_spec(kernel_name)
        if is_env_spec(found.to_dict()):
            raise NoSuchKernel(kernel_name)  # a written copy of an env kernel no longer listed
        return found

    def _plain_specs(self) -> dict[str, dict[str, Any]]:
        """What plain `get_all_specs` gives, cached by the mtimes of the kernel dirs and files.

        Caching this part too is what lets a listing with hundreds of env kernels cost about
        as much as jupyter_client's own listing, which re-reads every kernel.json per call.
        """
        setup = (tuple(self.kernel_dirs), self.ensure_native_kernel, self.allowed_kernelspecs)
        cache = self._plain_cache
        if cache and cache.setup == setup and cache.key is not None:
            if mtime_key(cache.paths) == cache.key:
                return cache.specs
        found = self._plain_dirs()
        paths = [*setup[0], *(os.path.join(d, "kernel.json") for d in found.values())]
        key = mtime_key(paths)  # read before the files: a change meanwhile shows next time
        specs: dict[str, dict[str, Any]] = {}
        for name in found:
            try:
                spec = KernelSpecManager.get_kernel_spec(self, name)
            except NoSuchKernel:
                continue
            except Exception:
                self.log.warning("Error loading kernelspec %r", name, exc_info=True)
                continue
            specs[name] = {"resource_dir": spec.resource_dir, "spec": spec.to_dict()}
        self._plain_cache = _PlainCache(setup, paths, key, specs)
        return specs

    def _listed_env_specs(self, plain: dict[str, Any]) -> dict[str, EnvKernelSpec]:
        """The env kernels a listing shows: allowed, and not clashing with an ordinary spec."""
        env_specs = self.env_kernel_specs()
        cache = self._listed
        if cache is None or cache[0] is not plain or cache[1] is not env_specs:
            listed = {}
            for name, env_spec in env_specs.items():
                if name in plain:
                    self._shadowed(name)
                elif self._allowed(name):
                    listed[name] = env_spec
            cache = self._listed = (plain, env_specs, listed)
        return cache[2]

    def get_all_specs(self) -> dict[str, Any]:
        plain = self._plain_specs()
        listed = self._listed_env_specs(plain)
        # Fresh outer dicts, as jupyter_client returns; the spec dicts are shared with the
        # cache (jupyter_server only serialises them).
        result = {
            n: {"resource_dir": e["resource_dir"], "spec": e["spec"]} for n, e in plain.items()
        }
        for name, env_spec in listed.items():
            result[name] = {"resource_dir": env_spec.resource_dir, "spec": env_spec.spec}
        return result

    def remove_kernel_spec(self, name: str) -> str:
        spec = self.env_kernel_specs().get(name.lower())
        if spec is not None:
            # The base class would delete the env's own kernel dir, inside the env.
            raise ValueError(
                f"{name} is a kernel of the environment {spec.named.found.env.prefix}: remove "
                "the environment or its kernel package, or hide it with "
                "EnvKernelSpecManager.exclude_envs."
            )
        return super().remove_kernel_spec(name)


def kernel_summaries(manager: EnvKernelSpecManager) -> list[dict[str, Any]]:
    """`spec_summary` of every env kernel, with the aliases that start it (those an ordinary
    kernelspec has are left out: they start that one)."""
    specs = manager.env_kernel_specs()
    plain = manager._plain_dirs()
    aliases: dict[str, list[str]] = {}
    for alias, name in manager.env_kernel_aliases().items():
        if alias not in plain:
            aliases.setdefault(name, []).append(alias)
    return [spec_summary(s, aliases.get(s.name, ())) for s in specs.values()]


def notebook_kernelspec(manager: EnvKernelSpecManager, prefix: Path) -> dict[str, str] | None:
    """`metadata.kernelspec` for an env's kernel (its Python kernel first), or None."""
    specs = [
        spec
        for spec in manager.env_kernel_specs().values()
        if str(spec.named.found.env.prefix) == str(prefix)
    ]
    specs.sort(key=lambda spec: (spec.spec.get("language") != "python", spec.name))
    if not specs:
        return None
    return {
        "name": specs[0].name,
        "display_name": specs[0].spec["display_name"],
        "language": specs[0].spec["language"],
    }


def spec_summary(spec: EnvKernelSpec, aliases: Iterable[str] = ()) -> dict[str, Any]:
    """What the CLI and the REST API say about one env kernel (`aliases`: the other names that
    start it, nb_conda_kernels' names)."""
    found = spec.named.found
    return {
        "name": spec.name,
        "aliases": list(aliases),
        "display_name": spec.spec["display_name"],
        "language": spec.spec["language"],
        "env": {**found.env.to_json(), "key": env_key(found.env)},
        "resource_dir": spec.resource_dir,
        "argv": spec.spec["argv"],
        "generated": found.generated,
    }
