"""`Writes`: the write half of `SaverCore` as plans: `put` (a checkpoint and its blobs,
lists stored as deltas) and `put_writes`. Mixed into `SaverCore`, whose attributes (the
serializer, the channel memory, the tenant) it uses."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ERROR,
    INTERRUPT,
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.serde.types import TASKS
from psycopg.types.json import Jsonb

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._compress import (
    pack,
    pack_checkpoint,
    pack_writes,
    unpack_checkpoint,
)
from langgraph_alma.checkpoint._decode import json_loads
from langgraph_alma.checkpoint._delta import (
    BlobRow,
    Parent,
    Remembered,
    Scope,
    encode,
    nodes_since,
)
from langgraph_alma.checkpoint._inputs import (
    _PULL,
    _async_checkpoints,
    _async_durability,
    _checked,
    _str_or_none,
    checked_dumps,
    task_node,
)
from langgraph_alma.checkpoint._state import CoreState
from langgraph_alma.checkpoint._values import is_inline
from langgraph_alma.db.plan import Plan, Sql
from langgraph_alma.errors import (
    ConfigError,
    InvalidChannelValue,
    StateTooLarge,
)

# Writes that may end a run: committed synchronously, as nothing after them flushes them.
_RUN_ENDING = frozenset((ERROR, INTERRUPT))
_NOT_IN_JSON = frozenset(("channel_values", "id"))


def stored_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The metadata a checkpoint row stores: without the `step` (an int) and `source` (a
    str) its columns hold (`_sql.METADATA` puts them back on reads)."""
    if type(meta.get("step")) is not int and type(meta.get("source")) is not str:
        return meta
    return {
        k: v
        for k, v in meta.items()
        if not ((k == "step" and type(v) is int) or (k == "source" and type(v) is str))
    }


def stored_task_path(task_path: str, node_id: str | None) -> str:
    """The task path a pending write stores: '' for a pull task's, which its node_id
    names (`_sql.TASK_PATH` puts it back on reads)."""
    return "" if node_id is not None and task_path == f"{_PULL}, {node_id}" else task_path


class Writes(CoreState):
    """The write plans of `SaverCore` (see the module)."""

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
        *,
        synchronous: bool | None = None,
    ) -> Plan[RunnableConfig]:
        """`synchronous`: whether to commit synchronously (the outbox says, for a batch
        it shares with other writes); None: as `put_waits_for_commit` says."""
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        ns = conf.get("checkpoint_ns", "")
        mem = self.memory.thread(tenant, thread)
        parent = conf.get("checkpoint_id")
        of_parent = self.memory.parent(tenant, thread, ns, parent) if parent else None
        parent_seen: dict[str, Any] | None = None
        if parent is not None and of_parent is None:
            # Not remembered: read the parent's versions_seen (`nodes_since`) first.
            key = {"tenant": tenant, "thread": thread, "ns": ns, "parent": parent}
            found = yield [Sql(_sql.PARENT_SEEN, key, fetch=True)]
            parent_seen = _seen_of(found[0][0], parent) if found[0] else None
        try:
            params, learned = self._put_params(
                tenant, thread, ns, config, checkpoint, metadata, new_versions, mem,
                of_parent, parent_seen,
            )  # fmt: skip
        except InvalidChannelValue:
            self.refused.mark(config)
            raise
        if synchronous is None:
            synchronous = self.put_waits_for_commit(config, checkpoint)
        commit = "on" if synchronous else "off"
        params["commit"] = commit
        try:
            results = yield [self._put_sql(params)]
        except psycopg.errors.ForeignKeyViolation:
            # A delta's base was deleted meanwhile (prune, delete_thread elsewhere):
            # forget what we remembered and store whole values instead.
            self.memory.forget(tenant, [thread])
            params, learned = self._put_params(
                tenant, thread, ns, config, checkpoint, metadata, new_versions, {},
                of_parent, parent_seen,
            )  # fmt: skip
            params["commit"] = commit
            results = yield [self._put_sql(params)]
        except psycopg.DataError as exc:  # the checks above should leave none
            raise InvalidChannelValue(
                "checkpoint", "(a value)", f"PostgreSQL refused it: {exc}"
            ) from exc
        if commit == "off" and self.ending.marked(config):
            # The run wrote an error or an interrupt while this was sent (that write
            # flushed before this commit): flush this one with a synchronous commit.
            yield [Sql(_sql.FLUSH)]
        self.memory.remember(tenant, thread, learned)
        returned = results[0]  # after a lookup: the scope PostgreSQL stored
        scope: Scope = (
            (returned[0][0], returned[0][1], returned[0][2])
            if returned
            else (params["project_id"], params["agent"], params["workflow_id"])
        )
        seen = checkpoint.get("versions_seen") or {}
        self.memory.remember_seen(tenant, thread, ns, checkpoint["id"], seen, scope)
        saved: RunnableConfig = {
            "configurable": {
                "thread_id": thread,
                "checkpoint_ns": ns,
                "checkpoint_id": checkpoint["id"],
            }
        }
        self._name_tenant(saved, tenant)
        return saved

    @staticmethod
    def _put_sql(params: dict[str, Any]) -> Sql:
        lookup = params.pop("_lookup")
        return Sql(_sql.PUT[(params.pop("_rows"), lookup)], params, fetch=lookup)

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
        of_parent: Parent | None,
        parent_seen: dict[str, Any] | None,
    ) -> tuple[dict[str, Any], builtins.list[tuple[tuple[str, str], Remembered]]]:
        """The PUT's parameters. `of_parent`: what the saver remembers of the parent it
        put; else `parent_seen`, the parent's versions_seen as stored (None: no row)."""
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
        # The row's checkpoint_id column holds the id: not stored twice (`Reads` puts it back).
        stored = {k: v for k, v in checkpoint.items() if k not in _NOT_IN_JSON}
        try:
            packed = pack_checkpoint(stored, checkpoint["id"], blob_channels)
        except ValueError as exc:  # NaN or infinity, which the jsonb refused too
            raise InvalidChannelValue("checkpoint", "(a value)", str(exc)) from exc
        parent = conf.get("checkpoint_id")
        seen = checkpoint.get("versions_seen") or {}
        meta = _checked("metadata", get_serializable_checkpoint_metadata(config, metadata))
        project = _str_or_none(conf.get("project_id") or None)
        agent = _str_or_none(conf.get("agent") or conf.get("assistant_id"))
        workflow = _str_or_none(conf.get("workflow_id") or conf.get("graph_id"))
        # The parent's versions_seen and scope, when the saver put it: the nodes and the
        # scope computed here as `_sql.PUT` computes them from the parent's row (coalesce).
        lookup = parent is not None and of_parent is None
        if of_parent is not None:
            p_seen, p_scope = of_parent
            node = nodes_since(seen, p_seen)
            project = project if project is not None else p_scope[0]
            agent = agent if agent is not None else p_scope[1]
            workflow = workflow if workflow is not None else p_scope[2]
        else:
            node = nodes_since(seen, parent_seen)
        if project is None and not lookup:
            project = "default"
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": ns,
            "id": checkpoint["id"],
            "parent": parent,
            "node_id": node,
            "run_id": _str_or_none(meta.get("run_id")),
            "project_id": project,
            "agent": agent,
            "workflow_id": workflow,
            "step": meta.get("step") if isinstance(meta.get("step"), int) else None,
            "source": _str_or_none(meta.get("source")),
            # A checkpoint before format 4 stays jsonb (`_sql.SELECT` reads its sends).
            "checkpoint": Jsonb(stored) if packed is None else None,
            "packed": packed[0] if packed is not None else None,
            "inline": Jsonb(inline),
            "blob_channels": blob_channels,
            "blob_versions": packed[1] if packed is not None else None,
            "metadata": Jsonb(stored_metadata(meta)),
            "_rows": min(len(rows), 2),  # which statement: no blob row, one, or several
            "_lookup": lookup,  # and whether it reads the parent's row
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
        yield from self.writes_plan(
            self.prepare_writes(config, writes, task_id, task_path), synchronous
        )

    def prepare_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> dict[str, Any] | None:
        """The parameters of a put_writes, its values dumped and checked (None: no
        writes); raises what `put_writes` raises before any I/O. `writes_plan` sends them."""
        tenant, thread = self.tenant(config), self.thread_of(config)
        conf = config["configurable"]
        if not writes:
            return None
        if self.refused.marked(config):
            raise InvalidChannelValue(
                f"writes of task {task_id!r}", "its run", "a checkpoint of this run was refused"
            )
        node_id, branch_id = task_node(task_path)
        dumped = [
            checked_dumps(self.serde, f"write to channel {ch!r}", value) for ch, value in writes
        ]
        sizes: dict[str, int] = {}
        for (channel, _), (_, blob) in zip(writes, dumped, strict=True):
            sizes[channel] = sizes.get(channel, 0) + len(blob)
        if sum(sizes.values()) > self.max_state_bytes:
            # Writes become state: refuse them here, not at the next checkpoint.
            raise StateTooLarge(sum(sizes.values()), self.max_state_bytes, sizes)
        stored = [pack(t, b) for t, b in dumped]
        params = {
            "tenant": tenant,
            "thread": thread,
            "ns": conf.get("checkpoint_ns", ""),
            "id": conf.get("checkpoint_id"),
            "task_id": task_id,
            "task_path": stored_task_path(task_path, node_id),
            "node_id": node_id,
            "branch_id": branch_id,
            "idx": [WRITES_IDX_MAP.get(ch, i) for i, (ch, _) in enumerate(writes)],
            "channel": [ch for ch, _ in writes],
            # Stored as blobs are: zstd-compressed when that saves an eighth (`_compress`).
            "type": [t for t, _ in stored],
            "blob": [b for _, b in stored],
            "commit": "on" if self.waits_for_commit(config, writes) else "off",
        }
        if params["id"] is None:
            raise ConfigError(
                "put_writes needs configurable.checkpoint_id (the checkpoint written to)"
            )
        return params

    def writes_plan(self, prepared: dict[str, Any] | None, synchronous: bool = False) -> Plan[None]:
        """Send `prepare_writes`'s parameters (None: no writes, nothing sent);
        `synchronous`: see `put_writes`."""
        if prepared is None:
            return
        params = dict(prepared)
        if synchronous:
            params["commit"] = "on"
        many = len(params["channel"]) > 1
        if not many:  # one row: scalars, not one-element arrays
            for key in ("idx", "channel", "type", "blob"):
                params[key] = params[key][0]
        channels = params["channel"] if many else [params["channel"]]
        special = all(ch in WRITES_IDX_MAP for ch in channels)
        # Several regular writes (no special channel, no sends): one row (`WRITES_PACKED`),
        # unless the task has regular writes already (a call again: the same statement
        # stores them one row each).
        packed = many and not any(ch in WRITES_IDX_MAP or ch == TASKS for ch in channels)
        try:
            if packed:
                one = dict(params, channel=params["channel"][0])
                one["blob"] = pack_writes(
                    zip(
                        params["idx"],
                        params["channel"],
                        params["type"],
                        params["blob"],
                        strict=True,
                    )
                )
                del one["type"], one["idx"]
                try:
                    yield [Sql(_sql.WRITES_PACKED, one)]
                    return
                except psycopg.errors.SerializationFailure:
                    pass  # another call stored the task's first writes meanwhile
            yield [Sql(_sql.WRITES[(many, special)], params)]
        except psycopg.DataError as exc:
            raise InvalidChannelValue(
                "writes", "(a value)", f"PostgreSQL refused it: {exc}"
            ) from exc

    def waits_for_commit(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]] = ()
    ) -> bool:
        """Whether writes made with `config` commit synchronously: all but a LangGraph
        run's whose durability is not "sync" (unless `writes_async_commit` is off), and
        even then an error or an interrupt (which may end the run: nothing after it
        would flush it)."""
        conf = config.get("configurable") or {}
        if any(channel in _RUN_ENDING for channel, _ in writes):
            self.ending.mark(config)
            return True
        return not (self.writes_async_commit and _async_durability(conf))

    def put_waits_for_commit(self, config: RunnableConfig, checkpoint: Checkpoint) -> bool:
        """Whether a checkpoint put with `config` commits synchronously: all but those of
        a LangGraph run with durability "async" after which the run goes on (unless
        `checkpoints_async_commit` is off; see `_async_checkpoints`) and which wrote no
        error or interrupt yet."""
        conf = config.get("configurable") or {}
        if not (self.checkpoints_async_commit and _async_checkpoints(conf, checkpoint)):
            return True
        return self.ending.marked(config)


def _seen_of(row: tuple[Any, ...], checkpoint_id: str) -> dict[str, Any]:
    """The versions_seen of checkpoint `checkpoint_id` from `_sql.PARENT_SEEN`'s row."""
    seen_json, packed, blob_channels, blob_versions = row
    if packed is not None:
        stored = unpack_checkpoint(packed, checkpoint_id, blob_channels, blob_versions)
        seen = stored.get("versions_seen")
    else:
        seen = json_loads(seen_json) if seen_json is not None else None
    return seen if isinstance(seen, dict) else {}
