"""`AsyncAlmaSaver` and `AlmaSaver`: LangGraph checkpointers on PostgreSQL.

Both are thin shells over `SaverCore` plans: they pick a connection (from a pool, with no
instance-wide lock, or a single connection guarded by a lock) and drive the plan.
`AlmaSaver` is GENERATED from `AsyncAlmaSaver` by `scripts/unasync.py`: edit the async class
only. What they share is in `checkpoint/_base.py`; what differs between them by nature
(the other flavour's callers, the sweeper's thread or task), in `checkpoint/_flavours.py`;
their connection handling (`from_conn_string`'s pools, `setup()`'s connection), shared
with the store, in `db/pools.py`.
"""

from __future__ import annotations

import asyncio
import builtins
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.checkpoint import retention
from langgraph_alma.checkpoint._base import SaverClosed
from langgraph_alma.checkpoint._coalesce import AsyncOutbox, Outbox
from langgraph_alma.checkpoint._core import ThreadSummary
from langgraph_alma.checkpoint._flavours import _OnEventLoop, _OnThreads
from langgraph_alma.checkpoint.retention import ExpiredThread, ThreadTTL
from langgraph_alma.db.plan import Plan, arun_plan, run_plan
from langgraph_alma.db.pools import AsyncPooled, Pooled, pool_plan
from langgraph_alma.db.replica import StaleReplica, guarded
from langgraph_alma.migrations import amigrate, migrate

__all__ = ["AlmaSaver", "AsyncAlmaSaver", "SaverClosed"]

T = TypeVar("T")
# A sweep racing writers may meet these: its transaction is tried again, up to 5 times.
_TRANSIENT = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_ATTEMPTS = 5


class AsyncAlmaSaver(_OnEventLoop, AsyncPooled):
    """A LangGraph checkpointer: pass it as `checkpointer=` to `StateGraph.compile()`.

    >>> async with AsyncAlmaSaver.from_conn_string() as saver:   # doctest: +SKIP
    ...     await saver.setup()
    ...     graph = builder.compile(checkpointer=saver)
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool
    _outbox_type = AsyncOutbox
    _outbox: AsyncOutbox
    _closed_error = SaverClosed
    _owner = "saver"

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool,
        pipe: psycopg.AsyncPipeline | None = None,
        serde: SerializerProtocol | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn, pipe, serde, **kwargs)

    @classmethod
    @asynccontextmanager
    async def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        pipeline: bool = False,
        pool_size: int | None = None,
        tenant_id: str | None = None,
        serde: SerializerProtocol | None = None,
        ttl: ThreadTTL | Mapping[str, Any] | None = None,
        read_url: str | None = None,
    ) -> AsyncIterator[AsyncAlmaSaver]:
        """A saver on a new pool of `pool_size` connections (default from settings);
        with no URL, on `ALMA_DATABASE_URL` or the embedded server. `pipeline` is
        accepted as PostgresSaver accepts it and changes nothing: each operation is
        already one statement in one round trip. `read_url` (default
        `ALMA_READ_DATABASE_URL`): a streaming replica for `list` (history)."""
        plan = await asyncio.to_thread(
            pool_plan, conn_string, read_url=read_url, pool_size=pool_size
        )
        async with cls._opened(plan, tenant_id=tenant_id, serde=serde, ttl=ttl) as saver:
            try:
                yield saver
            finally:
                saver._outbox.send_due()  # held writes go before the pool closes

    async def setup(self) -> None:
        """Apply the schema migrations (idempotent, safe to run from several processes)."""
        async with self._setup_connection() as conn:
            await amigrate(conn)

    async def arun(self, plan: Plan[T], *, transaction: bool = False) -> T:
        """Drive a `SaverCore` plan (`self.core`'s, say) on one of this saver's
        connections; `transaction=True`: all its statements in one transaction."""
        async with self._connection() as conn:
            return await arun_plan(conn, plan, transaction=transaction)

    async def _aread(self, make: Callable[[], Plan[T]]) -> T:
        """`make()`'s plan on the replica when it shows this saver's writes, else here."""
        if self.read is not None:
            try:
                async with self._replica_connection() as conn:
                    return await arun_plan(conn, guarded(make(), self.read))
            except (StaleReplica, psycopg.Error):
                pass  # behind, or unreachable: the primary answers
        return await self.arun(make())

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._send_held(config)
        return await self.arun(self._core.get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        self._send_held(config)
        found = await self._aread(
            lambda: self._core.list(config, filter=filter, before=before, limit=limit)
        )
        for item in found:  # noqa: UP028 (no `yield from` in an async generator)
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        entry = self._put_entry(config, checkpoint, metadata, new_versions)
        return await self._outbox.arun(self._connection, *entry)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        entry = self._writes_entry(config, writes, task_id, task_path)
        await self._outbox.arun(self._connection, *entry)

    async def alist_threads(
        self, *, agent: str | None = None, workflow_id: str | None = None, limit: int | None = None
    ) -> builtins.list[ThreadSummary]:  # `list` here is the method
        """The tenant's threads, most recently updated first (bound tenant or the default).

        >>> await saver.for_tenant("acme").alist_threads(limit=10)     # doctest: +SKIP
        """
        plan = self._core.threads(agent=agent, workflow_id=workflow_id, limit=limit)
        return await self.arun(plan)

    async def adelete_thread(self, thread_id: str) -> None:
        await self.arun(self._core.delete_threads([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self.arun(self._core.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self.arun(
            self._core.copy_thread(source_thread_id, target_thread_id), transaction=True
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self.arun(self._core.prune(thread_ids, strategy), transaction=True)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self.arun(self._core.delta_history(config, channels))

    async def asweep_ttl(
        self, *, all_tenants: bool = False, now: datetime | None = None, pace: float = 4.0
    ) -> builtins.list[ExpiredThread]:
        """Apply the TTL strategy to up to `sweep_limit` expired threads of this saver's
        tenant (`all_tenants=True`: every tenant, on a role that bypasses row-level
        security); returns them. Safe to run from several processes. Threads go in
        transactions of at most 500, with a rest of `pace` times each one's duration
        between them (0: none), so live threads keep their speed while it sweeps.

        >>> await AsyncAlmaSaver(pool, ttl={"default_ttl": 60 * 24}).asweep_ttl()  # doctest: +SKIP
        """
        done: builtins.list[ExpiredThread] = []
        for size in self._sweep_chunks(pace):
            start = time.monotonic()
            got = await self._asweep_once(all_tenants, now, size)
            done.extend(got)
            if len(got) < size:
                break
            await asyncio.sleep(pace * (time.monotonic() - start))
        return done

    async def _asweep_once(
        self, all_tenants: bool, now: datetime | None, size: int
    ) -> builtins.list[ExpiredThread]:
        """One transaction of a sweep, tried again after a serialization failure or a
        deadlock (a sweep racing writers), after a random pause growing each time."""
        for attempt in range(_ATTEMPTS):
            try:
                plan = self._sweep_plan(all_tenants, now, size)
                return await self.arun(plan, transaction=True)
            except _TRANSIENT:
                if attempt == _ATTEMPTS - 1:
                    raise
                await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    async def aexpired_threads(
        self, limit: int = 100, *, all_tenants: bool = False, now: datetime | None = None
    ) -> builtins.list[ExpiredThread]:
        """Threads past their TTL that the next sweep would take, oldest expiry first."""
        return await self.arun(self._expired_plan(limit, all_tenants, now))

    async def aset_thread_ttl(self, thread_id: str, ttl_minutes: float | None) -> None:
        """Pin one thread's TTL in minutes, counted from its last write (None: it never
        expires), as `configurable["thread_ttl"]` does on a run."""
        await self.arun(self._set_ttl_plan(thread_id, ttl_minutes))

    async def ainactive_threads(
        self, older_than: timedelta, limit: int = 1000, *, all_tenants: bool = False
    ) -> builtins.list[ExpiredThread]:
        """Threads whose newest checkpoint is older than `older_than`, oldest first,
        whether or not a TTL was set (a scan of the checkpoints: for administration)."""
        return await self.arun(self._inactive_plan(older_than, limit, all_tenants))

    async def adelete_threads(self, threads: Sequence[ExpiredThread]) -> int:
        """Delete these threads (of any tenant the role may reach) in one transaction."""
        plan = retention.delete_inactive(self._core, list(threads))
        return await self.arun(plan, transaction=True)

    async def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper; True once it is stopped (False: `timeout` seconds passed)."""
        return await self._sweeper.stop(timeout)


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class AlmaSaver(_OnThreads, Pooled):
    """A LangGraph checkpointer: pass it as `checkpointer=` to `StateGraph.compile()`.

    >>> with AlmaSaver.from_conn_string() as saver:   # doctest: +SKIP
    ...     saver.setup()
    ...     graph = builder.compile(checkpointer=saver)
    """

    conn: psycopg.Connection[Any] | ConnectionPool
    _outbox_type = Outbox
    _outbox: Outbox
    _closed_error = SaverClosed
    _owner = "saver"

    def __init__(
        self,
        conn: psycopg.Connection[Any] | ConnectionPool,
        pipe: psycopg.Pipeline | None = None,
        serde: SerializerProtocol | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn, pipe, serde, **kwargs)

    @classmethod
    @contextmanager
    def from_conn_string(
        cls,
        conn_string: str | None = None,
        *,
        pipeline: bool = False,
        pool_size: int | None = None,
        tenant_id: str | None = None,
        serde: SerializerProtocol | None = None,
        ttl: ThreadTTL | Mapping[str, Any] | None = None,
        read_url: str | None = None,
    ) -> Iterator[AlmaSaver]:
        """A saver on a new pool of `pool_size` connections (default from settings);
        with no URL, on `ALMA_DATABASE_URL` or the embedded server. `pipeline` is
        accepted as PostgresSaver accepts it and changes nothing: each operation is
        already one statement in one round trip. `read_url` (default
        `ALMA_READ_DATABASE_URL`): a streaming replica for `list` (history)."""
        plan = pool_plan(conn_string, read_url=read_url, pool_size=pool_size)
        with cls._opened(plan, tenant_id=tenant_id, serde=serde, ttl=ttl) as saver:
            try:
                yield saver
            finally:
                saver._outbox.send_due()  # held writes go before the pool closes

    def setup(self) -> None:
        """Apply the schema migrations (idempotent, safe to run from several processes)."""
        with self._setup_connection() as conn:
            migrate(conn)

    def run(self, plan: Plan[T], *, transaction: bool = False) -> T:
        """Drive a `SaverCore` plan (`self.core`'s, say) on one of this saver's
        connections; `transaction=True`: all its statements in one transaction."""
        with self._connection() as conn:
            return run_plan(conn, plan, transaction=transaction)

    def _read(self, make: Callable[[], Plan[T]]) -> T:
        """`make()`'s plan on the replica when it shows this saver's writes, else here."""
        if self.read is not None:
            try:
                with self._replica_connection() as conn:
                    return run_plan(conn, guarded(make(), self.read))
            except (StaleReplica, psycopg.Error):
                pass  # behind, or unreachable: the primary answers
        return self.run(make())

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        self._send_held(config)
        return self.run(self._core.get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        self._send_held(config)
        found = self._read(
            lambda: self._core.list(config, filter=filter, before=before, limit=limit)
        )
        for item in found:  # noqa: UP028 (no `yield from` in an async generator)
            yield item

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        entry = self._put_entry(config, checkpoint, metadata, new_versions)
        return self._outbox.run(self._connection, *entry)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        entry = self._writes_entry(config, writes, task_id, task_path)
        self._outbox.run(self._connection, *entry)

    def list_threads(
        self, *, agent: str | None = None, workflow_id: str | None = None, limit: int | None = None
    ) -> builtins.list[ThreadSummary]:  # `list` here is the method
        """The tenant's threads, most recently updated first (bound tenant or the default).

        >>> saver.for_tenant("acme").list_threads(limit=10)     # doctest: +SKIP
        """
        plan = self._core.threads(agent=agent, workflow_id=workflow_id, limit=limit)
        return self.run(plan)

    def delete_thread(self, thread_id: str) -> None:
        self.run(self._core.delete_threads([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.run(self._core.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.run(self._core.copy_thread(source_thread_id, target_thread_id), transaction=True)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self.run(self._core.prune(thread_ids, strategy), transaction=True)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self.run(self._core.delta_history(config, channels))

    def sweep_ttl(
        self, *, all_tenants: bool = False, now: datetime | None = None, pace: float = 4.0
    ) -> builtins.list[ExpiredThread]:
        """Apply the TTL strategy to up to `sweep_limit` expired threads of this saver's
        tenant (`all_tenants=True`: every tenant, on a role that bypasses row-level
        security); returns them. Safe to run from several processes. Threads go in
        transactions of at most 500, with a rest of `pace` times each one's duration
        between them (0: none), so live threads keep their speed while it sweeps.

        >>> AlmaSaver(pool, ttl={"default_ttl": 60 * 24}).sweep_ttl()  # doctest: +SKIP
        """
        done: builtins.list[ExpiredThread] = []
        for size in self._sweep_chunks(pace):
            start = time.monotonic()
            got = self._sweep_once(all_tenants, now, size)
            done.extend(got)
            if len(got) < size:
                break
            time.sleep(pace * (time.monotonic() - start))
        return done

    def _sweep_once(
        self, all_tenants: bool, now: datetime | None, size: int
    ) -> builtins.list[ExpiredThread]:
        """One transaction of a sweep, tried again after a serialization failure or a
        deadlock (a sweep racing writers), after a random pause growing each time."""
        for attempt in range(_ATTEMPTS):
            try:
                plan = self._sweep_plan(all_tenants, now, size)
                return self.run(plan, transaction=True)
            except _TRANSIENT:
                if attempt == _ATTEMPTS - 1:
                    raise
                time.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    def expired_threads(
        self, limit: int = 100, *, all_tenants: bool = False, now: datetime | None = None
    ) -> builtins.list[ExpiredThread]:
        """Threads past their TTL that the next sweep would take, oldest expiry first."""
        return self.run(self._expired_plan(limit, all_tenants, now))

    def set_thread_ttl(self, thread_id: str, ttl_minutes: float | None) -> None:
        """Pin one thread's TTL in minutes, counted from its last write (None: it never
        expires), as `configurable["thread_ttl"]` does on a run."""
        self.run(self._set_ttl_plan(thread_id, ttl_minutes))

    def inactive_threads(
        self, older_than: timedelta, limit: int = 1000, *, all_tenants: bool = False
    ) -> builtins.list[ExpiredThread]:
        """Threads whose newest checkpoint is older than `older_than`, oldest first,
        whether or not a TTL was set (a scan of the checkpoints: for administration)."""
        return self.run(self._inactive_plan(older_than, limit, all_tenants))

    def delete_threads(self, threads: Sequence[ExpiredThread]) -> int:
        """Delete these threads (of any tenant the role may reach) in one transaction."""
        plan = retention.delete_inactive(self._core, list(threads))
        return self.run(plan, transaction=True)

    def stop_ttl_sweeper(self, timeout: float | None = None) -> bool:
        """Stop the sweeper; True once it is stopped (False: `timeout` seconds passed)."""
        return self._sweeper.stop(timeout)
