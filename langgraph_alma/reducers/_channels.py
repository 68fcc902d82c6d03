"""LangGraph channels that fold a superstep's writes with one of the `REDUCERS`.

A field annotated with one of these classes (`Annotated[int, Max]`) gets its own channel:
LangGraph instantiates a `BaseChannel` class found in `Annotated` metadata with the field's
type, while an *instance* would be shared by every field annotated with it.

Unlike `BinaryOperatorAggregate`, which starts from `typ()` (so max of negative numbers would
be 0), a channel starts from its reducer's identity element when it has one (`[]`, `{}`, `0`)
and otherwise holds "no value yet" until the first write, which it checkpoints as absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from langgraph._internal._typing import MISSING
from langgraph.channels.base import BaseChannel
from langgraph.errors import EmptyChannelError, ErrorCode, InvalidUpdateError, create_error_message
from langgraph.types import Overwrite

from langgraph_alma.reducers._functions import NO_VALUE, REDUCERS, Reducer

__all__ = [
    "CHANNELS",
    "Append",
    "FirstValue",
    "LastValue",
    "Max",
    "MergeDict",
    "Min",
    "ReducerChannel",
    "Sum",
    "Union",
]


class ReducerChannel(BaseChannel[Any, Any, Any]):
    """A channel whose value is `reducer.fold(writes, current)`; subclasses name the reducer.

    All writes of one superstep are folded in LangGraph's write order (tasks sorted by task
    path, so static branches in node-name order), so concurrent writes are always accepted
    and give a deterministic result. `Overwrite(v)` replaces the value without the reducer.

    >>> ch = Max(int)
    >>> ch.update([-5, -2, -9])
    True
    >>> ch.get()
    -2
    """

    __slots__ = ("value",)

    reducer: ClassVar[Reducer]

    def __init__(self, typ: Any = Any, key: str = "") -> None:
        super().__init__(typ, key)
        self.value: Any = self.reducer.start(typ)

    def __eq__(self, other: object) -> bool:
        # LangGraph compares the channels a key gets from several schemas (input/output).
        return type(other) is type(self)

    __hash__ = None  # type: ignore[assignment]  # mutable; equal channels differ in value

    @property
    def ValueType(self) -> Any:
        return self.typ

    @property
    def UpdateType(self) -> Any:
        return self.typ

    def copy(self) -> Self:
        copied = self.__class__(self.typ, self.key)
        copied.value = self.value
        return copied

    def checkpoint(self) -> Any:
        # MISSING tells LangGraph to leave the channel out of the checkpoint: "no value yet".
        return MISSING if self.value is NO_VALUE else self.value

    def from_checkpoint(self, checkpoint: Any) -> Self:
        restored = self.__class__(self.typ, self.key)
        if checkpoint is not MISSING:
            restored.value = checkpoint
        return restored

    def update(self, values: Sequence[Any]) -> bool:
        if not values:
            return False
        overwrites = [v.value for v in values if isinstance(v, Overwrite)]
        if len(overwrites) > 1:
            msg = create_error_message(
                message=f"At key '{self.key}': can receive only one Overwrite value per step.",
                error_code=ErrorCode.INVALID_CONCURRENT_GRAPH_UPDATE,
            )
            raise InvalidUpdateError(msg)
        if overwrites:
            self.value = overwrites[0]
        else:
            self.value = self.reducer.fold(values, self.value, self.typ)
        return True

    def get(self) -> Any:
        if self.value is NO_VALUE:
            raise EmptyChannelError()
        return self.value

    def is_available(self) -> bool:
        return self.value is not NO_VALUE


class Append(ReducerChannel):
    """`Annotated[list[str], Append]`: appends lists (or single items); starts as `[]`."""

    reducer = REDUCERS["append"]


class MergeDict(ReducerChannel):
    """`Annotated[dict, MergeDict]`: merges dicts recursively, later wins; starts as `{}`."""

    reducer = REDUCERS["merge_dict"]


class Union(ReducerChannel):
    """`Annotated[list[str], Union]`: adds items not yet present, keeping first-seen order;
    on a `set[...]` field it is a set. Starts empty."""

    reducer = REDUCERS["union"]


class Sum(ReducerChannel):
    """`Annotated[int, Sum]`: adds every write; starts at 0."""

    reducer = REDUCERS["sum"]


class LastValue(ReducerChannel):
    """`Annotated[str, LastValue]`: the latest write; of concurrent writes, the last in write
    order (LangGraph's own `LastValue` raises on them instead). No value until written."""

    reducer = REDUCERS["last_value"]


class FirstValue(ReducerChannel):
    """`Annotated[str, FirstValue]`: the first write ever, across supersteps and invocations
    of the thread; of concurrent first writes, the first in write order."""

    reducer = REDUCERS["first_value"]


class Max(ReducerChannel):
    """`Annotated[int, Max]`: the largest write so far (negative numbers too)."""

    reducer = REDUCERS["max"]


class Min(ReducerChannel):
    """`Annotated[int, Min]`: the smallest write so far (positive numbers too)."""

    reducer = REDUCERS["min"]


CHANNELS: dict[str, type[ReducerChannel]] = {
    cls.reducer.name: cls
    for cls in (Append, MergeDict, Union, Sum, LastValue, FirstValue, Max, Min)
}
"""Every reducer channel class by reducer name (`CHANNELS["max"] is Max`)."""
