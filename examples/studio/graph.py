"""A chat graph for LangGraph Studio that remembers what each user says, with no LLM.

`recall` answers from the store: how many things this user has said before (in any
thread) and which one is closest to the new message (hybrid vector + full-text search);
`remember` then stores the new message as a memory. Served by `langgraph dev` with
`langgraph.json` beside this file, the thread's checkpoints land in AlmaSaver's tables and
the memories in AlmaStore's, so Studio shows both: the thread history and the store.

The graph is compiled with no checkpointer or store: the server passes its own, the ones
`langgraph.json` names (`langgraph_alma.studio`). Run it alone with:

>>> async with checkpointer() as saver, store() as s:          # doctest: +SKIP
...     g = builder.compile(checkpointer=saver, store=s)
...     await g.ainvoke({"messages": [("user", "I like green tea")]},
...                     {"configurable": {"thread_id": "t1"}}, context=Context("ana"))
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime


@dataclass
class Context:
    """Who is talking: memories are kept per user, across threads."""

    user_id: str = "studio-user"


# A `messages` list under `add_messages`; declared with typing_extensions' TypedDict, which
# Studio needs on Python < 3.12 to show the input form.
State = MessagesState


def _said(state: State) -> str:
    """The text of the latest user message ('' when there is none)."""
    for message in reversed(state["messages"]):
        if isinstance(message, HumanMessage):
            return message.text.strip()
    return ""


def _memory_key(text: str) -> str:
    # The same words said twice are one memory, whatever the thread.
    return hashlib.sha256(text.lower().encode()).hexdigest()[:16]


def _namespace(runtime: Runtime[Context]) -> tuple[str, str]:
    return ("memories", (runtime.context or Context()).user_id)


async def recall(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Answer with what the store remembers that is closest to the new message."""
    said = _said(state)
    if runtime.store is None or not said:
        return {"messages": [AIMessage("Say something and I will remember it.")]}
    namespace = _namespace(runtime)
    earlier = [
        item
        for item in await runtime.store.asearch(namespace, query=said, limit=5)
        if item.key != _memory_key(said)
    ]
    if not earlier:
        reply = f"Noted: {said!r}. That is the first thing you have told me."
    else:
        reply = (
            f"Noted: {said!r}. Of what you told me before, the closest is "
            f"{earlier[0].value['text']!r}."
        )
    return {"messages": [AIMessage(reply)]}


async def remember(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Store the new message as a memory of this user."""
    said = _said(state)
    if runtime.store is not None and said:
        await runtime.store.aput(_namespace(runtime), _memory_key(said), {"text": said})
    return {}


builder = StateGraph(State, context_schema=Context)
builder.add_node(recall)
builder.add_node(remember)
builder.add_edge(START, "recall")
builder.add_edge("recall", "remember")
builder.add_edge("remember", END)
graph = builder.compile()
