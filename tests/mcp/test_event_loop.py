"""The MCP server's calls keep its event loop free: while a big async call runs on a real
database (stats and forget over 10,000 memories, a search returning 10,000 items, a
retrieve and a learn beside them), a probe task on the same loop is never held for long.

The server runs one event loop for every client, so a call that decodes or converts
thousands of items on it makes every other client wait (issue 22: 742 ms measured under
16 sessions). The heap is frozen first, as `alma mcp` does at startup
(`freeze_startup_heap`), so what is measured is the calls' own work on the loop.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading
import time
from collections.abc import Awaitable, Iterator
from typing import Any

import pytest
from langgraph.store.base import PutOp

from langgraph_alma.alma import AsyncAlma
from langgraph_alma.alma import _async as alma_async
from langgraph_alma.alma import _base as alma_base
from langgraph_alma.mcp import tools_memory
from langgraph_alma.mcp.runtime import open_runtime
from langgraph_alma.mcp.server import freeze_startup_heap
from langgraph_alma.memory import Outcome
from langgraph_alma.memory import items as it
from langgraph_alma.store import AlmaStore, AsyncAlmaStore

N = 10_000
AGENT, STRATEGY = "heavy", "retry with backoff"
BOUND = 0.100
"""Longest a call may hold the loop here: generous for a busy two-core machine (the calls
measured 15-30 ms at a load average of 7); each of the big calls held it 250-800 ms
before they decoded and converted off the loop."""


@pytest.fixture
def heavy_tenant(database: Any, tenant: str) -> str:
    """`tenant` with N outcomes of one agent and strategy, written straight to the store."""
    ops = []
    for i in range(N):
        m = Outcome(
            task_type="deploys",
            task_description=f"deploy {i}",
            success=i % 3 != 0,
            strategy_used=STRATEGY,
        )
        m.agent, m.tenant_id = AGENT, tenant
        ops.append(PutOp(it.namespace(m), m.id, it.to_value(m), index=False))
    with AlmaStore.from_conn_string(database.url, tenant_id=tenant) as store:
        for start in range(0, N, 2_000):
            store.batch(ops[start : start + 2_000])
    return tenant


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    freeze_startup_heap()
    yield
    gc.unfreeze()


async def _longest_stall(call: Awaitable[Any]) -> tuple[float, Any]:
    """(longest lateness of a 1 ms sleeper on this loop while `call` ran, its result)."""
    loop = asyncio.get_running_loop()
    late: list[float] = [0.0]

    async def probe() -> None:
        while True:
            start = loop.time()
            await asyncio.sleep(0.001)
            late.append(loop.time() - start - 0.001)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0.01)
    try:
        result = await call
        await asyncio.sleep(0.02)  # a stall at the very end shows as the probe's next wake
    finally:
        task.cancel()
    return max(late), result


async def test_big_async_calls_keep_the_event_loop_free(
    database: Any, heavy_tenant: str, frozen_heap: None
) -> None:
    async with AsyncAlmaStore.from_conn_string(database.url, tenant_id=heavy_tenant) as store:
        alma = AsyncAlma(store)
        stalls: dict[str, float] = {}
        stalls["get_stats"], stats = await _longest_stall(alma.get_stats())
        stalls["forget"], forgotten = await _longest_stall(
            alma.forget(AGENT, older_than_days=90, below_confidence=0.0)
        )
        stalls["search"], found = await _longest_stall(
            store.asearch(it.kind_prefix("default", it.MemoryKind.OUTCOME), limit=N)
        )
        stalls["retrieve"], _ = await _longest_stall(alma.retrieve("deploy", agent=AGENT))
        stalls["learn"], learned = await _longest_stall(
            alma.learn(AGENT, "deploy again", "success", STRATEGY, task_type="deploys")
        )
        # Every outcome is older than 0 days: N + 1 removed, audited, in one transaction.
        stalls["forget_all"], removed = await _longest_stall(
            alma.forget(AGENT, older_than_days=0, below_confidence=0.0)
        )
    # The calls did their work (every item seen), not a shortcut.
    assert stats["counts"]["outcome"] == N
    assert forgotten == 0  # all recent, none below confidence 0
    assert len(found) == N
    assert learned.strategy_used == STRATEGY
    assert removed >= N + 1
    assert max(stalls.values()) < BOUND, {k: f"{v * 1000:.0f} ms" for k, v in stalls.items()}


def test_the_probe_sees_a_stall() -> None:
    """The measure itself: a call that blocks the loop for 150 ms is seen as one."""

    async def blocking() -> None:
        await asyncio.sleep(0.005)
        time.sleep(0.150)  # CPU-bound work on the loop, as decoding on it was

    stall, _ = asyncio.run(_longest_stall(blocking()))
    assert stall >= 0.140


def _settings_readers(monkeypatch: pytest.MonkeyPatch) -> list[threading.Thread]:
    """The thread of every settings read by the facade."""
    threads: list[threading.Thread] = []
    real = alma_base.get_settings

    def spy() -> Any:
        threads.append(threading.current_thread())
        return real()

    for module in (alma_async, alma_base):  # wherever the facade may read them
        monkeypatch.setattr(module, "get_settings", spy, raising=False)
    return threads


async def test_retrieve_reads_no_settings(
    database: Any, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading the settings (the environment and the config file, ~4 ms of CPU) was done
    on the loop by every retrieve: the facade reads them once, when it is made, and its
    retrieves read none (nor do the server's, which pass the setting it read at startup)."""
    async with AsyncAlmaStore.from_conn_string(database.url, tenant_id=tenant) as store:
        threads = _settings_readers(monkeypatch)
        alma = AsyncAlma(store)
        assert threads  # made: read once
        threads.clear()
        await alma.retrieve("deploy", agent=AGENT)
        await alma.retrieve("deploy again", agent=AGENT)
        assert threads == []
        monkeypatch.setenv("ALMA_DATABASE_URL", database.url)
        monkeypatch.setenv("ALMA_TENANT_ID", tenant)
        monkeypatch.setenv("ALMA_CONFIG", os.devnull)
        monkeypatch.setenv("ALMA_RANK_HEURISTICS_BY_CONFIDENCE", "false")
        async with open_runtime() as runtime:
            runtime.alma()  # the server's facade, built (settings read) once
            threads.clear()
            assert runtime.rank_by_confidence is False
            await tools_memory.alma_retrieve(runtime, "deploy", AGENT)
            await tools_memory.alma_retrieve_scoped(runtime, "deploy", AGENT, "agent")
            assert threads == []
