"""Workflow outcomes feed retrieval and heuristic learning; artifacts link to memories;
branch states merge with named reducers."""

from __future__ import annotations

import uuid

import pytest

from langgraph_alma.errors import ConfigError, ScopeViolation
from langgraph_alma.memory import MemoryScope
from langgraph_alma.memory.core import AntiPatternWarning
from langgraph_alma.workflow import MemoryNotFound, RetrievalScope, WorkflowContext


def _ctx(workflow: str = "checkout") -> WorkflowContext:
    return WorkflowContext(workflow_id=workflow, run_id=uuid.uuid4().hex)


def test_learn_from_workflow_is_retrieved_and_feeds_heuristics(alma) -> None:
    ctx = _ctx()
    for i in range(2):  # helena's scope makes a heuristic after 2 occurrences
        stored = alma.learn_from_workflow(
            _ctx() if i else ctx,
            {
                "result": "success",
                "summary": "checkout tests passed after seeding the cart",
                "successful_patterns": ["seed the cart before checkout"],
                "duration_ms": 1200,
            },
            agent="helena",
        )
    found = alma.retrieve("checkout cart seeding", "helena", include_workflow_outcomes=True)
    assert stored.id in {w.id for w in found.workflow_outcomes}
    assert any(h.strategy == "seed the cart before checkout" for h in found.heuristics)
    in_run = alma.retrieve(
        "checkout", "helena", context=ctx, scope=RetrievalScope.RUN, include_workflow_outcomes=True
    )
    assert [w.run_id for w in in_run.workflow_outcomes] == [ctx.run_id]
    other = alma.retrieve(
        "checkout",
        "helena",
        context=_ctx("signup"),
        scope="workflow",
        include_workflow_outcomes=True,
    )
    assert other.workflow_outcomes == []


def test_failed_patterns_become_anti_patterns(alma) -> None:
    outcome = {
        "result": "failure",
        "failed_patterns": ["sleep 10s for the page"],
        "error_message": "timeout",
    }
    alma.learn_from_workflow(_ctx(), outcome, agent="helena")
    with pytest.warns(AntiPatternWarning):
        alma.learn_from_workflow(_ctx(), outcome, agent="helena")
    found = alma.retrieve("page sleep", "helena")
    assert [a.pattern for a in found.anti_patterns] == ["sleep 10s for the page"]
    assert "timeout" in found.anti_patterns[0].why_bad


def test_learn_from_workflow_checks_scope_and_context_first(make_alma) -> None:
    alma = make_alma(scopes={"v": MemoryScope(agent_name="v", cannot_learn=["workflow"])})
    with pytest.raises(ScopeViolation):
        alma.learn_from_workflow(_ctx(), {"result": "success", "summary": "x"}, agent="v")
    with pytest.raises(ConfigError, match="run_id"):
        alma.learn_from_workflow(WorkflowContext(workflow_id="w"), {"result": "success"})
    assert alma.get_stats()["total"] == 0  # nothing was written


def test_learn_from_workflow_prunes_the_runs_checkpoints(alma) -> None:
    ctx = _ctx()
    for i in range(4):
        alma.checkpoint(ctx, f"n{i}", {"i": i})
    alma.learn_from_workflow(ctx, {"result": "partial"}, cleanup_checkpoints=False)
    assert alma.cleanup_checkpoints(ctx.run_id, keep_latest=3) == 1
    alma.learn_from_workflow(ctx, {"result": "success"})
    assert alma.cleanup_checkpoints(ctx.run_id, keep_latest=1) == 0  # already pruned
    assert alma.get_resume_point(ctx.run_id).state == {"i": 3}


def test_artifacts_link_to_a_memory_and_take_its_scope(alma, make_alma, tenant) -> None:
    ctx = _ctx()
    outcome = alma.learn_from_workflow(ctx, {"result": "success"}, agent="helena")
    log = alma.link_artifact(outcome.id, "log", "s3://runs/1.log", checksum="abc", size_bytes=10)
    shot = alma.link_artifact(outcome.id, "screenshot", "s3://runs/1.png", mime_type="image/png")
    assert (log.agent, log.workflow_id, log.run_id) == ("helena", "checkout", ctx.run_id)
    assert [a.id for a in alma.get_artifacts(outcome.id)] == [log.id, shot.id]
    assert alma.get_artifacts("nothing-linked") == []
    with pytest.raises(MemoryNotFound, match="no-such-id"):
        alma.link_artifact("no-such-id", "log", "s3://x")
    other = make_alma(tenant_id=tenant + "-b")  # another tenant neither sees nor links it
    assert other.get_artifacts(outcome.id) == []
    with pytest.raises(MemoryNotFound):
        other.link_artifact(outcome.id, "log", "s3://x")
    with pytest.raises(ValueError):
        alma.link_artifact(outcome.id, "not-a-type", "s3://x")


def test_merge_states_uses_named_reducers(alma) -> None:
    pytest.importorskip("langgraph_alma.reducers")
    from langgraph_alma.reducers import ReducerConfig

    config = ReducerConfig(
        field_reducers={"found": "append", "count": "sum", "best": "max"},
        default_reducer="last_value",
    )
    branches = [{"found": [i], "count": 1, "best": i * 3 % 5, "owner": f"b{i}"} for i in range(5)]
    merged = alma.merge_states(_ctx(), branches, config)
    assert merged == {"found": [0, 1, 2, 3, 4], "count": 5, "best": 4, "owner": "b4"}
    as_dict = alma.merge_states(None, branches, {"field_reducers": {"count": "sum"}})
    assert as_dict["count"] == 5
