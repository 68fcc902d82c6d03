"""AlmaStore / AsyncAlmaStore accept every parameter LangGraph's PostgresStore /
AsyncPostgresStore accept (issue 20), so swapping the class name is the whole change;
and the TTL sweeper is called and awaited as LangGraph's (issue 11, item 6)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import json
import time

import pytest
from langgraph.store.postgres import AsyncPostgresStore, PostgresStore
from psycopg_pool import AsyncConnectionPool

from langgraph_alma import AlmaStore, AsyncAlmaStore
from langgraph_alma.db.connect import connection_kwargs

PAIRS = [(PostgresStore, AlmaStore), (AsyncPostgresStore, AsyncAlmaStore)]
METHODS = [
    "__init__",
    "from_conn_string",
    "setup",
    "batch",
    "abatch",
    "get",
    "aget",
    "put",
    "aput",
    "delete",
    "adelete",
    "search",
    "asearch",
    "list_namespaces",
    "alist_namespaces",
    "sweep_ttl",
    "start_ttl_sweeper",
    "stop_ttl_sweeper",
]


def rejected(theirs: inspect.Signature, ours: inspect.Signature) -> list[str]:
    """Parameters of `theirs` a call written for theirs could pass and ours would refuse.
    Strict: a `**kwargs` of ours does not count (it may forward to code that refuses)."""
    P = inspect.Parameter
    problems = []
    ours_params = list(ours.parameters.values())
    var_kw = var_pos = False
    positional = [p for p in ours_params if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]
    for index, param in enumerate(theirs.parameters.values()):
        mine = ours.parameters.get(param.name)
        if param.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD):
            # passed by position: ours must take a positional argument at that place
            if index >= len(positional) and not var_pos:
                problems.append(f"{param.name} (positional #{index})")
            elif index < len(positional) and positional[index].name != param.name:
                problems.append(f"{param.name} is {positional[index].name!r} at #{index}")
        by_name = param.kind in (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)
        if by_name and (mine is None or mine.kind is P.POSITIONAL_ONLY) and not var_kw:
            problems.append(f"{param.name} (by name)")
        if param.kind is P.VAR_KEYWORD and not var_kw:
            problems.append(f"**{param.name}")
        if param.default is P.empty or mine is None:
            continue
        if mine.default is P.empty:  # optional in theirs, required in ours
            problems.append(f"{param.name} is required")
    return problems


@pytest.mark.parametrize(("theirs", "ours"), PAIRS, ids=["sync", "async"])
@pytest.mark.parametrize("method", METHODS)
def test_ours_accepts_every_parameter_of_theirs(theirs, ours, method) -> None:
    if not hasattr(theirs, method):
        pytest.skip(f"{theirs.__name__} has no {method}")
    mine = getattr(ours, method)
    assert rejected(inspect.signature(getattr(theirs, method)), inspect.signature(mine)) == []
    # and the same kind of callable: a coroutine function where theirs is one
    if method != "from_conn_string":
        assert inspect.iscoroutinefunction(getattr(theirs, method)) == (
            inspect.iscoroutinefunction(mine)
        ), method


def test_the_checker_catches_a_missing_parameter() -> None:
    def theirs(self, conn, *, pipe=None, index=None): ...

    def ours(self, conn, *, index=None): ...

    def positional(self, *, conn, pipe=None, index=None): ...

    assert rejected(inspect.signature(theirs), inspect.signature(ours)) == ["pipe (by name)"]
    assert rejected(inspect.signature(theirs), inspect.signature(positional)) == [
        "conn (positional #1)"
    ]

    def forwarding(self, conn, **kwargs): ...  # as AlmaStore.__init__ was

    assert rejected(inspect.signature(theirs), inspect.signature(forwarding)) == [
        "pipe (by name)",
        "index (by name)",
    ]


def test_langgraph_arguments_really_work(database, tenant, ns) -> None:
    """Every argument PostgresStore takes, passed to ours: nothing fails, and the ones
    that mean something are honoured."""
    seen: list[bytes] = []

    def deserializer(raw: bytes) -> dict:
        seen.append(raw)
        return {**json.loads(raw), "deserialized": True}

    with AlmaStore.from_conn_string(
        database.url,
        pipeline=True,
        pool_config={"min_size": 1, "max_size": 3, "kwargs": {"application_name": "lg-args"}},
        index=None,
        ttl={"default_ttl": 5, "refresh_on_read": True, "sweep_interval_minutes": 1},
    ) as base:
        assert base.conn.max_size == 3
        with base.conn.connection() as conn:
            name = conn.execute("SHOW application_name").fetchone()[0]
        assert name == "lg-args"
        store = AlmaStore(base.conn, pipe=None, deserializer=deserializer, tenant_id=tenant)
        store.put(ns, "k", {"v": 1})
        assert store.get(ns, "k").value == {"v": 1, "deserialized": True}
        assert [i.value for i in store.search(ns)] == [{"v": 1, "deserialized": True}]
        assert json.loads(seen[0]) == {"v": 1}


async def test_async_langgraph_arguments_really_work(database, tenant, ns) -> None:
    async with AsyncAlmaStore.from_conn_string(
        database.url,
        pipeline=False,
        pool_config={"min_size": 1, "max_size": 2},
        ttl={"default_ttl": 5},
        tenant_id=tenant,
    ) as store:
        assert store.conn.max_size == 2
        await store.aput(ns, "k", {"v": 1})
        assert (await store.aget(ns, "k")).value == {"v": 1}


async def test_await_start_ttl_sweeper_returns_the_task(database, tenant, ns) -> None:
    """LangGraph's usage: `await store.start_ttl_sweeper()` returns (a task), it does
    not wait for the sweeper to end; `await store.stop_ttl_sweeper()` ends it."""
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as pool:
        store = AsyncAlmaStore(pool, tenant_id=tenant, ttl={"sweep_interval_minutes": 1})
        await store.aput(ns, "k", {"v": 1}, ttl=1 / 600)
        task = await asyncio.wait_for(store.start_ttl_sweeper(), timeout=5)
        assert isinstance(task, asyncio.Task) and not task.done()
        assert await store.start_ttl_sweeper() is task  # already running: the same task
        assert await store.sweep_ttl() >= 0  # a coroutine, as AsyncPostgresStore's
        assert await asyncio.wait_for(store.stop_ttl_sweeper(timeout=5), timeout=10)
        assert task.done()


async def test_stop_ttl_sweeper_timeout(database, tenant) -> None:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as pool:
        store = AsyncAlmaStore(pool, tenant_id=tenant)
        assert await store.stop_ttl_sweeper(timeout=0.1)  # not running: stopped
        await store.start_ttl_sweeper(sweep_interval_minutes=1)
        assert await store.stop_ttl_sweeper(timeout=1)


def test_sync_sweeper_future_like_postgres_store(pool, tenant) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    future = store.start_ttl_sweeper(sweep_interval_minutes=1)
    assert isinstance(future, concurrent.futures.Future) and not future.done()
    future.cancel()  # as with PostgresStore: cancelling the future stops the sweeper
    deadline = time.monotonic() + 5
    while store._sweeper.running():  # the thread ends once the future is cancelled
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert store.stop_ttl_sweeper(timeout=1)


@pytest.mark.parametrize("omit", [True, False])
def test_omit_expired(pool, tenant, ns, omit) -> None:
    """TTLConfig `omit_expired` (LangGraph's): False returns expired items until swept;
    True (our default) never returns them."""
    store = AlmaStore(pool, tenant_id=tenant, ttl={"omit_expired": omit})
    store.put(ns, "gone", {"v": 1}, ttl=1 / 600)
    store.put((*ns, "x"), "kept", {"v": 1})
    time.sleep(0.3)
    expected = set() if omit else {"gone"}
    found = store.search(ns, limit=10, refresh_ttl=False)
    assert {i.key for i in found} - {"kept"} == expected
    assert (store.get(ns, "gone", refresh_ttl=False) is None) == omit
    assert (tuple(ns) in store.list_namespaces(prefix=ns)) == (not omit)
    store.sweep_ttl()
    assert store.get(ns, "gone") is None
