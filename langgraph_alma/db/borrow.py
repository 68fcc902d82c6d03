"""Borrowing a connection for one operation: from a pool (no lock, so threads run in
parallel) or a single connection (behind the owner's lock). A closed pool or connection
becomes the owner's own error type, with a message naming the owner."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed


@contextmanager
def borrow(
    source: psycopg.Connection[Any] | ConnectionPool,
    lock: threading.Lock,
    closed: type[Exception],
    owner: str,
) -> Iterator[psycopg.Connection[Any]]:
    """A connection from `source` for the duration of the block.

    >>> with borrow(pool, lock, SaverClosed, "saver") as conn: ...   # doctest: +SKIP
    """
    try:
        if isinstance(source, ConnectionPool):
            with source.connection() as conn:
                yield conn
        else:
            if source.closed:
                raise closed(f"this {owner}'s connection is closed")
            with lock:
                yield source
    except PoolClosed as exc:
        raise closed(f"this {owner}'s connection pool is closed: {exc}") from exc


@asynccontextmanager
async def aborrow(
    source: psycopg.AsyncConnection[Any] | AsyncConnectionPool,
    lock: asyncio.Lock,
    closed: type[Exception],
    owner: str,
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Async `borrow`."""
    try:
        if isinstance(source, AsyncConnectionPool):
            async with source.connection() as conn:
                yield conn
        else:
            if source.closed:
                raise closed(f"this {owner}'s connection is closed")
            async with lock:
                yield source
    except PoolClosed as exc:
        raise closed(f"this {owner}'s connection pool is closed: {exc}") from exc
