"""The saver's public seams (issue 17): what the facade, workflow and transfer use from a
saver, under public names: `saver.core` (its `SaverCore`), `saver.run(plan)` /
`await saver.arun(plan)` (a plan on its connection), and `SaverCore`, `ChannelMemory` and
`PRUNE_BLOBS` exported by the checkpoint package."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated

from langgraph.graph import END, START, StateGraph
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from typing_extensions import TypedDict

from langgraph_alma.checkpoint import AlmaSaver, AsyncAlmaSaver, ChannelMemory, SaverCore
from langgraph_alma.checkpoint.plans import PRUNE_BLOBS
from langgraph_alma.db.connect import connection_kwargs


class State(TypedDict):
    items: Annotated[list[str], operator.add]


def _graph():
    builder = StateGraph(State)
    builder.add_node("add", lambda s: {"items": ["x"]})
    builder.add_edge(START, "add")
    builder.add_edge("add", END)
    return builder


def test_sync_saver_runs_its_core_plans(database, tenant) -> None:
    thread = f"seam-{uuid.uuid4().hex[:8]}"
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        saver = AlmaSaver(p).for_tenant(tenant)
        assert isinstance(saver.core, SaverCore) and saver.core.tenant_id == tenant
        assert isinstance(saver.core.memory, ChannelMemory)
        graph = _graph().compile(checkpointer=saver)
        graph.invoke({"items": []}, {"configurable": {"thread_id": thread}})
        threads = saver.run(saver.core.threads(limit=10), transaction=True)
        assert [t.thread_id for t in threads] == [thread]
        # A view's core is its own: the parent saver's tenant is unchanged.
        assert AlmaSaver(p).core.tenant_id is None


async def test_async_saver_runs_its_core_plans(database, tenant) -> None:
    thread = f"seam-{uuid.uuid4().hex[:8]}"
    kw = connection_kwargs()
    async with AsyncConnectionPool(database.url, min_size=1, max_size=2, kwargs=kw) as p:
        saver = AsyncAlmaSaver(p).for_tenant(tenant)
        assert isinstance(saver.core, SaverCore) and saver.core.tenant_id == tenant
        graph = _graph().compile(checkpointer=saver)
        await graph.ainvoke({"items": []}, {"configurable": {"thread_id": thread}})
        threads = await saver.arun(saver.core.threads(limit=10))
        assert [t.thread_id for t in threads] == [thread]
        tup = await saver.arun(saver.core.get_tuple({"configurable": {"thread_id": thread}}))
        assert tup is not None and tup.checkpoint["channel_values"]["items"] == ["x"]


def test_prune_blobs_is_the_statement_the_saver_prunes_with() -> None:
    from langgraph_alma.checkpoint import _sql

    assert PRUNE_BLOBS == _sql.PRUNE_BLOBS and "alma_checkpoint_blobs" in PRUNE_BLOBS
