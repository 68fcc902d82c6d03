"""`AlmaStore.atomic` / `AsyncAlmaStore.aatomic`: a block of store operations in one
transaction, serialised per tenant and key."""

from __future__ import annotations

import asyncio
import threading

import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import ConfigError
from langgraph_alma.store import AlmaStore, AsyncAlmaStore


@pytest.fixture
def store(database, tenant):
    with ConnectionPool(database.url, min_size=1, max_size=6, kwargs=connection_kwargs()) as p:
        yield AlmaStore(p, tenant_id=tenant)


def _increment(store: AlmaStore, rounds: int) -> None:
    for _ in range(rounds):
        with store.atomic("counter"):
            item = store.get(("c",), "n")
            store.put(("c",), "n", {"n": (item.value["n"] if item else 0) + 1})


def test_read_modify_write_in_atomic_blocks_loses_no_update(store) -> None:
    threads = [threading.Thread(target=_increment, args=(store, 10)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get(("c",), "n").value == {"n": 40}


def test_an_error_rolls_the_whole_block_back(store) -> None:
    store.put(("c",), "kept", {"v": 1})
    with pytest.raises(RuntimeError), store.atomic("k"):
        store.put(("c",), "kept", {"v": 2})
        store.put(("c",), "new", {"v": 3})
        raise RuntimeError("boom")
    assert store.get(("c",), "kept").value == {"v": 1}
    assert store.get(("c",), "new") is None


def test_nested_blocks_share_the_outer_transaction(store) -> None:
    with store.atomic("a"), store.atomic("b"):
        store.put(("c",), "x", {"v": 1})
    assert store.get(("c",), "x").value == {"v": 1}


def test_bad_key(store) -> None:
    with pytest.raises(ConfigError, match="non-empty string key"), store.atomic(""):
        pass


def test_single_connection_store_is_not_deadlocked_by_its_own_lock(database, tenant) -> None:
    import psycopg

    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        store = AlmaStore(conn, tenant_id=tenant)
        with store.atomic("k"):
            store.put(("c",), "y", {"v": 1})
            assert store.get(("c",), "y").value == {"v": 1}


async def test_async_read_modify_write_loses_no_update(database, tenant) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=6, kwargs=connection_kwargs(), open=False
    ) as pool:
        store = AsyncAlmaStore(pool, tenant_id=tenant)

        async def increment() -> None:
            for _ in range(10):
                async with store.aatomic("counter"):
                    item = await store.aget(("c",), "n")
                    await store.aput(("c",), "n", {"n": (item.value["n"] if item else 0) + 1})

        await asyncio.gather(*(increment() for _ in range(4)))
        assert (await store.aget(("c",), "n")).value == {"n": 40}
