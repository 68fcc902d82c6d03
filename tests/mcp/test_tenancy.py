"""Tenancy: a server acts for one tenant and no argument reaches another; a privileged
server takes `tenant_id` and may retrieve across tenants (GLOBAL)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.mcp.conftest import error_text, payload

SECRET = "The vault combination rotates every Tuesday"


def new_tenant() -> str:
    return f"mcp-{uuid.uuid4().hex[:8]}"


async def test_a_server_cannot_see_another_tenants_data(start_http: Any) -> None:
    owner, other = new_tenant(), new_tenant()
    async with start_http("--tenant", owner).client() as client:
        added = payload(
            await client.call_tool(
                "alma_add_knowledge", {"agent": "helena", "domain": "ops", "fact": SECRET}
            )
        )
        memory_id = added["knowledge"]["id"]
        found = payload(
            await client.call_tool(
                "alma_retrieve", {"task": "vault combination", "agent": "helena"}
            )
        )
        assert [k["fact"] for k in found["domain_knowledge"]] == [SECRET]

    async with start_http("--tenant", other).client() as client:
        tools = (await client.list_tools()).tools
        assert all("tenant_id" not in t.input_schema["properties"] for t in tools)
        for arguments in (
            {"task": "vault combination", "agent": "helena"},
            {"task": "vault combination", "agent": "helena", "tenant_id": owner},  # ignored
        ):
            found = payload(await client.call_tool("alma_retrieve", arguments))
            assert found["domain_knowledge"] == [] and found["total"] == 0
        scoped = payload(
            await client.call_tool(
                "alma_retrieve_scoped",
                {"task": "vault combination", "agent": "x", "scope": "tenant"},
            )
        )
        assert scoped["total"] == 0
        stats = payload(await client.call_tool("alma_stats", {"tenant_id": owner}))
        assert stats["total"] == 0
        message = error_text(await client.call_tool("alma_get_artifacts", {"memory_id": memory_id}))
        assert memory_id in message and "no memory" in message
        health = payload(await client.call_tool("alma_health", {}))
        assert health["tenant"] == other and health["privileged"] is False


async def test_a_privileged_server_acts_for_any_tenant(start_http: Any) -> None:
    home, elsewhere = new_tenant(), new_tenant()
    async with start_http("--privileged", "--tenant", home).client() as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "tenant_id" in tools["alma_retrieve"].input_schema["properties"]
        assert "tenant_id" not in tools["alma_health"].input_schema["properties"]
        added = payload(
            await client.call_tool(
                "alma_add_knowledge",
                {"agent": "helena", "domain": "ops", "fact": SECRET, "tenant_id": elsewhere},
            )
        )
        assert added["knowledge"]["tenant_id"] == elsewhere
        here = payload(
            await client.call_tool(
                "alma_retrieve", {"task": "vault combination", "agent": "helena"}
            )
        )
        assert here["domain_knowledge"] == []  # the server's own tenant has nothing
        there = payload(
            await client.call_tool(
                "alma_retrieve",
                {"task": "vault combination", "agent": "helena", "tenant_id": elsewhere},
            )
        )
        assert [k["fact"] for k in there["domain_knowledge"]] == [SECRET]
        everywhere = payload(
            await client.call_tool(
                "alma_retrieve_scoped",
                {"task": "vault combination", "agent": "helena", "scope": "global"},
            )
        )
        assert SECRET in [k["fact"] for k in everywhere["domain_knowledge"]]

    async with start_http("--tenant", elsewhere).client() as client:  # and it is really there
        found = payload(
            await client.call_tool(
                "alma_retrieve", {"task": "vault combination", "agent": "helena"}
            )
        )
        assert [k["fact"] for k in found["domain_knowledge"]] == [SECRET]


async def test_only_a_privileged_server_prunes_threads(start_http: Any, database: Any) -> None:
    """`alma_prune_threads` exists on a privileged server only, shows (dry run) then
    deletes a tenant's threads not written for a while, and leaves recent ones."""
    import psycopg
    from langchain_core.messages import HumanMessage

    from langgraph_alma import AlmaSaver
    from tests.cli.conftest import _chat_graph

    tenant = new_tenant()
    with AlmaSaver.from_conn_string(database.url, tenant_id=tenant) as saver:
        graph = _chat_graph().compile(checkpointer=saver)
        for thread in ("old", "recent"):
            graph.invoke(
                {"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": thread}}
            )
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alma_checkpoints SET created_at = now() - interval '40 days' "
            "WHERE tenant_id = %s AND thread_id = 'old'",
            (tenant,),
        )
    async with start_http("--tenant", tenant).client() as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "alma_prune_threads" not in names
    async with start_http("--privileged", "--tenant", new_tenant()).client() as client:
        args = {"older_than_days": 30, "tenant_id": tenant}
        shown = payload(await client.call_tool("alma_prune_threads", args))
        assert [t["thread_id"] for t in shown["threads"]] == ["old"] and shown["deleted"] == 0
        done = payload(await client.call_tool("alma_prune_threads", {**args, "dry_run": False}))
        assert done["deleted"] == 1
    with AlmaSaver.from_conn_string(database.url, tenant_id=tenant) as saver:
        assert list(saver.list({"configurable": {"thread_id": "old"}})) == []
        assert list(saver.list({"configurable": {"thread_id": "recent"}}))
