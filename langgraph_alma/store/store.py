"""`AlmaStore` and `AsyncAlmaStore`: LangGraph stores on PostgreSQL.

Both are thin shells over `StoreCore`: they embed texts (sync or async), pick a
connection (from a pool, or a single connection guarded by a lock) and drive the plan,
retrying a batch that hit a deadlock or serialization conflict. The async store gathers
the single-op calls that arrive together into one batch per tenant (`_batching`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import functools
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
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
from langchain_core.embeddings import Embeddings
from langgraph.store.base import BaseStore, IndexConfig, Item, Op, Result, TTLConfig
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.config import get_settings
from langgraph_alma.db.borrow import aborrow, borrow
from langgraph_alma.db.connect import connection_kwargs, resolve
from langgraph_alma.db.loop import run_on_loop
from langgraph_alma.db.plan import OFF_LOOP_ROWS, Plan, arun_plan, off_loop, run_plan
from langgraph_alma.db.replica import ReadRoute, StaleReplica, guarded, tracking
from langgraph_alma.db.sweeper import TaskSweeper, ThreadSweeper
from langgraph_alma.errors import AlmaError, ConfigError, StoreBatchFailed
from langgraph_alma.migrations import amigrate, migrate
from langgraph_alma.store._batching import OpGatherer
from langgraph_alma.store._checks import StoreLimits
from langgraph_alma.store._core import (
    DEFAULT_EXACT_SEARCH_MAX,
    DEFAULT_MAX_VALUE_BYTES,
    CheckedOp,
    Prepared,
    StoreCore,
)
from langgraph_alma.store._failures import describe_ops, is_transient, retry_delay

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Serialises `atomic(key)` blocks: a transaction-level advisory lock on the key's hash,
# released when the block's transaction ends (commit or rollback).
LOCK_KEY = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"


class StoreClosed(AlmaError):
    """The store's connection or pool is closed."""


# Set while one of AsyncAlmaStore's single-op methods (aget, aput, ...) runs: its abatch
# then queues the op to be gathered with other callers' (a direct abatch runs at once).
_GATHER: ContextVar[bool] = ContextVar("alma_store_gather", default=False)


def _gathered(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method` (one of BaseStore's single-op coroutines, which call `self.abatch([op])`)
    with its op gathered into a batch with other callers' (see `AsyncAlmaStore.abatch`)."""

    @functools.wraps(method)
    async def gathered(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _GATHER.set(True)
        try:
            return await method(self, *args, **kwargs)
        finally:
            _GATHER.reset(token)

    return gathered


def _pool_args(
    conn_string: str | None,
    *,
    privileged: bool,
    admin_url: str | None,
    pool_size: int | None,
    pool_config: Mapping[str, Any] | None,
) -> tuple[str, str | None, dict[str, Any]]:
    """(url, admin url, pool arguments) for `from_conn_string`; LangGraph's `pool_config`
    (`min_size`, `max_size`, `kwargs`, any other `ConnectionPool` argument) is honoured,
    except that connections stay in autocommit."""
    target = resolve(conn_string)
    admin = admin_url or target.admin_url
    config = dict(pool_config or {})
    kwargs = {**connection_kwargs(), **(config.pop("kwargs", None) or {}), "autocommit": True}
    kwargs.pop("row_factory", None)  # our statements read rows by position
    max_size = config.pop("max_size", None)
    args = {
        "min_size": config.pop("min_size", 1),
        "max_size": pool_size or max_size or get_settings().pool_max_size,
        "kwargs": kwargs,
        **config,
    }
    return (admin if privileged else target.url), admin, args


def _deserialized(results: list[Result], deserializer: Callable[..., Any] | None) -> list[Result]:
    """Results with each item's value passed through LangGraph's `deserializer` (given the
    value's JSON bytes, as PostgresStore gives it)."""
    if deserializer is None:
        return results
    items = [r for r in results if isinstance(r, Item)]
    items += [i for r in results if isinstance(r, list) for i in r if isinstance(i, Item)]
    for item in items:
        item.value = deserializer(json.dumps(item.value).encode())
    return results


class _AlmaStoreBase(BaseStore):
    """What the sync and async stores share: configuration and tenancy."""

    supports_ttl = True

    def __init__(
        self,
        conn: Any,
        *,
        pipe: Any = None,
        deserializer: Callable[[Any], dict[str, Any]] | None = None,
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        tenant_id: str | None = None,
        privileged: bool = False,
        max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
        exact_search_max: int = DEFAULT_EXACT_SEARCH_MAX,
        admin_url: str | None = None,
        read: Any = None,
        text_config: str | None = None,
        text_weight: float | None = None,
    ) -> None:
        """`conn`: a connection (autocommit) or a pool. `pipe` and `deserializer` are
        PostgresStore's: `pipe` is not needed (each batch is already one pipeline, one
        round trip) and is ignored; `deserializer` gets each value's JSON bytes. `read`:
        a pool (or connection) on a streaming replica for batches that write nothing
        (gets and searches that refresh no TTL, namespace listings), used only once it
        shows this store's own writes (else the primary answers: `db.replica`)."""
        if isinstance(conn, psycopg.Connection | psycopg.AsyncConnection) and not conn.autocommit:
            raise ConfigError("AlmaStore needs a connection opened with autocommit=True")
        self.conn = conn
        self.read = ReadRoute(read) if read is not None else None
        self.pipe = pipe
        self._deserializer = deserializer
        settings = get_settings()
        self._retry_attempts = settings.store_retry_attempts
        # (connection, lock) of the `atomic` block this thread or task is in, if any.
        self._pinned: ContextVar[Any] = ContextVar(f"alma_store_{id(self)}", default=None)
        self.index_config = index
        self.ttl_config = ttl
        self._admin_url = admin_url
        self._core = StoreCore(
            tenant_id=tenant_id,
            default_tenant=settings.tenant_id,
            index=index,
            ttl=ttl,
            privileged=privileged,
            max_value_bytes=max_value_bytes,
            exact_search_max=exact_search_max,
            limits=StoreLimits.from_settings(settings),
            text_config=text_config,
            text_weight=text_weight,
        )
        self._init_shell(settings.store_batch_max_ops)

    def _init_shell(self, batch_max_ops: int) -> None:
        """What the sync or async shell adds (locks, sweeper, gatherer)."""

    def _replica_may_answer(self, prepared: Prepared) -> bool:
        """A replica is configured, this batch writes nothing (no put, no TTL refresh) and
        it runs outside an atomic block."""
        return (
            self.read is not None
            and self._pinned.get() is None
            and not prepared.puts
            and not any(getattr(op, "refresh_ttl", False) for op in prepared.ops)
        )

    def _retry(self, attempt: int, exc: StoreBatchFailed, own: bool) -> float:
        """Seconds to wait before trying a failed batch again; re-raises `exc` when it is
        not a transient conflict of the batch's own transaction, or tries are used up."""
        delay = retry_delay(attempt, self._retry_attempts) if own and is_transient(exc) else None
        if delay is None:
            raise exc
        logger.debug("store batch hit %s; retrying in %.3fs", type(exc.__cause__).__name__, delay)
        return delay

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

    @property
    def privileged(self) -> bool:
        """True for a store whose role bypasses row-level security (`privileged=True`):
        it may act on every tenant (`list_tenants()`)."""
        return self._core.privileged

    @property
    def embeddings(self) -> Embeddings | None:
        """The embeddings this store indexes with (its `IndexConfig`'s), None without an
        index. `store.embeddings.embed_query("tea")` gives the vector a search would use."""
        return self._core.index.embeddings if self._core.index else None

    def tenant(self) -> str:
        """The tenant a call made now acts for: the bound one, else the current run's
        `configurable["tenant_id"]`, else the default. `store.for_tenant("acme").tenant()`."""
        return self._core.tenant()

    def prepare(self, ops: Iterable[Op]) -> Prepared:
        """Validate `ops` for this store's tenant without writing anything (raises the
        error a batch of them would); `execute_on` then runs them on a given connection.

        >>> store.prepare([PutOp(("users",), "u1", {"x": 1})]).tenant   # doctest: +SKIP
        """
        return self._core.prepare(ops)

    def _lock_name(self, key: str) -> str:
        if not isinstance(key, str) or not key:
            raise ConfigError(f"an atomic block needs a non-empty string key, got {key!r}")
        return f"{self.tenant_id or ''}\x1f{key}"

    def _sweep_minutes(self, minutes: float | None) -> float:
        minutes = minutes or (self.ttl_config or {}).get("sweep_interval_minutes") or 5
        if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not minutes > 0:
            raise ConfigError(f"sweep interval must be a positive number, got {minutes!r}")
        return float(minutes)


@contextmanager
def _one_at_a_time(conn: psycopg.Connection[Any], lock: Any) -> Iterator[Any]:
    """The connection of an `atomic` block, for one store call at a time (tasks or threads
    of the block may call concurrently; the block holds the lock only while a call runs)."""
    with lock:
        yield conn


@asynccontextmanager
async def _aone_at_a_time(
    conn: psycopg.AsyncConnection[Any], lock: asyncio.Lock
) -> AsyncIterator[Any]:
    """`_one_at_a_time`, async."""
    async with lock:
        yield conn


def _idle(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """The connection is in no transaction: a batch may open (and retry) its own."""
    return conn.info.transaction_status == TransactionStatus.IDLE


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

    def _init_shell(self, batch_max_ops: int) -> None:
        # PostgresSaver/PostgresStore have one; ours is unused: a single connection is
        # guarded by db.borrow's lock, shared by every owner of that connection.
        self.lock = threading.Lock()
        self._sweeper = ThreadSweeper("alma-store-ttl-sweeper")

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
        url, admin, args = _pool_args(
            conn_string, privileged=privileged, admin_url=admin_url, pool_size=pool_size,
            pool_config=pool_config,
        )  # fmt: skip
        read_url = read_url or get_settings().read_database_url
        with (
            ConnectionPool(url, **args) as pool,
            ConnectionPool(read_url, **args) if read_url else nullcontext() as replica,
        ):
            store = cls(
                pool, index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
                exact_search_max=exact_search_max,
                admin_url=admin, read=replica, text_config=text_config,
                text_weight=text_weight,
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
            with self.connection() as conn:
                self._setup_on(conn)

    def _setup_on(self, conn: psycopg.Connection[Any]) -> None:
        migrate(conn)
        for ddl in self._core.setup_statements():
            conn.execute(ddl)

    def connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        """A connection of this store (autocommit; inside an `atomic` block, the block's),
        for statements or plans of one transaction: `with store.connection() as conn,
        conn.transaction(): store.execute_on(conn, store.prepare(ops))`."""
        if (pinned := self._pinned.get()) is not None:
            return _one_at_a_time(*pinned)
        return borrow(self.conn, StoreClosed, "store")

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
        with self.connection() as conn, conn.transaction():
            conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set((conn, threading.RLock()))
            try:
                yield
            finally:
                self._pinned.reset(token)

    def run(self, plan: Plan[T], what: str = "store statements") -> T:
        """Drive a store plan (`db.plan`) on one of this store's connections; a database
        error raises `StoreBatchFailed` naming `what`. `store.run(plan)`."""
        try:
            with self.connection() as conn:
                return run_plan(conn, plan)
        except psycopg.Error as exc:
            raise StoreBatchFailed(what, exc) from exc

    def _embed(self, prepared: Prepared) -> tuple[list[list[float]], dict[str, list[float]]]:
        """(document vectors, query vectors) of a prepared batch."""
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index:
            embeddings = self._core.index.embeddings
            if prepared.documents:
                vectors = embeddings.embed_documents(prepared.documents)
            queries = {q: embeddings.embed_query(q) for q in prepared.queries}
        return vectors, queries

    def execute_on(self, conn: psycopg.Connection[Any], prepared: Prepared) -> list[Result]:
        """Run a batch from `prepare` on `conn`, in the caller's transaction (no retry, no
        replica): several batches and other statements then commit or roll back together.

        >>> with store.connection() as conn, conn.transaction():    # doctest: +SKIP
        ...     store.execute_on(conn, store.prepare(ops))
        """
        vectors, queries = self._embed(prepared)
        plan = self._core.execute(prepared, vectors, queries)
        return _deserialized(run_plan(conn, plan), self._deserializer)

    def _execute(self, prepared: Prepared) -> list[Result]:
        vectors, queries = self._embed(prepared)
        if self._replica_may_answer(prepared):
            assert self.read is not None
            try:
                with borrow(self.read.source, StoreClosed, "store") as conn:
                    plan = guarded(self._core.execute(prepared, vectors, queries), self.read)
                    return _deserialized(run_plan(conn, plan), self._deserializer)
            except (StaleReplica, StoreBatchFailed, psycopg.Error):
                pass  # behind this store's writes, or unreachable: the primary answers
        attempt = 0
        while True:
            own = False
            try:
                with self.connection() as conn:
                    own = _idle(conn)  # else: inside the caller's transaction (atomic)
                    plan = self._core.execute(prepared, vectors, queries, transaction=own)
                    plan = tracking(plan, self.read)
                    return _deserialized(run_plan(conn, plan), self._deserializer)
            except StoreBatchFailed as exc:
                delay = self._retry(attempt, exc, own)
            except psycopg.Error as exc:  # no connection to be had, for one
                raise StoreBatchFailed(describe_ops(prepared.ops), exc) from exc
            attempt += 1
            time.sleep(delay)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return self._execute(self._core.prepare(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        prepared = self._core.prepare(ops)  # here: the run's config is in this context
        return await asyncio.to_thread(self._execute, prepared)

    def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted."""
        return self.run(self._core.sweep(), "TTL sweep")

    def list_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return self.run(self._core.list_tenants(), "tenant list")

    def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> concurrent.futures.Future[None]:
        """Sweep expired items every `sweep_interval_minutes` (default: the TTL config's,
        else 5) in a daemon thread until `stop_ttl_sweeper()` (as PostgresStore's: the
        future is done when the sweeper stops; cancelling it stops the sweeper)."""
        interval = self._sweep_minutes(sweep_interval_minutes) * 60
        return self._sweeper.start(self.sweep_ttl, interval)

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper thread; True if it is stopped (False: `timeout` seconds passed)."""
        return self._sweeper.stop(timeout)


class AsyncAlmaStore(_AlmaStoreBase):
    """Async store for `ainvoke`/`astream` (see `AlmaStore`).

    >>> async with AsyncAlmaStore.from_conn_string() as store:   # doctest: +SKIP
    ...     await store.setup()
    ...     await store.aput(("users", "u1"), "prefs", {"theme": "dark"})
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool

    def _init_shell(self, batch_max_ops: int) -> None:
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self._sweeper = TaskSweeper("alma-store-ttl-sweeper")
        self._gatherer = OpGatherer(self._run_checked, max_ops=batch_max_ops)

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
        """An async store on a new pool (see `AlmaStore.from_conn_string`, `read_url`
        included)."""
        url, admin, args = await asyncio.to_thread(
            functools.partial(
                _pool_args, conn_string, privileged=privileged, admin_url=admin_url,
                pool_size=pool_size, pool_config=pool_config,
            )
        )  # fmt: skip
        if read_url is None:
            read_url = (await asyncio.to_thread(get_settings)).read_database_url
        async with (
            AsyncConnectionPool(url, **args, open=False) as pool,
            AsyncConnectionPool(read_url, **args, open=False)
            if read_url
            else nullcontext() as replica,
        ):
            store = cls(
                pool, index=index, ttl=ttl, tenant_id=tenant_id, privileged=privileged,
                exact_search_max=exact_search_max,
                admin_url=admin, read=replica, text_config=text_config,
                text_weight=text_weight,
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
        async with self.connection() as conn:
            await amigrate(conn)
            for stmt in ddl:
                await conn.execute(stmt)

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """`AlmaStore.connection`, async: `async with store.connection() as conn: ...`"""
        if (pinned := self._pinned.get()) is not None:
            return _aone_at_a_time(*pinned)
        return aborrow(self.conn, StoreClosed, "store")

    @asynccontextmanager
    async def aatomic(self, key: str) -> AsyncIterator[None]:
        """`AlmaStore.atomic`, async: `async with store.aatomic("progress:checkout"): ...`"""
        name = self._lock_name(key)
        if self._pinned.get() is not None:
            yield
            return
        async with self.connection() as conn, conn.transaction():
            await conn.execute(LOCK_KEY, (name,))
            token = self._pinned.set((conn, asyncio.Lock()))
            try:
                yield
            finally:
                self._pinned.reset(token)

    async def arun(self, plan: Plan[T], what: str = "store statements") -> T:
        """`AlmaStore.run`, async: `await store.arun(plan)`."""
        try:
            async with self.connection() as conn:
                return await arun_plan(conn, plan)
        except psycopg.Error as exc:
            raise StoreBatchFailed(what, exc) from exc

    async def _aembed(self, prepared: Prepared) -> tuple[list[list[float]], dict[str, list[float]]]:
        """(document vectors, query vectors) of a prepared batch."""
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index:
            embeddings = self._core.index.embeddings
            if prepared.documents:
                vectors = await embeddings.aembed_documents(prepared.documents)
            found = await asyncio.gather(*(embeddings.aembed_query(q) for q in prepared.queries))
            queries = dict(zip(prepared.queries, found, strict=True))
        return vectors, queries

    async def aexecute_on(
        self, conn: psycopg.AsyncConnection[Any], prepared: Prepared
    ) -> list[Result]:
        """`AlmaStore.execute_on`, async."""
        vectors, queries = await self._aembed(prepared)
        plan = self._core.execute(prepared, vectors, queries)
        return _deserialized(await arun_plan(conn, plan), self._deserializer)

    async def _aexecute(self, prepared: Prepared) -> list[Result]:
        vectors, queries = await self._aembed(prepared)
        if self._replica_may_answer(prepared):
            assert self.read is not None
            try:
                async with aborrow(self.read.source, StoreClosed, "store") as conn:
                    plan = guarded(self._core.execute(prepared, vectors, queries), self.read)
                    return _deserialized(await arun_plan(conn, plan), self._deserializer)
            except (StaleReplica, StoreBatchFailed, psycopg.Error):
                pass  # behind this store's writes, or unreachable: the primary answers
        attempt = 0
        while True:
            own = False
            try:
                async with self.connection() as conn:
                    own = _idle(conn)  # else: inside the caller's transaction (aatomic)
                    plan = self._core.execute(prepared, vectors, queries, transaction=own)
                    plan = tracking(plan, self.read)
                    return _deserialized(await arun_plan(conn, plan), self._deserializer)
            except StoreBatchFailed as exc:
                delay = self._retry(attempt, exc, own)
            except psycopg.Error as exc:  # no connection to be had, for one
                raise StoreBatchFailed(describe_ops(prepared.ops), exc) from exc
            attempt += 1
            await asyncio.sleep(delay)

    async def _run_checked(self, tenant: str, checked: list[CheckedOp]) -> list[Result]:
        return await self._aexecute(self._core.assemble(tenant, checked))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run `ops` as one batch, at once (see `aget` and co. for gathered calls)."""
        ops = list(ops)
        if (
            _GATHER.get()
            and len(ops) == 1
            and self._pinned.get() is None  # an aatomic block runs on its own connection
            and asyncio.get_running_loop() is self.loop
        ):
            # One caller's op: checked now (its error is its own), run with the ops other
            # callers send meanwhile, as one batch per tenant.
            tenant = self._core.tenant()  # the caller's run config is in this context
            return [await self._gatherer.submit(tenant, self._core.check(ops[0]))]
        if len(ops) > OFF_LOOP_ROWS:  # checking thousands of ops: not on the event loop
            return await self._aexecute(await off_loop(self._core.prepare, ops))
        return await self._aexecute(self._core.prepare(ops))

    # LangGraph's single-op methods, unchanged, except that their op is gathered.
    aget = _gathered(BaseStore.aget)
    asearch = _gathered(BaseStore.asearch)
    aput = _gathered(BaseStore.aput)
    adelete = _gathered(BaseStore.adelete)
    alist_namespaces = _gathered(BaseStore.alist_namespaces)

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        # Sync callers (a sync graph on an async store) run on the store's event loop;
        # the tenant is read here, where the run's config is.
        prepared = self._core.prepare(ops)
        return self._sync(self._aexecute(prepared))

    def _sync(self, coro: Any) -> Any:
        return run_on_loop(self.loop, coro, "AsyncAlmaStore")

    async def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted (a
        coroutine, as AsyncPostgresStore's)."""
        return await self.arun(self._core.sweep(), "TTL sweep")

    asweep_ttl = sweep_ttl

    async def alist_tenants(self) -> list[str]:
        """Every tenant that has items; needs a privileged store."""
        return await self.arun(self._core.list_tenants(), "tenant list")

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: int | None = None
    ) -> asyncio.Task[None]:
        """Sweep expired items periodically in a task on the store's loop until
        `await stop_ttl_sweeper()`; returns the task (as AsyncPostgresStore's:
        `await store.start_ttl_sweeper()`)."""
        interval = self._sweep_minutes(sweep_interval_minutes) * 60
        return self._sweeper.start(self.loop, self.sweep_ttl, interval)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper task; True once it is stopped (False: `timeout` seconds passed)."""
        return await self._sweeper.stop(timeout)


__all__ = ["AlmaStore", "AsyncAlmaStore", "StoreClosed"]
