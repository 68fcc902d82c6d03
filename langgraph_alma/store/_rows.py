"""Result rows back into LangGraph's `Item` and `SearchItem` (ours, `AlmaSearchItem`,
also says how the query found the item)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.store.base import (
    Item,
    SearchItem,
)


def item_from_row(row: Sequence[Any]) -> Item:
    """A get's row (ns_path, key, value, created_at, updated_at) as an `Item`."""
    return Item(
        value=row[2],
        key=row[1],
        namespace=tuple(row[0].split(".")),
        created_at=row[3],
        updated_at=row[4],
    )


class AlmaSearchItem(SearchItem):
    """A `SearchItem` with how the query found it. `score` is LangGraph's: the similarity
    of the item's vector to the query's for the index's `distance_type`, raised toward
    the similarity ceiling by lexical evidence (see `langgraph_alma.store._search`);
    `similarity` is the vector similarity alone (None without a vector), `text_score` the
    lexical strength in [0, 1] (1: the query's best full-text match; None: no match), and
    `rank` the 1-based position in the results (offset included)."""

    __slots__ = ("rank", "similarity", "text_score")

    def __init__(
        self,
        *args: Any,
        similarity: float | None = None,
        text_score: float | None = None,
        rank: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.similarity = similarity
        self.text_score = text_score
        self.rank = rank


def search_item_from_row(row: Sequence[Any], rank: int | None = None) -> SearchItem:
    """A search's row (an item's columns, then score, similarity, text score) as an
    `AlmaSearchItem`; `rank` is its 1-based place in the results."""
    return AlmaSearchItem(
        namespace=tuple(row[0].split(".")),
        key=row[1],
        value=row[2],
        created_at=row[3],
        updated_at=row[4],
        score=row[5],
        similarity=row[6] if len(row) > 6 else None,
        text_score=row[7] if len(row) > 7 else None,
        rank=rank if len(row) > 6 else None,
    )
