"""The logic of AlmaSaver, written once as statement plans (see `langgraph_alma.db.plan`).

`SaverCore` turns each checkpoint operation into a plan and rows back into LangGraph
objects; the sync and async savers only choose a connection and drive the plan.
"""

from __future__ import annotations

import builtins
import random
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.types import TASKS
from psycopg.types.json import Jsonb

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._compress import unpacking
from langgraph_alma.checkpoint._decode import Loads, fast_loads
from langgraph_alma.checkpoint._delta import (
    BlobRow,
    ChannelMemory,
    Dumps,
    Key,
    Remembered,
    encode,
    rebuild,
)
from langgraph_alma.checkpoint._values import is_inline, lone_surrogate
from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.db.tenancy import resolve_tenant
from langgraph_alma.errors import (
    ConfigError,
    InvalidChannelValue,
    InvalidLimit,
    StateTooLarge,
    ThreadIdRequired,
)

PRUNE_STRATEGIES = ("keep_latest", "delete")
_PULL = "~__pregel_pull"
_PUSH = "~__pregel_push"
_MAX_LIMIT = 2**63 - 1
_RUNTIME = "__pregel_runtime"  # LangGraph's per-run object in configurable
_DURABILITY = "__pregel_durability"  # set by LangGraph when a run names its durability


_REFUSED_RUNS = 64


def _async_durability(conf: dict[str, Any]) -> bool:
    """Writes from a LangGraph run that does not wait for them (durability "async" or
    "exit"); direct calls and durability "sync" wait for a synchronous commit."""
    return _RUNTIME in conf and conf.get(_DURABILITY, "async") != "sync"


def _run_of(config: RunnableConfig) -> Any:
    return (config.get("configurable") or {}).get(_RUNTIME)


def check_limit(limit: Any) -> int | None:
    """`limit` as given, if PostgreSQL can take it; else `InvalidLimit` (before any I/O)."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= _MAX_LIMIT:
        raise InvalidLimit(limit)
    return limit


def _checked(where: str, value: Any) -> Any:
    """`value`, once known to hold no str PostgreSQL and the serializer cannot store."""
    if (path := lone_surrogate(value)) is not None:
        raise InvalidChannelValue(where, path)
    return value


@dataclass(frozen=True)
class ThreadSummary:
    """One thread of a tenant, as `AlmaSaver.list_threads()` reports it."""

    thread_id: str
    checkpoints: int
    last_step: int | None
    updated_at: datetime
    project_id: str
    agent: str | None
    workflow_id: str | None


def task_node(task_path: str) -> tuple[str | None, str | None]:
    """(node_id, branch_id) of a task from its path: a pull task names its node; a push
    task (`Send`, fan-out) is a branch identified by its path."""
    parts = [p.strip() for p in task_path.split(",")] if task_path else []
    if len(parts) >= 2 and parts[0] == _PULL:
        return parts[1], None
    if parts and parts[0] == _PUSH:
        return None, task_path
    return None, None


class SaverCore:
    """Plans for every checkpoint operation, and the conversions they need."""

    def __init__(
        self,
        serde: SerializerProtocol,
        *,
        tenant_id: str | None,
        default_tenant: str,
        max_state_bytes: int,
        max_chain: int,
        memory: ChannelMemory,
        writes_async_commit: bool = True,
    ) -> None:
        self.serde = serde
        self.writes_async_commit = writes_async_commit
        self.tenant_id = tenant_id
        self.default_tenant = default_tenant
        self.max_state_bytes = max_state_bytes
        self.max_chain = max_chain
        self.memory = memory
        # The last runs (LangGraph's per-run `Runtime`, by identity, held so that its id
        # is not reused) whose checkpoint put was refused for a bad value: LangGraph runs
        # the next tasks anyway and saves their writes, which are refused too.
        self.refused: OrderedDict[int, Any] = OrderedDict()
        self._loads: tuple[SerializerProtocol, Loads] | None = None

    @property
    def loads(self) -> Loads:
        """What reads decode with: `serde.loads_typed` of stored blobs (`_compress`),
        faster for LangChain messages (`_decode`); follows `serde` when a clone is given
        another."""
        if self._loads is None or self._loads[0] is not self.serde:
            self._loads = (self.serde, unpacking(fast_loads(self.serde)))
        return self._loads[1]

    # -- tenancy -----------------------------------------------------------------
    def tenant(self, config: RunnableConfig | None = None) -> str:
        """The tenant a call acts for: the bound tenant, or the config's, or the default."""
        return resolve_tenant(self.tenant_id, config, self.default_tenant)

    def _name_tenant(self, config: RunnableConfig | None, tenant: str) -> None:
        """Configs the saver hands out name a tenant other than the default, so that a
        call made with them (`update_state` on a snapshot of the history, a resume from a
        listed checkpoint) acts for the same tenant."""
        if config is not None and tenant != self.default_tenant:
            config["configurable"]["tenant_id"] = tenant

    @staticmethod
    def thread_of(config: RunnableConfig | None) -> str:
        thread = ((config or {}).get("configurable") or {}).get("thread_id")
        if thread is None or thread == "":
            raise ThreadIdRequired(config)
        return str(thread)

    # -- reads -------------------------------------------------------------------
    def _select(
        self,
        tenant: str,
        thread: str | None,
        where: str,
        params: dict[str, Any],
        limit: int | None,
    ) -> Plan[tuple[list[CheckpointTuple], dict[Key, Remembered]]]:
        """Load checkpoints of `tenant` matching `where`, newest first, with the channel
        versions rebuilt on the way."""
        memo: dict[Key, Remembered] = {}
        if thread is not None:
            for (ns, channel), r in self.memory.thread(tenant, thread).items():
                memo[(thread, ns, channel, r.version)] = r
        lists = [k for k, r in memo.items() if r.pieces is not None]
        params.update(
            tenant=tenant,
            kt=[k[0] for k in lists],
            kn=[k[1] for k in lists],
            kc=[k[2] for k in lists],
            kv=[k[3] for k in lists],
        )
        query = _sql.SELECT.format(
            where=where, limit="LIMIT %(limit)s" if limit is not None else ""
        )
        if limit is not None:
            params["limit"] = int(limit)
        results = yield [Sql(query, params, fetch=True)]
        checkpoints: builtins.list[Any] = []
        writes: dict[tuple[Any, ...], builtins.list[tuple[Any, ...]]] = {}
        sends: dict[tuple[Any, ...], builtins.list[tuple[Any, ...]]] = {}
        chain: dict[tuple[Any, ...], BlobRow] = {}
        for row in results[0] or ():
            kind, thread_id, ns, id_, ref, channel, type_, blob, n, depth, task_path = row[:11]
            if kind == "c":
                checkpoints.append(row)
            elif kind == "w":
                writes.setdefault((thread_id, ns, id_), []).append(
                    (ref, channel, type_, blob, task_path, n)
                )
            elif kind == "s":
                sends.setdefault((thread_id, ns, id_), []).append((task_path, ref, n, type_, blob))
            else:
                chain[(thread_id, ns, channel, id_)] = BlobRow(
                    channel, id_, type_, blob, ref, n, depth
                )
        checkpoints.sort(key=lambda r: r[8])  # rn: newest first
        many = len(checkpoints) > 1
        found = [
            self._load(
                row,
                writes.get((row[1], row[2], row[3]), ()),
                sends.get((row[1], row[2], row[3]), ()),
                chain,
                memo,
                many,
            )
            for row in checkpoints
        ]
        for tup in found:
            self._name_tenant(tup.config, tenant)
            self._name_tenant(tup.parent_config, tenant)
        return found, memo

    def get_tuple(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        tenant, thread = self.tenant(config), self.thread_of(config)
        params: dict[str, Any] = {
            "thread": thread,
            "ns": config["configurable"].get("checkpoint_ns", ""),
        }
        where = "AND c.thread_id = %(thread)s AND c.checkpoint_ns = %(ns)s"
        if checkpoint_id := get_checkpoint_id(config):
            where += " AND c.checkpoint_id = %(id)s"
            params["id"] = checkpoint_id
        found, built = yield from self._select(tenant, thread, where, params, limit=1)
        if not found:
            return None
        tup = found[0]
        ns = tup.config["configurable"]["checkpoint_ns"]
        versions = tup.checkpoint["channel_versions"]
        self.memory.remember(
            tenant,
            thread,
            [
                ((ns, ch), built[(thread, ns, ch, str(versions[ch]))])
                for ch in tup.checkpoint["channel_values"]
                if (thread, ns, ch, str(versions.get(ch))) in built
            ],
        )
        return tup

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Plan[builtins.list[CheckpointTuple]]:
        """Checkpoints matching, newest first; arguments checked now, before any I/O."""
        return self._list(config, filter, before, check_limit(limit))

    def _list(
        self,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> Plan[builtins.list[CheckpointTuple]]:
        tenant = self.tenant(config)
        where, thread = "", None
        params: dict[str, Any] = {}
        conf = (config or {}).get("configurable") or {}
        if conf.get("thread_id") is not None:
            thread = str(conf["thread_id"])
            where += " AND c.thread_id = %(thread)s"
            params["thread"] = thread
            if conf.get("checkpoint_ns") is not None:
                where += " AND c.checkpoint_ns = %(ns)s"
                params["ns"] = conf["checkpoint_ns"]
            if checkpoint_id := get_checkpoint_id(config):  # type: ignore[arg-type]
                where += " AND c.checkpoint_id = %(id)s"
                params["id"] = checkpoint_id
        if filter:
            where += " AND c.metadata @> %(filter)s"
            params["filter"] = Jsonb(filter)
        if before is not None and (before_id := get_checkpoint_id(before)):
            where += " AND c.checkpoint_id < %(before)s"
            params["before"] = before_id
        found, _ = yield from self._select(tenant, thread, where, params, limit)
        return found

    def _load(
        self,
        row: tuple[Any, ...],
        writes: Sequence[tuple[Any, ...]],
        sends: Sequence[tuple[Any, ...]],
        chain: dict[Key, BlobRow],
        memo: dict[Key, Remembered],
        remember_path: bool,
    ) -> CheckpointTuple:
        _, thread, ns, cid, parent, *_, checkpoint, inline, metadata, blob_channels = row
        values = dict(inline)
        versions = checkpoint["channel_versions"]
        for channel in blob_channels:
            key = (thread, ns, channel, str(versions.get(channel)))
            known = memo.get(key)
            if key not in chain and (known is None or known.pieces is None):
                continue  # never stored (LangGraph's own savers drop such values too)
            values[channel], memo[key] = rebuild(
                key, chain, memo, self.loads, remember_path=remember_path
            )
        if sends:  # a checkpoint before format 4: its parent's sends become a channel
            values[TASKS] = [self.loads((w[3], w[4])) for w in sorted(sends)]
            versions[TASKS] = max(versions.values()) if versions else self.next_version(None)
        checkpoint["channel_values"] = values
        pending = sorted(writes, key=lambda w: writes_sort_key(w[4], w[0], w[5]))
        parent_config: RunnableConfig | None = None
        if parent:
            parent_config = {
                "configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": parent}
            }
        return CheckpointTuple(
            config={
                "configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": cid}
            },
            checkpoint=checkpoint,
            metadata=metadata,
            parent_config=parent_config,
            pending_writes=[(w[0], w[1], self.loads((w[2], w[3]))) for w in pending],
        )

    def delta_history(
        self, config: RunnableConfig, channels: Sequence[str]
    ) -> Plan[dict[str, DeltaChannelHistory]]:
        """DeltaChannel history in one walk: ancestors' writes to `channels`, oldest
        first, and each channel's seed (the value at the nearest ancestor storing it)."""
        if not channels:
            return {}
        tenant, thread = self.tenant(config), self.thread_of(config)
        ns = config["configurable"].get("checkpoint_ns", "")
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": ns,
            "id": get_checkpoint_id(config),
            "channels": list(channels),
        }
        results = yield [Sql(_sql.DELTA_WALK, params, fetch=True)]
        writes: dict[str, list[PendingWrite]] = {ch: [] for ch in channels}
        seed_at: dict[str, str] = {}
        for cid, stored, wanted, rows in reversed(results[0] or []):  # oldest first
            for w in sorted(rows or (), key=lambda w: writes_sort_key(w[4], w[0], w[5])):
                writes[w[1]].append((w[0], w[1], self.loads((w[2], w[3]))))
            for ch in set(wanted) & set(stored):  # only at the nearest ancestor storing ch
                seed_at[ch] = cid
        history: dict[str, DeltaChannelHistory] = {ch: {"writes": writes[ch]} for ch in channels}
        for cid in set(seed_at.values()):
            seed_config: RunnableConfig = {
                "configurable": {
                    **config["configurable"],
                    "checkpoint_ns": ns,
                    "checkpoint_id": cid,
                }
            }
            tup = yield from self.get_tuple(seed_config)
            for ch, at in seed_at.items():
                if at == cid and tup is not None and ch in tup.checkpoint["channel_values"]:
                    history[ch]["seed"] = tup.checkpoint["channel_values"][ch]
        return history

    # -- writes ------------------------------------------------------------------
    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> Plan[RunnableConfig]:
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        ns = conf.get("checkpoint_ns", "")
        mem = self.memory.thread(tenant, thread)
        try:
            params, learned = self._put_params(
                tenant, thread, ns, config, checkpoint, metadata, new_versions, mem
            )
        except InvalidChannelValue:
            if (run := _run_of(config)) is not None:
                self.refused[id(run)] = run
                while len(self.refused) > _REFUSED_RUNS:
                    self.refused.popitem(last=False)
            raise
        try:
            yield [Sql(_sql.PUT[params.pop("_rows")], params)]
        except psycopg.errors.ForeignKeyViolation:
            # A delta's base was deleted meanwhile (prune, delete_thread elsewhere):
            # forget what we remembered and store whole values instead.
            self.memory.forget(tenant, [thread])
            params, learned = self._put_params(
                tenant, thread, ns, config, checkpoint, metadata, new_versions, {}
            )
            yield [Sql(_sql.PUT[params.pop("_rows")], params)]
        except psycopg.DataError as exc:  # the checks above should leave none
            raise InvalidChannelValue(
                "checkpoint", "(a value)", f"PostgreSQL refused it: {exc}"
            ) from exc
        self.memory.remember(tenant, thread, learned)
        saved: RunnableConfig = {
            "configurable": {
                "thread_id": thread,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        self._name_tenant(saved, tenant)
        return saved

    def _put_params(
        self,
        tenant: str,
        thread: str,
        ns: str,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        mem: dict[tuple[str, str], Remembered],
    ) -> tuple[dict[str, Any], builtins.list[tuple[tuple[str, str], Remembered]]]:
        conf = config["configurable"]
        versions = checkpoint["channel_versions"]
        inline: dict[str, Any] = {}
        blob_channels: list[str] = []
        rows: list[BlobRow] = []
        learned: list[tuple[tuple[str, str], Remembered]] = []
        sizes: dict[str, int] = {}
        for channel, value in checkpoint["channel_values"].items():
            if is_inline(value):
                inline[channel] = _checked(f"channel {channel!r}", value)
                sizes[channel] = len(str(value))
                continue
            blob_channels.append(channel)
            version = str(versions.get(channel))
            known = mem.get((ns, channel))
            if known is not None and known.version == version and channel not in new_versions:
                sizes[channel] = known.nbytes  # stored by an earlier put
                continue
            enc = encode(
                channel,
                version,
                value,
                known,
                self._dumps(f"channel {channel!r}"),
                self.max_chain,
            )
            rows.append(enc.row)
            learned.append(((ns, channel), enc.remembered))
            sizes[channel] = enc.remembered.nbytes
        total = sum(sizes.values())
        if total > self.max_state_bytes:
            raise StateTooLarge(total, self.max_state_bytes, sizes)
        stored = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        meta = _checked("metadata", get_serializable_checkpoint_metadata(config, metadata))
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": ns,
            "id": checkpoint["id"],
            "parent": conf.get("checkpoint_id"),
            "run_id": _str_or_none(meta.get("run_id")),
            "project_id": _str_or_none(conf.get("project_id") or None),
            "agent": _str_or_none(conf.get("agent") or conf.get("assistant_id")),
            "workflow_id": _str_or_none(conf.get("workflow_id") or conf.get("graph_id")),
            "step": meta.get("step") if isinstance(meta.get("step"), int) else None,
            "source": _str_or_none(meta.get("source")),
            "checkpoint": Jsonb(stored),
            "inline": Jsonb(inline),
            "blob_channels": blob_channels,
            "metadata": Jsonb(meta),
            "_rows": min(len(rows), 2),  # which statement: no blob row, one, or several
        }
        if len(rows) == 1:
            r = rows[0]
            params.update(
                b_channel=r.channel, b_version=r.version, b_type=r.type, b_blob=r.blob,
                b_base=r.base_version, b_keep=r.keep_len, b_depth=r.depth,
            )  # fmt: skip
        elif rows:
            params.update(
                b_channel=[r.channel for r in rows],
                b_version=[r.version for r in rows],
                b_type=[r.type for r in rows],
                b_blob=[r.blob for r in rows],
                b_base=[r.base_version for r in rows],
                b_keep=[r.keep_len for r in rows],
                b_depth=[r.depth for r in rows],
            )
        return params, learned

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
        *,
        synchronous: bool = False,
    ) -> Plan[None]:
        """`synchronous`: commit synchronously whatever the run's durability (the writes
        share a transaction with a checkpoint that does)."""
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        if not writes:
            return
        run = _run_of(config)
        if run is not None and self.refused.get(id(run)) is run:
            raise InvalidChannelValue(
                f"writes of task {task_id!r}", "its run", "a checkpoint of this run was refused"
            )
        node_id, branch_id = task_node(task_path)
        dumped = [
            self.serde.dumps_typed(_checked(f"write to channel {ch!r}", value))
            for ch, value in writes
        ]
        sizes: dict[str, int] = {}
        for (channel, _), (_, blob) in zip(writes, dumped, strict=True):
            sizes[channel] = sizes.get(channel, 0) + len(blob)
        if sum(sizes.values()) > self.max_state_bytes:
            # Writes become state: refuse them here, not at the next checkpoint.
            raise StateTooLarge(sum(sizes.values()), self.max_state_bytes, sizes)
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": conf.get("checkpoint_ns", ""),
            "id": conf.get("checkpoint_id"),
            "task_id": task_id,
            "task_path": task_path,
            "node_id": node_id,
            "branch_id": branch_id,
            "idx": [WRITES_IDX_MAP.get(ch, i) for i, (ch, _) in enumerate(writes)],
            "channel": [ch for ch, _ in writes],
            "type": [t for t, _ in dumped],
            "blob": [b for _, b in dumped],
            "commit": "on" if synchronous or self.waits_for_commit(config) else "off",
        }
        if params["id"] is None:
            raise ConfigError(
                "put_writes needs configurable.checkpoint_id (the checkpoint written to)"
            )
        many = len(writes) > 1
        if not many:  # one row: scalars, not one-element arrays
            for key in ("idx", "channel", "type", "blob"):
                params[key] = params[key][0]
        special = all(ch in WRITES_IDX_MAP for ch, _ in writes)
        try:
            yield [Sql(_sql.WRITES[(many, special)], params)]
        except psycopg.DataError as exc:
            raise InvalidChannelValue(
                "writes", "(a value)", f"PostgreSQL refused it: {exc}"
            ) from exc

    def waits_for_commit(self, config: RunnableConfig) -> bool:
        """Whether writes made with `config` commit synchronously: all but a LangGraph
        run's whose durability is not "sync" (unless `writes_async_commit` is off)."""
        conf = config.get("configurable") or {}
        return not (self.writes_async_commit and _async_durability(conf))

    def threads(
        self,
        *,
        agent: str | None = None,
        workflow_id: str | None = None,
        limit: int | None = None,
    ) -> Plan[builtins.list[ThreadSummary]]:
        """The tenant's threads, most recently updated first (`limit`: at most that many)."""
        return self._threads(agent, workflow_id, check_limit(limit))

    def _threads(
        self, agent: str | None, workflow_id: str | None, limit: int | None
    ) -> Plan[builtins.list[ThreadSummary]]:
        tenant = self.tenant()
        params = {"tenant": tenant, "agent": agent, "workflow": workflow_id, "limit": limit}
        results = yield [set_tenant(tenant), Sql(_sql.THREADS, params, fetch=True)]
        return [ThreadSummary(*row) for row in results[1] or []]

    def delete_threads(self, thread_ids: Sequence[str]) -> Plan[None]:
        tenant = self.tenant()
        params = {"tenant": tenant, "threads": [str(t) for t in thread_ids]}
        self.memory.forget(tenant, params["threads"])
        yield [set_tenant(tenant), *(Sql(q, params) for q in _sql.DELETE_THREADS)]

    def delete_for_runs(self, run_ids: Sequence[str]) -> Plan[None]:
        if not run_ids:
            return
        tenant = self.tenant()
        yield [
            set_tenant(tenant),
            Sql(_sql.DELETE_FOR_RUNS, {"tenant": tenant, "runs": [str(r) for r in run_ids]}),
        ]

    def copy_thread(self, source: str, target: str) -> Plan[None]:
        tenant = self.tenant()
        params = {"tenant": tenant, "source": str(source), "target": str(target)}
        yield [set_tenant(tenant), *(Sql(q, params) for q in _sql.COPY_THREAD)]

    def prune(self, thread_ids: Sequence[str], strategy: str) -> Plan[None]:
        """One thread's prune, on one snapshot (run in a transaction)."""
        if isinstance(thread_ids, str):
            raise TypeError("thread_ids must be a sequence of thread ids, not a str")
        if strategy not in PRUNE_STRATEGIES:
            raise ConfigError(f"unknown prune strategy {strategy!r}; use one of {PRUNE_STRATEGIES}")
        tenant = self.tenant()
        threads = [str(t) for t in thread_ids]
        if not threads:
            return
        if strategy == "delete":  # each branch forgets what this process remembered
            yield from self.delete_threads(threads)
            return
        yield [Sql(_sql.PRUNE_SNAPSHOT), set_tenant(tenant)]
        yield from self.keep_latest(tenant, threads)

    def keep_latest(self, tenant: str, threads: Sequence[str]) -> Plan[None]:
        """`prune(..., "keep_latest")`'s work inside a transaction that has already set
        the tenant and a repeatable-read snapshot (the TTL sweep runs it too)."""
        self.memory.forget(tenant, list(threads))
        for thread in threads:
            params: dict[str, Any] = {"tenant": tenant, "thread": thread}
            results = yield [Sql(_sql.PRUNE_CHAIN, params, fetch=True)]
            kept = kept_checkpoints(results[0] or [])
            params["kept_ns"] = [ns for ns, _ in kept]
            params["kept_id"] = [cid for _, cid in kept]
            yield [
                Sql(_sql.PRUNE_WRITES, params),
                Sql(_sql.PRUNE_CHECKPOINTS, params),
                Sql(_sql.PRUNE_BLOBS, params),
            ]

    def _dumps(self, where: str) -> Dumps:
        """The serializer's `dumps_typed`, refusing a value PostgreSQL cannot store."""
        return lambda value: self.serde.dumps_typed(_checked(where, value))

    @staticmethod
    def next_version(current: str | int | None) -> str:
        """A fixed-width hex counter (so versions order as strings) and a random suffix
        (so two forks of a thread never write different values under one version).
        23 characters instead of PostgresSaver's 49: versions fill most of a checkpoint."""
        if current is None:
            n = 0
        elif isinstance(current, int):
            n = current
        else:
            n = int(str(current).split(".")[0], 16)
        return f"{n + 1:012x}.{random.getrandbits(40):010x}"


def kept_checkpoints(chain: Iterable[tuple[Any, ...]]) -> list[tuple[str, str]]:
    """What `keep_latest` keeps: the latest checkpoint of each namespace and, when the
    thread uses a DeltaChannel, every ancestor back to the one that stores each channel
    the latest one does not (the seed the channel is rebuilt from)."""
    by_ns: dict[str, list[tuple[Any, ...]]] = {}
    for row in chain:
        by_ns.setdefault(row[0], []).append(row)  # rows come newest first per namespace
    kept: list[tuple[str, str]] = []
    for ns, rows in by_ns.items():
        head = rows[0]
        kept.append((ns, head[1]))
        needed = set(head[4]) - set(head[3])  # delta channels the head must rebuild
        if not needed:
            continue
        parent_of = {r[1]: r[2] for r in rows}
        stored = {r[1]: set(r[3]) for r in rows}
        cursor = head[2]
        while cursor is not None and cursor in parent_of and needed:
            kept.append((ns, cursor))
            needed -= stored[cursor]
            cursor = parent_of[cursor]
    return kept


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
