"""Thread retention (`AlmaSaver(ttl=...)`): LangGraph platform's `checkpointer.ttl`
semantics, on real graphs, with a controllable clock (`sweep_ttl(now=...)`)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import ConfigError
from tests.conftest import Database

TABLES = ("alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes", "alma_threads")


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def _reply(state: Chat) -> dict[str, Any]:
    n = state.get("turns", 0) + 1
    return {"messages": [AIMessage(f"reply {n}")], "turns": n}


def _graph(saver: Any) -> Any:
    builder = StateGraph(Chat)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=saver)


def _cfg(thread: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread, **extra}}


def _later(minutes: float) -> datetime:
    return datetime.now(UTC) + timedelta(minutes=minutes)


def _rows(database: Database, tenant: str, thread: str) -> dict[str, int]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return {
            t: conn.execute(
                f"SELECT count(*) FROM {t} WHERE tenant_id = %s AND thread_id = %s",  # noqa: S608
                (tenant, thread),
            ).fetchone()[0]
            for t in TABLES
        }


@pytest.fixture
def pool(database: Database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, kwargs=connection_kwargs(), min_size=1, max_size=8) as p:
        yield p


def test_delete_removes_expired_threads_only(database: Database, pool, tenant) -> None:
    saver = AlmaSaver(pool, tenant_id=tenant, ttl={"strategy": "delete", "default_ttl": 60})
    graph = _graph(saver)
    for thread in ("old", "fresh"):
        graph.invoke({"messages": [HumanMessage("hi")]}, _cfg(thread))
    assert _rows(database, tenant, "old")["alma_threads"] == 1
    # 59 minutes on, nothing has expired; 61 minutes on, both have.
    assert saver.sweep_ttl(now=_later(59)) == []
    assert saver.expired_threads(now=_later(61)) and not saver.expired_threads(now=_later(59))
    graph.invoke({"messages": [HumanMessage("still here")]}, _cfg("fresh"))
    gone = saver.sweep_ttl(now=_later(61))
    assert {t.thread_id for t in gone} == {"old", "fresh"}
    assert all(n == 0 for n in _rows(database, tenant, "old").values())
    assert graph.get_state(_cfg("old")).values == {}


def test_a_write_just_before_the_sweep_keeps_the_thread(database: Database, pool, tenant) -> None:
    saver = AlmaSaver(pool, tenant_id=tenant, ttl={"default_ttl": 10})
    graph = _graph(saver)
    graph.invoke({"messages": [HumanMessage("hi")]}, _cfg("busy"))
    saver.sweep_ttl(now=_later(9.9))
    assert graph.get_state(_cfg("busy")).values["turns"] == 1


def test_keep_latest_keeps_the_latest_state_and_resumes(database: Database, pool, tenant) -> None:
    saver = AlmaSaver(pool, tenant_id=tenant, ttl={"strategy": "keep_latest", "default_ttl": 5})
    graph = _graph(saver)
    cfg = _cfg("long")
    for i in range(12):  # a delta chain of messages
        graph.invoke({"messages": [HumanMessage(f"q{i}")]}, cfg)
    before = graph.get_state(cfg)
    history = list(graph.get_state_history(cfg))
    assert len(history) > 12
    swept = saver.sweep_ttl(now=_later(6))
    assert [t.thread_id for t in swept] == ["long"]
    after = graph.get_state(cfg)
    assert saver.serde.dumps_typed(after.values) == saver.serde.dumps_typed(before.values)
    assert len(list(graph.get_state_history(cfg))) == 1
    # Swept: not expired again until the next write re-arms it.
    assert saver.sweep_ttl(now=_later(60)) == []
    graph.invoke({"messages": [HumanMessage("again")]}, cfg)
    state = graph.get_state(cfg).values
    assert state["turns"] == 13
    assert [m.content for m in state["messages"]][-2:] == ["again", "reply 13"]
    # A fresh saver (no in-process memory) reads the same state.
    fresh = _graph(AlmaSaver(pool, tenant_id=tenant))
    assert fresh.get_state(cfg).values["turns"] == 13
    assert [t.thread_id for t in saver.sweep_ttl(now=_later(6))] == ["long"]


def test_a_run_sets_its_threads_ttl_and_it_sticks(database: Database, pool, tenant) -> None:
    saver = AlmaSaver(pool, tenant_id=tenant, ttl={"default_ttl": 60})
    graph = _graph(saver)
    graph.invoke({"messages": [HumanMessage("a")]}, _cfg("long-lived", thread_ttl=600))
    graph.invoke({"messages": [HumanMessage("b")]}, _cfg("forever", thread_ttl="never"))
    graph.invoke({"messages": [HumanMessage("c")]}, _cfg("default"))
    # A later run without the key keeps the thread's own TTL.
    graph.invoke({"messages": [HumanMessage("a2")]}, _cfg("long-lived"))
    graph.invoke({"messages": [HumanMessage("b2")]}, _cfg("forever"))
    assert {t.thread_id for t in saver.sweep_ttl(now=_later(61))} == {"default"}
    assert {t.thread_id for t in saver.sweep_ttl(now=_later(601))} == {"long-lived"}
    assert saver.sweep_ttl(now=_later(10**6)) == []
    saver.set_thread_ttl("forever", 1)
    assert {t.thread_id for t in saver.sweep_ttl(now=_later(2))} == {"forever"}


def test_bad_ttl_settings_are_refused_before_any_write(database: Database, pool, tenant) -> None:
    for bad in (
        {"strategy": "archive"},
        {"default_ttl": -1},
        {"default_ttl": float("nan")},
        {"default_ttl": True},
        {"sweep_limit": 0},
        {"sweep_interval_minutes": float("inf")},
        {"ttl": 5},
    ):
        with pytest.raises(ConfigError):
            AlmaSaver(pool, tenant_id=tenant, ttl=bad)
    saver = AlmaSaver(pool, tenant_id=tenant, ttl={"default_ttl": 5})
    graph = _graph(saver)
    with pytest.raises(ConfigError, match="thread_ttl"):
        graph.invoke({"messages": [HumanMessage("x")]}, _cfg("bad", thread_ttl=-3))
    assert all(n == 0 for n in _rows(database, tenant, "bad").values()), _rows(
        database, tenant, "bad"
    )
    with pytest.raises(ConfigError, match="no ttl"):
        AlmaSaver(pool, tenant_id=tenant).sweep_ttl()


def test_a_tenants_sweep_touches_only_its_tenant(database: Database, pool) -> None:
    a, b = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    ttl = {"default_ttl": 1}
    for tenant in (a, b):
        _graph(AlmaSaver(pool, tenant_id=tenant, ttl=ttl)).invoke(
            {"messages": [HumanMessage("hi")]}, _cfg("t1")
        )
    assert [
        t.tenant_id for t in AlmaSaver(pool, tenant_id=a, ttl=ttl).sweep_ttl(now=_later(2))
    ] == [a]
    assert _rows(database, b, "t1")["alma_checkpoints"] > 0
    # all_tenants on the application role: row-level security shows it nothing.
    assert AlmaSaver(pool, ttl=ttl).sweep_ttl(all_tenants=True, now=_later(2)) == []
    with ConnectionPool(database.admin_url, kwargs=connection_kwargs(), min_size=1) as admin:
        privileged = AlmaSaver(admin, ttl=ttl)
        swept = privileged.sweep_ttl(all_tenants=True, now=_later(2))
    assert b in {t.tenant_id for t in swept}
    assert _rows(database, b, "t1")["alma_checkpoints"] == 0


def test_expired_threads_are_found_by_index(database: Database, pool, tenant) -> None:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT tenant_id, thread_id FROM alma_threads "
                "WHERE expires_at <= now() AND tenant_id = 'x' ORDER BY expires_at LIMIT 10"
            ).fetchall()
        )
    assert "alma_threads_tenant_expiry_idx" in plan, plan


def test_concurrent_sweepers_and_writers(database: Database, tenant) -> None:
    """Four sweepers and four writers at once, on real TTLs of 3 seconds: every dead
    thread is swept exactly once, no live thread loses a turn, no deadlock."""
    ttl = {"default_ttl": 0.05, "sweep_limit": 7}
    with ConnectionPool(database.url, kwargs=connection_kwargs(), min_size=2, max_size=12) as pool:
        saver = AlmaSaver(pool, tenant_id=tenant, ttl=ttl)
        graph = _graph(saver)
        dead = [f"dead-{i}" for i in range(30)]
        for thread in dead:
            graph.invoke({"messages": [HumanMessage("bye")]}, _cfg(thread))
        time.sleep(3.2)
        stop = threading.Event()
        swept: list[str] = []
        errors: list[BaseException] = []
        turns: dict[str, int] = {}

        def sweeper() -> None:
            try:
                while not stop.is_set():
                    swept.extend(t.thread_id for t in saver.sweep_ttl())
            except BaseException as exc:  # a thread's failure must fail the test
                errors.append(exc)

        def writer(w: int) -> None:
            thread = f"live-{w}"
            try:
                for _ in range(15):
                    graph.invoke({"messages": [HumanMessage("more")]}, _cfg(thread))
                    turns[thread] = turns.get(thread, 0) + 1
            except BaseException as exc:
                errors.append(exc)

        sweepers = [threading.Thread(target=sweeper) for _ in range(4)]
        writers = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in sweepers + writers:
            t.start()
        for t in writers:
            t.join()
        stop.set()
        for t in sweepers:
            t.join()
        assert not errors, errors
        assert sorted(swept) == sorted(dead), "each dead thread swept exactly once"
        for thread, n in turns.items():
            assert graph.get_state(_cfg(thread)).values["turns"] == n == 15


async def test_the_async_sweeper_runs_and_stops(database: Database, tenant) -> None:
    async with AsyncAlmaSaver.from_conn_string(
        database.url, tenant_id=tenant, ttl={"default_ttl": 0.01, "sweep_interval_minutes": 0.01}
    ) as saver:
        graph = _graph(saver)
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, _cfg("short"))
        task = await saver.start_ttl_sweeper()
        assert not task.done()
        for _ in range(100):
            if (await graph.aget_state(_cfg("short"))).values == {}:
                break
            await asyncio.sleep(0.1)
        assert (await graph.aget_state(_cfg("short"))).values == {}
        assert await saver.stop_ttl_sweeper()
        assert task.done()
