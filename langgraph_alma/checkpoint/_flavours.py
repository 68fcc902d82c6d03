"""What is proper to each saver flavour, which `scripts/unasync.py` does not generate:
`_OnEventLoop` (the async saver: sync callers run on its event loop, its TTL sweeper is a
task there) and `_OnThreads` (the sync saver: async callers get a worker thread, its
sweeper is a daemon thread). Both extend `_AlmaSaverBase`; `checkpoint/saver.py` builds the
savers on them.
"""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)

from langgraph_alma.checkpoint._base import _AlmaSaverBase
from langgraph_alma.checkpoint.retention import ExpiredThread
from langgraph_alma.db.loop import run_on_loop
from langgraph_alma.db.sweeper import TaskSweeper, ThreadSweeper


class _OnThreads(_AlmaSaverBase):
    """What only the sync saver has: async callers get the sync methods run in a worker
    thread, and its TTL sweeper is a daemon thread."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # PostgresSaver/PostgresStore have one; ours is unused: a single connection is
        # guarded by db.borrow's lock, shared by every owner of that connection.
        self.lock = threading.Lock()
        self._sweeper = ThreadSweeper("alma-saver-ttl-sweeper")

    @property
    def _saver(self) -> Any:
        """This saver, untyped: the methods it calls here are defined by its subclass."""
        return self

    def start_ttl_sweeper(self, sweep_interval_minutes: float | None = None) -> threading.Thread:
        """Sweep every `sweep_interval_minutes` (default: the ttl's) in a daemon thread
        until `stop_ttl_sweeper()`."""
        self._sweeper.start(self._saver.sweep_ttl, self._sweep_seconds(sweep_interval_minutes))
        assert self._sweeper.thread is not None
        return self._sweeper.thread

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


class _OnEventLoop(_AlmaSaverBase):
    """What only the async saver has: it lives on the event loop it was made on, sync
    callers (a sync graph on an async saver) run there, and its TTL sweeper is a task."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock = asyncio.Lock()  # as PostgresSaver's; unused (see `_OnThreads`)
        self.loop = asyncio.get_running_loop()
        self._sweeper = TaskSweeper("alma-saver-ttl-sweeper")

    @property
    def _saver(self) -> Any:
        """This saver, untyped: the methods it calls here are defined by its subclass."""
        return self

    async def start_ttl_sweeper(
        self, sweep_interval_minutes: float | None = None
    ) -> asyncio.Task[None]:
        """Sweep periodically in a task on the saver's loop until
        `await stop_ttl_sweeper()`: `await saver.start_ttl_sweeper()`."""
        interval = self._sweep_seconds(sweep_interval_minutes)
        return self._sweeper.start(self.loop, self._saver.asweep_ttl, interval)

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
        yield from self._sync(
            self._saver._aread(
                lambda: self._core.list(config, filter=filter, before=before, limit=limit)
            )
        )

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

    def sweep_ttl(
        self, *, all_tenants: bool = False, now: datetime | None = None, pace: float = 4.0
    ) -> builtins.list[ExpiredThread]:
        """Sync `asweep_ttl`, from a thread other than the event loop's."""
        return self._sync(self._saver.asweep_ttl(all_tenants=all_tenants, now=now, pace=pace))

    def expired_threads(
        self, limit: int = 100, *, all_tenants: bool = False, now: datetime | None = None
    ) -> builtins.list[ExpiredThread]:
        """Sync `aexpired_threads`."""
        return self._sync(self._saver.aexpired_threads(limit, all_tenants=all_tenants, now=now))

    def set_thread_ttl(self, thread_id: str, ttl_minutes: float | None) -> None:
        """Sync `aset_thread_ttl`."""
        self._sync(self._saver.aset_thread_ttl(thread_id, ttl_minutes))

    def inactive_threads(
        self, older_than: timedelta, limit: int = 1000, *, all_tenants: bool = False
    ) -> builtins.list[ExpiredThread]:
        """Sync `ainactive_threads`."""
        return self._sync(self._saver.ainactive_threads(older_than, limit, all_tenants=all_tenants))

    def delete_threads(self, threads: Sequence[ExpiredThread]) -> int:
        """Sync `adelete_threads`."""
        return self._sync(self._saver.adelete_threads(threads))
