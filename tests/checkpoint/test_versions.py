"""Channel versions: 14 characters that order as strings as their counters do, after
every version of the previous 23-character format; a thread stored with those goes on
(its nodes still trigger, as LangGraph compares versions with `>`)."""

from __future__ import annotations

import random
import uuid
from typing import Annotated, TypedDict

import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.checkpoint import _versions
from langgraph_alma.db.connect import connection_kwargs


def _old_next_version(current: str | int | None) -> str:
    """The previous format (until this change), to write a thread as it was stored."""
    n = (
        0
        if current is None
        else current
        if isinstance(current, int)
        else int(str(current).split(".")[0], 16)
    )
    return f"{n + 1:012x}.{random.getrandbits(40):010x}"


def test_versions_are_short_and_ordered() -> None:
    v = _versions.next_version(None)
    seen = [v]
    for _ in range(3000):
        v = _versions.next_version(v)
        seen.append(v)
    assert all(len(x) == 14 for x in seen)
    assert seen == sorted(seen) and len(set(seen)) == len(seen)
    assert [_versions.counter(x) for x in seen] == list(range(1, 3002))
    # Two forks from one version never share a version (the random suffix).
    assert len({_versions.next_version(v) for _ in range(1000)}) == 1000
    # Ints (what LangGraph may hand over) and the previous format are read.
    assert _versions.counter(_versions.next_version(41)) == 42
    old = _old_next_version(_old_next_version(None))
    assert _versions.counter(_versions.next_version(old)) == 3
    assert _versions.next_version(old) > old


def test_width_classes_keep_the_order() -> None:
    last_short = _versions.next_version(62**6 - 2)
    first_long = _versions.next_version(last_short)
    assert len(last_short) == 14 and len(first_long) == 17
    assert first_long > last_short
    assert _versions.counter(first_long) == 62**6
    assert _versions.counter(_versions.next_version(first_long)) == 62**6 + 1
    # Any version of the previous format (which starts with 0) sorts first.
    assert _old_next_version(16**11) < _versions.next_version(None)


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def _graph() -> StateGraph:
    def listen(state: Chat) -> dict:
        return {"turns": state.get("turns", 0) + 1}

    def respond(state: Chat) -> dict:
        return {"messages": [AIMessage(f"re {state['turns']}", id=f"r{state['turns']}")]}

    b = StateGraph(Chat)
    b.add_node("listen", listen)
    b.add_node("respond", respond)
    b.add_edge(START, "listen")
    b.add_edge("listen", "respond")
    b.add_edge("respond", END)
    return b


def test_a_thread_stored_with_old_versions_goes_on(database, tenant, monkeypatch) -> None:
    thread = f"v-{uuid.uuid4().hex[:8]}"
    ac = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    mc = {"configurable": {"thread_id": thread}}
    mem = _graph().compile(checkpointer=InMemorySaver())
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        monkeypatch.setattr(_versions, "next_version", _old_next_version)
        graph = _graph().compile(checkpointer=AlmaSaver(p))
        for i in range(3):
            step = {"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}
            assert graph.invoke(step, ac) == mem.invoke(step, mc)
        old = graph.get_state(ac).values
        monkeypatch.undo()
        versions = AlmaSaver(p).get_tuple(ac).checkpoint["channel_versions"]
        assert all(len(str(v)) == 23 for v in versions.values())

        graph = _graph().compile(checkpointer=AlmaSaver(p))  # a new process, new code
        for i in range(3, 6):
            step = {"messages": [HumanMessage(f"m{i}", id=f"m{i}")]}
            assert graph.invoke(step, ac) == mem.invoke(step, mc)  # every node ran
        state = graph.get_state(ac)
        assert state.values["turns"] == 6 and state.values["messages"][:6] == old["messages"]
        versions = AlmaSaver(p).get_tuple(ac).checkpoint["channel_versions"]
        assert {len(str(v)) for v in versions.values()} <= {14, 23}
        assert len(str(versions["messages"])) == 14


@pytest.mark.parametrize("start", [None, 7])
def test_saver_hands_out_the_new_versions(database, start) -> None:
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        v = AlmaSaver(p).get_next_version(start, None)
    assert len(v) == 14 and _versions.counter(v) == (start or 0) + 1
