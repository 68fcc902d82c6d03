"""Borrowing a connection for one operation: from a pool (no lock, so threads run in
parallel) or a single connection (behind that connection's lock). A closed pool or
connection becomes the owner's own error type, with a message naming the owner.

A single connection is often shared: LangGraph's recipes pass one `conn` to the saver
and the store, and the `Alma` facade's graph memory uses its store's connection. psycopg
lets only one command run on a connection at a time (a pipeline batch in one thread and
a statement in another fail with "another command is already in progress"), so every
owner of a connection takes the same lock, `connection_lock(conn)`. It is reentrant (a
thread or task that holds it may borrow again, as the facade does inside
`store.atomic`; in async code, tasks it starts meanwhile pass too), so sharing it cannot
deadlock one caller against itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed

_IDLE = psycopg.pq.TransactionStatus.IDLE
_guard = threading.Lock()  # guards the two maps only
_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_alocks: weakref.WeakKeyDictionary[Any, TaskLock] = weakref.WeakKeyDictionary()
# When an owner last gave each single connection back (`quiet_for`).
_released: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


def quiet_for(conn: object) -> float:
    """Seconds since an owner last gave the single connection `conn` back (infinite if
    none borrowed it yet, or for a pool): how long it has been free for background work."""
    released = _released.get(conn)
    return float("inf") if released is None else time.monotonic() - released


class TaskLock:
    """An asyncio lock that the task holding it, and the tasks it starts while holding
    it (`asyncio.wait_for`, `gather`), pass through instead of waiting for themselves."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        held = _HELD.get() or {}
        mine = held.get(self)
        if mine is not None and mine.active:
            yield  # this task, or one it started, already holds it
            return
        await self._lock.acquire()
        hold = _Hold()
        token = _HELD.set({**held, self: hold})
        try:
            yield
        finally:
            hold.active = False  # tasks started inside and still running wait from now on
            _HELD.reset(token)
            self._lock.release()


@dataclass
class _Hold:
    active: bool = True  # until the outermost `hold` ends


# The TaskLocks held in this context; a task started inside a hold inherits it.
_HELD: ContextVar[dict[TaskLock, _Hold] | None] = ContextVar(
    "alma_held_connection_locks", default=None
)


def connection_lock(conn: psycopg.Connection[Any]) -> threading.RLock:
    """The lock every owner of the sync connection `conn` takes to use it."""
    with _guard:
        lock = _locks.get(conn)
        if lock is None:
            lock = _locks[conn] = threading.RLock()
        return lock


def aconnection_lock(conn: psycopg.AsyncConnection[Any]) -> TaskLock:
    """The lock every owner of the async connection `conn` takes to use it."""
    with _guard:
        lock = _alocks.get(conn)
        if lock is None:
            lock = _alocks[conn] = TaskLock()
        return lock


def borrow(
    source: psycopg.Connection[Any] | ConnectionPool,
    closed: type[Exception],
    owner: str,
) -> AbstractContextManager[psycopg.Connection[Any]]:
    """A connection from `source` for the duration of the block (a single connection is
    guarded by `connection_lock`, shared by every owner of that connection).

    >>> with borrow(pool, SaverClosed, "saver") as conn: ...   # doctest: +SKIP
    """
    if isinstance(source, ConnectionPool):
        return _FromPool(source, closed, owner)
    return _single(source, closed, owner)


class _FromPool:
    """A pool's connection for one block: `pool.connection()`'s behaviour (a transaction
    left open is committed, or rolled back after an error; the pool takes the connection
    back), through its public `getconn`/`putconn` and without its two generator-based
    context managers, a few microseconds a borrow that every checkpoint pays."""

    __slots__ = ("_closed", "_conn", "_owner", "_pool")

    def __init__(self, pool: ConnectionPool, closed: type[Exception], owner: str) -> None:
        self._pool, self._closed, self._owner = pool, closed, owner
        self._conn: psycopg.Connection[Any] | None = None

    def __enter__(self) -> psycopg.Connection[Any]:
        try:
            self._conn = self._pool.getconn()
        except PoolClosed as exc:
            raise self._closed(f"this {self._owner}'s connection pool is closed: {exc}") from exc
        return self._conn

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if conn.info.transaction_status != _IDLE and not conn.closed:
                if kind is None:
                    conn.commit()  # a pool opened without autocommit, as `connection()`
                else:
                    with contextlib.suppress(psycopg.Error):
                        conn.rollback()
        finally:
            self._pool.putconn(conn)


@contextmanager
def _single(
    source: psycopg.Connection[Any], closed: type[Exception], owner: str
) -> Iterator[psycopg.Connection[Any]]:
    if source.closed:
        raise closed(f"this {owner}'s connection is closed")
    with connection_lock(source):
        try:
            yield source
        finally:
            _released[source] = time.monotonic()


def aborrow(
    source: psycopg.AsyncConnection[Any] | AsyncConnectionPool,
    closed: type[Exception],
    owner: str,
) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
    """Async `borrow` (a single connection is guarded by `aconnection_lock`)."""
    if isinstance(source, AsyncConnectionPool):
        return _AFromPool(source, closed, owner)
    return _asingle(source, closed, owner)


class _AFromPool:
    """Async `_FromPool`."""

    __slots__ = ("_closed", "_conn", "_owner", "_pool")

    def __init__(self, pool: AsyncConnectionPool, closed: type[Exception], owner: str) -> None:
        self._pool, self._closed, self._owner = pool, closed, owner
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def __aenter__(self) -> psycopg.AsyncConnection[Any]:
        try:
            self._conn = await self._pool.getconn()
        except PoolClosed as exc:
            raise self._closed(f"this {self._owner}'s connection pool is closed: {exc}") from exc
        return self._conn

    async def __aexit__(self, kind: Any, error: Any, trace: Any) -> None:
        conn, self._conn = self._conn, None
        assert conn is not None
        try:
            if conn.info.transaction_status != _IDLE and not conn.closed:
                if kind is None:
                    await conn.commit()
                else:
                    with contextlib.suppress(psycopg.Error):
                        await conn.rollback()
        finally:
            await self._pool.putconn(conn)


@asynccontextmanager
async def _asingle(
    source: psycopg.AsyncConnection[Any], closed: type[Exception], owner: str
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    if source.closed:
        raise closed(f"this {owner}'s connection is closed")
    async with aconnection_lock(source).hold():
        try:
            yield source
        finally:
            _released[source] = time.monotonic()
