"""Writing a thread read from `PostgresSaver` into an `AlmaSaver`, through its public
`put` and `put_writes`, parents before children.

The saver stores a list channel as a delta when the new list starts with the very objects
of the version it last wrote (as LangGraph's reducers keep them). Read back from
PostgresSaver, each checkpoint's lists are objects of their own, so before a checkpoint is
put, the elements it shares with its parent are replaced by the parent's own objects
(`share_parent_values`): a thread of N messages is stored as N messages, not N^2/2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import Checkpoint, CheckpointMetadata, CheckpointTuple

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.transfer.langgraph_postgres.source import SourceThread

Key = tuple[str, str]  # (namespace, checkpoint id)
# Configurable keys a LangGraph server puts in checkpoint metadata, which AlmaSaver keeps
# as the scope columns of a checkpoint (agent, workflow).
SCOPE_KEYS = ("assistant_id", "graph_id")


def _key(tup: CheckpointTuple) -> Key:
    conf = tup.config["configurable"]
    return conf.get("checkpoint_ns", ""), conf["checkpoint_id"]


def _parent_id(tup: CheckpointTuple) -> str | None:
    return ((tup.parent_config or {}).get("configurable") or {}).get("checkpoint_id")


def parent_first(tuples: Sequence[CheckpointTuple]) -> list[CheckpointTuple]:
    """`tuples` ordered so that each comes after its parent (ids ascending otherwise)."""
    by_key = {_key(t): t for t in tuples}
    done: set[Key] = set()
    ordered: list[CheckpointTuple] = []
    for tup in sorted(tuples, key=_key):
        chain = []
        key: Key | None = _key(tup)
        while key is not None and key in by_key and key not in done:
            chain.append(by_key[key])
            done.add(key)
            parent = _parent_id(by_key[key])
            key = (key[0], parent) if parent else None
        ordered.extend(reversed(chain))
    return ordered


def _shared(old: list[Any], new: list[Any]) -> int:
    n = min(len(old), len(new))
    i = 0
    while i < n and (old[i] is new[i] or old[i] == new[i]):
        i += 1
    return i


def share_parent_values(tup: CheckpointTuple, parent: CheckpointTuple | None) -> dict[str, Any]:
    """`tup`'s channel values, with what it shares with `parent` (a channel at the same
    version, the leading elements of a list) made of the parent's own objects."""
    values = dict(tup.checkpoint["channel_values"])
    if parent is None:
        return values
    versions = tup.checkpoint["channel_versions"]
    parent_values = parent.checkpoint["channel_values"]
    parent_versions = parent.checkpoint["channel_versions"]
    for channel, value in values.items():
        if channel not in parent_values:
            continue
        old = parent_values[channel]
        if parent_versions.get(channel) == versions.get(channel):
            values[channel] = old
        elif isinstance(old, list) and isinstance(value, list) and (keep := _shared(old, value)):
            values[channel] = [*old[:keep], *value[keep:]]
    return values


def new_versions(tup: CheckpointTuple, parent: CheckpointTuple | None) -> dict[str, Any]:
    """The channel versions `tup` changed since `parent` (all of them for a root)."""
    versions = tup.checkpoint["channel_versions"]
    if parent is None:
        return dict(versions)
    before = parent.checkpoint["channel_versions"]
    return {ch: v for ch, v in versions.items() if before.get(ch) != v}


def writes_by_task(tup: CheckpointTuple) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Pending writes grouped by task, in the order PostgresSaver returns them."""
    grouped: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in tup.pending_writes or ():
        grouped.setdefault(task_id, []).append((channel, value))
    return list(grouped.items())


@dataclass
class ThreadResult:
    """What writing one thread did."""

    checkpoints: int = 0
    writes: int = 0
    present: int = 0  # checkpoints already in the target
    present_writes: int = 0  # pending writes already in the target


def write_thread(saver: AlmaSaver, thread: SourceThread) -> ThreadResult:
    """Put `thread`'s checkpoints the target lacks, and the pending writes it lacks, into
    `saver` (bound to the target tenant), parents first."""
    result = ThreadResult()
    target = {_key(t): t for t in saver.list({"configurable": {"thread_id": thread.thread_id}})}
    written: dict[Key, CheckpointTuple] = {}  # what the saver last saw of each checkpoint
    for tup in parent_first(thread.tuples):
        ns, cid = _key(tup)
        parent_id = _parent_id(tup)
        parent = written.get((ns, parent_id)) if parent_id else None
        if parent is None and parent_id and (ns, parent_id) in target:
            # The parent was imported before: read it back, which also makes the saver
            # remember its lists, so this child is stored as a delta over them.
            parent = saver.get_tuple(_config(thread.thread_id, ns, parent_id))
        existing = target.get((ns, cid))
        if existing is not None:
            result.present += 1
            saved = _config(thread.thread_id, ns, cid)
            have = {(w[0], w[1]) for w in existing.pending_writes or ()}
        else:
            metadata = dict(tup.metadata)
            config = _config(thread.thread_id, ns, parent_id)
            for name in SCOPE_KEYS:
                if isinstance(metadata.get(name), str):
                    config["configurable"][name] = metadata[name]
            checkpoint: Checkpoint = {
                **tup.checkpoint,
                "channel_values": share_parent_values(tup, parent),
            }
            meta = cast(CheckpointMetadata, metadata)  # the source's own, plus scope keys
            saved = saver.put(config, checkpoint, meta, new_versions(tup, parent))
            result.checkpoints += 1
            have = set()
            written[(ns, cid)] = CheckpointTuple(
                tup.config, checkpoint, tup.metadata, tup.parent_config, tup.pending_writes
            )
        for task_id, writes in writes_by_task(tup):
            if all((task_id, channel) in have for channel, _ in writes):
                result.present_writes += len(writes)
                continue
            path = thread.task_paths.get((ns, cid, task_id), "")
            saver.put_writes(saved, writes, task_id, path)
            result.writes += len(writes)
    return result


def _config(thread_id: str, ns: str, checkpoint_id: str | None) -> RunnableConfig:
    return {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": ns,
            "checkpoint_id": checkpoint_id,
        }
    }
