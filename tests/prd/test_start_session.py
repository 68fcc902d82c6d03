"""`alma_start_session` (MCP) orients a session as the `initializer` node does: the
same work items (once per key), session, rules and memories, past workflow runs
included."""

from __future__ import annotations

import uuid

from psycopg_pool import AsyncConnectionPool

from langgraph_alma import nodes
from langgraph_alma.alma import Alma
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.mcp.runtime import AlmaRuntime
from langgraph_alma.mcp.tools_work import alma_start_session
from langgraph_alma.store import AlmaStore, AsyncAlmaStore
from langgraph_alma.workflow import WorkflowContext
from tests.memory.conftest import INDEX

GOAL = "1. fix the nightly export\n2. add a regression test"


async def test_start_session_tool_orients_like_the_node(database, pool, tenant, _indexed) -> None:
    project = f"p-{uuid.uuid4().hex[:8]}"
    sync = Alma(AlmaStore(pool, index=INDEX, tenant_id=tenant), project_id=project)
    sync.learn_from_workflow(
        WorkflowContext(workflow_id="nightly", run_id="r0"),
        {"result": "failure", "summary": "the nightly export timed out"},
        agent="helena",
    )
    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        runtime = AlmaRuntime(
            store=AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant),
            tenant=tenant,
            project_id=project,
        )
        first = await alma_start_session(runtime, agent="helena", goal=GOAL, key="thread-1")
        again = await alma_start_session(runtime, agent="helena", goal=GOAL, key="thread-1")
        plain = await alma_start_session(runtime, agent="helena")
    assert [w["title"] for w in first["work_items"]] == [
        "fix the nightly export",
        "add a regression test",
    ]
    assert [w["id"] for w in again["work_items"]] == [w["id"] for w in first["work_items"]]
    assert first["session_id"] != again["session_id"]
    assert first["recommended_start"]["title"] == "fix the nightly export"
    summaries = [w["summary"] for w in first["relevant_memories"]["workflow_outcomes"]]
    assert summaries == ["the nightly export timed out"]
    assert "Past workflow runs" in first["prompt"]
    # the node, on the same thread key, finds the same items and says the same things
    node = nodes.initializer(sync, "helena", expand=True)
    out = node({"task": GOAL}, {"configurable": {"thread_id": "thread-1"}})
    assert [w["id"] for w in out["initialization"]["work_items"]] == [
        w["id"] for w in first["work_items"]
    ]
    assert out["initialization"]["scope_rules"] == first["scope_rules"]
    # without a goal: the session's orientation, past workflow runs included
    assert plain["suggested_focus"]["title"] == "fix the nightly export"
    assert [w["summary"] for w in plain["workflow_outcomes"]] == ["the nightly export timed out"]
