"""Writing `PostgresStore` items into an `AlmaStore`, with the vectors PostgresStore
stored for them (no embedding model is called), through the store's public `batch`.

Both stores name a vector by the field path it embeds (`"text"`, or `"items[*].text.1"`
when a path yields several texts), so each item is put with `index=` the paths its
vectors came from, and the store's embedder is `ReplayEmbeddings`: it hands back the
stored vector of each text the store asks for, checking the texts are the ones expected.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langgraph.store.base import GetOp, PutOp, get_text_at_path, tokenize_path

from langgraph_alma.db.plan import run_plan
from langgraph_alma.errors import ConfigError
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.jsonl.sql import ImportedItem, restore_times
from langgraph_alma.transfer.langgraph_postgres.source import SourceItem

Document = tuple[str, list[float]]  # (text, its stored vector)


class ReplayEmbeddings(Embeddings):
    """Embeddings that return vectors queued beforehand, for exactly the texts queued."""

    def __init__(self) -> None:
        self.queue: deque[Document] = deque()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """The queued vectors of `texts`, which must be the next queued texts."""
        out = []
        for text in texts:
            if not self.queue or self.queue[0][0] != text:
                raise ConfigError(f"no stored vector for the text {text[:60]!r}")
            out.append(self.queue.popleft()[1])
        return out

    def embed_query(self, text: str) -> list[float]:
        """Refused: an import never searches."""
        raise ConfigError("the importer only writes; it never searches")


def _texts(value: dict[str, Any], path: str) -> list[str]:
    return get_text_at_path(value, "$" if path == "$" else tokenize_path(path))


def vector_plan(item: SourceItem) -> tuple[list[str], list[Document], int]:
    """The field paths of `item`'s value its stored vectors embed; each of their texts
    with its vector, in the order a put embeds them; and how many stored vectors match
    no text of the value (PostgresStore leaves a field's vector behind when a later put
    no longer indexes it), which are left out."""
    value = item.value
    paths: dict[str, None] = {}  # an ordered set of paths
    for name in item.vectors:
        try:
            if name == "$" or len(_texts(value, name)) == 1:
                paths[name] = None
                continue
            base, dot, index = name.rpartition(".")
            if dot and index.isdigit() and len(_texts(value, base)) > 1:
                paths[base] = None
        except (ValueError, TypeError, KeyError):  # a field name that is no valid path
            continue
    kept: list[str] = []
    documents: list[Document] = []
    used = 0
    for path in paths:
        texts = _texts(value, path)
        fields = [f"{path}.{i}" if len(texts) > 1 else path for i in range(len(texts))]
        if all(f in item.vectors for f in fields):  # else the put would embed a new text
            kept.append(path)
            documents.extend((t, item.vectors[f]) for t, f in zip(texts, fields, strict=True))
            used += len(fields)
    return kept, documents, len(item.vectors) - used


@dataclass
class ItemsResult:
    """What writing a page of items did."""

    items: int = 0
    vectors: int = 0
    present: int = 0  # the same value already in the target
    expired: int = 0
    stale_vectors: int = 0  # stored vectors matching no text of their item's value


class ItemWriter:
    """Puts pages of source items through an `AlmaStore` on one connection, bound to one
    tenant; with `dims` (the size of the source's vectors) the store has an index whose
    embedder replays the stored vectors."""

    def __init__(self, conn: Any, tenant: str, dims: int | None) -> None:
        self.conn, self.tenant, self.dims = conn, tenant, dims
        self.replay = ReplayEmbeddings()
        index = {"dims": dims, "embed": self.replay, "fields": ["$"], "ann": "exact"}
        self.store = AlmaStore(conn, tenant_id=tenant, index=index if dims else None)  # type: ignore[arg-type]  # `ann`: ours

    def write(
        self, page: Sequence[SourceItem], tick: Callable[[int], None] | None = None
    ) -> ItemsResult:
        """Put the page's live items the target lacks (or holds with another value),
        with their stored vectors and their created/updated times."""
        result = ItemsResult()
        live = [i for i in page if not i.expired]
        result.expired = len(page) - len(live)
        reads = [GetOp(i.namespace, i.key, refresh_ttl=False) for i in live]
        found = self.store.batch(reads) if live else []
        entries: list[tuple[PutOp, SourceItem]] = []
        self.replay.queue.clear()
        for item, got in zip(live, found, strict=True):
            if got is not None and got.value == item.value:  # type: ignore[union-attr]  # GetOps give Items
                result.present += 1
                continue
            # Without an index at the source, the store's default full text; with one, an
            # item it stored no vector for stays unindexed.
            index: Literal[False] | list[str] | None = False if self.dims else None
            if item.vectors:
                paths, documents, stale = vector_plan(item)
                if any(len(vector) != self.dims for _, vector in documents):
                    raise ConfigError(f"item {item.key!r} has vectors of another size")
                if paths:
                    index = paths
                    self.replay.queue.extend(documents)
                    result.vectors += len(documents)
                result.stale_vectors += stale
            op = PutOp(item.namespace, item.key, item.value, index=index,
                       ttl=item.ttl_minutes)  # fmt: skip
            entries.append((op, item))
        if entries:
            self.store.batch([op for op, _ in entries])
            if self.replay.queue:
                raise ConfigError("the store embedded other texts than the source's vectors")
            stamps = [ImportedItem(op, item.created_at, item.updated_at) for op, item in entries]
            run_plan(self.conn, restore_times(self.tenant, stamps))
            result.items += len(entries)
        if tick:
            tick(len(page))
        return result
