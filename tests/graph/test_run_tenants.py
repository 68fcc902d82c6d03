"""One unbound store, two tenants' graph runs: entities, relationships and memories each
land under the run's `configurable["tenant_id"]`, and neither run sees the other's."""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

import psycopg
import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.store import AlmaStore, AsyncAlmaStore

INDEX = {"dims": 64, "embed": HashingEmbeddings(dims=64), "fields": ["text"]}


class State(TypedDict, total=False):
    tag: str
    related: list[str]
    found: list[str]
    strategies: list[str]


def _sync_graph(alma: Alma) -> Any:
    def work(state: State) -> State:
        tag, g = state["tag"], alma.graph
        bug = g.add_entity("bug", f"{tag} checkout bug", {"owner": tag})
        g.add_relationship(bug, "affects", g.add_entity("module", f"{tag} payments"))
        for _ in range(3):  # a heuristic needs a few outcomes
            alma.learn("devon", f"{tag} fix checkout", "success", f"{tag} rerun the test")
        alma.add_domain_knowledge("devon", "debugging", f"{tag} money is in cents")
        seen = alma.retrieve("fix the checkout bug", agent="devon", follow_relationships=1)
        return {
            "related": seen.related,
            "found": [e.name for e in g.find_entities(text="checkout")],
            "strategies": [h.strategy for h in seen.heuristics],
        }

    return StateGraph(State).add_node("work", work).add_edge(START, "work").add_edge("work", END)


def _async_graph(alma: AsyncAlma) -> Any:
    async def work(state: State) -> State:
        tag, g = state["tag"], alma.graph
        bug = await g.add_entity("bug", f"{tag} checkout bug", {"owner": tag})
        await g.add_relationship(bug, "affects", await g.add_entity("module", f"{tag} payments"))
        for _ in range(3):
            await alma.learn("devon", f"{tag} fix checkout", "success", f"{tag} rerun the test")
        await alma.add_domain_knowledge("devon", "debugging", f"{tag} money is in cents")
        seen = await alma.retrieve("fix the checkout bug", agent="devon", follow_relationships=1)
        return {
            "related": seen.related,
            "found": [e.name for e in await g.find_entities(text="checkout")],
            "strategies": [h.strategy for h in seen.heuristics],
        }

    return StateGraph(State).add_node("work", work).add_edge(START, "work").add_edge("work", END)


def _config(tenant: str) -> RunnableConfig:
    return {"configurable": {"tenant_id": tenant, "thread_id": uuid.uuid4().hex}}


def _assert_no_crossing(database: Any, tenants: dict[str, str], results: dict[str, State]):
    for tag, result in results.items():
        other = next(t for t in tenants if t != tag)
        text = repr(result)
        assert tag in text and other not in text, result  # each run saw only its own
        assert result["found"] == [f"{tag} checkout bug"]
        assert result["strategies"] == [f"{tag} rerun the test"]
        assert any(f"{tag} checkout bug" in line for line in result["related"])
    with psycopg.connect(database.admin_url) as conn:  # every row, past row-level security
        for tenant in tenants.values():
            entities = conn.execute(
                "SELECT count(*) FROM alma_entities WHERE tenant_id = %s", (tenant,)
            ).fetchone()
            assert entities == (2,), tenant
        for tag, tenant in tenants.items():
            misplaced = conn.execute(
                "SELECT tenant_id, name FROM alma_entities WHERE name LIKE %s AND tenant_id <> %s",
                (f"{tag} %", tenant),
            ).fetchall()
            assert misplaced == [], misplaced
            rels = conn.execute(
                "SELECT r.tenant_id, e.tenant_id FROM alma_relationships r "
                "JOIN alma_entities e ON e.id = r.source_id WHERE e.name LIKE %s",
                (f"{tag} %",),
            ).fetchall()
            assert rels == [(tenant, tenant)], rels
            items = conn.execute(
                "SELECT tenant_id, value->>'tenant_id' FROM alma_store "
                "WHERE value::text LIKE %s AND value ? 'kind'",  # memories, not running counts
                (f"%{tag} %",),
            ).fetchall()
            assert items and set(items) == {(tenant, tenant)}, items


@pytest.fixture
def tenants() -> dict[str, str]:
    run = uuid.uuid4().hex[:6]
    return {f"tx{run}": f"tenant-x-{run}", f"ty{run}": f"tenant-y-{run}"}


def test_two_tenants_graph_runs_on_one_unbound_store(database: Any, tenants) -> None:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as pool:
        store = AlmaStore(pool, index=INDEX)  # not bound to a tenant
        assert store.tenant_id is None
        alma = Alma(store)
        graph = _sync_graph(alma).compile(store=store)
        results = {tag: graph.invoke({"tag": tag}, _config(t)) for tag, t in tenants.items()}
    _assert_no_crossing(database, tenants, results)


async def test_two_tenants_async_graph_runs_on_one_unbound_store(database: Any, tenants) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
    ) as pool:
        store = AsyncAlmaStore(pool, index=INDEX)
        alma = AsyncAlma(store)
        graph = _async_graph(alma).compile(store=store)
        results = {tag: await graph.ainvoke({"tag": tag}, _config(t)) for tag, t in tenants.items()}
    _assert_no_crossing(database, tenants, results)
