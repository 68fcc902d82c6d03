"""Connections and pools, sync and async, to the configured server or the embedded one.

URL resolution, in order: the `url` argument, `ALMA_DATABASE_URL`, the embedded server.
Connections are in autocommit mode: an operation of several statements opens its own
transaction (see `langgraph_alma.db.plan`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.config import get_settings


@dataclass(frozen=True)
class Target:
    """Where to connect: `url` for the application, `admin_url` for migrations."""

    url: str
    admin_url: str
    embedded: bool = False


def resolve(url: str | None = None) -> Target:
    """Resolve the database to use, starting the embedded server if none is configured."""
    settings = get_settings()
    if url:
        return Target(url=url, admin_url=url)
    if settings.database_url:
        return Target(
            url=settings.database_url,
            admin_url=settings.admin_database_url or settings.database_url,
        )
    from langgraph_alma.db.embedded import start_embedded

    server = start_embedded(settings.data_dir)
    return Target(url=server.app_url, admin_url=server.admin_url, embedded=True)


def connection_kwargs() -> dict[str, Any]:
    """Keyword arguments every library connection is opened with."""
    return {"autocommit": True, "prepare_threshold": get_settings().prepare_threshold}


def connect(url: str | None = None, *, admin: bool = False) -> psycopg.Connection[Any]:
    """Open a sync connection (`admin=True` for the migration role).

    >>> with connect() as conn:                      # doctest: +SKIP
    ...     conn.execute("SELECT 1").fetchone()
    """
    target = resolve(url)
    return psycopg.Connection.connect(
        target.admin_url if admin else target.url, **connection_kwargs()
    )


async def aconnect(url: str | None = None, *, admin: bool = False) -> psycopg.AsyncConnection[Any]:
    """Open an async connection (`admin=True` for the migration role)."""
    target = resolve(url)
    return await psycopg.AsyncConnection.connect(
        target.admin_url if admin else target.url, **connection_kwargs()
    )


def create_pool(
    url: str | None = None, *, min_size: int = 1, max_size: int | None = None, open: bool = True
) -> ConnectionPool:
    """A sync pool of autocommit connections; close it (or use it as a context manager)."""
    target = resolve(url)
    return ConnectionPool(
        target.url,
        min_size=min_size,
        max_size=max_size or get_settings().pool_max_size,
        kwargs=connection_kwargs(),
        open=open,
    )


async def create_async_pool(
    url: str | None = None, *, min_size: int = 1, max_size: int | None = None
) -> AsyncConnectionPool:
    """An open async pool of autocommit connections."""
    target = resolve(url)
    pool = AsyncConnectionPool(
        target.url,
        min_size=min_size,
        max_size=max_size or get_settings().pool_max_size,
        kwargs=connection_kwargs(),
        open=False,
    )
    await pool.open()
    return pool
