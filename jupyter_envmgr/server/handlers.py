"""REST handlers: each parses the request, calls the service, and answers JSON.

One base class maps the engine's errors to `{"message", "reason"}` with the error's status, and
every verb is authenticated and authorized on the `envmgr` resource.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from ..engine.errors import BadInput, Conflict, EnvMgrError, EnvNotFound
from .service import EnvService
from .tasks import Task

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


class BaseHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> EnvService:
        return self.settings["envmgr_service"]

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

    def _handle_request_exception(self, e: BaseException) -> None:
        # The single place where domain errors become HTTP answers.
        if isinstance(e, EnvMgrError):
            self.clear()
            self.set_status(e.status)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": e.message, "reason": e.reason}))
            return
        super()._handle_request_exception(e)

    def accepted(self, task: Task) -> None:
        self.set_status(202)
        self.set_header("Location", self.base_url.rstrip("/") + f"/envmgr/api/tasks/{task.id}")
        self.finish(json.dumps(task.to_json()))


class EnvironmentsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        if self.get_query_argument("sizes", "false").lower() in ("1", "true", "yes"):
            envs = await self.service.list_envs_with_sizes()
        else:
            envs = self.service.list_envs()
        self.finish(json.dumps({"environments": envs}))

    @web.authenticated
    @authorized
    async def post(self) -> None:
        self.accepted(await self.service.create(self.body()))


class EnvironmentHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        env = self.service.env(name)
        packages = await self.service.packages(env)
        self.finish(json.dumps({**self.service.env_json(env), "packages": packages}))

    @web.authenticated
    @authorized
    async def delete(self, name: str) -> None:
        self.accepted(self.service.delete(name))


class PackagesHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        self.finish(json.dumps({"packages": await self.service.packages(self.service.env(name))}))

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
        env = self.service.env(name)
        fmt = self.get_query_argument("format", "yml")
        text, filename, mime = await self.service.export(env, fmt)
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        self.finish(text, set_content_type=f"{mime}; charset=utf-8")


class RevisionsHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        revisions = await self.service.revisions(self.service.env(name))
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


class UsageHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.finish(json.dumps(await self.service.usage(self.get_query_argument("env", None))))


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
    (r"/envmgr/api/kernels", KernelsHandler),
    (r"/envmgr/api/search", SearchHandler),
    (r"/envmgr/api/usage", UsageHandler),
    (r"/envmgr/api/clean", CleanHandler),
    (r"/envmgr/api/tasks", TasksHandler),
    (r"/envmgr/api/tasks/(?P<task_id>[^/]+)", TaskHandler),
    (r"/envmgr/api/tasks/(?P<task_id>[^/]+)/events", TaskEventsHandler),
    (r"/envmgr/api/settings", SettingsHandler),
]
