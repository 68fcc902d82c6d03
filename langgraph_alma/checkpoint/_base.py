"""`_AlmaSaverBase`: what both savers share (configuration, tenancy, versions, and the
plans they drive for put, put_writes, retention); `SaverClosed`. The savers themselves are
in `checkpoint/saver.py`, what is proper to each flavour in `checkpoint/_flavours.py`.
"""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.checkpoint import retention
from langgraph_alma.checkpoint._coalesce import AsyncOutbox, Hold, Outbox
from langgraph_alma.checkpoint._core import SaverCore, check_limit
from langgraph_alma.checkpoint._delta import ChannelMemory
from langgraph_alma.checkpoint.retention import (
    ExpiredThread,
    ThreadTTL,
    minutes,
    thread_ttl,
    touching,
)
from langgraph_alma.config import Settings, get_settings
from langgraph_alma.db.plan import Plan
from langgraph_alma.db.replica import ReadRoute, tracking
from langgraph_alma.errors import AlmaError, ConfigError

S = TypeVar("S", bound="_AlmaSaverBase")
# How long a run's task writes wait for the checkpoint put of their superstep (which
# LangGraph makes within a millisecond or so, once the previous put is done).
HOLD_SECONDS = 0.02


class SaverClosed(AlmaError):
    """The saver's connection or pool is closed."""


def _namespace(config: RunnableConfig) -> str:
    return (config.get("configurable") or {}).get("checkpoint_ns", "")


def _check_tenant(tenant_id: Any, *, allow_none: bool) -> None:
    if tenant_id is None and allow_none:
        return
    if not isinstance(tenant_id, str) or not tenant_id:
        raise ConfigError(f"tenant_id must be a non-empty string, got {tenant_id!r}")


class _AlmaSaverBase(BaseCheckpointSaver[str]):
    """What the sync and async savers share: configuration, tenancy and versions."""

    _outbox_type: ClassVar[type[AsyncOutbox] | type[Outbox]]  # the flavour's write queue

    def __init__(
        self,
        conn: Any,
        pipe: Any = None,
        serde: SerializerProtocol | None = None,
        *,
        tenant_id: str | None = None,
        settings: Settings | None = None,
        admin_url: str | None = None,
        ttl: ThreadTTL | Mapping[str, Any] | None = None,
        read: Any = None,
    ) -> None:
        super().__init__(serde=serde)
        self.ttl = ThreadTTL.parse(ttl)
        # A streaming replica for `list` (history), used once it shows this saver's own
        # writes (`db.replica`); `get_tuple` always reads the primary.
        self.read = ReadRoute(read) if read is not None else None
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
            checkpoints_async_commit=settings.checkpoints_async_commit,
        )
        # put and put_writes waiting for the connection at the same time share one round
        # trip (`checkpoint._coalesce`); views from `for_tenant` share it too.
        self._outbox = self._outbox_type()

    @property
    def core(self) -> SaverCore:
        """The `SaverCore` whose plans this saver drives (its tenant, serde, channel
        memory), for packages that build plans on its checkpoints; run them with `run`."""
        return self._core

    @property
    def tenant_id(self) -> str | None:
        """The tenant this saver is bound to (None: taken from each call's config)."""
        return self._core.tenant_id

    def for_tenant(self: S, tenant_id: str) -> S:
        """A view of this saver bound to `tenant_id`, sharing its connections.

        >>> acme = saver.for_tenant("acme"); acme.delete_thread("t1")   # doctest: +SKIP
        """
        _check_tenant(tenant_id, allow_none=False)
        clone = copy.copy(self)
        clone._core = copy.copy(self._core)
        clone._core.tenant_id = tenant_id
        return clone

    def with_allowlist(self, extra_allowlist: Collection[tuple[str, ...]]) -> Any:
        clone = super().with_allowlist(extra_allowlist)
        if clone is not self and isinstance(clone, _AlmaSaverBase):
            clone._core = copy.copy(self._core)
            clone._core.serde = clone.serde
        return clone

    def get_next_version(self, current: str | int | None, channel: None = None) -> str:
        return SaverCore.next_version(current)

    # -- retention (see `langgraph_alma.checkpoint.retention`) -------------------------
    def _put_plan(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        synchronous: bool | None = None,
    ) -> Plan[RunnableConfig]:
        plan = self._core.put(config, checkpoint, metadata, new_versions, synchronous=synchronous)
        if self.ttl is not None:
            ttl, pinned = thread_ttl(self.ttl, config.get("configurable") or {})
            tenant, thread = self._core.tenant(config), SaverCore.thread_of(config)
            plan = touching(plan, tenant, thread, ttl, pinned)
        return tracking(plan, self.read)

    def _writes_plan(
        self, prepared: dict[str, Any] | None, synchronous: bool = False
    ) -> Plan[None]:
        return tracking(self._core.writes_plan(prepared, synchronous), self.read)

    def _put_entry(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[
        tuple[str, str], Callable[[bool], Plan[RunnableConfig]], bool, None, tuple[str, str] | None
    ]:
        """A put for the outbox: ((tenant, thread), plan factory, commits synchronously,
        no hold, (namespace, parent checkpoint id) if it has a parent). Only one thread's
        writes share a batch: a batch of several threads' rows could lock them in another
        order than a concurrent one on a pool (a deadlock)."""
        if metadata.get("counters_since_delta_snapshot"):  # see `_writes_entry`
            self._core.hold_no_more(config)
        parent = (config.get("configurable") or {}).get("checkpoint_id")
        return (
            (self._core.tenant(config), SaverCore.thread_of(config)),
            lambda sync: self._put_plan(config, checkpoint, metadata, new_versions, sync),
            self._core.put_waits_for_commit(config, checkpoint),
            None,
            None if parent is None else (_namespace(config), str(parent)),
        )

    def _send_held(self, config: RunnableConfig | None) -> None:
        """Before a read: send the held writes of its thread (of every thread, when it
        names none) that no put took yet (`_coalesce`: a sync run that ended with no put
        after them, a timeout say, would read itself back without them)."""
        if self._outbox.has_due():
            thread = ((config or {}).get("configurable") or {}).get("thread_id")
            key = None if thread is None else (self._core.tenant(config), str(thread))
            self._outbox.send_due(key)

    def _writes_entry(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str,
    ) -> tuple[tuple[str, str], Callable[[bool], Plan[None]], bool, Hold | None]:
        """A put_writes for the outbox (see `_put_entry`); a LangGraph run's task writes
        are held for the checkpoint put after their superstep (`_coalesce.Hold`), except
        in a run with DeltaChannels, whose puts wait for them. Writes that commit
        synchronously (a run with durability "sync") are held too: the batch they ride in
        commits synchronously, and LangGraph waits for that put, never for the writes."""
        if self.ttl is not None:  # a run's bad thread_ttl is refused before any write
            thread_ttl(self.ttl, config.get("configurable") or {})
        # Checked and dumped now: a held write's caller may not wait for its batch.
        prepared = self._core.prepare_writes(config, writes, task_id, task_path)
        hold = None
        if self._core.holds_writes(config, writes):
            of = (_namespace(config), str(config["configurable"].get("checkpoint_id")))
            hold = Hold(
                HOLD_SECONDS,
                lambda: self._core.hold_no_more(config),
                of,
                lambda: self._core.ending.marked(config),
            )
        return (
            (self._core.tenant(config), SaverCore.thread_of(config)),
            lambda sync: self._writes_plan(prepared, sync),
            prepared is not None and prepared["commit"] == "on",
            hold,
        )

    def _sweep_chunks(self, pace: float) -> Iterator[int]:
        """Sizes of a sweep's transactions: `sweep_limit` threads in chunks."""
        if self.ttl is None:
            raise ConfigError("this saver has no ttl: AlmaSaver(..., ttl={'default_ttl': ...})")
        if isinstance(pace, bool) or not isinstance(pace, int | float) or not 0 <= pace <= 100:
            raise ConfigError(f"pace must be a number from 0 to 100, got {pace!r}")
        left = self.ttl.sweep_limit
        while left > 0:
            yield min(retention.SWEEP_CHUNK, left)
            left -= retention.SWEEP_CHUNK

    def _sweep_plan(
        self, all_tenants: bool, now: datetime | None, limit: int
    ) -> Plan[list[ExpiredThread]]:
        assert self.ttl is not None
        tenant = None if all_tenants else self._core.tenant()
        return retention.sweep(self._core, self.ttl, tenant, now, limit)

    def _expired_plan(
        self, limit: int, all_tenants: bool, now: datetime | None
    ) -> Plan[builtins.list[ExpiredThread]]:
        limit = check_limit(limit) or 0
        return retention.expired(None if all_tenants else self._core.tenant(), limit, now)

    def _set_ttl_plan(self, thread_id: str, ttl_minutes: float | None) -> Plan[None]:
        ttl = None if ttl_minutes is None else minutes("ttl_minutes", ttl_minutes)
        return retention.set_ttl(self._core.tenant(), str(thread_id), ttl)

    def _inactive_plan(
        self, older_than: timedelta, limit: int, all_tenants: bool
    ) -> Plan[builtins.list[ExpiredThread]]:
        if not isinstance(older_than, timedelta) or older_than.total_seconds() <= 0:
            raise ConfigError(f"older_than must be a positive timedelta, got {older_than!r}")
        limit = check_limit(limit) or 0
        cutoff = datetime.now(UTC) - older_than
        return retention.inactive(None if all_tenants else self._core.tenant(), cutoff, limit)

    def _sweep_seconds(self, sweep_interval_minutes: float | None) -> float:
        if sweep_interval_minutes is not None:
            return minutes("sweep_interval_minutes", sweep_interval_minutes) * 60
        return (self.ttl.sweep_interval_minutes if self.ttl else 5.0) * 60
