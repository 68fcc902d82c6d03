"""`AlmaStore` and `AsyncAlmaStore`: LangGraph stores on PostgreSQL.

Both are thin shells over `StoreCore`: they embed texts (sync or async), pick a
connection (from a pool, or a single connection guarded by a lock) and drive the plan.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
)
from contextvars import ContextVar
from typing import Any, TypeVar

import psycopg
from langgraph.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.config import get_settings
from langgraph_alma.db.borrow import aborrow, borrow
from langgraph_alma.db.connect import connection_kwargs, resolve
from langgraph_alma.db.loop import run_on_loop
from langgraph_alma.db.plan import Plan, arun_plan, run_plan
from langgraph_alma.errors import AlmaError, ConfigError
from langgraph_alma.migrations import amigrate, migrate
from langgraph_alma.store._core import (
    DEFAULT_EXACT_SEARCH_MAX,
    DEFAULT_MAX_VALUE_BYTES,
    Prepared,
    StoreCore,
)

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Serialises `atomic(key)` blocks: a transaction-level advisory lock on the key's hash,
# released when the block's transaction ends (commit or rollback).
LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


class StoreClosed(AlmaError):
    """The store's connection or pool is closed."""


class _AlmaStoreBase(BaseStore):
    """What the sync and async stores share: configuration and tenancy."""

    supports_ttl = True

    def __init__(
        self,
        conn: Any,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        admin_url: str | None = None,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> None:
        if isinstance(conn, psycopg.Connection | psycopg.AsyncConnection) and not conn.autocommit:
            raise ConfigError("AlmaStore needs a connection opened with autocommit=True")
        self.conn = conn
        # The connection of the `atomic` block this thread or task is in, if any.
        self._pinned: ContextVar[Any] = ContextVar(f"alma_store_{id(self)}", default=None)
        self.index_config = index
        self.ttl_config = ttl
        self._admin_url = admin_url
        self._core = StoreCore(
            tenant_id=tenant_id,
            default_tenant=get_settings().tenant_id,
            index=index,
            ttl=ttl,
            privileged=privileged,
            max_value_bytes=max_value_bytes,
            exact_search_max=exact_search_max,
            text_config=text_config,
            text_weight=text_weight,
        )

    @property
    def tenant_id(self) -> str | None:
        """The tenant this store is bound to (None: each graph run's, or the default)."""
        return self._core.tenant_id

    def for_tenant(self: T, tenant_id: str) -> T:
        """A view of this store bound to `tenant_id`, sharing its connections.

        >>> store.for_tenant("acme").get(("users",), "u1")     # doctest: +SKIP
        """
        clone = copy.copy(self)
        clone._core = copy.copy(self._core)  # type: ignore[attr-defined]
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ConfigError(f"tenant_id must be a non-empty string, got {tenant_id!r}")
        clone._core.tenant_id = tenant_id  # type: ignore[attr-defined]
        return clone

    def _lock_name(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ConfigError(f"an atomic block needs a non-empty string key, got {key!r}")
        return f"{self.tenant_id or ''}\x1f{key}"

    def _sweep_minutes(self, minutes: float | None) -> float:
        minutes = minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        if minutes <= 0:
            raise ConfigError(f"sweep interval must be positive, got {minutes!r}")
        return float(minutes)


class AlmaStore(_AlmaStoreBase):
    """Sync store. Pass it as `store=` to `StateGraph.compile()`.

    With `tenant_id` it acts for that tenant only; without, for each run's
    `configurable["tenant_id"]` (or the default tenant). `privileged=True` on a
    connection whose role bypasses row-level security (the admin URL) may `list_tenants()`.

    >>> index = {"dims": 384, "embed": embed}
    >>> with AlmaStore.from_conn_string(index=index) as store:    # doctest: +SKIP
    ...     store.setup()
    ...     store.put(("users", "u1"), "prefs", {"text": "likes tea"})
    ...     store.search(("users",), query="tea", filter={"lang": {"$in": ["en", "fr"]}})
    """

    conn: psycopg.Connection[Any] | ConnectionPool

    def __init__(self, conn: psycopg.Connection[Any] | ConnectionPool, **kwargs: Any) -> None:
        super().__init__(conn, **kwargs)
        self.lock = threading.Lock()  # used only with a single connection, never a pool
        self._sweeper: threading.Thread | None = None
        self._sweeper_stop = threading.Event()

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        pool_size: int | None = None,
        admin_url: str | None = None,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> Iterator[AlmaStore]:
        """A store on a new pool; with no URL, on `ALMA_DATABASE_URL` or the embedded
        server. `privileged=True` connects as the admin role."""
        target = resolve(conn_string)
        admin = admin_url or target.admin_url
        with ConnectionPool(
            admin if privileged else target.url,
            min_size=1,
            max_size=pool_size or get_settings().pool_max_size,
            kwargs=connection_kwargs(),
        ) as pool:
            store = cls(
                pool, index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
                exact_search_max=exact_search_max,
                admin_url=admin, text_config=text_config, text_weight=text_weight,
            )  # fmt: skip
            try:
                yield store
            finally:
                store.stop_ttl_sweeper()

    def setup(self) -> None:
        """Apply the migrations and this store's vector index (idempotent), as the admin
        role when the store knows its URL."""
        if self._admin_url:
            with psycopg.connect(self._admin_url, **connection_kwargs()) as conn:
                self._setup_on(conn)
        else:
            with self._connection() as conn:
                self._setup_on(conn)

    def _setup_on(self, conn: psycopg.Connection[Any]) -> None:
        migrate(conn)
        for ddl in self._core.setup_statements():
            conn.execute(ddl)

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        if (pinned := self._pinned.get()) is not None:
            return nullcontext(pinned)
        return borrow(self.conn, self.lock, StoreClosed, "store")

    @contextmanager
    def atomic(self, key: str) -> Iterator[None]:
        """Run this block's store operations in one transaction, one at a time among the
        blocks of this tenant with the same `key` (read-modify-write without lost updates).

        >>> with store.atomic("progress:checkout"):                 # doctest: +SKIP
        ...     item = store.get(ns, "a"); store.put(ns, "a", {**item.value, "n": 2})
        """
        name = self._lock_name(key)
        if self._pinned.get() is not None:  # nested: the outer block already holds it
            yield
            return
        with self._connection() as conn, conn.transaction():
            conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set(conn)
            try:
                yield
            finally:
                self._pinned.reset(token)

    def _run(self, plan: Plan[T]) -> T:
        with self._connection() as conn:
            return run_plan(conn, plan)

    def _execute(self, prepared: Prepared) -> list[Result]:
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index:
            embeddings = self._core.index.embeddings
            if prepared.documents:
                vectors = embeddings.embed_documents(prepared.documents)
            queries = {q: embeddings.embed_query(q) for q in prepared.queries}
        return self._run(self._core.execute(prepared, vectors, queries))

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._execute(self._core.prepare(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        prepared = self._core.prepare(ops)  # here: the run's config is in this context
        return await asyncio.to_thread(self._execute, prepared)

    def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted."""
        return self._run(self._core.sweep())

    def list_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return self._run(self._core.list_tenants())

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> threading.Thread:
        """Sweep expired items every `sweep_interval_minutes` (default: the TTL config's,
        else 5) in a daemon thread until `stop_ttl_sweeper()`."""
        if self._sweeper and self._sweeper.is_alive():
            return self._sweeper
        interval = self._sweep_minutes(sweep_interval_minutes) * 60
        self._sweeper_stop = stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.sweep_ttl()
                except Exception:  # keep sweeping after a transient failure
                    logger.exception("AlmaStore TTL sweep failed")

        self._sweeper = threading.Thread(target=loop, name="alma-store-ttl-sweeper", daemon=True)
        self._sweeper.start()
        return self._sweeper

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True if it is stopped."""
        self._sweeper_stop.set()
        if self._sweeper is None:
            return True
        self._sweeper.join(timeout)
        stopped = not self._sweeper.is_alive()
        if stopped:
            self._sweeper = None
        return stopped


class AsyncAlmaStore(_AlmaStoreBase):
    """Async store for `ainvoke`/`astream` (see `AlmaStore`).

    >>> async with AsyncAlmaStore.from_conn_string() as store:   # doctest: +SKIP
    ...     await store.setup()
    ...     await store.aput(("users", "u1"), "prefs", {"theme": "dark"})
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool

    def __init__(
        self, conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool, **kwargs: Any
    ) -> None:
        super().__init__(conn, **kwargs)
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        pool_size: int | None = None,
        admin_url: str | None = None,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> AsyncIterator[AsyncAlmaStore]:
        """An async store on a new pool (see `AlmaStore.from_conn_string`)."""
        target = await asyncio.to_thread(resolve, conn_string)
        admin = admin_url or target.admin_url
        async with AsyncConnectionPool(
            admin if privileged else target.url,
            min_size=1,
            max_size=pool_size or get_settings().pool_max_size,
            kwargs=connection_kwargs(),
            open=False,
        ) as pool:
            store = cls(
                pool, index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
                exact_search_max=exact_search_max,
                admin_url=admin, text_config=text_config, text_weight=text_weight,
            )  # fmt: skip
            try:
                yield store
            finally:
                await store.stop_ttl_sweeper()

    async def setup(self) -> None:
        """Apply the migrations and this store's vector index (idempotent)."""
        ddl = self._core.setup_statements()
        if self._admin_url:
            async with await psycopg.AsyncConnection.connect(
                self._admin_url, **connection_kwargs()
            ) as admin:
                await amigrate(admin)
                for stmt in ddl:
                    await admin.execute(stmt)
            return
        async with self._connection() as conn:
            await amigrate(conn)
            for stmt in ddl:
                await conn.execute(stmt)

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        if (pinned := self._pinned.get()) is not None:
            return nullcontext(pinned)
        return aborrow(self.conn, self.lock, StoreClosed, "store")

    @asynccontextmanager
    async def aatomic(self, key: str) -> AsyncIterator[None]:
        """`AlmaStore.atomic`, async: `async with store.aatomic("progress:checkout"): ...`"""
        name = self._lock_name(key)
        if self._pinned.get() is not None:
            yield
            return
        async with self._connection() as conn, conn.transaction():
            await conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set(conn)
            try:
                yield
            finally:
                self._pinned.reset(token)

    async def _arun(self, plan: Plan[T]) -> T:
        async with self._connection() as conn:
            return await arun_plan(conn, plan)

    async def _aexecute(self, prepared: Prepared) -> list[Result]:
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index:
            embeddings = self._core.index.embeddings
            if prepared.documents:
                vectors = await embeddings.aembed_documents(prepared.documents)
            found = await asyncio.gather(*(embeddings.aembed_query(q) for q in prepared.queries))
            queries = dict(zip(prepared.queries, found, strict=True))
        return await self._arun(self._core.execute(prepared, vectors, queries))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await self._aexecute(self._core.prepare(ops))

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        # Sync callers (a sync graph on an async store) run on the store's event loop;
        # the tenant is read here, where the run's config is.
        prepared = self._core.prepare(ops)
        return self._sync(self._aexecute(prepared))

    def _sync(self, coro: Any) -> Any:
        return run_on_loop(self.loop, coro, "AsyncAlmaStore")

    async def asweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted."""
        return await self._arun(self._core.sweep())

    def sweep_ttl(self) -> int:
        """Sync `asweep_ttl`, from a thread other than the event loop's."""
        return self._sync(self.asweep_ttl())

    async def alist_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return await self._arun(self._core.list_tenants())

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> asyncio.Task[None]:
        """Sweep expired items periodically in a task on the store's loop until
        `await stop_ttl_sweeper()`."""
        if self._sweeper and not self._sweeper.done():
            return self._sweeper
        interval = self._sweep_minutes(sweep_interval_minutes) * 60

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.asweep_ttl()
                except Exception:  # keep sweeping after a transient failure
                    logger.exception("AsyncAlmaStore TTL sweep failed")

        self._sweeper = self.loop.create_task(loop(), name="alma-store-ttl-sweeper")
        return self._sweeper

    async def stop_ttl_sweeper(self) -> bool:
        """Cancel the sweeper task; True once it is stopped."""
        task, self._sweeper = self._sweeper, None
        if task is None:
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return True


__all__ = ["AlmaStore", "AsyncAlmaStore", "StoreClosed"]
