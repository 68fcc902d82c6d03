"""`alma threads` and `alma history THREAD`: checkpoint threads and their history as tables."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from langgraph.checkpoint.base import CheckpointTuple

from langgraph_alma.cli.app import app, state
from langgraph_alma.cli.output import table
from langgraph_alma.errors import ThreadNotFound


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)


def changes(tup: CheckpointTuple, parent: CheckpointTuple | None) -> tuple[list[str], list[str]]:
    """(nodes that ran, channels that changed) between a checkpoint and its parent, read
    from versions: a node ran when what it has seen moved on, a channel changed when its
    version did. Without the parent, every node and channel counts.

    >>> changes(tup, parent)                                   # doctest: +SKIP
    (['work'], ['strategy', 'success'])
    """
    seen = tup.checkpoint.get("versions_seen", {})
    versions = tup.checkpoint.get("channel_versions", {})
    old_seen = parent.checkpoint.get("versions_seen", {}) if parent else {}
    old_versions = parent.checkpoint.get("channel_versions", {}) if parent else {}
    nodes = sorted(n for n, v in seen.items() if n != "__input__" and old_seen.get(n) != v)
    channels = sorted(
        c
        for c, v in versions.items()
        if old_versions.get(c) != v and not c.startswith(("branch:", "__"))
    )
    return nodes, channels


@app.command("threads")
def threads(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option("--agent", help="only threads run by this agent")
    ] = None,
    workflow: Annotated[
        str | None, typer.Option("--workflow", help="only this workflow's threads")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many threads")] = 50,
) -> None:
    """The tenant's checkpoint threads, most recently updated first."""
    with state(ctx).alma() as alma:
        found = alma.saver.list_threads(agent=agent, workflow_id=workflow, limit=limit)
        rows = [
            (
                t.thread_id,
                t.checkpoints,
                t.last_step,
                _when(t.updated_at),
                t.workflow_id,
                t.agent,
            )
            for t in found
        ]
        title = f"threads of tenant {alma.core.tenant_id!r} ({len(rows)})"
    table(title, ["thread", "checkpoints", "last step", "updated", "workflow", "agent"], rows)


@app.command("history")
def history(
    ctx: typer.Context,
    thread: Annotated[str, typer.Argument(help="the thread id")],
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="at most this many checkpoints")
    ] = 20,
) -> None:
    """A thread's checkpoints, newest first."""
    with state(ctx).alma() as alma:
        config = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        # One more than shown: the oldest shown checkpoint's changes need its parent.
        found = list(alma.saver.list(config, limit=limit + 1))
        tenant = alma.core.tenant_id
    if not found:
        raise ThreadNotFound(thread, tenant)
    rows = []
    for i, tup in enumerate(found[:limit]):
        parent = found[i + 1] if i + 1 < len(found) else None
        nodes, channels = changes(tup, parent)
        rows.append(
            (
                tup.config["configurable"]["checkpoint_id"],
                tup.metadata.get("step"),
                tup.metadata.get("source"),
                ", ".join(nodes),
                tup.checkpoint.get("ts", ""),
                ", ".join(channels),
            )
        )
    table(
        f"history of thread {thread!r} (newest first, {len(rows)} shown)",
        ["checkpoint", "step", "source", "node", "created at", "changed channels"],
        rows,
    )
