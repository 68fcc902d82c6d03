"""initializer -> rank_strategies -> work -> learn, run several times on AlmaSaver and
AlmaStore: later runs get the heuristics and the ranking earlier runs learned."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langgraph_alma import AlmaSaver, nodes
from langgraph_alma.confidence import ConfidenceEngine

STRATEGIES = ["retry with backoff", "restart the worker", "increase the timeout"]
WORKS = "retry with backoff"  # the only strategy that fixes the flaky job


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    task: str
    memories: str
    strategies: list[str]
    ranked: list[dict[str, Any]]
    strategy: str
    success: bool
    outcome: str


def _graph(alma, saver, forced: list[str]):
    def work(state: State) -> dict[str, Any]:
        # Early runs try what the test forces, to give the engine evidence; later runs
        # follow the ranking.
        strategy = forced.pop(0) if forced else state["strategy"]
        return {"strategy": strategy, "success": strategy == WORKS}

    builder = StateGraph(State)
    builder.add_node("init", nodes.initializer(alma, agent="ops"))
    builder.add_node("rank", nodes.rank_strategies(ConfidenceEngine(alma), "ops"))
    builder.add_node("work", work)
    builder.add_node("learn", nodes.learn(alma, "ops", task_type="ops"))
    builder.add_edge(START, "init")
    builder.add_edge("init", "rank")
    builder.add_edge("rank", "work")
    builder.add_edge("work", "learn")
    builder.add_edge("learn", END)
    return builder.compile(checkpointer=saver, store=alma.store)


def test_later_runs_use_what_earlier_runs_learned(make_alma, pool) -> None:
    alma = make_alma()
    saver = AlmaSaver(pool, tenant_id=alma.core.tenant_id)
    forced = [s for s in STRATEGIES for _ in range(3)]  # 3 tries of each strategy
    graph = _graph(alma, saver, forced)
    results = []
    for i in range(12):
        config = {
            "configurable": {
                "thread_id": f"run-{uuid.uuid4().hex[:6]}",
                "workflow_id": "fix-flaky-job",
            }
        }
        task = f"the nightly export job times out again (night {i})"
        results.append(
            graph.invoke(
                {"messages": [HumanMessage(content=task)], "strategies": STRATEGIES}, config
            )
        )
    first, last = results[0], results[-1]
    assert "Relevant strategies" not in first["memories"]  # nothing learned yet
    assert WORKS in last["memories"]  # the heuristic is in the prompt
    assert last["ranked"][0]["strategy"] == WORKS
    assert all(r["strategy"] == WORKS and r["outcome"] == "success" for r in results[9:])
    heuristics = alma.retrieve("nightly export job times out", agent="ops").heuristics
    assert any(h.strategy == WORKS and h.success_count >= 3 for h in heuristics)


def test_initializer_with_a_session_and_the_handoff_node(make_alma, pool) -> None:
    from langgraph_alma.session import SessionManager
    from langgraph_alma.session.initializer import SessionInitializer

    alma = make_alma()
    sessions = SessionManager(alma.store, project_id=alma.core.project_id)

    class S(TypedDict, total=False):
        messages: Annotated[list[AnyMessage], add_messages]
        task: str
        memories: str
        initialization: dict[str, Any]
        decisions: list[str]
        handoff_id: str

    builder = StateGraph(S)
    builder.add_node("init", nodes.initializer(alma, "ops", session=SessionInitializer(alma)))
    builder.add_node("decide", lambda s: {"decisions": ["ship the export fix first"]})
    builder.add_node("handoff", nodes.handoff(sessions, "ops"))
    builder.add_edge(START, "init")
    builder.add_edge("init", "decide")
    builder.add_edge("decide", "handoff")
    builder.add_edge("handoff", END)
    graph = builder.compile(checkpointer=AlmaSaver(pool, tenant_id=alma.core.tenant_id))
    out = graph.invoke(
        {"messages": [HumanMessage(content="1. fix the export\n2. add a test")]},
        {"configurable": {"thread_id": uuid.uuid4().hex}},
    )
    assert [w["title"] for w in out["initialization"]["work_items"]] == [
        "fix the export",
        "add a test",
    ]
    assert "Start with: fix the export" in out["memories"]
    assert out["messages"][-1].type == "system"
    previous = sessions.get_previous_sessions(agent="ops")
    assert previous and previous[0].key_decisions == ["ship the export fix first"]
    assert "fix the export" in sessions.get_quick_reload(agent="ops")


def test_rank_strategies_routes_with_command(make_alma) -> None:
    alma = make_alma()
    for i in range(3):
        alma.learn(
            "ops", f"export job times out {i}", "success", "retry with backoff", task_type="ops"
        )
        alma.learn(
            "ops", f"export job times out {i}", "failure", "restart the worker", task_type="ops"
        )

    class S(TypedDict, total=False):
        task: str
        strategies: list[str]
        ranked: list[dict[str, Any]]
        strategy: str
        took: str

    builder = StateGraph(S)
    builder.add_node(
        "rank",
        nodes.rank_strategies(
            ConfidenceEngine(alma),
            "ops",
            routes={"retry with backoff": "retry", "restart the worker": "restart"},
        ),
    )
    builder.add_node("retry", lambda s: {"took": "retry"})
    builder.add_node("restart", lambda s: {"took": "restart"})
    builder.add_edge(START, "rank")
    builder.add_edge("retry", END)
    builder.add_edge("restart", END)
    out = builder.compile().invoke(
        {
            "task": "the export job times out",
            "strategies": ["restart the worker", "retry with backoff"],
        }
    )
    assert out["took"] == "retry" and out["strategy"] == "retry with backoff"
    assert [r["strategy"] for r in out["ranked"]] == ["retry with backoff", "restart the worker"]


def test_workflow_learning_under_a_domain_uses_the_node_task_type(make_alma) -> None:
    """With a workflow in the config, `learn` records a workflow outcome; under the coding
    domain it learns under a category the domain allows: the default "workflow" (every
    preset allows it) or the node's task type."""
    from langgraph_alma.domains import DomainMemoryFactory
    from langgraph_alma.errors import ScopeViolation

    alma = make_alma(domain=DomainMemoryFactory.get_preset("coding"))
    allowed = nodes.learn(alma, "helena", task_type="debugging")
    config = {"configurable": {"workflow_id": "fix-flaky", "run_id": f"r-{uuid.uuid4().hex}"}}
    state = {"task": "fix the flaky login test", "strategy": "pin the clock", "success": True}
    assert allowed(state, config) == {"outcome": "success"}
    found = alma.retrieve("fix the flaky login test", agent="helena", top_k=5)
    assert [(o.strategy_used, o.task_type) for o in found.outcomes] == [
        ("pin the clock", "debugging")
    ]
    config = {"configurable": {"workflow_id": "fix-flaky", "thread_id": f"r-{uuid.uuid4().hex}"}}
    assert nodes.learn(alma, "helena")(state, config) == {"outcome": "success"}  # "workflow"
    with pytest.raises(ScopeViolation):  # a category the domain does not list
        nodes.learn(alma, "helena", task_type="astrology")(state, config)
