"""AsyncAlmaStore: the same plans driven by the async shell."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from langgraph.store.base import PutOp

from langgraph_alma import AsyncAlmaStore, InvalidFilter, ValueTooLarge


async def test_async_round_trip(astore: AsyncAlmaStore, ns) -> None:
    await astore.aput(ns, "car", {"text": "my car broke down", "n": 10})
    await astore.aput(ns, "cat", {"text": "the cat sleeps", "n": 9})
    assert (await astore.aget(ns, "car")).value["n"] == 10
    assert [i.key for i in await astore.asearch(ns, filter={"n": {"$gt": 9}})] == ["car"]
    assert (await astore.asearch(ns, query="automobile"))[0].key == "car"
    assert await astore.alist_namespaces(prefix=ns) == [ns]
    await astore.adelete(ns, "car")
    assert await astore.aget(ns, "car") is None
    with pytest.raises(InvalidFilter):
        await astore.asearch(ns, filter={"n": {"$near": 1}})


async def test_async_bad_value_writes_nothing(astore: AsyncAlmaStore, ns) -> None:
    astore._core.max_value_bytes = 50
    with pytest.raises(ValueTooLarge):
        await astore.abatch([PutOp(ns, "ok", {"v": 1}), PutOp(ns, "big", {"v": "x" * 100})])
    assert await astore.aget(ns, "ok") is None


async def test_async_sweeper_task(astore: AsyncAlmaStore, database, ns) -> None:
    await astore.aput(ns, "k", {"v": 1}, ttl=1 / 60)
    task = await astore.start_ttl_sweeper(sweep_interval_minutes=0.3 / 60)  # as LangGraph's
    await asyncio.sleep(1.6)
    assert await astore.stop_ttl_sweeper()
    assert task.done()
    async with await psycopg.AsyncConnection.connect(database.admin_url) as conn:
        cur = await conn.execute(
            "SELECT count(*) FROM alma_store WHERE tenant_id = %s", (astore.tenant_id,)
        )
        assert await cur.fetchone() == (0,)


async def test_sync_calls_from_a_worker_thread(astore: AsyncAlmaStore, ns) -> None:
    await asyncio.to_thread(astore.put, ns, "k", {"text": "from a thread"})
    item = await asyncio.to_thread(astore.get, ns, "k")
    assert item.value == {"text": "from a thread"}
    with pytest.raises(asyncio.InvalidStateError):
        astore.get(ns, "k")  # on the loop's own thread it would deadlock
