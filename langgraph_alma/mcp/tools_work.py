"""MCP tools over domains, work items, sessions and confidence (ALMA's PRD tools). Each
validates its typed input and calls `DomainMemoryFactory`, the progress tracker, the
session manager or the confidence engine."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from langgraph_alma.domains import AgentConfig, DomainMemoryFactory, EntityType, RelationshipType
from langgraph_alma.mcp import shape
from langgraph_alma.mcp._tooling import Agent, OptionalAgent, TenantId, Tool
from langgraph_alma.mcp.domains import save_domain
from langgraph_alma.mcp.runtime import AlmaRuntime
from langgraph_alma.memory.plan import arun_store_plan
from langgraph_alma.session.initializer import AsyncSessionInitializer

Id = Annotated[str, Field(min_length=1)]
Names = Annotated[list[str], Field(description="Category names.")]
Status = Literal["pending", "in_progress", "blocked", "review", "done", "failed"]
Strategy = Literal["priority", "blocked_unblock", "quick_win"]


async def alma_create_domain(
    runtime: AlmaRuntime,
    name: Annotated[str, Field(min_length=1, pattern=r"\S")],
    description: str = "",
    entity_types: list[EntityType] = [],  # noqa: B006  # schema defaults, never mutated
    relationship_types: list[RelationshipType] = [],  # noqa: B006
    learning_categories: Names = [],  # noqa: B006
    excluded_categories: Names = [],  # noqa: B006
    min_occurrences_for_heuristic: Annotated[int, Field(ge=1)] = 3,
    confidence_decay_days: Annotated[float, Field(gt=0)] = 30,
    agents: dict[str, AgentConfig] = {},  # noqa: B006
    replace: bool = False,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Create a custom domain schema (entity and relationship types, learning categories,
    per-agent limits); validated, stored, and listed by the alma://domains resource."""
    schema = DomainMemoryFactory.create_schema(
        name,
        {
            "description": description,
            "entity_types": [t.model_dump() for t in entity_types],
            "relationship_types": [r.model_dump() for r in relationship_types],
            "learning_categories": learning_categories,
            "excluded_categories": excluded_categories,
            "min_occurrences_for_heuristic": min_occurrences_for_heuristic,
            "confidence_decay_days": confidence_decay_days,
            "agents": {a: c.model_dump() for a, c in agents.items()},
        },
    )
    alma = runtime.alma(tenant_id)
    saved = await arun_store_plan(alma.store, save_domain(schema, runtime.project_id, replace))
    return {"domain": shape.jsonable(saved)}


async def alma_create_work_item(
    runtime: AlmaRuntime,
    title: Annotated[str, Field(min_length=1)],
    description: str = "",
    item_type: str = "task",
    priority: Annotated[int, Field(ge=0, le=100)] = 50,
    agent: OptionalAgent = None,
    parent_id: str | None = None,
    blocked_by: Annotated[list[str], Field(description="Ids of items this one waits on.")] = [],  # noqa: B006
    tests: list[str] = [],  # noqa: B006
    estimate_ms: Annotated[int | None, Field(ge=0)] = None,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Create a work item (feature, bug, task, test) with a priority and dependencies."""
    item = await runtime.progress(tenant_id).create_work_item(
        title,
        description=description,
        item_type=item_type,
        priority=priority,
        agent=agent,
        parent_id=parent_id,
        blocked_by=blocked_by,
        tests=tests,
        estimate_ms=estimate_ms,
    )
    return {"item": shape.jsonable(item)}


async def alma_update_progress(
    runtime: AlmaRuntime,
    item_id: Id,
    status: Status,
    tests_passing: bool | None = None,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Move a work item to a new status (transitions are checked); returns the item and
    the project's progress summary."""
    tracker = runtime.progress(tenant_id)
    item = await tracker.set_status(item_id, status, tests_passing=tests_passing)
    summary = await tracker.get_progress_summary()
    return {"item": shape.jsonable(item), "summary": shape.jsonable(summary)}


async def alma_get_next_item(
    runtime: AlmaRuntime,
    agent: OptionalAgent = None,
    strategy: Strategy = "priority",
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """The work item to do next (unblocked, by priority, unblocking power or quick win);
    item is null when nothing is ready."""
    item = await runtime.progress(tenant_id).get_next_item(agent=agent, strategy=strategy)
    return {"item": shape.jsonable(item)}


async def alma_start_session(
    runtime: AlmaRuntime,
    agent: OptionalAgent = None,
    goal: Annotated[
        str | None,
        Field(description="What this session is for; given, it is turned into work items."),
    ] = None,
    key: Annotated[
        str | None,
        Field(description="A session key (e.g. a thread id): a rerun makes no new items."),
    ] = None,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Open a session: the previous handoff, progress, suggested focus, carried blockers
    and the memories relevant to the focus (past workflow runs included). With a goal
    and an agent, the same initialization as the `initializer` node: work items (made
    once per key), rules, constraints, quality gates, where to start and a prompt."""
    if goal is None:
        return shape.record(await runtime.sessions(tenant_id).start_session(agent=agent))
    if agent is None:
        raise ValueError("a session with a goal needs an agent")
    alma = runtime.alma(tenant_id)
    result = await AsyncSessionInitializer(alma).initialize(
        runtime.project_id, agent, goal, key=key
    )
    return {**shape.record(result), "prompt": result.to_prompt()}


async def alma_end_session(
    runtime: AlmaRuntime,
    session_id: Id,
    agent: OptionalAgent = None,
    summary: str = "",
    key_decisions: list[str] = [],  # noqa: B006
    blockers: list[str] = [],  # noqa: B006
    next_steps: list[str] = [],  # noqa: B006
    work_items: list[str] = [],  # noqa: B006
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Close a session with its handoff: summary, key decisions, blockers, next steps."""
    handoff = await runtime.sessions(tenant_id).end_session(
        session_id,
        agent=agent,
        summary=summary,
        key_decisions=key_decisions,
        blockers=blockers,
        next_steps=next_steps,
        work_items=work_items,
    )
    return {"handoff": shape.jsonable(handoff)}


async def alma_quick_reload(
    runtime: AlmaRuntime, agent: OptionalAgent = None, tenant_id: TenantId = None
) -> dict[str, Any]:
    """A short text of where things stand (last handoff, progress, next item), to put
    back into a fresh context."""
    return {"text": await runtime.sessions(tenant_id).get_quick_reload(agent=agent)}


async def alma_assess_confidence(
    runtime: AlmaRuntime,
    task: Annotated[str, Field(min_length=1)],
    agent: Agent,
    strategies: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)],
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """How likely each strategy is to succeed on this task, from similar outcomes,
    heuristics and anti-patterns: signals best first, with risks and a recommendation."""
    ranked = await runtime.confidence(tenant_id).rank_strategies(strategies, task, agent)
    signals = [signal for _, signal in ranked]
    return {"task": task, "signals": shape.jsonable(signals)}


TOOLS: list[Tool] = [
    alma_create_domain,
    alma_create_work_item,
    alma_update_progress,
    alma_get_next_item,
    alma_start_session,
    alma_end_session,
    alma_quick_reload,
    alma_assess_confidence,
]
