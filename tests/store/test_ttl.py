"""TTL: per-item and default TTLs, refresh on read, expiry, sweeping."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import psycopg
import pytest
from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs

SECOND = 1 / 60  # TTLs are in minutes, as in LangGraph


def expires_at(database, tenant: str, ns, key: str):
    with psycopg.connect(database.admin_url) as conn:
        row = conn.execute(
            "SELECT expires_at, ttl_minutes FROM alma_store "
            "WHERE tenant_id = %s AND ns_path = %s AND key = %s",
            (tenant, ".".join(ns), key),
        ).fetchone()
    return row


def test_expired_items_are_never_returned_and_get_swept(store, database, tenant, ns) -> None:
    store.put(ns, "short", {"text": "soon gone"}, ttl=SECOND)
    store.put(ns, "long", {"text": "stays"}, ttl=60)
    store.put(ns, "forever", {"text": "stays"})
    time.sleep(1.2)
    assert store.get(ns, "short") is None
    assert {i.key for i in store.search(ns)} == {"long", "forever"}
    assert {i.key for i in store.search(ns, query="gone")} == {"long", "forever"}
    assert store.sweep_ttl() >= 1
    assert expires_at(database, tenant, ns, "short") is None
    assert expires_at(database, tenant, ns, "long") is not None


def test_expired_namespace_is_not_listed(store, ns) -> None:
    store.put((*ns, "gone"), "k", {"v": 1}, ttl=SECOND)
    store.put((*ns, "kept"), "k", {"v": 1})
    time.sleep(1.2)
    assert store.list_namespaces(prefix=ns) == [(*ns, "kept")]


def test_read_refreshes_ttl_unless_told_not_to(store, database, tenant, ns) -> None:
    store.put(ns, "k", {"v": 1}, ttl=10)
    before, minutes = expires_at(database, tenant, ns, "k")
    assert minutes == 10
    store.get(ns, "k", refresh_ttl=False)
    assert expires_at(database, tenant, ns, "k")[0] == before
    store.get(ns, "k")
    after_get = expires_at(database, tenant, ns, "k")[0]
    assert after_get > before
    store.search(ns, refresh_ttl=False)
    assert expires_at(database, tenant, ns, "k")[0] == after_get
    store.search(ns)
    assert expires_at(database, tenant, ns, "k")[0] > after_get


def test_default_ttl_and_refresh_config(pool, database, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant, ttl={"default_ttl": 5, "refresh_on_read": False})
    store.put(ns, "k", {"v": 1})
    before, minutes = expires_at(database, tenant, ns, "k")
    assert minutes == 5
    store.get(ns, "k")  # refresh_on_read=False
    assert expires_at(database, tenant, ns, "k")[0] == before
    store.put(ns, "p", {"v": 1}, ttl=None)  # explicit None: no TTL
    assert expires_at(database, tenant, ns, "p") == (None, None)


def test_put_over_an_expired_item_is_a_new_item(store, ns) -> None:
    store.put(ns, "k", {"v": 1}, ttl=SECOND)
    first = store.get(ns, "k")
    time.sleep(1.2)
    store.put(ns, "k", {"v": 2})
    assert store.get(ns, "k").created_at > first.created_at


def test_background_sweeper(pool, database, tenant, ns) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    store.put(ns, "k", {"v": 1}, ttl=SECOND)
    future = store.start_ttl_sweeper(sweep_interval_minutes=0.3 * SECOND)
    assert store.start_ttl_sweeper() is future
    try:
        deadline = time.monotonic() + 5
        while expires_at(database, tenant, ns, "k") is not None:
            assert time.monotonic() < deadline, "sweeper did not delete the expired item"
            time.sleep(0.1)
    finally:
        assert store.stop_ttl_sweeper(timeout=5)
    assert future.result(timeout=1) is None  # done, as PostgresStore's sweeper future


@pytest.mark.parametrize("minutes", [0, -1])
def test_bad_sweep_interval(store, minutes) -> None:
    if minutes == 0:
        assert store._sweep_minutes(0) == 5  # 0/None mean "the default"
    else:
        with pytest.raises(ValueError):
            store.start_ttl_sweeper(minutes)


def _expire(store: AlmaStore, ns: tuple[str, ...], n: int) -> None:
    store.batch([PutOp(ns, f"k{i}", {"v": i}, ttl=SECOND) for i in range(n)])
    store.put(ns, "kept", {"v": 0})
    time.sleep(1.2)


def test_the_sweep_deletes_in_chunks(store, database, tenant, ns, monkeypatch) -> None:
    """One transaction per `store_sweep_chunk` items: each sweep statement deletes at
    most that many, and the sweep goes on until one deletes fewer."""
    _expire(store, ns, 25)
    monkeypatch.setattr(store, "_sweep_chunk", 10)
    chunks: list[int] = []
    sweep = store._core.sweep

    def counted(limit: int) -> Any:
        chunks.append((yield from sweep(limit)))
        return chunks[-1]

    monkeypatch.setattr(store._core, "sweep", counted)
    assert store.sweep_ttl() == sum(chunks) >= 25
    assert len(chunks) >= 3 and all(c == 10 for c in chunks[:-1]) and chunks[-1] < 10
    assert [i.key for i in store.search(ns)] == ["kept"]
    with psycopg.connect(database.admin_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM alma_store WHERE tenant_id = %s AND ns_path = %s",
            (tenant, ".".join(ns)),
        ).fetchone()
    assert left == (1,)


async def test_a_caller_on_the_sweeps_connection_waits_for_one_chunk(
    database, tenant, ns, monkeypatch
) -> None:
    """A store on one connection: a get sent while the sweep runs is answered between
    two of its chunks, not after the whole sweep (one DELETE held the connection)."""
    async with await psycopg.AsyncConnection.connect(database.url, **connection_kwargs()) as conn:
        store = AsyncAlmaStore(conn, tenant_id=tenant)
        await store.abatch([PutOp(ns, f"k{i}", {"v": i}, ttl=SECOND) for i in range(300)])
        await store.aput(ns, "kept", {"v": 0})
        await asyncio.sleep(1.2)
        monkeypatch.setattr(store, "_sweep_chunk", 50)
        done: list[str] = []

        async def sweep() -> None:
            await store.sweep_ttl()
            done.append("sweep")

        async def get() -> None:
            assert (await store.aget(ns, "kept")) is not None
            done.append("get")

        sweeping = asyncio.create_task(sweep())
        await asyncio.sleep(0)  # the sweep has the connection
        await asyncio.gather(get(), sweeping)
        assert done == ["get", "sweep"]
        assert [i.key for i in await store.asearch(ns)] == ["kept"]
