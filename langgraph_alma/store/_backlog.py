"""The HNSW backlog: vectors puts wrote outside the ANN index, and the indexer that moves
them in (migration 0013).

A put writes its vectors with `indexed = false` (no HNSW work on the caller's path);
searches rank them exactly beside the HNSW walk, so they are found at once, with perfect
recall. The indexer (a background thread or task of the store, or `index_backlog()`)
moves them in a chunk per transaction: `UPDATE ... SET indexed = true` over rows taken
`FOR UPDATE SKIP LOCKED`, so it never waits for a put and a put waits at most for one
chunk (`_sql.INDEX_CHUNK`). Two bounds keep the exact side small:

- **backpressure**: when a (tenant, dims) backlog reaches `store_index_backlog_max`
  rows, puts index their own rows inline again, as before;
- **small sets stay exact**: a (tenant, dims) with at most `exact_search_max` vectors is
  always searched exactly (every candidate set of it is under the bound), so the indexer
  leaves its rows out of the index for good, until it grows past that.

The backlog's size is not counted on every put (an index-only count of 5,000 fresh rows
took ~1.8 ms): the store remembers per (tenant, dims) the count its last put statement
made and the rows it deferred since (`Backlogs`), and counts again when that is stale or
near the bound. Other processes' puts are seen at the next count, so the bound holds
within what all processes defer in `ttl` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.store import _sql

BacklogKey = tuple[str, int]
"""(tenant, dims)."""


class Backlogs:
    """Per (tenant, dims): the store's estimate of its backlog (rows awaiting the
    indexer) and when it was last counted; and which keys got rows since the indexer last
    looked (`take_dirty`). Per store, bounded, shared by its threads (a race costs at
    most an estimate a few rows off). `on_deferred` is called when a put deferred rows
    (the store starts its indexer)."""

    def __init__(self, ttl: float = 5.0, size: int = 4096) -> None:
        self.ttl, self.size = ttl, size
        self._seen: dict[BacklogKey, tuple[int, float]] = {}
        self._dirty: dict[BacklogKey, None] = {}
        self._lock = threading.Lock()  # guards the dicts only, never held around I/O
        self.on_deferred: Callable[[], None] | None = None

    def estimate(self, key: BacklogKey, rows: int, bound: int) -> int | None:
        """The backlog a put of `rows` rows may take as known (its statement then counts
        nothing), or None: the statement counts it (unknown, stale, or the put would
        cross the bound on the estimate)."""
        seen = self._seen.get(key)
        if seen is None or time.monotonic() - seen[1] >= self.ttl:
            return None
        n = seen[0]
        return n if n + rows <= bound or n >= bound else None

    def note(
        self, key: BacklogKey, before: int, deferred: int, counted: bool, wake: bool = False
    ) -> None:
        """A put statement's outcome: the backlog it saw (`before`, counted or the
        estimate) and the rows it left to the indexer (`deferred`); `wake`: the indexer
        has work even if none were deferred (the HNSW index awaits its build)."""
        with self._lock:
            seen = self._seen.get(key)
            stamp = time.monotonic() if counted or seen is None else seen[1]
            self._put(key, before + deferred, stamp)
            if deferred:
                self._dirty[key] = None
        if (deferred or wake) and self.on_deferred is not None:
            self.on_deferred()

    def drained(self, key: BacklogKey) -> None:
        """The indexer emptied the backlog of `key` (rows of puts in flight aside)."""
        with self._lock:
            self._put(key, 0, time.monotonic())

    def take_dirty(self) -> list[BacklogKey]:
        """The keys that got backlog rows since the last call (the indexer's work list)."""
        with self._lock:
            keys, self._dirty = list(self._dirty), {}
        return keys

    def mark_dirty(self, keys: Iterable[BacklogKey]) -> None:
        """Put `keys` back on the work list (an indexer round failed)."""
        with self._lock:
            self._dirty.update(dict.fromkeys(keys))

    def _put(self, key: BacklogKey, n: int, stamp: float) -> None:
        if key not in self._seen and len(self._seen) >= self.size:
            for old in list(self._seen)[: self.size // 4]:  # drop the oldest
                self._seen.pop(old, None)
        self._seen.pop(key, None)
        self._seen[key] = (n, stamp)


class ChunkSizer:
    """The background indexer's chunk size on a store's single connection (on a pool a
    chunk holds a connection of its own and moves `store_index_chunk` rows): as many rows
    as fit `seconds` at the time per row its last chunks took (an HNSW insert of a 384-d
    vector into 10k took ~4 ms, so 200 rows held a store's only connection for 0.7-0.9 s,
    and each put waiting on it as long). It starts small (`PROBE_ROWS`) and never
    exceeds `most`. Shared by a store's views; a race costs a chunk of a slightly
    different size."""

    PROBE_ROWS = 8

    def __init__(self, seconds: float, most: int) -> None:
        self.seconds, self.most = seconds, max(1, most)
        self._per_row: float | None = None

    def rows(self, limit: int | None = None) -> int:
        """The next chunk's rows (at most `limit`)."""
        if self._per_row is None:
            rows = min(self.PROBE_ROWS, self.most)
        else:
            rows = max(1, min(self.most, int(self.seconds / max(self._per_row, 1e-6))))
        return rows if limit is None else max(1, min(rows, limit))

    def note(self, rows: int, seconds: float) -> None:
        """A chunk moved `rows` rows in `seconds`: a slower row counts at once (the next
        chunk must not hold the connection as long), a faster one half."""
        if rows > 0:
            per_row = seconds / rows
            old = self._per_row
            self._per_row = per_row if old is None or per_row > old else (old + per_row) / 2

    def reset(self) -> None:
        """Forget the time per row (the HNSW index was just built: moving a row into it
        now costs an HNSW insert, where it was a flag); the next chunk probes again."""
        self._per_row = None


def index_chunk(
    backlogs: Backlogs, tenant: str, dims: int, chunk: int, keep: int, large: bool = False
) -> Plan[tuple[int, bool]]:
    """Move up to `chunk` backlog rows of (`tenant`, `dims`) into the index, in one
    transaction acting for `tenant` (row-level security); returns (rows moved, whether
    more may wait: then the tenant was large). A (tenant, dims) with at most `keep`
    vectors moves nothing; `large`: it had more a chunk ago (not counted again)."""
    params = {"tenant": tenant, "dims": dims, "chunk": chunk, "keep": keep, "large": large}
    results = yield [set_tenant(tenant), Sql(_sql.INDEX_CHUNK, params, fetch=True)]
    moved, large = (results[1] or [(0, False)])[0]
    more = bool(large) and moved >= chunk
    if large and not more:
        backlogs.drained((tenant, dims))
    return int(moved), more
