"""MCP tools over workflows: checkpoint, resume, merge states, learn from a run, artifact
links, checkpoint cleanup. Each validates its typed input and calls `AsyncAlma`."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from langgraph_alma.mcp import shape
from langgraph_alma.mcp._tooling import Agent, TenantId, Tool
from langgraph_alma.mcp.runtime import AlmaRuntime
from langgraph_alma.memory.plan import arun_store_plan
from langgraph_alma.memory.types import ArtifactType, WorkflowResult
from langgraph_alma.workflow.context import WorkflowContext
from langgraph_alma.workflow.core import WORKFLOW_TASK_TYPE, WorkflowCore

Id = Annotated[str, Field(min_length=1)]
RunId = Annotated[str, Field(min_length=1, description="The run (LangGraph thread_id).")]


async def alma_checkpoint(
    runtime: AlmaRuntime,
    run_id: RunId,
    node_id: Id,
    state: Annotated[dict[str, Any], Field(description="The state the node left (JSON).")],
    workflow_id: str | None = None,
    branch_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    skip_if_unchanged: bool = True,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Save the state a node left on a run as a LangGraph checkpoint numbered by the
    database; skipped (checkpoint null) when unchanged since the branch's last one."""
    ctx = WorkflowContext(workflow_id=workflow_id, run_id=run_id, branch_id=branch_id)
    record = await runtime.alma(tenant_id).checkpoint(
        ctx,
        node_id,
        state,
        branch_id=branch_id,
        metadata=metadata,
        skip_if_unchanged=skip_if_unchanged,
    )
    return {"skipped": record is None, "checkpoint": shape.jsonable(record)}


async def alma_resume(
    runtime: AlmaRuntime, run_id: RunId, branch_id: str | None = None, tenant_id: TenantId = None
) -> dict[str, Any]:
    """Where to resume a run: its branch's last checkpoint (state, seq, node, pending
    writes); found is false when the run has none."""
    record = await runtime.alma(tenant_id).get_resume_point(run_id, branch_id)
    return {"found": record is not None, "checkpoint": shape.jsonable(record)}


async def alma_merge_states(
    runtime: AlmaRuntime,
    states: Annotated[list[dict[str, Any]], Field(min_length=1)],
    field_reducers: Annotated[
        dict[str, str], Field(description='Reducer per field, e.g. {"log": "append"}.')
    ] = {},  # noqa: B006  # a schema default, never mutated
    default_reducer: str = "last_value",
) -> dict[str, Any]:
    """Merge the states of parallel branches with named reducers (append, sum, max,
    last_value, ...) per field."""
    config = {"field_reducers": field_reducers, "default_reducer": default_reducer}
    merged = await runtime.alma().merge_states(None, states, config)
    return {"state": shape.jsonable(merged)}


async def alma_workflow_learn(
    runtime: AlmaRuntime,
    workflow_id: Id,
    run_id: RunId,
    result: WorkflowResult,
    summary: str = "",
    strategies_used: list[str] = [],  # noqa: B006
    successful_patterns: list[str] = [],  # noqa: B006
    failed_patterns: list[str] = [],  # noqa: B006
    duration_ms: Annotated[int | None, Field(ge=0)] = None,
    node_count: Annotated[int | None, Field(ge=0)] = None,
    error_message: str | None = None,
    agent: Agent | None = None,
    task_type: Annotated[
        str, Field(min_length=1, description="Category the patterns are learned under.")
    ] = WORKFLOW_TASK_TYPE,
    cleanup_checkpoints: bool = True,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Record how a workflow run ended; with an agent, learn from its successful and
    failed patterns (under `task_type`); prune the run's checkpoints unless told not to."""
    ctx = WorkflowContext(workflow_id=workflow_id, run_id=run_id)
    outcome = {
        "result": result,
        "summary": summary,
        "strategies_used": strategies_used,
        "successful_patterns": successful_patterns,
        "failed_patterns": failed_patterns,
        "duration_ms": duration_ms,
        "node_count": node_count,
        "error_message": error_message,
    }
    record = await runtime.alma(tenant_id).learn_from_workflow(
        ctx, outcome, cleanup_checkpoints=cleanup_checkpoints, agent=agent, task_type=task_type
    )
    return {"workflow_outcome": shape.memory(record)}


async def alma_link_artifact(
    runtime: AlmaRuntime,
    memory_id: Id,
    artifact_type: ArtifactType,
    storage_url: Id,
    checksum: str | None = None,
    size_bytes: Annotated[int | None, Field(ge=0)] = None,
    mime_type: str | None = None,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Link an artifact kept elsewhere (log, screenshot, report...) to a memory."""
    ref = await runtime.alma(tenant_id).link_artifact(
        memory_id, artifact_type, storage_url, checksum, size_bytes, mime_type
    )
    return {"artifact": shape.memory(ref)}


async def alma_get_artifacts(
    runtime: AlmaRuntime, memory_id: Id, tenant_id: TenantId = None
) -> dict[str, Any]:
    """The artifacts linked to a memory, oldest first (an unknown memory is an error)."""
    alma = runtime.alma(tenant_id)
    await arun_store_plan(alma.store, WorkflowCore(alma.core).find_memory(memory_id))
    refs = await alma.get_artifacts(memory_id)
    return {"memory_id": memory_id, "artifacts": [shape.memory(r) for r in refs]}


async def alma_cleanup_checkpoints(
    runtime: AlmaRuntime,
    run_id: RunId,
    keep_latest: Annotated[int, Field(ge=1)] = 1,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Delete all but the newest `keep_latest` checkpoints of each branch of a run."""
    removed = await runtime.alma(tenant_id).cleanup_checkpoints(run_id, keep_latest)
    return {"run_id": run_id, "removed": removed}


TOOLS: list[Tool] = [
    alma_checkpoint,
    alma_resume,
    alma_merge_states,
    alma_workflow_learn,
    alma_link_artifact,
    alma_get_artifacts,
    alma_cleanup_checkpoints,
]
