"""MCP tools over ALMA memory: retrieve, learn, preferences, knowledge, forget, stats,
health, consolidate. Each validates its typed input and calls `AsyncAlma`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from langgraph_alma.errors import PrivilegeRequired
from langgraph_alma.mcp import shape
from langgraph_alma.mcp._tooling import Agent, OptionalAgent, TenantId, Tool
from langgraph_alma.mcp.runtime import AlmaRuntime
from langgraph_alma.memory.consolidate import DEFAULT_THRESHOLD

Text = Annotated[str, Field(min_length=1)]
TopK = Annotated[int, Field(ge=1, le=50, description="Most memories of each kind to return.")]
Scope = Literal["node", "run", "workflow", "agent", "tenant", "global"]
ConsolidatableKind = Literal[
    "heuristic",
    "outcome",
    "user_preference",
    "domain_knowledge",
    "anti_pattern",
    "workflow_outcome",
]


async def alma_retrieve(
    runtime: AlmaRuntime,
    task: Annotated[str, Field(description="What the agent is about to do.")],
    agent: Agent,
    user_id: Annotated[str | None, Field(description="Include this user's preferences.")] = None,
    top_k: TopK = 5,
    include_workflow_outcomes: bool = False,
    follow_relationships: Annotated[int, Field(ge=0, le=3)] = 0,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Memories relevant to a task for an agent (heuristics, outcomes, preferences,
    knowledge, anti-patterns), scored best first, with a prompt-ready rendering."""
    found = await runtime.alma(tenant_id).retrieve(
        task,
        agent,
        user_id=user_id,
        top_k=top_k,
        include_workflow_outcomes=include_workflow_outcomes,
        follow_relationships=follow_relationships,
        rank_by_confidence=runtime.rank_by_confidence,
    )
    return shape.memory_slice(found)


async def alma_retrieve_scoped(
    runtime: AlmaRuntime,
    task: str,
    agent: Agent,
    scope: Annotated[Scope, Field(description="How wide to look; global needs privilege.")],
    workflow_id: str | None = None,
    run_id: str | None = None,
    node_id: str | None = None,
    user_id: str | None = None,
    top_k: TopK = 5,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Retrieval limited to a scope: one node, run or workflow (give their ids), one
    agent, the whole tenant, or every tenant (global, privileged server only)."""
    if scope == "global" and not runtime.privileged:
        raise PrivilegeRequired(
            "scope 'global' reads every tenant; this server acts for one tenant "
            "(start it with --privileged)"
        )
    context = {"workflow_id": workflow_id, "run_id": run_id, "node_id": node_id}
    found = await runtime.alma(tenant_id).retrieve(
        task,
        agent,
        user_id=user_id,
        top_k=top_k,
        context={k: v for k, v in context.items() if v is not None},
        scope=scope,
        include_workflow_outcomes=True,
        rank_by_confidence=runtime.rank_by_confidence,
    )
    return {"scope": scope, **shape.memory_slice(found)}


async def alma_learn(
    runtime: AlmaRuntime,
    agent: Agent,
    task: Text,
    outcome: Literal["success", "failure"],
    strategy_used: Text,
    task_type: str | None = None,
    duration_ms: Annotated[int | None, Field(ge=0)] = None,
    error_message: str | None = None,
    feedback: str | None = None,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Record how a task went; repeated outcomes of a strategy become a heuristic (or,
    when it keeps failing, an anti-pattern)."""
    record = await runtime.alma(tenant_id).learn(
        agent, task, outcome, strategy_used, task_type, duration_ms, error_message, feedback
    )
    return {"outcome": shape.memory(record)}


async def alma_add_preference(
    runtime: AlmaRuntime,
    user_id: Text,
    category: Text,
    preference: Text,
    source: str = "explicit_instruction",
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Remember a user's preference or constraint (e.g. category "style")."""
    pref = await runtime.alma(tenant_id).add_user_preference(user_id, category, preference, source)
    return {"preference": shape.memory(pref)}


async def alma_add_knowledge(
    runtime: AlmaRuntime,
    agent: Agent,
    domain: Text,
    fact: Text,
    source: str = "user_stated",
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Remember a fact of an agent's domain (not a strategy)."""
    knowledge = await runtime.alma(tenant_id).add_domain_knowledge(agent, domain, fact, source)
    return {"knowledge": shape.memory(knowledge)}


async def alma_forget(
    runtime: AlmaRuntime,
    agent: OptionalAgent = None,
    older_than_days: Annotated[float, Field(ge=0)] = 90,
    below_confidence: Annotated[float, Field(ge=0, le=1)] = 0.3,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Remove memories that decayed, are older than `older_than_days` unused, or fell
    below `below_confidence`; every removal is audited."""
    alma = runtime.alma(tenant_id)
    removed = await alma.forget(agent, older_than_days, below_confidence)
    audit = await alma.forget_audit(limit=1) if removed else []
    return {"removed": removed, "audit": audit[0] if audit else None}


async def alma_stats(
    runtime: AlmaRuntime, agent: OptionalAgent = None, tenant_id: TenantId = None
) -> dict[str, Any]:
    """How many memories of each kind the project (or one agent) holds."""
    return await runtime.alma(tenant_id).get_stats(agent)


async def alma_health(runtime: AlmaRuntime) -> dict[str, Any]:
    """Server health: database reachable, migrations current, versions, tenant."""
    return await runtime.health()


async def alma_consolidate(
    runtime: AlmaRuntime,
    kind: ConsolidatableKind,
    agent: Annotated[
        str | None, Field(min_length=1, description="One agent (the user, for preferences).")
    ] = None,
    threshold: Annotated[float, Field(gt=0, le=1)] = DEFAULT_THRESHOLD,
    dry_run: bool = False,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Merge near-duplicate memories of one kind whose embeddings are at least
    `threshold` cosine-similar: the strongest is kept with the others' evidence folded
    in, the others are deleted, in one transaction. `dry_run` only reports."""
    report = await runtime.alma(tenant_id).consolidate(kind, agent, threshold, dry_run)
    return report.model_dump(mode="json")


TOOLS: list[Tool] = [
    alma_retrieve,
    alma_retrieve_scoped,
    alma_learn,
    alma_add_preference,
    alma_add_knowledge,
    alma_forget,
    alma_stats,
    alma_health,
    alma_consolidate,
]
