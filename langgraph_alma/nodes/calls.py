"""One body for a sync and an async service: a generator that yields zero-argument calls
(`lambda: alma.retrieve(...)`) and gets each result back. `drive` runs the calls as they
come (a sync `Alma`); `adrive` awaits each result that is awaitable (an `AsyncAlma`).

>>> def body():
...     found = yield lambda: 2 + 2
...     return found * 10
>>> drive(body())
40
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator
from typing import Any, TypeVar, cast

T = TypeVar("T")
Body = Generator[Callable[[], Any], Any, T]


def drive(body: Body[T]) -> T:
    """Run a body with sync calls; a call's exception is raised inside the body."""
    try:
        call = next(body)
        while True:
            try:
                result = call()
            except Exception as exc:
                call = body.throw(exc)
                continue
            call = body.send(result)
    except StopIteration as done:
        return cast(T, done.value)  # the body's return value


async def adrive(body: Body[T]) -> T:
    """Run a body, awaiting each call that returns an awaitable."""
    try:
        call = next(body)
        while True:
            try:
                result = call()
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                call = body.throw(exc)
                continue
            call = body.send(result)
    except StopIteration as done:
        return cast(T, done.value)  # the body's return value
