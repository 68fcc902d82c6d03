"""LangGraph's documented PostgresSaver recipe with the class name changed, run as a user
runs it: a script, in two processes one after the other (the second process's `setup()`
reads the migrations the first applied)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

SCRIPT = """
import json, sys
from typing import Annotated, TypedDict

import psycopg
from psycopg.rows import dict_row
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langgraph_alma import AlmaSaver, AlmaStore


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def reply(state: Chat, *, store) -> dict:
    said = state["messages"][-1].content
    store.put(("said",), said, {"text": said})
    return {"messages": [AIMessage(f"echo {said}")]}


builder = StateGraph(Chat)
builder.add_node("reply", reply)
builder.add_edge(START, "reply")
builder.add_edge("reply", END)

url, text = sys.argv[1], sys.argv[2]
with psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row) as conn:
    checkpointer = AlmaSaver(conn)
    store = AlmaStore(conn)
    checkpointer.setup()
    store.setup()
    graph = builder.compile(checkpointer=checkpointer, store=store)
    config = {"configurable": {"thread_id": "1"}}
    graph.invoke({"messages": [HumanMessage(text)]}, config)
    state = graph.get_state(config)
    print(json.dumps({
        "messages": [m.content for m in state.values["messages"]],
        "history": len(list(graph.get_state_history(config))),
        "said": sorted(i.key for i in store.search(("said",))),
    }))
"""


def _run(url: str, text: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, url, text], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_langgraph_docs_recipe_in_two_processes(empty_database) -> None:
    first = _run(empty_database, "hello")
    assert first == {"messages": ["hello", "echo hello"], "history": 3, "said": ["hello"]}
    second = _run(empty_database, "again")
    assert second == {
        "messages": ["hello", "echo hello", "again", "echo again"],
        "history": 6,
        "said": ["again", "hello"],
    }
