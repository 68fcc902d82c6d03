"""AlmaSaver / AsyncAlmaSaver on the caller's connection or pool, whatever its row
factory and prepare threshold: put, get_tuple, list, put_writes, and a real graph."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from tests.dropin.conftest import open_async, open_sync


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def _reply(state: Chat) -> dict[str, Any]:
    last = state["messages"][-1].content
    return {"messages": [AIMessage(f"echo {last}")], "turns": state.get("turns", 0) + 1}


async def _areply(state: Chat) -> dict[str, Any]:
    return _reply(state)


def _builder(node: Any) -> StateGraph:
    builder = StateGraph(Chat)
    builder.add_node("reply", node)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder


def _checkpoint() -> tuple[dict[str, Any], dict[str, Any]]:
    cp = empty_checkpoint()
    cp["channel_values"] = {"items": [1, 2, 3], "name": "x", "blob": {"k": b"\x00\x01"}}
    cp["channel_versions"] = {"items": "1", "name": "1", "blob": "1"}
    return cp, {"source": "input", "step": -1, "parents": {}}


def _thread() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"th-{uuid.uuid4().hex[:10]}", "checkpoint_ns": ""}}


def test_put_get_list_writes(database, kind, caller_kwargs, tenant) -> None:
    with open_sync(database.url, kind, caller_kwargs) as source:
        saver = AlmaSaver(source, tenant_id=tenant)
        config = _thread()
        cp, meta = _checkpoint()
        saved = saver.put(config, cp, meta, cp["channel_versions"])
        saver.put_writes(saved, [("items", [4]), ("name", "y")], "task-1")
        tup = saver.get_tuple(config)
        assert tup is not None and tup.checkpoint["id"] == cp["id"]
        assert tup.checkpoint["channel_values"] == cp["channel_values"]
        assert tup.metadata["step"] == -1
        assert tup.pending_writes == [("task-1", "items", [4]), ("task-1", "name", "y")]
        listed = list(saver.list(config))
        assert [t.checkpoint["id"] for t in listed] == [cp["id"]]
        assert saver.get_tuple(saved).checkpoint["channel_values"]["items"] == [1, 2, 3]
        assert [t.thread_id for t in saver.list_threads()] == [config["configurable"]["thread_id"]]


def test_graph_invoke_then_get_state(database, kind, caller_kwargs, tenant) -> None:
    with open_sync(database.url, kind, caller_kwargs) as source:
        graph = _builder(_reply).compile(checkpointer=AlmaSaver(source, tenant_id=tenant))
        config = _thread()
        for text in ("hello", "again", "bye"):
            graph.invoke({"messages": [HumanMessage(text)]}, config)
        state = graph.get_state(config)
        assert [m.content for m in state.values["messages"]] == [
            "hello", "echo hello", "again", "echo again", "bye", "echo bye",
        ]  # fmt: skip
        assert state.values["turns"] == 3 and state.next == ()
        history = list(graph.get_state_history(config))
        assert len(history) == 3 * 3  # per turn: the input, the step before and after reply
        assert history[-1].metadata["source"] == "input"


async def test_async_put_get_list_writes(database, kind, caller_kwargs, tenant) -> None:
    async with open_async(database.url, kind, caller_kwargs) as source:
        saver = AsyncAlmaSaver(source, tenant_id=tenant)
        config = _thread()
        cp, meta = _checkpoint()
        saved = await saver.aput(config, cp, meta, cp["channel_versions"])
        await saver.aput_writes(saved, [("items", [4])], "task-1")
        tup = await saver.aget_tuple(config)
        assert tup is not None and tup.checkpoint["channel_values"] == cp["channel_values"]
        assert tup.pending_writes == [("task-1", "items", [4])]
        assert [t.checkpoint["id"] async for t in saver.alist(config)] == [cp["id"]]
        threads = await saver.alist_threads()
        assert [t.thread_id for t in threads] == [config["configurable"]["thread_id"]]


async def test_async_graph_ainvoke_then_aget_state(database, kind, caller_kwargs, tenant) -> None:
    async with open_async(database.url, kind, caller_kwargs) as source:
        graph = _builder(_areply).compile(checkpointer=AsyncAlmaSaver(source, tenant_id=tenant))
        config = _thread()
        for text in ("hello", "bye"):
            await graph.ainvoke({"messages": [HumanMessage(text)]}, config)
        state = await graph.aget_state(config)
        assert [m.content for m in state.values["messages"]] == [
            "hello", "echo hello", "bye", "echo bye",
        ]  # fmt: skip
        assert len([s async for s in graph.aget_state_history(config)]) == 2 * 3
