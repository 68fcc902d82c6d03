"""Write only what changed: list channels stored as deltas over their previous version.

Pure code, no I/O. A saver remembers, per thread channel, the last list value it wrote or
read (`ChannelMemory`). When a new version of that channel starts with the same elements
(the same objects, as LangGraph's reducers such as `add_messages` and `operator.add`
keep them), only the tail is stored, with the length of the base it extends; every
`max_chain` deltas the whole value is stored again, so a read replays a bounded chain.
Stored rows are immutable, so a remembered version can stand in for its row on reads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

Loads = Callable[[tuple[str, bytes]], Any]


@dataclass(frozen=True, slots=True)
class Remembered:
    """A channel version known to be stored: its list elements (lists only) and size."""

    version: str
    items: tuple[Any, ...] | None
    depth: int
    nbytes: int


@dataclass(frozen=True, slots=True)
class BlobRow:
    """A stored blob row: a whole value, or a delta over `base_version`."""

    channel: str
    version: str
    type: str
    blob: bytes | None
    base_version: str | None = None
    keep_len: int | None = None
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Encoded:
    """What to store for one channel version."""

    row: BlobRow
    remembered: Remembered


def common_prefix(old: tuple[Any, ...], new: list[Any]) -> int:
    """Length of the longest prefix of `new` made of the same objects as `old`."""
    n = min(len(old), len(new))
    i = 0
    while i < n and old[i] is new[i]:
        i += 1
    return i


def encode(
    channel: str,
    version: str,
    value: Any,
    previous: Remembered | None,
    dumps: Callable[[Any], tuple[str, bytes]],
    max_chain: int,
) -> Encoded:
    """Encode one channel value: a delta when it extends `previous`, else whole."""
    if isinstance(value, list) and previous is not None and previous.items is not None:
        keep = common_prefix(previous.items, value)
        if keep and previous.depth < max_chain:
            type_, blob = dumps(value[keep:])
            prefix = previous.nbytes * keep // max(len(previous.items), 1)
            depth = previous.depth + 1
            row = BlobRow(channel, version, type_, blob, previous.version, keep, depth)
            return Encoded(row, Remembered(version, tuple(value), depth, prefix + len(blob)))
    type_, blob = dumps(value)
    items = tuple(value) if isinstance(value, list) else None
    return Encoded(BlobRow(channel, version, type_, blob), Remembered(version, items, 0, len(blob)))


Key = tuple[str, str, str, str]  # thread, namespace, channel, version


def rebuild(
    key: Key,
    rows: Mapping[Key, BlobRow],
    memo: dict[Key, Remembered],
    loads: Loads,
    *,
    remember_path: bool = True,
) -> tuple[Any, Remembered]:
    """Rebuild one channel value from its chain of rows.

    The walk stops early at a version in `memo` (what the saver remembers, and what this
    read already rebuilt). The rebuilt version is added to `memo`, and with
    `remember_path` every list version on the way too (a `list` reads many checkpoints
    whose chains overlap; a `get_tuple` needs only the last).
    """
    thread, ns, channel, _ = key
    path: list[BlobRow] = []
    cursor: str | None = key[3]
    value: Any = None
    nbytes = depth = 0
    while cursor is not None:
        known = memo.get((thread, ns, channel, cursor))
        if known is not None and known.items is not None:
            value, nbytes, depth = list(known.items), known.nbytes, known.depth
            break
        row = rows.get((thread, ns, channel, cursor))
        if row is None:
            raise LookupError(f"blob {channel}@{cursor} of thread {thread!r} is missing")
        path.append(row)
        cursor = row.base_version
    else:
        whole = path.pop()
        value = loads((whole.type, whole.blob))
        nbytes, depth = len(whole.blob or b""), whole.depth
        if not isinstance(value, list):
            return value, Remembered(whole.version, None, depth, nbytes)
        if remember_path or not path:
            memo[(thread, ns, channel, whole.version)] = Remembered(
                whole.version, tuple(value), depth, nbytes
            )
    for row in reversed(path):
        keep = row.keep_len or 0
        # Size of the kept prefix, estimated from the base's size (exact for appends).
        nbytes = nbytes * keep // max(len(value), 1) + len(row.blob or b"")
        del value[keep:]
        value.extend(loads((row.type, row.blob)))
        depth = row.depth
        if remember_path or row is path[0]:
            memo[(thread, ns, channel, row.version)] = Remembered(
                row.version, tuple(value), depth, nbytes
            )
    return value, memo[key]


class ChannelMemory:
    """Per-thread memory of the last stored version of each channel, LRU by thread.

    Keys always include the tenant; nothing is shared across tenants.
    """

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._threads: OrderedDict[tuple[str, str], dict[tuple[str, str], Remembered]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()  # guards the dict only, never I/O

    def thread(self, tenant: str, thread: str) -> dict[tuple[str, str], Remembered]:
        """A copy of what is remembered for one thread, keyed by (namespace, channel)."""
        with self._lock:
            found = self._threads.get((tenant, thread))
            if found is None:
                return {}
            self._threads.move_to_end((tenant, thread))
            return dict(found)

    def remember(
        self, tenant: str, thread: str, entries: Iterable[tuple[tuple[str, str], Remembered]]
    ) -> None:
        if self.max_threads <= 0:
            return
        with self._lock:
            current = self._threads.setdefault((tenant, thread), {})
            current.update(entries)
            self._threads.move_to_end((tenant, thread))
            while len(self._threads) > self.max_threads:
                self._threads.popitem(last=False)

    def forget(self, tenant: str, threads: Iterable[str] | None = None) -> None:
        """Forget some threads of a tenant, or all of them."""
        with self._lock:
            if threads is None:
                for key in [k for k in self._threads if k[0] == tenant]:
                    del self._threads[key]
            else:
                for thread in threads:
                    self._threads.pop((tenant, thread), None)
