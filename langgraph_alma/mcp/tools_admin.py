"""Tools a privileged server (`alma mcp --privileged`) offers on top of the others:
thread retention across the tenants it may act for."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from pydantic import Field

from langgraph_alma.checkpoint import AsyncAlmaSaver
from langgraph_alma.mcp._tooling import TenantId, Tool
from langgraph_alma.mcp.runtime import AlmaRuntime


async def alma_prune_threads(
    runtime: AlmaRuntime,
    older_than_days: Annotated[float, Field(gt=0, le=36_500)],
    dry_run: bool = True,
    limit: Annotated[int, Field(ge=1, le=100_000)] = 1000,
    tenant_id: TenantId = None,
) -> dict[str, Any]:
    """Threads of a tenant not written for `older_than_days` (their newest checkpoint),
    oldest first; deleted with their checkpoints unless `dry_run` (the default)."""
    store = runtime.alma(tenant_id).store
    # A tenant's store is a view sharing the server store's connections: so is the saver.
    saver = AsyncAlmaSaver(runtime.store.conn, tenant_id=store.tenant_id)
    found = await saver.ainactive_threads(timedelta(days=older_than_days), limit)
    deleted = 0 if dry_run else await saver.adelete_threads(found)
    return {
        "tenant_id": store.tenant_id,
        "dry_run": dry_run,
        "threads": [
            {"thread_id": t.thread_id, "last_write_at": t.last_write_at.isoformat()} for t in found
        ],
        "deleted": deleted,
    }


TOOLS: list[Tool] = [alma_prune_threads]
