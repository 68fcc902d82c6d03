"""Every tool, called through the SDK's client against the server in a subprocess, over
stdio and over streamable HTTP: results make sense, bad arguments come back as tool
errors with a clear message, and the server keeps serving after them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from mcp import Client

from tests.mcp.conftest import error_text, payload

TOOL_NAMES = {
    "alma_retrieve",
    "alma_retrieve_scoped",
    "alma_learn",
    "alma_add_preference",
    "alma_add_knowledge",
    "alma_forget",
    "alma_stats",
    "alma_health",
    "alma_consolidate",
    "alma_checkpoint",
    "alma_resume",
    "alma_merge_states",
    "alma_workflow_learn",
    "alma_link_artifact",
    "alma_get_artifacts",
    "alma_cleanup_checkpoints",
    "alma_create_domain",
    "alma_create_work_item",
    "alma_update_progress",
    "alma_get_next_item",
    "alma_start_session",
    "alma_end_session",
    "alma_quick_reload",
    "alma_assess_confidence",
}


async def call(client: Client, tool: str, /, **arguments: Any) -> dict[str, Any]:
    return payload(await client.call_tool(tool, arguments))


async def exercise_memory(client: Client, tenant: str) -> dict[str, str]:
    health = await call(client, "alma_health")
    assert health["status"] == "ok" and health["database"] is True
    assert health["tenant"] == tenant and health["migrations"]["current"] is True
    assert health["server_version"] and health["mcp_version"]

    knowledge = await call(
        client,
        "alma_add_knowledge",
        agent="helena",
        domain="testing",
        fact="The login form validates email addresses on blur",
    )
    fact_id = knowledge["knowledge"]["id"]
    pref = await call(
        client,
        "alma_add_preference",
        user_id="ana",
        category="style",
        preference="No emojis in test names",
    )
    assert pref["preference"]["user_id"] == "ana"
    for task in ("test the login form", "test the signup form", "test the reset form"):
        learned = await call(
            client,
            "alma_learn",
            agent="helena",
            task=task,
            outcome="success",
            strategy_used="happy path first",
            task_type="testing",
        )
        assert learned["outcome"]["success"] is True

    found = await call(
        client, "alma_retrieve", task="test the checkout form", agent="helena", user_id="ana"
    )
    assert [h["strategy"] for h in found["heuristics"]] == ["happy path first"]
    assert found["heuristics"][0]["occurrence_count"] == 3
    assert any("login form" in o["task_description"] for o in found["outcomes"])
    assert [p["preference"] for p in found["preferences"]] == ["No emojis in test names"]
    assert "happy path first" in found["prompt"]
    email = await call(client, "alma_retrieve", task="email validation blur", agent="helena")
    assert fact_id in [k["id"] for k in email["domain_knowledge"]]

    scoped = await call(
        client, "alma_retrieve_scoped", task="login form", agent="victor", scope="tenant"
    )
    assert scoped["scope"] == "tenant" and scoped["outcomes"]  # helena's, tenant-wide

    stats = await call(client, "alma_stats", agent="helena")
    assert stats["counts"]["outcome"] == 3 and stats["counts"]["heuristic"] == 1

    await call(
        client, "alma_learn", agent="oscar", task="t", outcome="failure", strategy_used="guess"
    )
    forgot = await call(client, "alma_forget", agent="oscar", older_than_days=0)
    assert forgot["removed"] == 1
    assert forgot["audit"]["removed"][0]["agent"] == "oscar"

    # two texts that differ only in stop words and punctuation embed identically
    dup = await call(
        client,
        "alma_add_knowledge",
        agent="helena",
        domain="testing",
        fact="The login form validates the email addresses on blur.",
    )
    dry = await call(
        client, "alma_consolidate", kind="domain_knowledge", agent="helena", dry_run=True
    )
    assert dry["dry_run"] is True and dry["removed"] == 0
    assert len(dry["groups"]) == 1
    assert set([dry["groups"][0]["keep"], *dry["groups"][0]["merged"]]) == {
        fact_id,
        dup["knowledge"]["id"],
    }
    done = await call(client, "alma_consolidate", kind="domain_knowledge", agent="helena")
    assert done["removed"] == 1
    stats = await call(client, "alma_stats", agent="helena")
    assert stats["counts"]["domain_knowledge"] == 1
    return {"fact_id": done["groups"][0]["keep"], "gone_id": done["groups"][0]["merged"][0]}


async def exercise_workflow(client: Client, ids: dict[str, str]) -> None:
    first = await call(
        client,
        "alma_checkpoint",
        run_id="run-1",
        node_id="plan",
        workflow_id="checkout",
        state={"steps": ["a"]},
    )
    assert first["skipped"] is False and first["checkpoint"]["seq"] == 1
    same = await call(
        client,
        "alma_checkpoint",
        run_id="run-1",
        node_id="plan",
        workflow_id="checkout",
        state={"steps": ["a"]},
    )
    assert same["skipped"] is True and same["checkpoint"] is None
    await call(
        client,
        "alma_checkpoint",
        run_id="run-1",
        node_id="act",
        workflow_id="checkout",
        state={"steps": ["a", "b"]},
    )
    resumed = await call(client, "alma_resume", run_id="run-1")
    assert resumed["found"] is True
    assert resumed["checkpoint"]["seq"] == 2 and resumed["checkpoint"]["node_id"] == "act"
    assert resumed["checkpoint"]["state"]["steps"] == ["a", "b"]
    assert (await call(client, "alma_resume", run_id="no-such-run"))["found"] is False
    cleaned = await call(client, "alma_cleanup_checkpoints", run_id="run-1", keep_latest=1)
    assert cleaned["removed"] == 1
    assert (await call(client, "alma_resume", run_id="run-1"))["checkpoint"]["seq"] == 2

    merged = await call(
        client,
        "alma_merge_states",
        states=[{"log": ["a"], "n": 1}, {"log": ["b"], "n": 2}],
        field_reducers={"log": "append", "n": "sum"},
    )
    assert merged["state"] == {"log": ["a", "b"], "n": 3}

    learned = await call(
        client,
        "alma_workflow_learn",
        workflow_id="checkout",
        run_id="run-1",
        result="success",
        summary="checkout tested",
        successful_patterns=["retry once"],
        agent="helena",
    )
    assert learned["workflow_outcome"]["result"] == "success"
    assert learned["workflow_outcome"]["run_id"] == "run-1"

    linked = await call(
        client,
        "alma_link_artifact",
        memory_id=ids["fact_id"],
        artifact_type="log",
        storage_url="s3://bucket/run-1.log",
    )
    assert linked["artifact"]["memory_id"] == ids["fact_id"]
    artifacts = await call(client, "alma_get_artifacts", memory_id=ids["fact_id"])
    assert [a["storage_url"] for a in artifacts["artifacts"]] == ["s3://bucket/run-1.log"]


async def exercise_work(client: Client) -> None:
    domain = await call(
        client,
        "alma_create_domain",
        name="qa",
        learning_categories=["testing"],
        entity_types=[{"name": "test"}, {"name": "page"}],
        relationship_types=[{"name": "covers", "source_type": "test", "target_type": "page"}],
    )
    assert domain["domain"]["name"] == "qa"
    listed = await client.read_resource("alma://domains")
    names = [d["name"] for d in json.loads(listed.contents[0].text)]
    assert {"coding", "research", "sales", "general", "qa"} <= set(names)

    a = (await call(client, "alma_create_work_item", title="login form", priority=80))["item"]
    b = await call(client, "alma_create_work_item", title="login tests", blocked_by=[a["id"]])
    assert (await call(client, "alma_get_next_item"))["item"]["id"] == a["id"]
    await call(client, "alma_update_progress", item_id=a["id"], status="in_progress")
    done = await call(client, "alma_update_progress", item_id=a["id"], status="done")
    assert done["item"]["status"] == "done" and done["summary"]["by_status"]["done"] == 1
    assert (await call(client, "alma_get_next_item"))["item"]["id"] == b["item"]["id"]

    session = await call(client, "alma_start_session", agent="helena")
    assert session["suggested_focus"]["id"] == b["item"]["id"]
    handoff = await call(
        client,
        "alma_end_session",
        session_id=session["session_id"],
        agent="helena",
        summary="login form done",
        next_steps=["signup form"],
    )
    assert handoff["handoff"]["ended_at"] is not None
    reload = await call(client, "alma_quick_reload", agent="helena")
    assert "login form done" in reload["text"]

    ranked = await call(
        client,
        "alma_assess_confidence",
        task="test the payment form",
        agent="helena",
        strategies=["random clicking", "happy path first"],
    )
    assert [s["strategy"] for s in ranked["signals"]][0] == "happy path first"
    assert len(ranked["signals"]) == 2


async def exercise_bad_arguments(client: Client, ids: dict[str, str]) -> None:
    cases = [
        ("alma_learn", {"agent": "helena", "task": "t", "outcome": "success"}, "strategy_used"),
        ("alma_retrieve", {"task": "t", "agent": "helena", "top_k": "many"}, "top_k"),
        (
            "alma_learn",
            {"agent": "h", "task": "t", "outcome": "maybe", "strategy_used": "s"},
            "outcome",
        ),
        ("alma_update_progress", {"item_id": "x", "status": "finished"}, "status"),
        (
            "alma_link_artifact",
            {"memory_id": "no-such-memory", "artifact_type": "log", "storage_url": "s3://b/x"},
            "no-such-memory",
        ),
        ("alma_get_artifacts", {"memory_id": ids["gone_id"]}, ids["gone_id"]),
        ("alma_update_progress", {"item_id": "no-such-item", "status": "done"}, "no-such-item"),
        ("alma_retrieve_scoped", {"task": "t", "agent": "h", "scope": "run"}, "needs workflow_id"),
        ("alma_retrieve_scoped", {"task": "t", "agent": "h", "scope": "global"}, "--privileged"),
        ("alma_merge_states", {"states": [{"a": 1}], "field_reducers": {"a": "nope"}}, "nope"),
        ("alma_create_domain", {"name": "coding"}, "preset"),
        (
            "alma_create_domain",
            {
                "name": "bad",
                "relationship_types": [{"name": "r", "source_type": "x", "target_type": "y"}],
            },
            "not a declared entity",
        ),
        ("alma_consolidate", {"kind": "artifact_ref"}, "kind"),
        ("alma_end_session", {"session_id": "no-such-session"}, "no-such-session"),
    ]
    for name, arguments, expected in cases:
        message = error_text(await client.call_tool(name, arguments))
        assert expected in message, (name, message)
        assert name in message  # the SDK names the tool
        # and the server keeps serving
        assert (await call(client, "alma_stats"))["total"] >= 1


@pytest.mark.parametrize("transport", ["http", "stdio"])
async def test_every_tool(transport: str, start_http: Any, stdio_client: Any) -> None:
    tenant = f"mcp-{uuid.uuid4().hex[:8]}"
    if transport == "http":
        client = start_http("--tenant", tenant).client()
    else:
        client = stdio_client("--tenant", tenant)
    async with client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == TOOL_NAMES
        assert all(t.description and t.input_schema["type"] == "object" for t in tools)
        assert all("tenant_id" not in t.input_schema["properties"] for t in tools)
        ids = await exercise_memory(client, tenant)
        await exercise_workflow(client, ids)
        await exercise_work(client)
        await exercise_bad_arguments(client, ids)
