"""A learning graph for LangGraph Studio, built from the prebuilt nodes alone, no LLM.

    init -> plan -> rank -> work -> learn -> handoff

`init` opens a session and puts what earlier runs learned in the prompt (`memories`);
`rank` orders the candidate strategies by the confidence engine; `work` tries the best
one against a small simulated world (only "retry with backoff" fixes the flaky job);
`learn` records how the run went (a workflow outcome, whose patterns become heuristics
and anti-patterns); `handoff` closes the session. Run it a few times: the later runs'
prompts hold the strategy that worked, and the ranking follows it.

No node holds an `Alma`: each uses the store the server gives the graph (the one
`langgraph.json` names, `langgraph_alma.studio.store`), the run's tenant and project from
`config["configurable"]`, the agent from `configurable["agent"]` (else the assistant),
and the workflow from the graph. The same graph runs under `invoke`, `ainvoke`, `astream`.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from langgraph_alma import nodes

STRATEGIES = ["restart the worker", "retry with backoff", "increase the timeout"]
WORKS = "retry with backoff"  # what fixes the flaky job in this small world


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    task: str
    memories: str
    session_id: str
    strategies: list[str]
    ranked: list[dict[str, Any]]
    strategy: str
    success: bool
    outcome: str
    handoff_id: str


def plan(state: State) -> dict[str, Any]:
    """The candidate strategies: the input's, else the usual ones."""
    return {"strategies": list(state.get("strategies") or STRATEGIES)}


def work(state: State) -> dict[str, Any]:
    """Try the best-ranked strategy on the simulated world."""
    strategy = state["strategy"]
    success = strategy == WORKS
    said = f"Tried {strategy!r}: {'it worked' if success else 'the job still times out'}."
    return {"success": success, "messages": [AIMessage(said)]}


builder = StateGraph(State)
builder.add_node("init", nodes.initializer())
builder.add_node("plan", plan)
builder.add_node("rank", nodes.rank_strategies())
builder.add_node("work", work)
builder.add_node("learn", nodes.learn())
builder.add_node("handoff", nodes.handoff())
builder.add_edge(START, "init")
builder.add_edge("init", "plan")
builder.add_edge("plan", "rank")
builder.add_edge("rank", "work")
builder.add_edge("work", "learn")
builder.add_edge("learn", "handoff")
builder.add_edge("handoff", END)
graph = builder.compile()
