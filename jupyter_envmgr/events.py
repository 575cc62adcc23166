"""The kinds of progress event, in one list: the engine makes them (`engine/progress.Event`),
the server streams them (a task's events; openapi.yaml's `TaskEvent.event` enum), the CLI prints
them and the notebook and JupyterLab faces render them (`labextension/src/types.ts` spells the
same list as its `EventKind`). tests/test_event_kinds.py holds all of these to this list.

Imports nothing of this package, so any module may import it. The notebook face imports it for
type checking only: in an env's kernel that folder runs without this package.
"""

from typing import Literal

EventKind = Literal[
    # The engine's: solving, waiting for an env's lock, the plan.
    "solve-start",
    "solve-done",
    "lock-wait",
    "plan",
    # Fetching into the package cache and linking into the env.
    "transaction-start",
    "download-start",
    "download-progress",
    "download-done",
    "link",
    "unlink",
    # A cancel or failure: the env is restored to its previous state.
    "cancel-pending",
    "restore",
    "restored",
    # An env file's pip: section, disk usage, cleaning the cache.
    "pip-start",
    "pip-output",
    "usage-walk",
    "clean-plan",
    "clean-remove",
    # The engine's end of an operation, and a task's: done, failed or cancelled.
    "done",
    # The server's task around the engine's work.
    "queued",
    "failed",
    "cancelled",
]

# The CLI's other `--json` lines (no task streams them): its answer, its error, and the warning
# that kernels of an env it is asked to remove are running.
CliLineKind = Literal["result", "error", "env-in-use"]
