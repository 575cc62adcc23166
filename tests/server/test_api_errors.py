"""One error shape for every failure, reads off the event loop, task kinds and states as typed."""

from __future__ import annotations

import logging
import threading
from typing import get_args

import pytest

from jupyter_envmgr.server import service as service_module
from jupyter_envmgr.server.service import EnvService
from jupyter_envmgr.server.tasks import FINAL_STATES, TaskKind, TaskState


@pytest.fixture
def jp_base_url():
    return "/lab/base/"


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not any(r is record for r in self.records):  # a record may pass two of our loggers
            self.records.append(record)

    def tracebacks(self) -> list[logging.LogRecord]:
        return [r for r in self.records if r.exc_info]


@pytest.fixture
def server_log(jp_serverapp):
    """Every record of the loggers a handler can write to (some do not propagate)."""
    app = jp_serverapp.extension_manager.extension_points["jupyter_envmgr"].app
    loggers = {logging.getLogger("tornado.application"), logging.getLogger("tornado.general")}
    loggers |= {jp_serverapp.log, app.log}
    records = Records()
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


async def test_domain_errors_answer_their_reason_and_log_no_traceback(api, server_log):
    _, error = await api.call("GET", "environments", "missing", expect=404)
    assert error.keys() == {"message", "reason"} and error["reason"] == "env-not-found"
    _, error = await api.call("POST", "environments", body="[1]", expect=400)
    assert error["reason"] == "bad-input"
    _, error = await api.call("DELETE", "tasks", "nope", expect=404)
    assert error["reason"] == "env-not-found"
    assert server_log.tracebacks() == []
    assert any("No environment named 'missing'" in r.getMessage() for r in server_log.records)


async def test_tornado_and_jupyter_server_errors_have_a_null_reason(api, jp_fetch):
    _, error = await api.call("PUT", "environments", body="{}", expect=405)
    assert error == {"message": "Method Not Allowed", "reason": None}
    too_big = '{"name": "' + "x" * (2 << 20) + '"}'
    _, error = await api.call("POST", "environments", body=too_big, expect=413)
    assert error["reason"] is None and "larger than" in error["message"]
    response = await jp_fetch(
        "envmgr", "api", "settings", headers={"Authorization": "token wrong"}, raise_error=False
    )
    assert response.code == 403 and "json" in response.headers["Content-Type"]


async def test_a_bug_is_a_500_with_reason_internal_and_a_logged_traceback(
    api, server_log, monkeypatch
):
    def broken(self):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(EnvService, "settings_json", broken)
    _, error = await api.call("GET", "settings", expect=500)
    assert error.keys() == {"message", "reason"} and error["reason"] == "internal"
    assert "secret detail" not in error["message"]
    assert [r.exc_info[0] for r in server_log.tracebacks()] == [RuntimeError]


async def test_location_is_below_the_base_url(api, jp_base_url):
    response, task = await api.call(
        "POST", "clean", body={"categories": ["index-cache"]}, expect=202
    )
    assert response.headers["Location"] == f"{jp_base_url}envmgr/api/tasks/{task['id']}"
    await api.events(task["id"])


async def test_reads_parse_and_walk_in_a_thread_never_on_the_event_loop(api, channels, monkeypatch):
    await api.create(channels.main_url, "reads", "delta=1.0")
    loop_thread = threading.get_ident()
    threads: dict[str, set[int]] = {}

    def spy(owner, name):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            threads.setdefault(name, set()).add(threading.get_ident())
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for name in ("env", "env_json", "_packages", "_revisions"):
        spy(EnvService, name)
    for name in ("list_envs", "read_records", "export_env", "disk_usage"):
        spy(service_module, name)

    await api.call("GET", "environments")
    await api.call("GET", "environments", params={"sizes": "true"})
    await api.call("GET", "environments", "reads")
    await api.call("GET", "environments", "reads", "packages")
    await api.call("GET", "environments", "reads", "revisions")
    await api.call("GET", "environments", "reads", "export")
    await api.call("GET", "usage", params={"env": "reads"})
    await api.call("GET", "environments", "missing", "export", expect=404)

    assert set(threads) == {"env", "env_json", "_packages", "_revisions", "list_envs",
                            "read_records", "export_env", "disk_usage"}  # fmt: skip
    on_loop = sorted(name for name, seen in threads.items() if loop_thread in seen)
    assert on_loop == []


def test_task_states_and_kinds_are_the_documented_ones():
    from importlib.resources import files

    import yaml

    from jupyter_envmgr.engine.operations import KINDS

    doc = yaml.safe_load((files("jupyter_envmgr.server") / "openapi.yaml").read_text())
    schemas = doc["components"]["schemas"]
    assert list(get_args(TaskState)) == schemas["TaskState"]["enum"]
    assert sorted(get_args(TaskKind)) == sorted(schemas["Task"]["properties"]["kind"]["enum"])
    assert set(KINDS) <= set(get_args(TaskKind))
    assert set(FINAL_STATES) <= set(get_args(TaskState))
