"""Sync calls into an async saver or store: run the coroutine on the owner's event loop
from another thread (a sync graph on an async checkpointer does this)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_on_loop(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], owner: str) -> T:
    """The result of `coro` run on `loop`; refused (not deadlocked) on the loop's own thread.

    >>> run_on_loop(saver.loop, saver.aget_tuple(config), "AsyncAlmaSaver")  # doctest: +SKIP
    """
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        coro.close()
        raise asyncio.InvalidStateError(
            f"synchronous calls to {owner} are only allowed from a thread other than the "
            "event loop's; use its async methods, or the sync class"
        )
    return asyncio.run_coroutine_threadsafe(coro, loop).result()
