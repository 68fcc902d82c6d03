"""`AlmaSaver` and `AsyncAlmaSaver`: LangGraph checkpointers on PostgreSQL.

Both are thin shells over `SaverCore` plans: they pick a connection (from a pool, with no
instance-wide lock, or a single connection guarded by a lock) and drive the plan.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import threading
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from typing import Any, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.checkpoint._core import SaverCore, ThreadSummary
from langgraph_alma.checkpoint._delta import ChannelMemory
from langgraph_alma.config import Settings, get_settings
from langgraph_alma.db.borrow import aborrow, borrow
from langgraph_alma.db.connect import connection_kwargs, resolve
from langgraph_alma.db.loop import run_on_loop
from langgraph_alma.db.plan import Plan, arun_plan, run_plan
from langgraph_alma.errors import AlmaError, ConfigError
from langgraph_alma.migrations import amigrate, migrate

T = TypeVar("T")


class SaverClosed(AlmaError):
    """The saver's connection or pool is closed."""


def _check_tenant(tenant_id: Any, *, allow_none: bool) -> None:
    if tenant_id is None and allow_none:
        return
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ConfigError(f"tenant_id must be a non-empty string, got {tenant_id!r}")


class _AlmaSaverBase(BaseCheckpointSaver[str]):
    """What the sync and async savers share: configuration, tenancy and versions."""

    def __init__(
        self,
        conn: Any,
        pipe: Any = None,
        serde: SerializerProtocol | None = None,
        *,
        tenant_id: str | None = None,
        settings: Settings | None = None,
        admin_url: str | None = None,
    ) -> None:
        super().__init__(serde=serde)
        settings = settings or get_settings()
        _check_tenant(tenant_id, allow_none=True)
        if isinstance(conn, psycopg.Connection | psycopg.AsyncConnection) and not conn.autocommit:
            raise ConfigError("AlmaSaver needs a connection opened with autocommit=True")
        if pipe is not None and isinstance(conn, ConnectionPool | AsyncConnectionPool):
            raise ConfigError("a pipeline goes with a single connection, not a connection pool")
        self.conn = conn
        # Accepted as PostgresSaver accepts it; not needed: every get_tuple, list, put and
        # put_writes is already one statement in one round trip.
        self.pipe = pipe
        self._admin_url = admin_url
        self._core = SaverCore(
            self.serde,
            tenant_id=tenant_id,
            default_tenant=settings.tenant_id,
            max_state_bytes=settings.max_state_bytes,
            max_chain=settings.delta_max_chain,
            memory=ChannelMemory(settings.cache_size),
            writes_async_commit=settings.writes_async_commit,
        )

    @property
    def tenant_id(self) -> str | None:
        """The tenant this saver is bound to (None: taken from each call's config)."""
        return self._core.tenant_id

    def for_tenant(self: T, tenant_id: str) -> T:
        """A view of this saver bound to `tenant_id`, sharing its connections.

        >>> acme = saver.for_tenant("acme"); acme.delete_thread("t1")   # doctest: +SKIP
        """
        _check_tenant(tenant_id, allow_none=False)
        clone = copy.copy(self)
        clone._core = copy.copy(self._core)  # type: ignore[attr-defined]
        clone._core.tenant_id = tenant_id  # type: ignore[attr-defined]
        return clone

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> Any:
        clone = super().with_allowlist(extra_allowlist)
        if clone is not self:
            clone._core = copy.copy(self._core)
            clone._core.serde = clone.serde
        return clone

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        return SaverCore.next_version(current)


class AlmaSaver(_AlmaSaverBase):
    """Sync checkpointer. Pass it as `checkpointer=` to `StateGraph.compile()`.

    >>> with AlmaSaver.from_conn_string() as saver:          # doctest: +SKIP
    ...     saver.setup()
    ...     graph = builder.compile(checkpointer=saver)
    """

    conn: psycopg.Connection[Any] | ConnectionPool

    def __init__(
        self,
        conn: psycopg.Connection[Any] | ConnectionPool,
        pipe: psycopg.Pipeline | None = None,
        serde: SerializerProtocol | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn, pipe, serde, **kwargs)
        self.lock = threading.Lock()  # used only with a single connection, never a pool

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
    ) -> Iterator[AlmaSaver]:
        """A saver on a new pool of `pool_size` connections (default from settings);
        with no URL, on `ALMA_DATABASE_URL` or the embedded server. `pipeline` is
        accepted as PostgresSaver accepts it and changes nothing: each operation is
        already one statement in one round trip."""
        target = resolve(conn_string)
        with ConnectionPool(
            target.url,
            min_size=1,
            max_size=pool_size or get_settings().pool_max_size,
            kwargs=connection_kwargs(),
        ) as pool:
            yield cls(pool, tenant_id=tenant_id, serde=serde, admin_url=target.admin_url)

    def setup(self) -> None:
        """Apply the schema migrations (idempotent, safe to run from several processes)."""
        if self._admin_url:
            with psycopg.connect(self._admin_url, **connection_kwargs()) as conn:
                migrate(conn)
        else:
            with self._connection() as conn:
                migrate(conn)

    def _connection(self) -> AbstractContextManager[psycopg.Connection[Any]]:
        return borrow(self.conn, self.lock, SaverClosed, "saver")

    def _run(self, plan: Plan[T], *, transaction: bool = False) -> T:
        with self._connection() as conn:
            return run_plan(conn, plan, transaction=transaction)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._run(self._core.get_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        yield from self._run(self._core.list(config, filter=filter, before=before, limit=limit))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._run(self._core.put(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._run(self._core.put_writes(config, writes, task_id, task_path))

    def list_threads(
        self, *, agent: str | None = None, workflow_id: str | None = None, limit: int | None = None
    ) -> builtins.list[ThreadSummary]:  # `list` here is the method
        """The tenant's threads, most recently updated first (bound tenant or the default).

        >>> [t.thread_id for t in saver.for_tenant("acme").list_threads(limit=10)]  # doctest: +SKIP
        """
        return self._run(self._core.threads(agent=agent, workflow_id=workflow_id, limit=limit))

    def delete_thread(self, thread_id: str) -> None:
        self._run(self._core.delete_threads([thread_id]))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._run(self._core.delete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._run(self._core.copy_thread(source_thread_id, target_thread_id), transaction=True)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._run(self._core.prune(thread_ids, strategy), transaction=True)

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._run(self._core.delta_history(config, channels))

    # Async callers get the sync methods run in a worker thread.
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        items = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in items:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await asyncio.to_thread(
            lambda: self.get_delta_channel_history(config=config, channels=channels)
        )


class AsyncAlmaSaver(_AlmaSaverBase):
    """Async checkpointer for `ainvoke`/`astream`.

    >>> async with AsyncAlmaSaver.from_conn_string() as saver:   # doctest: +SKIP
    ...     await saver.setup()
    """

    conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool

    def __init__(
        self,
        conn: psycopg.AsyncConnection[Any] | AsyncConnectionPool,
        pipe: psycopg.AsyncPipeline | None = None,
        serde: SerializerProtocol | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(conn, pipe, serde, **kwargs)
        self.lock = asyncio.Lock()
        self.loop = asyncio.get_running_loop()

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
    ) -> AsyncIterator[AsyncAlmaSaver]:
        """An async saver on a new pool (see `AlmaSaver.from_conn_string`, `pipeline`
        included)."""
        target = await asyncio.to_thread(resolve, conn_string)
        async with AsyncConnectionPool(
            target.url,
            min_size=1,
            max_size=pool_size or get_settings().pool_max_size,
            kwargs=connection_kwargs(),
            open=False,
        ) as pool:
            yield cls(pool, tenant_id=tenant_id, serde=serde, admin_url=target.admin_url)

    async def setup(self) -> None:  # type: ignore[override]
        """Apply the schema migrations (idempotent, safe to run from several processes)."""
        if self._admin_url:
            async with await psycopg.AsyncConnection.connect(
                self._admin_url, **connection_kwargs()
            ) as conn:
                await amigrate(conn)
        else:
            async with self._connection() as conn:
                await amigrate(conn)

    def _connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        return aborrow(self.conn, self.lock, SaverClosed, "saver")

    async def _arun(self, plan: Plan[T], *, transaction: bool = False) -> T:
        async with self._connection() as conn:
            return await arun_plan(conn, plan, transaction=transaction)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return await self._arun(self._core.get_tuple(config))

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        plan = self._core.list(config, filter=filter, before=before, limit=limit)
        for item in await self._arun(plan):
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return await self._arun(self._core.put(config, checkpoint, metadata, new_versions))

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        await self._arun(self._core.put_writes(config, writes, task_id, task_path))

    async def alist_threads(
        self, *, agent: str | None = None, workflow_id: str | None = None, limit: int | None = None
    ) -> builtins.list[ThreadSummary]:  # `list` here is the method
        """Async `AlmaSaver.list_threads`."""
        plan = self._core.threads(agent=agent, workflow_id=workflow_id, limit=limit)
        return await self._arun(plan)

    async def adelete_thread(self, thread_id: str) -> None:
        await self._arun(self._core.delete_threads([thread_id]))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        await self._arun(self._core.delete_for_runs(run_ids))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._arun(
            self._core.copy_thread(source_thread_id, target_thread_id), transaction=True
        )

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        await self._arun(self._core.prune(thread_ids, strategy), transaction=True)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return await self._arun(self._core.delta_history(config, channels))

    # Sync callers (a sync graph on an async saver) run on the saver's event loop.
    def _sync(self, coro: Any) -> Any:
        return run_on_loop(self.loop, coro, "AsyncAlmaSaver")

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self._sync(self.aget_tuple(config))

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        plan = self._core.list(config, filter=filter, before=before, limit=limit)
        yield from self._sync(self._arun(plan))

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self._sync(self.aput(config, checkpoint, metadata, new_versions))

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self._sync(self.aput_writes(config, writes, task_id, task_path))

    def delete_thread(self, thread_id: str) -> None:
        self._sync(self.adelete_thread(thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self._sync(self.adelete_for_runs(run_ids))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self._sync(self.acopy_thread(source_thread_id, target_thread_id))

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        self._sync(self.aprune(thread_ids, strategy=strategy))

    def get_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return self._sync(self.aget_delta_channel_history(config=config, channels=channels))
