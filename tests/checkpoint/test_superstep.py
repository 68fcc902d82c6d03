"""What one LangGraph superstep costs (issues 21 and 13): a run's task writes that commit
asynchronously wait for the checkpoint put of their superstep and ride with it in one
statement (`_coalesce.Hold`, `_sql.merged`), on one connection or a pool, sync or async;
a run with DeltaChannels (whose puts wait for those writes) is never held; a write held
in vain goes alone and its run is held no more."""

from __future__ import annotations

import asyncio
import operator
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.checkpoint import _base, _sql
from langgraph_alma.db import plan as db_plan
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import InvalidChannelValue

try:
    from langgraph.channels.delta import DeltaChannel
except ImportError:  # LangGraph before DeltaChannel (the oldest versions CI installs)
    DeltaChannel = None  # type: ignore[assignment,misc]  # the test using it is skipped


class Small(TypedDict):
    n: int
    s: str
    items: list[str]


def _small(saver: Any) -> Any:
    """Three nodes one after the other: five checkpoints and four task writes a run."""
    builder = StateGraph(Small)
    builder.add_node("a", lambda st: {"n": st["n"] + 1})
    builder.add_node("b", lambda st: {"s": st["s"] + "b"})
    builder.add_node("c", lambda st: {"items": [f"i{st['n']}"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


def _extend(state: list[str], writes: list[list[str]]) -> list[str]:
    return state + [x for w in writes for x in w]


if DeltaChannel is not None:

    class Delta(TypedDict):
        log: Annotated[list[str], DeltaChannel(_extend, snapshot_frequency=3)]
        total: Annotated[int, operator.add]


def _delta(saver: Any) -> Any:
    builder = StateGraph(Delta)
    builder.add_node("one", lambda st: {"log": ["one"], "total": 1})
    builder.add_node("two", lambda st: {"log": ["two"], "total": 1})
    builder.add_edge(START, "one")
    builder.add_edge("one", "two")
    builder.add_edge("two", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture
def sent(monkeypatch) -> Iterator[list[int]]:
    """The number of statements of each round trip any plan makes (sync and async)."""
    trips: list[int] = []
    send, asend = db_plan._send, db_plan._asend

    def spy(conn: Any, batch: Any) -> Any:
        trips.append(len(batch))
        return send(conn, batch)

    async def aspy(conn: Any, batch: Any) -> Any:
        trips.append(len(batch))
        return await asend(conn, batch)

    monkeypatch.setattr(db_plan, "_send", spy)
    monkeypatch.setattr(db_plan, "_asend", aspy)
    # Generous: the put LangGraph makes after a step comes within this on a loaded machine.
    monkeypatch.setattr(_base, "HOLD_SECONDS", 5.0, raising=False)
    yield trips


def _inputs(i: int) -> dict[str, Any]:
    return {"n": i, "s": "s", "items": ["x"]}


def _cfg(tenant: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"ss-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}


# A run of `_small`: its read, its input checkpoint, then each superstep's writes and the
# checkpoint after it in one statement: 6 round trips of one statement (8 or more before).
_SMALL_RUN = [1] * 6


def _check_small_runs(saver: AlmaSaver, tenant: str, sent: list[int]) -> None:
    graph, cfg = _small(saver), _cfg(tenant)
    for i in range(3):
        sent.clear()
        assert graph.invoke(_inputs(i), cfg)["n"] == i + 1
        assert sent == _SMALL_RUN
    history = list(graph.get_state_history(cfg))
    assert len(history) == 15
    # What rode with the next checkpoint is stored: each step's pending writes.
    assert [len(s.tasks) for s in history[:5]] == [0, 1, 1, 1, 1]
    assert [t.result for s in history[1:5] for t in s.tasks] == [
        {"items": ["i3"]},
        {"s": "sb"},
        {"n": 3},
        {"n": 2, "s": "s", "items": ["x"]},  # the input (__start__ task)
    ]
    assert history[0].values == {"n": 3, "s": "sb", "items": ["i3"]}


@pytest.mark.parametrize("pooled", [False, True], ids=["connection", "pool"])
def test_each_superstep_is_one_statement_sync(database, tenant, sent, pooled) -> None:
    if pooled:
        with ConnectionPool(
            database.url, min_size=2, max_size=4, kwargs=connection_kwargs()
        ) as pool:
            _check_small_runs(AlmaSaver(pool), tenant, sent)
    else:
        with psycopg.connect(database.url, **connection_kwargs()) as conn:
            _check_small_runs(AlmaSaver(conn), tenant, sent)


@pytest.mark.parametrize("pooled", [False, True], ids=["connection", "pool"])
async def test_each_superstep_is_one_statement_async(database, tenant, sent, pooled) -> None:
    async def run(saver: AsyncAlmaSaver) -> None:
        graph, cfg = _small(saver), _cfg(tenant)
        for i in range(3):
            sent.clear()
            assert (await graph.ainvoke(_inputs(i), cfg))["n"] == i + 1
            assert sent == _SMALL_RUN
        state = await graph.aget_state(cfg)
        assert state.values == {"n": 3, "s": "sb", "items": ["i3"]}

    if pooled:
        async with AsyncConnectionPool(
            database.url, min_size=2, max_size=4, kwargs=connection_kwargs(), open=False
        ) as pool:
            await run(AsyncAlmaSaver(pool))
    else:
        async with await psycopg.AsyncConnection.connect(
            database.url, **connection_kwargs()
        ) as conn:
            await run(AsyncAlmaSaver(conn))


def test_concurrent_runs_on_a_pool_each_get_their_own_writes(database, tenant, sent) -> None:
    """Held writes ride only with their own thread's put, however many threads run."""
    with ConnectionPool(database.url, min_size=2, max_size=4, kwargs=connection_kwargs()) as pool:
        graph = _small(AlmaSaver(pool))
        cfgs = [_cfg(tenant) for _ in range(12)]

        def converse(cfg: dict[str, Any]) -> None:
            for i in range(4):
                assert graph.invoke(_inputs(i), cfg)["n"] == i + 1

        threads = [threading.Thread(target=converse, args=(c,)) for c in cfgs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for cfg in cfgs:
            history = list(graph.get_state_history(cfg))
            assert len(history) == 20
            assert [len(s.tasks) for s in history[:5]] == [0, 1, 1, 1, 1]
            assert history[0].values == {"n": 4, "s": "sb", "items": ["i4"]}


@pytest.mark.skipif(DeltaChannel is None, reason="this LangGraph has no DeltaChannel")
def test_a_delta_channel_run_is_not_held(database, tenant, sent) -> None:
    """LangGraph waits for a DeltaChannel's writes before the next put: holding them for
    that put would stall each step for the whole hold (5 s here)."""
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as pool:
        saver = AlmaSaver(pool)
        graph, cfg = _delta(saver), _cfg(tenant)
        start = time.monotonic()
        for _ in range(2):
            assert graph.invoke({"log": ["in"], "total": 0}, cfg)["total"] >= 2
        assert time.monotonic() - start < 4.0
        assert graph.get_state(cfg).values["log"] == ["in", "one", "two"] * 2


def _run_start(tenant: str) -> tuple[dict[str, Any], object, Any]:
    """A LangGraph run's config on a new thread, carrying the run (what LangGraph puts
    in a run's configurable), the run, and its first checkpoint (`n` = 1)."""
    run = object()
    cfg = _cfg(tenant)
    cfg["configurable"]["__pregel_runtime"] = run
    cp = empty_checkpoint()
    cp["channel_values"] = {"n": 1}
    cp["channel_versions"] = {"n": "1"}
    return cfg, run, cp


def _run_checkpoint(saver: AlmaSaver, tenant: str) -> dict[str, Any]:
    """The config of a LangGraph run's first checkpoint (`_run_start`), put."""
    cfg, run, cp = _run_start(tenant)
    first = saver.put(cfg, cp, {"step": 0}, {"n": "1"})
    first["configurable"]["__pregel_runtime"] = run
    return first


def test_a_write_held_in_vain_goes_alone_and_its_run_is_held_no_more(
    database, tenant, sent, monkeypatch
) -> None:
    monkeypatch.setattr(_base, "HOLD_SECONDS", 0.5, raising=False)
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = _run_checkpoint(saver, tenant)
        assert not saver._core.unheld.marked(first)
        start = time.monotonic()
        saver.put_writes(first, [("n", 2)], "task-1")  # no put follows: held in vain
        thread = first["configurable"]["thread_id"]
        # A sync caller does not wait out the hold: its write is still queued.
        assert [e.key for e in saver._outbox._queue] == [(tenant, thread)]
        assert not saver._core.unheld.marked(first)
        while saver._outbox._queue:  # the flusher sends it once the hold ran out
            assert time.monotonic() - start < 10
            time.sleep(0.005)
        assert saver._core.unheld.marked(first)
        tup = saver.get_tuple(first)
        assert tup is not None and [(w[1], w[2]) for w in tup.pending_writes] == [("n", 2)]
        entry = saver._writes_entry(first, [("n", 3)], "task-2", "")
        assert entry[3] is None  # its run's next writes are sent at once


def test_a_held_writes_error_is_raised_by_the_next_put_of_its_thread(
    database, tenant, sent
) -> None:
    """A sync caller returns before its held write is sent: when PostgreSQL refuses it
    (a task id with a NUL), the put that carried it raises its error, once, so the
    run fails; the checkpoint itself is stored."""
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = _run_checkpoint(saver, tenant)
        cfg = {
            "configurable": {k: v for k, v in first["configurable"].items() if k != "checkpoint_id"}
        }
        assert saver.put_writes(first, [("n", 2)], "bad\x00task") is None
        nxt = empty_checkpoint()
        nxt["channel_values"] = {"n": 2}
        nxt["channel_versions"] = {"n": "2"}
        with pytest.raises(InvalidChannelValue):
            saver.put(first, nxt, {"step": 1}, {"n": "2"})
        stored = saver.get_tuple(cfg)
        assert stored is not None and stored.checkpoint["channel_values"] == {"n": 2}
        older = saver.get_tuple(first)
        assert older is not None and older.pending_writes == []
        again = empty_checkpoint()
        again["channel_values"] = {"n": 3}
        again["channel_versions"] = {"n": "3"}
        saver.put(stored.config, again, {"step": 2}, {"n": "3"})  # raised once only


def test_only_a_runs_ordinary_writes_are_held(database, tenant) -> None:
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        cfg = _cfg(tenant)
        cfg["configurable"]["checkpoint_id"] = "x"
        assert saver._writes_entry(cfg, [("n", 1)], "t", "")[3] is None  # a direct call
        cfg["configurable"]["__pregel_runtime"] = object()
        assert saver._writes_entry(cfg, [("n", 1)], "t", "")[3] is not None
        for special in ("__error__", "__interrupt__", "__pregel_tasks", "__error_source_node__"):
            assert saver._writes_entry(cfg, [("n", 1), (special, 1)], "t", "")[3] is None
        # Durability "sync": held too, and committing synchronously (with the put).
        cfg["configurable"]["__pregel_runtime"] = object()  # a new run: that one ended
        cfg["configurable"]["__pregel_durability"] = "sync"
        entry = saver._writes_entry(cfg, [("n", 1)], "t", "")
        assert entry[2] is True and entry[3] is not None
        # A run that wrote an interrupt may put no checkpoint again: sent at once.
        saver._writes_entry(cfg, [("__interrupt__", 1)], "t2", "")
        assert saver._writes_entry(cfg, [("n", 1)], "t3", "")[3] is None


def test_merged_refuses_what_it_cannot_join() -> None:
    put = _sql.PUT[(0, False)]
    writes = _sql.WRITES[(False, False)]
    one = {"tenant": "a", "commit": "off", "thread": "t"}
    text, params = _sql.merged([(writes, one), (put, one | {"id": "2"})])
    assert params["thread__0"] == "t" and params["id__1"] == "2" and params["tenant"] == "a"
    assert text.count("%(tenant)s") == 1 and "_s0 AS (INSERT INTO alma_checkpoint_writes" in text
    with pytest.raises(ValueError):
        _sql.merged([(writes, one), (put, one | {"commit": "on"})])
    with pytest.raises(ValueError):
        _sql.merged([(writes, one), (_sql.PUT[(0, True)], one)])  # returns the scope


async def test_held_writes_of_a_cancelled_task_are_not_sent(database, tenant) -> None:
    """A task cancelled while its write is held: the write is dropped from the queue (as
    one cancelled while waiting for a connection) and never sent with a later put."""
    async with await psycopg.AsyncConnection.connect(database.url, **connection_kwargs()) as conn:
        saver = AsyncAlmaSaver(conn)
        cfg = _cfg(tenant)
        cfg["configurable"]["__pregel_runtime"] = object()
        cp = empty_checkpoint()
        first = await saver.aput(cfg, cp, {"step": 0}, {})
        first["configurable"]["__pregel_runtime"] = cfg["configurable"]["__pregel_runtime"]
        task = asyncio.ensure_future(saver.aput_writes(first, [("n", 2)], "task-1"))
        await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not saver._outbox._queue
        tup = await saver.aget_tuple(first)
        assert tup is not None and tup.pending_writes == []


def test_a_warm_read_skips_what_the_saver_holds_whatever_the_thread_id(
    database, tenant, monkeypatch
) -> None:
    """The versions a saver already holds go to the read as one JSON text (`known`): a
    thread id or namespace with quotes, backslashes or any character still matches."""
    rows: list[str] = []
    send = db_plan._send

    def spy(conn: Any, batch: Any) -> Any:
        results = send(conn, batch)
        rows.extend(r[0] for rs in results if rs for r in rs if isinstance(r[0], str))
        return results

    monkeypatch.setattr(db_plan, "_send", spy)
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        for thread, ns in (("q\"\\é☃ 'x", ""), ("plain", 'n"s\\')):
            cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ns, "tenant_id": tenant}}
            cp = empty_checkpoint()
            cp["channel_values"] = {"items": [{"k": "v"}, "w"]}
            cp["channel_versions"] = {"items": "1"}
            AlmaSaver(conn).put(cfg, cp, {"step": 0}, {"items": "1"})
            reader = AlmaSaver(conn)
            for blob_rows in (1, 0):  # a new saver reads the blob; then it holds it
                rows.clear()
                tup = reader.get_tuple(cfg)
                assert tup is not None
                assert tup.checkpoint["channel_values"] == {"items": [{"k": "v"}, "w"]}
                assert rows.count("b") == blob_rows  # held: no chain row sent again


def _held_write(saver: AlmaSaver, tenant: str) -> dict[str, Any]:
    """A run's checkpoint, then a task write of that run with no put after it (held in
    vain: the flusher would send it when its hold ran out); the write's config."""
    first = _run_checkpoint(saver, tenant)
    saver.put_writes(first, [("n", 2)], "task-1")
    assert saver._outbox._queue  # returned before it was sent
    return first


def _pending(database, first: dict[str, Any]) -> list[tuple[str, Any]]:
    with AlmaSaver.from_conn_string(database.url) as reader:
        tup = reader.get_tuple({"configurable": dict(first["configurable"])})
    assert tup is not None
    return [(w[1], w[2]) for w in tup.pending_writes]


def test_a_held_write_is_sent_when_its_saver_exits(database, tenant, monkeypatch) -> None:
    """A held write whose caller returned is sent at the saver's exit, before its pool
    closes, not left to the flusher (which would find the pool closed)."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    with AlmaSaver.from_conn_string(database.url) as saver:
        first = _held_write(saver, tenant)
    first["configurable"].pop("__pregel_runtime")
    assert _pending(database, first) == [("n", 2)]


_EXITING = """
import sys
from langgraph.checkpoint.base import empty_checkpoint
import psycopg
from langgraph_alma import AlmaSaver
from langgraph_alma.checkpoint import _base
from langgraph_alma.db.connect import connection_kwargs

_base.HOLD_SECONDS = 30.0
conn = psycopg.connect(sys.argv[1], **connection_kwargs())
saver = AlmaSaver(conn)
run = object()
cfg = {"configurable": {"thread_id": sys.argv[2], "tenant_id": sys.argv[3],
                        "__pregel_runtime": run}}
cp = empty_checkpoint()
cp["channel_values"] = {"n": 1}
cp["channel_versions"] = {"n": "1"}
first = saver.put(cfg, cp, {"step": 0}, {"n": "1"})
first["configurable"]["__pregel_runtime"] = run
saver.put_writes(first, [("n", 2)], "task-1")
assert saver._outbox._queue
print(first["configurable"]["checkpoint_id"], flush=True)
# the interpreter exits now, its connection open, the write held for 30 s
"""


def test_a_held_write_is_sent_when_the_interpreter_exits(database, tenant) -> None:
    """A process that exits with a held write queued (its flusher is a daemon thread)
    sends it at exit."""
    import subprocess
    import sys

    thread = f"exit-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [sys.executable, "-c", _EXITING, database.url, thread, tenant],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    checkpoint_id = done.stdout.strip().splitlines()[-1]
    first = {
        "configurable": {
            "thread_id": thread, "tenant_id": tenant, "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }  # fmt: skip
    assert _pending(database, first) == [("n", 2)]


def _child(first: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """A checkpoint after `first` (its child, as LangGraph puts after a superstep)."""
    cp = empty_checkpoint()
    cp["channel_values"] = {"n": 5}
    cp["channel_versions"] = {"n": "2"}
    return cp, {"step": 1}


def test_a_write_coming_after_the_next_put_is_sent_before_it_returns(
    database, tenant, monkeypatch
) -> None:
    """LangGraph's background executor may call a task's `put_writes` after the put of
    the checkpoint that follows its superstep (the last step of a run, before an
    interrupt): no put will carry it, so it is sent before the call returns, and a new
    process reads it as soon as the run returned (it waited for a flusher before: a
    resumed run's history then lacked a branch's result)."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = _run_checkpoint(saver, tenant)
        saver.put_writes(first, [("n", 2)], "task-1")  # before the put: it rides with it
        saver.put(first, *_child(first), {"n": "2"})
        saver.put_writes(first, [("n", 3)], "task-2")  # after it: nothing will carry it
        assert not saver._outbox._queue
        first["configurable"].pop("__pregel_runtime")
        assert _pending(database, first) == [("n", 2), ("n", 3)]


async def test_a_write_coming_after_the_next_put_does_not_wait_out_its_hold(
    database, tenant, monkeypatch
) -> None:
    """The async flavour: such a write does not wait its hold (30 s here) for a put."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    async with await psycopg.AsyncConnection.connect(database.url, **connection_kwargs()) as conn:
        saver = AsyncAlmaSaver(conn)
        cfg, run, cp = _run_start(tenant)
        first = await saver.aput(cfg, cp, {"step": 0}, {"n": "1"})
        first["configurable"]["__pregel_runtime"] = run
        early = asyncio.ensure_future(saver.aput_writes(first, [("n", 2)], "task-1"))
        await asyncio.sleep(0.05)
        await saver.aput(first, *_child(first), {"n": "2"})
        await asyncio.wait_for(early, 5)
        await asyncio.wait_for(saver.aput_writes(first, [("n", 3)], "task-2"), 5)
    first["configurable"].pop("__pregel_runtime")
    assert _pending(database, first) == [("n", 2), ("n", 3)]


class Fan(TypedDict):
    topics: list[str]
    found: Annotated[list[str], operator.add]
    report: str


def _fan(saver: Any) -> Any:
    """A plan node, eight branches at once (Send), then a report LangGraph stops before."""
    from langgraph.types import Send

    builder = StateGraph(Fan)
    builder.add_node("plan", lambda st: {"topics": [f"t{i}" for i in range(8)]})
    builder.add_node("branch", lambda b: {"found": [b["topic"]]})
    builder.add_node("report", lambda st: {"report": ",".join(sorted(st["found"]))})
    builder.add_edge(START, "plan")
    builder.add_conditional_edges(
        "plan", lambda st: [Send("branch", {"topic": t}) for t in st["topics"]], ["branch"]
    )
    builder.add_edge("branch", "report")
    builder.add_edge("report", END)
    return builder.compile(checkpointer=saver, interrupt_before=["report"])


def test_a_paused_runs_branch_results_are_stored_when_invoke_returns(
    database, tenant, monkeypatch
) -> None:
    """What examples/research_workflow.py does: eight branches run at once, the run
    stops before the next node, and a new saver reads each branch's result from the
    fan-out step at once. LangGraph's executor runs a task's `put_writes` when a thread
    gets to it, sometimes after the step's put (one branch's is made late here): such a
    write waited for the flusher, and the new saver missed it."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 2.0, raising=False)
    with AlmaSaver.from_conn_string(database.url) as saver:
        put_writes = saver.put_writes

        def late_for_t3(config: Any, writes: Any, task_id: str, task_path: str = "") -> None:
            if ("found", ["t3"]) in writes:
                time.sleep(0.2)  # the step's put goes first
            put_writes(config, writes, task_id, task_path)

        saver.put_writes = late_for_t3  # type: ignore[method-assign]
        graph = _fan(saver)
        for _ in range(3):
            cfg = _cfg(tenant)
            graph.invoke({"topics": [], "found": [], "report": ""}, cfg)
            with AlmaSaver.from_conn_string(database.url) as fresh:
                history = list(_fan(fresh).get_state_history(cfg))
            step = next(s for s in history if s.next and set(s.next) == {"branch"})
            assert sorted(t.result["found"][0] for t in step.tasks if t.result) == [
                f"t{i}" for i in range(8)
            ]


def test_a_write_queued_after_its_run_ended_is_not_held(database, tenant, monkeypatch) -> None:
    """A task's write decided to hold, then a sibling's error ends the run (sent at once,
    taking what was queued) before the first one is queued: the first is sent before
    its call returns, not left for a put that will not come."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        first = _run_checkpoint(saver, tenant)
        entry = saver._writes_entry(first, [("n", 2)], "task-1", "")
        assert entry[3] is not None  # would hold
        saver.put_writes(first, [("__error__", "boom")], "task-2")  # the run ends
        saver._outbox.run(saver._connection, *entry)
        assert not saver._outbox._queue
        first["configurable"].pop("__pregel_runtime")
        assert _pending(database, first) == [("n", 2), ("__error__", "boom")]


def test_a_read_of_its_thread_sends_a_held_write_first(database, tenant, monkeypatch) -> None:
    """A sync run that ends with no put after its held writes (a step timeout, say) and
    reads its thread back at once finds them: the read sends its thread's first. Writes
    of other threads stay held."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        saver = AlmaSaver(conn)
        other = _held_write(saver, tenant)
        first = _held_write(saver, tenant)
        tup = saver.get_tuple({"configurable": dict(first["configurable"])})
        assert tup is not None and [(w[1], w[2]) for w in tup.pending_writes] == [("n", 2)]
        assert [e.key for e in saver._outbox._queue] == [
            (tenant, other["configurable"]["thread_id"])
        ]
        listed = list(saver.list({"configurable": dict(other["configurable"])}))
        assert [(w[1], w[2]) for w in listed[0].pending_writes] == [("n", 2)]
        assert not saver._outbox._queue


class Race(TypedDict):
    fast: str
    slow: str


def test_a_timed_out_steps_finished_task_is_read_back_at_once(
    database, tenant, monkeypatch
) -> None:
    """LangGraph's step timeout: the step's branches finish (their writes held) but no
    put follows; `get_state` right after the TimeoutError shows their results (it
    showed none before the flusher ran), and a resume runs neither again."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0, raising=False)
    ran: list[str] = []

    def fast(_: Race) -> dict[str, Any]:
        ran.append("fast")
        return {"fast": "done"}

    def slow(_: Race) -> dict[str, Any]:
        ran.append("slow")
        time.sleep(0.5)
        return {"slow": "done"}

    builder = StateGraph(Race)
    builder.add_node("fast", fast)
    builder.add_node("slow", slow)
    builder.add_edge(START, "fast")
    builder.add_edge(START, "slow")
    with AlmaSaver.from_conn_string(database.url) as saver:
        graph = builder.compile(checkpointer=saver)
        graph.step_timeout = 0.2
        cfg = _cfg(tenant)
        with pytest.raises(TimeoutError):
            graph.invoke({"fast": "", "slow": ""}, cfg)
        state = graph.get_state(cfg)
        assert {t.name: t.result for t in state.tasks} == {
            "fast": {"fast": "done"},
            "slow": {"slow": "done"},  # LangGraph waited for it before raising
        }
        graph.step_timeout = None
        assert graph.invoke(None, cfg) == {"fast": "done", "slow": "done"}
        assert sorted(ran) == ["fast", "slow"]
