"""`AlmaStore` and `AsyncAlmaStore`: LangGraph stores on PostgreSQL.

Both are thin shells over `StoreCore`: they embed texts, pick a connection (from a pool,
or a single connection guarded by a lock) and drive the plan, retrying a batch that hit a
deadlock or serialization conflict. `AlmaStore` is GENERATED from `AsyncAlmaStore` by
`scripts/unasync.py`: edit the async class, then run `python scripts/unasync.py`. What
both share is in `_base.py`; what differs by nature (how each gathers the single-op calls
that arrive together into batches of one tenant: tasks on a loop, or threads taking
turns to lead; the sweeper's thread or task, which loop or thread serves the other
flavour's callers) is in `_flavours.py`; the connection handling shared with the saver
(`from_conn_string`'s pools, `setup()`'s connection), in `db/pools.py`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar

import psycopg
from langgraph.store.base import IndexConfig, Result, TTLConfig
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.db.borrow import quiet_for
from langgraph_alma.db.plan import Plan, arun_plan, run_plan
from langgraph_alma.db.pools import AsyncPooled, Pooled, pool_plan
from langgraph_alma.db.replica import StaleReplica, guarded, tracking
from langgraph_alma.errors import AlmaError, StoreBatchFailed
from langgraph_alma.migrations import amigrate, migrate
from langgraph_alma.store._base import LOCK_KEY, deserialized, idle
from langgraph_alma.store._core import DEFAULT_EXACT_SEARCH_MAX, Prepared
from langgraph_alma.store._count import count_plan
from langgraph_alma.store._failures import describe_ops
from langgraph_alma.store._flavours import (
    _aone_at_a_time,
    _one_at_a_time,
    _OnEventLoop,
    _OnThreads,
)

T = TypeVar("T")

__all__ = ["AlmaStore", "AsyncAlmaStore", "StoreClosed"]


class StoreClosed(AlmaError):
    """The store's connection or pool is closed."""


class AsyncAlmaStore(_OnEventLoop, AsyncPooled):
    """A LangGraph store: pass it as `store=` to `StateGraph.compile()`.

    With `tenant_id` it acts for that tenant only; without, for each run's
    `configurable["tenant_id"]` (or the default tenant). `privileged=True` on a
    connection whose role bypasses row-level security (the admin URL) may `alist_tenants()`.

    >>> index = {"dims": 384, "embed": embed}
    >>> async with AsyncAlmaStore.from_conn_string(index=index) as store:  # doctest: +SKIP
    ...     await store.setup()
    ...     await store.aput(("users", "u1"), "prefs", {"text": "likes tea"})
    ...     await store.asearch(("users",), query="tea", filter={"lang": {"$in": ["en"]}})
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool
    _closed_error = StoreClosed
    _owner = "store"

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        pipeline: bool = False,
        pool_config: Mapping[str, Any] | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        pool_size: int | None = None,
        admin_url: str | None = None,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        read_url: str | None = None,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> AsyncIterator[AsyncAlmaStore]:
        """A store on a new pool; with no URL, on `ALMA_DATABASE_URL` or the embedded
        server. `privileged=True` connects as the admin role. LangGraph's `pool_config`
        sets the pool; `pipeline` is accepted and not needed (every batch is one
        pipeline already). `read_url` (default `ALMA_READ_DATABASE_URL`): a streaming
        replica for reads that write nothing, on a pool of its own."""
        plan = await asyncio.to_thread(pool_plan, conn_string,
            read_url=read_url, privileged=privileged, admin_url=admin_url,
            pool_size=pool_size, pool_config=pool_config,
        )  # fmt: skip
        async with cls._opened(plan,
            index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
            exact_search_max=exact_search_max, text_config=text_config, text_weight=text_weight,
        ) as store:  # fmt: skip
            try:
                yield store
            finally:
                await store.stop_indexer()
                await store._release_connections()

    async def setup(self) -> None:
        """Apply the migrations and this store's vector index (idempotent), as the admin
        role when the store knows its URL."""
        async with self._setup_connection() as conn:
            await amigrate(conn)
            await arun_plan(conn, self._core.setup_plan())

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A connection of this store (autocommit; inside an `aatomic` block, the block's),
        for statements or plans of one transaction: `async with store.connection() as
        conn, conn.transaction(): await store.aexecute_on(conn, store.prepare(ops))`."""
        return self._connection()

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        if (pinned := self._pinned.get()) is not None:
            return _aone_at_a_time(*pinned)
        return super()._connection()

    @asynccontextmanager
    async def aatomic(self, key: str) -> AsyncIterator[None]:
        """Run this block's store operations in one transaction, one at a time among the
        blocks of this tenant with the same `key` (read-modify-write without lost updates).

        >>> async with store.aatomic("progress:checkout"):          # doctest: +SKIP
        ...     item = await store.aget(ns, "a"); await store.aput(ns, "a", {"n": 2})
        """
        name = self._lock_name(key)
        if self._pinned.get() is not None:  # nested: the outer block already holds it
            yield
            return
        async with self.connection() as conn, conn.transaction():
            await conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set((conn, self._block_lock()))
            try:
                yield
            finally:
                self._pinned.reset(token)

    async def arun(self, plan: Plan[T], what: str = "store statements") -> T:
        """Drive a store plan (`db.plan`) on one of this store's connections; a database
        error raises `StoreBatchFailed` naming `what`: `await store.arun(plan)`."""
        try:
            async with self.connection() as conn:
                return await arun_plan(conn, plan)
        except psycopg.Error as exc:
            raise StoreBatchFailed(what, exc) from exc

    async def aexecute_on(
        self, conn: psycopg.AsyncConnection[Any], prepared: Prepared
    ) -> list[Result]:
        """Run a batch from `prepare` on `conn`, in the caller's transaction (no retry, no
        replica): several batches and other statements then commit or roll back together.

        >>> async with store.connection() as conn, conn.transaction():  # doctest: +SKIP
        ...     await store.aexecute_on(conn, store.prepare(ops))
        """
        vectors, queries = await self._aembed(prepared)
        plan = self._core.execute(prepared, vectors, queries)
        return deserialized(await arun_plan(conn, plan), self._deserializer)

    async def _aexecute(self, prepared: Prepared) -> list[Result]:
        vectors, queries = await self._aembed(prepared)
        if self._replica_may_answer(prepared):
            assert self.read is not None
            try:
                async with self._replica_connection() as conn:
                    plan = guarded(self._core.execute(prepared, vectors, queries), self.read)
                    return deserialized(await arun_plan(conn, plan), self._deserializer)
            except (StaleReplica, StoreBatchFailed, psycopg.Error):
                pass  # behind this store's writes, or unreachable: the primary answers
        attempt = 0
        while True:
            own = False
            try:
                async with self.connection() as conn:
                    own = idle(conn)  # else: inside the caller's transaction (aatomic)
                    plan = self._core.execute(prepared, vectors, queries, transaction=own)
                    plan = tracking(plan, self.read)
                    return deserialized(await arun_plan(conn, plan), self._deserializer)
            except StoreBatchFailed as exc:
                delay = self._retry(attempt, exc, own)
            except psycopg.Error as exc:  # no connection to be had, for one
                raise StoreBatchFailed(describe_ops(prepared.ops), exc) from exc
            attempt += 1
            await asyncio.sleep(delay)

    async def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted. One
        transaction per `store_sweep_chunk` items, the connection given back between
        them (a single connection's other callers wait for one chunk, not the sweep)."""
        swept = 0
        while True:
            chunk = await self.arun(self._core.sweep(self._sweep_chunk), "TTL sweep")
            swept += chunk
            if chunk < self._sweep_chunk:
                return swept
            await asyncio.sleep(0)  # a caller waiting for the connection goes first

    async def alist_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return await self.arun(self._core.list_tenants(), "tenant list")

    async def acount_items(
        self, namespace_prefix: tuple[str, ...] = (), filter: dict[str, Any] | None = None
    ) -> int:
        """How many items `asearch(namespace_prefix, filter=filter)` would page through
        (every item of the tenant with `()`), counted by one statement, none decoded:
        `await store.acount_items(("users",), {"lang": "en"})`."""
        return await self.arun(count_plan(self._core, namespace_prefix, filter), "item count")

    async def aindex_backlog(self, max_rows: int | None = None) -> int:
        """Move into the HNSW index now (a chunk per transaction) the vectors this tenant's
        puts left to the background indexer (a privileged store: every tenant's); returns
        how many moved. Searches find them either way (ranked exactly); indexed, they cost
        searches less. A tenant with at most `exact_search_max` vectors is searched
        exactly and keeps them out. Then builds the HNSW index if it is due
        (`store_ann_build_min` vectors past the exact bound; migration 0016).

        >>> await store.aindex_backlog()          # doctest: +SKIP
        """
        tenants = await self.arun(self._core.backlog_tenants(), "backlog tenants")
        return await self._adrain(tenants, max_rows)

    async def _adrain(
        self,
        tenants: Iterable[str],
        max_rows: int | None = None,
        stopping: Callable[[], bool] = bool,
        background: bool = False,
    ) -> int:
        """Index the backlog of each of `tenants` (one chunk per transaction, acting for
        its tenant), up to `max_rows` rows, until `stopping()`; returns the rows moved.
        In the `background` on a single connection, chunks fit
        `store_index_chunk_seconds` (`ChunkSizer`) and run only when the connection has
        been free that long: callers who keep it busy are never made to wait (the
        backlog grows to its bound, and puts index inline past it), and a caller
        arriving mid-chunk waits for one short chunk at most."""
        moved, tenants = 0, list(tenants)
        # On a pool a chunk holds a connection of its own: full chunks, fewer commits.
        alone = background and isinstance(self.conn, psycopg.AsyncConnection)
        sizer = self._core.chunk_sizer if alone else None
        for tenant in tenants:
            more, large = True, False  # `large`: a chunk found it past the exact bound
            while more and not stopping() and (max_rows is None or moved < max_rows):
                left = None if max_rows is None else max_rows - moved
                if sizer is not None:
                    # One connection: its callers first. A chunk starts once it has been
                    # free for as long as a chunk takes.
                    left = sizer.rows(left)
                    while (wait := sizer.seconds - quiet_for(self.conn)) > 0:
                        if stopping():
                            return moved
                        await asyncio.sleep(wait)
                started = time.monotonic()
                chunk = self._core.index_chunk(tenant, left, large)
                n, more = await self.arun(chunk, "indexing")
                moved, large = moved + n, more  # more rows wait only in a large tenant
                if sizer is not None:
                    sizer.note(n, time.monotonic() - started)
        if not stopping() and self._core.ann_build_due(not background, idle=not tenants):
            await self._abuild_ann()
        return moved

    async def _abuild_ann(self) -> None:
        """Build the HNSW index if enough vectors need it (`StoreCore.build_ann`): on a
        new connection to the admin URL (`from_conn_string`'s own URL when none is given)
        with CREATE INDEX CONCURRENTLY when its role owns the tables (writes go on
        meanwhile), else through the migration's function on one of the store's own
        connections (writes to the vectors wait for the build)."""
        if self._admin_url and self._core.ann_concurrently:
            try:
                async with self._setup_connection() as conn:
                    built = await arun_plan(conn, self._core.build_ann_concurrently())
            except psycopg.Error as exc:
                raise StoreBatchFailed("HNSW index build", exc) from exc
            if built is not None:
                return
            self._core.ann_concurrently = False  # not the table's owner: the function builds
        await self.arun(self._core.build_ann(), "HNSW index build")


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class AlmaStore(_OnThreads, Pooled):
    """A LangGraph store: pass it as `store=` to `StateGraph.compile()`.

    With `tenant_id` it acts for that tenant only; without, for each run's
    `configurable["tenant_id"]` (or the default tenant). `privileged=True` on a
    connection whose role bypasses row-level security (the admin URL) may `list_tenants()`.

    >>> index = {"dims": 384, "embed": embed}
    >>> with AlmaStore.from_conn_string(index=index) as store:  # doctest: +SKIP
    ...     store.setup()
    ...     store.put(("users", "u1"), "prefs", {"text": "likes tea"})
    ...     store.search(("users",), query="tea", filter={"lang": {"$in": ["en"]}})
    """

    conn: psycopg.Connection[Any] | ConnectionPool
    _closed_error = StoreClosed
    _owner = "store"

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        pipeline: bool = False,
        pool_config: Mapping[str, Any] | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        pool_size: int | None = None,
        admin_url: str | None = None,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        read_url: str | None = None,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> Iterator[AlmaStore]:
        """A store on a new pool; with no URL, on `ALMA_DATABASE_URL` or the embedded
        server. `privileged=True` connects as the admin role. LangGraph's `pool_config`
        sets the pool; `pipeline` is accepted and not needed (every batch is one
        pipeline already). `read_url` (default `ALMA_READ_DATABASE_URL`): a streaming
        replica for reads that write nothing, on a pool of its own."""
        plan = pool_plan(conn_string,
            read_url=read_url, privileged=privileged, admin_url=admin_url,
            pool_size=pool_size, pool_config=pool_config,
        )  # fmt: skip
        with cls._opened(plan,
            index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
            exact_search_max=exact_search_max, text_config=text_config, text_weight=text_weight,
        ) as store:  # fmt: skip
            try:
                yield store
            finally:
                store.stop_indexer()
                store._release_connections()

    def setup(self) -> None:
        """Apply the migrations and this store's vector index (idempotent), as the admin
        role when the store knows its URL."""
        with self._setup_connection() as conn:
            migrate(conn)
            run_plan(conn, self._core.setup_plan())

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection of this store (autocommit; inside an `atomic` block, the block's),
        for statements or plans of one transaction: `with store.connection() as
        conn, conn.transaction(): store.execute_on(conn, store.prepare(ops))`."""
        return self._connection()

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        if (pinned := self._pinned.get()) is not None:
            return _one_at_a_time(*pinned)
        return super()._connection()

    @contextmanager
    def atomic(self, key: str) -> Iterator[None]:
        """Run this block's store operations in one transaction, one at a time among the
        blocks of this tenant with the same `key` (read-modify-write without lost updates).

        >>> with store.atomic("progress:checkout"):          # doctest: +SKIP
        ...     item = store.get(ns, "a"); store.put(ns, "a", {"n": 2})
        """
        name = self._lock_name(key)
        if self._pinned.get() is not None:  # nested: the outer block already holds it
            yield
            return
        with self.connection() as conn, conn.transaction():
            conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set((conn, self._block_lock()))
            try:
                yield
            finally:
                self._pinned.reset(token)

    def run(self, plan: Plan[T], what: str = "store statements") -> T:
        """Drive a store plan (`db.plan`) on one of this store's connections; a database
        error raises `StoreBatchFailed` naming `what`: `store.run(plan)`."""
        try:
            with self.connection() as conn:
                return run_plan(conn, plan)
        except psycopg.Error as exc:
            raise StoreBatchFailed(what, exc) from exc

    def execute_on(self, conn: psycopg.Connection[Any], prepared: Prepared) -> list[Result]:
        """Run a batch from `prepare` on `conn`, in the caller's transaction (no retry, no
        replica): several batches and other statements then commit or roll back together.

        >>> with store.connection() as conn, conn.transaction():  # doctest: +SKIP
        ...     store.execute_on(conn, store.prepare(ops))
        """
        vectors, queries = self._embed(prepared)
        plan = self._core.execute(prepared, vectors, queries)
        return deserialized(run_plan(conn, plan), self._deserializer)

    def _execute(self, prepared: Prepared) -> list[Result]:
        vectors, queries = self._embed(prepared)
        if self._replica_may_answer(prepared):
            assert self.read is not None
            try:
                with self._replica_connection() as conn:
                    plan = guarded(self._core.execute(prepared, vectors, queries), self.read)
                    return deserialized(run_plan(conn, plan), self._deserializer)
            except (StaleReplica, StoreBatchFailed, psycopg.Error):
                pass  # behind this store's writes, or unreachable: the primary answers
        attempt = 0
        while True:
            own = False
            try:
                with self.connection() as conn:
                    own = idle(conn)  # else: inside the caller's transaction (atomic)
                    plan = self._core.execute(prepared, vectors, queries, transaction=own)
                    plan = tracking(plan, self.read)
                    return deserialized(run_plan(conn, plan), self._deserializer)
            except StoreBatchFailed as exc:
                delay = self._retry(attempt, exc, own)
            except psycopg.Error as exc:  # no connection to be had, for one
                raise StoreBatchFailed(describe_ops(prepared.ops), exc) from exc
            attempt += 1
            time.sleep(delay)

    def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted. One
        transaction per `store_sweep_chunk` items, the connection given back between
        them (a single connection's other callers wait for one chunk, not the sweep)."""
        swept = 0
        while True:
            chunk = self.run(self._core.sweep(self._sweep_chunk), "TTL sweep")
            swept += chunk
            if chunk < self._sweep_chunk:
                return swept
            time.sleep(0)  # a caller waiting for the connection goes first

    def list_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return self.run(self._core.list_tenants(), "tenant list")

    def count_items(
        self, namespace_prefix: tuple[str, ...] = (), filter: dict[str, Any] | None = None
    ) -> int:
        """How many items `search(namespace_prefix, filter=filter)` would page through
        (every item of the tenant with `()`), counted by one statement, none decoded:
        `store.count_items(("users",), {"lang": "en"})`."""
        return self.run(count_plan(self._core, namespace_prefix, filter), "item count")

    def index_backlog(self, max_rows: int | None = None) -> int:
        """Move into the HNSW index now (a chunk per transaction) the vectors this tenant's
        puts left to the background indexer (a privileged store: every tenant's); returns
        how many moved. Searches find them either way (ranked exactly); indexed, they cost
        searches less. A tenant with at most `exact_search_max` vectors is searched
        exactly and keeps them out. Then builds the HNSW index if it is due
        (`store_ann_build_min` vectors past the exact bound; migration 0016).

        >>> store.index_backlog()          # doctest: +SKIP
        """
        tenants = self.run(self._core.backlog_tenants(), "backlog tenants")
        return self._drain(tenants, max_rows)

    def _drain(
        self,
        tenants: Iterable[str],
        max_rows: int | None = None,
        stopping: Callable[[], bool] = bool,
        background: bool = False,
    ) -> int:
        """Index the backlog of each of `tenants` (one chunk per transaction, acting for
        its tenant), up to `max_rows` rows, until `stopping()`; returns the rows moved.
        In the `background` on a single connection, chunks fit
        `store_index_chunk_seconds` (`ChunkSizer`) and run only when the connection has
        been free that long: callers who keep it busy are never made to wait (the
        backlog grows to its bound, and puts index inline past it), and a caller
        arriving mid-chunk waits for one short chunk at most."""
        moved, tenants = 0, list(tenants)
        # On a pool a chunk holds a connection of its own: full chunks, fewer commits.
        alone = background and isinstance(self.conn, psycopg.Connection)
        sizer = self._core.chunk_sizer if alone else None
        for tenant in tenants:
            more, large = True, False  # `large`: a chunk found it past the exact bound
            while more and not stopping() and (max_rows is None or moved < max_rows):
                left = None if max_rows is None else max_rows - moved
                if sizer is not None:
                    # One connection: its callers first. A chunk starts once it has been
                    # free for as long as a chunk takes.
                    left = sizer.rows(left)
                    while (wait := sizer.seconds - quiet_for(self.conn)) > 0:
                        if stopping():
                            return moved
                        time.sleep(wait)
                started = time.monotonic()
                chunk = self._core.index_chunk(tenant, left, large)
                n, more = self.run(chunk, "indexing")
                moved, large = moved + n, more  # more rows wait only in a large tenant
                if sizer is not None:
                    sizer.note(n, time.monotonic() - started)
        if not stopping() and self._core.ann_build_due(not background, idle=not tenants):
            self._build_ann()
        return moved

    def _build_ann(self) -> None:
        """Build the HNSW index if enough vectors need it (`StoreCore.build_ann`): on a
        new connection to the admin URL (`from_conn_string`'s own URL when none is given)
        with CREATE INDEX CONCURRENTLY when its role owns the tables (writes go on
        meanwhile), else through the migration's function on one of the store's own
        connections (writes to the vectors wait for the build)."""
        if self._admin_url and self._core.ann_concurrently:
            try:
                with self._setup_connection() as conn:
                    built = run_plan(conn, self._core.build_ann_concurrently())
            except psycopg.Error as exc:
                raise StoreBatchFailed("HNSW index build", exc) from exc
            if built is not None:
                return
            self._core.ann_concurrently = False  # not the table's owner: the function builds
        self.run(self._core.build_ann(), "HNSW index build")
