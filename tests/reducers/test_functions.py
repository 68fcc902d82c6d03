"""The pure reducer logic, one rule at a time, and `Reducer.fold`."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from langgraph_alma.reducers import NO_VALUE, REDUCERS
from langgraph_alma.reducers._functions import (
    append,
    first_value,
    last_value,
    max_value,
    merge_dict,
    min_value,
    sum_values,
    union,
)


def test_append_lists_tuples_and_single_items() -> None:
    a, b = object(), object()
    current = [a]
    assert append(current, [b]) == [a, b]
    assert append(current, (1, 2)) == [a, 1, 2]
    assert append([], "abc") == ["abc"]  # a string is one item, not three
    assert append([], {"k": 1}) == [{"k": 1}]
    assert current == [a]  # never mutated
    assert append(current, [b])[0] is a  # same element objects: savers store only the tail


def test_union_keeps_first_seen_order_and_kind() -> None:
    assert union(["a"], ["b", "a", "c", "b"]) == ["a", "b", "c"]
    assert union(["a"], "b") == ["a", "b"]
    assert union([], ("x", "x")) == ["x"]
    assert union({"a"}, ["b", "a"]) == {"a", "b"}
    assert union(frozenset({1}), {2}) == frozenset({1, 2})
    assert isinstance(union(frozenset(), [1]), frozenset)
    # unhashable items are compared with ==
    assert union([{"k": 1}], [{"k": 1}, {"k": 2}]) == [{"k": 1}, {"k": 2}]


def test_merge_dict_is_recursive_later_wins_and_pure() -> None:
    current = {"a": 1, "n": {"p": 1, "deep": {"x": 1}}, "s": {"k": 1}}
    update = {"a": 2, "n": {"q": 2, "deep": {"y": 2}}, "s": "scalar", "new": {"z": 0}}
    assert merge_dict(current, update) == {
        "a": 2,
        "n": {"p": 1, "q": 2, "deep": {"x": 1, "y": 2}},
        "s": "scalar",
        "new": {"z": 0},
    }
    assert current == {"a": 1, "n": {"p": 1, "deep": {"x": 1}}, "s": {"k": 1}}
    assert merge_dict({"s": "scalar"}, {"s": {"k": 1}}) == {"s": {"k": 1}}
    with pytest.raises(TypeError, match=r"mapping update, got list: \[1\]"):
        merge_dict({}, [1])  # type: ignore[arg-type]


def test_scalar_reducers() -> None:
    assert last_value(1, 2) == 2
    assert first_value(1, 2) == 1
    assert sum_values(3, -1) == 2
    assert max_value(-5, -2) == -2
    assert min_value(7, 4) == 4
    assert max_value("a", "b") == "b"


@pytest.mark.parametrize(
    ("name", "updates", "field_type", "expected"),
    [
        ("max", [-5, -2, -9], int, -2),
        ("min", [7, 4, 11], int, 4),
        ("first_value", ["alpha", "beta"], str, "alpha"),
        ("first_value", ["", "beta"], str, ""),  # an empty first write still wins
        ("last_value", ["one", "two", "three"], str, "three"),
        ("sum", [3, -1, 5], int, 7),
        ("sum", [], float, 0.0),
        ("append", ["a", ["b", "c"]], Any, ["a", "b", "c"]),
        ("union", [["a", "a"], "b"], Any, ["a", "b"]),
        ("union", [["a"], ["b"]], set[str], {"a", "b"}),
        ("merge_dict", [{"a": 1}, {"b": 2}], Any, {"a": 1, "b": 2}),
        ("append", [], Any, []),
        ("max", [], int, NO_VALUE),
        ("first_value", [], str, NO_VALUE),
    ],
)
def test_fold(name: str, updates: list, field_type: Any, expected: Any) -> None:
    assert REDUCERS[name].fold(updates, field_type=field_type) == expected


def test_fold_from_a_current_value() -> None:
    assert REDUCERS["sum"].fold([1, 2], current=3) == 6
    assert REDUCERS["first_value"].fold(["late"], current="early") == "early"
    assert REDUCERS["max"].fold([-5], current=-1) == -1


def test_no_value_survives_pickling() -> None:
    assert pickle.loads(pickle.dumps(NO_VALUE)) is NO_VALUE
    assert repr(NO_VALUE) == "NO_VALUE"
