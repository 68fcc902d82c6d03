"""`alma memories search`, `alma stats` and `alma forget`: the memory layer from a shell."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from langgraph.store.base import PutOp

from langgraph_alma.cli.app import app, state
from langgraph_alma.cli.output import say, table
from langgraph_alma.memory.scope import RetrievalScope

memories_app = typer.Typer(help="Search what agents learned.", no_args_is_help=True)
app.add_typer(memories_app, name="memories")

# (MemorySlice field, title, how one memory reads in a table cell)
KINDS: list[tuple[str, str, Any]] = [
    (
        "heuristics",
        "heuristics",
        lambda m: (
            f"when {m.condition}: {m.strategy} "
            f"(confidence {m.confidence:.2f}, {m.success_count}/{m.occurrence_count} succeeded)"
        ),
    ),
    (
        "anti_patterns",
        "anti-patterns",
        lambda m: (
            f"don't: {m.pattern}. {m.why_bad}"
            + (f". instead: {m.better_alternative}" if m.better_alternative else "")
        ),
    ),
    ("preferences", "user preferences", lambda m: f"[{m.category}] {m.preference}"),
    ("domain_knowledge", "domain knowledge", lambda m: f"[{m.domain}] {m.fact}"),
    (
        "outcomes",
        "outcomes",
        lambda m: (
            f"{'succeeded' if m.success else 'failed'}: {m.task_description} "
            f"(strategy: {m.strategy_used})"
        ),
    ),
    ("workflow_outcomes", "workflow outcomes", lambda m: m.search_text()),
]


@memories_app.command("search")
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="the task to find memories for")],
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", "-a", help="the agent whose memories to search (and those it may read)"
        ),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="also this user's preferences")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="memories per kind")] = 5,
) -> None:
    """Memories relevant to QUERY, scored, a table per kind: one agent's, or without
    --agent every agent's in the tenant. Looking does not count as a use (no reinforcement)."""
    scope = RetrievalScope.AGENT if agent else RetrievalScope.TENANT
    with state(ctx).alma() as alma:
        found = alma.retrieve(
            query, agent=agent or "", user_id=user, top_k=top_k, scope=scope, record_use=False
        )
    shown = 0
    for field, title, describe in KINDS:
        memories = getattr(found, field)
        if not memories:
            continue
        rows = [(f"{found.scores.get(m.id, 0.0):.3f}", describe(m), m.id) for m in memories]
        table(f"{title} ({len(rows)})", ["score", "memory", "id"], rows)
        shown += len(rows)
    if not shown:
        whose = f"agent {agent!r}" if agent else "any agent of this tenant"
        say(f"no memories of {whose} match {query!r}")


@app.command("stats")
def stats(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="only this agent's memories")
    ] = None,
) -> None:
    """How many memories of each kind the project holds."""
    with state(ctx).alma() as alma:
        found = alma.get_stats(agent)
        tenant = alma.core.tenant_id
    who = f", agent {agent!r}" if agent else ""
    rows = [(kind, n) for kind, n in found["counts"].items()] + [("total", found["total"])]
    table(
        f"memories of tenant {tenant!r}, project {found['project_id']!r}{who}",
        ["kind", "count"],
        rows,
    )


def preview_forget(
    alma: Any, agent: str | None, older_than_days: float, below_confidence: float
) -> list[dict[str, Any]]:
    """What `alma.forget(...)` would remove, removing nothing: its plan runs until it
    yields its one write batch, whose audit record lists the memories and why."""
    plan = alma.core.forget(agent, older_than_days, below_confidence)
    try:
        ops = next(plan)
        while not any(isinstance(op, PutOp) for op in ops):
            ops = plan.send(alma.store.batch(ops) if ops else [])
    except StopIteration:
        return []  # finished without writing: nothing to forget
    finally:
        plan.close()
    audit = next(op.value for op in ops if isinstance(op, PutOp) and op.value is not None)
    return list(audit["removed"])


@app.command("forget")
def forget(
    ctx: typer.Context,
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="only this agent's memories")
    ] = None,
    older_than_days: Annotated[
        float,
        typer.Option("--older-than-days", min=0, help="forget what was not used for this long"),
    ] = 90,
    below_confidence: Annotated[
        float,
        typer.Option(
            "--below-confidence", min=0, max=1, help="forget heuristics below this confidence"
        ),
    ] = 0.3,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="do not ask")] = False,
) -> None:
    """Remove decayed memories (audited); shows what would go and asks first."""
    with state(ctx).alma() as alma:
        going = preview_forget(alma, agent, older_than_days, below_confidence)
        if not going:
            say("nothing to forget")
            return
        rows = [(m["kind"], m["agent"], m["text"], m["reason"], m["id"]) for m in going]
        table(
            f"{len(rows)} memories would be forgotten",
            ["kind", "agent", "memory", "why", "id"],
            rows,
        )
        if not yes and not typer.confirm(f"forget these {len(rows)} memories?", err=True):
            say("nothing forgotten")
            raise typer.Exit(1)
        removed = alma.forget(agent, older_than_days, below_confidence)
    say(f"forgot {removed} memories (an audit record keeps what went and why)")
