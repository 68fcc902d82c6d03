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
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import GetOp, PutOp, get_text_at_path, tokenize_path

from langgraph_alma.db.plan import run_plan
from langgraph_alma.errors import ConfigError
from langgraph_alma.store import AlmaStore
from langgraph_alma.transfer.jsonl import _Item, _restore_times
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


def vector_plan(item: SourceItem) -> tuple[list[str], list[Document]] | None:
    """The field paths `item`'s vectors embed and, in the order a put embeds them, each
    text with its stored vector; None when some vector matches no text of the value."""
    value, paths = item.value, {}
    try:
        for name in item.vectors:
            if name == "$" or len(_texts(value, name)) == 1:
                paths[name] = None
                continue
            base, dot, index = name.rpartition(".")
            if not (dot and index.isdigit() and len(_texts(value, base)) > 1):
                return None
            paths[base] = None
        documents: list[Document] = []
        for path in paths:
            texts = _texts(value, path)
            for i, text in enumerate(texts):
                vector = item.vectors.get(f"{path}.{i}" if len(texts) > 1 else path)
                if vector is None:
                    return None
                documents.append((text, vector))
    except (ValueError, TypeError, KeyError):  # a field name that is no valid path
        return None
    return list(paths), documents


@dataclass
class ItemsResult:
    """What writing a page of items did."""

    items: int = 0
    vectors: int = 0
    present: int = 0  # the same value already in the target
    expired: int = 0
    unmatched_vectors: int = 0  # items imported without vectors that match no field


class ItemWriter:
    """Puts pages of source items through `AlmaStore`s on one connection, bound to one
    tenant: one without an index, and one per vector size met (dims)."""

    def __init__(self, conn: Any, tenant: str, *, indexed_source: bool) -> None:
        self.conn, self.tenant, self.indexed_source = conn, tenant, indexed_source
        self.replay = ReplayEmbeddings()
        self._plain = AlmaStore(conn, tenant_id=tenant)
        self._indexed: dict[int, AlmaStore] = {}

    def _store(self, dims: int | None) -> AlmaStore:
        if dims is None:
            return self._plain
        if dims not in self._indexed:
            index = {"dims": dims, "embed": self.replay, "fields": ["$"], "ann": "exact"}
            self._indexed[dims] = AlmaStore(self.conn, tenant_id=self.tenant, index=index)  # type: ignore[arg-type]
        return self._indexed[dims]

    def write(
        self, page: Sequence[SourceItem], tick: Callable[[int], None] | None = None
    ) -> ItemsResult:
        """Put the page's live items the target lacks (or holds with another value),
        with their stored vectors and their created/updated times."""
        result = ItemsResult()
        live = [i for i in page if not i.expired]
        result.expired = len(page) - len(live)
        reads = [GetOp(i.namespace, i.key, refresh_ttl=False) for i in live]
        found = self._plain.batch(reads) if live else []
        todo = []
        for item, got in zip(live, found, strict=True):
            if got is not None and got.value == item.value:  # type: ignore[union-attr]
                result.present += 1
            else:
                todo.append(item)
        by_dims: dict[int | None, list[tuple[PutOp, SourceItem, list[Document]]]] = {}
        for item in todo:
            index: list[str] | bool | None = None if not self.indexed_source else False
            documents: list[Document] = []
            if item.vectors:
                plan = vector_plan(item)
                if plan is None:
                    result.unmatched_vectors += 1
                    index = False
                else:
                    index, documents = plan
            dims = len(documents[0][1]) if documents else None
            op = PutOp(item.namespace, item.key, item.value, index=index,
                       ttl=item.ttl_minutes)  # fmt: skip
            by_dims.setdefault(dims, []).append((op, item, documents))
        for dims, entries in by_dims.items():
            self.replay.queue.clear()
            for _, _, documents in entries:
                if any(len(vector) != dims for _, vector in documents):
                    raise ConfigError("the source's vectors are not all of one size")
                self.replay.queue.extend(documents)
            self._store(dims).batch([op for op, _, _ in entries])
            if self.replay.queue:
                raise ConfigError("the store embedded other texts than the source's vectors")
            stamps = [_Item(op, item.created_at, item.updated_at) for op, item, _ in entries]
            run_plan(self.conn, _restore_times(self.tenant, stamps))
            result.items += len(entries)
            result.vectors += sum(len(d) for _, _, d in entries)
        if tick:
            tick(len(page))
        return result
