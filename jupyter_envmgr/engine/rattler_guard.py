"""The one guard around rattler calls: a Rust panic becomes an error with a message.

py-rattler turns a Rust panic into `pyo3_runtime.PanicException`, a `BaseException`: it slips
past every `except Exception`, so a tornado handler never answers and a CLI prints a traceback.
Every call into rattler that user input can reach runs inside `rattler_guard`.
"""

from __future__ import annotations

from types import TracebackType

from .errors import EnvMgrError


class RattlerPanic(EnvMgrError):
    """rattler crashed on something we could not check beforehand."""

    status = 500
    reason = "engine-panic"


def is_panic(exc: BaseException) -> bool:
    return type(exc).__name__ == "PanicException"


class rattler_guard:  # lower case: used as a function, `with rattler_guard("solving"):`
    """`what` says what was being done ("reading the spec 'x'"); `error` is the error type to
    raise: BadInput where only the user's input can have caused it (a 400).

    A class rather than a @contextmanager generator: it wraps every solve and spec parse, and
    a generator's set-up costs several times as much (bench figure 1, the smallest solves)."""

    __slots__ = ("what", "error")

    def __init__(self, what: str, error: type[EnvMgrError] = RattlerPanic) -> None:
        self.what = what
        self.error = error

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None or not is_panic(exc):
            return  # no exception, or not a panic: it goes on as it is
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise self.error(f"rattler failed while {self.what} ({detail}).") from None
