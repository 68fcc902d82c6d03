"""`alma threads [--expired]`, `alma prune --older-than 30d` and `alma history THREAD`:
checkpoint threads, their retention and their history."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

import typer
from langgraph.checkpoint.base import CheckpointTuple

from langgraph_alma.cli.app import app, state
from langgraph_alma.cli.output import progress_bar, say, table
from langgraph_alma.errors import ThreadNotFound

PRUNE_BATCH = 500  # threads deleted per transaction


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
    expired: Annotated[
        bool, typer.Option("--expired", help="only threads past their TTL (AlmaSaver ttl=)")
    ] = False,
) -> None:
    """The tenant's checkpoint threads, most recently updated first."""
    if expired:
        with state(ctx).alma() as alma:
            gone = alma.saver.expired_threads(limit)
            tenant = alma.core.tenant_id
        table(
            f"expired threads of tenant {tenant!r} ({len(gone)}), the next sweep's",
            ["thread", "last write", "expired at"],
            [(t.thread_id, _when(t.last_write_at), _when(t.expires_at)) for t in gone],
        )
        return
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


def parse_age(text: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` (or a number of days) as a timedelta.

    >>> parse_age("30d")
    datetime.timedelta(days=30)
    """
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw]?)\s*", text)
    if not match or float(match[1]) <= 0:
        raise typer.BadParameter(f"{text!r}: use a positive number with m, h, d or w (e.g. 30d)")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "days"}[match[2]]
    return timedelta(**{unit: float(match[1])})


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="threads not written for this long: 30d, 12h, 2w")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only show what would go")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="at most this many threads")
    ] = 100_000,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="a progress bar (default: on a terminal)"),
    ] = None,
) -> None:
    """Delete the tenant's threads whose newest checkpoint is older than --older-than."""
    age = parse_age(older_than)
    with state(ctx).alma() as alma:
        going = alma.saver.inactive_threads(age, limit)
        tenant = alma.core.tenant_id
        if not going:
            say(f"no thread of tenant {tenant!r} is older than {older_than}")
            return
        table(
            f"{len(going)} threads of tenant {tenant!r} not written for {older_than}",
            ["thread", "last write"],
            [(t.thread_id, _when(t.last_write_at)) for t in going[:50]],
        )
        if dry_run:
            say(f"dry run: {len(going)} threads would be deleted")
            return
        if not yes and not typer.confirm(f"delete these {len(going)} threads?", err=True):
            say("nothing deleted")
            raise typer.Exit(1)
        done = 0
        with progress_bar("deleting", progress) as bar:
            for start in range(0, len(going), PRUNE_BATCH):
                done += alma.saver.delete_threads(going[start : start + PRUNE_BATCH])
                if bar:
                    bar(done, len(going))
    say(f"deleted {done} threads")


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
