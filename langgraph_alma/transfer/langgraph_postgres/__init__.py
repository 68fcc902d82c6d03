"""Import the data of LangGraph's own Postgres classes: the checkpoints `PostgresSaver`
wrote (`checkpoints`, `checkpoint_blobs`, `checkpoint_writes`) and the items
`PostgresStore` wrote (`store`, `store_vectors`), into an `AlmaSaver` and an `AlmaStore`.

>>> report = import_langgraph_postgres(store, saver, "postgresql://.../app")   # doctest: +SKIP
>>> report.checkpoints, report.items, report.skipped                         # doctest: +SKIP

The source is read in one read-only snapshot, checkpoints through `PostgresSaver.list`
itself (so they mean what they mean to LangGraph). Everything is written in one
transaction on one connection of the target store, through the public `put`,
`put_writes` and `batch` of an `AlmaSaver` and `AlmaStore` opened on that connection:
lists are stored as deltas, vectors are the stored ones (no model is called), and a
failure anywhere leaves nothing imported. Checkpoints are keyed by id and items by
(namespace, key), so running it again imports only what is new and reports the rest as
skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.config import get_settings
from langgraph_alma.db.borrow import borrow
from langgraph_alma.errors import AlmaError, TransferError
from langgraph_alma.store import AlmaStore, StoreClosed
from langgraph_alma.transfer.alma_memory.sources import redact
from langgraph_alma.transfer.jsonl.records import Progress, progress_ticker
from langgraph_alma.transfer.langgraph_postgres.checkpoints import (
    parent_first,
    share_parent_values,
    write_thread,
)
from langgraph_alma.transfer.langgraph_postgres.items import (
    ItemWriter,
    ReplayEmbeddings,
    vector_plan,
)
from langgraph_alma.transfer.langgraph_postgres.source import LangGraphSource


@dataclass
class LangGraphImportReport:
    """What an import from LangGraph's tables wrote, and what it skipped (`skipped`:
    a count per reason)."""

    source: str
    tenant: str
    threads: list[str] = field(default_factory=list)
    checkpoints: int = 0
    writes: int = 0
    items: int = 0
    vectors: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Records written (checkpoints and items)."""
        return self.checkpoints + self.items

    def skip(self, why: str, n: int) -> None:
        """Count `n` records not imported, for the reason `why`."""
        if n:
            self.skipped[why] = self.skipped.get(why, 0) + n

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON output)."""
        return {
            "source": self.source,
            "tenant": self.tenant,
            "threads": list(self.threads),
            "checkpoints": self.checkpoints,
            "writes": self.writes,
            "items": self.items,
            "vectors": self.vectors,
            "skipped": dict(self.skipped),
        }


def import_langgraph_postgres(
    store: AlmaStore,
    saver: AlmaSaver | None,
    source: str,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> LangGraphImportReport:
    """Import the checkpoints (with a saver) and store items at the PostgreSQL URL
    `source`, written by LangGraph's `PostgresSaver` / `PostgresStore`, into `tenant`
    (default: the store's tenant, else the configured default). Checkpoints use the
    saver's serializer, as PostgresSaver did; the import runs as the store's role.

    >>> with Alma.connect() as alma:                                     # doctest: +SKIP
    ...     import_langgraph_postgres(alma.store, alma.saver, "postgresql://.../app")
    """
    label = redact(source)
    target = tenant or store.tenant_id or get_settings().tenant_id
    report = LangGraphImportReport(source=label, tenant=target)
    with LangGraphSource(source, label) as src:
        threads = src.thread_ids() if saver is not None else {}
        if saver is None and src.has_checkpoints:
            report.skip("threads (no saver to import them into)", len(src.thread_ids()))
        total = sum(threads.values()) + src.count_items()
        tick = progress_ticker(progress, total)

        # One connection of the target store, one transaction: all of it, or nothing.
        with borrow(store.conn, StoreClosed, "store") as conn, conn.transaction():
            if saver is not None:
                into = AlmaSaver(conn, serde=saver.serde, tenant_id=target)
                for thread_id in threads:
                    thread = src.thread(thread_id, saver.serde)
                    try:
                        result = write_thread(into, thread)
                    except (AlmaError, psycopg.Error) as exc:
                        raise TransferError(f"thread {thread_id!r}: {exc}", source=label) from exc
                    report.threads.append(thread_id)
                    report.checkpoints += result.checkpoints
                    report.writes += result.writes
                    report.skip("checkpoints already imported", result.present)
                    report.skip("pending writes already imported", result.present_writes)
                    tick(len(thread.tuples))
            writer = ItemWriter(conn, target, src.dims)
            for page in src.items():
                try:
                    written = writer.write(page, tick)
                except (AlmaError, psycopg.Error) as exc:
                    raise TransferError(f"store items: {exc}", source=label) from exc
                report.items += written.items
                report.vectors += written.vectors
                report.skip("items already imported (same value)", written.present)
                report.skip("expired items", written.expired)
                report.skip("stale vectors (their field left the item)", written.stale_vectors)
    return report


__all__ = [
    "ItemWriter",
    "LangGraphImportReport",
    "LangGraphSource",
    "ReplayEmbeddings",
    "import_langgraph_postgres",
    "parent_first",
    "share_parent_values",
    "vector_plan",
    "write_thread",
]
