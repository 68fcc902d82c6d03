"""Reading LangGraph's own PostgreSQL tables, read-only, in one snapshot: the checkpoints
of `PostgresSaver` (`checkpoints`, `checkpoint_blobs`, `checkpoint_writes`), read back
through `PostgresSaver.list` itself so they mean exactly what they mean to it (blobs,
pending writes, the pending-sends migration of checkpoints older than v4), and the items
of `PostgresStore` (`store`, `store_vectors`), with their vectors as stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.serde.base import SerializerProtocol
from psycopg.rows import dict_row

from langgraph_alma.errors import ConfigError, TransferError

PAGE = 500  # store items read per statement
CONNECT_TIMEOUT = 10  # seconds

COLUMNS = """
SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = current_schema()
  AND table_name IN ('checkpoints', 'checkpoint_blobs', 'checkpoint_writes', 'store',
                     'store_vectors')"""
THREADS = """
SELECT thread_id, count(*) AS checkpoints FROM checkpoints GROUP BY thread_id ORDER BY thread_id"""
TASK_PATHS = """
SELECT DISTINCT checkpoint_ns, checkpoint_id, task_id, task_path
FROM checkpoint_writes WHERE thread_id = %s"""
COUNT_ITEMS = "SELECT count(*) AS n FROM store"
ITEMS = """
SELECT prefix, key, value, created_at, updated_at, expires_at, ttl_minutes,
       expires_at IS NOT NULL AND expires_at <= now() AS expired
FROM store
WHERE (prefix, key) > (%(prefix)s, %(key)s)
ORDER BY prefix, key
LIMIT %(limit)s"""
# `::text` reads vector and halfvec alike, as '[1,2,3]'.
VECTORS = """
SELECT v.prefix, v.key, v.field_name, v.embedding::text AS embedding
FROM store_vectors v
JOIN unnest(%(prefixes)s::text[], %(keys)s::text[]) AS p(prefix, key)
  ON v.prefix = p.prefix AND v.key = p.key
WHERE v.embedding IS NOT NULL"""
# The dimension of `store_vectors.embedding` (vector(N) or halfvec(N)), from its type.
DIMS = """
SELECT atttypmod AS dims FROM pg_attribute
WHERE attrelid = to_regclass('store_vectors') AND attname = 'embedding'"""

SAVER_COLUMNS = {
    "checkpoints": {"thread_id", "checkpoint_ns", "checkpoint_id", "parent_checkpoint_id"},
    "checkpoint_blobs": {"thread_id", "channel", "version", "type", "blob"},
    "checkpoint_writes": {"thread_id", "checkpoint_id", "task_id", "idx", "task_path"},
}
STORE_COLUMNS = {"store": {"prefix", "key", "value", "created_at", "updated_at", "expires_at",
                           "ttl_minutes"}}  # fmt: skip


@dataclass(frozen=True)
class SourceItem:
    """One `PostgresStore` item and its vectors by field name."""

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    ttl_minutes: float | None
    expired: bool
    vectors: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceThread:
    """A thread's checkpoints as `PostgresSaver.list` returns them, and the task path of
    each task that has pending writes, by (namespace, checkpoint id, task id)."""

    thread_id: str
    tuples: list[CheckpointTuple]
    task_paths: dict[tuple[str, str, str], str]


def _postgres_saver() -> Any:
    try:
        from langgraph.checkpoint.postgres import PostgresSaver
    except ImportError as exc:
        raise ConfigError(
            "importing from LangGraph's tables reads them with PostgresSaver: "
            "pip install 'langgraph-alma[langgraph-postgres]' (langgraph-checkpoint-postgres)"
        ) from exc
    return PostgresSaver


class LangGraphSource:
    """LangGraph's tables at `url`, read in one read-only REPEATABLE READ transaction.

    >>> with LangGraphSource(url, label="postgresql://...") as src:   # doctest: +SKIP
    ...     {t: len(src.thread(t, serde).tuples) for t in src.thread_ids()}
    """

    def __init__(self, url: str, label: str) -> None:
        self.label = label
        try:
            self.conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, row_factory=dict_row)
        except psycopg.Error as exc:
            raise TransferError(f"cannot connect ({exc})", source=label) from exc
        self.conn.read_only = True
        self.conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        try:
            self._inspect()
        except BaseException:
            self.close()
            raise

    def _inspect(self) -> None:
        found: dict[str, set[str]] = {}
        for row in self._read("the catalog", lambda: self.conn.execute(COLUMNS).fetchall()):
            found.setdefault(row["table_name"], set()).add(row["column_name"])
        self.has_checkpoints = self._complete(found, SAVER_COLUMNS, "PostgresSaver")
        self.has_store = self._complete(found, STORE_COLUMNS, "PostgresStore")
        self.dims: int | None = None  # of the stored vectors, when PostgresStore had an index
        if self.has_store and "store_vectors" in found:
            row = self._read("store_vectors", lambda: self.conn.execute(DIMS).fetchone())
            self.dims = row["dims"] if row and row["dims"] > 0 else None
        if not (self.has_checkpoints or self.has_store):
            raise TransferError(
                "no LangGraph tables (checkpoints, store) in the current schema",
                source=self.label,
            )

    def _complete(self, found: dict[str, set[str]], wanted: dict[str, set[str]], by: str) -> bool:
        present = [t for t in wanted if t in found]
        if not present:
            return False
        missing = [f"{t}.{c}" for t, cols in wanted.items() for c in cols - found.get(t, set())]
        if missing:
            raise TransferError(
                f"LangGraph's tables are of an older schema (no {', '.join(sorted(missing))}): "
                f"run {by}.setup() with langgraph-checkpoint-postgres 3.x first",
                source=self.label,
            )
        return True

    def __enter__(self) -> LangGraphSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (its read-only transaction ends with it)."""
        self.conn.close()  # rolls the read-only transaction back

    def _read(self, what: str, run: Any) -> Any:
        try:
            return run()
        except psycopg.Error as exc:
            raise TransferError(f"cannot read {what} ({exc})", source=self.label) from exc

    def thread_ids(self) -> dict[str, int]:
        """Every thread and how many checkpoints it has."""
        if not self.has_checkpoints:
            return {}
        rows = self._read("checkpoints", lambda: self.conn.execute(THREADS).fetchall())
        return {r["thread_id"]: int(r["checkpoints"]) for r in rows}

    def thread(self, thread_id: str, serde: SerializerProtocol) -> SourceThread:
        """One thread's checkpoints, every namespace, as PostgresSaver reads them."""
        saver = _postgres_saver()(self.conn, serde=serde)

        def run() -> SourceThread:
            tuples = list(saver.list({"configurable": {"thread_id": thread_id}}))
            rows = self.conn.execute(TASK_PATHS, (thread_id,)).fetchall()
            paths = {
                (r["checkpoint_ns"], r["checkpoint_id"], r["task_id"]): r["task_path"] or ""
                for r in rows
            }
            return SourceThread(thread_id, tuples, paths)

        return self._read(f"thread {thread_id!r}", run)

    def count_items(self) -> int:
        """How many store items there are (expired ones included)."""
        if not self.has_store:
            return 0
        return int(self._read("store", lambda: self.conn.execute(COUNT_ITEMS).fetchone())["n"])

    def items(self) -> Iterator[list[SourceItem]]:
        """Every store item with its vectors, a page at a time in key order."""
        if not self.has_store:
            return
        after = {"prefix": "", "key": ""}
        while True:
            params = {**after, "limit": PAGE}
            rows = self._read("store", lambda p=params: self.conn.execute(ITEMS, p).fetchall())
            if not rows:
                return
            vectors: dict[tuple[str, str], dict[str, list[float]]] = {}
            if self.dims is not None:
                keys = {"prefixes": [r["prefix"] for r in rows], "keys": [r["key"] for r in rows]}
                found = self._read(
                    "store_vectors", lambda k=keys: self.conn.execute(VECTORS, k).fetchall()
                )
                for v in found:
                    vectors.setdefault((v["prefix"], v["key"]), {})[v["field_name"]] = json.loads(
                        v["embedding"]
                    )
            yield [
                SourceItem(
                    namespace=tuple(r["prefix"].split(".")),
                    key=r["key"],
                    value=r["value"],
                    created_at=r["created_at"],
                    updated_at=r["updated_at"],
                    ttl_minutes=r["ttl_minutes"],
                    expired=bool(r["expired"]),
                    vectors=vectors.get((r["prefix"], r["key"]), {}),
                )
                for r in rows
            ]
            after = {"prefix": rows[-1]["prefix"], "key": rows[-1]["key"]}
