"""The filter builder alone, without a database."""

from __future__ import annotations

import pytest

from langgraph_alma.errors import InvalidFilter
from langgraph_alma.store._filters import build_filter


def test_empty_filter_is_true() -> None:
    assert build_filter(None, {}) == "TRUE"
    assert build_filter({}, {}) == "TRUE"


def test_operands_are_bound_never_spliced() -> None:
    params: dict = {}
    sql = build_filter({"a.b": {"$gte": 3, "$in": ["x'; DROP TABLE t; --"]}}, params)
    assert "DROP" not in sql
    assert ["a", "b"] in params.values()
    assert any("DROP" in str(v) for v in params.values())


@pytest.mark.parametrize(
    "bad",
    [
        {"a": {"$regex": "x"}},
        {"a": {"$in": 3}},
        {"a": {"$exists": "yes"}},
        {"a": {"$gt": [1]}},
        {"a": {"$gt": True}},
        {"a": {"$lt": float("nan")}},
        {"": 1},
        {"a..b": 1},
        {"a": {"$eq": {1, 2}}},
    ],
)
def test_bad_filters_raise(bad: dict) -> None:
    with pytest.raises(InvalidFilter):
        build_filter(bad, {})


def test_query_words_hold_only_letters_and_digits() -> None:
    from langgraph_alma.store._search import query_words

    assert query_words("Don't  stop: ZX-4471! stop") == "don t stop zx 4471"
    assert query_words("?! --") == ""
