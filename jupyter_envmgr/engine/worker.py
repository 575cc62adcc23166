"""The child process a server task's rattler work runs in: `python -m jupyter_envmgr.engine.worker`.

Some rattler failures cannot be caught: a panic inside one of its worker threads aborts the
whole process. The server must outlive them, so it hands each task to this process (see
`isolation.py`): one job as JSON on stdin; one JSON line per event on stdout, then one line
`{"result": ...}` or `{"error": {...}}`. SIGINT cancels the job the way Ctrl-C cancels the CLI
(the env is restored before the process ends).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from .errors import BadInput, EnvMgrError
from .progress import Event
from .published import policy_from_json
from .settings import Settings

# Test hook: abort (SIGABRT, as a rattler panic in a worker thread does) once this many packages
# are linked, so the tests can show that a crash mid-link fails the task, not the server.
ABORT_AFTER_LINKS = "ENVMGR_WORKER_TEST_ABORT_AFTER_LINKS"


def settings_to_json(settings: Settings) -> dict[str, Any]:
    return {
        field.name: _plain(getattr(settings, field.name)) for field in dataclasses.fields(settings)
    }


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def settings_from_json(data: dict[str, Any]) -> Settings:
    paths = {"root_prefix", "home"}
    path_lists = {"envs_dirs", "pkgs_dirs"}
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        if field.name not in data:
            continue
        value = data[field.name]
        if field.name in paths:
            value = Path(value)
        elif field.name in path_lists:
            value = tuple(Path(v) for v in value)
        elif isinstance(value, list):
            value = tuple(value)
        values[field.name] = value
    return Settings(**values)


def _emit(line: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def _sink(op: object) -> Any:
    # Never in a repair: that is what runs after the crash.
    abort_after = int(os.environ.get(ABORT_AFTER_LINKS, "0") or 0) if op != "repair" else 0
    linked = 0

    def on_event(event: Event) -> None:
        nonlocal linked
        _emit(event.to_json())
        if abort_after and event.kind == "link":
            linked += 1
            if linked >= abort_after:
                os.abort()

    return on_event


async def _run_job(job: dict[str, Any]) -> dict[str, Any]:
    settings = settings_from_json(job["settings"])
    rules = job.get("policy")
    policy = policy_from_json(rules) if rules is not None else None
    op = job.get("op")
    on_event = _sink(op)
    if op == "operation":
        from . import operations

        request = _request(job, settings)
        outcome = await operations.run(settings, request, on_event=on_event, policy=policy)
        return outcome.to_json()
    if op == "notebook-sync":
        from .notebook_sync import PreparedSync, execute_sync

        # The server prepared the sync (every check, the env chosen): it is executed as it
        # was decided, not prepared again (see PreparedSync.to_job).
        prepared = PreparedSync.from_job(job["prepared"], settings, policy)
        sync = await execute_sync(settings, prepared, on_event=on_event)
        return sync.to_json()
    if op == "export":
        from .export import export_env
        from .registry import Env

        # The server found the env and checked the format and platforms: this solves the
        # other platforms (GET .../export?platform=...), away from the server's process.
        env = Env(Path(job["prefix"]), job.get("name"))
        exported = await asyncio.to_thread(
            export_env, settings, env, job["format"], platforms=job["platforms"], policy=policy
        )
        return dataclasses.asdict(exported)
    if op == "repair":
        from .operations import repair
        from .registry import find_env

        env = find_env(settings, prefix=job["prefix"])
        repaired = await repair(settings, env, on_event, policy=policy)
        return {"recovery": repaired.recovery, "relinked": repaired.relinked}
    raise BadInput(f"Unknown job {op!r}.")


def _request(job: dict[str, Any], settings: Settings) -> Any:
    from .operations import Request

    fields = dict(job["request"])
    upload = job.get("upload")
    clone_of = job.get("clone_of")
    if upload is not None:
        from .envfile import read_env_text

        fields["env_file"] = read_env_text(
            upload["text"], upload["filename"], lock_env=upload.get("lock_env")
        )
    elif clone_of is not None:
        from .envfile import EnvFile
        from .prefix import read_records

        records = read_records(Path(clone_of["prefix"]))
        fields["env_file"] = EnvFile("lock", f"clone of {clone_of['label']}", records=records)
    return Request(**fields)


def main() -> int:
    job = json.loads(sys.stdin.read())
    try:
        result = asyncio.run(_run_job(job))
    except EnvMgrError as exc:
        _emit({"error": {**exc.to_json(), "status": exc.status}})
        return 1
    except (KeyboardInterrupt, asyncio.CancelledError):
        _emit({"error": {"message": "Cancelled.", "reason": "cancelled", "status": 409}})
        return 1
    _emit({"result": result})
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # As the CLI does: rattler's threads can crash while the interpreter finalizes.
    os._exit(code)
