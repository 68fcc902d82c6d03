"""`IndexSettings`: a LangGraph `IndexConfig` resolved and checked (dims, embeddings,
field paths, distance, vector type, ANN index)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from langgraph.store.base import (
    IndexConfig,
    ensure_embeddings,
    tokenize_path,
)

from langgraph_alma.errors import (
    ConfigError,
)
from langgraph_alma.store import _search

# "hnsw": an HNSW index, used when the filtered candidate set is large; "exact": no
# vector index (fastest writes), every vector search ranks its candidates exactly.
ANN_CHOICES = ("hnsw", "exact")


@dataclass(frozen=True)
class IndexSettings:
    """An `IndexConfig` resolved: dims, an `Embeddings`, tokenized field paths, and the
    vector search settings of LangGraph's `PostgresIndexConfig`: `distance_type`
    (`cosine`, `l2`, `inner_product`) and `ann_index_config` (`kind` `hnsw` or `flat`,
    `vector_type` `vector` or `halfvec`, HNSW `m` and `ef_construction`). AlmaStore's own
    `ann: "exact"` is `kind: "flat"`: no vector index, exact ranking of candidates."""

    dims: int
    embeddings: Embeddings
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    ann: str = "hnsw"
    distance_type: str = "cosine"
    vector_type: str = "vector"
    m: int | None = None
    ef_construction: int | None = None

    @classmethod
    def from_config(cls, index: IndexConfig) -> IndexSettings:
        dims = index.get("dims")
        if isinstance(dims, bool) or not isinstance(dims, int) or dims <= 0:
            raise ConfigError(f"index dims must be a positive integer, got {dims!r}")
        if index.get("embed") is None:
            raise ConfigError("index needs `embed`: Embeddings, a function or 'provider:model'")
        fields = index.get("fields") or ["$"]
        extra: Mapping[str, Any] = index
        ann_config = extra.get("ann_index_config") or {}
        if not isinstance(ann_config, Mapping):
            raise ConfigError(f"index ann_index_config must be a dict, got {ann_config!r}")
        kind = ann_config.get("kind", "hnsw")
        if kind not in ("hnsw", "flat"):
            raise ConfigError(f"ann_index_config kind must be 'hnsw' or 'flat', got {kind!r}")
        ann = extra.get("ann", "exact" if kind == "flat" else "hnsw")
        if ann not in ANN_CHOICES:
            raise ConfigError(f"index ann must be one of {ANN_CHOICES}, got {ann!r}")
        distance = extra.get("distance_type", "cosine")
        if distance not in _search.DISTANCE_TYPES:
            raise ConfigError(
                f"index distance_type must be one of {_search.DISTANCE_TYPES}, got {distance!r}"
            )
        vector_type = ann_config.get("vector_type", "vector")
        if vector_type not in _search.VECTOR_TYPES:
            raise ConfigError(
                f"vector_type must be one of {_search.VECTOR_TYPES}, got {vector_type!r}"
            )
        hnsw: dict[str, int | None] = {}
        for name in ("m", "ef_construction"):
            value = ann_config.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value <= 0
            ):
                raise ConfigError(f"ann_index_config {name} must be a positive int, got {value!r}")
            hnsw[name] = value
        return cls(
            dims=dims,
            embeddings=ensure_embeddings(index["embed"]),
            fields=tuple((f, tuple(tokenize_path(f))) for f in fields),
            ann=ann,
            distance_type=distance,
            vector_type=vector_type,
            **hnsw,
        )
