"""Writes that wait for the connection together go in one round trip (checkpoint._coalesce):
a put and a put_writes queued behind the same connection commit in one transaction; a
statement that fails sends each write again alone; a bad value fails only its own call;
and a graph run on one shared connection gives the same history as LangGraph's own saver.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import operator
import threading
import time
import uuid
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.db.borrow import aconnection_lock, connection_lock
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import CheckpointWriteInterrupted, InvalidChannelValue


def _config(tenant: str, thread: str | None = None) -> dict:
    return {
        "configurable": {
            "thread_id": thread or f"co-{uuid.uuid4().hex[:8]}",
            "tenant_id": tenant,
            "checkpoint_ns": "",
        }
    }


def _checkpoint(values: dict[str, Any], version: str) -> Any:
    cp = empty_checkpoint()
    cp["channel_values"] = dict(values)
    cp["channel_versions"] = {k: version for k in values}
    return cp


def _xmins(database, tenant: str, thread: str) -> tuple[set[str], set[str]]:
    """The transactions that wrote the thread's checkpoints, and its writes."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        cps = conn.execute(
            "SELECT xmin::text FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        ).fetchall()
        ws = conn.execute(
            "SELECT xmin::text FROM alma_checkpoint_writes WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        ).fetchall()
    return {r[0] for r in cps}, {r[0] for r in ws}


def _wait_queued(saver: Any, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(saver._outbox._queue) < n:
        assert time.monotonic() < deadline, "the writes never queued"
        time.sleep(0.005)


def test_put_and_writes_waiting_together_commit_in_one_transaction(database, tenant) -> None:
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = saver.put(_config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"})
        thread = first["configurable"]["thread_id"]
        results: dict[str, Any] = {}
        with connection_lock(conn):  # the connection is busy: both writes must wait
            writes = threading.Thread(
                target=lambda: results.setdefault(
                    "writes", saver.put_writes(first, [("n", 2), ("log", ["a"])], "task-1")
                )
            )
            put = threading.Thread(
                target=lambda: results.setdefault(
                    "put",
                    saver.put(
                        _config(tenant, thread) | {},
                        _checkpoint({"n": 2, "log": ["a"]}, "2"),
                        {"step": 1},
                        {"n": "2", "log": "2"},
                    ),
                )
            )
            writes.start()
            _wait_queued(saver, 1)
            put.start()
            _wait_queued(saver, 2)
        writes.join(10)
        put.join(10)
        assert results["writes"] is None
        assert results["put"]["configurable"]["thread_id"] == thread
        cps, ws = _xmins(database, tenant, thread)
        assert len(cps) == 2 and len(ws) == 1
        assert ws <= cps  # the writes and the second checkpoint: one transaction
        tup = saver.get_tuple(_config(tenant, thread))
        assert tup is not None and tup.checkpoint["channel_values"] == {"n": 2, "log": ["a"]}
        older = saver.get_tuple(first)
        assert older is not None
        assert [(w[1], w[2]) for w in older.pending_writes] == [("n", 2), ("log", ["a"])]


def test_a_bad_value_fails_only_its_own_call(database, tenant) -> None:
    """Values are checked when the call is made, before it queues: a bad one never joins
    (or fails) a batch, and its caller learns at once, even with the connection busy."""
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = saver.put(_config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"})
        with connection_lock(conn):
            good = threading.Thread(target=lambda: saver.put_writes(first, [("n", 5)], "task-good"))
            good.start()
            _wait_queued(saver, 1)
            with pytest.raises(InvalidChannelValue):
                saver.put_writes(first, [("s", "\ud800")], "task-bad")
            assert len(saver._outbox._queue) == 1
        good.join(10)
        tup = saver.get_tuple(first)
        assert tup is not None
        assert [(w[0], w[1], w[2]) for w in tup.pending_writes] == [("task-good", "n", 5)]
        assert not saver._outbox._queue


def test_a_failed_batch_sends_each_write_alone(database, tenant) -> None:
    """A statement PostgreSQL refuses (a task id with a NUL) fails the shared batch, which
    rolls back whole; run alone, the others land and only the bad call raises."""
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = saver.put(_config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"})
        thread = first["configurable"]["thread_id"]
        done: dict[str, Any] = {}

        def call(name: str, fn: Any) -> None:
            try:
                done[name] = fn()
            except Exception as exc:
                done[name] = exc

        with connection_lock(conn):
            jobs = [
                threading.Thread(
                    target=call,
                    args=(
                        "put",
                        lambda: saver.put(
                            _config(tenant, thread),
                            _checkpoint({"n": 2}, "2"),
                            {"step": 1},
                            {"n": "2"},
                        ),
                    ),
                ),
                threading.Thread(
                    target=call, args=("bad", lambda: saver.put_writes(first, [("n", 7)], "t\x00"))
                ),
                threading.Thread(
                    target=call, args=("good", lambda: saver.put_writes(first, [("n", 8)], "ok"))
                ),
            ]
            for i, t in enumerate(jobs):
                t.start()
                _wait_queued(saver, i + 1)
        for t in jobs:
            t.join(10)
        assert isinstance(done["bad"], InvalidChannelValue)
        assert done["good"] is None
        assert done["put"]["configurable"]["thread_id"] == thread
        fresh = AlmaSaver(conn)  # remembers nothing: reads the stored rows
        tup = fresh.get_tuple(_config(tenant, thread))
        assert tup is not None and tup.checkpoint["channel_values"] == {"n": 2}
        older = fresh.get_tuple(first)
        assert older is not None and [(w[0], w[2]) for w in older.pending_writes] == [("ok", 8)]
        cps, ws = _xmins(database, tenant, thread)
        assert len(cps) == 2 and len(ws) == 1 and not ws & cps  # each committed alone
        assert not saver._outbox._queue


def test_writes_of_different_threads_never_share_a_batch(database, tenant) -> None:
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        cfgs = [
            saver.put(_config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"})
            for _ in range(2)
        ]
        with connection_lock(conn):
            jobs = [
                threading.Thread(target=lambda c=c: saver.put_writes(c, [("n", 2)], "task"))
                for c in cfgs
            ]
            for i, t in enumerate(jobs):
                t.start()
                _wait_queued(saver, i + 1)
        for t in jobs:
            t.join(10)
        (_, a), (_, b) = (_xmins(database, tenant, c["configurable"]["thread_id"]) for c in cfgs)
        assert len(a) == len(b) == 1 and a != b


async def test_async_put_and_writes_waiting_together_commit_in_one_transaction(
    database, tenant
) -> None:
    conn = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    try:
        saver = AsyncAlmaSaver(conn)
        first = await saver.aput(
            _config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"}
        )
        thread = first["configurable"]["thread_id"]
        async with aconnection_lock(conn).hold():
            # Fresh contexts: tasks started inside a hold would pass through it.
            tasks = [
                asyncio.create_task(
                    saver.aput_writes(first, [("n", 2)], "task-1"), context=contextvars.Context()
                ),
                asyncio.create_task(
                    saver.aput(
                        _config(tenant, thread),
                        _checkpoint({"n": 2}, "2"),
                        {"step": 1},
                        {"n": "2"},
                    ),
                    context=contextvars.Context(),
                ),
            ]
            for _ in range(100):
                if len(saver._outbox._queue) == 2:
                    break
                await asyncio.sleep(0.005)
            assert len(saver._outbox._queue) == 2
        await asyncio.gather(*tasks)
        cps, ws = await asyncio.to_thread(_xmins, database, tenant, thread)
        assert len(cps) == 2 and len(ws) == 1 and ws <= cps
    finally:
        await conn.close()


class FanState(TypedDict):
    log: Annotated[list[str], operator.add]


def _fan_graph() -> StateGraph:
    def start(state: FanState) -> Any:
        return {"log": ["start"]}

    def route(state: FanState) -> list[Send]:
        return [Send("work", {"log": [f"w{i}"]}) for i in range(4)]

    def work(state: FanState) -> Any:
        return {"log": [f"done-{state['log'][-1]}"]}

    b = StateGraph(FanState)
    b.add_node("start", start)
    b.add_node("work", work)
    b.add_node("end", lambda s: {"log": ["end"]})
    b.add_edge(START, "start")
    b.add_conditional_edges("start", route, ["work"])
    b.add_edge("work", "end")
    b.add_edge("end", END)
    return b


def _history(graph: Any, cfg: dict) -> list[tuple[Any, ...]]:
    return [(sorted(s.values.get("log", [])), s.next) for s in graph.get_state_history(cfg)]


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_fan_out_on_one_connection_matches_langgraph(database, tenant, durability) -> None:
    """Parallel branches on one shared connection (their writes queue together): the
    result and the history are those of LangGraph's InMemorySaver."""
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        alma = _fan_graph().compile(checkpointer=AlmaSaver(conn))
        mem = _fan_graph().compile(checkpointer=InMemorySaver())
        for i in range(3):
            cfg = {"configurable": {"thread_id": f"fan-{i}", "tenant_id": tenant}}
            got = alma.invoke({"log": []}, cfg, durability=durability)
            want = mem.invoke({"log": []}, cfg, durability=durability)
            assert sorted(got["log"]) == sorted(want["log"])
            assert _history(alma, cfg) == _history(mem, cfg)


async def test_a_cancelled_leader_fails_the_writes_it_carried_with_a_named_error(
    database, tenant
) -> None:
    """The leader's task is cancelled while its batch waits on a row lock: the write it
    carried for another task raises CheckpointWriteInterrupted (never that task's own
    cancellation), and the saver goes on working."""
    conn = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    blocker = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    try:
        saver = AsyncAlmaSaver(conn)
        first = await saver.aput(
            _config(tenant), _checkpoint({"n": 1}, "1"), {"step": 0}, {"n": "1"}
        )
        conf = first["configurable"]
        # Another transaction holds the key the leader's write inserts: the batch waits.
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT set_config('alma.tenant_id', %s, true)", (tenant,))
        await blocker.execute(
            "INSERT INTO alma_checkpoint_writes (tenant_id, thread_id, checkpoint_ns,"
            " checkpoint_id, task_id, idx, channel, type, blob)"
            " VALUES (%s, %s, '', %s, 'lead', 0, 'n', 'msgpack', '\\x00')",
            (tenant, conf["thread_id"], conf["checkpoint_id"]),
        )
        async with aconnection_lock(conn).hold():
            leader = asyncio.create_task(
                saver.aput_writes(first, [("n", 2)], "lead"), context=contextvars.Context()
            )
            for _ in range(200):
                if len(saver._outbox._queue) == 1:
                    break
                await asyncio.sleep(0.005)
            follower = asyncio.create_task(
                saver.aput_writes(first, [("n", 3)], "follow"), context=contextvars.Context()
            )
            for _ in range(200):
                if len(saver._outbox._queue) == 2:
                    break
                await asyncio.sleep(0.005)
            assert len(saver._outbox._queue) == 2
        for _ in range(1000):  # the leader took both: from here their fates are shared
            if not saver._outbox._queue:
                break
            await asyncio.sleep(0.005)
        assert not saver._outbox._queue
        await asyncio.sleep(0.1)  # most likely waiting on the row lock by now
        leader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await leader
        with pytest.raises(CheckpointWriteInterrupted):
            await follower
        await blocker.execute("ROLLBACK")
        later = await saver.aput(
            _config(tenant, conf["thread_id"]), _checkpoint({"n": 2}, "2"), {"step": 1}, {"n": "2"}
        )
        tup = await saver.aget_tuple(later)
        assert tup is not None and tup.checkpoint["channel_values"] == {"n": 2}
    finally:
        await blocker.close()
        await conn.close()


async def test_a_held_write_another_leader_took_after_its_hold_ran_out_gets_its_own_outcome(
    database,
) -> None:
    """A held write whose hold runs out (its timer resolves what it waited on) and whose
    write another leader then takes waits for that leader's batch and gets its own
    outcome, not an early None."""
    from langgraph_alma.checkpoint._coalesce import AsyncOutbox, Hold
    from langgraph_alma.db.plan import Sql

    conn = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    try:
        outbox = AsyncOutbox()
        missed: list[bool] = []
        carried = asyncio.Event()

        def make(name: str):
            def plan(synchronous: bool):
                carried.set()
                yield [Sql("SELECT pg_sleep(0.3)")]  # the leader's batch takes a while
                return name

            return plan

        @contextlib.asynccontextmanager
        async def late_connection():
            await carried.wait()  # the other leader has taken the batch: it runs now
            yield conn

        @contextlib.asynccontextmanager
        async def connection():
            yield conn

        held = asyncio.create_task(
            outbox.arun(
                late_connection,
                "k",
                make("held"),
                False,
                Hold(0.01, lambda: missed.append(True), ("", "c1")),
            )
        )
        await asyncio.sleep(0.05)  # the hold ran out; it waits for its connection
        assert missed and not held.done()
        started = time.monotonic()
        assert await outbox.arun(connection, "k", make("leader"), False) == "leader"
        assert await held == "held"
        assert time.monotonic() - started >= 0.25  # not before the batch committed
    finally:
        await conn.close()
