"""REST handlers: each parses the request, calls the service, and answers JSON.

One base class answers every error as `{"message", "reason"}` (tornado's `write_error` hook):
our errors with their status and reason code, tornado's and jupyter_server's own HTTP errors
with a null reason, a bug as a 500 with the reason `internal`. Every verb is authenticated and
authorized on the `envmgr` resource.
"""

from __future__ import annotations

import json
from http.client import responses
from types import TracebackType
from typing import Any, Protocol, cast

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from ..engine.errors import BadInput, Conflict, EnvMgrError, EnvNotFound
from .service import EnvService
from .tasks import Task


class _ServesEnvs(Protocol):
    """What a handler needs of its extension app (app.py), named here so that the app, which
    imports the routes, is not imported back."""

    service: EnvService


AUTH_RESOURCE = "envmgr"
MAX_BODY = 1024 * 1024
MAX_DEPTH = 32


def _check_json(value: Any, depth: int = 0) -> None:
    """JSON allows what Python text cannot carry on: a lone surrogate ("\\ud800") fails later,
    when it is written to a file or a log. Refuse it, and deep nesting, at the door."""
    if depth > MAX_DEPTH:
        raise BadInput(f"The request body nests deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInput("The request body contains text that is not valid Unicode.") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(key, depth + 1)
            _check_json(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, depth + 1)


def _http_message(error: web.HTTPError | None, status_code: int) -> str:
    if error is not None and error.log_message:
        try:
            return error.log_message % error.args if error.args else error.log_message
        except (TypeError, ValueError):
            return error.log_message
    return responses.get(status_code, "Unknown HTTP Error")


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> EnvService:
        return cast(_ServesEnvs, self.extensionapp).service

    def body(self) -> dict[str, Any]:
        raw = self.request.body or b""
        if len(raw) > MAX_BODY:
            raise web.HTTPError(413, f"The request body is larger than {MAX_BODY} bytes.")
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadInput("The request body is not valid JSON.") from None
        except RecursionError:
            raise BadInput(f"The request body nests deeper than {MAX_DEPTH} levels.") from None
        if not isinstance(data, dict):
            raise BadInput("The request body must be a JSON object.")
        _check_json(data)
        return data

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error as JSON `{"message", "reason"}`, `reason` carrying only our codes.

        Built on APIHandler.write_error (JSON; an HTTPError's log_message is the message), with
        three differences: our errors answer their own status and reason code; an HTTPError's
        `reason` (tornado's status phrase) is not one of our codes, so it is null; a bug is a
        500 with the reason `internal` and no `traceback` field.
        """
        error = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        if isinstance(error, EnvMgrError):
            self.set_status(error.status)
            reply: dict[str, Any] = error.to_json()
        elif isinstance(error, web.HTTPError) or (error is None and status_code < 500):
            reply = {"message": _http_message(error, status_code), "reason": None}
        else:
            reply = {"message": "Internal server error; the server log says more.",
                     "reason": "internal"}  # fmt: skip
        self.finish(json.dumps(reply))

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Our errors are answers, not bugs: one line each, no traceback."""
        if isinstance(value, EnvMgrError):
            log = self.log.error if value.status >= 500 else self.log.warning
            log("%d %s %s: %s", value.status, self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    def accepted(self, task: Task) -> None:
        self.set_status(202)
        self.set_header("Location", url_path_join(self.base_url, "envmgr/api/tasks", task.id))
        self.finish(json.dumps(task.to_json()))


class EnvironmentsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        if self.get_query_argument("sizes", "false").lower() in ("1", "true", "yes"):
            envs = await self.service.list_envs_with_sizes()
        else:
            envs = await self.service.list_envs()
        self.finish(json.dumps({"environments": envs}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.accepted(await self.service.create(self.body()))


class EnvironmentHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.finish(json.dumps(await self.service.environment(name)))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        # 409 while the env's kernels run, unless ?force=true.
        force = self.get_query_argument("force", "false").lower() in ("1", "true", "yes")
        self.accepted(
            await self.service.delete(
                name,
                force=force,
                kernel_manager=self.kernel_manager,
                session_manager=self.session_manager,
            )
        )


class PackagesHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.finish(json.dumps({"packages": await self.service.packages(name)}))

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.accepted(await self.service.change(name, "install", self.body()))

    @web.authenticated
    @authorized
    async def patch(self, name: str) -> None:
        self.accepted(await self.service.change(name, "update", self.body()))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        # DELETE bodies are often dropped by proxies: the specs come as ?spec=a&spec=b.
        specs = self.get_query_arguments("spec")
        self.accepted(await self.service.change(name, "remove", {"specs": specs}))


class ExportHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        fmt = self.get_query_argument("format", "yml")
        platforms = self.get_query_arguments("platform")  # ?platform=a&platform=b
        text, filename, mime = await self.service.export(name, fmt, platforms)
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(text, set_content_type=f"{mime}; charset=utf-8")


class RevisionsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        revisions = await self.service.revisions(name)
        self.finish(json.dumps({"revisions": revisions}))

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.accepted(await self.service.rollback(name, self.body()))


class TasksHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps({"tasks": [t.to_json() for t in self.service.tasks.list()]}))


class TaskLookup(BaseHandler):
    def task(self, task_id: str) -> Task:
        task = self.service.tasks.get(task_id)
        if task is None:
            raise EnvNotFound(f"No task {task_id!r}; it may have ended long ago.")
        return task


class TaskHandler(TaskLookup):
    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        self.finish(json.dumps(self.task(task_id).to_json(with_events=True)))

    @web.authenticated
    @authorized
    async def delete(self, task_id: str) -> None:
        task = self.task(task_id)
        if task.finished:
            raise Conflict(f"Task {task_id} already ended ({task.state}); nothing to cancel.")
        self.service.tasks.cancel(task)
        self.set_status(202)
        self.finish(json.dumps(task.to_json()))


class TaskEventsHandler(TaskLookup):
    """Server-sent events: every event from the first (a late subscriber misses nothing),
    pushed as it happens, until the task ends."""

    @web.authenticated
    @authorized
    async def get(self, task_id: str) -> None:
        task = self.task(task_id)
        self.set_header("Cache-Control", "no-cache")
        async for event in self.service.tasks.follow(task):
            self.set_header("Content-Type", "text/event-stream")
            self.write(f"event: {event.get('event', 'message')}\ndata: {json.dumps(event)}\n\n")
            try:
                await self.flush()
            except Exception:  # the client went away; the task goes on
                return
        self.finish(set_content_type="text/event-stream")


class CloneHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        self.accepted(await self.service.clone(name, self.body()))


class NotebookLockHandler(BaseHandler):
    """What a notebook embeds to carry this env (the client writes it into the notebook)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        lock_id = self.get_query_argument("lock_id", None)
        platforms = self.get_query_arguments("platform")
        lock = await self.service.notebook_lock(name, self.kernel_spec_manager, lock_id, platforms)
        self.finish(json.dumps(lock))


class NotebookDriftHandler(BaseHandler):
    """How an env differs from a notebook's embedded lock (reads only)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.finish(json.dumps(await self.service.notebook_drift(self.body())))


class NotebookSyncHandler(BaseHandler):
    """A task (202); with `dry_run`, what the sync would do and fetch (200)."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        answer = await self.service.notebook_sync(self.body())
        if isinstance(answer, Task):
            self.accepted(answer)
        else:
            self.finish(json.dumps(answer))


class KernelsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        kernels = await self.service.kernels(self.kernel_spec_manager)
        self.finish(json.dumps({"kernels": kernels}))


class SearchHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        query = self.get_query_argument("q", "")
        channels = self.get_query_arguments("channel")
        self.finish(json.dumps({"packages": await self.service.search(query, channels)}))


class SuggestedSpecsHandler(BaseHandler):
    """Specs a new env could start from, found in the channels (reads only)."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        channels = self.get_query_arguments("channel")
        self.finish(json.dumps(await self.service.suggested_specs(channels)))


class UsageHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(await self.service.usage(self.get_query_argument("env", None))))


class UsageByOwnerHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(await self.service.usage_by_owner()))


class CleanHandler(BaseHandler):
    """Cleaning the shared cache affects every user of it: `execute`, not just `write`."""

    @web.authenticated
    @authorized("execute")
    async def get(self) -> None:
        categories = self.get_query_arguments("category") or ["all"]
        self.finish(json.dumps(await self.service.clean_plan(categories)))

    @web.authenticated
    @authorized("execute")
    async def post(self) -> None:
        self.accepted(self.service.clean(self.body()))


class BatchScriptHandler(BaseHandler):
    """The SLURM job script running a command in the env (reads only)."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        query = {k: self.get_query_arguments(k) for k in self.request.query_arguments}
        self.finish(json.dumps(await self.service.batch_script(name, query)))


class BatchJobsHandler(BaseHandler):
    """Submitting that script with sbatch runs code as the server's user: `execute`."""

    @web.authenticated
    @authorized("execute")
    async def post(self, name: str) -> None:
        self.set_status(201)
        self.finish(json.dumps(await self.service.submit_batch(name, self.body())))


class SettingsHandler(BaseHandler):
    @web.authenticated
    @authorized("execute")
    async def get(self) -> None:
        self.finish(json.dumps(self.service.settings_json()))


NAME = r"(?P<name>[^/]+)"
ROUTES: list[tuple[str, type[BaseHandler]]] = [
    (r"/envmgr/api/environments", EnvironmentsHandler),
    (rf"/envmgr/api/environments/{NAME}", EnvironmentHandler),
    (rf"/envmgr/api/environments/{NAME}/packages", PackagesHandler),
    (rf"/envmgr/api/environments/{NAME}/export", ExportHandler),
    (rf"/envmgr/api/environments/{NAME}/revisions", RevisionsHandler),
    (rf"/envmgr/api/environments/{NAME}/clone", CloneHandler),
    (rf"/envmgr/api/environments/{NAME}/batch-script", BatchScriptHandler),
    (rf"/envmgr/api/environments/{NAME}/batch-jobs", BatchJobsHandler),
    (rf"/envmgr/api/environments/{NAME}/notebook-lock", NotebookLockHandler),
    (r"/envmgr/api/notebook/sync", NotebookSyncHandler),
    (r"/envmgr/api/notebook/drift", NotebookDriftHandler),
    (r"/envmgr/api/kernels", KernelsHandler),
    (r"/envmgr/api/search", SearchHandler),
    (r"/envmgr/api/suggested-specs", SuggestedSpecsHandler),
    (r"/envmgr/api/usage", UsageHandler),
    (r"/envmgr/api/usage/owners", UsageByOwnerHandler),
    (r"/envmgr/api/clean", CleanHandler),
    (r"/envmgr/api/tasks", TasksHandler),
    (r"/envmgr/api/tasks/(?P<task_id>[^/]+)", TaskHandler),
    (r"/envmgr/api/tasks/(?P<task_id>[^/]+)/events", TaskEventsHandler),
    (r"/envmgr/api/settings", SettingsHandler),
]
