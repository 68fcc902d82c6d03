"""The store's public seams (what the facade, consolidation and transfer use): `privileged`,
`embeddings`, `tenant()`, `prepare()`, `run()`/`arun()`, `connection()` and
`execute_on()`/`aexecute_on()`, each through its public name on a real database."""

from __future__ import annotations

import pytest
from langgraph.config import get_store
from langgraph.graph import START, StateGraph
from langgraph.store.base import GetOp, PutOp
from psycopg_pool import ConnectionPool
from typing_extensions import TypedDict

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.config import get_settings
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.db.plan import Plan, Sql, set_tenant
from langgraph_alma.errors import AlmaError, StoreBatchFailed
from langgraph_alma.memory.consolidate import embedder_of
from tests.store.conftest import fake_embed_one


def _count(tenant: str) -> Plan[int]:
    rows = yield [set_tenant(tenant), Sql("SELECT count(*) FROM alma_store", fetch=True)]
    return int(rows[1][0][0])


def test_privileged(pool, database, tenant) -> None:
    assert AlmaStore(pool, tenant_id=tenant).privileged is False
    with ConnectionPool(database.admin_url, min_size=1, max_size=1,
                        kwargs=connection_kwargs()) as admin:  # fmt: skip
        store = AlmaStore(admin, privileged=True)
        assert store.privileged is True
        assert store.for_tenant(tenant).privileged is True  # a view keeps it


def test_embeddings_are_the_index_ones(store, istore) -> None:
    assert store.embeddings is None
    assert istore.embeddings is not None
    assert istore.embeddings.embed_query("car") == fake_embed_one("car")
    assert embedder_of(istore) is istore.embeddings  # consolidation compares with them


def test_tenant_is_the_bound_one_else_the_runs(pool, tenant) -> None:
    unbound = AlmaStore(pool)
    assert unbound.tenant() == get_settings().tenant_id
    assert unbound.for_tenant(tenant).tenant() == tenant

    class State(TypedDict):
        tenant: str

    def node(state: State) -> State:
        return {"tenant": get_store().tenant()}  # type: ignore[attr-defined]  # AlmaStore's

    graph = StateGraph(State).add_node(node).add_edge(START, "node").compile(store=unbound)
    config = {"configurable": {"tenant_id": tenant}}
    assert graph.invoke({"tenant": ""}, config)["tenant"] == tenant


def test_prepare_checks_without_writing(store, ns) -> None:
    prepared = store.prepare([PutOp(ns, "k", {"text": "tea"})])
    assert prepared.tenant == store.tenant_id and prepared.puts
    assert store.get(ns, "k") is None  # nothing written
    with pytest.raises(AlmaError):
        store.prepare([PutOp(ns, "k", {"blob": "x" * (2 * 1024 * 1024)})])  # over the size cap


def test_run_drives_a_plan_and_names_its_failure(store, ns) -> None:
    before = store.run(_count(store.tenant()))
    store.put(ns, "a", {"n": 1})
    assert store.run(_count(store.tenant())) == before + 1

    def broken() -> Plan[None]:
        yield [Sql("SELECT * FROM no_such_table")]

    with pytest.raises(StoreBatchFailed, match="counting"):
        store.run(broken(), "counting")


def test_execute_on_shares_the_callers_transaction(store, ns) -> None:
    """Two batches on one connection commit together, or roll back together."""
    with pytest.raises(RuntimeError), store.connection() as conn, conn.transaction():
        store.execute_on(conn, store.prepare([PutOp(ns, "a", {"n": 1})]))
        store.execute_on(conn, store.prepare([PutOp(ns, "b", {"n": 2})]))
        raise RuntimeError("abort the import")
    assert store.get(ns, "a") is None and store.get(ns, "b") is None
    with store.connection() as conn, conn.transaction():
        store.execute_on(conn, store.prepare([PutOp(ns, "a", {"n": 1})]))
        [item] = store.execute_on(conn, store.prepare([GetOp(ns, "a")]))
        assert item is not None and item.value == {"n": 1}  # its own write, not yet committed
        store.execute_on(conn, store.prepare([PutOp(ns, "b", {"n": 2})]))
    assert store.get(ns, "a").value == {"n": 1} and store.get(ns, "b").value == {"n": 2}


def test_execute_on_embeds(istore, ns) -> None:
    with istore.connection() as conn, conn.transaction():
        istore.execute_on(conn, istore.prepare([PutOp(ns, "car", {"text": "my automobile"})]))
    [hit] = istore.search(ns, query="vehicle")
    assert hit.key == "car" and hit.score is not None


async def test_async_seams(astore: AsyncAlmaStore, ns) -> None:
    assert astore.privileged is False and astore.embeddings is not None
    before = await astore.arun(_count(astore.tenant()))
    with pytest.raises(RuntimeError):
        async with astore.connection() as conn, conn.transaction():
            await astore.aexecute_on(conn, astore.prepare([PutOp(ns, "a", {"text": "tea"})]))
            raise RuntimeError("abort")
    assert await astore.arun(_count(astore.tenant())) == before
    async with astore.connection() as conn, conn.transaction():
        await astore.aexecute_on(conn, astore.prepare([PutOp(ns, "a", {"text": "tea"})]))
    assert await astore.arun(_count(astore.tenant())) == before + 1
    [hit] = await astore.asearch(ns, query="tea")
    assert hit.key == "a"
