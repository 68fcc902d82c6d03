"""Real graphs: parallel branches write every field in one superstep, on LangGraph's
InMemorySaver and on AlmaSaver (real PostgreSQL), invoked twice on one thread and read
back by a fresh saver; and a `from_config` graph agrees with `StateMerger`."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, reducers
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.reducers import ReducerConfig, StateMerger, from_config

from .test_merger import BRANCHES, CONFIG, MERGED


class State(TypedDict, total=False):
    hi: Annotated[int, reducers.max]
    lo: Annotated[int, reducers.min]
    first: Annotated[str, reducers.first_value]
    last: Annotated[str, reducers.last_value]
    tags: Annotated[list[str], reducers.union]
    tagset: Annotated[set[str], reducers.union]
    meta: Annotated[dict[str, Any], reducers.merge_dict]
    log: Annotated[list[str], reducers.append]
    total: Annotated[int, reducers.sum]
    never: Annotated[int, reducers.max]  # never written: stays absent


# What each parallel branch writes; LangGraph applies them in task-path (node name) order.
WRITES: dict[str, dict[str, Any]] = {
    "b1": {
        "hi": -5,
        "lo": 7,
        "first": "alpha",
        "last": "one",
        "tags": ["x", "y"],
        "tagset": {"x"},
        "meta": {"a": 1, "n": {"p": 1}},
        "log": ["b1"],
        "total": 3,
    },
    "b2": {
        "hi": -2,
        "lo": 4,
        "first": "beta",
        "last": "two",
        "tags": ["y", "z"],
        "tagset": {"y", "z"},
        "meta": {"b": 2, "n": {"q": 2}},
        "log": "b2",
        "total": -1,
    },
    "b3": {
        "hi": -9,
        "lo": 11,
        "first": "gamma",
        "last": "three",
        "tags": ("z", "x", "w"),
        "tagset": {"w"},
        "meta": {"a": 10},
        "log": ["b3a", "b3b"],
        "total": 5,
    },
}

AFTER_FIRST = {
    "hi": -2,  # not 0: max of negative numbers
    "lo": 4,  # not 0: min of positive numbers
    "first": "alpha",  # not "": first_value of strings
    "last": "three",  # concurrent writes accepted, last in write order
    "tags": ["x", "y", "z", "w"],
    "tagset": {"x", "y", "z", "w"},
    "meta": {"a": 10, "n": {"p": 1, "q": 2}, "b": 2},
    "log": ["start", "b1", "b2", "b3a", "b3b"],
    "total": 7,
}

# The second run's input beats every branch on hi/lo and tries to replace `first`.
SECOND_INPUT = {"hi": -1, "lo": 3, "first": "late", "log": ["again"], "tags": ["v", "x"]}

AFTER_SECOND = {
    **AFTER_FIRST,
    "hi": -1,
    "lo": 3,
    "first": "alpha",  # first written ever, across supersteps and invocations
    "tags": ["x", "y", "z", "w", "v"],
    "log": [*AFTER_FIRST["log"], "again", "b1", "b2", "b3a", "b3b"],
    "total": 14,
}


def _fan_out(schema: type, writes: list[dict[str, Any]] | dict[str, dict[str, Any]]) -> StateGraph:
    named = writes if isinstance(writes, dict) else {f"b{i}": w for i, w in enumerate(writes)}
    builder = StateGraph(schema)
    for name, update in named.items():
        builder.add_node(name, _returns(update))
        builder.add_edge(START, name)
        builder.add_edge(name, END)
    return builder


def _returns(update: dict[str, Any]) -> Callable[[Any], dict[str, Any]]:
    return lambda state: update


def _config() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"reducers-{uuid.uuid4().hex[:8]}"}}


@pytest.fixture
def alma_pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as pool:
        yield pool


def _run_twice(graph: Any, config: dict[str, Any]) -> None:
    assert graph.invoke({"log": ["start"]}, config) == AFTER_FIRST
    assert graph.invoke(SECOND_INPUT, config) == AFTER_SECOND


def test_every_reducer_in_memory() -> None:
    saver = InMemorySaver()
    builder = _fan_out(State, WRITES)
    config = _config()
    _run_twice(builder.compile(checkpointer=saver), config)
    # A newly compiled graph restores every channel from the saver's checkpoint.
    assert builder.compile(checkpointer=saver).get_state(config).values == AFTER_SECOND


def test_every_reducer_on_alma_saver(database, alma_pool: ConnectionPool) -> None:
    builder = _fan_out(State, WRITES)
    config = _config()
    _run_twice(builder.compile(checkpointer=AlmaSaver(alma_pool)), config)
    # A fresh saver on a fresh pool reads the thread back from PostgreSQL alone.
    with ConnectionPool(
        database.url, min_size=1, max_size=1, kwargs=connection_kwargs()
    ) as fresh_pool:
        snapshot = builder.compile(checkpointer=AlmaSaver(fresh_pool)).get_state(config)
        assert snapshot.values == AFTER_SECOND
        assert "never" not in snapshot.values
        # The thread continues from what the fresh saver restored.
        graph = builder.compile(checkpointer=AlmaSaver(fresh_pool))
        third = graph.invoke({"hi": -3}, config)
        assert third["hi"] == -1 and third["first"] == "alpha" and third["total"] == 21


def test_state_before_any_write() -> None:
    graph = _fan_out(State, {"noop": {}}).compile(checkpointer=InMemorySaver())
    # Reducers with an identity element start at it; the others have no value yet.
    assert graph.invoke({"first": "only"}, _config()) == {
        "first": "only",
        "tags": [],
        "tagset": set(),
        "meta": {},
        "log": [],
        "total": 0,
    }


@pytest.mark.parametrize("saver_kind", ["memory", "alma"])
def test_from_config_graph_matches_state_merger(saver_kind: str, request) -> None:
    field_types = {"status": str, "log": list[str]}
    schema = from_config(CONFIG, "BranchState", field_types=field_types)
    saver = (
        InMemorySaver()
        if saver_kind == "memory"
        else AlmaSaver(request.getfixturevalue("alma_pool"))
    )
    graph = _fan_out(schema, BRANCHES).compile(checkpointer=saver)
    config = _config()
    out = graph.invoke({}, config)
    merged = StateMerger(CONFIG, field_types=field_types).merge(BRANCHES)
    assert out == merged == MERGED
    # A second round: the graph folds into its restored state as the merger does with base.
    again = graph.invoke({}, config)
    assert again == StateMerger(CONFIG, field_types=field_types).merge(BRANCHES, base=merged)


def test_config_for_the_every_reducer_graph() -> None:
    # One configuration spelling the hand-written State gives the same channels.
    config = ReducerConfig(
        field_reducers={
            "hi": "max",
            "lo": "min",
            "first": "first_value",
            "tags": "union",
            "tagset": "union",
            "meta": "merge_dict",
            "log": "append",
            "total": "sum",
            "never": "max",
        },
    )
    # `last` uses the default reducer; a TypedDict only has the fields named somewhere.
    schema = from_config(config, field_types={"tagset": set[str], "last": str})
    graph = _fan_out(schema, WRITES).compile()
    assert graph.invoke({"log": ["start"]}) == AFTER_FIRST
