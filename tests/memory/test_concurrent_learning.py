"""Concurrent learns of one strategy: each recounts the strategy's outcomes and rewrites
its heuristic, so the learns of one agent run one at a time (`store.atomic`) and the
heuristic ends with every outcome counted."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from psycopg_pool import AsyncConnectionPool

from langgraph_alma.alma import AsyncAlma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.memory.scope import MemoryScope
from langgraph_alma.store import AsyncAlmaStore
from tests.memory.conftest import INDEX

SCOPES = {"helena": MemoryScope(agent_name="helena", min_occurrences_for_heuristic=1)}


@pytest.fixture
async def apool(database) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=6, kwargs=connection_kwargs(), open=False
    ) as p:
        yield p


def test_threads_learning_one_strategy_count_every_outcome(make_alma) -> None:
    alma = make_alma(scopes=SCOPES)

    def learn(i: int) -> None:
        ok = "success" if i % 3 else "failure"
        alma.learn("helena", f"fix the flaky login test {i}", ok, "pin the clock")

    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=6) as pool:
        warnings.simplefilter("ignore")
        list(pool.map(learn, range(24)))
    found = alma.retrieve("fix the flaky login test", agent="helena", top_k=3)
    (heuristic,) = [h for h in found.heuristics if h.strategy == "pin the clock"]
    assert (heuristic.occurrence_count, heuristic.success_count) == (24, 16)


async def test_tasks_learning_one_strategy_count_every_outcome(apool, tenant, _indexed) -> None:
    alma = AsyncAlma(AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant), scopes=SCOPES)
    await asyncio.gather(
        *(alma.learn("helena", f"flaky login {i}", "success", "pin the clock") for i in range(12))
    )
    found = await alma.retrieve("flaky login", agent="helena", top_k=3)
    (heuristic,) = [h for h in found.heuristics if h.strategy == "pin the clock"]
    assert heuristic.occurrence_count == 12
