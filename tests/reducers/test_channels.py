"""The channels on their own: concurrent writes, checkpoint round trips (including "no
value yet"), `Overwrite`, and what LangGraph makes of them in an annotation."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pydantic
import pytest
from langgraph._internal._typing import MISSING
from langgraph.channels.binop import BinaryOperatorAggregate
from langgraph.errors import EmptyChannelError, InvalidUpdateError
from langgraph.graph import END, START, StateGraph
from langgraph.types import Overwrite

from langgraph_alma import reducers
from langgraph_alma.reducers import CHANNELS, REDUCERS


@pytest.mark.parametrize("name", sorted(REDUCERS))
def test_every_name_is_a_channel_class(name: str) -> None:
    cls = getattr(reducers, name)
    assert cls is CHANNELS[name]
    assert issubclass(cls, reducers.ReducerChannel)
    assert cls.reducer is REDUCERS[name]


@pytest.mark.parametrize(
    ("cls", "typ", "writes", "expected"),
    [
        (reducers.max, int, [[-5, -2], [-9]], -2),
        (reducers.min, int, [[7, 4], [11]], 4),
        (reducers.first_value, str, [["alpha", "beta"], ["gamma"]], "alpha"),
        (reducers.last_value, str, [["one", "two"], ["three"]], "three"),
        (reducers.sum, int, [[3, -1], [5]], 7),
        (reducers.append, list[str], [[["a"], "b"], [["c"]]], ["a", "b", "c"]),
        (reducers.union, list[str], [[["a", "b"], ["b"]], [["c", "a"]]], ["a", "b", "c"]),
        (reducers.union, set[str], [[["a"], {"b"}], [["a"]]], {"a", "b"}),
        (
            reducers.merge_dict,
            dict,
            [[{"a": 1}, {"n": {"p": 1}}], [{"n": {"q": 2}}]],
            {"a": 1, "n": {"p": 1, "q": 2}},
        ),
    ],
)
def test_concurrent_writes_and_checkpoint_round_trip(
    cls: type[reducers.ReducerChannel], typ: Any, writes: list[list[Any]], expected: Any
) -> None:
    channel = cls(typ, "field")
    assert channel.update(writes[0]) is True
    # A checkpoint round trip between supersteps loses nothing.
    restored = channel.from_checkpoint(channel.checkpoint())
    assert restored.key == "field"
    assert restored.update(writes[1]) is True
    assert restored.get() == expected
    assert restored.copy().get() == expected
    assert restored.update([]) is False


@pytest.mark.parametrize("name", ["max", "min", "first_value", "last_value"])
def test_no_value_yet_round_trips(name: str) -> None:
    channel = CHANNELS[name](int)
    assert not channel.is_available()
    assert channel.checkpoint() is MISSING  # LangGraph leaves it out of the checkpoint
    restored = channel.from_checkpoint(channel.checkpoint())
    with pytest.raises(EmptyChannelError):
        restored.get()
    restored.update([-3])
    assert restored.get() == -3  # not max(0, -3) nor min(0, -3)


@pytest.mark.parametrize(
    ("name", "typ", "empty"),
    [
        ("append", Any, []),
        ("union", set[int], set()),
        ("merge_dict", Any, {}),
        ("sum", int, 0),
        ("sum", float, 0.0),
    ],
)
def test_identity_reducers_start_at_their_identity(name: str, typ: Any, empty: Any) -> None:
    channel = CHANNELS[name](typ)
    assert channel.get() == empty and type(channel.get()) is type(empty)
    assert channel.from_checkpoint(MISSING).get() == empty


def test_append_on_an_any_field_wraps_the_first_single_item() -> None:
    # BinaryOperatorAggregate cannot build Any() and would store "x" itself.
    channel = reducers.append(Any)
    channel.update(["x"])
    assert channel.get() == ["x"]


def test_overwrite_replaces_without_the_reducer() -> None:
    channel = reducers.append(list)
    channel.update([["a"]])
    channel.update([["b"], Overwrite(["z"])])
    assert channel.get() == ["z"]
    with pytest.raises(InvalidUpdateError):
        channel.update([Overwrite([1]), Overwrite([2])])


def test_annotation_class_gives_each_field_its_own_channel() -> None:
    class State(TypedDict, total=False):
        a: Annotated[int, reducers.max]
        b: Annotated[int, reducers.max]
        c: Annotated[int, lambda x, y: x + y]

    builder = StateGraph(State)
    a, b = builder.channels["a"], builder.channels["b"]
    assert isinstance(a, reducers.Max) and isinstance(b, reducers.Max)
    assert a is not b and (a.key, b.key) == ("a", "b") and a.typ is int
    # A plain two-argument function is what LangGraph wraps in BinaryOperatorAggregate.
    assert isinstance(builder.channels["c"], BinaryOperatorAggregate)


# Module level: with postponed annotations, get_type_hints resolves names in the module.
_SHARED_MAX = reducers.Max(int)


def test_annotation_instance_is_shared_as_is() -> None:
    # LangGraph uses an instance in the metadata as the channel itself, so two fields
    # annotated with one instance share it (and its key): annotate with the class instead.
    class State(TypedDict, total=False):
        a: Annotated[int, _SHARED_MAX]
        b: Annotated[int, _SHARED_MAX]

    builder = StateGraph(State)
    assert builder.channels["a"] is builder.channels["b"] is _SHARED_MAX


def test_pydantic_state() -> None:
    class State(pydantic.BaseModel):
        best: Annotated[int | None, reducers.max] = None
        log: Annotated[list[str], reducers.append] = []

    def branch(value: int) -> Any:
        return lambda state: {"best": value, "log": [f"saw {state.best}"]}

    builder = StateGraph(State)
    for i, value in enumerate([-7, -3, -5]):
        builder.add_node(f"b{i}", branch(value))
        builder.add_edge(START, f"b{i}")
        builder.add_edge(f"b{i}", END)
    out = builder.compile().invoke({"log": ["start"]})
    assert out == {"best": -3, "log": ["start", "saw None", "saw None", "saw None"]}
