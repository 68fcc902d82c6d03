"""The logic of AlmaSaver, written once as statement plans (see `langgraph_alma.db.plan`).

`SaverCore` turns each checkpoint operation into a plan and rows back into LangGraph
objects; the sync and async savers only choose a connection and drive the plan.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    get_checkpoint_id,
    get_serializable_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg.types.json import Jsonb

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._delta import (
    BlobRow,
    ChannelMemory,
    Remembered,
    encode,
    rebuild,
)
from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.errors import ConfigError, StateTooLarge, TenantMismatch, ThreadIdRequired

PRUNE_STRATEGIES = ("keep_latest", "delete")
_PULL = "~__pregel_pull"
_PUSH = "~__pregel_push"


def _is_inline(value: Any) -> bool:
    """Primitive values live in the checkpoint row itself, as JSON."""
    if value is None or isinstance(value, bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and "\x00" not in value


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
    ) -> None:
        self.serde = serde
        self.tenant_id = tenant_id
        self.default_tenant = default_tenant
        self.max_state_bytes = max_state_bytes
        self.max_chain = max_chain
        self.memory = memory

    # -- tenancy -----------------------------------------------------------------
    def tenant(self, config: RunnableConfig | None = None) -> str:
        """The tenant a call acts for: the bound tenant, or the config's, or the default."""
        requested = ((config or {}).get("configurable") or {}).get("tenant_id")
        if requested is not None and (not isinstance(requested, str) or not requested):
            raise ConfigError(f"tenant_id must be a non-empty string, got {requested!r}")
        if self.tenant_id is not None:
            if requested is not None and requested != self.tenant_id:
                raise TenantMismatch(self.tenant_id, requested)
            return self.tenant_id
        return requested or self.default_tenant

    @staticmethod
    def thread_of(config: RunnableConfig | None) -> str:
        thread = ((config or {}).get("configurable") or {}).get("thread_id")
        if thread is None or thread == "":
            raise ThreadIdRequired(config)
        return str(thread)

    # -- reads -------------------------------------------------------------------
    def _known(self, tenant: str, thread: str) -> tuple[dict[tuple[str, str], Remembered], dict]:
        mem = self.memory.thread(tenant, thread)
        lists = [(ns, ch, r.version) for (ns, ch), r in mem.items() if r.items is not None]
        params = {
            "kn": [k[0] for k in lists],
            "kc": [k[1] for k in lists],
            "kv": [k[2] for k in lists],
        }
        return mem, params

    def get_tuple(self, config: RunnableConfig) -> Plan[CheckpointTuple | None]:
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        mem, params = self._known(tenant, thread)
        query = _sql.SELECT + " AND c.thread_id = %(thread)s AND c.checkpoint_ns = %(ns)s"
        params.update(tenant=tenant, thread=thread, ns=conf.get("checkpoint_ns", ""))
        if checkpoint_id := get_checkpoint_id(config):
            query += " AND c.checkpoint_id = %(id)s"
            params["id"] = checkpoint_id
        else:
            query += " ORDER BY c.checkpoint_id DESC LIMIT 1"
        results = yield [set_tenant(tenant), Sql(query, params, fetch=True)]
        rows = results[1] or []
        if not rows:
            return None
        tup, learned = self._load(rows[0], mem)
        self.memory.remember(tenant, thread, learned)
        return tup

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Plan[list[CheckpointTuple]]:
        tenant = self.tenant(config)
        query = _sql.SELECT
        params: dict[str, Any] = {"tenant": tenant, "kn": [], "kc": [], "kv": []}
        mem: dict[tuple[str, str], Remembered] = {}
        conf = (config or {}).get("configurable") or {}
        if conf.get("thread_id") is not None:
            thread = str(conf["thread_id"])
            mem, known = self._known(tenant, thread)
            params.update(known, thread=thread)
            query += " AND c.thread_id = %(thread)s"
            if conf.get("checkpoint_ns") is not None:
                query += " AND c.checkpoint_ns = %(ns)s"
                params["ns"] = conf["checkpoint_ns"]
            if checkpoint_id := get_checkpoint_id(config):  # type: ignore[arg-type]
                query += " AND c.checkpoint_id = %(id)s"
                params["id"] = checkpoint_id
        if filter:
            query += " AND c.metadata @> %(filter)s"
            params["filter"] = Jsonb(filter)
        if before is not None and (before_id := get_checkpoint_id(before)):
            query += " AND c.checkpoint_id < %(before)s"
            params["before"] = before_id
        query += " ORDER BY c.checkpoint_id DESC"
        if limit is not None:
            query += " LIMIT %(limit)s"
            params["limit"] = int(limit)
        results = yield [set_tenant(tenant), Sql(query, params, fetch=True)]
        return [self._load(row, mem)[0] for row in results[1] or []]

    def _load(
        self, row: tuple[Any, ...], mem: dict[tuple[str, str], Remembered]
    ) -> tuple[CheckpointTuple, list[tuple[tuple[str, str], Remembered]]]:
        thread, ns, cid, parent, checkpoint, inline, metadata, blob_channels, blobs, writes = row
        chain = {(b[0], b[1]): BlobRow(*b) for b in blobs or ()}
        values = dict(inline)
        learned: list[tuple[tuple[str, str], Remembered]] = []
        versions = checkpoint["channel_versions"]
        for channel in blob_channels:
            version = str(versions.get(channel))
            known = mem.get((ns, channel))
            if (channel, version) not in chain and (known is None or known.version != version):
                continue  # never stored (LangGraph's own savers drop such values too)
            value, remembered = rebuild(channel, version, chain, known, self.serde.loads_typed)
            values[channel] = value
            learned.append(((ns, channel), remembered))
        checkpoint["channel_values"] = values
        pending = sorted(writes or (), key=lambda w: writes_sort_key(w[4], w[0], w[5]))
        return (
            CheckpointTuple(
                config={
                    "configurable": {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": cid}
                },
                checkpoint=checkpoint,
                metadata=metadata,
                parent_config=(
                    {
                        "configurable": {
                            "thread_id": thread,
                            "checkpoint_ns": ns,
                            "checkpoint_id": parent,
                        }
                    }
                    if parent
                    else None
                ),
                pending_writes=[
                    (w[0], w[1], self.serde.loads_typed((w[2], w[3]))) for w in pending
                ],
            ),
            learned,
        )

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
        params, learned = self._put_params(tenant, thread, ns, config, checkpoint, metadata,
                                           new_versions, mem)
        try:
            yield [set_tenant(tenant), Sql(_sql.PUT, params)]
        except psycopg.errors.ForeignKeyViolation:
            # A delta's base was deleted meanwhile (prune, delete_thread elsewhere):
            # forget what we remembered and store whole values instead.
            self.memory.forget(tenant, [thread])
            params, learned = self._put_params(tenant, thread, ns, config, checkpoint, metadata,
                                               new_versions, {})
            yield [set_tenant(tenant), Sql(_sql.PUT, params)]
        self.memory.remember(tenant, thread, learned)
        return {"configurable": {"thread_id": thread, "checkpoint_ns": ns,
                                 "checkpoint_id": checkpoint["id"]}}

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
    ) -> tuple[dict[str, Any], list[tuple[tuple[str, str], Remembered]]]:
        conf = config["configurable"]
        versions = checkpoint["channel_versions"]
        inline: dict[str, Any] = {}
        blob_channels: list[str] = []
        rows: list[BlobRow] = []
        learned: list[tuple[tuple[str, str], Remembered]] = []
        sizes: dict[str, int] = {}
        for channel, value in checkpoint["channel_values"].items():
            if _is_inline(value):
                inline[channel] = value
                sizes[channel] = len(str(value))
                continue
            blob_channels.append(channel)
            version = str(versions.get(channel))
            known = mem.get((ns, channel))
            if known is not None and known.version == version and channel not in new_versions:
                sizes[channel] = known.nbytes  # stored by an earlier put
                continue
            enc = encode(channel, version, value, known, self.serde.dumps_typed, self.max_chain)
            rows.append(enc.row)
            learned.append(((ns, channel), enc.remembered))
            sizes[channel] = enc.remembered.nbytes
        total = sum(sizes.values())
        if total > self.max_state_bytes:
            raise StateTooLarge(total, self.max_state_bytes, sizes)
        stored = {k: v for k, v in checkpoint.items() if k != "channel_values"}
        meta = get_serializable_checkpoint_metadata(config, metadata)
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": ns,
            "id": checkpoint["id"],
            "parent": conf.get("checkpoint_id"),
            "run_id": _str_or_none(meta.get("run_id")),
            "project_id": str(conf.get("project_id") or "default"),
            "agent": _str_or_none(conf.get("agent") or conf.get("assistant_id")),
            "workflow_id": _str_or_none(conf.get("workflow_id") or conf.get("graph_id")),
            "step": meta.get("step") if isinstance(meta.get("step"), int) else None,
            "source": _str_or_none(meta.get("source")),
            "checkpoint": Jsonb(stored),
            "inline": Jsonb(inline),
            "blob_channels": blob_channels,
            "metadata": Jsonb(meta),
            "b_channel": [r.channel for r in rows],
            "b_version": [r.version for r in rows],
            "b_type": [r.type for r in rows],
            "b_blob": [r.blob for r in rows],
            "b_base": [r.base_version for r in rows],
            "b_keep": [r.keep_len for r in rows],
            "b_depth": [r.depth for r in rows],
        }
        return params, learned

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> Plan[None]:
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        if not writes:
            return
        node_id, branch_id = task_node(task_path)
        dumped = [self.serde.dumps_typed(value) for _, value in writes]
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
        }
        if params["id"] is None:
            raise ConfigError("put_writes needs configurable.checkpoint_id (the checkpoint written to)")
        special = all(ch in WRITES_IDX_MAP for ch, _ in writes)
        yield [set_tenant(tenant), Sql(_sql.UPSERT_WRITES if special else _sql.INSERT_WRITES, params)]

    def delete_threads(self, thread_ids: Sequence[str]) -> Plan[None]:
        tenant = self.tenant()
        params = {"tenant": tenant, "threads": [str(t) for t in thread_ids]}
        self.memory.forget(tenant, params["threads"])
        yield [set_tenant(tenant), *(Sql(q, params) for q in _sql.DELETE_THREADS)]

    def delete_for_runs(self, run_ids: Sequence[str]) -> Plan[None]:
        if not run_ids:
            return
        tenant = self.tenant()
        yield [set_tenant(tenant),
               Sql(_sql.DELETE_FOR_RUNS, {"tenant": tenant, "runs": [str(r) for r in run_ids]})]

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
        self.memory.forget(tenant, threads)
        if strategy == "delete":
            yield from self.delete_threads(threads)
            return
        yield [Sql(_sql.PRUNE_SNAPSHOT), set_tenant(tenant)]
        for thread in threads:
            params: dict[str, Any] = {"tenant": tenant, "thread": thread}
            results = yield [Sql(_sql.PRUNE_CHAIN, params, fetch=True)]
            kept = kept_checkpoints(results[0] or [])
            params["kept_ns"] = [ns for ns, _ in kept]
            params["kept_id"] = [cid for _, cid in kept]
            yield [Sql(_sql.PRUNE_WRITES, params), Sql(_sql.PRUNE_CHECKPOINTS, params),
                   Sql(_sql.PRUNE_BLOBS, params)]

    @staticmethod
    def next_version(current: str | int | None) -> str:
        if current is None:
            n = 0
        elif isinstance(current, int):
            n = current
        else:
            n = int(str(current).split(".")[0])
        return f"{n + 1:032}.{random.random():016}"


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
