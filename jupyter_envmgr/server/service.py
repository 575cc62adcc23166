"""What the REST handlers call: request bodies -> engine calls, policy applied, tasks started.

No tornado here: handlers parse HTTP, this module validates and acts, the engine does the work.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine import operations
from ..engine.cache import clean, select_categories
from ..engine.envfile import EnvFile, read_env_file
from ..engine.errors import BadInput, EnvNotFound
from ..engine.export import export_explicit, export_lock, export_yaml
from ..engine.policy import Policy
from ..engine.prefix import channel_display, read_history, read_records
from ..engine.registry import Env, find_env, list_envs, new_env_target
from ..engine.search import search
from ..engine.settings import Settings
from ..engine.specs import channel_urls, parse_specs, solver_channels
from ..engine.usage import disk_usage
from .tasks import Task, TaskRegistry

MAX_LIST = 200
EXPORT_FORMATS = {
    "yml": ("environment.yml", "text/yaml"),
    "from-history": ("environment.yml", "text/yaml"),
    "explicit": ("explicit.txt", "text/plain"),
    "lock": ("envmgr.lock", "text/yaml"),
}


def _str_list(body: Mapping[str, Any], key: str, required: bool = False) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadInput(f"'{key}' must be a list of strings.")
    if len(value) > MAX_LIST:
        raise BadInput(f"'{key}' has more than {MAX_LIST} entries.")
    if required and not value:
        raise BadInput(f"'{key}' must name at least one entry.")
    return value


def _bool(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise BadInput(f"'{key}' must be true or false.")
    return value


def _categories(names: list[str]) -> tuple[str, ...]:
    allowed = ("index-cache", "tarballs", "packages", "locks", "all")
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise BadInput(f"'categories' must list some of {', '.join(allowed)}; got {names!r}.")
    return select_categories(
        index_cache="index-cache" in names,
        tarballs="tarballs" in names,
        packages="packages" in names,
        locks="locks" in names,
        all="all" in names,
    )


def _only_keys(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise BadInput(
            f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}."
        )


class EnvService:
    def __init__(self, settings: Settings, policy: Policy, tasks: TaskRegistry) -> None:
        self.settings = settings
        self.policy = policy
        self.tasks = tasks

    # -- reading ---------------------------------------------------------------------------
    def env(self, name: str) -> Env:
        """An env addressed by name: only envs in the configured envs dirs (or base), so a
        request can never reach a path outside them."""
        env = find_env(self.settings, name=name)
        if env.prefix.parent not in self.settings.envs_dirs and not env.is_root:
            raise EnvNotFound(f"No environment named '{name}'.")
        return env

    def env_json(self, env: Env) -> dict[str, Any]:
        return {**env.to_json(), "read_only": self.policy.is_read_only(env)}

    def list_envs(self) -> list[dict[str, Any]]:
        return [self.env_json(e) for e in list_envs(self.settings)]

    async def list_envs_with_sizes(self) -> list[dict[str, Any]]:
        """The listing plus each env's disk use (one walk of every env and the cache)."""
        envs = list_envs(self.settings)
        report = (await asyncio.to_thread(disk_usage, self.settings, envs=envs)).to_json()
        by_path = {t["path"]: t for t in report["trees"] if t["kind"] == "env"}
        keys = ("apparent_bytes", "real_bytes", "own_bytes", "shared_bytes", "inodes")
        return [
            {**self.env_json(e), "size": {k: by_path.get(str(e.prefix), {}).get(k) for k in keys}}
            for e in envs
        ]

    def packages(self, env: Env) -> list[dict[str, Any]]:
        alias = self.settings.channel_alias
        return [
            {
                "name": r.name.normalized,
                "version": str(r.version),
                "build": str(r.build),
                "channel": channel_display(r.channel, alias),
                "size": r.size,
            }
            for r in sorted(read_records(env.prefix), key=lambda r: r.name.normalized)
        ]

    def revisions(self, env: Env) -> list[dict[str, Any]]:
        return [
            {"number": r.number, "date": r.date, "cmd": r.cmd, "added": r.added,
             "removed": r.removed}
            for r in read_history(env.prefix)
        ]  # fmt: skip

    def export(self, env: Env, fmt: str) -> tuple[str, str, str]:
        if fmt not in EXPORT_FORMATS:
            raise BadInput(
                f"Unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}."
            )
        if fmt == "explicit":
            text = export_explicit(env)
        elif fmt == "lock":
            text = export_lock(self.settings, env)
        else:
            text = export_yaml(self.settings, env, from_history=fmt == "from-history")
        filename, mime = EXPORT_FORMATS[fmt]
        return text, filename, mime

    async def usage(self, name: str | None) -> dict[str, Any]:
        envs = [self.env(name)] if name else None
        report = await asyncio.to_thread(disk_usage, self.settings, envs=envs)
        return report.to_json()

    async def clean_plan(self, categories: list[str]) -> dict[str, Any]:
        self.policy.check_clean()
        result = await clean(self.settings, _categories(categories), dry_run=True)
        return result.plan.to_json()

    async def search(self, query: str, channels: list[str]) -> list[dict[str, Any]]:
        self.policy.check_channels(channel_urls(channels or self.settings.channels, self.settings))
        return await search(self.settings, query, channels)

    async def kernels(self, manager: Any) -> list[dict[str, Any]]:
        from ..kernels.manager import EnvKernelSpecManager, spec_summary

        if not isinstance(manager, EnvKernelSpecManager):
            manager = EnvKernelSpecManager.from_jupyter_config(settings=self.settings)
        specs = await asyncio.to_thread(manager.env_kernel_specs)
        return [spec_summary(s) for s in specs.values()]

    # -- changing (tasks) ------------------------------------------------------------------
    async def _sync_kernels(self) -> None:
        from ..kernels.manager import sync_for_settings

        await asyncio.to_thread(sync_for_settings, self.settings)

    def _precheck(self, request: operations.Request) -> None:
        """Specs and channels are checked before a task exists: bad input and forbidden
        channels answer 400/403 at once instead of a task that fails later."""
        if request.kind == "create":
            new_env_target(self.settings, name=request.name)  # bad or taken name: 400/409
        if request.kind == "rollback":
            last = len(read_history(self.env(request.name or "").prefix)) - 1
            if request.revision is None or not 0 <= request.revision <= last:
                raise BadInput(f"Revision {request.revision} does not exist (0 to {last}).")
        env_file = request.env_file
        if request.kind in ("remove", "rollback") or (env_file and env_file.kind != "yaml"):
            parse_specs(request.specs, self.settings)
            return
        file_specs = list(env_file.specs) if env_file else []
        file_channels = list(env_file.channels) if env_file else []
        specs = parse_specs([*request.specs, *file_specs], self.settings)
        channels = solver_channels(
            [*request.channels, *file_channels], specs, self.settings, request.override_channels
        )
        self.policy.check_channels(channels)

    def _start(self, request: operations.Request, label: str) -> Task:
        self._precheck(request)

        async def operation(sink):
            outcome = await operations.run(
                self.settings, request, on_event=sink, policy=self.policy
            )
            if outcome.applied:
                await self._sync_kernels()
            return outcome.to_json()

        return self.tasks.start(request.kind, label, operation)

    def clean(self, body: Mapping[str, Any]) -> Task:
        self.policy.check_clean()
        _only_keys(body, {"categories"})
        categories = _categories(_str_list(body, "categories", required=True))

        async def operation(sink):
            result = await clean(self.settings, categories, on_event=sink)
            return result.to_json()

        return self.tasks.start("clean", None, operation)

    def clone(self, env_name: str, body: Mapping[str, Any]) -> Task:
        source = self.env(env_name)
        _only_keys(body, {"name"})
        name = body.get("name")
        if not isinstance(name, str):
            raise BadInput("'name' must be the new environment's name (a string).")
        # The exact package set, no solve: a clone is the same env under another name.
        exact = EnvFile("lock", f"clone of {source.label}", records=read_records(source.prefix))
        request = operations.Request(
            kind="create", name=name, env_file=exact,
            cmd=f"jupyter-envmgr (server) create -n {name} --clone {source.label}",
        )  # fmt: skip
        return self._start(request, name)

    def create(self, body: Mapping[str, Any]) -> Task:
        _only_keys(body, {"name", "specs", "channels", "override_channels", "file", "filename"})
        name = body.get("name")
        if not isinstance(name, str):
            raise BadInput("'name' must be the new environment's name (a string).")
        env_file = None
        if "file" in body:
            env_file = self._uploaded_file(body)
        request = operations.Request(
            kind="create",
            name=name,
            specs=_str_list(body, "specs", required=env_file is None),
            channels=_str_list(body, "channels"),
            override_channels=_bool(body, "override_channels"),
            env_file=env_file,
            cmd=f"jupyter-envmgr (server) create -n {name}",
        )
        return self._start(request, name)

    def _uploaded_file(self, body: Mapping[str, Any]):
        text = body.get("file")
        filename = body.get("filename", "environment.yml")
        if not isinstance(text, str) or not isinstance(filename, str):
            raise BadInput("'file' must be the file's text and 'filename' its name.")
        suffix = (
            Path(filename).suffix
            if Path(filename).suffix in (".yml", ".yaml", ".txt", ".lock")
            else ".yml"
        )
        with tempfile.TemporaryDirectory(prefix="envmgr-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_text(text, encoding="utf-8")
            parsed = read_env_file(str(path))
        parsed.path = filename  # errors name the user's file, not our temp copy
        return parsed

    def change(self, env_name: str, kind: str, body: Mapping[str, Any]) -> Task:
        env = self.env(env_name)
        self.policy.check_writable(env)
        allowed = {"specs", "channels", "override_channels"}
        if kind == "update":
            allowed.add("all")
        _only_keys(body, allowed)
        if kind == "update" and _bool(body, "all"):
            kind = "update-all"
        request = operations.Request(
            kind=kind,
            name=env.name,
            specs=_str_list(body, "specs", required=kind != "update-all"),
            channels=_str_list(body, "channels"),
            override_channels=_bool(body, "override_channels"),
            cmd=f"jupyter-envmgr (server) {kind} -n {env.name}",
        )
        return self._start(request, env.name)

    def rollback(self, env_name: str, body: Mapping[str, Any]) -> Task:
        env = self.env(env_name)
        self.policy.check_writable(env)
        _only_keys(body, {"revision"})
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise BadInput("'revision' must be a revision number (0 or more).")
        request = operations.Request(
            kind="rollback", name=env.name, revision=revision,
            cmd=f"jupyter-envmgr (server) install --revision {revision} -n {env.name}",
        )  # fmt: skip
        return self._start(request, env.name)

    def delete(self, env_name: str) -> Task:
        env = self.env(env_name)
        self.policy.check_writable(env)

        async def operation(sink):
            await operations.remove_env(self.settings, env, on_event=sink)
            await self._sync_kernels()
            return {"removed": True, "env": env.to_json()}

        return self.tasks.start("delete", env.name, operation)

    def settings_json(self) -> dict[str, Any]:
        s = self.settings
        return {
            "root_prefix": str(s.root_prefix),
            "envs_dirs": [str(p) for p in s.envs_dirs],
            "pkgs_dirs": [str(p) for p in s.pkgs_dirs],
            "channels": list(s.channels),
            "channel_priority": s.channel_priority,
            "allowed_channels": list(self.policy.allowed_channels),
            "read_only_envs": list(self.policy.read_only_envs),
            "allow_clean": self.policy.allow_clean,
        }
