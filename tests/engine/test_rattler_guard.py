"""A Rust panic inside a rattler call becomes one error with a message; nothing else changes.

pyo3's PanicException is recognised by its name (it is a BaseException that every `except
Exception` lets through), so one of that name stands in for a real panic here."""

from __future__ import annotations

import asyncio

import pytest

from jupyter_envmgr.engine.errors import BadInput
from jupyter_envmgr.engine.rattler_guard import RattlerPanic, rattler_guard


class PanicException(BaseException):
    pass


def test_a_panic_becomes_the_error_asked_for_with_its_first_line():
    with pytest.raises(BadInput) as caught:
        with rattler_guard("reading the spec 'x'", BadInput):
            raise PanicException("called `Option::unwrap()` on a `None` value\nbacktrace...")
    assert caught.value.message == (
        "rattler failed while reading the spec 'x' (called `Option::unwrap()` on a `None` value)."
    )
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_other_exceptions_and_cancellation_go_through_unchanged():
    for raised in (ValueError("bad"), KeyboardInterrupt(), asyncio.CancelledError()):
        with pytest.raises(type(raised)) as caught:
            with rattler_guard("solving"):
                raise raised
        assert caught.value is raised


def test_it_guards_an_awaited_call():
    async def solve() -> None:
        await asyncio.sleep(0)
        raise PanicException("")

    async def guarded() -> None:
        with rattler_guard("solving"):
            await solve()

    with pytest.raises(RattlerPanic, match=r"while solving \(no detail\)"):
        asyncio.run(guarded())
