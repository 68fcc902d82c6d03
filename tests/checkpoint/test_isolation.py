"""Reads return objects of their own (issue 13).

Nothing a read hands out (`get_tuple`, `list`, `graph.get_state`, `get_state_history`)
is shared with another read, with the saver's memory of the thread, or with what was
`put`: after mutating any of them, a read in the same saver and a read in a new saver
both return the stored value. Sync and async savers, on a pool and on one connection.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs

KINDS = ["sync-pool", "sync-connection", "async-pool", "async-connection"]


def _opener(url: str, kind: str) -> Callable[[], AbstractAsyncContextManager[Any]]:
    """Opens a new saver of `kind` (each call: a new pool or connection, empty memory)."""

    @asynccontextmanager
    async def open_saver() -> AsyncIterator[Any]:
        if kind == "sync-pool":
            with ConnectionPool(url, min_size=1, max_size=3, kwargs=connection_kwargs()) as p:
                yield AlmaSaver(p)
        elif kind == "sync-connection":
            with psycopg.connect(url, **connection_kwargs()) as conn:
                yield AlmaSaver(conn)
        elif kind == "async-pool":
            async with AsyncConnectionPool(
                url, min_size=1, max_size=3, kwargs=connection_kwargs(), open=False
            ) as p:
                yield AsyncAlmaSaver(p)
        else:
            async with await psycopg.AsyncConnection.connect(url, **connection_kwargs()) as c:
                yield AsyncAlmaSaver(c)

    return open_saver


def _messages(n: int) -> list[AnyMessage]:
    out: list[AnyMessage] = []
    for i in range(n):
        if i % 3 == 0:
            out.append(HumanMessage(f"q{i}", id=f"h{i}", additional_kwargs={"meta": {"n": [i]}}))
        elif i % 3 == 1:
            out.append(
                AIMessage(
                    f"a{i}",
                    id=f"a{i}",
                    tool_calls=[{"name": "look", "args": {"q": {"deep": [i]}}, "id": f"c{i}"}],
                    additional_kwargs={"k": {"nested": [1, 2]}},
                )
            )
        else:
            out.append(ToolMessage(f"t{i}", tool_call_id=f"c{i - 1}", id=f"t{i}"))
    return out


def _scribble(values: dict[str, Any]) -> None:
    """Mutate everything reachable in a state: messages (kwargs, tool call args, content),
    nested dicts and lists."""
    for msg in values.get("messages", []):
        msg.content = "changed by the caller"
        msg.additional_kwargs["k"] = "changed"
        for call in getattr(msg, "tool_calls", []) or []:
            call["args"]["q"] = "changed"
    if "messages" in values:
        values["messages"].append(HumanMessage("appended by the caller"))
    if "doc" in values:
        values["doc"]["inner"]["list"].append("changed")
        values["doc"]["new"] = 1
    if "items" in values:
        values["items"].append({"changed": True})
        values["items"][0]["x"] = "changed"


def _deltas(database, tenant: str, thread: str) -> int:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM alma_checkpoint_blobs WHERE tenant_id = %s AND thread_id = %s"
            " AND channel = 'messages' AND base_version IS NOT NULL",
            (tenant, thread),
        ).fetchone()[0]


@pytest.fixture(params=KINDS)
def open_saver(request, database) -> Callable[[], AbstractAsyncContextManager[Any]]:
    return _opener(database.url, request.param)


async def test_saver_reads_and_writes_share_nothing(open_saver, database, tenant) -> None:
    thread = f"iso-{uuid.uuid4().hex[:8]}"
    cfg: dict[str, Any] = {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "tenant_id": tenant}
    }
    async with open_saver() as saver:
        expected: dict[str, Any] = {}
        by_id: dict[str, dict[str, Any]] = {}
        last_read: list[Any] = []
        version: Any = None
        for step in range(1, 4):  # a whole value, then deltas over the remembered one
            version = saver.get_next_version(version, None)
            values = {
                "messages": _messages(3 * step),
                "doc": {"inner": {"list": [step]}},
                "items": [{"x": step}],
            }
            if last_read:  # an append to the last value read, as a graph does: a delta
                values["messages"] = last_read + values["messages"][3 * step - 3 :]
            cp = empty_checkpoint()
            cp["channel_values"] = values
            cp["channel_versions"] = {k: version for k in values}
            expected = copy.deepcopy(values)
            by_id[cp["id"]] = expected
            cfg = await saver.aput(cfg, cp, {"step": step}, dict(cp["channel_versions"]))
            cfg["configurable"]["tenant_id"] = tenant
            await saver.aput_writes(cfg, [("items", [{"w": step}])], "task-1")
            expected_writes = [("task-1", "items", [{"w": step}])]

            # What was put, mutated after the put, leaves the stored value alone.
            _scribble(values)
            latest = {"configurable": {**cfg["configurable"]}}
            first = await saver.aget_tuple(latest)
            assert first.checkpoint["channel_values"] == expected
            # What a read returned, mutated, leaves the next read alone.
            _scribble(first.checkpoint["channel_values"])
            first.pending_writes[0][2][0]["w"] = "changed"
            first.metadata["step"] = "changed"
            second = await saver.aget_tuple(latest)
            assert second.checkpoint["channel_values"] == expected
            assert second.pending_writes == expected_writes
            assert second.metadata["step"] == step
            listed = [t async for t in saver.alist(latest)]
            for tup in listed:
                _scribble(tup.checkpoint["channel_values"])
            third = await saver.aget_tuple(latest)
            assert third.checkpoint["channel_values"] == expected
            # Two reads never hand out the same objects.
            a, b = (await saver.aget_tuple(latest), await saver.aget_tuple(latest))
            assert all(
                x is not y
                for x, y in zip(
                    a.checkpoint["channel_values"]["messages"],
                    b.checkpoint["channel_values"]["messages"],
                    strict=True,
                )
            )
            # Checkpoints of one list() share nothing with each other either.
            history = [
                t
                async for t in saver.alist(
                    {"configurable": {"thread_id": thread, "tenant_id": tenant}}
                )
            ]
            assert len(history) == step
            _scribble(history[0].checkpoint["channel_values"])
            for tup in history[1:]:
                assert tup.checkpoint["channel_values"] == by_id[tup.checkpoint["id"]]
            last_read = b.checkpoint["channel_values"]["messages"]
        assert _deltas(database, tenant, thread) == 2  # the appends were stored as deltas
        async with open_saver() as fresh:
            again = await fresh.aget_tuple(latest)
            assert again.checkpoint["channel_values"] == expected
            assert again.pending_writes == expected_writes


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    doc: dict[str, Any]


def _graph(saver: Any) -> Any:
    def respond(state: State) -> dict[str, Any]:
        n = len(state["messages"])
        return {
            "messages": [
                AIMessage(
                    f"answer {n}",
                    tool_calls=[{"name": "look", "args": {"q": {"deep": [n]}}, "id": f"c{n}"}],
                    additional_kwargs={"k": {"nested": [n]}},
                )
            ],
            "doc": {"inner": {"list": [n]}},
        }

    builder = StateGraph(State)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder.compile(checkpointer=saver)


async def _call(saver: Any, graph: Any, name: str, *args: Any) -> Any:
    if isinstance(saver, AsyncAlmaSaver):
        if name == "get_state_history":
            return [s async for s in graph.aget_state_history(*args)]
        return await getattr(graph, "a" + name)(*args)
    if name == "get_state_history":
        return await asyncio.to_thread(lambda: list(graph.get_state_history(*args)))
    return await asyncio.to_thread(getattr(graph, name), *args)


async def test_graph_state_reads_share_nothing(open_saver, tenant) -> None:
    cfg = {"configurable": {"thread_id": f"iso-g-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    async with open_saver() as saver:
        graph = _graph(saver)
        for turn in range(3):
            await _call(saver, graph, "invoke", {"messages": [HumanMessage(f"q{turn}")]}, cfg)
            state = await _call(saver, graph, "get_state", cfg)
            expected = copy.deepcopy(state.values)
            history = await _call(saver, graph, "get_state_history", cfg)
            expected_history = [copy.deepcopy(s.values) for s in history]
            _scribble(state.values)
            for snap in history:
                _scribble(snap.values)
            assert (await _call(saver, graph, "get_state", cfg)).values == expected
            again = await _call(saver, graph, "get_state_history", cfg)
            assert [s.values for s in again] == expected_history
        # The graph goes on from the stored state, not from what the caller scribbled.
        await _call(saver, graph, "invoke", {"messages": [HumanMessage("last")]}, cfg)
        final = (await _call(saver, graph, "get_state", cfg)).values
        assert all(m.content != "changed by the caller" for m in final["messages"])
        assert final["messages"][: len(expected["messages"])] == expected["messages"]
    async with open_saver() as fresh:
        assert (await _call(fresh, _graph(fresh), "get_state", cfg)).values == final


async def test_warm_reads_after_edits_keep_what_was_stored(open_saver, tenant) -> None:
    """A delta that keeps part of a list the saver has not read back yet (stored whole,
    then trimmed, then appended to): reads in the saver that wrote it match a new saver's."""
    cfg: dict[str, Any] = {
        "configurable": {"thread_id": f"ed-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}
    }
    cfg["configurable"]["checkpoint_ns"] = ""
    msgs = _messages(5)
    steps = [msgs, msgs[:2], [*msgs[:2], HumanMessage("x", id="x")], msgs[:1]]
    async with open_saver() as saver:
        version: Any = None
        for step, value in enumerate(steps):
            version = saver.get_next_version(version, None)
            cp = empty_checkpoint()
            cp["channel_values"] = {"messages": value}
            cp["channel_versions"] = {"messages": version}
            cfg = await saver.aput(cfg, cp, {"step": step}, {"messages": version})
            cfg["configurable"]["tenant_id"] = tenant
        got = (await saver.aget_tuple(cfg)).checkpoint["channel_values"]["messages"]
        assert got == steps[-1]
        listed = [t.checkpoint["channel_values"]["messages"] async for t in saver.alist(cfg)]
        assert listed == [steps[-1]]
        history = [
            t.checkpoint["channel_values"]["messages"]
            async for t in saver.alist(
                {"configurable": {**cfg["configurable"], "checkpoint_id": None}}
            )
        ]
    async with open_saver() as fresh:
        assert (await fresh.aget_tuple(cfg)).checkpoint["channel_values"]["messages"] == got
    assert history == steps[::-1]
