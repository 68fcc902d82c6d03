"""One connection shared by a saver, a store and a graph memory (LangGraph's recipes pass
one `conn` to both its saver and its store; the facade's graph memory uses its store's):
used from many threads or tasks at once, every operation succeeds, and an owner that holds
the connection (an `atomic` block) may use the others on it without deadlock."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.store.base import GetOp, PutOp, SearchOp
from psycopg.rows import dict_row

from langgraph_alma import AlmaSaver, AlmaStore, AsyncAlmaSaver, AsyncAlmaStore
from langgraph_alma.graph import AsyncGraphMemory, GraphMemory

KWARGS = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
ROUNDS = 25


def _config(thread: str) -> dict:
    return {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}


def _ops(ns: tuple[str, ...], i: int) -> list:
    # Several ops: sent as one pipeline batch.
    return [
        PutOp(ns, f"k{i}", {"text": f"item {i}"}),
        GetOp(ns, f"k{i - 1}"),
        SearchOp(ns, limit=5),
    ]


def test_threads_share_one_connection(database, tenant) -> None:
    ns = ("shared", uuid.uuid4().hex[:8])
    with psycopg.connect(database.url, **KWARGS) as conn:
        saver = AlmaSaver(conn, tenant_id=tenant)
        store = AlmaStore(conn, tenant_id=tenant)
        graph = GraphMemory(conn, tenant_id=tenant)

        def saver_work(i: int) -> None:
            cp = empty_checkpoint()
            cp["channel_values"] = {"items": list(range(i))}
            cp["channel_versions"] = {"items": str(i)}
            saved = saver.put(_config(f"th-{i}"), cp, {"step": i}, cp["channel_versions"])
            saver.put_writes(saved, [("items", [i])], "task")
            assert saver.get_tuple(saved).checkpoint["channel_values"]["items"] == list(range(i))

        def store_work(i: int) -> None:
            store.batch(_ops(ns, i))

        def graph_work(i: int) -> None:
            graph.add_entity("module", f"m{i}")
            graph.add_relationship(("module", f"m{i}"), "uses", ("module", f"m{i}"))

        with ThreadPoolExecutor(6) as pool:
            futures = [
                pool.submit(work, i)
                for i in range(1, ROUNDS + 1)
                for work in (saver_work, store_work, graph_work)
            ]
            for f in futures:
                f.result(timeout=60)
        assert len(store.search(ns, limit=100)) == ROUNDS
        assert len(saver.list_threads()) == ROUNDS


def test_atomic_block_uses_the_other_owners_of_its_connection(database, tenant) -> None:
    with psycopg.connect(database.url, **KWARGS) as conn:
        saver = AlmaSaver(conn, tenant_id=tenant)
        store = AlmaStore(conn, tenant_id=tenant)
        graph = GraphMemory(conn, tenant_id=tenant)
        with ThreadPoolExecutor(1) as pool:

            def block() -> None:
                with store.atomic("k"):
                    store.put(("a",), "x", {"v": 1})
                    graph.add_entity("module", "auth")
                    assert saver.get_tuple(_config("none")) is None

            pool.submit(block).result(timeout=30)  # a deadlock would time out
        assert graph.get_entity(("module", "auth")) is not None


async def test_tasks_share_one_async_connection(database, tenant) -> None:
    ns = ("shared", uuid.uuid4().hex[:8])
    async with await psycopg.AsyncConnection.connect(database.url, **KWARGS) as conn:
        saver = AsyncAlmaSaver(conn, tenant_id=tenant)
        store = AsyncAlmaStore(conn, tenant_id=tenant)
        graph = AsyncGraphMemory(conn, tenant_id=tenant)

        async def saver_work(i: int) -> None:
            cp = empty_checkpoint()
            cp["channel_values"] = {"items": list(range(i))}
            cp["channel_versions"] = {"items": str(i)}
            saved = await saver.aput(_config(f"th-{i}"), cp, {"step": i}, cp["channel_versions"])
            await saver.aput_writes(saved, [("items", [i])], "task")

        async def store_work(i: int) -> None:
            await store.abatch(_ops(ns, i))

        async def graph_work(i: int) -> None:
            await graph.add_entity("module", f"m{i}")

        await asyncio.wait_for(
            asyncio.gather(
                *(
                    work(i)
                    for i in range(1, ROUNDS + 1)
                    for work in (saver_work, store_work, graph_work)
                )
            ),
            timeout=60,
        )
        assert len(await store.asearch(ns, limit=100)) == ROUNDS
        async with store.aatomic("k"):  # held by this task: the others still get through
            await store.aput(("a",), "x", {"v": 1})
            await asyncio.wait_for(graph.add_entity("module", "auth"), timeout=30)
            assert await asyncio.wait_for(saver.aget_tuple(_config("none")), 30) is None
