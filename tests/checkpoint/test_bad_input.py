"""Bad input gets a clear, named exception and leaves nothing behind in the tables."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma import (
    AlmaSaver,
    AsyncAlmaSaver,
    ConfigError,
    SaverClosed,
    Settings,
    StateTooLarge,
    TenantMismatch,
    ThreadIdRequired,
)
from langgraph_alma.db.connect import connection_kwargs

TABLES = ("alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes")


class S(TypedDict):
    items: Annotated[list[str], operator.add]


def _builder(payload: int = 0) -> StateGraph:
    """`small` writes a little; `big` writes `payload` bytes when asked to."""
    b = StateGraph(S)
    b.add_node("small", lambda s: {"items": ["small"]})
    b.add_node("big", lambda s: {"items": ["x" * payload]} if payload else {})
    b.add_edge(START, "small")
    b.add_edge("small", "big")
    b.add_edge("big", END)
    return b


@pytest.fixture
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


def _rows(database, tenant: str, thread: str | None = None) -> dict[str, int]:
    """Rows of a tenant (and thread), counted as the superuser (no row-level security)."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        out = {}
        for t in TABLES:
            q = f"SELECT count(*) FROM {t} WHERE tenant_id = %s"
            params: tuple = (tenant,)
            if thread is not None:
                q += " AND thread_id = %s"
                params += (thread,)
            out[t] = conn.execute(q, params).fetchone()[0]
        return out


NOTHING = dict.fromkeys(TABLES, 0)


def _checkpoint(values: dict[str, Any]) -> Any:
    cp = empty_checkpoint()
    cp["channel_values"] = values
    cp["channel_versions"] = dict.fromkeys(values, "00000000000000000000000000000001.0")
    return cp


META: Any = {"source": "input", "step": -1, "parents": {}}


# -- missing thread_id -----------------------------------------------------------------


@pytest.mark.parametrize("thread", [None, ""], ids=["absent", "empty"])
def test_missing_thread_id(database, pool, tenant, thread) -> None:
    saver = AlmaSaver(pool)
    conf: dict[str, Any] = {"tenant_id": tenant}
    if thread is not None:
        conf["thread_id"] = thread
    config = {"configurable": conf}
    with pytest.raises(ThreadIdRequired, match="thread_id"):
        saver.put(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    with pytest.raises(ThreadIdRequired):
        saver.put_writes({"configurable": {**conf, "checkpoint_id": "x"}}, [("items", 1)], "t1")
    with pytest.raises(ThreadIdRequired):
        saver.get_tuple(config)
    # LangGraph refuses first when the graph has a checkpointer; it is a ValueError too.
    with pytest.raises(ValueError, match="thread_id"):
        _builder().compile(checkpointer=saver).invoke({"items": []}, config)
    assert issubclass(ThreadIdRequired, ValueError)
    assert _rows(database, tenant) == NOTHING


def test_put_writes_without_checkpoint_id(database, pool, tenant) -> None:
    saver = AlmaSaver(pool)
    with pytest.raises(ConfigError, match="checkpoint_id"):
        saver.put_writes(
            {"configurable": {"thread_id": "t", "tenant_id": tenant}}, [("items", 1)], "task"
        )
    assert _rows(database, tenant) == NOTHING


# -- state too large -------------------------------------------------------------------

LIMIT = 4000


def test_oversized_checkpoint_is_refused_before_writing(database, pool, tenant) -> None:
    saver = AlmaSaver(pool, settings=Settings(max_state_bytes=LIMIT))
    thread = f"big-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}

    with pytest.raises(StateTooLarge) as info:
        saver.put(
            config,
            _checkpoint({"items": ["y" * (2 * LIMIT)], "n": 1}),
            META,
            {"items": "1", "n": "1"},
        )
    err = info.value
    assert err.limit == LIMIT and err.size > LIMIT and err.channels["items"] > LIMIT
    assert "items" in str(err) and "nothing was written" in str(err)
    assert _rows(database, tenant, thread) == NOTHING

    # A large str (stored inline, not as a blob) counts too.
    with pytest.raises(StateTooLarge):
        saver.put(config, _checkpoint({"note": "z" * (2 * LIMIT)}), META, {"note": "1"})
    assert _rows(database, tenant, thread) == NOTHING

    # Just below the limit is fine.
    saver.put(config, _checkpoint({"items": ["y" * (LIMIT // 2)]}), META, {"items": "1"})
    assert _rows(database, tenant, thread)["alma_checkpoints"] == 1


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_oversized_input_through_a_graph(database, pool, tenant, durability) -> None:
    saver = AlmaSaver(pool, settings=Settings(max_state_bytes=LIMIT))
    thread = f"big-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    with pytest.raises(StateTooLarge):
        _builder().compile(checkpointer=saver).invoke(
            {"items": ["q" * (2 * LIMIT)]}, config, durability=durability
        )
    rows = _rows(database, tenant, thread)
    if durability == "async":
        # LangGraph runs the first step while the input checkpoint is still being saved
        # in the background, so that step's small writes may land before the save fails.
        # They hang off a checkpoint that was never written: no read ever sees them.
        rows["alma_checkpoint_writes"] = 0
        assert saver.get_tuple(config) is None and list(saver.list(config)) == []
    assert rows == NOTHING


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_oversized_node_output_is_not_written(database, pool, tenant, durability) -> None:
    saver = AlmaSaver(pool, settings=Settings(max_state_bytes=LIMIT))
    thread = f"big-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    graph = _builder(payload=2 * LIMIT).compile(checkpointer=saver)
    with pytest.raises(StateTooLarge):
        graph.invoke({"items": ["in"]}, config, durability=durability)

    # Nothing of the oversized value reached the tables: no blob, no pending write.
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        for table in ("alma_checkpoint_blobs", "alma_checkpoint_writes"):
            biggest = conn.execute(
                f"SELECT coalesce(max(octet_length(blob)), 0) FROM {table} "
                "WHERE tenant_id = %s AND thread_id = %s",
                (tenant, thread),
            ).fetchone()[0]
            assert biggest < LIMIT, table
    # The thread's latest checkpoint (if the mode saved any) is the one before `big`.
    latest = saver.get_tuple(config)
    if durability == "exit":
        assert latest is None
    else:
        assert latest is not None and latest.checkpoint["channel_values"]["items"] == [
            "in",
            "small",
        ]


async def test_oversized_on_async_saver(database, tenant) -> None:
    thread = f"big-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        saver = AsyncAlmaSaver(apool, settings=Settings(max_state_bytes=LIMIT))
        with pytest.raises(StateTooLarge):
            await (
                _builder(payload=2 * LIMIT)
                .compile(checkpointer=saver)
                .ainvoke({"items": ["in"]}, config)
            )
        latest = await saver.aget_tuple(config)
        assert latest is not None and latest.checkpoint["channel_values"]["items"] == [
            "in",
            "small",
        ]
    assert _rows(database, tenant, thread)["alma_checkpoints"] == 3  # input, start, small


def test_max_state_bytes_from_environment(monkeypatch, pool) -> None:
    monkeypatch.setenv("ALMA_MAX_STATE_BYTES", "1234")
    assert Settings().max_state_bytes == 1234
    saver = AlmaSaver(pool)
    with pytest.raises(StateTooLarge) as info:
        saver.put(
            {"configurable": {"thread_id": "env", "tenant_id": "t-env"}},
            _checkpoint({"items": ["e" * 2000]}),
            META,
            {"items": "1"},
        )
    assert info.value.limit == 1234


# -- tenants ---------------------------------------------------------------------------


def test_tenant_mismatch_and_invalid_tenants(database, pool, tenant) -> None:
    other = f"{tenant}-b"
    saver = AlmaSaver(pool, tenant_id=tenant)
    thread = f"tm-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": other}}
    with pytest.raises(TenantMismatch, match=other):
        saver.put(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    with pytest.raises(TenantMismatch):
        saver.put_writes(
            {"configurable": {**config["configurable"], "checkpoint_id": "c"}},
            [("items", ["a"])],
            "task",
        )
    with pytest.raises(TenantMismatch):
        _builder().compile(checkpointer=saver).invoke({"items": ["a"]}, config)
    assert issubclass(TenantMismatch, PermissionError)

    for bad in ("", 42):
        with pytest.raises(ConfigError, match="tenant_id"):
            AlmaSaver(pool).put(
                {"configurable": {"thread_id": thread, "tenant_id": bad}},
                _checkpoint({"items": ["a"]}),
                META,
                {"items": "1"},
            )
    with pytest.raises(ConfigError, match="tenant_id"):
        AlmaSaver(pool, tenant_id="")
    assert _rows(database, tenant) == NOTHING
    assert _rows(database, other) == NOTHING


# -- closed pools and connections ------------------------------------------------------


def test_closed_pool_and_connection(database, tenant) -> None:
    thread = f"closed-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    pool = ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs())
    saver = AlmaSaver(pool)
    pool.close()
    with pytest.raises(SaverClosed, match="closed"):
        saver.get_tuple(config)
    with pytest.raises(SaverClosed):
        saver.put(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    with pytest.raises(SaverClosed):
        _builder().compile(checkpointer=saver).invoke({"items": ["a"]}, config)

    conn = psycopg.connect(database.url, **connection_kwargs())
    single = AlmaSaver(conn)
    conn.close()
    with pytest.raises(SaverClosed, match="closed"):
        single.put(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    with pytest.raises(SaverClosed):
        list(single.list(config))
    assert _rows(database, tenant) == NOTHING

    with (
        psycopg.connect(database.url) as not_autocommit,
        pytest.raises(ConfigError, match="autocommit"),
    ):
        AlmaSaver(not_autocommit)


async def test_closed_async_pool_and_connection(database, tenant) -> None:
    thread = f"closed-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    apool = AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    )
    await apool.open()
    saver = AsyncAlmaSaver(apool)
    await apool.close()
    with pytest.raises(SaverClosed, match="closed"):
        await saver.aget_tuple(config)
    with pytest.raises(SaverClosed):
        await saver.aput(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    with pytest.raises(SaverClosed):
        await _builder().compile(checkpointer=saver).ainvoke({"items": ["a"]}, config)

    conn = await psycopg.AsyncConnection.connect(database.url, **connection_kwargs())
    single = AsyncAlmaSaver(conn)
    await conn.close()
    with pytest.raises(SaverClosed, match="closed"):
        await single.aput(config, _checkpoint({"items": ["a"]}), META, {"items": "1"})
    assert _rows(database, tenant) == NOTHING
