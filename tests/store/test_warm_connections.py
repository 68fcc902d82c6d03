"""An async store on a pool lends its most recently used connection first (`db.warm`):
psycopg_pool hands idle connections out first in, first out, so one caller's calls in a
row hopped between server backends (colder caches, statements prepared again on each),
and one task was slower on a pool of 4 than on a pool of 1. The connections it keeps go
back to the pool when idle, when someone waits for the pool, and when the store closes."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.db.plan import Sql

from .conftest import DIMS, afake_embed


@pytest.fixture
async def pool(database) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        database.url, min_size=4, max_size=4, kwargs=connection_kwargs(), open=False
    ) as p:
        await p.wait()  # four idle connections, as a warm pool has
        yield p


def backend_pid() -> Any:
    """A store plan (`arun`) answering the server backend it ran on."""
    results = yield [Sql("SELECT pg_backend_pid()", fetch=True)]
    return results[0][0][0]


async def test_a_sequential_caller_stays_on_one_backend(pool, tenant, ns, indexed_setup) -> None:
    store = AsyncAlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": afake_embed, "fields": ["text"]}
    )
    pids = set()
    for i in range(12):  # three calls a turn: first in, first out gave 4 backends
        await store.aput(ns, f"k{i}", {"text": f"note {i}"})
        assert await store.asearch(ns, query="note", limit=1)
        pids.add(await store.arun(backend_pid()))
    assert len(pids) == 1


async def test_concurrent_callers_use_at_most_the_batch_connections(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await asyncio.gather(*(store.aput(ns, f"k{i}", {"n": i}) for i in range(200)))
    await asyncio.gather(*(store.aget(ns, f"k{i}") for i in range(200)))
    assert store._warm is not None
    assert 1 <= len(store._warm._kept) <= store._gatherer.max_inflight
    assert pool.get_stats()["pool_available"] == 4 - len(store._warm._kept)
    assert sorted(i.value["n"] for i in await store.asearch(ns, limit=300)) == list(range(200))


async def test_kept_connections_go_back_to_the_pool_when_idle(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    assert store._warm is not None
    store._warm.idle_seconds = 0.05
    await store.aput(ns, "a", {"n": 1})
    assert pool.get_stats()["pool_available"] == 3  # one kept by the store
    await asyncio.sleep(0.3)
    assert pool.get_stats()["pool_available"] == 4


async def test_a_waiter_on_the_pool_gets_the_kept_connection(database, tenant, ns) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=1, kwargs=connection_kwargs(), open=False,
        timeout=5,
    ) as one:  # fmt: skip
        store = AsyncAlmaStore(one, tenant_id=tenant)
        await store.aput(ns, "a", {"n": 1})  # the pool's only connection is kept now

        async def outsider() -> int:
            async with one.connection() as conn:
                return (await (await conn.execute("SELECT 1")).fetchone())[0]

        # another user of the pool waits for the connection the store keeps: it gets it
        # once the store's idle timer fires (the next call, if any, returns it first)
        waiting = asyncio.create_task(outsider())
        await asyncio.sleep(0.05)
        assert await store.aget(ns, "a") is not None
        assert await asyncio.wait_for(waiting, 3) == 1


async def test_from_conn_string_leaves_no_backend_open(database, tenant, ns) -> None:
    async def backends() -> int:
        async with await psycopg.AsyncConnection.connect(
            database.admin_url, autocommit=True
        ) as admin:
            row = await (
                await admin.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'warm-close'"
                )
            ).fetchone()
            return int(row[0])

    async with AsyncAlmaStore.from_conn_string(
        database.url,
        tenant_id=tenant,
        pool_config={"min_size": 2, "kwargs": {"application_name": "warm-close"}},
    ) as store:
        await asyncio.gather(*(store.aput(ns, f"k{i}", {"n": i}) for i in range(50)))
        assert store._warm is not None and store._warm._kept
    deadline = time.monotonic() + 5  # a closed connection's backend exits soon after
    while await backends() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert await backends() == 0


async def test_a_closed_kept_connection_is_replaced(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await store.aput(ns, "a", {"n": 1})
    pid = await store.arun(backend_pid())
    assert store._warm is not None and store._warm._kept
    await store._warm._kept[-1][0].close()  # as a server restart or a network cut would
    assert (await store.aget(ns, "a")) is not None
    assert await store.arun(backend_pid()) != pid


# -- the sync store: the same, for threads ------------------------------------------


@pytest.fixture
def sync_pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(
        database.url, min_size=4, max_size=4, kwargs=connection_kwargs(), timeout=5
    ) as p:
        p.wait()
        yield p


def test_a_sequential_sync_caller_stays_on_one_backend(sync_pool, tenant, ns) -> None:
    store = AlmaStore(sync_pool, tenant_id=tenant)
    pids = set()
    for i in range(12):  # three calls a turn: first in, first out gave 4 backends
        store.put(ns, f"k{i}", {"n": i})
        assert store.get(ns, f"k{i}") is not None
        pids.add(store.run(backend_pid()))
    assert len(pids) == 1


def test_threads_share_the_pool_and_give_back_when_idle(sync_pool, tenant, ns) -> None:
    store = AlmaStore(sync_pool, tenant_id=tenant)
    assert store._warm is not None
    store._warm.idle_seconds = 0.1
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            for i in range(25):
                store.put(ns, f"t{t}-{i}", {"n": i})
                assert store.get(ns, f"t{t}-{i}").value == {"n": i}
        except BaseException as exc:  # every error is a finding
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.search(ns, limit=500)) == 200
    assert len(store._warm._kept) <= 1
    deadline = time.monotonic() + 3
    while sync_pool.get_stats()["pool_available"] < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sync_pool.get_stats()["pool_available"] == 4  # nothing kept once idle


def test_a_thread_waiting_on_the_pool_gets_the_kept_connection(database, tenant, ns) -> None:
    with ConnectionPool(
        database.url, min_size=1, max_size=1, kwargs=connection_kwargs(), timeout=5
    ) as one:
        store = AlmaStore(one, tenant_id=tenant)
        store.put(ns, "a", {"n": 1})  # the pool's only connection is kept now
        with one.connection() as conn:  # the idle timer gives it back (within 1 s)
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert store.get(ns, "a") is not None


def test_sync_from_conn_string_leaves_no_backend_open(database, tenant, ns) -> None:
    with AlmaStore.from_conn_string(
        database.url,
        tenant_id=tenant,
        pool_config={"min_size": 2, "kwargs": {"application_name": "warm-close-sync"}},
    ) as store:
        store.put(ns, "a", {"n": 1})
        assert store._warm is not None and store._warm._kept
    deadline = time.monotonic() + 5  # a closed connection's backend exits soon after
    with psycopg.connect(database.admin_url, autocommit=True) as admin:
        while True:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'warm-close-sync'"
            ).fetchone()
            if row == (0,) or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert row == (0,)
