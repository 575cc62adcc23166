"""A coroutine run to its end from blocking code, whether or not this thread already runs an
event loop (an export called from a server thread, the test channel factory)."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")


def run_blocking(coro: Coroutine[Any, Any, _T]) -> _T:
    """`asyncio.run(coro)`; in a thread of its own when this thread already runs a loop (which
    asyncio.run refuses)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
