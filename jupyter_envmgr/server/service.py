"""What the REST handlers call: request bodies -> engine calls, policy applied, tasks started.

No tornado here: handlers parse HTTP, this module validates and acts, the engine does the work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from ..engine import operations
from ..engine.blocking import run_blocking
from ..engine.cache import clean, select_categories
from ..engine.envfile import EnvFile, read_env_text
from ..engine.errors import BadInput, EnvNotFound
from ..engine.export import check_export, export_env
from ..engine.isolation import run_job
from ..engine.package_insight import package_insight
from ..engine.policy import Policy
from ..engine.prefix import read_history, read_records
from ..engine.progress import EventSink
from ..engine.registry import Env, env_key, find_listed_env, list_envs, validate_env_name
from ..engine.search import search
from ..engine.settings import Settings
from ..engine.suggest import suggest_specs
from ..engine.usage import disk_usage
from .tasks import Task, TaskRegistry

MAX_LIST = 200


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


def _request_json(request: operations.Request) -> dict[str, Any]:
    """A request as the worker rebuilds it (its env file travels separately)."""
    fields = dataclasses.asdict(dataclasses.replace(request, env_file=None))
    del fields["env_file"]
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


class EnvService:
    def __init__(
        self,
        settings: Settings,
        policy: Policy,
        tasks: TaskRegistry,
        notebook_root: Path | None = None,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.tasks = tasks
        self.notebook_root = notebook_root  # the server's root_dir: where notebook paths start

    # -- reading ---------------------------------------------------------------------------
    # Every read touches the disk (stats, records, history, the package cache): each public
    # read is one hop to a thread, so a handler never parses or walks files on the event loop.

    def env(self, name: str) -> Env:
        """An env addressed by its key (`registry.env_key`): a name, found only in the
        configured envs dirs (or base), or `~<folder>-<hash>` for an env outside them that the
        registry lists (environments.txt). A key is never read as a path, so a request can
        never reach a folder the registry does not name. Blocking (a few stats): the reads
        below call it in their thread."""
        env = find_listed_env(self.settings, name)
        named_elsewhere = env.prefix.parent not in self.settings.envs_dirs and not env.is_root
        if env.name is not None and named_elsewhere:
            raise EnvNotFound(f"No environment named '{name}'.")
        return env

    @staticmethod
    def _cli_target(env: Env) -> str:
        """The env as the CLI would be told it: by name, or (outside the envs dirs) by path."""
        return f"-n {env.name}" if env.name else f"-p {env.prefix}"

    def _removable_env(self, name: str) -> Env:
        """The env `name`, refused when it may not be removed. Blocking, as writable_env."""
        env = self.env(name)
        operations.check_removable(env, self.policy)
        return env

    def writable_env(self, name: str) -> Env:
        """The env `name`, refused when it is read-only. Blocking (stats, an access check):
        the changes below call it in a thread."""
        env = self.env(name)
        self.policy.check_writable(env)
        return env

    def env_json(self, env: Env) -> dict[str, Any]:
        """Blocking: whether the env is read-only depends on its folder's permissions. `key`
        is what the routes take (see `env`); `read_only_reason` says why, in words."""
        reason = self.policy.read_only_reason(env)
        return {**env.to_json(), "key": env_key(env), "read_only": reason is not None,
                "read_only_reason": reason}  # fmt: skip

    async def list_envs(self) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._list_envs)

    def _list_envs(self) -> list[dict[str, Any]]:
        return [self.env_json(e) for e in list_envs(self.settings)]

    async def list_envs_with_sizes(self) -> list[dict[str, Any]]:
        """The listing plus each env's disk use (one walk of every env and the cache)."""
        return await asyncio.to_thread(self._list_envs_with_sizes)

    def _list_envs_with_sizes(self) -> list[dict[str, Any]]:
        envs = list_envs(self.settings)
        report = disk_usage(self.settings, envs=envs).to_json()
        by_path = {t["path"]: t for t in report["trees"] if t["kind"] == "env"}
        keys = ("apparent_bytes", "real_bytes", "own_bytes", "shared_bytes", "inodes")
        return [
            {**self.env_json(e), "size": {k: by_path.get(str(e.prefix), {}).get(k) for k in keys}}
            for e in envs
        ]

    async def environment(self, name: str) -> dict[str, Any]:
        """One env's JSON with its packages."""
        return await asyncio.to_thread(self._environment, name)

    def _environment(self, name: str) -> dict[str, Any]:
        env = self.env(name)
        return {**self.env_json(env), "packages": self._packages(env)}

    async def packages(self, name: str) -> list[dict[str, Any]]:
        # Records are parsed in a thread, never on the event loop (and without file lists).
        return await asyncio.to_thread(lambda: self._packages(self.env(name)))

    def _packages(self, env: Env) -> list[dict[str, Any]]:
        # The engine's package insight, from the channels' indexes at hand (never a fetch).
        records = read_records(env.prefix, files="none")  # a list needs no file paths
        insight = run_blocking(package_insight(self.settings, env.prefix, records))
        return [p.to_json() for p in insight]

    async def revisions(self, name: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(lambda: self._revisions(self.env(name)))

    def _revisions(self, env: Env) -> list[dict[str, Any]]:
        return [
            {"number": r.number, "date": r.date, "cmd": r.cmd, "added": r.added,
             "removed": r.removed}
            for r in read_history(env.prefix)
        ]  # fmt: skip

    async def export(
        self, name: str, fmt: str, platforms: Sequence[str] = ()
    ) -> tuple[str, str, str]:
        """(text, file name, MIME type) of the env `name` in format `fmt`; lock formats also
        for `platforms`. A bad format or platform is a 400 before anything is read or solved.
        Other platforms are solved in a child process, as a task's rattler work is (a rattler
        crash there fails this request, never the server)."""
        if len(platforms) > MAX_LIST:
            raise BadInput(f"'platform' is given more than {MAX_LIST} times.")
        wanted = check_export(fmt, platforms)
        env = await asyncio.to_thread(self.env, name)  # an unknown env is a 404
        if not wanted:
            return await asyncio.to_thread(self._export, env, fmt)
        job = {"op": "export", "prefix": str(env.prefix), "name": env.name, "format": fmt,
               "platforms": wanted}  # fmt: skip
        result = await run_job(job, self.settings, self.policy, env_label=env.label, prefix=None)
        return str(result["text"]), str(result["filename"]), str(result["media_type"])

    def _export(self, env: Env, fmt: str) -> tuple[str, str, str]:
        exported = export_env(self.settings, env, fmt)
        return exported.text, exported.filename, exported.media_type

    async def usage(self, name: str | None) -> dict[str, Any]:
        def report() -> dict[str, Any]:
            envs = [self.env(name)] if name else None
            return disk_usage(self.settings, envs=envs).to_json()

        return await asyncio.to_thread(report)

    async def usage_by_owner(self) -> dict[str, Any]:
        """Bytes and inodes per owner in every envs dir and package cache (engine/owners.py);
        the server's user's own envs and cache entries, and what clean would free there."""
        from ..engine.owners import usage_by_owner

        report = await asyncio.to_thread(usage_by_owner, self.settings)
        return report.to_json()

    async def clean_plan(self, categories: list[str]) -> dict[str, Any]:
        # The engine takes the cache lock without blocking and plans in a thread.
        self.policy.check_clean()
        result = await clean(self.settings, _categories(categories), dry_run=True)
        return result.plan.to_json()

    async def search(self, query: str, channels: list[str]) -> list[dict[str, Any]]:
        if len(channels) > MAX_LIST:
            raise BadInput(f"'channel' is given more than {MAX_LIST} times.")
        return await search(self.settings, query, channels, policy=self.policy)

    async def suggested_specs(self, channels: list[str]) -> dict[str, Any]:
        if len(channels) > MAX_LIST:
            raise BadInput(f"'channel' is given more than {MAX_LIST} times.")
        return await suggest_specs(self.settings, channels, policy=self.policy)

    async def kernels(self, manager: Any) -> list[dict[str, Any]]:
        from ..kernels.manager import EnvKernelSpecManager, kernel_summaries

        def summaries() -> list[dict[str, Any]]:
            # Outside a server configured with our manager, read the Jupyter config (files).
            found = manager
            if not isinstance(found, EnvKernelSpecManager):
                found = EnvKernelSpecManager.from_jupyter_config(settings=self.settings)
            return kernel_summaries(found)

        return await asyncio.to_thread(summaries)

    # -- changing (tasks) ------------------------------------------------------------------
    async def _sync_kernels(self, *changed: Path) -> None:
        """The kernelspecs of the `changed` envs (their prefixes) for tools outside the server."""
        from ..kernels.sync import sync_for_settings

        await asyncio.to_thread(
            sync_for_settings, self.settings, read_only=self.policy.is_read_only, changed=changed
        )

    async def _start(
        self,
        request: operations.Request,
        label: str,
        *,
        upload: dict[str, str] | None = None,
        clone_of: Env | None = None,
    ) -> Task:
        # Every check the request can fail happens here, before a task exists (4xx at once);
        # the task only executes what was prepared.
        prepared = await asyncio.to_thread(operations.prepare, self.settings, request, self.policy)
        # The rattler work runs in a child process (engine/isolation.py): a crash there fails
        # this task, never the server. The child gets what it needs to prepare the same request:
        # an uploaded file as its text, a clone as its source env (records are re-read there).
        job: dict[str, Any] = {
            "op": "operation",
            "request": _request_json(request),
            "upload": upload,
            "clone_of": (
                {"prefix": str(clone_of.prefix), "label": clone_of.label} if clone_of else None
            ),
        }
        env = prepared.env

        async def operation(sink: EventSink) -> dict[str, Any]:
            await self.tasks.bytecode.stop(env.prefix)  # no compile races a change
            result = await run_job(
                job, self.settings, self.policy, env_label=env.label, prefix=env.prefix,
                on_event=sink,
            )  # fmt: skip
            if result.get("applied"):
                plan = result.get("plan") or {}
                linked = [r["name"] for r in plan.get("add", [])]
                linked += [c["to"]["name"] for c in plan.get("change", [])]
                self.tasks.bytecode.start(env.prefix, linked)  # while the user moves on
                await self._sync_kernels(env.prefix)
            return result

        return self.tasks.start(request.kind, label, operation)

    def clean(self, body: Mapping[str, Any]) -> Task:
        self.policy.check_clean()
        _only_keys(body, {"categories"})
        categories = _categories(_str_list(body, "categories", required=True))

        async def operation(sink: EventSink) -> dict[str, Any]:
            result = await clean(self.settings, categories, on_event=sink)
            return result.to_json()

        return self.tasks.start("clean", None, operation)

    async def clone(self, env_name: str, body: Mapping[str, Any]) -> Task:
        source = await asyncio.to_thread(self.env, env_name)
        _only_keys(body, {"name"})
        name = body.get("name")
        if not isinstance(name, str):
            raise BadInput("'name' must be the new environment's name (a string).")
        # The exact package set, no solve: a clone is the same env under another name.
        records = await asyncio.to_thread(read_records, source.prefix)
        exact = EnvFile("lock", f"clone of {source.label}", records=records)
        request = operations.Request(
            kind="create", name=name, env_file=exact,
            cmd=f"jupyter-envmgr (server) create -n {name} --clone {source.label}",
        )  # fmt: skip
        return await self._start(request, name, clone_of=source)

    async def create(self, body: Mapping[str, Any]) -> Task:
        _only_keys(
            body,
            {"name", "specs", "channels", "override_channels", "file", "filename", "lock_env"},
        )
        name = body.get("name")
        if not isinstance(name, str):
            raise BadInput("'name' must be the new environment's name (a string).")
        validate_env_name(name)  # before reading an upload: a bad name costs nothing
        if "lock_env" in body and "file" not in body:
            raise BadInput("'lock_env' chooses an environment of an uploaded pixi.lock ('file').")
        env_file = await self._uploaded_file(body) if "file" in body else None
        upload = (
            {"text": body["file"], "filename": Path(body.get("filename", "environment.yml")).name,
             "lock_env": body.get("lock_env")}
            if env_file is not None
            else None
        )  # fmt: skip
        request = operations.Request(
            kind="create",
            name=name,
            specs=_str_list(body, "specs", required=env_file is None),
            channels=_str_list(body, "channels"),
            override_channels=_bool(body, "override_channels"),
            env_file=env_file,
            cmd=f"jupyter-envmgr (server) create -n {name}",
        )
        return await self._start(request, name, upload=upload)

    async def _uploaded_file(self, body: Mapping[str, Any]) -> EnvFile:
        text = body.get("file")
        filename = body.get("filename", "environment.yml")
        lock_env = body.get("lock_env")
        if not isinstance(text, str) or not isinstance(filename, str):
            raise BadInput("'file' must be the file's text and 'filename' its name.")
        if not filename.strip() or len(filename) > 255 or any(ord(c) < 32 for c in filename):
            raise BadInput("'filename' must be a file name of at most 255 characters.")
        if lock_env is not None and (
            not isinstance(lock_env, str) or not lock_env or len(lock_env) > 255
            or any(ord(c) < 32 for c in lock_env)
        ):  # fmt: skip
            raise BadInput("'lock_env' must be the name of one of the pixi.lock's environments.")
        # Parsed with limits (size, YAML aliases and depth) in a thread: a hostile file can
        # neither stall the server nor make it read any file of its own.
        return await asyncio.to_thread(
            functools.partial(read_env_text, text, Path(filename).name, lock_env=lock_env)
        )

    async def change(
        self, env_name: str, verb: Literal["install", "update", "remove"], body: Mapping[str, Any]
    ) -> Task:
        env = await asyncio.to_thread(self.writable_env, env_name)
        allowed = {"specs", "channels", "override_channels"}
        if verb == "update":
            allowed.add("all")
        _only_keys(body, allowed)
        update_all = verb == "update" and _bool(body, "all")
        kind: operations.Kind = "update-all" if update_all else verb
        if update_all and body.get("specs"):
            raise BadInput("'all': true updates every package: give no 'specs' with it.")
        request = operations.Request(
            kind=kind,
            name=env.name,
            prefix=None if env.name else str(env.prefix),
            specs=_str_list(body, "specs", required=not update_all),
            channels=_str_list(body, "channels"),
            override_channels=_bool(body, "override_channels"),
            cmd=f"jupyter-envmgr (server) {kind} {self._cli_target(env)}",
        )
        return await self._start(request, env_key(env))

    async def rollback(self, env_name: str, body: Mapping[str, Any]) -> Task:
        env = await asyncio.to_thread(self.writable_env, env_name)
        _only_keys(body, {"revision"})
        revision = body.get("revision")
        if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
            raise BadInput("'revision' must be a revision number (0 or more).")
        request = operations.Request(
            kind="rollback", name=env.name, revision=revision,
            prefix=None if env.name else str(env.prefix),
            cmd=f"jupyter-envmgr (server) install --revision {revision} {self._cli_target(env)}",
        )  # fmt: skip
        return await self._start(request, env_key(env))

    async def delete(
        self,
        env_name: str,
        *,
        force: bool = False,
        kernel_manager: Any = None,
        session_manager: Any = None,
    ) -> Task:
        """Delete the env `env_name`; refused (409) while kernels started from it run, unless
        `force`. The server's kernel manager knows its running kernels and the kernelspec
        each started from (whose metadata names the env); its session manager, the notebooks
        those kernels serve."""
        from ..engine.errors import EnvInUse

        env = await asyncio.to_thread(self._removable_env, env_name)
        if not force and kernel_manager is not None:
            prefix = str(env.prefix)
            running: list[tuple[str, str]] = []  # (kernel id, kernelspec name)
            for kernel in kernel_manager.list_kernels():
                spec = getattr(kernel_manager.get_kernel(kernel["id"]), "kernel_spec", None)
                metadata = getattr(spec, "metadata", None) or {}
                provisioner = metadata.get("kernel_provisioner") or {}
                config = provisioner.get("config") or {} if isinstance(provisioner, dict) else {}
                if prefix in (metadata.get("conda_env_path"), config.get("env_prefix")):
                    running.append((kernel["id"], kernel["name"]))
            if running:
                paths: dict[str | None, list[str]] = {}
                sessions = await session_manager.list_sessions() if session_manager else []
                for session in sessions:
                    kernel_id = (session.get("kernel") or {}).get("id")
                    paths.setdefault(kernel_id, []).append(session.get("path") or "")
                listed = "; ".join(
                    f"{name} ({', '.join(paths[kid]) if kid in paths else 'no notebook'})"
                    for kid, name in running
                )
                raise EnvInUse(
                    f"The environment {env.label} has {len(running)} running kernel(s): "
                    f"{listed}. Deleting it now would break their imports: shut those kernels "
                    "down first, or delete anyway with ?force=true."
                )

        async def operation(sink: EventSink) -> dict[str, Any]:
            await self.tasks.bytecode.stop(env.prefix)
            await operations.remove_env(self.settings, env, on_event=sink)
            await self._sync_kernels(env.prefix)
            return {"removed": True, "env": env.to_json()}

        return self.tasks.start("delete", env_key(env), operation)

    # -- batch jobs (SLURM) -----------------------------------------------------------------
    # A job runs a command in the env and changes no env: read-only envs may be run too.
    def _batch_script(self, name: str, fields: Mapping[str, Any]) -> tuple[Env, str]:
        """The env and its job script, every field checked first (engine/batch.py). `fields`:
        `command` (one line, split into words without a shell), sbatch's options by their long
        name, `sbatch` (raw directive lines). Blocking (reads the env's activation files)."""
        from ..engine.batch import SBATCH_OPTIONS, slurm_script, split_command

        _only_keys(fields, {"command", "sbatch", *SBATCH_OPTIONS})
        options: dict[str, str | None] = {}
        for key in SBATCH_OPTIONS:
            value = fields.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if value is not None and not isinstance(value, str):
                raise BadInput(f"'{key}' must be a string (sbatch's --{key} value).")
            options[key] = value or None
        command = split_command(fields.get("command"))
        raw = _str_list(fields, "sbatch")
        env = self.env(name)
        return env, slurm_script(env, command, options, raw)

    async def batch_script(self, name: str, query: Mapping[str, list[str]]) -> dict[str, Any]:
        """The job script for the env and the options in `query` (each given once, `sbatch`
        repeatable), and whether this server can submit it."""
        from ..engine.batch import sbatch_path

        fields: dict[str, Any] = {}
        for key, values in query.items():
            if key.isdigit() and values == [""]:
                continue  # JupyterLab's cache buster on GET requests (`?1796615182048`)
            if key != "sbatch" and len(values) != 1:
                raise BadInput(f"'{key}' is given {len(values)} times; give it once.")
            fields[key] = values if key == "sbatch" else values[0]
        env, script = await asyncio.to_thread(self._batch_script, name, fields)
        return {"env": env_key(env), "script": script, "sbatch_available": bool(sbatch_path())}

    async def submit_batch(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Submit the script with sbatch (409 `sbatch-missing` when it is not on PATH); the job
        starts in the server's root folder, where its `slurm-<id>.out` lands."""
        from ..engine.batch import submit_script

        env, script = await asyncio.to_thread(self._batch_script, name, body)
        directory = self.notebook_root or Path.cwd()
        job_id = await asyncio.to_thread(submit_script, script, cwd=directory)
        return {"job_id": job_id, "env": env_key(env), "script": script,
                "directory": str(directory)}  # fmt: skip

    # -- notebooks that carry their env ----------------------------------------------------
    async def notebook_lock(
        self,
        env_name: str,
        manager: Any,
        lock_id: str | None = None,
        platforms: list[str] | None = None,
    ) -> dict[str, Any]:
        """What a notebook embeds for this env: `metadata.envmgr` and `metadata.kernelspec`.
        `lock_id` (from the notebook's current lock) is kept, so its copies stay its copies;
        `platforms`, more subdirs to lock for (solved; the env's own is always locked)."""
        from ..engine.env_lock import check_platforms
        from ..engine.notebook_env import KEY, env_lock
        from ..kernels.manager import EnvKernelSpecManager, notebook_kernelspec

        if lock_id is not None and not re.fullmatch(r"[0-9a-f]{1,64}", lock_id):
            raise BadInput("'lock_id' must be the hex id of the notebook's previous lock.")
        wanted = check_platforms(platforms or [])
        env = await asyncio.to_thread(self.env, env_name)
        previous = {"lock_id": lock_id} if lock_id else None
        meta = await env_lock(self.settings, env, previous, wanted, policy=self.policy)

        def kernelspec() -> dict[str, str] | None:
            kernels = manager
            if not isinstance(kernels, EnvKernelSpecManager):
                kernels = EnvKernelSpecManager.from_jupyter_config(settings=self.settings)
            return notebook_kernelspec(kernels, env.prefix)

        return {KEY: meta, "kernelspec": await asyncio.to_thread(kernelspec)}

    async def notebook_drift(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """How an env (`env`: the notebook's kernel's) differs from the lock in a notebook's
        `metadata`: packages added, removed or changed since the lock. Reads only."""
        from ..engine.lock_drift import notebook_drift

        _only_keys(body, {"metadata", "env"})
        metadata, env_name = body.get("metadata"), body.get("env")
        if not isinstance(metadata, dict):
            raise BadInput("'metadata' must be the notebook's metadata (a JSON object).")
        if not isinstance(env_name, str) or not env_name:
            raise BadInput("'env' must be the name of the environment the notebook runs on.")

        def drift() -> dict[str, Any]:
            return notebook_drift(metadata, self.env(env_name)).to_json()

        return await asyncio.to_thread(drift)

    async def notebook_sync(self, body: Mapping[str, Any]) -> Task | dict[str, Any]:
        """Make or update the env a notebook carries (its `metadata`, sent by the client).
        Every check runs before a task starts (4xx at once). `dry_run`: only the preview,
        which env is created or updated, the changes, the channels and hosts it may fetch
        from (200). `path`: the notebook's path under the server's root: an env that sync made
        for that notebook is its own to update; another notebook with the same lock id gets
        an env of its own."""
        from ..engine.notebook_sync import NotebookSyncRequest, prepare_sync

        _only_keys(body, {"metadata", "name", "dry_run", "path"})
        metadata = body.get("metadata")
        name = body.get("name")
        dry_run = _bool(body, "dry_run")
        if not isinstance(metadata, dict):
            raise BadInput("'metadata' must be the notebook's metadata (a JSON object).")
        if name is not None and not isinstance(name, str):
            raise BadInput("'name' must be an environment name (a string).")
        where = await asyncio.to_thread(self._notebook_identity, body.get("path"))
        request = NotebookSyncRequest(
            metadata, where=where, name=name, cmd="jupyter-envmgr (server) notebook sync"
        )
        # The lock, the allow list, the env choice, read-only envs: 4xx here, before anything
        # is fetched and before a task exists.
        prepared = await asyncio.to_thread(prepare_sync, self.settings, request, self.policy)
        if dry_run:
            return prepared.to_json()
        # The child executes this decision as it is (engine/notebook_sync.py PreparedSync).
        job = {"op": "notebook-sync", "prepared": prepared.to_job()}

        async def operation(sink: EventSink) -> dict[str, Any]:
            # In a child process, as every change (see _start).
            result = await run_job(
                job, self.settings, self.policy, env_label=f"'{prepared.target}'",
                prefix=prepared.prefix, on_event=sink,
            )  # fmt: skip
            if result.get("changed"):
                await self._sync_kernels(*filter(None, [prepared.prefix]))
            return result

        return self.tasks.start("sync", prepared.target, operation)

    def _notebook_identity(self, path: object) -> str | None:
        """A notebook's path (relative to the server's root, as JupyterLab names it) as the
        real path that `envmgr notebook sync` would name it by; None when not given."""
        from ..engine.notebook_env import notebook_identity

        if path is None:
            return None
        if not isinstance(path, str) or not path or len(path) > 4096 or "\x00" in path:
            raise BadInput("'path' must be the notebook's path under the server's root.")
        if self.notebook_root is None:
            return None
        root = notebook_identity(self.notebook_root)
        real = notebook_identity(Path(root) / path.lstrip("/"))
        if real != root and not real.startswith(root.rstrip("/") + "/"):
            raise BadInput(f"'path' {path[:200]!r} is not under the server's root.")
        return real

    def settings_json(self) -> dict[str, Any]:
        from ..engine.solver import solver_status

        return {
            **self.settings.to_json(),
            **solver_status(self.settings.solver),  # and whether libmambapy is there
            "allowed_channels": list(self.policy.allowed_channels),
            "read_only_envs": list(self.policy.read_only_envs),
            "read_only_dirs": list(self.policy.read_only_dirs),
            "pip_index_urls": list(self.policy.pip_index_urls),
            "allow_clean": self.policy.allow_clean,
        }
