"""Concurrent async calls on one AsyncAlmaStore are gathered into batches (issue 11,
item 1), as AsyncPostgresStore does: far fewer round trips than calls, each caller with
its own result or its own error, and never two tenants in one transaction."""

from __future__ import annotations

import asyncio
import operator
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, PutOp
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import InvalidStoreKey, StoreBatchFailed

from .conftest import DIMS, afake_embed, row_held

CALLS = 300


@pytest.fixture
async def pool(database) -> AsyncIterator[AsyncConnectionPool]:
    kwargs = {**connection_kwargs(), "options": "-c lock_timeout=500"}
    async with AsyncConnectionPool(
        database.url, min_size=2, max_size=4, kwargs=kwargs, open=False
    ) as p:
        yield p


def count_round_trips(store: AsyncAlmaStore) -> list[int]:
    """Counts the batches the store sends (each is one pipeline, one round trip)."""
    sent = [0]
    run = store._aexecute

    async def counted(prepared: Any) -> Any:
        sent[0] += 1
        return await run(prepared)

    store._aexecute = counted  # type: ignore[method-assign]
    return sent


async def test_hundreds_of_concurrent_calls_share_few_batches(
    pool, tenant, ns, indexed_setup
) -> None:
    store = AsyncAlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": afake_embed, "fields": ["text"]}
    )
    sent = count_round_trips(store)
    await asyncio.gather(
        *(store.aput(ns, f"k{i}", {"text": f"note {i} about cars", "i": i}) for i in range(CALLS))
    )
    assert sent[0] <= CALLS // 10, f"{sent[0]} round trips for {CALLS} puts"

    sent[0] = 0
    calls = []
    for i in range(CALLS):
        if i % 3 == 0:
            calls.append(store.aget(ns, f"k{i}"))
        elif i % 3 == 1:
            calls.append(store.asearch(ns, filter={"i": i}))
        else:
            calls.append(store.asearch(ns, query=f"note {i}", limit=3))
    results = await asyncio.gather(*calls)
    assert sent[0] <= CALLS // 10, f"{sent[0]} round trips for {CALLS} calls"
    for i, result in enumerate(results):
        if i % 3 == 0:
            assert result.key == f"k{i}" and result.value["i"] == i
        elif i % 3 == 1:
            assert [item.key for item in result] == [f"k{i}"]
        else:
            assert len(result) == 3


async def test_each_caller_gets_values_of_its_own(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await store.aput(ns, "k", {"tags": ["a"]})
    first, second = await asyncio.gather(store.aget(ns, "k"), store.aget(ns, "k"))
    first.value["tags"].append("mutated")
    assert second.value == {"tags": ["a"]}
    assert (await store.aget(ns, "k")).value == {"tags": ["a"]}


async def test_a_bad_call_fails_alone(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    sent = count_round_trips(store)
    calls = [store.aput(ns, f"k{i}", {"i": i}) for i in range(20)]
    calls.insert(7, store.aput(ns, "bad\x00key", {"i": -1}))
    calls.insert(12, store.asearch(ns, filter={"i": {"$near": 3}}))
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[7], InvalidStoreKey)
    assert isinstance(results[12], ValueError)
    assert [r for i, r in enumerate(results) if i not in (7, 12)] == [None] * 20
    assert sent[0] == 1  # the bad calls never reached the batch
    assert len(await store.asearch(ns, limit=100)) == 20


async def test_a_call_the_database_refuses_fails_alone(pool, database, tenant, ns) -> None:
    """The gathered batch rolls back whole; its calls are then run one by one, so only the
    one whose row is held (past lock_timeout) fails, and the others are written."""
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    await store.aput(ns, "held", {"v": 0})
    async with row_held(database.url, tenant, "held"):
        calls = [store.aput(ns, f"k{i}", {"i": i}) for i in range(10)]
        calls.insert(4, store.aput(ns, "held", {"v": 1}))
        results = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(results[4], StoreBatchFailed)
    assert isinstance(results[4].__cause__, psycopg.errors.LockNotAvailable)
    assert [r for i, r in enumerate(results) if i != 4] == [None] * 10
    assert (await store.aget(ns, "held")).value == {"v": 0}
    assert len(await store.asearch(ns, limit=100)) == 11


async def test_a_cancelled_call_does_not_disturb_the_others(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    tasks = [asyncio.create_task(store.aput(ns, f"k{i}", {"i": i})) for i in range(10)]
    tasks[3].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert tasks[3].cancelled()
    keys = {i.key for i in await store.asearch(ns, limit=100)}
    assert keys >= {f"k{i}" for i in range(10) if i != 3}


class State(TypedDict):
    who: str
    seen: Annotated[list[str], operator.add]


async def many_notes(state: State, *, store: BaseStore) -> dict:
    await asyncio.gather(
        *(store.aput(("notes",), f"{state['who']}-{i}", {"who": state["who"]}) for i in range(25))
    )
    found = await asyncio.gather(
        *(store.aget(("notes",), f"{state['who']}-{i}") for i in range(25))
    )
    return {"seen": sorted({item.value["who"] for item in found if item})}


async def test_tenants_of_concurrent_runs_never_share_a_batch(pool, tenant) -> None:
    """Two graph runs of different tenants, at the same time, on one unbound store: each
    call's tenant is its run's, and each sees only its own tenant's items."""
    store = AsyncAlmaStore(pool)  # unbound: each run's configurable.tenant_id
    sent = count_round_trips(store)
    builder = StateGraph(State)
    builder.add_node("notes", many_notes)
    builder.add_edge(START, "notes")
    builder.add_edge("notes", END)
    graph = builder.compile(store=store)
    tenants = [f"{tenant}-{n}" for n in range(4)]
    outs = await asyncio.gather(
        *(
            graph.ainvoke({"who": t, "seen": []}, {"configurable": {"tenant_id": t}})
            for t in tenants
        )
    )
    assert [o["seen"] for o in outs] == [[t] for t in tenants]
    assert sent[0] < 4 * 50 // 5  # gathered, though never across tenants
    for t in tenants:
        mine = await store.for_tenant(t).asearch(("notes",), limit=100)
        assert len(mine) == 25 and {i.value["who"] for i in mine} == {t}


async def test_calls_in_an_atomic_block_are_not_gathered(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    async with store.aatomic("block"):
        await asyncio.gather(*(store.aput(ns, f"k{i}", {"i": i}) for i in range(5)))
        assert len(await store.asearch(ns)) == 5  # the block's own writes, its connection
    assert len(await store.asearch(ns)) == 5


async def test_abatch_stays_direct(pool, tenant, ns) -> None:
    store = AsyncAlmaStore(pool, tenant_id=tenant)
    results = await store.abatch([PutOp(ns, "a", {"v": 1}), PutOp(ns, "b", {"v": 2})])
    assert results == [None, None]
    assert store._gatherer.batches == 0
