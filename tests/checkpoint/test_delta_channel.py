"""LangGraph's DeltaChannel on AlmaSaver: history walks, reconstruction, and prune."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs


def _extend(state: list[str], writes: list[list[str]]) -> list[str]:
    return state + [x for w in writes for x in w]


class State(TypedDict):
    log: Annotated[list[str], DeltaChannel(_extend, snapshot_frequency=3)]
    total: Annotated[int, operator.add]


def _graph(saver: Any):
    def step(state: State) -> dict[str, Any]:
        return {"log": [f"entry-{len(state['log'])}"], "total": 1}

    builder = StateGraph(State)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture
def saver(database):
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as pool:
        yield AlmaSaver(pool)


def test_delta_channel_matches_in_memory_and_default_walk(saver) -> None:
    thread = f"delta-{uuid.uuid4().hex[:8]}"
    ours, theirs = _graph(saver), _graph(InMemorySaver())
    cfg = {"configurable": {"thread_id": thread}}
    for i in range(8):
        a = ours.invoke({"log": [f"in-{i}"], "total": 0}, cfg)
        b = theirs.invoke({"log": [f"in-{i}"], "total": 0}, cfg)
        assert a == b
    assert len(a["log"]) == 16
    # Our one-query walk returns what the base class's get_tuple walk returns.
    for snap in list(ours.get_state_history(cfg))[:6]:
        fast = saver.get_delta_channel_history(config=snap.config, channels=["log", "total"])
        slow = BaseCheckpointSaver.get_delta_channel_history(
            saver, config=snap.config, channels=["log", "total"]
        )
        assert fast == slow
    # A fresh saver (nothing remembered) rebuilds the same state.
    with ConnectionPool(
        saver.conn.conninfo, min_size=1, max_size=1, kwargs=connection_kwargs()
    ) as pool:
        assert _graph(AlmaSaver(pool)).get_state(cfg).values == ours.get_state(cfg).values


def test_prune_keep_latest_keeps_delta_ancestors(saver) -> None:
    thread = f"delta-prune-{uuid.uuid4().hex[:8]}"
    graph = _graph(saver)
    cfg = {"configurable": {"thread_id": thread}}
    for i in range(7):
        graph.invoke({"log": [f"in-{i}"], "total": 0}, cfg)
    before = graph.get_state(cfg).values
    count = len(list(saver.list(cfg)))
    saver.prune([thread], strategy="keep_latest")
    after_count = len(list(saver.list(cfg)))
    assert 1 <= after_count < count
    assert graph.get_state(cfg).values == before  # the delta channel still rebuilds
    graph.invoke({"log": ["after"], "total": 0}, cfg)
    assert graph.get_state(cfg).values["log"][-2:] == ["after", f"entry-{len(before['log']) + 1}"]
