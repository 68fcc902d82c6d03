"""Pure reducer logic: how a field's current value combines with one update.

No I/O and no LangGraph: the channels (`_channels.py`) and the merger (`merger.py`) both fold
updates with the `Reducer` objects of `REDUCERS`, so each rule is written once.

>>> REDUCERS["append"].fold([["a"], "b"])
['a', 'b']
>>> REDUCERS["max"].fold([-5, -2, -9])
-2
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, Final, get_origin

__all__ = [
    "NO_VALUE",
    "REDUCERS",
    "Reducer",
    "append",
    "first_value",
    "last_value",
    "max_value",
    "merge_dict",
    "min_value",
    "sum_values",
    "union",
]


class _NoValue:
    """The value of a field nothing has written yet (distinct from `None`, `0` or `""`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        # Pickles (and deep copies) back to the singleton, so `is NO_VALUE` keeps working.
        return "NO_VALUE"


NO_VALUE: Final[Any] = _NoValue()
"""The state of a channel nothing has written yet (distinct from `None`)."""


def _items(update: Any) -> list[Any]:
    """The items an update adds: a list or tuple adds its elements, anything else is one item.

    Strings, dicts and sets are single items: iterating them would split a value in two.
    """
    return list(update) if isinstance(update, list | tuple) else [update]


def append(current: list[Any], update: Any) -> list[Any]:
    """A new list: `current` then the update's items. `append([1], [2, 3]) == [1, 2, 3]`,
    `append([1], 2) == [1, 2]`. The elements of `current` are kept as they are (the same
    objects), which lets a saver store only the appended tail."""
    return [*current, *_items(update)]


def union(current: Any, update: Any) -> Any:
    """`current` plus the update's items not already in it, first occurrence kept.

    On a list the order is the order of first appearance: `union(["a"], ["b", "a"]) == ["a", "b"]`;
    on a set (or frozenset) the result is a set of the same kind. Updates may be lists,
    tuples, sets or single items; unhashable items (dicts) are compared with `==`.
    """
    items = list(update) if isinstance(update, list | tuple | AbstractSet) else [update]
    if isinstance(current, AbstractSet):
        return current | set(items) if isinstance(current, set) else current | frozenset(items)
    merged = list(current)
    seen: set[Any] = set()
    for item in merged:
        _remember(seen, item)
    for item in items:
        if not _contains(seen, merged, item):
            merged.append(item)
            _remember(seen, item)
    return merged


def _remember(seen: set[Any], item: Any) -> None:
    # An unhashable item is found by the linear scan in _contains instead.
    with contextlib.suppress(TypeError):
        seen.add(item)


def _contains(seen: set[Any], merged: list[Any], item: Any) -> bool:
    try:
        return item in seen
    except TypeError:
        return item in merged


def merge_dict(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `current` updated by `update`, later wins, recursively where both sides
    hold a mapping. `merge_dict({"n": {"a": 1}}, {"n": {"b": 2}}) == {"n": {"a": 1, "b": 2}}`.
    A non-mapping value replaces a mapping (and the reverse). Inputs are never mutated."""
    if not isinstance(update, Mapping):
        raise TypeError(
            f"merge_dict needs a mapping update, got {type(update).__name__}: {update!r}"
        )
    merged = dict(current)
    for key, value in update.items():
        old = merged.get(key, NO_VALUE)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_dict(old, value)
        else:
            merged[key] = value
    return merged


def last_value(current: Any, update: Any) -> Any:
    """The last non-None value (the workflow summary's definition): the update, unless it
    is None. `last_value(1, 2) == 2`, `last_value(1, None) == 1`."""
    return current if update is None else update


def first_value(current: Any, update: Any) -> Any:
    """The first non-None value: once one is written it wins for good.
    `first_value(1, 2) == 1`, `first_value(None, 2) == 2`."""
    return update if current is None else current


def sum_values(current: Any, update: Any) -> Any:
    """`current + update`. `sum_values(3, -1) == 2`."""
    return current + update


def max_value(current: Any, update: Any) -> Any:
    """The larger; on a tie the current one. `max_value(-5, -2) == -2`."""
    return builtins.max(current, update)


def min_value(current: Any, update: Any) -> Any:
    """The smaller; on a tie the current one. `min_value(7, 4) == 4`."""
    return builtins.min(current, update)


def _origin(typ: Any) -> Any:
    return get_origin(typ) or typ


def _empty_list(typ: Any) -> list[Any]:
    return []


def _empty_dict(typ: Any) -> dict[str, Any]:
    return {}


def _empty_collection(typ: Any) -> Any:
    origin = _origin(typ)
    if isinstance(origin, type) and issubclass(origin, AbstractSet):
        return frozenset() if issubclass(origin, frozenset) else set()
    return []


def _zero(typ: Any) -> Any:
    # 0 is the identity of int, float, Decimal and Fraction alike; a float field starts at 0.0.
    return 0.0 if _origin(typ) is float else 0


@dataclass(frozen=True, slots=True)
class Reducer:
    """A named reducer: `combine(current, update)` and, when it has one, its identity element.

    `empty(field_type)` gives the value a field holds before any write (`[]` for append);
    `None` means there is no identity (max of `int` has none: 0 would beat every negative
    number), so the field stays "no value yet" until the first write, which is taken as is.
    """

    name: str
    combine: Callable[[Any, Any], Any]
    empty: Callable[[Any], Any] | None = None

    def start(self, field_type: Any = Any) -> Any:
        """The value before any write: the identity element, or `NO_VALUE`."""
        return NO_VALUE if self.empty is None else self.empty(field_type)

    def fold(self, updates: Iterable[Any], current: Any = NO_VALUE, field_type: Any = Any) -> Any:
        """Apply `updates` in order to `current`. `REDUCERS["sum"].fold([1, 2], current=3) == 6`;
        `NO_VALUE` when there was nothing to start from and nothing was written."""
        if current is NO_VALUE:
            current = self.start(field_type)
        for update in updates:
            current = update if current is NO_VALUE else self.combine(current, update)
        return current


REDUCERS: Final[Mapping[str, Reducer]] = {
    "append": Reducer("append", append, _empty_list),
    "merge_dict": Reducer("merge_dict", merge_dict, _empty_dict),
    "union": Reducer("union", union, _empty_collection),
    "sum": Reducer("sum", sum_values, _zero),
    "last_value": Reducer("last_value", last_value),
    "first_value": Reducer("first_value", first_value),
    "max": Reducer("max", max_value),
    "min": Reducer("min", min_value),
}
"""Every named reducer (`"append"`, `"max"`, ...), as `ReducerConfig` names them."""
