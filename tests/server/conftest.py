"""A real jupyter_server with the extension, token auth on, over the sandbox's root prefix."""

from __future__ import annotations

import asyncio
import json

import pytest

from ..helpers import envmgr_server_config


@pytest.fixture
def envmgr_config():
    """Extra EnvMgrExtension settings a test module wants (override in the module)."""
    return {}


@pytest.fixture
def jp_server_config(sandbox, envmgr_config, monkeypatch):
    return envmgr_server_config(sandbox, monkeypatch, **envmgr_config)


class Api:
    """Small helpers over jp_fetch: JSON in and out, and following a task to its end."""

    def __init__(self, fetch):
        self.fetch = fetch

    async def call(self, method, *path, body=None, params=None, expect=200):
        kwargs = {"method": method, "raise_error": False}
        if body is not None:
            kwargs["body"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        elif method in ("POST", "PATCH", "PUT"):
            kwargs["body"] = "{}"
        if params:
            kwargs["params"] = params
        response = await self.fetch("envmgr", "api", *path, **kwargs)
        text = response.body.decode()
        assert response.code == expect, f"{method} {path}: {response.code} {text}"
        return response, (
            json.loads(text)
            if "json" in response.headers.get("Content-Type", "") and text
            else text
        )

    async def events(self, task_id):
        """The SSE stream, read whole (it ends with the task)."""
        _, text = await self.call("GET", "tasks", task_id, "events")
        return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]

    async def run(self, method, *path, body=None, params=None, state="done"):
        response, task = await self.call(method, *path, body=body, params=params, expect=202)
        assert response.headers["Location"].endswith(f"/envmgr/api/tasks/{task['id']}")
        events = await self.events(task["id"])
        _, final = await self.call("GET", "tasks", task["id"])
        assert final["state"] == state, final
        return final, events

    async def create(self, channel, name, *specs, state="done"):
        """POST environments with `specs` from `channel` only; follow the task to `state`."""
        body = {
            "name": name,
            "specs": list(specs),
            "channels": [channel],
            "override_channels": True,
        }
        return await self.run("POST", "environments", body=body, state=state)

    async def wait_for_event(self, task_id, kind, timeout=60):
        for _ in range(int(timeout * 20)):
            _, task = await self.call("GET", "tasks", task_id)
            if any(e["event"] == kind for e in task["events"]):
                return task
            await asyncio.sleep(0.05)
        raise AssertionError(f"no {kind} event in task {task_id}")


@pytest.fixture
def api(jp_fetch):
    return Api(jp_fetch)
