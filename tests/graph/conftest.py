"""Fixtures of the graph tests: each test runs against GraphMemory and AsyncGraphMemory.

`graph` is an awaitable face over either: `await graph.add_entity(...)` calls the sync
method directly or awaits the async one, so one test body covers both shells.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.graph import AsyncGraphMemory, GraphMemory


class Awaitable:
    """Every method of a sync or async graph memory, awaitable."""

    def __init__(self, memory: GraphMemory | AsyncGraphMemory) -> None:
        self.memory = memory

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.memory, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if isinstance(self.memory, AsyncGraphMemory) else result

        return call


@pytest.fixture(scope="session")
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture(scope="session")
async def apool(database) -> AsyncIterator[AsyncConnectionPool]:
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=4, kwargs=connection_kwargs(), open=False
    ) as p:
        yield p


@pytest.fixture(params=["sync", "async"])
def make_graph(request, pool, apool, tenant) -> Callable[..., Awaitable]:
    """`make_graph(**kwargs)`: a graph memory (of this test's tenant unless given)."""

    def make(**kwargs: Any) -> Awaitable:
        kwargs.setdefault("tenant_id", tenant)
        if request.param == "sync":
            return Awaitable(GraphMemory(pool, **kwargs))
        return Awaitable(AsyncGraphMemory(apool, **kwargs))

    return make


@pytest.fixture
def graph(make_graph) -> Awaitable:
    return make_graph()
