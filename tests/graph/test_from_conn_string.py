"""`GraphMemory.from_conn_string`: a pool made as the saver's and the store's
(`db.pools.pool_plan`), usable, and closed on exit."""

from __future__ import annotations

import pytest

from langgraph_alma.graph import AsyncGraphMemory, GraphClosed, GraphMemory


def test_sync_from_conn_string_opens_a_sized_pool_and_closes_it(database, tenant) -> None:
    with GraphMemory.from_conn_string(database.url, pool_size=3, tenant_id=tenant) as graph:
        assert graph.conn.max_size == 3
        graph.add_entity("module", "auth")
        assert graph.get_entity(("module", "auth")).name == "auth"
    with pytest.raises(GraphClosed):
        graph.get_entity(("module", "auth"))


async def test_async_from_conn_string_opens_a_sized_pool_and_closes_it(database, tenant) -> None:
    async with AsyncGraphMemory.from_conn_string(
        database.url, pool_size=2, tenant_id=tenant
    ) as graph:
        assert graph.conn.max_size == 2
        await graph.add_entity("module", "billing")
        assert (await graph.get_entity(("module", "billing"))).name == "billing"
    with pytest.raises(GraphClosed):
        await graph.get_entity(("module", "billing"))
