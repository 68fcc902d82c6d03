"""`export_jsonl`: a tenant's store items and checkpoint threads as JSON Lines. As in the
saver, a checkpoint record holds only what changed since its parent (`values`), and a list
that grew only its new tail (`appends`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import IO, Any

from langgraph.checkpoint.base import CheckpointTuple

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.jsonl.records import (
    FORMAT,
    FORMAT_VERSION,
    Progress,
    TransferReport,
    blob,
    write_record,
)
from langgraph_alma.transfer.jsonl.sql import count_items, items_page


def _index_hint(value: dict[str, Any], search_text: str) -> list[str] | bool | None:
    """Which fields the item's full-text search covered, so a re-put indexes the same."""
    if search_text == "":
        return False
    if value.get("text") == search_text:
        return ["text"]
    return None


def _kept(old: list[Any], new: list[Any]) -> int:
    """How many leading elements `new` shares with `old` (the same objects or equal)."""
    n = min(len(old), len(new))
    i = 0
    while i < n and (old[i] is new[i] or old[i] == new[i]):
        i += 1
    return i


def _checkpoint_record(
    serde: Any, tup: CheckpointTuple, parent: dict[str, Any] | None, scope: dict[str, Any]
) -> dict[str, Any]:
    conf = tup.config["configurable"]
    values = tup.checkpoint["channel_values"]
    versions = tup.checkpoint["channel_versions"]
    parent_versions = (parent or {}).get("channel_versions", {})
    parent_values = (parent or {}).get("channel_values", {})
    changed: dict[str, Any] = {}
    appends: dict[str, Any] = {}
    for channel, value in values.items():
        if (
            parent is not None
            and channel in parent_values
            and parent_versions.get(channel) == versions.get(channel)
        ):
            continue  # unchanged: the importer takes it from the parent
        old = parent_values.get(channel)
        keep = _kept(old, value) if isinstance(old, list) and isinstance(value, list) else 0
        if keep and keep == len(old):
            appends[channel] = {"keep": keep, **blob(serde, value[keep:])}
        else:
            changed[channel] = blob(serde, value)
    return {
        "kind": "checkpoint",
        "thread_id": conf["thread_id"],
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf["checkpoint_id"],
        "parent_checkpoint_id": (tup.parent_config or {})
        .get("configurable", {})
        .get("checkpoint_id"),
        "scope": scope,
        "checkpoint": {k: v for k, v in tup.checkpoint.items() if k != "channel_values"},
        "metadata": tup.metadata,
        "channels": sorted(values),
        "values": changed,
        "appends": appends,
        "writes": [
            {"task_id": task, "channel": channel, **blob(serde, value)}
            for task, channel, value in tup.pending_writes or ()
        ],
    }


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def export_jsonl(
    store: AlmaStore,
    saver: AlmaSaver | None,
    out: IO[str],
    *,
    progress: Progress | None = None,
) -> TransferReport:
    """Write the store's tenant's items and, with a saver, its checkpoint threads, as
    JSON Lines to `out` (see the module docstring for the format).

    >>> with open("acme.jsonl", "w") as f:                          # doctest: +SKIP
    ...     export_jsonl(store.for_tenant("acme"), saver, f).items
    """
    tenant = store.tenant()
    if saver is not None:
        saver = saver.for_tenant(tenant)
    threads = saver.list_threads() if saver is not None else []
    n_items = store.run(count_items(tenant))
    n_checkpoints = sum(t.checkpoints for t in threads)
    total = n_items + n_checkpoints
    header = {
        "kind": "header",
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "tenant": tenant,
        "exported_at": _iso(datetime.now(UTC)),
        "items": n_items,
        "checkpoints": n_checkpoints,
    }
    write_record(out, header)
    report = TransferReport(tenant)
    after = ("", "")
    while page := store.run(items_page(tenant, after)):
        for ns, key, value, search_text, created, updated, ttl in page:
            record = {
                "kind": "item",
                "namespace": ns.split("."),
                "key": key,
                "value": value,
                "created_at": _iso(created),
                "updated_at": _iso(updated),
                "ttl_minutes": ttl,
                "index": _index_hint(value, search_text),
            }
            write_record(out, record)
            report.items += 1
            if progress:
                progress(report.items, total)
        after = (page[-1][0], page[-1][1])
    for thread in threads:
        if saver is None:
            break
        scope = {
            "project_id": thread.project_id,
            "agent": thread.agent,
            "workflow_id": thread.workflow_id,
        }
        tuples = list(saver.list({"configurable": {"thread_id": thread.thread_id}}))
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for tup in reversed(tuples):  # oldest first: parents before children
            conf = tup.config["configurable"]
            ns = conf.get("checkpoint_ns", "")
            parent_id = (tup.parent_config or {}).get("configurable", {}).get("checkpoint_id")
            record = _checkpoint_record(saver.serde, tup, seen.get((ns, parent_id or "")), scope)
            seen[(ns, conf["checkpoint_id"])] = tup.checkpoint
            write_record(out, record)
            report.checkpoints += 1
            report.writes += len(record["writes"])
            if progress:
                progress(report.items + report.checkpoints, total)
        report.threads.append(thread.thread_id)
    return report
