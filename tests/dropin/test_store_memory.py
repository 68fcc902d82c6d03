"""AlmaStore, GraphMemory and the Alma facade on the caller's connection or pool, whatever
its row factory and prepare threshold (sync and async)."""

from __future__ import annotations

import uuid
from typing import Any

from langgraph_alma import AlmaSaver, AlmaStore, AsyncAlmaSaver, AsyncAlmaStore
from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.graph import AsyncGraphMemory, GraphMemory
from langgraph_alma.memory import MemoryScope
from langgraph_alma.workflow.context import WorkflowContext
from tests.dropin.conftest import INDEX, open_async, open_sync

SCOPES = {"helena": MemoryScope(agent_name="helena", min_occurrences_for_heuristic=2)}


def _ns() -> tuple[str, ...]:
    return ("docs", uuid.uuid4().hex[:8])


def _check_store_results(ns: tuple[str, ...], got: Any, hits: Any, filtered: Any, spaces: Any):
    assert got is not None and got.value == {"text": "the red car is fast", "n": 1}
    assert got.namespace == ns and got.key == "a" and got.created_at is not None
    assert hits[0].key == "a" and hits[0].score is not None and len(hits) == 2
    assert [i.key for i in filtered] == ["b"]
    assert spaces == [ns]


def test_store_setup_put_get_search(database, kind, caller_kwargs, tenant) -> None:
    with open_sync(database.admin_url, kind, caller_kwargs) as admin:
        AlmaStore(admin, index=INDEX).setup()  # as a role that may create tables
    with open_sync(database.url, kind, caller_kwargs) as source:
        store = AlmaStore(source, tenant_id=tenant, index=INDEX)
        ns = _ns()
        store.put(ns, "a", {"text": "the red car is fast", "n": 1})
        store.put(ns, "b", {"text": "a quiet green garden", "n": 2})
        _check_store_results(
            ns,
            store.get(ns, "a"),
            store.search(ns[:1], query="fast red car"),
            store.search(ns[:1], filter={"n": {"$gt": 1}}),
            store.list_namespaces(prefix=ns[:1]),
        )
        store.delete(ns, "a")
        assert store.get(ns, "a") is None


async def test_async_store_setup_put_get_search(database, kind, caller_kwargs, tenant) -> None:
    async with open_async(database.admin_url, kind, caller_kwargs) as admin:
        await AsyncAlmaStore(admin, index=INDEX).setup()
    async with open_async(database.url, kind, caller_kwargs) as source:
        store = AsyncAlmaStore(source, tenant_id=tenant, index=INDEX)
        ns = _ns()
        await store.aput(ns, "a", {"text": "the red car is fast", "n": 1})
        await store.aput(ns, "b", {"text": "a quiet green garden", "n": 2})
        _check_store_results(
            ns,
            await store.aget(ns, "a"),
            await store.asearch(ns[:1], query="fast red car"),
            await store.asearch(ns[:1], filter={"n": {"$gt": 1}}),
            await store.alist_namespaces(prefix=ns[:1]),
        )


def test_graph_memory(database, kind, caller_kwargs, tenant) -> None:
    with open_sync(database.url, kind, caller_kwargs) as source:
        graph = GraphMemory(source, tenant_id=tenant)
        auth = graph.add_entity("module", "auth", {"path": "src/auth.py"})
        graph.add_entity("module", "db")
        graph.add_entity("test", "test_login")
        graph.add_relationship(("test", "test_login"), "tests", ("module", "auth"))
        graph.add_relationship(("module", "auth"), "uses", ("module", "db"))
        assert graph.get_entity(("module", "auth")).properties == {"path": "src/auth.py"}
        assert graph.get_entity(auth.id).name == "auth"
        near = graph.neighbors(("module", "auth"))
        assert sorted(n.entity.name for n in near) == ["db", "test_login"]
        route = graph.path(("test", "test_login"), ("module", "db"))
        assert [r.relation_type for r in route] == ["tests", "uses"]
        assert [e.name for e in graph.find_entities(text="auth")] == ["auth"]
        assert graph.delete_entity(("module", "db")) is True


async def test_async_graph_memory(database, kind, caller_kwargs, tenant) -> None:
    async with open_async(database.url, kind, caller_kwargs) as source:
        graph = AsyncGraphMemory(source, tenant_id=tenant)
        await graph.add_entity("module", "auth", {"path": "src/auth.py"})
        await graph.add_entity("module", "db")
        await graph.add_relationship(("module", "auth"), "uses", ("module", "db"))
        got = await graph.get_entity(("module", "auth"))
        assert got is not None and got.properties == {"path": "src/auth.py"}
        near = await graph.neighbors(("module", "auth"))
        assert [n.entity.name for n in near] == ["db"]
        assert len(await graph.path(("module", "auth"), ("module", "db"))) == 1


def test_alma_facade(database, kind, caller_kwargs, tenant) -> None:
    with open_sync(database.url, kind, caller_kwargs) as source:
        store = AlmaStore(source, tenant_id=tenant, index=INDEX)
        alma = Alma(store, AlmaSaver(source, tenant_id=tenant), scopes=SCOPES)
        for _ in range(2):
            alma.learn("helena", "test the login form", "success", "happy path first")
        alma.add_user_preference("ana", "style", "short answers")
        found = alma.retrieve("test the login form", agent="helena", user_id="ana")
        assert [h.strategy for h in found.heuristics] == ["happy path first"]
        assert len(found.outcomes) == 2 and found.preferences[0].preference == "short answers"
        ctx = WorkflowContext(tenant_id=tenant, workflow_id="wf", run_id=uuid.uuid4().hex)
        first = alma.checkpoint(ctx, "plan", {"steps": ["a"]})
        alma.checkpoint(ctx, "build", {"steps": ["a", "b"]})
        resume = alma.get_resume_point(ctx.run_id)
        assert first is not None and first.seq == 1
        assert resume is not None and resume.seq == 2 and resume.state == {"steps": ["a", "b"]}
        assert alma.get_stats("helena")


async def test_async_alma_facade(database, kind, caller_kwargs, tenant) -> None:
    async with open_async(database.url, kind, caller_kwargs) as source:
        store = AsyncAlmaStore(source, tenant_id=tenant, index=INDEX)
        alma = AsyncAlma(store, AsyncAlmaSaver(source, tenant_id=tenant), scopes=SCOPES)
        for _ in range(2):
            await alma.learn("helena", "test the login form", "success", "happy path first")
        found = await alma.retrieve("test the login form", agent="helena")
        assert [h.strategy for h in found.heuristics] == ["happy path first"]
        ctx = WorkflowContext(tenant_id=tenant, workflow_id="wf", run_id=uuid.uuid4().hex)
        await alma.checkpoint(ctx, "plan", {"steps": ["a"]})
        resume = await alma.get_resume_point(ctx.run_id)
        assert resume is not None and resume.seq == 1 and resume.state == {"steps": ["a"]}
