"""What is proper to each store flavour, which `scripts/unasync.py` does not generate:
`_OnEventLoop` (the async store: single-op calls are gathered into batches (`_batching`),
sync callers run on its event loop, queries are embedded concurrently, its TTL sweeper is a
task there) and `_OnThreads` (the sync store: the single-op calls threads make at once are
gathered into shared batches (`_batching.ThreadGatherer`), async callers get a worker
thread, its sweeper is a daemon thread). Both extend `_AlmaStoreBase`; `store.py`
builds the stores on them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import psycopg
from langgraph.store.base import BaseStore, Op, PutOp, Result, SearchOp
from psycopg_pool import AsyncConnectionPool, ConnectionPool, PoolClosed

from langgraph_alma.config import Settings
from langgraph_alma.db.loop import run_on_loop
from langgraph_alma.db.plan import OFF_LOOP_ROWS, off_loop
from langgraph_alma.db.sweeper import SweepDone, TaskSweeper, ThreadSweeper
from langgraph_alma.db.warm import TaskWarmConnections, ThreadWarmConnections
from langgraph_alma.store._backlog import BacklogKey, Backlogs
from langgraph_alma.store._base import Vectors, _AlmaStoreBase, blocking_only
from langgraph_alma.store._batching import OpGatherer, ThreadGatherer
from langgraph_alma.store._core import CheckedOp, Prepared

# The background indexer ends after this many rounds with nothing to index (a put that
# defers rows starts it again), so an idle store holds no thread or task.
_INDEXER_IDLE_ROUNDS = 10


@dataclass
class _Indexing:
    """The state of a store's background indexer (`_backlog`), shared by its
    `for_tenant` views: its sweeper, whether one runs (or is starting), idle rounds."""

    sweeper: Any
    interval: float
    on: bool = False
    idle: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)  # the sync store's

    def work(self, backlogs: Backlogs) -> list[BacklogKey]:
        """A round's work: the keys puts deferred rows for since the last round; after
        `_INDEXER_IDLE_ROUNDS` rounds without any, the indexer is off (`SweepDone`). Run
        as one step with the start check (under `lock`, or on the loop), so a put's
        rows are either taken here or start a new indexer."""
        keys = backlogs.take_dirty()
        if keys:
            self.idle = 0
            return keys
        self.idle += 1
        if self.idle >= _INDEXER_IDLE_ROUNDS:
            self.on, self.idle = False, 0
            raise SweepDone
        return []


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


# Set while one of AsyncAlmaStore's single-op methods (aget, aput, ...) runs: its abatch
# then queues the op to be gathered with other callers' (a direct abatch runs at once).
# AlmaStore's put and delete set it too (see `_OnThreads.batch`).
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


def _single(store: _AlmaStoreBase, ops: list[Op]) -> Op | None:
    """The op of a single-op call to gather with other callers' (`_GATHER` set, one op,
    outside an atomic block, which runs on its own connection); None: run the batch."""
    if _GATHER.get() and len(ops) == 1 and store._pinned.get() is None:
        return ops[0]
    return None


def _lane(op: Op) -> str | None:
    """The `ThreadGatherer` lane of a sync store's single op, None for an op sent alone:
    writes share a transaction and its commit; gets and searches without a query (each a
    short statement) share a round trip and the batch's opening statement, apart from
    the writes so that they never wait on a write's locks. A query search (a long
    statement of its own, most of its cost in the server) goes alone: queued one batch
    at a time, 8 threads of them ran at 0.75x the ops/s they reach side by side."""
    if isinstance(op, PutOp):
        return "writes"
    if isinstance(op, SearchOp) and op.query:
        return None
    return "reads"


def _gathered_on_thread(method: Callable[..., Any]) -> Callable[..., Any]:
    """`_gathered`, sync: `method` (one of BaseStore's single-op methods, which call
    `self.batch([op])`) with its op gathered with other threads' (`AlmaStore.batch`)."""

    @functools.wraps(method)
    def gathered(self: Any, *args: Any, **kwargs: Any) -> Any:
        token = _GATHER.set(True)
        try:
            return method(self, *args, **kwargs)
        finally:
            _GATHER.reset(token)

    return gathered


class _OnThreads(_AlmaStoreBase):
    """What only the sync store has: the single-op calls of concurrent threads are
    gathered into shared batches, async callers get the sync batch run in a worker
    thread, and its TTL sweeper is a daemon thread."""

    def _init_shell(self, settings: Settings) -> None:
        # PostgresSaver/PostgresStore have one; ours is unused: a single connection is
        # guarded by db.borrow's lock, shared by every owner of that connection.
        self.lock = threading.Lock()
        self._sweeper = ThreadSweeper("alma-store-ttl-sweeper")
        # A thread's calls in a row stay on the pool's connection it last used (`db.warm`).
        pool = self.conn if isinstance(self.conn, ConnectionPool) else None
        self._warm = ThreadWarmConnections(pool) if pool else None
        self._gatherer = ThreadGatherer(self._run_checked, max_ops=settings.store_batch_max_ops)
        self._init_indexer(settings)

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        if self._warm is None:
            return super()._connection()  # type: ignore[misc]  # Pooled, the shell's other base, has it
        return self._warm_connection(self._warm)

    @contextmanager
    def _warm_connection(self, warm: ThreadWarmConnections) -> Iterator[psycopg.Connection[Any]]:
        try:
            with warm.connection() as conn:
                yield conn
        except PoolClosed as exc:
            closed: Any = getattr(self, "_closed_error", RuntimeError)
            raise closed(f"this store's connection pool is closed: {exc}") from exc

    @staticmethod
    def _block_lock() -> Any:
        """The lock an `atomic` block's calls take turns with (reentrant: a call may make
        another on the same thread)."""
        return threading.RLock()

    def _execute(self, prepared: Prepared) -> list[Result]:
        raise NotImplementedError  # AlmaStore's (generated in store.py)

    def _release_connections(self) -> None:
        """Give the pool back the connection kept warm (before it closes)."""
        if self._warm is not None:
            self._warm.close()

    def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted."""
        raise NotImplementedError  # AlmaStore's (generated in store.py)

    def _run_checked(self, tenant: str, checked: list[CheckedOp]) -> list[Result]:
        return self._execute(self._core.assemble(tenant, checked))

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run `ops` as one batch, at once (`get`, `put`, `search`... are gathered with
        other threads' calls: see `_batching.ThreadGatherer`)."""
        ops = list(ops)
        if (op := _single(self, ops)) is not None and (lane := _lane(op)) is not None:
            # One thread's op: checked now (its error is its own), run in one batch with
            # the ops of its lane other threads of its tenant send meanwhile.
            tenant = self._core.tenant()  # the caller's run config is in this context
            return [self._gatherer.submit(tenant, self._core.check(op), lane)]
        return self._execute(self._core.prepare(ops))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        prepared = self._core.prepare(ops)  # here: the run's config is in this context
        return await asyncio.to_thread(self._execute, prepared)

    # LangGraph's single-op methods (each a batch of one op), named here as the twins of
    # the async store's gathered ones: their ops are gathered with other threads'.
    get = _gathered_on_thread(BaseStore.get)
    search = _gathered_on_thread(BaseStore.search)
    put = _gathered_on_thread(BaseStore.put)
    delete = _gathered_on_thread(BaseStore.delete)
    list_namespaces = _gathered_on_thread(BaseStore.list_namespaces)

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

    # -- the HNSW backlog's indexer (`_backlog`) -------------------------------------
    def _init_indexer(self, settings: Settings) -> None:
        self._indexing = _Indexing(
            ThreadSweeper("alma-store-indexer"), settings.store_index_interval_seconds
        )
        if settings.store_index_background:
            self._core.backlogs.on_deferred = self._indexer_wanted

    def _drain(
        self,
        tenants: Iterable[str],
        max_rows: int | None = None,
        stopping: Any = bool,
        background: bool = False,
    ) -> int:
        raise NotImplementedError  # AlmaStore's (generated in store.py)

    def _indexer_wanted(self) -> None:
        """A put deferred rows: start the indexer thread unless one runs."""
        state = self._indexing
        with state.lock:
            if not state.on:
                state.on = True
                state.sweeper = ThreadSweeper("alma-store-indexer")
                state.sweeper.start(self._index_round, state.interval)

    def _index_round(self) -> None:
        state = self._indexing
        with state.lock:
            keys = state.work(self._core.backlogs)
            sweeper = state.sweeper
        try:
            self._drain([t for t, _ in keys], stopping=sweeper.stopping, background=True)
        except getattr(self, "_closed_error", RuntimeError) as exc:
            with state.lock:
                state.on = False
            raise SweepDone from exc
        except Exception:
            self._core.backlogs.mark_dirty(keys)
            raise

    def start_indexer(
        self, interval_seconds: float | None = None
    ) -> concurrent.futures.Future[None]:
        """Move the vectors puts left outside the HNSW index into it every
        `interval_seconds` (default `store_index_interval_seconds`) in a daemon thread, a
        chunk per transaction; it ends after a while with nothing to do. A put that
        defers rows starts it by itself (`store_index_background`)."""
        state = self._indexing
        with state.lock:
            if not (state.on and state.sweeper.running()):
                state.on = True
                state.sweeper = ThreadSweeper("alma-store-indexer")
            return state.sweeper.start(self._index_round, interval_seconds or state.interval)

    def stop_indexer(self, timeout: float | None = None) -> bool:
        """Stop the indexer thread (a chunk in flight finishes); True once it is stopped."""
        state = self._indexing
        with state.lock:
            state.on = False
            sweeper = state.sweeper
        return sweeper.stop(timeout)


class _OnEventLoop(_AlmaStoreBase):
    """What only the async store has: its single-op calls are gathered into batches, sync
    callers run on its event loop, and its TTL sweeper is a task there."""

    def _init_shell(self, settings: Settings) -> None:
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()
        self._sweeper = TaskSweeper("alma-store-ttl-sweeper")
        # Several batches in flight on a pool (`store_batch_connections`); a single
        # connection runs one at a time anyway.
        pool = self.conn if isinstance(self.conn, AsyncConnectionPool) else None
        inflight = min(pool.max_size if pool else 1, settings.store_batch_connections)
        self._gatherer = OpGatherer(
            self._run_checked, max_ops=settings.store_batch_max_ops, max_inflight=inflight
        )
        # The pool's most recently used connections first, so that one caller's calls
        # in a row stay on one (warm) server backend (`db.warm`): as many as the
        # gatherer runs batches at once.
        self._warm = TaskWarmConnections(pool, keep=inflight) if pool else None
        self._init_indexer(settings)

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        if self._warm is None:
            return super()._connection()  # type: ignore[misc]  # AsyncPooled, the other base, has it
        return self._warm_connection(self._warm)

    @asynccontextmanager
    async def _warm_connection(
        self, warm: TaskWarmConnections
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        try:
            async with warm.connection() as conn:
                yield conn
        except PoolClosed as exc:
            closed: Any = getattr(self, "_closed_error", RuntimeError)
            raise closed(f"this store's connection pool is closed: {exc}") from exc

    async def _release_connections(self) -> None:
        """Give the pool back the connections kept warm (before it closes)."""
        if self._warm is not None:
            await self._warm.aclose()

    @staticmethod
    def _block_lock() -> Any:
        """The lock an `aatomic` block's calls take turns with."""
        return asyncio.Lock()

    async def _aembed(self, prepared: Prepared) -> Vectors:
        """(document vectors, query vectors) of a prepared batch: in one worker thread
        when the embedder has no async code of its own (its async methods would take a
        thread each), else with its async methods, the queries concurrently."""
        vectors: list[list[float]] = []
        queries: dict[str, list[float]] = {}
        if self._core.index and (prepared.documents or prepared.queries):
            embeddings = self._core.index.embeddings
            if blocking_only(embeddings):
                return await off_loop(self._embed, prepared)
            if prepared.documents:
                vectors = await embeddings.aembed_documents(prepared.documents)
            found = await asyncio.gather(*(embeddings.aembed_query(q) for q in prepared.queries))
            queries = dict(zip(prepared.queries, found, strict=True))
        return vectors, queries

    async def _aexecute(self, prepared: Prepared) -> list[Result]:
        raise NotImplementedError  # AsyncAlmaStore's (store.py)

    async def sweep_ttl(self) -> int:
        """Delete expired items (of every tenant); returns how many were deleted (a
        coroutine, as AsyncPostgresStore's)."""
        raise NotImplementedError  # AsyncAlmaStore's (store.py)

    async def asweep_ttl(self) -> int:
        """`sweep_ttl` (already a coroutine, as AsyncPostgresStore's) under its `a` name."""
        return await self.sweep_ttl()

    async def _run_checked(self, tenant: str, checked: list[CheckedOp]) -> list[Result]:
        return await self._aexecute(self._core.assemble(tenant, checked))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run `ops` as one batch, at once (see `aget` and co. for gathered calls)."""
        ops = list(ops)
        if (op := _single(self, ops)) is not None and asyncio.get_running_loop() is self.loop:
            # One caller's op: checked now (its error is its own), run with the ops other
            # callers send meanwhile, as one batch per tenant.
            tenant = self._core.tenant()  # the caller's run config is in this context
            return [await self._gatherer.submit(tenant, self._core.check(op))]
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

    # -- the HNSW backlog's indexer (`_backlog`) -------------------------------------
    def _init_indexer(self, settings: Settings) -> None:
        self._indexing = _Indexing(
            TaskSweeper("alma-store-indexer"), settings.store_index_interval_seconds
        )
        if settings.store_index_background:
            self._core.backlogs.on_deferred = self._indexer_wanted

    async def _adrain(
        self,
        tenants: Iterable[str],
        max_rows: int | None = None,
        stopping: Any = bool,
        background: bool = False,
    ) -> int:
        raise NotImplementedError  # AsyncAlmaStore's (store.py)

    def _indexer_wanted(self) -> None:
        """A put deferred rows (on any thread): start the indexer task unless one runs."""
        with contextlib.suppress(RuntimeError):  # the store's loop is closed
            self.loop.call_soon_threadsafe(self._wake_indexer)

    def _wake_indexer(self) -> None:
        state = self._indexing  # on the loop: no lock needed
        if not state.on:
            state.on = True
            state.sweeper = TaskSweeper("alma-store-indexer")
            state.sweeper.start(self.loop, self._index_round, state.interval)

    async def _index_round(self) -> None:
        state = self._indexing
        keys = state.work(self._core.backlogs)
        try:
            await self._adrain(
                [t for t, _ in keys], stopping=state.sweeper.stopping, background=True
            )
        except getattr(self, "_closed_error", RuntimeError) as exc:
            state.on = False
            raise SweepDone from exc
        except Exception:
            self._core.backlogs.mark_dirty(keys)
            raise

    async def start_indexer(self, interval_seconds: float | None = None) -> asyncio.Task[None]:
        """Move the vectors puts left outside the HNSW index into it every
        `interval_seconds` (default `store_index_interval_seconds`) in a task on the
        store's loop, a chunk per transaction; it ends after a while with nothing to do. A
        put that defers rows starts it by itself (`store_index_background`)."""
        state = self._indexing
        if not (state.on and state.sweeper.task is not None and not state.sweeper.task.done()):
            state.on = True
            state.sweeper = TaskSweeper("alma-store-indexer")
        task: asyncio.Task[None] = state.sweeper.start(
            self.loop, self._index_round, interval_seconds or state.interval
        )
        return task

    async def stop_indexer(self, timeout: float | None = None) -> bool:
        """Stop the indexer task (a chunk in flight finishes); True once it is stopped."""
        state = self._indexing
        state.on = False
        stopped: bool = await state.sweeper.stop(timeout)
        return stopped
