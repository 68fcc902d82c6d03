"""Write only what changed: list channels stored as deltas over their previous version.

Pure code, no I/O. A saver remembers, per thread channel, the last list value it wrote or
read (`ChannelMemory`). When a new version of that channel starts with the same elements
(the same objects, as LangGraph's reducers such as `add_messages` and `operator.add`
keep them), only the tail is stored, with the length of the base it extends. Every
`max_chain` deltas, an *anchor* is stored instead: a delta over the previous anchor (or
the whole value the chain starts from) holding every element appended since, so a read
replays at most `max_chain` deltas after a few anchors, and each element is stored twice
at most (its delta, one anchor), never again in a whole copy of a long list. After
`MAX_ANCHORS` anchors the whole value is stored again, bounding the chain.
Stored rows are immutable, so a remembered version can stand in for its row on reads.

What is remembered is bytes, never objects a caller holds: each read decodes a value of
its own from `Piece`s (pickles made in this process, or the serializer's own bytes), so
mutating what a read returned, or what was written, changes nothing another read sees.
The elements last written or handed out are kept only to be compared by identity (`is`)
with the next value written, never handed out. Rows and pieces hold the serializer's
bytes as stored (`_compress.pack`); the `loads` given here unpacks them.
"""

from __future__ import annotations

import gc
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from langgraph_alma.checkpoint._compress import pack, raw_size

Loads = Callable[[tuple[str, bytes]], Any]
Dumps = Callable[[Any], tuple[str, bytes]]

_PICKLE = "\x00pickle"  # a piece pickled in this process (never read from the database)
_MERGE_AT = 32  # pieces after which a remembered list is pickled again as one piece
# A row's `depth` is `anchors * ANCHOR_STRIDE + deltas since the last anchor`: 0 for a
# whole value, 1.. for the deltas after it, ANCHOR_STRIDE * k for the k-th anchor. Rows
# stored before anchors existed have depths below max_chain: whole values and deltas.
ANCHOR_STRIDE = 1 << 16
MAX_ANCHORS = 16  # anchors over one whole value: a chain has <= 16 + max_chain rows


@dataclass(frozen=True, slots=True)
class Piece:
    """Bytes of consecutive list elements: the first `count` elements of the list that
    `blob` decodes to (a pickle made in this process, or the serializer's `type`)."""

    type: str
    blob: bytes | None
    count: int


@dataclass(frozen=True, slots=True)
class Remembered:
    """A channel version known to be stored: for a list, the pieces it is rebuilt from
    and the elements last written or handed out (compared by identity only); its size."""

    version: str
    pieces: tuple[Piece, ...] | None
    items: tuple[Any, ...] | None
    depth: int
    nbytes: int
    # The version the next anchor extends (the last anchor, or the whole value the chain
    # starts from) and how many leading elements this value shares with it; None: unknown
    # (the next anchor is then a whole value).
    anchor: tuple[str, int] | None = None


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


def truncate(pieces: tuple[Piece, ...], keep: int) -> tuple[Piece, ...]:
    """The pieces of the first `keep` elements."""
    out: list[Piece] = []
    for piece in pieces:
        if keep <= 0:
            break
        out.append(piece if piece.count <= keep else Piece(piece.type, piece.blob, keep))
        keep -= piece.count
    return tuple(out)


def freeze(items: list[Any], type_: str, blob: bytes | None) -> Piece:
    """A piece for `items` (freshly decoded from `blob`, or about to be handed out):
    a pickle, which decodes several times faster than the serializer's bytes, or the
    serializer's bytes when `items` cannot be pickled."""
    try:
        return Piece(_PICKLE, pickle.dumps(items, protocol=pickle.HIGHEST_PROTOCOL), len(items))
    except Exception:  # an element pickle refuses: keep the serializer's bytes
        return Piece(type_, blob, len(items))


def merge_tail(pieces: tuple[Piece, ...], value: list[Any]) -> tuple[Piece, ...]:
    """`pieces` of `value` (its elements, in order), the last ones pickled again as one
    while the one before the last holds no more elements than the last: a binary
    counter, so a list of n elements is in at most about log2(n) pieces and each element
    is pickled again about log2(n) times. A `list` thaws every checkpoint's value from
    these pieces, and unpickling a few large pieces costs a third of many small ones."""
    out = list(pieces)
    while (
        len(out) >= 2
        and out[-1].type == _PICKLE
        and out[-2].type == _PICKLE
        and out[-2].count <= out[-1].count
    ):
        count = out[-2].count + out[-1].count
        merged = freeze(value[len(value) - count :], "", None)
        if merged.type != _PICKLE:
            break
        out[-2:] = [merged]
    return tuple(out)


def _typed(type_: str, blob: bytes | None) -> tuple[str, bytes]:
    """`(type_, blob)` for the serializer's `loads_typed`, which LangGraph types as taking
    bytes but which also reads the NULL blob of a bytes-less type, as PostgresSaver's."""
    return cast(tuple[str, bytes], (type_, blob))


def thaw(pieces: Iterable[Piece], loads: Loads) -> tuple[list[Any], tuple[Piece, ...]]:
    """Fresh objects for a remembered list, and its pieces with the serializer's bytes
    replaced by pickles (so the next read decodes faster)."""
    value: list[Any] = []
    kept: list[Piece] = []
    for piece in pieces:
        if piece.type == _PICKLE:
            assert piece.blob is not None  # a pickle has bytes
            part = pickle.loads(piece.blob)  # noqa: S301 - pickled by this process
        else:
            part = loads(_typed(piece.type, piece.blob))
            frozen = freeze(part, piece.type, piece.blob)
            piece = Piece(frozen.type, frozen.blob, piece.count)
        value.extend(part if len(part) <= piece.count else part[: piece.count])
        kept.append(piece)
    return value, tuple(kept)


def encode(
    channel: str,
    version: str,
    value: Any,
    previous: Remembered | None,
    dumps: Dumps,
    max_chain: int,
) -> Encoded:
    """Encode one channel value: a delta when it extends `previous` (an anchor every
    `max_chain` deltas, see the module's doc), else whole."""
    if isinstance(value, list) and previous is not None and previous.items is not None:
        keep = common_prefix(previous.items, value)
        if keep and previous.pieces is not None and max_chain > 0:
            anchors, since = divmod(previous.depth, ANCHOR_STRIDE)
            base: str | None = None
            anchor = previous.anchor
            if since < max_chain:
                base, depth = previous.version, previous.depth + 1
                anchor = (anchor[0], min(anchor[1], keep)) if anchor is not None else None
            elif anchor is not None and min(anchor[1], keep) and anchors < MAX_ANCHORS:
                # The elements since the last anchor, over it (those it shares with value).
                base, keep = anchor[0], min(anchor[1], keep)
                depth = (anchors + 1) * ANCHOR_STRIDE
                anchor = (version, len(value))
            if base is not None:
                tail = value[keep:]
                type_, raw = dumps(tail)
                type_, blob = pack(type_, raw)
                prefix = previous.nbytes * keep // max(len(previous.items), 1)
                row = BlobRow(channel, version, type_, blob, base, keep, depth)
                pieces = (*truncate(previous.pieces, keep), Piece(type_, blob, len(tail)))
                remembered = Remembered(
                    version, pieces, tuple(value), depth, prefix + len(raw or b""), anchor
                )
                return Encoded(row, remembered)
    type_, raw = dumps(value)
    type_, blob = pack(type_, raw)
    nbytes = len(raw or b"")  # limits count serialized bytes, not stored ones
    if isinstance(value, list):
        pieces = (Piece(type_, blob, len(value)),)
        remembered = Remembered(version, pieces, tuple(value), 0, nbytes, (version, len(value)))
    else:
        remembered = Remembered(version, None, None, 0, nbytes)
    return Encoded(BlobRow(channel, version, type_, blob), remembered)


Key = tuple[str, str, str, str]  # thread, namespace, channel, version


@contextmanager
def no_gc() -> Iterator[None]:
    """No cyclic garbage collection while a read decodes thousands of objects: the
    collections their allocation triggers (a full one now and then, whose cost grows
    with the whole process's heap) cost several times the decoding itself. A read of
    many checkpoints holds it over all of them (`Reads`): re-enabled after each, the
    collector would run once per checkpoint."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def rebuild(
    key: Key,
    rows: Mapping[Key, BlobRow],
    memo: dict[Key, Remembered],
    loads: Loads,
    *,
    remember_path: bool = True,
) -> tuple[Any, Remembered]:
    """Rebuild one channel value from its chain of rows (see `_rebuild`)."""
    with no_gc():
        return _rebuild(key, rows, memo, loads, remember_path=remember_path)


def _rebuild(
    key: Key,
    rows: Mapping[Key, BlobRow],
    memo: dict[Key, Remembered],
    loads: Loads,
    *,
    remember_path: bool = True,
) -> tuple[Any, Remembered]:
    """Rebuild one channel value from its chain of rows: objects of its own, shared with
    nothing (the rows' bytes are decoded, remembered versions thawed).

    The walk stops early at a version in `memo` (what the saver remembers, and what this
    read already rebuilt). The rebuilt version is added to `memo` (with the elements
    handed out, for the next write's identity check), and with `remember_path` every
    list version on the way too (a `list` reads many checkpoints whose chains overlap;
    a `get_tuple` needs only the last).
    """
    thread, ns, channel, _ = key
    path: list[BlobRow] = []
    cursor: str | None = key[3]
    value: list[Any]
    pieces: tuple[Piece, ...]
    while cursor is not None:
        known = memo.get((thread, ns, channel, cursor))
        if known is not None and known.pieces is not None:
            value, pieces = thaw(known.pieces, loads)
            nbytes, depth, anchor = known.nbytes, known.depth, known.anchor
            if pieces != known.pieces:  # serializer bytes became pickles: keep those
                memo[(thread, ns, channel, cursor)] = Remembered(
                    known.version, pieces, known.items, depth, nbytes, anchor
                )
            break
        row = rows.get((thread, ns, channel, cursor))
        if row is None:
            raise LookupError(f"blob {channel}@{cursor} of thread {thread!r} is missing")
        path.append(row)
        cursor = row.base_version
    else:
        whole = path.pop()
        decoded = loads(_typed(whole.type, whole.blob))
        nbytes, depth = raw_size(whole.type, whole.blob), whole.depth
        if not isinstance(decoded, list):
            return decoded, Remembered(whole.version, None, None, depth, nbytes)
        value = decoded
        anchor = (whole.version, len(value))
        # A get_tuple keeps the serializer's bytes (here and for each delta below),
        # pickled at the next read if there is one; a list pickles now, as its older
        # checkpoints thaw these pieces again.
        pieces = (
            freeze(value, whole.type, whole.blob)
            if remember_path
            else Piece(whole.type, whole.blob, len(value)),
        )
        if remember_path or not path:
            memo[(thread, ns, channel, whole.version)] = Remembered(
                whole.version, pieces, None, depth, nbytes, anchor
            )
    for row in reversed(path):
        keep = row.keep_len or 0
        # Size of the kept prefix, estimated from the base's size (exact for appends).
        nbytes = nbytes * keep // max(len(value), 1) + raw_size(row.type, row.blob)
        tail = loads(_typed(row.type, row.blob))
        del value[keep:]
        value.extend(tail)
        piece = (
            freeze(tail, row.type, row.blob)
            if remember_path
            else Piece(row.type, row.blob, len(tail))
        )
        pieces = (*truncate(pieces, keep), piece)
        if remember_path:
            pieces = merge_tail(pieces, value)
        depth = row.depth
        if depth % ANCHOR_STRIDE == 0:  # an anchor: the next one extends it
            anchor = (row.version, len(value))
        elif anchor is not None:
            anchor = (anchor[0], min(anchor[1], keep))
        if remember_path or row is path[0]:
            memo[(thread, ns, channel, row.version)] = Remembered(
                row.version, pieces, None, depth, nbytes, anchor
            )
    if not remember_path and len(pieces) > _MERGE_AT and all(p.type == _PICKLE for p in pieces):
        # What a get_tuple remembers, in one piece. (A cold read leaves the serializer's
        # bytes to the next read, which merges; a list remembers nothing.)
        merged = freeze(value, "", None)
        if merged.type == _PICKLE:
            pieces = (merged,)
    found = Remembered(key[3], pieces, tuple(value), depth, nbytes, anchor)
    memo[key] = found
    return value, found


# A checkpoint's stored scope: project, agent, workflow (as `alma_checkpoints` has them).
Scope = tuple[str, str | None, str | None]
# What a put needs of its parent: its versions_seen and its scope.
Parent = tuple[Mapping[str, Any], Scope]


class ChannelMemory:
    """Per-thread memory of the last stored version of each channel, LRU by thread.

    Keys always include the tenant; nothing is shared across tenants.
    """

    def __init__(self, max_threads: int) -> None:
        self.max_threads = max_threads
        self._threads: OrderedDict[tuple[str, str], dict[tuple[str, str], Remembered]] = (
            OrderedDict()
        )
        # (tenant, thread) -> {namespace: (checkpoint id, its versions_seen, its stored
        # scope)} of the last checkpoint put: the next put's nodes are read from it
        # (`nodes_since`), and its scope (`Writes`): no lookup of the parent's row.
        self._seen: OrderedDict[tuple[str, str], dict[str, tuple[str, Parent]]] = OrderedDict()
        # (tenant, thread) whose checkpoints hold values that are no lists: a get_tuple
        # of theirs reads blob rows whatever the saver holds (`Reads._select`).
        self._unheld: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()  # guards the dicts only, never I/O

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
            for memo in (self._threads, self._seen, self._unheld):
                if threads is None:
                    for key in [k for k in memo if k[0] == tenant]:
                        del memo[key]
                else:
                    for thread in threads:
                        memo.pop((tenant, thread), None)

    def holds_values(self, tenant: str, thread: str) -> bool:
        """Whether a read of the thread may find every value it needs held (see
        `mark_unheld`)."""
        with self._lock:
            return (tenant, thread) not in self._unheld

    def mark_unheld(self, tenant: str, thread: str) -> None:
        """The thread's latest checkpoint held a value that is no list (read from its
        blob row on every read): its reads need not look for one held first."""
        if self.max_threads <= 0:
            return
        with self._lock:
            self._unheld[(tenant, thread)] = None
            self._unheld.move_to_end((tenant, thread))
            while len(self._unheld) > self.max_threads:
                self._unheld.popitem(last=False)

    def remember_seen(
        self,
        tenant: str,
        thread: str,
        ns: str,
        checkpoint_id: str,
        seen: Mapping[str, Any],
        scope: Scope,
    ) -> None:
        """The `versions_seen` (a copy: the caller's may change) and the scope stored
        (project, agent, workflow) of the checkpoint just put."""
        if self.max_threads <= 0:
            return
        copied = {node: dict(v) if isinstance(v, dict) else v for node, v in seen.items()}
        with self._lock:
            self._seen.setdefault((tenant, thread), {})[ns] = (checkpoint_id, (copied, scope))
            self._seen.move_to_end((tenant, thread))
            while len(self._seen) > self.max_threads:
                self._seen.popitem(last=False)

    def parent(self, tenant: str, thread: str, ns: str, checkpoint_id: str) -> Parent | None:
        """The `versions_seen` and scope of checkpoint `checkpoint_id` if it is the last
        one put."""
        with self._lock:
            found = self._seen.get((tenant, thread), {}).get(ns)
        return found[1] if found is not None and found[0] == checkpoint_id else None


def nodes_since(seen: Mapping[str, Any], parent: Mapping[str, Any] | None) -> str | None:
    """The nodes that produced a checkpoint: those whose `versions_seen` differ from its
    parent's (`parent` None: the checkpoint has none), comma-separated in code point
    order; what `_sql.PUT` computes from the parent's row when it is not remembered."""
    nodes = sorted(
        node
        for node, versions in seen.items()
        if node != "__input__" and (parent is None or versions != parent.get(node))
    )
    return ",".join(nodes) if nodes else None
