"""`Reads`: the read half of `SaverCore` as plans: `get_tuple`, `list`, delta history,
and rows back into LangGraph objects. Mixed into `SaverCore`, whose attributes (the
serializer, the channel memory, the tenant) it uses."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    get_checkpoint_id,
    writes_sort_key,
)
from langgraph.checkpoint.serde.types import TASKS
from psycopg.types.json import Jsonb

from langgraph_alma.checkpoint import _sql
from langgraph_alma.checkpoint._compress import expand_writes, unpack_checkpoint
from langgraph_alma.checkpoint._decode import json_loads
from langgraph_alma.checkpoint._delta import (
    BlobRow,
    Key,
    Remembered,
    Scope,
    no_gc,
    rebuild,
)
from langgraph_alma.checkpoint._inputs import check_limit
from langgraph_alma.checkpoint._state import CoreState
from langgraph_alma.db.plan import Plan, Sql


class Reads(CoreState):
    """The read plans of `SaverCore` (see the module)."""

    def _select(
        self,
        tenant: str,
        thread: str | None,
        where: str,
        params: dict[str, Any],
        limit: int | None,
        latest: bool = False,
    ) -> Plan[tuple[list[CheckpointTuple], dict[Key, Remembered], list[Scope]]]:
        """Load checkpoints of `tenant` matching `where`, newest first, with the channel
        versions rebuilt on the way, and the scope each is stored with. `latest`: only
        the latest (get_tuple), read with `WARM_SELECT` first when the saver holds list
        versions of the thread."""
        memo: dict[Key, Remembered] = {}
        if thread is not None:
            for (ns, channel), r in self.memory.thread(tenant, thread).items():
                memo[(thread, ns, channel, r.version)] = r
        params["tenant"] = tenant
        rows: Any = None
        if (
            latest
            and thread is not None
            and any(r.pieces is not None for r in memo.values())
            and self.memory.holds_values(tenant, thread)
        ):
            results = yield [Sql(_sql.WARM_SELECT.format(where=where), params, fetch=True)]
            rows = results[0] or ()
            head = next((row for row in rows if row[0] == "c"), None)
            if head is None:
                return [], memo, []
            held = _held(head, memo)
            if held is not True:  # read again, with the blob rows it needs
                if held is None:  # a value that is no list: never held, read it so
                    self.memory.mark_unheld(tenant, thread)
                where += " AND c.checkpoint_id = %(head)s"
                params["head"] = head[3]
                rows = None
        if rows is None:
            lists = [k for k, r in memo.items() if r.pieces is not None]
            params["known"] = json.dumps(lists) if lists else "[]"
            query = _sql.SELECT.format(
                where=where, limit="LIMIT %(limit)s" if limit is not None else ""
            )
            if limit is not None:
                params["limit"] = int(limit)
            results = yield [Sql(query, params, fetch=True)]
            rows = results[0] or ()
        checkpoints: builtins.list[Any] = []
        writes: dict[tuple[Any, ...], builtins.list[tuple[Any, ...]]] = {}
        sends: dict[tuple[Any, ...], builtins.list[tuple[Any, ...]]] = {}
        chain: dict[tuple[Any, ...], BlobRow] = {}
        for row in rows:
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
        with no_gc():
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
        return found, memo, [(row[16], row[17], row[18]) for row in checkpoints]

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
        found, built, scopes = yield from self._select(
            tenant, thread, where, params, 1, latest=True
        )
        if not found:
            return None
        tup = found[0]
        ns = tup.config["configurable"]["checkpoint_ns"]
        # Its versions_seen and stored scope: a put of its child (LangGraph's next, or
        # another process's) reads no parent row (`Writes.put`).
        self.memory.remember_seen(
            tenant,
            thread,
            ns,
            tup.checkpoint["id"],
            tup.checkpoint.get("versions_seen") or {},
            scopes[0],
        )
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
            if checkpoint_id := get_checkpoint_id(config):  # type: ignore[arg-type]  # a list() call's config, set on this branch
                where += " AND c.checkpoint_id = %(id)s"
                params["id"] = checkpoint_id
        if filter:
            where += f" AND {_sql.METADATA} @> %(filter)s"  # the metadata as read
            params["filter"] = Jsonb(filter)
        if before is not None and (before_id := get_checkpoint_id(before)):
            where += " AND c.checkpoint_id < %(before)s"
            params["before"] = before_id
        found, _, _ = yield from self._select(tenant, thread, where, params, limit)
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
        _, thread, ns, cid, parent, _, _, packed, *_ = row
        checkpoint, inline, metadata, blob_channels, blob_versions = row[11:16]
        if packed is not None:  # migration 0012's format; else the jsonb of rows before
            checkpoint = unpack_checkpoint(packed, cid, blob_channels, blob_versions)
        else:
            checkpoint = json_loads(checkpoint)
        metadata = json_loads(metadata)
        checkpoint["id"] = cid  # the column (`Writes.put` leaves it out of the JSON)
        values = json_loads(inline)
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
        pending = sorted(expand_writes(writes), key=lambda w: writes_sort_key(w[4], w[0], w[5]))
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
            for w in sorted(
                expand_writes(rows or ()), key=lambda w: writes_sort_key(w[4], w[0], w[5])
            ):
                if w[1] in wanted:  # a packed row holds other channels' writes too
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


def _held(row: tuple[Any, ...], memo: dict[Key, Remembered]) -> bool | None:
    """Whether `WARM_SELECT`'s checkpoint row reads complete from `memo`: each of its blob
    channels' versions held as a list. False: a version not held (another saver wrote
    it); None: a channel the saver knows as a value that is no list (read from its blob
    row each time)."""
    _, thread, ns, *_ = row
    blob_channels = row[14]
    if not blob_channels:
        return True
    if row[7] is not None:  # packed: the versions in `blob_versions`
        if row[15] is None:
            return False
        versions = row[15].split(",")
    else:  # stored as jsonb
        stored = json_loads(row[11]).get("channel_versions")
        if not isinstance(stored, dict):
            return False
        versions = [str(stored[ch]) if stored.get(ch) is not None else "" for ch in blob_channels]
    held: bool | None = True
    for channel, version in zip(blob_channels, versions, strict=False):
        if version:  # '': no version, read as never stored
            known = memo.get((thread, ns, channel, version))
            if known is None or known.pieces is None:
                values = [r for k, r in memo.items() if k[1:3] == (ns, channel)]
                if any(r.pieces is None for r in values) or (known and known.pieces is None):
                    return None
                held = False
    return held
