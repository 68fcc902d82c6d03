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
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed

_guard = threading.Lock()  # guards the two maps only
_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_alocks: weakref.WeakKeyDictionary[Any, TaskLock] = weakref.WeakKeyDictionary()


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


@contextmanager
def borrow(
    source: psycopg.Connection[Any] | ConnectionPool,
    closed: type[Exception],
    owner: str,
) -> Iterator[psycopg.Connection[Any]]:
    """A connection from `source` for the duration of the block (a single connection is
    guarded by `connection_lock`, shared by every owner of that connection).

    >>> with borrow(pool, SaverClosed, "saver") as conn: ...   # doctest: +SKIP
    """
    try:
        if isinstance(source, ConnectionPool):
            with source.connection() as conn:
                yield conn
        else:
            if source.closed:
                raise closed(f"this {owner}'s connection is closed")
            with connection_lock(source):
                yield source
    except PoolClosed as exc:
        raise closed(f"this {owner}'s connection pool is closed: {exc}") from exc


@asynccontextmanager
async def aborrow(
    source: psycopg.AsyncConnection[Any] | AsyncConnectionPool,
    closed: type[Exception],
    owner: str,
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async `borrow` (a single connection is guarded by `aconnection_lock`)."""
    try:
        if isinstance(source, AsyncConnectionPool):
            async with source.connection() as conn:
                yield conn
        else:
            if source.closed:
                raise closed(f"this {owner}'s connection is closed")
            async with aconnection_lock(source).hold():
                yield source
    except PoolClosed as exc:
        raise closed(f"this {owner}'s connection pool is closed: {exc}") from exc
