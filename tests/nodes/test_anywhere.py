"""The prebuilt nodes wherever LangGraph runs them: sync and async graphs (`invoke`,
`ainvoke`, `astream`), built with an `Alma`/`AsyncAlma` or with nothing but the store the
graph was compiled with (tenant, agent and workflow from `config["configurable"]`); the
initializer opens a session and makes its work items once per thread; `handoff` closes
that session."""

from __future__ import annotations

import uuid
import warnings
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import AlmaSaver, nodes
from langgraph_alma.alma import AsyncAlma
from langgraph_alma.checkpoint import AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import ConfigError
from langgraph_alma.progress import ProgressTracker
from langgraph_alma.session import SessionManager
from langgraph_alma.store import AlmaStore, AsyncAlmaStore
from tests.memory.conftest import INDEX

STRATEGIES = ["retry with backoff", "restart the worker"]
WORKS = "retry with backoff"


class State(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    task: str
    memories: str
    session_id: str
    initialization: dict[str, Any]
    strategies: list[str]
    ranked: list[dict[str, Any]]
    strategy: str
    success: bool
    outcome: str
    handoff_id: str


def _builder(init, rank, learn, handoff, forced: list[str]) -> StateGraph:
    def work(state: State) -> dict[str, Any]:
        strategy = forced.pop(0) if forced else state["strategy"]
        return {"strategy": strategy, "success": strategy == WORKS}

    builder = StateGraph(State)
    builder.add_node("init", init)
    builder.add_node("rank", rank)
    builder.add_node("work", work)
    builder.add_node("learn", learn)
    builder.add_node("handoff", handoff)
    builder.add_edge(START, "init")
    builder.add_edge("init", "rank")
    builder.add_edge("rank", "work")
    builder.add_edge("work", "learn")
    builder.add_edge("learn", "handoff")
    builder.add_edge("handoff", END)
    return builder


def _config(tenant: str, thread: str | None = None) -> dict[str, Any]:
    return {
        "configurable": {
            "thread_id": thread or f"run-{uuid.uuid4().hex[:8]}",
            "tenant_id": tenant,
            "agent": "ops",
            "workflow_id": "nightly-export",
        }
    }


def _inputs(i: int) -> dict[str, Any]:
    task = f"the nightly export job times out again (night {i})"
    return {"messages": [HumanMessage(content=task)], "strategies": STRATEGIES}


@pytest.fixture
async def apool(database):
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
    ) as p:
        yield p


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_nodes_on_the_injected_sync_store_learn_across_runs(pool, tenant, _indexed) -> None:
    """No Alma anywhere: the nodes use the graph's AlmaStore and the config's agent."""
    store = AlmaStore(pool, index=INDEX)  # unbound: the run's tenant_id picks the tenant
    forced = [s for s in STRATEGIES for _ in range(3)]
    graph = _builder(
        nodes.initializer(), nodes.rank_strategies(), nodes.learn(), nodes.handoff(), forced
    ).compile(checkpointer=AlmaSaver(pool), store=store)
    results = [graph.invoke(_inputs(i), _config(tenant)) for i in range(9)]
    assert "Relevant strategies" not in results[0]["memories"]
    assert WORKS in results[-1]["memories"]  # learned by earlier runs, through the store
    assert "Past workflow runs" in results[-1]["memories"]  # workflow outcomes retrieved
    assert results[-1]["ranked"][0]["strategy"] == WORKS
    assert results[-1]["outcome"] == "success"
    # everything went to this run's tenant (row-level security would hide it otherwise)
    mine = store.for_tenant(tenant).search(("alma",), limit=1000)
    assert any(i.value.get("kind") == "heuristic" for i in mine)
    # each run's session was opened by the initializer and closed by the handoff node
    sessions = SessionManager(store.for_tenant(tenant))
    previous = sessions.get_previous_sessions(None, "ops", 20)
    assert {s.session_id for s in previous} == {r["session_id"] for r in results}
    assert previous[0].last_action == WORKS and previous[0].last_outcome == "success"


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_nodes_on_the_injected_async_store_with_ainvoke_and_astream(
    apool, tenant, _indexed
) -> None:
    store = AsyncAlmaStore(apool, index=INDEX)
    forced = [s for s in STRATEGIES for _ in range(3)]
    graph = _builder(
        nodes.initializer(), nodes.rank_strategies(), nodes.learn(), nodes.handoff(), forced
    ).compile(checkpointer=AsyncAlmaSaver(apool), store=store)
    results = [await graph.ainvoke(_inputs(i), _config(tenant)) for i in range(6)]
    last = None
    async for update in graph.astream(_inputs(6), _config(tenant), stream_mode="values"):
        last = update
    assert last is not None and WORKS in last["memories"]
    assert last["ranked"][0]["strategy"] == WORKS and last["outcome"] == "success"
    assert "Relevant strategies" not in results[0]["memories"]


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_nodes_built_with_an_async_alma(apool, tenant, _indexed) -> None:
    """Today's bug: the initializer with an AsyncAlma returned a coroutine."""
    from langgraph_alma.confidence import AsyncConfidenceEngine
    from langgraph_alma.session import AsyncSessionManager

    alma = AsyncAlma(AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant))
    forced = [s for s in STRATEGIES for _ in range(3)]
    builder = _builder(
        nodes.initializer(alma, "ops"),
        nodes.rank_strategies(AsyncConfidenceEngine(alma), "ops"),
        nodes.learn(alma, "ops", task_type="ops"),
        nodes.handoff(AsyncSessionManager(alma.store), "ops"),
        forced,
    )
    graph = builder.compile(checkpointer=AsyncAlmaSaver(apool, tenant_id=tenant))
    results = [
        await graph.ainvoke(_inputs(i), {"configurable": {"thread_id": uuid.uuid4().hex}})
        for i in range(8)
    ]
    assert isinstance(results[0]["memories"], str)
    assert WORKS in results[-1]["memories"]
    assert results[-1]["ranked"][0]["strategy"] == WORKS
    with pytest.raises(ConfigError, match="ainvoke or astream"):  # sync invoke: said clearly
        builder.compile().invoke(_inputs(9))


def test_initializer_is_idempotent_per_thread_and_handoff_closes_its_session(
    make_alma, pool
) -> None:
    alma = make_alma()

    class S(TypedDict, total=False):
        messages: Annotated[list[AnyMessage], add_messages]
        task: str
        memories: str
        session_id: str
        initialization: dict[str, Any]
        decisions: list[str]
        handoff_id: str

    builder = StateGraph(S)
    builder.add_node("init", nodes.initializer(alma, "ops", expand=True))
    builder.add_node("decide", lambda s: {"decisions": ["ship the export fix first"]})
    builder.add_node("handoff", nodes.handoff(SessionManager(alma.store), "ops"))
    builder.add_edge(START, "init")
    builder.add_edge("init", "decide")
    builder.add_edge("decide", "handoff")
    builder.add_edge("handoff", END)
    graph = builder.compile(checkpointer=AlmaSaver(pool, tenant_id=alma.core.tenant_id))
    config = {"configurable": {"thread_id": uuid.uuid4().hex}}
    prompt = "1. fix the export\n2. add a test"
    outs = [graph.invoke({"messages": [HumanMessage(content=prompt)]}, config) for _ in range(3)]
    items = ProgressTracker(alma.store).list_items()
    assert sorted(w.title for w in items) == ["add a test", "fix the export"]  # not 6
    ids = [[w["id"] for w in o["initialization"]["work_items"]] for o in outs]
    assert ids[0] == ids[1] == ids[2]
    assert {w.item_type for w in items} == {"bug", "test"}
    sessions = [o["session_id"] for o in outs]
    assert len(set(sessions)) == 3 and all(o["handoff_id"] == o["session_id"] for o in outs)
    closed = SessionManager(alma.store).get_previous_sessions(None, "ops", 10)
    assert {s.session_id for s in closed} == set(sessions)
    assert all(s.ended and s.key_decisions == ["ship the export fix first"] for s in closed)
    assert outs[-1]["initialization"]["previous_handoff"]["session_id"] == sessions[1]
    # another thread is another session: its own items
    graph.invoke(
        {"messages": [HumanMessage(content=prompt)]},
        {"configurable": {"thread_id": uuid.uuid4().hex}},
    )
    assert len(ProgressTracker(alma.store).list_items()) == 4


def test_workflow_outcomes_reach_the_next_runs_prompt(make_alma) -> None:
    alma = make_alma()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nodes.learn(alma, "ops")(
            {"task": "export the nightly ledger", "strategy": "stream rows", "success": True},
            {"configurable": {"thread_id": "r1", "workflow_id": "nightly"}},
        )
    out = nodes.initializer(alma, "ops")(
        {"task": "export the nightly ledger again"}, {"configurable": {"thread_id": "r2"}}
    )
    assert "## Past workflow runs" in out["memories"]
    assert "success: export the nightly ledger" in out["memories"]
    assert out["session_id"]


def test_concurrent_runs_of_one_thread_make_its_work_items_once(make_alma) -> None:
    """Two runs of the same thread at once (real threads): one set of work items."""
    from concurrent.futures import ThreadPoolExecutor

    alma = make_alma()
    node = nodes.initializer(alma, "ops", expand=True)
    config = {"configurable": {"thread_id": f"t-{uuid.uuid4().hex[:8]}"}}
    state = {"task": "1. fix the export\n2. add a test\n3. document the fix"}
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: node(state, config), range(4)))
    items = ProgressTracker(alma.store).list_items()
    assert len(items) == 3
    ids = {tuple(w["id"] for w in o["initialization"]["work_items"]) for o in outs}
    assert ids == {tuple(sorted(ids)[0])} and len(next(iter(ids))) == 3
    assert len({o["session_id"] for o in outs}) == 4  # a session per run


def test_bad_wiring_is_named(make_alma) -> None:
    plain = StateGraph(State)
    plain.add_node("init", nodes.initializer())
    plain.add_edge(START, "init")
    with pytest.raises(ConfigError, match="no store"):  # no Alma and no store
        plain.compile().invoke({"task": "t"}, {"configurable": {"agent": "ops"}})
    alma = make_alma()
    with pytest.raises(ConfigError, match="needs an agent"):  # no agent anywhere
        nodes.learn(alma)({"task": "t", "strategy": "s", "success": True}, {})
    other = StateGraph(State)
    other.add_node("init", nodes.initializer())
    other.add_edge(START, "init")
    from langgraph.store.memory import InMemoryStore

    with pytest.raises(ConfigError, match="AlmaStore or AsyncAlmaStore"):
        other.compile(store=InMemoryStore()).invoke({"task": "t"}, _config("x"))


async def test_async_initializer_on_the_injected_store_is_idempotent(
    apool, tenant, _indexed
) -> None:
    class S(TypedDict, total=False):
        task: str
        memories: str
        session_id: str
        initialization: dict[str, Any]
        handoff_id: str

    builder = StateGraph(S)
    builder.add_node("init", nodes.initializer(expand=True))
    builder.add_node("handoff", nodes.handoff())
    builder.add_edge(START, "init")
    builder.add_edge("init", "handoff")
    store = AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant)
    graph = builder.compile(checkpointer=AsyncAlmaSaver(apool, tenant_id=tenant), store=store)
    project = f"p-{uuid.uuid4().hex[:8]}"
    config = {
        "configurable": {"thread_id": uuid.uuid4().hex, "agent": "ops", "project_id": project}
    }
    task = "1. fix the export\n2. add a test"
    outs = [await graph.ainvoke({"task": task}, config) for _ in range(3)]
    from langgraph_alma.progress import AsyncProgressTracker

    items = await AsyncProgressTracker(store, project_id=project).list_items()
    assert sorted(w.title for w in items) == ["add a test", "fix the export"]
    assert len({o["session_id"] for o in outs}) == 3
    assert all(o["handoff_id"] == o["session_id"] for o in outs)
