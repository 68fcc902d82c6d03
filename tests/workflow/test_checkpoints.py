"""The checkpoint manager on the saver's tables: numbering, skipping, limits, LangGraph
visibility, resume points, cleanup, tenant isolation, async."""

from __future__ import annotations

import operator
import uuid
from typing import Annotated, TypedDict

import psycopg
import pytest
from langgraph.graph import END, START, StateGraph

from langgraph_alma.alma import AsyncAlma
from langgraph_alma.checkpoint import AsyncAlmaSaver
from langgraph_alma.errors import ConfigError, StateTooLarge, TenantMismatch
from langgraph_alma.store import AsyncAlmaStore
from langgraph_alma.workflow import WorkflowContext


def _ctx(tenant: str | None = None, run: str | None = None) -> WorkflowContext:
    return WorkflowContext(tenant_id=tenant, workflow_id="wf", run_id=run or uuid.uuid4().hex)


def _count(database, tenant: str, run: str, where: str = "true") -> int:
    with psycopg.connect(database.admin_url) as conn:
        return conn.execute(
            f"SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s "
            f"AND {where}",
            (tenant, run),
        ).fetchone()[0]


def test_sequences_per_branch_and_skip_unchanged(alma) -> None:
    ctx = _ctx()
    first = alma.checkpoint(ctx, "plan", {"steps": ["a"], "n": 1})
    assert (first.seq, first.node_id, first.branch_id) == (1, "plan", None)
    assert alma.checkpoint(ctx, "plan", {"steps": ["a"], "n": 1}) is None  # unchanged
    assert alma.checkpoint(ctx, "act", {"steps": ["a", "b"], "n": 1}).seq == 2
    assert (
        alma.checkpoint(ctx, "act", {"steps": ["a", "b"], "n": 1}, skip_if_unchanged=False).seq == 3
    )
    side = alma.checkpoint(ctx, "fan", {"x": 1}, branch_id="left")
    assert (side.seq, side.branch_id) == (1, "left")
    assert alma.checkpoint(ctx.with_node("fan", "right"), "fan", {"x": 1}).branch_id == "right"
    resume = alma.get_resume_point(ctx.run_id)
    assert (resume.seq, resume.node_id, resume.state) == (3, "act", {"steps": ["a", "b"], "n": 1})
    assert alma.get_resume_point(ctx.run_id, "left").state == {"x": 1}
    assert alma.get_resume_point(ctx.run_id, "nowhere") is None
    assert alma.get_resume_point("no-such-run") is None


def test_channel_versions_go_on_from_the_branchs_last_checkpoint(alma) -> None:
    """The versions the manager gives are read from its last checkpoint's row (packed,
    migration 0012): a changed channel's version grows, an unchanged one's stays."""
    ctx = _ctx()
    alma.checkpoint(ctx, "plan", {"steps": ["a"], "n": 1})
    config = {"configurable": {"thread_id": ctx.run_id}}
    first = alma.saver.get_tuple(config).checkpoint["channel_versions"]
    alma.checkpoint(ctx, "act", {"steps": ["a", "b"], "n": 1})
    second = alma.saver.get_tuple(config).checkpoint["channel_versions"]
    assert second["n"] == first["n"]
    assert second["steps"] > first["steps"]
    alma.checkpoint(ctx, "act", {"steps": ["a", "b"], "n": 2})
    third = alma.saver.get_tuple(config).checkpoint["channel_versions"]
    assert third["steps"] == second["steps"] and third["n"] > second["n"]


def test_validation_errors(alma) -> None:
    with pytest.raises(ConfigError, match="run_id"):
        alma.checkpoint(WorkflowContext(workflow_id="wf"), "n", {})
    with pytest.raises(ConfigError, match="node_id"):
        alma.checkpoint(_ctx(), "", {})
    with pytest.raises(ConfigError, match="state"):
        alma.checkpoint(_ctx(), "n", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="keep_latest"):
        alma.cleanup_checkpoints("r", keep_latest=0)


def test_state_too_large_writes_nothing(alma, database, tenant) -> None:
    ctx = _ctx()
    alma.checkpoint(ctx, "a", {"blob": "x"})
    with pytest.raises(StateTooLarge):
        alma.checkpoint(ctx, "b", {"blob": "x" * (2 << 20)})
    assert _count(database, tenant, ctx.run_id) == 1
    assert alma.checkpoint(ctx, "c", {"blob": "y"}).seq == 2  # no number was used up


class State(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]
    n: int


def test_langgraph_sees_manager_checkpoints(alma) -> None:
    builder = StateGraph(State)
    builder.add_node("work", lambda s: {"steps": ["graph"], "n": s.get("n", 0) + 1})
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    graph = builder.compile(checkpointer=alma.saver)
    ctx = _ctx()
    alma.checkpoint(ctx, "plan", {"steps": ["plan"], "n": 1})
    rec = alma.checkpoint(ctx, "act", {"steps": ["plan", "act"], "n": 2})
    config = {"configurable": {"thread_id": ctx.run_id}}
    snapshot = graph.get_state(config)
    assert snapshot.values == {"steps": ["plan", "act"], "n": 2}
    assert snapshot.config["configurable"]["checkpoint_id"] == rec.checkpoint_id
    assert snapshot.metadata["seq"] == 2 and snapshot.metadata["node_id"] == "act"
    assert len(list(graph.get_state_history(config))) == 2
    # The graph continues from the manager's state.
    assert graph.invoke({"steps": ["input"]}, config) == {
        "steps": ["plan", "act", "input", "graph"],
        "n": 3,
    }


def test_resume_point_carries_pending_writes(alma) -> None:
    ctx = _ctx()
    rec = alma.checkpoint(ctx, "plan", {"n": 1})
    alma.saver.put_writes(rec.config, [("n", 5)], task_id="task-1", task_path="~__pregel_pull, act")
    resume = alma.get_resume_point(ctx.run_id)
    assert resume.pending_writes == [("task-1", "n", 5)]


def test_cleanup_keeps_the_newest_per_branch(alma, database, tenant) -> None:
    ctx = _ctx()
    messages: list[str] = []
    for i in range(5):
        messages = [*messages, f"m{i}"]  # appended: stored as deltas over the last one
        alma.checkpoint(ctx, f"n{i}", {"messages": messages})
    for i in range(3):
        alma.checkpoint(ctx, f"l{i}", {"messages": [f"l{j}" for j in range(i + 1)]}, branch_id="l")
    alma.checkpoint(ctx, "only", {"v": 1}, branch_id="single")
    assert alma.cleanup_checkpoints(ctx.run_id, keep_latest=2) == 3 + 1
    assert _count(database, tenant, ctx.run_id) == 2 + 2 + 1
    assert alma.cleanup_checkpoints(ctx.run_id) == 1 + 1  # keep 1: the single one stays
    assert _count(database, tenant, ctx.run_id) == 3
    assert alma.get_resume_point(ctx.run_id).state == {"messages": [f"m{j}" for j in range(5)]}
    assert alma.get_resume_point(ctx.run_id, "l").seq == 3
    assert alma.get_resume_point(ctx.run_id, "single").state == {"v": 1}
    # Numbering goes on after cleanup; a new process (no remembered deltas) reads it back.
    nxt = alma.checkpoint(ctx, "n5", {"messages": [*messages, "m5"]})
    assert nxt.seq == 6
    alma.saver._core.memory.forget(tenant, [ctx.run_id])
    assert alma.get_resume_point(ctx.run_id).state["messages"][-1] == "m5"


def test_delta_base_deleted_by_another_process_is_retried(make_alma, tenant) -> None:
    writer, cleaner = make_alma(), make_alma()
    ctx = _ctx()
    log: list[str] = []
    for i in range(3):
        log = [*log, f"e{i}"]  # the same objects again: stored as deltas
        writer.checkpoint(ctx, f"n{i}", {"log": log})
    cleaner.saver.delete_thread(ctx.run_id)
    # The writer still remembers the deleted version as a delta base: its put fails the
    # foreign key once, rolls back to its savepoint and stores whole values, in the same
    # transaction as its sequence number.
    rec = writer.checkpoint(ctx, "n3", {"log": [*log, "e3"]})
    assert rec.seq == 1  # the deleted thread took its sequence counter with it
    cleaner.saver._core.memory.forget(tenant, [ctx.run_id])
    assert cleaner.get_resume_point(ctx.run_id).state == {"log": ["e0", "e1", "e2", "e3"]}


def test_tenants_and_workflows_are_isolated(make_alma, tenant) -> None:
    mine, theirs = make_alma(), make_alma(tenant_id=tenant + "-other")
    run = uuid.uuid4().hex
    mine.checkpoint(_ctx(run=run), "a", {"owner": "mine"})
    assert theirs.get_resume_point(run) is None
    assert theirs.checkpoint(_ctx(run=run), "a", {"owner": "theirs"}).seq == 1
    assert mine.get_resume_point(run).state == {"owner": "mine"}
    assert theirs.cleanup_checkpoints(run) == 0
    assert mine.get_resume_point(run).seq == 1
    with pytest.raises(TenantMismatch):
        mine.checkpoint(_ctx(tenant=tenant + "-other", run=run), "a", {"x": 1})


async def test_async_facade_shares_the_plans(pool, tenant, database) -> None:
    from psycopg_pool import AsyncConnectionPool

    from langgraph_alma.db.connect import connection_kwargs

    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        alma = AsyncAlma(
            AsyncAlmaStore(apool, tenant_id=tenant), AsyncAlmaSaver(apool, tenant_id=tenant)
        )
        ctx = _ctx()
        assert (await alma.checkpoint(ctx, "a", {"n": 1})).seq == 1
        assert await alma.checkpoint(ctx, "a", {"n": 1}) is None
        assert (await alma.checkpoint(ctx, "b", {"n": 2})).seq == 2
        assert (await alma.get_resume_point(ctx.run_id)).state == {"n": 2}
        assert await alma.cleanup_checkpoints(ctx.run_id) == 1
        lazily = AsyncAlma(AsyncAlmaStore(apool, tenant_id=tenant))  # saver made on demand
        assert (await lazily.get_resume_point(ctx.run_id)).seq == 2
        outcome = await alma.learn_from_workflow(ctx, {"result": "success"}, agent="helena")
        ref = await alma.link_artifact(outcome.id, "trace", "s3://t/1.zip")
        assert [a.id for a in await alma.get_artifacts(outcome.id)] == [ref.id]
        merged = await alma.merge_states(ctx, [{"n": 1}, {"n": 2}])
        assert merged == {"n": 2}  # the default reducer: last value


def test_deleting_the_thread_deletes_its_sequence_counters(alma, database, tenant) -> None:
    ctx = _ctx()
    alma.checkpoint(ctx, "plan", {"n": 1})
    alma.checkpoint(ctx, "fan", {"x": 1}, branch_id="left")

    def counters() -> int:
        with psycopg.connect(database.admin_url) as conn:
            return conn.execute(
                "SELECT count(*) FROM alma_workflow_branches WHERE tenant_id = %s "
                "AND thread_id = %s",
                (tenant, ctx.run_id),
            ).fetchone()[0]

    assert counters() == 2
    alma.saver.delete_thread(ctx.run_id)
    assert counters() == 0 and _count(database, tenant, ctx.run_id) == 0
    assert alma.checkpoint(ctx, "plan", {"n": 1}).seq == 1  # a reused run id starts afresh


def test_resume_point_of_a_run_a_graph_checkpointed(alma) -> None:
    builder = StateGraph(State)
    builder.add_node("work", lambda s: {"steps": ["graph"], "n": s.get("n", 0) + 1})
    builder.add_edge(START, "work")
    builder.add_edge("work", END)
    graph = builder.compile(checkpointer=alma.saver, interrupt_after=["work"])
    run = uuid.uuid4().hex
    config = {"configurable": {"thread_id": run}}
    graph.invoke({"steps": ["input"]}, config)
    latest = graph.get_state(config)

    resume = alma.get_resume_point(run)
    assert resume.checkpoint_id == latest.config["configurable"]["checkpoint_id"]
    assert resume.state == {"steps": ["input", "graph"], "n": 1}
    assert (resume.seq, resume.node_id) == (latest.metadata["step"], "work")
    assert alma.get_resume_point(run, "left") is None  # branches are the manager's
