"""The connection handling the saver and the store share, written once: where their
`from_conn_string` connects and with which pool arguments (`pool_plan`), opening a shell on
new pools and closing them (`AsyncPooled._opened`), borrowing one of its connections or one
of its replica's, and the connection `setup()` migrates on.

`AsyncAlmaSaver` and `AsyncAlmaStore` extend `AsyncPooled`, their sync twins `Pooled`.
`Pooled` is GENERATED from `AsyncPooled` by `scripts/unasync.py`: edit the async class.

>>> plan = pool_plan(url, pool_size=4)                             # doctest: +SKIP
>>> async with AsyncAlmaSaver._opened(plan, tenant_id="acme") as saver: ...  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.config import get_settings
from langgraph_alma.db.borrow import aborrow, borrow
from langgraph_alma.db.connect import connection_kwargs, resolve
from langgraph_alma.db.replica import ReadRoute

__all__ = ["AsyncPooled", "PoolPlan", "Pooled", "pool_plan"]


@dataclass(frozen=True)
class PoolPlan:
    """Where a shell's pools connect, and how they are made."""

    url: str
    """The primary pool's URL (the admin role's for a privileged store)."""
    admin_url: str
    """Where `setup()` applies migrations and DDL."""
    read_url: str | None
    """A streaming replica's URL, for a second pool of the same arguments (None: none)."""
    args: dict[str, Any]
    """`ConnectionPool` keyword arguments (`min_size`, `max_size`, `kwargs`...)."""


def pool_plan(
    conn_string: str | None = None,
    *,
    read_url: str | None = None,
    privileged: bool = False,
    admin_url: str | None = None,
    pool_size: int | None = None,
    pool_config: Mapping[str, Any] | None = None,
) -> PoolPlan:
    """The pools of a `from_conn_string`: with no URL, `ALMA_DATABASE_URL` or the embedded
    server (started here); the replica's defaults to `ALMA_READ_DATABASE_URL`. LangGraph's
    `pool_config` (`min_size`, `max_size`, `kwargs`, any other `ConnectionPool` argument)
    is honoured, except that connections stay in autocommit and read rows as tuples (our
    statements read rows by position); `pool_size` wins over its `max_size`, and both
    default to `ALMA_POOL_MAX_SIZE`.

    >>> pool_plan("postgresql://db/app", pool_size=4).args["max_size"]   # doctest: +SKIP
    4
    """
    target = resolve(conn_string)
    settings = get_settings()
    admin = admin_url or target.admin_url
    config = dict(pool_config or {})
    kwargs = {**connection_kwargs(), **(config.pop("kwargs", None) or {}), "autocommit": True}
    kwargs.pop("row_factory", None)
    max_size = config.pop("max_size", None)
    args = {
        "min_size": config.pop("min_size", 1),
        "max_size": pool_size or max_size or settings.pool_max_size,
        "kwargs": kwargs,
        **config,
    }
    return PoolPlan(
        url=admin if privileged else target.url,
        admin_url=admin,
        read_url=read_url or settings.read_database_url,
        args=args,
    )


class AsyncPooled:
    """The connection handling of a saver or a store: a pool or a single connection
    (`conn`), an optional replica (`read`), the admin URL `setup()` migrates on. A subclass
    names its closed error and itself (`_closed_error`, `_owner`) and is made with
    `(conn, *, admin_url=, read=, ...)`."""

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool
    read: ReadRoute | None
    _admin_url: str | None
    _closed_error: ClassVar[type[Exception]]  # raised on a closed pool or connection
    _owner: ClassVar[str]  # "saver": named in that error's message

    @classmethod
    @asynccontextmanager
    async def _opened(cls, plan: PoolPlan, **init: Any) -> AsyncIterator[Self]:
        """A shell of this class (made with `init`) on new pools as `plan` says, one on
        the replica if it names one; on exit its TTL sweeper is stopped, then the pools
        are closed."""
        async with (
            AsyncConnectionPool(plan.url, **plan.args, open=False) as pool,
            AsyncConnectionPool(plan.read_url, **plan.args, open=False)
            if plan.read_url
            else nullcontext() as replica,
        ):
            make: Callable[..., Self] = cls
            shell = make(pool, admin_url=plan.admin_url, read=replica, **init)
            try:
                yield shell
            finally:
                await shell.stop_ttl_sweeper()

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the TTL sweeper; True once it is stopped (each shell defines it)."""
        raise NotImplementedError

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """One of this shell's connections, for the next statements: from the pool (no
        lock), or the single connection behind its lock (`db.borrow`)."""
        return aborrow(self.conn, self._closed_error, self._owner)

    def _replica_connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A connection on this shell's replica (`read`, which must be set)."""
        assert self.read is not None
        return aborrow(self.read.source, self._closed_error, self._owner)

    @asynccontextmanager
    async def _setup_connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """The connection `setup()` migrates on: a new one as the admin role when this
        shell knows the admin URL, else one of its own."""
        if self._admin_url:
            async with await psycopg.AsyncConnection.connect(
                self._admin_url, **connection_kwargs()
            ) as conn:
                yield conn
        else:
            async with self._connection() as conn:
                yield conn


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class Pooled:
    """The connection handling of a saver or a store: a pool or a single connection
    (`conn`), an optional replica (`read`), the admin URL `setup()` migrates on. A subclass
    names its closed error and itself (`_closed_error`, `_owner`) and is made with
    `(conn, *, admin_url=, read=, ...)`."""

    conn: psycopg.Connection[Any] | ConnectionPool
    read: ReadRoute | None
    _admin_url: str | None
    _closed_error: ClassVar[type[Exception]]  # raised on a closed pool or connection
    _owner: ClassVar[str]  # "saver": named in that error's message

    @classmethod
    @contextmanager
    def _opened(cls, plan: PoolPlan, **init: Any) -> Iterator[Self]:
        """A shell of this class (made with `init`) on new pools as `plan` says, one on
        the replica if it names one; on exit its TTL sweeper is stopped, then the pools
        are closed."""
        with (
            ConnectionPool(plan.url, **plan.args, open=False) as pool,
            ConnectionPool(plan.read_url, **plan.args, open=False)
            if plan.read_url
            else nullcontext() as replica,
        ):
            make: Callable[..., Self] = cls
            shell = make(pool, admin_url=plan.admin_url, read=replica, **init)
            try:
                yield shell
            finally:
                shell.stop_ttl_sweeper()

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the TTL sweeper; True once it is stopped (each shell defines it)."""
        raise NotImplementedError

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """One of this shell's connections, for the next statements: from the pool (no
        lock), or the single connection behind its lock (`db.borrow`)."""
        return borrow(self.conn, self._closed_error, self._owner)

    def _replica_connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection on this shell's replica (`read`, which must be set)."""
        assert self.read is not None
        return borrow(self.read.source, self._closed_error, self._owner)

    @contextmanager
    def _setup_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection `setup()` migrates on: a new one as the admin role when this
        shell knows the admin URL, else one of its own."""
        if self._admin_url:
            with psycopg.Connection.connect(self._admin_url, **connection_kwargs()) as conn:
                yield conn
        else:
            with self._connection() as conn:
                yield conn
