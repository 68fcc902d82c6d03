"""`python -m langgraph_alma demo`: a chat graph on AlmaSaver, narrated.

Runs on the embedded PostgreSQL (or `ALMA_DATABASE_URL`): three turns of a two-node chat,
a restart that resumes the thread from the database, history and time travel, what the
checkpoint tables hold (deltas, not whole message lists), and tenant isolation.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langgraph_alma.checkpoint import AlmaSaver
from langgraph_alma.db import connect


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def build_graph() -> StateGraph:
    """Two nodes: `count` keeps a turn counter, `reply` answers the last message."""

    def count(state: ChatState) -> dict[str, Any]:
        return {"turns": state.get("turns", 0) + 1}

    def reply(state: ChatState) -> dict[str, Any]:
        said = state["messages"][-1].content
        return {"messages": [AIMessage(content=f"(turn {state['turns']}) you said: {said}")]}

    builder = StateGraph(ChatState)
    builder.add_node("count", count)
    builder.add_node("reply", reply)
    builder.add_edge(START, "count")
    builder.add_edge("count", "reply")
    builder.add_edge("reply", END)
    return builder


def run(url: str | None = None, out: Any = print) -> dict[str, Any]:
    """Run the demo; return what it observed (the tests check it)."""
    thread = f"demo-{uuid.uuid4().hex[:8]}"
    config = {
        "configurable": {
            "thread_id": thread,
            "tenant_id": "acme",
            "agent": "helena",
            "workflow_id": "demo-chat",
        }
    }
    observed: dict[str, Any] = {"thread": thread}
    with AlmaSaver.from_conn_string(url) as saver:
        saver.setup()
        out(f"AlmaSaver ready (tenant 'acme', thread {thread!r}); migrations applied.")
        graph = build_graph().compile(checkpointer=saver)
        for text in ("hello", "what do you remember?", "goodbye"):
            result = graph.invoke({"messages": [HumanMessage(content=text)]}, config)
            out(f"  user: {text!r:<26} -> {result['messages'][-1].content}")
        observed["turns"] = result["turns"]

    out("A new saver and graph (nothing remembered in memory) resume the same thread ...")
    with AlmaSaver.from_conn_string(url) as saver:
        graph = build_graph().compile(checkpointer=saver)
        state = graph.get_state(config)
        observed["resumed_messages"] = len(state.values["messages"])
        out(
            f"  resumed with {observed['resumed_messages']} messages, "
            f"turn counter {state.values['turns']}"
        )
        history = list(graph.get_state_history(config))
        observed["checkpoints"] = len(history)
        first_turn = next(s for s in reversed(history) if s.values.get("turns") == 1)
        fork_config = {
            "configurable": {**config["configurable"], **first_turn.config["configurable"]}
        }
        fork = graph.invoke(
            {"messages": [HumanMessage(content="a different second turn")]}, fork_config
        )
        observed["fork_turns"] = fork["turns"]
        out(
            f"  {len(history)} checkpoints in history; forked from turn 1 -> "
            f"turn {fork['turns']} on a new branch"
        )
        other = {"configurable": {**config["configurable"], "tenant_id": "globex"}}
        observed["other_tenant_sees"] = graph.get_state(other).values
        out(f"  tenant 'globex' asking for the same thread sees: {observed['other_tenant_sees']}")

    with connect(url, admin=True) as conn:
        rows = conn.execute(
            """SELECT count(*) FILTER (WHERE base_version IS NULL),
                      count(*) FILTER (WHERE base_version IS NOT NULL)
               FROM alma_checkpoint_blobs WHERE thread_id = %s AND channel = 'messages'""",
            (thread,),
        ).fetchone()
        scope = conn.execute(
            """SELECT DISTINCT tenant_id, agent, workflow_id FROM alma_checkpoints
               WHERE thread_id = %s""",
            (thread,),
        ).fetchall()
    observed["whole_rows"], observed["delta_rows"] = rows
    observed["scope"] = scope
    out(f"Stored message versions: {rows[0]} whole, {rows[1]} as deltas (only new messages).")
    out(f"Scope on every checkpoint (tenant, agent, workflow): {scope}")
    return observed
