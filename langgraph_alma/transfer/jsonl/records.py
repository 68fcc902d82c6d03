"""What a JSON Lines transfer file holds: its header's format, the serialized-value
encoding shared by export and import, and the validation of each record an import reads
(every line is checked before anything is written; a bad one raises `TransferError`)."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from langchain_core.runnables import RunnableConfig
from langgraph.store.base import PutOp

from langgraph_alma.errors import TransferError
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.jsonl.sql import ImportedItem

FORMAT = "langgraph-alma"
"""The header's `format`: what an export file is."""
FORMAT_VERSION = 1
"""The header's `version`: import refuses files of another version."""
Progress = Callable[[int, int], None]  # (records done, records in all)


def progress_ticker(progress: Progress | None, total: int) -> Callable[[int], None]:
    """A `tick(n)` that counts `n` more records done and reports (done, total) to
    `progress`, if any."""
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress:
            progress(done, total)

    return tick


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


# -- serialized values ------------------------------------------------------------------
def blob(serde: Any, value: Any) -> dict[str, str]:
    """`value` serialized by `serde`, as JSON: `{"type", "data": base64}`."""
    type_, data = serde.dumps_typed(value)
    return {"type": type_, "data": base64.b64encode(data).decode("ascii")}


def unblob(serde: Any, blob: Any) -> Any:
    """The value `blob` (written by `blob`) holds; `ValueError` when it is not one."""
    if not isinstance(blob, dict) or not isinstance(blob.get("type"), str):
        raise ValueError(f"expected a serialized value {{'type', 'data'}}, got {blob!r:.80}")
    return serde.loads_typed((blob["type"], base64.b64decode(blob["data"], validate=True)))


def write_record(out: IO[str], record: dict[str, Any]) -> None:
    """One record, one line."""
    out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")


# -- validation ------------------------------------------------------------------------
@dataclass
class CheckpointRecord:
    """A checkpoint to import, as the saver's `put` and `put_writes` take it."""

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


def parse_item(store: AlmaStore, record: dict[str, Any]) -> ImportedItem:
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
    store.prepare([op])  # the store's own checks: value, size, ttl, namespace
    return ImportedItem(op, _time(record, "created_at"), _time(record, "updated_at"))


def parse_checkpoint(
    serde: Any, record: dict[str, Any], known: dict[tuple[str, str, str], dict[str, Any]]
) -> CheckpointRecord:
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
            values[channel] = unblob(serde, changed[channel])
        elif channel in appends:
            base = parent_values.get(channel)
            keep = appends[channel].get("keep")
            if not isinstance(base, list) or not isinstance(keep, int) or keep != len(base):
                raise ValueError(f"channel {channel!r} appends to a parent list this file lacks")
            # The parent's own element objects: the saver then stores only the new tail.
            values[channel] = [*base, *unblob(serde, appends[channel])]
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
        writes.setdefault(w["task_id"], []).append((_need(w, "channel", str), unblob(serde, w)))
    return CheckpointRecord(
        {"configurable": configurable},
        checkpoint,
        _need(record, "metadata", dict),
        new_versions,
        list(writes.items()),
    )


def read_lines(source: str | Path | IO[str] | Iterable[str]) -> tuple[str, list[str]]:
    if isinstance(source, str | Path):
        path = Path(source)
        with path.open(encoding="utf-8") as f:  # FileNotFoundError names the path
            return str(path), f.read().splitlines()
    if isinstance(source, io.TextIOBase) or hasattr(source, "read"):
        return getattr(source, "name", "input"), source.read().splitlines()
    return "input", [line.rstrip("\n") for line in source]


def read_records(name: str, lines: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
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


def check_header(name: str, number: int, record: dict[str, Any]) -> None:
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
