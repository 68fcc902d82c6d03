"""`db.pools`: the connection handling the saver and the store share (`from_conn_string`'s
pools and their arguments, `setup()`'s connection, closing), on all four shells."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest
from psycopg.rows import dict_row

from langgraph_alma import AlmaSaver, AlmaStore, AsyncAlmaSaver, AsyncAlmaStore
from langgraph_alma.checkpoint import SaverClosed
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.db.pools import AsyncPooled, Pooled, pool_plan
from langgraph_alma.store import StoreClosed

URL = "postgresql://app@db.example/alma"
ADMIN = "postgresql://admin@db.example/alma"


def test_pool_plan_honours_langgraph_pool_config(monkeypatch) -> None:
    monkeypatch.setenv("ALMA_POOL_MAX_SIZE", "7")
    monkeypatch.delenv("ALMA_READ_DATABASE_URL", raising=False)
    config = {
        "min_size": 2,
        "max_size": 5,
        "timeout": 3.0,
        "kwargs": {"row_factory": dict_row, "autocommit": False, "application_name": "x"},
    }
    plan = pool_plan(URL, pool_config=config)
    assert (plan.url, plan.admin_url, plan.read_url) == (URL, URL, None)
    # Autocommit stays, rows stay tuples (statements read them by position).
    kwargs = {**connection_kwargs(), "application_name": "x", "autocommit": True}
    assert plan.args == {"min_size": 2, "max_size": 5, "timeout": 3.0, "kwargs": kwargs}
    assert config["kwargs"]["row_factory"] is dict_row  # the caller's mapping is untouched

    assert pool_plan(URL, pool_size=4, pool_config=config).args["max_size"] == 4
    default = pool_plan(URL)
    assert default.args == {"min_size": 1, "max_size": 7, "kwargs": connection_kwargs()}


def test_pool_plan_privileged_and_replica(monkeypatch) -> None:
    monkeypatch.setenv("ALMA_READ_DATABASE_URL", "postgresql://replica/alma")
    plan = pool_plan(URL, admin_url=ADMIN, privileged=True)
    assert (plan.url, plan.admin_url) == (ADMIN, ADMIN)
    assert plan.read_url == "postgresql://replica/alma"
    plan = pool_plan(URL, admin_url=ADMIN, read_url="postgresql://other/alma")
    assert (plan.url, plan.admin_url, plan.read_url) == (URL, ADMIN, "postgresql://other/alma")


def test_the_saver_and_the_store_share_one_base() -> None:
    assert issubclass(AsyncAlmaSaver, AsyncPooled) and issubclass(AsyncAlmaStore, AsyncPooled)
    assert issubclass(AlmaSaver, Pooled) and issubclass(AlmaStore, Pooled)


def _config(tenant: str) -> dict:
    return {"configurable": {"thread_id": f"pools-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}


def _checkpoint() -> dict:
    from langgraph.checkpoint.base import empty_checkpoint

    return empty_checkpoint()


def test_sync_shells_open_use_and_close_their_pools(database, tenant) -> None:
    """With no URL: the database of `ALMA_DATABASE_URL`, migrated as `ALMA_ADMIN_DATABASE_URL`."""
    ns = ("pools", tenant)
    with AlmaSaver.from_conn_string(pool_size=2, ttl={"default_ttl": 60}) as saver:
        saver.setup()
        assert saver.conn.max_size == 2
        config = saver.put(_config(tenant), _checkpoint(), {}, {})
        assert saver.get_tuple(config) is not None
        sweeper = saver.start_ttl_sweeper(60)
        assert isinstance(sweeper, threading.Thread) and sweeper.is_alive()
    assert not sweeper.is_alive()  # stopped on exit, before the pool closed
    with pytest.raises(SaverClosed, match="this saver's connection pool is closed"):
        saver.get_tuple(config)

    with AlmaStore.from_conn_string(
        None,
        pool_config={"max_size": 3, "kwargs": {"row_factory": dict_row}},
        tenant_id=tenant,
        ttl={"default_ttl": 5, "sweep_interval_minutes": 1},
    ) as store:
        store.setup()
        assert store.conn.max_size == 3
        store.put(ns, "k", {"v": 1})
        assert store.get(ns, "k").value == {"v": 1}  # rows read as tuples, not dicts
        sweeper = store.start_ttl_sweeper()  # a future, as PostgresStore's
        assert not sweeper.done()
    assert sweeper.done()
    with pytest.raises(StoreClosed, match="this store's connection pool is closed"):
        store.get(ns, "k")


async def test_async_shells_open_use_and_close_their_pools(database, tenant) -> None:
    ns = ("pools", tenant)
    async with AsyncAlmaSaver.from_conn_string(pool_size=2, ttl={"default_ttl": 60}) as saver:
        await saver.setup()
        assert saver.conn.max_size == 2
        config = await saver.aput(_config(tenant), _checkpoint(), {}, {})
        assert await saver.aget_tuple(config) is not None
        task = await saver.start_ttl_sweeper(60)
        assert isinstance(task, asyncio.Task) and not task.done()
    assert task.done()
    with pytest.raises(SaverClosed, match="this saver's connection pool is closed"):
        await saver.aget_tuple(config)

    async with AsyncAlmaStore.from_conn_string(
        None,
        pool_config={"max_size": 3, "kwargs": {"row_factory": dict_row}},
        tenant_id=tenant,
        ttl={"default_ttl": 5, "sweep_interval_minutes": 1},
    ) as store:
        await store.setup()
        assert store.conn.max_size == 3
        await store.aput(ns, "k", {"v": 1})
        assert (await store.aget(ns, "k")).value == {"v": 1}
        task = await store.start_ttl_sweeper()
        assert not task.done()
    assert task.done()
    with pytest.raises(StoreClosed, match="this store's connection pool is closed"):
        await store.aget(ns, "k")
