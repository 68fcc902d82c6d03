"""Lending a pool's most recently used connection first (`TaskWarmConnections`).

psycopg_pool hands its idle connections out first in, first out: a caller that makes one
call after another on a pool of 4 gets a different server backend each time, whose
caches (catalog, plans, prepared statements, buffers it touched) are colder than those of
the connection it just gave back. One task on `AsyncAlmaStore` did 779-826 ops/s on a
warm pool of 4 against 868-907 on a pool of 1 (`bench/store_concurrency_bench.py`).

`TaskWarmConnections` (and `ThreadWarmConnections`, its twin for threads) keeps up to `keep`
connections it borrowed from the pool after use and lends the most recently returned one
first (last in, first out); only when none is kept does it borrow from the pool. So a
sequential caller stays on one backend, and parallel callers cycle over at most `keep`
backends without going through the pool. Only the pool's public API is used (`getconn`,
`putconn`, `get_stats`), and no lock is held around the pool: the async one takes none
(the event loop runs one step at a time), the sync one guards its list of kept
connections only, never during I/O. A kept connection goes back to the pool:

- after `idle_seconds` without use (a timer), so a quiet store holds nothing;
- when it is returned while someone waits for the pool (`requests_waiting`);
- once it has been out of the pool `max_held_seconds`, so the pool's own upkeep (its
  `max_lifetime`, its health checks) still reaches it under constant load;
- if it is broken, closed or left in a transaction (the pool repairs or replaces it);
- on `aclose()` (`close()`).

The two differ by nature, as `db.sweeper`'s `TaskSweeper` and `ThreadSweeper` do (an
event loop's timer and no lock, against a timer thread and a guard), so they are written
side by side rather than generated; what they decide alike is one function (`_may_keep`).

>>> warm = TaskWarmConnections(pool, keep=4)                  # doctest: +SKIP
>>> async with warm.connection() as conn: await conn.execute("SELECT 1")  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

__all__ = ["IDLE_SECONDS", "MAX_HELD_SECONDS", "TaskWarmConnections", "ThreadWarmConnections"]

IDLE_SECONDS = 1.0
"""How long a kept connection may sit unused before it goes back to the pool."""

MAX_HELD_SECONDS = 60.0
"""How long a connection may stay out of the pool, kept and lent again and again."""


class TaskWarmConnections:
    """Connections of `pool`, the most recently used first (see the module)."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        keep: int = 1,
        idle_seconds: float = IDLE_SECONDS,
        max_held_seconds: float = MAX_HELD_SECONDS,
    ) -> None:
        self.pool = pool
        self.keep = max(0, keep)
        self.idle_seconds = idle_seconds
        self.max_held_seconds = max_held_seconds
        self._kept: list[tuple[psycopg.AsyncConnection[Any], float]] = []  # (conn, taken at)
        self._timer: asyncio.TimerHandle | None = None
        self._releasing: set[asyncio.Task[None]] = set()
        self._closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A connection for the block: the last one returned if one is kept, else the
        pool's. As the pool's own `connection()`: the transaction, if the block opened
        one, commits on success and rolls back on error."""
        conn, taken = await self._lend()
        try:
            async with conn:
                yield conn
        except BaseException:
            await self.pool.putconn(conn)  # the pool checks and repairs it
            raise
        await self._give_back(conn, taken)

    async def _lend(self) -> tuple[psycopg.AsyncConnection[Any], float]:
        while self._kept:
            conn, taken = self._kept.pop()
            if _usable(conn):
                return conn, taken
            await self.pool.putconn(conn)
        return await self.pool.getconn(), time.monotonic()

    async def _give_back(self, conn: psycopg.AsyncConnection[Any], taken: float) -> None:
        if not _may_keep(self, conn, taken):
            await self.pool.putconn(conn)
            return
        self._kept.append((conn, taken))
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.idle_seconds, self._on_idle)

    def _on_idle(self) -> None:
        self._timer = None
        task = asyncio.get_running_loop().create_task(self.release())
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def release(self) -> None:
        """Give every kept connection back to the pool (they are idle)."""
        kept, self._kept = self._kept, []
        for conn, _ in kept:
            await self.pool.putconn(conn)

    async def aclose(self) -> None:
        """Give the kept connections back and keep none from now on (before the pool
        closes: a connection it does not hold would stay open)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.release()


class ThreadWarmConnections:
    """`TaskWarmConnections` for threads: connections of `pool`, the most recently used
    first; kept ones go back to the pool after `idle_seconds` unused (a timer thread,
    started when a connection is kept and none runs)."""

    def __init__(
        self,
        pool: ConnectionPool,
        *,
        keep: int = 1,
        idle_seconds: float = IDLE_SECONDS,
        max_held_seconds: float = MAX_HELD_SECONDS,
    ) -> None:
        self.pool = pool
        self.keep = max(0, keep)
        self.idle_seconds = idle_seconds
        self.max_held_seconds = max_held_seconds
        self._kept: list[tuple[psycopg.Connection[Any], float]] = []  # (conn, taken at)
        self._guard = threading.Lock()  # the list and the timer only, never during I/O
        self._timer: threading.Timer | None = None
        self._used = 0.0  # when a connection was last given back
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """`TaskWarmConnections.connection`, for threads."""
        conn, taken = self._lend()
        try:
            with conn:
                yield conn
        except BaseException:
            self.pool.putconn(conn)
            raise
        self._give_back(conn, taken)

    def _lend(self) -> tuple[psycopg.Connection[Any], float]:
        while True:
            with self._guard:
                if not self._kept:
                    break
                conn, taken = self._kept.pop()
            if _usable(conn):
                return conn, taken
            self.pool.putconn(conn)
        return self.pool.getconn(), time.monotonic()

    def _give_back(self, conn: psycopg.Connection[Any], taken: float) -> None:
        with self._guard:
            kept = _may_keep(self, conn, taken)
            if kept:
                self._kept.append((conn, taken))
                self._used = time.monotonic()
                if self._timer is None:
                    self._start_timer(self.idle_seconds)
        if not kept:
            self.pool.putconn(conn)

    def _start_timer(self, seconds: float) -> None:
        self._timer = threading.Timer(seconds, self._on_idle)
        self._timer.daemon = True
        self._timer.start()

    def _on_idle(self) -> None:
        with self._guard:
            self._timer = None
            left = self._used + self.idle_seconds - time.monotonic()
            if left > 0 and self._kept and not self._closed:
                self._start_timer(left)  # used meanwhile: look again when it may be idle
                return
        self.release()

    def release(self) -> None:
        """Give every kept connection back to the pool (they are idle)."""
        with self._guard:
            kept, self._kept = self._kept, []
        for conn, _ in kept:
            self.pool.putconn(conn)

    def close(self) -> None:
        """Give the kept connections back and keep none from now on."""
        with self._guard:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.release()


def _may_keep(
    warm: TaskWarmConnections | ThreadWarmConnections,
    conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any],
    taken: float,
) -> bool:
    """`conn` (out of the pool since `taken`), just given back, is kept rather than
    returned to the pool: room is left, it is clean, it has not been out too long, and
    nobody waits for the pool."""
    return not (
        warm._closed
        or len(warm._kept) >= warm.keep
        or not _usable(conn)
        or time.monotonic() - taken > warm.max_held_seconds
        or warm.pool.closed
        or warm.pool.get_stats().get("requests_waiting", 0)
    )


def _usable(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    return (
        not conn.closed
        and not conn.broken
        and conn.info.transaction_status == TransactionStatus.IDLE
    )
