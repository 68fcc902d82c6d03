"""A tenant's data as JSON Lines: export, and idempotent, all-or-nothing import.

The first line is a header (`format`, `version`, `tenant`, `exported_at` and how many
records follow); then one record a line:

- `{"kind": "item", "namespace": [...], "key", "value", "created_at", "updated_at",
  "ttl_minutes", "index"}`: a store item (`index` says which fields its full-text search
  covered: `false`, a list of paths, or null for the store's default);
- `{"kind": "checkpoint", "thread_id", "checkpoint_ns", "checkpoint_id",
  "parent_checkpoint_id", "scope", "checkpoint", "metadata", "channels", "values",
  "appends", "writes"}`: one checkpoint, oldest first per thread. As in the saver, only
  what changed since the parent is written: `values` holds changed channel values,
  `appends` the new tail of a list that grew (`keep` elements of the parent's list kept),
  each serialized by the saver's own serializer (`{"type", "data": base64}`).

Import validates every line before anything is written (a bad line raises
`TransferError` naming it), then writes everything in one transaction, through the
store's and the saver's own plans, so it lands whole or not at all. Store items are
upserts keyed by (namespace, key) and checkpoints by id, so importing a file twice leaves
the same data. Vectors are not exported: the importing store embeds values again (when it
has an index), as it does on every put.
"""

from __future__ import annotations

import base64
import copy
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.store.base import PutOp

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.checkpoint._core import SaverCore
from langgraph_alma.checkpoint._delta import ChannelMemory
from langgraph_alma.config import get_settings
from langgraph_alma.db.plan import Plan, Sql, run_plan, set_tenant
from langgraph_alma.errors import AlmaError, TransferError
from langgraph_alma.store import AlmaStore

FORMAT = "langgraph-alma"
"""The header's `format`: what an export file is."""
FORMAT_VERSION = 1
"""The header's `version`: import refuses files of another version."""
PAGE = 500  # store items read, or written, per statement
Progress = Callable[[int, int], None]  # (records done, records in all)

# Every live item of the tenant, a page at a time in key order (the primary key's order).
EXPORT_ITEMS = """
SELECT ns_path, key, value, search_text, created_at, updated_at, ttl_minutes
FROM alma_store
WHERE tenant_id = %(tenant)s AND (ns_path, key) > (%(ns)s, %(key)s)
  AND (expires_at IS NULL OR expires_at > now())
ORDER BY ns_path, key
LIMIT %(limit)s"""
COUNT_ITEMS = """
SELECT count(*) FROM alma_store
WHERE tenant_id = %(tenant)s AND (expires_at IS NULL OR expires_at > now())"""
# The store stamps puts with now(); an import keeps the exported times instead.
RESTORE_TIMES = """
UPDATE alma_store s SET created_at = u.created_at, updated_at = u.updated_at
FROM unnest(%(ns)s::text[], %(keys)s::text[], %(created)s::timestamptz[],
            %(updated)s::timestamptz[]) AS u(ns, key, created_at, updated_at)
WHERE s.tenant_id = %(tenant)s AND s.ns_path = u.ns AND s.key = u.key"""


@dataclass
class TransferReport:
    """What an export or import moved."""

    tenant: str
    items: int = 0
    checkpoints: int = 0
    writes: int = 0
    threads: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Records moved (items and checkpoints)."""
        return self.items + self.checkpoints


# -- encoding --------------------------------------------------------------------------
def _blob(serde: Any, value: Any) -> dict[str, str]:
    type_, data = serde.dumps_typed(value)
    return {"type": type_, "data": base64.b64encode(data).decode("ascii")}


def _unblob(serde: Any, blob: Any) -> Any:
    if not isinstance(blob, dict) or not isinstance(blob.get("type"), str):
        raise ValueError(f"expected a serialized value {{'type', 'data'}}, got {blob!r:.80}")
    return serde.loads_typed((blob["type"], base64.b64decode(blob["data"], validate=True)))


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
        if keep and keep == len(old):  # type: ignore[arg-type]
            appends[channel] = {"keep": keep, **_blob(serde, value[keep:])}
        else:
            changed[channel] = _blob(serde, value)
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
            {"task_id": task, "channel": channel, **_blob(serde, value)}
            for task, channel, value in tup.pending_writes or ()
        ],
    }


# -- export ----------------------------------------------------------------------------
def _items_page(tenant: str, after: tuple[str, str]) -> Plan[list[tuple[Any, ...]]]:
    params = {"tenant": tenant, "ns": after[0], "key": after[1], "limit": PAGE}
    results = yield [set_tenant(tenant), Sql(EXPORT_ITEMS, params, fetch=True)]
    return list(results[1] or [])


def _count_items(tenant: str) -> Plan[int]:
    results = yield [set_tenant(tenant), Sql(COUNT_ITEMS, {"tenant": tenant}, fetch=True)]
    return int(results[1][0][0]) if results[1] else 0


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
    tenant = store._core.tenant()
    if saver is not None:
        saver = saver.for_tenant(tenant)
    threads = saver.list_threads() if saver is not None else []
    n_items = store._run(_count_items(tenant))
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
    _write(out, header)
    report = TransferReport(tenant)
    after = ("", "")
    while page := store._run(_items_page(tenant, after)):
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
            _write(out, record)
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
            _write(out, record)
            report.checkpoints += 1
            report.writes += len(record["writes"])
            if progress:
                progress(report.items + report.checkpoints, total)
        report.threads.append(thread.thread_id)
    return report


def _write(out: IO[str], record: dict[str, Any]) -> None:
    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


# -- import: validation ----------------------------------------------------------------
@dataclass
class _Item:
    op: PutOp
    created_at: datetime
    updated_at: datetime


@dataclass
class _Checkpoint:
    config: RunnableConfig
    checkpoint: dict[str, Any]
    metadata: dict[str, Any]
    new_versions: dict[str, Any]
    writes: list[tuple[str, list[tuple[str, Any]]]]  # (task_id, [(channel, value)])


def _need(record: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = record.get(name)
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ValueError(
            f"{record.get('kind')} record needs {name!r} as {names}, got {value!r:.80}"
        )
    return value


def _time(record: dict[str, Any], name: str) -> datetime:
    value = _need(record, name, str)
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no time zone")
    return stamp


def _parse_item(store: AlmaStore, record: dict[str, Any]) -> _Item:
    namespace = _need(record, "namespace", list)
    if not namespace or not all(isinstance(n, str) and n for n in namespace):
        raise ValueError(f"namespace must be a non-empty list of labels, got {namespace!r:.80}")
    index = record.get("index")
    if not (index is None or index is False or isinstance(index, list)):
        raise ValueError(f"index must be false, a list of paths or null, got {index!r:.80}")
    ttl = record.get("ttl_minutes")
    op = PutOp(
        tuple(namespace),
        _need(record, "key", str),
        _need(record, "value", dict),
        index=index,
        ttl=ttl,
    )
    store._core.prepare([op])  # the store's own checks: value, size, ttl, namespace
    return _Item(op, _time(record, "created_at"), _time(record, "updated_at"))


def _parse_checkpoint(
    serde: Any, record: dict[str, Any], known: dict[tuple[str, str, str], dict[str, Any]]
) -> _Checkpoint:
    thread = _need(record, "thread_id", str)
    ns = _need(record, "checkpoint_ns", str)
    cid = _need(record, "checkpoint_id", str)
    parent_id = record.get("parent_checkpoint_id")
    if parent_id is not None and not isinstance(parent_id, str):
        raise ValueError(f"parent_checkpoint_id must be a string or null, got {parent_id!r:.80}")
    checkpoint = dict(_need(record, "checkpoint", dict))
    versions = checkpoint.get("channel_versions")
    if checkpoint.get("id") != cid or not isinstance(versions, dict):
        raise ValueError("checkpoint must hold its own id and channel_versions")
    scope = _need(record, "scope", dict)
    parent = known.get((thread, ns, parent_id)) if parent_id else None
    parent_values = (parent or {}).get("channel_values", {})
    values: dict[str, Any] = {}
    changed, appends = _need(record, "values", dict), _need(record, "appends", dict)
    for channel in _need(record, "channels", list):
        if channel in changed:
            values[channel] = _unblob(serde, changed[channel])
        elif channel in appends:
            base = parent_values.get(channel)
            keep = appends[channel].get("keep")
            if not isinstance(base, list) or not isinstance(keep, int) or keep != len(base):
                raise ValueError(f"channel {channel!r} appends to a parent list this file lacks")
            # The parent's own element objects: the saver then stores only the new tail.
            values[channel] = [*base, *_unblob(serde, appends[channel])]
        elif channel in parent_values:
            values[channel] = parent_values[channel]
        else:
            raise ValueError(f"channel {channel!r} is unchanged from a parent this file lacks")
    checkpoint["channel_values"] = values
    known[(thread, ns, cid)] = checkpoint
    parent_versions = (parent or {}).get("channel_versions", {})
    new_versions = {
        ch: v for ch, v in versions.items() if parent is None or parent_versions.get(ch) != v
    }
    configurable = {"thread_id": thread, "checkpoint_ns": ns, "checkpoint_id": parent_id}
    configurable.update({k: v for k, v in scope.items() if isinstance(v, str)})
    writes: dict[str, list[tuple[str, Any]]] = {}
    for w in _need(record, "writes", list):
        if not isinstance(w, dict) or not isinstance(w.get("task_id"), str):
            raise ValueError(f"a write needs task_id, channel, type and data, got {w!r:.80}")
        writes.setdefault(w["task_id"], []).append((_need(w, "channel", str), _unblob(serde, w)))
    return _Checkpoint(
        {"configurable": configurable},
        checkpoint,
        _need(record, "metadata", dict),
        new_versions,
        list(writes.items()),
    )


def _lines(source: str | Path | IO[str] | Iterable[str]) -> tuple[str, list[str]]:
    if isinstance(source, str | Path):
        path = Path(source)
        with path.open(encoding="utf-8") as f:  # FileNotFoundError names the path
            return str(path), f.read().splitlines()
    if isinstance(source, io.TextIOBase) or hasattr(source, "read"):
        return getattr(source, "name", "input"), source.read().splitlines()  # type: ignore[union-attr]
    return "input", [line.rstrip("\n") for line in source]


def _records(name: str, lines: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TransferError(f"not JSON ({exc.msg})", line=number, source=name) from exc
        if not isinstance(record, dict) or not isinstance(record.get("kind"), str):
            raise TransferError("a record must be a JSON object with a 'kind'", line=number,
                                source=name)  # fmt: skip
        yield number, record


def _check_header(name: str, number: int, record: dict[str, Any]) -> None:
    if record.get("kind") != "header" or record.get("format") != FORMAT:
        raise TransferError(
            f"the first record must be a {FORMAT!r} header, got kind {record.get('kind')!r}",
            line=number,
            source=name,
        )
    if record.get("version") != FORMAT_VERSION:
        raise TransferError(
            f"format version {record.get('version')!r} is not supported "
            f"(this langgraph-alma reads version {FORMAT_VERSION})",
            line=number,
            source=name,
        )


# -- import: writing -------------------------------------------------------------------
def _restore_times(tenant: str, items: list[_Item]) -> Plan[None]:
    params = {
        "tenant": tenant,
        "ns": [".".join(i.op.namespace) for i in items],
        "keys": [i.op.key for i in items],
        "created": [i.created_at for i in items],
        "updated": [i.updated_at for i in items],
    }
    yield [set_tenant(tenant), Sql(RESTORE_TIMES, params)]


def _put_items(
    conn: Any, store: AlmaStore, items: list[_Item], tick: Callable[[int], None]
) -> None:
    core = store._core
    for start in range(0, len(items), PAGE):
        chunk = items[start : start + PAGE]
        prepared = core.prepare([i.op for i in chunk])
        vectors: list[list[float]] = []
        if core.index and prepared.documents:
            vectors = core.index.embeddings.embed_documents(prepared.documents)
        run_plan(conn, core.execute(prepared, vectors, {}))
        run_plan(conn, _restore_times(prepared.tenant, chunk))
        tick(len(chunk))


def _put_checkpoints(
    conn: Any, core: SaverCore, checkpoints: list[_Checkpoint], tick: Callable[[int], None]
) -> int:
    writes = 0
    for cp in checkpoints:
        saved = run_plan(
            conn,
            core.put(cp.config, cp.checkpoint, cp.metadata, cp.new_versions),  # type: ignore[arg-type]
        )
        for task_id, task_writes in cp.writes:
            run_plan(conn, core.put_writes(saved, task_writes, task_id))
            writes += len(task_writes)
        tick(1)
    return writes


def import_jsonl(
    store: AlmaStore,
    saver: AlmaSaver | None,
    source: str | Path | IO[str] | Iterable[str],
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> TransferReport:
    """Import a file written by `export_jsonl` into `tenant` (default: the file's tenant);
    checkpoint records need a saver. Validates every line first, then writes all of it
    in one transaction; importing the same file again changes nothing.

    >>> import_jsonl(store, saver, "acme.jsonl", tenant="acme-copy").items   # doctest: +SKIP
    """
    name, lines = _lines(source)
    records = _records(name, lines)
    first = next(records, None)
    if first is None:
        raise TransferError("empty input: no header line", source=name)
    _check_header(name, *first)
    header = first[1]
    target = tenant or header.get("tenant")
    if not isinstance(target, str) or not target:
        raise TransferError("the header names no tenant and none was given", line=first[0],
                            source=name)  # fmt: skip
    store = store.for_tenant(target)
    core: SaverCore | None = None
    if saver is not None:
        # A private copy with an empty channel memory: what an import remembers (and
        # might roll back) never leaks into the caller's saver.
        core = copy.copy(saver.for_tenant(target)._core)
        core.memory = ChannelMemory(max(get_settings().cache_size, 1))
    items: list[_Item] = []
    checkpoints: list[_Checkpoint] = []
    known: dict[tuple[str, str, str], dict[str, Any]] = {}
    threads: dict[str, None] = {}
    for number, record in records:
        try:
            if record["kind"] == "item":
                items.append(_parse_item(store, record))
            elif record["kind"] == "checkpoint":
                if core is None:
                    raise ValueError("checkpoint records need a saver to import into")
                checkpoints.append(_parse_checkpoint(core.serde, record, known))
                threads[record["thread_id"]] = None
            else:
                raise ValueError(f"unknown record kind {record['kind']!r}")
        except (ValueError, TypeError, KeyError, AlmaError) as exc:
            raise TransferError(str(exc), line=number, source=name) from exc
    for kind, count in (("items", len(items)), ("checkpoints", len(checkpoints))):
        expected = header.get(kind)
        if isinstance(expected, int) and expected != count:
            raise TransferError(
                f"the header announces {expected} {kind} but the file holds {count} (truncated?)",
                source=name,
            )
    total = len(items) + len(checkpoints)
    report = TransferReport(target, items=len(items), checkpoints=len(checkpoints))
    report.threads = list(threads)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    with store._connection() as conn, conn.transaction():  # all of it, or nothing
        _put_items(conn, store, items, tick)
        if core is not None and checkpoints:
            report.writes = _put_checkpoints(conn, core, checkpoints, tick)
    return report
