"""Real LangGraph graphs on AlmaSaver (sync `invoke`) and AsyncAlmaSaver (`ainvoke`).

Every test runs on both (the `harness` fixture), and most also run the same graph on
LangGraph's `InMemorySaver`: results, and the values, `next` nodes, metadata, tasks and
parent links of every checkpoint in the state history, must match.
"""

from __future__ import annotations

import asyncio
import operator
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs


class Harness:
    """Drives a compiled graph through the sync API (in a worker thread) or the async one."""

    def __init__(self, saver: Any, is_async: bool) -> None:
        self.saver = saver
        self.is_async = is_async

    async def _call(self, graph: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await getattr(graph, "a" + name)(*args, **kwargs)
        return await asyncio.to_thread(getattr(graph, name), *args, **kwargs)

    async def invoke(self, graph: Any, inp: Any, config: dict, **kwargs: Any) -> Any:
        return await self._call(graph, "invoke", inp, config, **kwargs)

    async def get_state(self, graph: Any, config: dict, **kwargs: Any) -> Any:
        return await self._call(graph, "get_state", config, **kwargs)

    async def update_state(self, graph: Any, config: dict, values: Any, **kwargs: Any) -> Any:
        return await self._call(graph, "update_state", config, values, **kwargs)

    async def history(self, graph: Any, config: dict) -> list[Any]:
        if self.is_async:
            return [s async for s in graph.aget_state_history(config)]
        return await asyncio.to_thread(lambda: list(graph.get_state_history(config)))


@pytest.fixture(params=["sync", "async"])
async def harness(request, database) -> AsyncIterator[Harness]:
    if request.param == "sync":
        with ConnectionPool(
            database.url, min_size=1, max_size=4, kwargs=connection_kwargs()
        ) as pool:
            yield Harness(AlmaSaver(pool), False)
    else:
        async with AsyncConnectionPool(
            database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
        ) as pool:
            yield Harness(AsyncAlmaSaver(pool), True)


def _config(tenant: str, **extra: Any) -> dict:
    return {
        "configurable": {"thread_id": f"th-{uuid.uuid4().hex[:8]}", "tenant_id": tenant, **extra}
    }


def _snapshot_view(snapshot: Any) -> tuple:
    """What must agree between savers: values, next nodes, step and source, the tasks
    (name, failed or not, pending result) and interrupt values."""
    meta = snapshot.metadata or {}
    return (
        snapshot.values,
        snapshot.next,
        meta.get("step"),
        meta.get("source"),
        tuple((t.name, t.error is not None, t.result) for t in snapshot.tasks),
        tuple(i.value for i in snapshot.interrupts),
    )


async def _assert_same_history(h: Harness, alma: Any, mem: Any, ac: dict, mc: dict) -> list:
    alma_hist = await h.history(alma, ac)
    mem_hist = await h.history(mem, mc)
    assert len(alma_hist) == len(mem_hist) > 0
    assert [_snapshot_view(s) for s in alma_hist] == [_snapshot_view(s) for s in mem_hist]
    # Every parent link points at a checkpoint of the history, back to one root.
    ids = [s.config["configurable"]["checkpoint_id"] for s in alma_hist]
    parents = [
        s.parent_config["configurable"]["checkpoint_id"] if s.parent_config else None
        for s in alma_hist
    ]
    assert parents[-1] is None and parents.count(None) == 1
    assert all(p in ids[i + 1 :] for i, p in enumerate(parents[:-1]))
    mem_ids = [s.config["configurable"]["checkpoint_id"] for s in mem_hist]
    mem_parents = [
        s.parent_config["configurable"]["checkpoint_id"] if s.parent_config else None
        for s in mem_hist
    ]
    assert [ids.index(p) if p else None for p in parents] == [
        mem_ids.index(p) if p else None for p in mem_parents
    ]
    return alma_hist


def _plain(result: dict) -> dict:
    """A graph result with interrupts reduced to their values (their ids differ by saver)."""
    out = dict(result)
    if "__interrupt__" in out:
        out["__interrupt__"] = [i.value for i in out["__interrupt__"]]
    return out


def _rows(database, query: str, params: tuple) -> list[tuple]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(query, params).fetchall()


# -- graphs ----------------------------------------------------------------------------


class LogState(TypedDict):
    log: Annotated[list[str], operator.add]


def _fan_out_graph() -> StateGraph:
    def node(name: str):
        return lambda state: {"log": [name]}

    b = StateGraph(LogState)
    for name in ("a", "b", "c", "d", "join"):
        b.add_node(name, node(name))
    b.add_edge(START, "a")
    for branch in ("b", "c", "d"):
        b.add_edge("a", branch)
    b.add_edge(["b", "c", "d"], "join")
    b.add_edge("join", END)
    return b


class MapState(TypedDict):
    items: list[int]
    results: Annotated[list[int], operator.add]
    total: int


class ItemState(TypedDict):
    item: int


def _send_graph() -> StateGraph:
    b = StateGraph(MapState)
    b.add_node("plan", lambda s: {"results": []})
    b.add_node("work", lambda s: {"results": [s["item"] * 10]})
    b.add_node("reduce", lambda s: {"total": sum(s["results"])})
    b.add_edge(START, "plan")
    b.add_conditional_edges("plan", lambda s: [Send("work", {"item": i}) for i in s["items"]])
    b.add_edge("work", "reduce")
    b.add_edge("reduce", END)
    return b


class InnerState(TypedDict):
    log: Annotated[list[str], operator.add]
    answer: str


def _inner_graph():
    def ask(state: InnerState) -> dict:
        answer = interrupt({"question": "colour?", "seen": list(state["log"])})
        return {"log": [f"inner:{answer}"], "answer": answer}

    b = StateGraph(InnerState)
    b.add_node("prepare", lambda s: {"log": ["inner:prepare"]})
    b.add_node("ask", ask)
    b.add_edge(START, "prepare")
    b.add_edge("prepare", "ask")
    b.add_edge("ask", END)
    return b


def _parent_graph(inner: Any) -> StateGraph:
    b = StateGraph(InnerState)
    b.add_node("before", lambda s: {"log": ["outer:before"]})
    b.add_node("child", inner)
    b.add_node("after", lambda s: {"log": [f"outer:after:{s['answer']}"]})
    b.add_edge(START, "before")
    b.add_edge("before", "child")
    b.add_edge("child", "after")
    b.add_edge("after", END)
    return b


def _linear_graph() -> StateGraph:
    b = StateGraph(LogState)
    for name in ("one", "two", "three"):
        b.add_node(name, (lambda n: lambda s: {"log": [n]})(name))
    b.add_edge(START, "one")
    b.add_edge("one", "two")
    b.add_edge("two", "three")
    b.add_edge("three", END)
    return b


# -- tests -----------------------------------------------------------------------------


async def test_parallel_branches_fan_in_with_reducer(harness: Harness, database, tenant) -> None:
    builder = _fan_out_graph()
    alma = builder.compile(checkpointer=harness.saver)
    mem = builder.compile(checkpointer=InMemorySaver())
    ac, mc = _config(tenant, agent="helena", workflow_id="fan"), _config(tenant)

    result = await harness.invoke(alma, {"log": ["start"]}, ac)
    expected = await harness.invoke(mem, {"log": ["start"]}, mc)
    assert result == expected
    assert result["log"][:2] == ["start", "a"]
    assert sorted(result["log"][2:5]) == ["b", "c", "d"] and result["log"][5] == "join"
    await _assert_same_history(harness, alma, mem, ac, mc)

    # The checkpoint after the parallel step names the three branch nodes.
    thread = ac["configurable"]["thread_id"]
    rows = _rows(
        database,
        "SELECT node_id, agent, workflow_id FROM alma_checkpoints "
        "WHERE tenant_id = %s AND thread_id = %s AND step = 2",
        (tenant, thread),
    )
    assert len(rows) == 1
    assert sorted(rows[0][0].split(",")) == ["b", "c", "d"]
    assert rows[0][1:] == ("helena", "fan")


async def test_send_map_reduce(harness: Harness, database, tenant) -> None:
    builder = _send_graph()
    alma = builder.compile(checkpointer=harness.saver)
    mem = builder.compile(checkpointer=InMemorySaver())
    ac, mc = _config(tenant), _config(tenant)
    items = [3, 1, 4, 1, 5]

    result = await harness.invoke(alma, {"items": items}, ac)
    assert result == await harness.invoke(mem, {"items": items}, mc)
    assert sorted(result["results"]) == [10, 10, 30, 40, 50]
    assert result["total"] == 140
    await _assert_same_history(harness, alma, mem, ac, mc)

    # Each Send is a branch: its writes carry the push task path as branch_id.
    rows = _rows(
        database,
        "SELECT DISTINCT branch_id FROM alma_checkpoint_writes "
        "WHERE tenant_id = %s AND thread_id = %s AND branch_id IS NOT NULL",
        (tenant, ac["configurable"]["thread_id"]),
    )
    assert len(rows) == len(items)
    assert all(r[0].startswith("~__pregel_push") for r in rows)


async def test_subgraph_interrupt_and_resume(harness: Harness, database, tenant) -> None:
    builder = _parent_graph(_inner_graph().compile())
    # `get_state(subgraphs=True)` reads a subgraph's state with a config of its own that
    # keeps only thread_id (LangGraph drops every other configurable key there), so a
    # tenant other than the default must be bound to the saver for it to be found.
    alma = builder.compile(checkpointer=harness.saver.for_tenant(tenant))
    mem = builder.compile(checkpointer=InMemorySaver())
    ac, mc = _config(tenant), _config(tenant)

    first = await harness.invoke(alma, {"log": ["in"]}, ac)
    assert _plain(first) == _plain(await harness.invoke(mem, {"log": ["in"]}, mc))
    assert [i.value for i in first["__interrupt__"]] == [
        {"question": "colour?", "seen": ["in", "outer:before", "inner:prepare"]}
    ]

    state = await harness.get_state(alma, ac, subgraphs=True)
    assert state.next == ("child",)
    (task,) = state.tasks
    assert task.name == "child"
    sub = task.state
    assert sub.values == {"log": ["in", "outer:before", "inner:prepare"]}
    assert sub.next == ("ask",)
    assert sub.config["configurable"]["checkpoint_ns"].startswith("child:")
    mem_state = await harness.get_state(mem, mc, subgraphs=True)
    assert sub.values == mem_state.tasks[0].state.values

    # The subgraph's checkpoints live in their own namespace.
    namespaces = {
        r[0]
        for r in _rows(
            database,
            "SELECT DISTINCT checkpoint_ns FROM alma_checkpoints "
            "WHERE tenant_id = %s AND thread_id = %s",
            (tenant, ac["configurable"]["thread_id"]),
        )
    }
    assert "" in namespaces and any(ns.startswith("child:") for ns in namespaces)

    done = await harness.invoke(alma, Command(resume="blue"), ac)
    assert done == await harness.invoke(mem, Command(resume="blue"), mc)
    # The subgraph hands its whole `log` back to the parent's `operator.add` reducer.
    assert done["log"] == ["in", "outer:before"] * 2 + [
        "inner:prepare",
        "inner:blue",
        "outer:after:blue",
    ]
    assert done["answer"] == "blue"
    final = await harness.get_state(alma, ac, subgraphs=True)
    assert final.next == () and final.tasks == ()
    await _assert_same_history(harness, alma, mem, ac, mc)


async def test_interrupt_resume_in_a_new_saver(harness: Harness, database, tenant) -> None:
    class S(TypedDict):
        log: Annotated[list[str], operator.add]

    calls: list[str] = []

    def review(state: S) -> dict:
        calls.append("review")
        decision = interrupt({"draft": state["log"][-1]})
        return {"log": [f"review:{decision}"]}

    b = StateGraph(S)
    b.add_node("draft", lambda s: {"log": ["draft"]})
    b.add_node("review", review)
    b.add_edge(START, "draft")
    b.add_edge("draft", "review")
    b.add_edge("review", END)

    ac = _config(tenant)
    graph = b.compile(checkpointer=harness.saver)
    out = await harness.invoke(graph, {"log": []}, ac)
    assert [i.value for i in out["__interrupt__"]] == [{"draft": "draft"}]
    state = await harness.get_state(graph, ac)
    assert state.next == ("review",)
    assert [i.value for i in state.interrupts] == [{"draft": "draft"}]

    # Resume on another saver over another pool: nothing comes from in-process memory.
    if harness.is_async:
        async with AsyncAlmaSaver.from_conn_string(database.url) as other:
            resumed = await b.compile(checkpointer=other).ainvoke(Command(resume="ok"), ac)
    else:

        def resume() -> dict:
            with AlmaSaver.from_conn_string(database.url) as other:
                return b.compile(checkpointer=other).invoke(Command(resume="ok"), ac)

        resumed = await asyncio.to_thread(resume)
    assert resumed == {"log": ["draft", "review:ok"]}
    assert calls == ["review", "review"]  # the interrupted node runs again on resume
    assert (await harness.get_state(graph, ac)).next == ()


async def test_history_and_fork_with_update_state(harness: Harness, database, tenant) -> None:
    builder = _linear_graph()
    alma = builder.compile(checkpointer=harness.saver)
    mem = builder.compile(checkpointer=InMemorySaver())
    ac = _config(tenant, agent="helena", workflow_id="essay", project_id="p7")
    mc = _config(tenant)

    assert await harness.invoke(alma, {"log": ["x"]}, ac) == {"log": ["x", "one", "two", "three"]}
    await harness.invoke(mem, {"log": ["x"]}, mc)
    alma_hist = await _assert_same_history(harness, alma, mem, ac, mc)
    mem_hist = await harness.history(mem, mc)
    assert [s.values["log"] for s in alma_hist] == [
        ["x", "one", "two", "three"],
        ["x", "one", "two"],
        ["x", "one"],
        ["x"],
        [],
    ]

    # Fork at the checkpoint about to run "two": add a value as if "one" had written it.
    (alma_at,) = [s for s in alma_hist if s.next == ("two",)]
    (mem_at,) = [s for s in mem_hist if s.next == ("two",)]
    alma_fork = await harness.update_state(alma, alma_at.config, {"log": ["fork"]}, as_node="one")
    mem_fork = await harness.update_state(mem, mem_at.config, {"log": ["fork"]}, as_node="one")
    assert (
        alma_fork["configurable"]["checkpoint_id"]
        != alma_at.config["configurable"]["checkpoint_id"]
    )
    fork_state = await harness.get_state(alma, alma_fork)
    assert fork_state.values == {"log": ["x", "one", "fork"]}
    assert fork_state.next == ("two",)
    assert (
        fork_state.parent_config["configurable"]["checkpoint_id"]
        == alma_at.config["configurable"]["checkpoint_id"]
    )

    result = await harness.invoke(alma, None, alma_fork)
    assert result == {"log": ["x", "one", "fork", "two", "three"]}
    assert result == await harness.invoke(mem, None, mem_fork)

    # The thread's latest state is the fork's; the original run is still in history.
    assert (await harness.get_state(alma, ac)).values == result
    await _assert_same_history(harness, alma, mem, ac, mc)
    old = await harness.get_state(alma, alma_hist[0].config)
    assert old.values == {"log": ["x", "one", "two", "three"]}
    # Configs handed out by the saver keep the tenant: the fork was written for it only.
    assert alma_fork["configurable"]["tenant_id"] == tenant
    tenants = _rows(
        database,
        "SELECT DISTINCT tenant_id FROM alma_checkpoints WHERE thread_id = %s",
        (ac["configurable"]["thread_id"],),
    )
    assert tenants == [(tenant,)]
    # ...and with the scope of the run it forked: the fork's configs came from the saver,
    # not from the caller, yet its checkpoints keep the run's project, agent and workflow.
    scopes = _rows(
        database,
        "SELECT DISTINCT project_id, agent, workflow_id FROM alma_checkpoints "
        "WHERE tenant_id = %s AND thread_id = %s",
        (tenant, ac["configurable"]["thread_id"]),
    )
    assert scopes == [("p7", "helena", "essay")]


@pytest.mark.parametrize("durability", ["exit", "async", "sync"])
async def test_durability_modes(harness: Harness, database, tenant, durability: str) -> None:
    builder = _fan_out_graph()
    alma = builder.compile(checkpointer=harness.saver)
    mem = builder.compile(checkpointer=InMemorySaver())
    ac, mc = _config(tenant), _config(tenant)

    for round_ in ("r1", "r2"):
        result = await harness.invoke(alma, {"log": [round_]}, ac, durability=durability)
        assert result == await harness.invoke(mem, {"log": [round_]}, mc, durability=durability)
    assert result["log"].count("join") == 2 and result["log"][0] == "r1"
    hist = await _assert_same_history(harness, alma, mem, ac, mc)

    stored = _rows(
        database,
        "SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s",
        (tenant, ac["configurable"]["thread_id"]),
    )[0][0]
    assert stored == len(hist)
    if durability == "exit":
        assert stored == 2  # one checkpoint per invocation, at its end
    else:
        assert stored == 2 * 5  # input, start, a, the three branches, join: per invocation
        # node_id names every node whose writes made the checkpoint, although LangGraph
        # saves a step's writes in the background, racing the save of the next checkpoint.
        nodes = _rows(
            database,
            "SELECT step, node_id FROM alma_checkpoints WHERE tenant_id = %s "
            "AND thread_id = %s ORDER BY checkpoint_id",
            (tenant, ac["configurable"]["thread_id"]),
        )
        by_step = [(step, sorted((node or "").split(","))) for step, node in nodes]
        one_run = [[""], ["__start__"], ["a"], ["b", "c", "d"], ["join"]]
        assert [n for _, n in by_step] == one_run * 2
        assert [s for s, _ in by_step] == [-1, 0, 1, 2, 3, 4, 5, 6, 7, 8]


async def test_parallel_interrupts_resumed_by_id(harness: Harness, tenant) -> None:
    def ask(name: str):
        def run(state: LogState) -> dict:
            return {"log": [f"{name}:{interrupt(name)}"]}

        return run

    b = StateGraph(LogState)
    b.add_node("x", ask("x"))
    b.add_node("y", ask("y"))
    b.add_node("z", lambda s: {"log": ["z"]})
    b.add_edge(START, "x")
    b.add_edge(START, "y")
    b.add_edge(["x", "y"], "z")
    b.add_edge("z", END)
    alma = b.compile(checkpointer=harness.saver)
    mem = b.compile(checkpointer=InMemorySaver())
    ac, mc = _config(tenant), _config(tenant)

    for graph, config in ((alma, ac), (mem, mc)):
        out = await harness.invoke(graph, {"log": []}, config)
        assert sorted(i.value for i in out["__interrupt__"]) == ["x", "y"]
        state = await harness.get_state(graph, config)
        assert sorted(i.value for i in state.interrupts) == ["x", "y"]
        answers = {i.id: f"{i.value}!" for i in state.interrupts}
        done = await harness.invoke(graph, Command(resume=answers), config)
        assert done == {"log": ["x:x!", "y:y!", "z"]}
    await _assert_same_history(harness, alma, mem, ac, mc)


async def test_failed_branch_resumes_with_saved_writes(harness: Harness, database, tenant) -> None:
    calls: list[str] = []
    fail = {"on": True}
    ac = _config(tenant)
    thread = ac["configurable"]["thread_id"]

    def steady(state: LogState) -> dict:
        calls.append("steady")
        return {"log": ["steady"]}

    def flaky(state: LogState) -> dict:
        calls.append("flaky")
        if fail["on"]:
            # Fail only once the other branch's writes are saved (else it is cancelled).
            for _ in range(3000):
                if _rows(
                    database,
                    "SELECT 1 FROM alma_checkpoint_writes WHERE tenant_id = %s "
                    "AND thread_id = %s AND node_id = 'steady'",
                    (tenant, thread),
                ):
                    break
                time.sleep(0.01)
            raise RuntimeError("flaky failed")
        return {"log": ["flaky"]}

    b = StateGraph(LogState)
    b.add_node("steady", steady)
    b.add_node("flaky", flaky)
    b.add_node("end", lambda s: {"log": ["end"]})
    b.add_edge(START, "steady")
    b.add_edge(START, "flaky")
    b.add_edge(["steady", "flaky"], "end")
    b.add_edge("end", END)
    alma = b.compile(checkpointer=harness.saver)
    with pytest.raises(RuntimeError, match="flaky failed"):
        await harness.invoke(alma, {"log": ["in"]}, ac)

    # The branch that succeeded is done (its writes were saved); only the failed one is next.
    state = await harness.get_state(alma, ac)
    assert state.next == ("flaky",)
    tasks = {t.name: t for t in state.tasks}
    assert tasks["steady"].error is None and tasks["steady"].result == {"log": ["steady"]}
    assert "flaky failed" in repr(tasks["flaky"].error) and tasks["flaky"].result is None
    assert state.values == {"log": ["in", "steady"]}  # saved writes applied on read

    fail["on"] = False
    result = await harness.invoke(alma, None, ac)
    assert sorted(result["log"]) == ["end", "flaky", "in", "steady"]
    assert result["log"][0] == "in" and result["log"][-1] == "end"
    assert sorted(calls) == ["flaky", "flaky", "steady"]  # steady did not run again
