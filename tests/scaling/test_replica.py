"""A real streaming replica: what the library sends there, and the lag rule."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import psycopg
import pytest
from langgraph.graph import START, StateGraph

from langgraph_alma.db.plan import Sql, run_plan, set_tenant
from langgraph_alma.db.replica import ReadRoute, StaleReplica, guarded, tracking
from tests.scaling.conftest import Replicated


def _write(tenant: str, key: str):
    yield [
        set_tenant(tenant),
        Sql(
            "INSERT INTO alma_store (tenant_id, ns_path, key, value, search_text) "
            "VALUES (%s, 'docs', %s, '{}'::jsonb, '')",
            (tenant, key),
        ),
    ]


def _read(tenant: str, key: str):
    rows = yield [
        set_tenant(tenant),
        Sql(
            "SELECT key FROM alma_store WHERE tenant_id = %s AND ns_path = 'docs' AND key = %s",
            (tenant, key),
            fetch=True,
        ),
    ]
    return [r[0] for r in rows[1]]


def test_a_write_on_the_primary_is_read_on_the_replica(replicated: Replicated) -> None:
    route = ReadRoute(None)
    with psycopg.connect(replicated.primary, autocommit=True) as primary:
        run_plan(primary, tracking(_write("t1", "a"), route))
    assert route.pending
    replicated.wait_replayed()
    with psycopg.connect(replicated.replica, autocommit=True) as replica:
        assert run_plan(replica, guarded(_read("t1", "a"), route)) == ["a"]
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def test_a_replica_behind_the_last_write_is_never_read(replicated: Replicated) -> None:
    """Reads right after a write: either the replica has it, or the read is refused
    (StaleReplica, the caller's cue to read on the primary). Never an older answer."""
    route = ReadRoute(None)
    with (
        psycopg.connect(replicated.primary, autocommit=True) as primary,
        psycopg.connect(replicated.replica, autocommit=True) as replica,
    ):
        for i in range(60):
            run_plan(primary, tracking(_write("t2", f"k{i}"), route))
            try:
                assert run_plan(replica, guarded(_read("t2", f"k{i}"), route)) == [f"k{i}"]
            except StaleReplica:
                # Refused, not answered from the past: once the replica has replayed the
                # write, the same guarded read answers it (a refusal is never permanent).
                replicated.wait_replayed()
                assert run_plan(replica, guarded(_read("t2", f"k{i}"), route)) == [f"k{i}"]


def test_a_paused_replica_is_not_read_after_a_write(replicated: Replicated) -> None:
    route = ReadRoute(None)
    with (
        psycopg.connect(replicated.primary, autocommit=True) as primary,
        psycopg.connect(replicated.replica, autocommit=True) as replica,
        psycopg.connect(replicated.replica_admin, autocommit=True) as standby,
    ):
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            run_plan(primary, tracking(_write("t4", "p"), route))
            with pytest.raises(StaleReplica):
                run_plan(replica, guarded(_read("t4", "p"), route))
            assert route.pending  # still unconfirmed
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        replicated.wait_replayed()
        assert run_plan(replica, guarded(_read("t4", "p"), route)) == ["p"]
        assert route.pending == []  # confirmed once: not checked again


def test_a_read_route_to_a_primary_is_never_trusted(replicated: Replicated) -> None:
    route = ReadRoute(None)
    with psycopg.connect(replicated.primary, autocommit=True) as primary:
        run_plan(primary, tracking(_write("t5", "q"), route))
        with pytest.raises(StaleReplica):
            run_plan(primary, guarded(_read("t5", "q"), route))


def test_writes_through_the_replica_are_refused(replicated: Replicated) -> None:
    with (
        psycopg.connect(replicated.replica, autocommit=True) as replica,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction),
    ):
        run_plan(replica, _write("t3", "x"))


# -- AlmaStore on a primary and its replica ------------------------------------------


def _pools(replicated: Replicated):
    from psycopg_pool import ConnectionPool

    from langgraph_alma.db.connect import connection_kwargs

    kw = {"kwargs": connection_kwargs(), "min_size": 1, "max_size": 4}
    return ConnectionPool(replicated.primary, **kw), ConnectionPool(replicated.replica, **kw)


def test_store_reads_right_after_writes_never_go_back(replicated: Replicated) -> None:
    from langgraph_alma import AlmaStore

    primary, replica = _pools(replicated)
    with primary, replica:
        store = AlmaStore(primary, tenant_id="s1", read=replica)
        for i in range(40):
            store.put(("docs",), f"k{i}", {"text": f"note {i}", "i": i})
            item = store.get(("docs",), f"k{i}", refresh_ttl=False)
            assert item is not None and item.value["i"] == i
            assert len(store.search(("docs",), refresh_ttl=False, limit=100)) == i + 1


def test_store_reads_that_write_nothing_are_served_by_the_replica(
    replicated: Replicated,
) -> None:
    from langgraph_alma import AlmaStore

    primary, replica = _pools(replicated)
    with (
        primary,
        replica,
        psycopg.connect(replicated.replica_admin, autocommit=True) as standby,
    ):
        store = AlmaStore(primary, tenant_id="s2", read=replica)
        store.put(("docs",), "seen", {"text": "x"})
        replicated.wait_replayed()
        assert store.get(("docs",), "seen", refresh_ttl=False) is not None
        assert store.read is not None and store.read.pending == []  # confirmed there
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            # Written by someone else (not this store): the replica, paused, lacks it, and
            # this store has nothing of its own pending, so the replica answers.
            other = AlmaStore(primary, tenant_id="s2")
            other.put(("docs",), "elsewhere", {"text": "y"})
            assert store.get(("docs",), "elsewhere", refresh_ttl=False) is None
            # A read that refreshes TTLs writes: the primary answers it.
            assert store.get(("docs",), "elsewhere") is not None
            # This store's own write: the paused replica is not read.
            store.put(("docs",), "mine", {"text": "z"})
            assert store.get(("docs",), "mine", refresh_ttl=False) is not None
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        replicated.wait_replayed()
        assert store.get(("docs",), "elsewhere", refresh_ttl=False) is not None


def test_a_store_on_the_replica_refuses_writes_with_a_named_error(
    replicated: Replicated,
) -> None:
    from langgraph_alma import AlmaStore
    from langgraph_alma.errors import StoreBatchFailed

    primary, replica = _pools(replicated)
    with primary, replica:
        wrong = AlmaStore(replica, tenant_id="s3")
        with pytest.raises(StoreBatchFailed, match="read-only transaction") as caught:
            wrong.put(("docs",), "k", {"text": "x"})
        assert isinstance(caught.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)


async def test_async_store_routes_reads_too(replicated: Replicated) -> None:
    from langgraph_alma import AsyncAlmaStore

    async with AsyncAlmaStore.from_conn_string(
        replicated.primary, tenant_id="s4", read_url=replicated.replica
    ) as store:
        assert store.read is not None
        for i in range(10):
            await store.aput(("docs",), f"k{i}", {"text": f"note {i}"})
            assert await store.aget(("docs",), f"k{i}", refresh_ttl=False) is not None
        replicated.wait_replayed()
        assert len(await store.asearch(("docs",), query="note", refresh_ttl=False)) == 10
        assert store.read.pending == []


# -- AlmaSaver: history from the replica, never older than its own writes -------------


class _Log(TypedDict):
    log: Annotated[list[int], operator.add]


def _chat(saver):
    builder = StateGraph(_Log)
    builder.add_node("step", lambda s: {"log": [len(s["log"])]})
    builder.add_edge(START, "step")
    return builder.compile(checkpointer=saver)


def test_saver_history_right_after_writes_is_never_older(replicated: Replicated) -> None:
    from langgraph_alma import AlmaSaver

    primary, replica = _pools(replicated)
    with primary, replica:
        graph = _chat(AlmaSaver(primary, tenant_id="c1", read=replica))
        cfg = {"configurable": {"thread_id": "chat"}}
        for turn in range(1, 16):
            graph.invoke({"log": []}, cfg)
            history = list(graph.get_state_history(cfg))
            assert history[0].values["log"] == list(range(turn))
            assert len(history) == 3 * turn  # input, start and step checkpoints of a turn


def test_saver_history_is_served_by_the_replica(replicated: Replicated) -> None:
    from langgraph_alma import AlmaSaver

    primary, replica = _pools(replicated)
    with (
        primary,
        replica,
        psycopg.connect(replicated.replica_admin, autocommit=True) as standby,
    ):
        writer = _chat(AlmaSaver(primary, tenant_id="c2"))
        reader = AlmaSaver(primary, tenant_id="c2", read=replica)
        cfg = {"configurable": {"thread_id": "t"}}
        writer.invoke({"log": []}, cfg)
        replicated.wait_replayed()
        assert len(list(reader.list(cfg))) == 3
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            writer.invoke({"log": []}, cfg)  # another saver's write: the replica lags
            assert len(list(reader.list(cfg))) == 3  # served by the paused replica
            assert reader.get_tuple(cfg).checkpoint["channel_values"]["log"] == [0, 1]
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")
        replicated.wait_replayed()
        assert len(list(reader.list(cfg))) == 6


async def test_async_saver_history_from_the_replica(replicated: Replicated) -> None:
    from langgraph_alma import AsyncAlmaSaver

    async with AsyncAlmaSaver.from_conn_string(
        replicated.primary, tenant_id="c3", read_url=replicated.replica
    ) as saver:
        assert saver.read is not None
        graph = _chat(saver)
        cfg = {"configurable": {"thread_id": "a"}}
        for turn in range(1, 6):
            await graph.ainvoke({"log": []}, cfg)
            history = [s async for s in graph.aget_state_history(cfg)]
            assert len(history) == 3 * turn
