"""A gathered round with work enough for several batches runs them at once, each on a
connection of the pool (issue 11, item 1: AsyncPostgresStore runs one batch at a time,
so the database works on one core while the event loop waits). What callers rely on stays:
each gets its own result or error, the writes of a round stay one transaction in arrival
order, a single connection runs one batch at a time, and a sync embedder takes one worker
thread per batch, not one per query."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from langgraph.store.base import GetOp, PutOp, SearchOp
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import StoreBatchFailed

from .conftest import DIMS, afake_embed, fake_embed, row_held


@pytest.fixture
async def pool(database) -> AsyncIterator[AsyncConnectionPool]:
    kwargs = {**connection_kwargs(), "options": "-c lock_timeout=500"}
    async with AsyncConnectionPool(
        database.url, min_size=4, max_size=4, kwargs=kwargs, open=False
    ) as p:
        yield p


def watch_batches(store: AsyncAlmaStore) -> dict[str, Any]:
    """Records the batches the store runs: how many at once at most, their backends, and
    the ops of each."""
    seen: dict[str, Any] = {"now": 0, "most": 0, "pids": set(), "ops": []}
    run = store._aexecute
    connection = store._connection

    async def watched(prepared: Any) -> Any:
        seen["now"] += 1
        seen["most"] = max(seen["most"], seen["now"])
        seen["ops"].append(list(prepared.ops))
        try:
            return await run(prepared)
        finally:
            seen["now"] -= 1

    def connection_seen() -> Any:
        manager = connection()

        class Recording:
            async def __aenter__(self) -> Any:
                conn = await manager.__aenter__()
                seen["pids"].add(conn.info.backend_pid)
                return conn

            async def __aexit__(self, *exc: Any) -> Any:
                return await manager.__aexit__(*exc)

        return Recording()

    store._aexecute = watched  # type: ignore[method-assign]
    store._connection = connection_seen  # type: ignore[method-assign]
    return seen


def mixed_calls(store: AsyncAlmaStore, ns: tuple[str, ...]) -> list[Any]:
    calls: list[Any] = []
    for i in range(48):
        if i % 4 == 0:
            calls.append(store.asearch(ns, query=f"note {i} about cars", limit=3))
        elif i % 4 == 1:
            calls.append(store.asearch(ns, filter={"i": i - 1}))
        elif i % 4 == 2:
            calls.append(store.aget(ns, f"k{i}"))
        else:
            calls.append(store.aput(ns, f"new{i}", {"text": f"fresh {i}", "i": i}))
    return calls


async def test_a_round_worth_several_batches_runs_them_at_once(
    pool, tenant, ns, indexed_setup
) -> None:
    store = AsyncAlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": afake_embed, "fields": ["text"]}
    )
    await store.abatch(
        [PutOp(ns, f"k{i}", {"text": f"note {i} about cars", "i": i}) for i in range(48)]
    )
    seen = watch_batches(store)
    results = await asyncio.gather(*mixed_calls(store, ns))
    assert seen["most"] >= 2, "one batch at a time: the pool's other connections sat idle"
    assert len(seen["pids"]) >= 2
    assert len(seen["ops"]) <= 4  # still gathered: a few batches, not one per call
    # the writes of the round went to one batch, and every read to exactly one
    assert sum(any(isinstance(op, PutOp) for op in ops) for ops in seen["ops"]) == 1
    assert sorted(len(ops) for ops in seen["ops"]) and sum(map(len, seen["ops"])) == 48
    for i, result in enumerate(results):
        if i % 4 == 0:
            assert len(result) == 3
        elif i % 4 == 1:
            assert [item.key for item in result] == [f"k{i - 1}"]
        elif i % 4 == 2:
            assert result.key == f"k{i}" and result.value["i"] == i
        else:
            assert result is None
    got = await store.abatch([GetOp(ns, f"new{i}") for i in range(3, 48, 4)])
    assert all(item is not None for item in got)


async def test_a_single_connection_runs_one_batch_at_a_time(database, tenant, ns) -> None:
    async with await psycopg.AsyncConnection.connect(database.url, **connection_kwargs()) as conn:
        store = AsyncAlmaStore(conn, tenant_id=tenant)
        await store.abatch([PutOp(ns, f"k{i}", {"i": i}) for i in range(48)])
        seen = watch_batches(store)
        calls = [store.asearch(ns, query=f"x{i}", filter={"i": i}) for i in range(40)]
        results = await asyncio.gather(*calls)
    assert seen["most"] == 1 and len(seen["ops"]) == 1
    assert [[item.key for item in r] for r in results] == [[f"k{i}"] for i in range(40)]


async def test_the_puts_of_a_split_round_keep_their_order(pool, tenant, ns) -> None:
    """Puts of one key from many callers in a round that splits: the last call wins,
    and each read sees either the old or the new value, never a mix."""
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await store.aput(ns, "k", {"v": -1})
    seen = watch_batches(store)
    calls: list[Any] = []
    for i in range(30):
        calls.append(store.asearch(ns, query=f"word{i}"))
        calls.append(store.aput(ns, "k", {"v": i}))
    await asyncio.gather(*calls)
    assert seen["most"] >= 2
    assert (await store.aget(ns, "k")).value == {"v": 29}


async def test_a_refused_call_in_a_split_round_fails_alone(pool, database, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await store.aput(ns, "held", {"v": 0})
    async with row_held(database.url, tenant, "held"):
        calls: list[Any] = [store.asearch(ns, query=f"w{i}") for i in range(20)]
        calls += [store.aput(ns, f"k{i}", {"i": i}) for i in range(10)]
        calls.insert(25, store.aput(ns, "held", {"v": 1}))
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[25], StoreBatchFailed)
    others = [r for i, r in enumerate(results) if i != 25]
    assert not [r for r in others if isinstance(r, BaseException)]
    assert (await store.aget(ns, "held")).value == {"v": 0}
    assert len(await store.asearch(ns, limit=100)) == 11


async def test_a_sync_embedder_takes_one_thread_per_batch(pool, tenant, ns, indexed_setup) -> None:
    """A plain function embeds in a worker thread, all the texts of a batch in that
    one thread (a thread per query made each batch hop threads, and wait, per query)."""
    threads: list[int] = []

    def slow_embed(texts: list[str]) -> list[list[float]]:
        threads.append(threading.get_ident())
        time.sleep(0.02)  # concurrent calls would need threads of their own
        return fake_embed(texts)

    store = AsyncAlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": slow_embed, "fields": ["text"]}
    )
    seen = watch_batches(store)
    await asyncio.gather(*(store.asearch(ns, query=f"topic {i}") for i in range(6)))
    assert len(threads) == 6  # each query embedded as a query
    assert threading.get_ident() not in threads  # never on the event loop
    assert len(set(threads)) <= len(seen["ops"]) < 6


def test_split_keeps_gets_together_writes_together_and_arrival_order() -> None:
    from langgraph_alma.store._batching import _Waiter, split, weight
    from langgraph_alma.store._core import CheckedOp

    ns = ("a",)
    ops: list[Any] = [
        GetOp(ns, "g1"),
        PutOp(ns, "p", {"v": 1}),
        SearchOp(ns, None, 10, 0, "q1"),
        SearchOp(ns, None, 10, 0, "q2"),
        GetOp(ns, "g2"),
        PutOp(ns, "p", {"v": 2}),
        SearchOp(ns, {"x": 1}, 10, 0, None),
    ]
    loop = asyncio.new_event_loop()
    try:
        waiters = [_Waiter("t", CheckedOp(op), loop.create_future(), weight(op)) for op in ops]
        parts = split(waiters, 3)
    finally:
        loop.close()
    assert len(parts) == 3
    where = {id(w.checked.op): n for n, part in enumerate(parts) for w in part}
    assert where[id(ops[0])] == where[id(ops[4])]  # the gets: one statement
    assert where[id(ops[1])] == where[id(ops[5])]  # the writes: one transaction
    for part in parts:  # arrival order within each batch
        positions = [ops.index(w.checked.op) for w in part]
        assert positions == sorted(positions)
    assert sorted(ops.index(w.checked.op) for p in parts for w in p) == list(range(7))
    assert split(waiters, 1) == [waiters]


async def test_the_writes_of_a_tenant_run_one_batch_at_a_time(
    pool, tenant, ns, indexed_setup
) -> None:
    """Under a steady load, reads run in parallel batches, but a tenant's writes wait
    for its write batch in flight and go together in the next: one write transaction at
    a time, so they share commits and never queue on each other's key slots."""
    store = AsyncAlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": afake_embed, "fields": ["text"]}
    )
    state = {"now": 0, "most": 0, "batches": 0, "readers_most": 0, "readers": 0}
    run = store._aexecute

    async def watched(prepared: Any) -> Any:
        writes = bool(prepared.puts)
        key = "now" if writes else "readers"
        state[key] += 1
        state["batches"] += writes
        state["most"] = max(state["most"], state["now"])
        state["readers_most"] = max(state["readers_most"], state["readers"])
        try:
            return await run(prepared)
        finally:
            state[key] -= 1

    store._aexecute = watched  # type: ignore[method-assign]

    async def worker(n: int) -> None:
        for i in range(8):
            if (n + i) % 2:
                await store.aput(ns, f"k{n}", {"i": i, "text": f"note {n} of {i}"})
                assert (await store.aget(ns, f"k{n}")).value["i"] == i  # its own write
            else:
                await store.asearch(ns, query=f"note {n}", limit=2)

    await asyncio.gather(*(worker(n) for n in range(48)))
    assert state["most"] == 1, "two write batches of one tenant were in flight at once"
    assert state["readers_most"] >= 2  # reads still spread over the pool
    assert state["batches"] < 48 * 4 // 4  # the writes still share batches
