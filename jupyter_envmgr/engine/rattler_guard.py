"""The one guard around rattler calls: a Rust panic becomes an error with a message.

py-rattler turns a Rust panic into `pyo3_runtime.PanicException`, a `BaseException`: it slips
past every `except Exception`, so a tornado handler never answers and a CLI prints a traceback.
Every call into rattler that user input can reach runs inside `rattler_guard`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from .errors import EnvMgrError


class RattlerPanic(EnvMgrError):
    """rattler crashed on something we could not check beforehand."""

    status = 500
    reason = "engine-panic"


def is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


@contextmanager
def rattler_guard(what: str, error: type[EnvMgrError] = RattlerPanic) -> Iterator[None]:
    """`what` says what was being done ("reading the spec 'x'"); `error` is the error type to
    raise: BadInput where only the user's input can have caused it (a 400)."""
    try:
        yield
    except BaseException as exc:
        if not is_panic(exc):
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise error(f"rattler failed while {what} ({detail}).") from None
