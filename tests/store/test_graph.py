"""The store injected into real graphs, sync and async; the tenant comes from the run."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import AlmaStore, AsyncAlmaStore, TenantMismatch
from langgraph_alma.db.connect import connection_kwargs


class State(TypedDict):
    text: str
    seen: Annotated[list[str], operator.add]


def remember(state: State, *, store: BaseStore) -> dict:
    store.put(("notes",), state["text"], {"text": state["text"]})
    return {"seen": [i.key for i in store.search(("notes",))]}


async def aremember(state: State, *, store: BaseStore) -> dict:
    await store.aput(("notes",), state["text"], {"text": state["text"]})
    return {"seen": [i.key for i in await store.asearch(("notes",))]}


def build(node):
    builder = StateGraph(State)
    builder.add_node("remember", node)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", END)
    return builder


def test_sync_graph_tenant_per_run(pool, tenant) -> None:
    store = AlmaStore(pool)  # unbound: each run's configurable.tenant_id
    graph = build(remember).compile(store=store)
    a, b = tenant + "-a", tenant + "-b"
    out_a = graph.invoke({"text": "alpha", "seen": []}, {"configurable": {"tenant_id": a}})
    out_b = graph.invoke({"text": "beta", "seen": []}, {"configurable": {"tenant_id": b}})
    assert out_a["seen"] == ["alpha"] and out_b["seen"] == ["beta"]
    again = graph.invoke({"text": "gamma", "seen": []}, {"configurable": {"tenant_id": a}})
    assert sorted(again["seen"]) == ["alpha", "gamma"]
    assert store.for_tenant(b).get(("notes",), "beta") is not None
    assert store.for_tenant(a).get(("notes",), "beta") is None


def test_bound_store_refuses_another_tenant(pool, tenant) -> None:
    graph = build(remember).compile(store=AlmaStore(pool, tenant_id=tenant))
    with pytest.raises(TenantMismatch):
        graph.invoke({"text": "x", "seen": []}, {"configurable": {"tenant_id": "intruder"}})
    out = graph.invoke({"text": "x", "seen": []}, {"configurable": {"tenant_id": tenant}})
    assert out["seen"] == ["x"]


async def test_async_graph_tenant_per_run(database, tenant) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as p:
        store = AsyncAlmaStore(p)
        graph = build(aremember).compile(store=store)
        cfg = {"configurable": {"tenant_id": tenant}}
        await graph.ainvoke({"text": "one", "seen": []}, cfg)
        out = await graph.ainvoke({"text": "two", "seen": []}, cfg)
        assert sorted(out["seen"]) == ["one", "two"]
        assert await store.for_tenant(tenant).aget(("notes",), "two") is not None
        assert await store.for_tenant(tenant + "-other").aget(("notes",), "two") is None


async def test_sync_store_in_async_graph(pool, tenant) -> None:
    graph = build(aremember).compile(store=AlmaStore(pool))
    cfg = {"configurable": {"tenant_id": tenant}}
    await graph.ainvoke({"text": "one", "seen": []}, cfg)
    out = await graph.ainvoke({"text": "two", "seen": []}, cfg)
    assert sorted(out["seen"]) == ["one", "two"]
