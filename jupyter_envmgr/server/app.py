"""The `jupyter_envmgr` jupyter_server extension: configuration (traitlets) and wiring."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Enum, Int, List, Unicode

from ..engine import published
from ..engine.policy import Policy
from ..engine.settings import SOLVERS, Settings, load_settings
from ..engine.solver import require_solver
from ..engine.solver_interface import SolverUnavailable
from ..engine.specs import channel_urls
from ..engine.urls import canonical_url
from ..kernels.manager import EnvKernelSpecManager
from .handlers import ROUTES
from .service import EnvService
from .tasks import TaskRegistry


class EnvMgrExtension(ExtensionApp):
    name = "jupyter_envmgr"
    service: EnvService  # built in initialize_settings

    root_prefix = Unicode(
        None, allow_none=True, help="Root prefix (default: $MAMBA_ROOT_PREFIX or ~/micromamba)."
    ).tag(config=True)
    envs_dirs = List(
        Unicode(), help="Envs dirs to manage, first one for new envs (default: as micromamba)."
    ).tag(config=True)
    pkgs_dirs = List(
        Unicode(), help="Package caches, first one written to (default: as micromamba)."
    ).tag(config=True)
    default_channels = List(
        Unicode(), help="Channels used when a request names none (default: the .condarc ones)."
    ).tag(config=True)
    allowed_channels = List(
        Unicode(),
        help="Channel names or URLs users may install from; others get 403. Empty: any.",
    ).tag(config=True)
    read_only_envs = List(
        Unicode(), help="Env names or prefixes (fnmatch patterns) users may use but not change."
    ).tag(config=True)
    read_only_dirs = List(
        Unicode(), help="Folders whose envs are read-only (e.g. a site-wide envs dir)."
    ).tag(config=True)
    max_concurrent_tasks = Int(2, help="Operations that run at once; more wait queued.").tag(
        config=True
    )
    max_queued_tasks = Int(
        20,
        help="Unfinished tasks (queued, running or waiting for a lock) the server keeps at "
        "most; a request beyond it gets 429 until one finishes or is cancelled.",
    ).tag(config=True)
    pip_index_urls = List(
        Unicode(),
        help="Package indexes a 'pip:' section may install from (the first is pip's "
        "--index-url). With allowed_channels set and this empty, 'pip:' sections are refused.",
    ).tag(config=True)
    allow_clean = Bool(True, help="Whether users may clean the shared package cache.").tag(
        config=True
    )
    solver = Enum(
        list(SOLVERS),
        None,
        allow_none=True,
        help="The solver: 'rattler' or 'libmamba' (conda's default solver; needs libmambapy "
        "2.x from conda-forge in the server's environment). Default: 'solver' in the "
        ".condarc/.mambarc, else rattler.",
    ).tag(config=True)

    def initialize_settings(self) -> None:
        settings = load_settings(root_prefix=self.root_prefix)
        overrides: dict[str, Any] = {}
        envs_dirs = [Path(p).expanduser().absolute() for p in self.envs_dirs] or list(
            settings.envs_dirs
        )
        # Envs in read-only dirs are listed and have kernels (changes are refused by policy);
        # new envs still go to the first envs dir.
        envs_dirs += [
            d for d in (Path(p).expanduser().absolute() for p in self.read_only_dirs)
            if d not in envs_dirs
        ]  # fmt: skip
        if tuple(envs_dirs) != tuple(settings.envs_dirs):
            overrides["envs_dirs"] = tuple(envs_dirs)
        if self.pkgs_dirs:
            overrides["pkgs_dirs"] = tuple(Path(p).expanduser().absolute() for p in self.pkgs_dirs)
        if self.default_channels:
            overrides["channels"] = tuple(self.default_channels)
        if self.solver:
            overrides["solver"] = self.solver
        settings = settings.with_overrides(**overrides) if overrides else settings
        try:
            require_solver(settings.solver)
        except SolverUnavailable as exc:  # each request that solves is refused with it too (400)
            self.log.warning(exc.message)
        policy = Policy(
            allowed_channels=tuple(channel_urls(self.allowed_channels, settings)),
            read_only_envs=tuple(self.read_only_envs),
            read_only_dirs=tuple(str(Path(p).expanduser().absolute()) for p in self.read_only_dirs),
            allow_clean=self.allow_clean,
            pip_index_urls=tuple(canonical_url(u) for u in self.pip_index_urls),
        )
        tasks = TaskRegistry(
            max_concurrent=self.max_concurrent_tasks, max_queued=self.max_queued_tasks
        )
        # Handlers reach it as `self.extensionapp.service` (ExtensionHandlerMixin).
        root = getattr(self.serverapp, "root_dir", None) if self.serverapp else None
        self.service = EnvService(settings, policy, tasks, Path(root) if root else None)
        self._share_settings_with_kernels(settings)
        # Kernels this server starts run `%envmgr` through the CLI: same envs, same rules.
        os.environ[published.VARIABLE] = published.publish(settings, policy)

    def _share_settings_with_kernels(self, settings: Settings) -> None:
        """One owner of the server's settings: the env kernels are those of the envs this
        extension lists (its envs_dirs and read-only dirs too), not those of a second reading of
        the rc files by the kernelspec manager. Settings an embedder gave the manager stay."""
        manager = getattr(self.serverapp, "kernel_spec_manager", None)
        if isinstance(manager, EnvKernelSpecManager) and manager.settings is None:
            manager.settings = settings

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        await self.service.tasks.shutdown()
        os.environ.pop(published.VARIABLE, None)
