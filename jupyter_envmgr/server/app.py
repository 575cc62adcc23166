"""The `jupyter_envmgr` jupyter_server extension: configuration (traitlets) and wiring."""

from __future__ import annotations

from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Int, List, Unicode

from ..engine.policy import Policy
from ..engine.settings import load_settings
from ..engine.specs import channel_urls
from .handlers import ROUTES
from .service import EnvService
from .tasks import TaskRegistry


class EnvMgrExtension(ExtensionApp):
    name = "jupyter_envmgr"

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
    allow_clean = Bool(True, help="Whether users may clean the shared package cache.").tag(
        config=True
    )

    def initialize_settings(self) -> None:
        settings = load_settings(root_prefix=self.root_prefix)
        overrides = {}
        if self.envs_dirs:
            overrides["envs_dirs"] = tuple(Path(p).expanduser().absolute() for p in self.envs_dirs)
        if self.pkgs_dirs:
            overrides["pkgs_dirs"] = tuple(Path(p).expanduser().absolute() for p in self.pkgs_dirs)
        if self.default_channels:
            overrides["channels"] = tuple(self.default_channels)
        settings = settings.with_overrides(**overrides) if overrides else settings
        policy = Policy(
            allowed_channels=tuple(channel_urls(self.allowed_channels, settings)),
            read_only_envs=tuple(self.read_only_envs),
            read_only_dirs=tuple(self.read_only_dirs),
            allow_clean=self.allow_clean,
        )
        tasks = TaskRegistry(max_concurrent=self.max_concurrent_tasks)
        self.service = EnvService(settings, policy, tasks)
        self.settings.update({"envmgr_service": self.service})

    def initialize_handlers(self) -> None:
        self.handlers.extend(ROUTES)

    async def stop_extension(self) -> None:
        await self.service.tasks.shutdown()
