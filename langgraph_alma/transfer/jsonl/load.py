"""`import_jsonl`: a file written by `export_jsonl` into a tenant, validated whole first,
then written in one transaction through the store's and the saver's own plans."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.checkpoint.plans import ChannelMemory, SaverCore
from langgraph_alma.config import get_settings
from langgraph_alma.db.plan import run_plan
from langgraph_alma.errors import AlmaError, TransferError
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.jsonl.records import (
    CheckpointRecord,
    Progress,
    TransferReport,
    check_header,
    parse_checkpoint,
    parse_item,
    progress_ticker,
    read_lines,
    read_records,
)
from langgraph_alma.transfer.jsonl.sql import PAGE, ImportedItem, restore_times


def _put_items(
    conn: Any, store: AlmaStore, items: list[ImportedItem], tick: Callable[[int], None]
) -> None:
    for start in range(0, len(items), PAGE):
        chunk = items[start : start + PAGE]
        prepared = store.prepare([i.op for i in chunk])
        store.execute_on(conn, prepared)
        run_plan(conn, restore_times(prepared.tenant, chunk))
        tick(len(chunk))


def _put_checkpoints(
    conn: Any, core: SaverCore, checkpoints: list[CheckpointRecord], tick: Callable[[int], None]
) -> int:
    writes = 0
    for cp in checkpoints:
        saved = run_plan(
            conn,
            core.put(cp.config, cp.checkpoint, cp.metadata, cp.new_versions),  # type: ignore[arg-type]  # JSONL holds them as plain dicts
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
    name, lines = read_lines(source)
    records = read_records(name, lines)
    first = next(records, None)
    if first is None:
        raise TransferError("empty input: no header line", source=name)
    check_header(name, *first)
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
        core = copy.copy(saver.for_tenant(target).core)
        core.memory = ChannelMemory(max(get_settings().cache_size, 1))
    items: list[ImportedItem] = []
    checkpoints: list[CheckpointRecord] = []
    known: dict[tuple[str, str, str], dict[str, Any]] = {}
    threads: dict[str, None] = {}
    for number, record in records:
        try:
            if record["kind"] == "item":
                items.append(parse_item(store, record))
            elif record["kind"] == "checkpoint":
                if core is None:
                    raise ValueError("checkpoint records need a saver to import into")
                checkpoints.append(parse_checkpoint(core.serde, record, known))
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
    tick = progress_ticker(progress, total)

    with store.connection() as conn, conn.transaction():  # all of it, or nothing
        _put_items(conn, store, items, tick)
        if core is not None and checkpoints:
            report.writes = _put_checkpoints(conn, core, checkpoints, tick)
    return report
