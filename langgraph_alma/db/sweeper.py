"""Background sweepers: call a sweep every so often until stopped, and keep going after a
failed one (logged). The store's TTL sweep and the saver's thread retention use them.

>>> sweeper = ThreadSweeper("alma-store-ttl-sweeper")                 # doctest: +SKIP
>>> future = sweeper.start(store.sweep_ttl, interval=300)              # doctest: +SKIP
>>> sweeper.stop(timeout=5)                                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

logger = logging.getLogger(__name__)


class SweepDone(Exception):  # noqa: N818  (a signal, not an error)
    """Raised by a sweep to end its sweeper quietly (nothing left to do, or its store is
    closed)."""


class ThreadSweeper:
    """A daemon thread running `sweep()` every `interval` seconds. Its `future` is done
    when the thread stops; cancelling the future stops it (as PostgresStore's sweeper)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.thread: threading.Thread | None = None
        self.future: concurrent.futures.Future[None] | None = None
        self._stop = threading.Event()

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stopping(self) -> bool:
        """A stop was asked for: a long sweep may end early."""
        return self._stop.is_set()

    def start(self, sweep: Callable[[], Any], interval: float) -> concurrent.futures.Future[None]:
        """Start the thread (or return the running one's future)."""
        if self.running() and self.future is not None:
            return self.future
        self._stop = stop = threading.Event()
        future: concurrent.futures.Future[None] = concurrent.futures.Future()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    sweep()
                except SweepDone:
                    break
                except Exception:  # keep sweeping after a transient failure
                    logger.exception("%s: sweep failed", self.name)
            if not future.done():
                future.set_result(None)

        future.add_done_callback(lambda f: stop.set() if f.cancelled() else None)
        self.future = future
        self.thread = threading.Thread(target=loop, name=self.name, daemon=True)
        self.thread.start()
        return future

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread; True once it is stopped (False: `timeout` seconds passed)."""
        self._stop.set()
        if self.thread is None:
            return True
        self.thread.join(timeout)
        stopped = not self.thread.is_alive()
        if stopped:
            self.thread = self.future = None
        return stopped


class TaskSweeper:
    """A task on an event loop awaiting `sweep()` every `interval` seconds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def stopping(self) -> bool:
        """A stop was asked for: a long sweep may end early."""
        return self._stop.is_set()

    def start(
        self, loop: asyncio.AbstractEventLoop, sweep: Callable[[], Awaitable[Any]], interval: float
    ) -> asyncio.Task[None]:
        """Start the task on `loop` (or return the running one)."""
        if self.task is not None and not self.task.done():
            return self.task
        self._stop = stop = asyncio.Event()

        async def run() -> None:
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), interval)
                if stop.is_set():
                    return
                try:
                    await sweep()
                except SweepDone:
                    return
                except Exception:  # keep sweeping after a transient failure
                    logger.exception("%s: sweep failed", self.name)

        self.task = loop.create_task(run(), name=self.name)
        return self.task

    async def stop(self, timeout: float | None = None) -> bool:
        """Stop the task (a sweep in progress finishes); True once it is stopped (False:
        `timeout` seconds passed)."""
        task = self.task
        self._stop.set()
        if task is None or task.done():
            self.task = None
            return True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            return False
        self.task = None
        return True


__all__ = ["SweepDone", "TaskSweeper", "ThreadSweeper"]
