"""Code written against the ALMA PRD and the workflow summary runs as written: each call
here is in the PRD's form (positional order included) and means what the PRD says."""

from __future__ import annotations

import uuid
import warnings
from datetime import timedelta

import pytest

from langgraph_alma.confidence import ConfidenceEngine
from langgraph_alma.domains import DomainMemoryFactory, DomainSchema
from langgraph_alma.memory import MemoryScope
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import Heuristic
from langgraph_alma.progress import ProgressTracker, WorkItem
from langgraph_alma.reducers import StateMerger
from langgraph_alma.reducers.merger import ReducerConfig
from langgraph_alma.session import SessionManager
from langgraph_alma.session.initializer import SessionInitializer
from langgraph_alma.workflow import RetrievalScope, WorkflowContext

TASK = "fix the flaky login test"


def _project() -> str:
    return f"p-{uuid.uuid4().hex[:8]}"


# -- confidence ------------------------------------------------------------------------


@pytest.fixture
def engine(make_alma, clock) -> ConfidenceEngine:
    alma = make_alma()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the anti-pattern warning
        for i in range(4):
            alma.learn("helena", f"fix the flaky login test {i}", "success", "retry once")
            alma.learn("helena", f"fix the flaky login test {i}", "failure", "sleep longer")
            clock.advance(hours=1)
    return ConfidenceEngine(alma)


def test_assess_strategy_takes_strategy_context_agent(engine) -> None:
    signal = engine.assess_strategy("retry once", TASK, "helena")
    assert signal.strategy == "retry once" and signal.agent == "helena"
    assert signal.predicted_success > 0.7 and signal.recommendation == "strong_yes"
    assert signal.confidence_score == signal.score > 0.7
    assert signal.historical_success_rate == 1.0 and signal.occurrence_count == 4
    assert signal.context_similarity > 0.5
    assert signal.reasoning == signal.explanation and "predicted success" in signal.reasoning
    bad = engine.assess_strategy("sleep longer", TASK, "helena")
    assert bad.predicted_success < 0.3 and bad.recommendation in ("caution", "avoid")
    assert bad.total_risk_score > 0
    # the PRD's field names are what a signal is made of (and what it serialises to)
    dumped = signal.model_dump()
    assert {
        "historical_success_rate",
        "occurrence_count",
        "context_similarity",
        "risk_signals",
        "opportunity_signals",
        "confidence_score",
    } <= set(dumped)


def test_assess_strategy_with_a_heuristic_uses_it_as_the_prior(engine) -> None:
    unknown = "ask the owner"
    plain = engine.assess_strategy(unknown, TASK, "helena")
    h = Heuristic(condition="c", strategy=unknown, occurrence_count=20, success_count=20)
    h.confidence = 0.9
    given = engine.assess_strategy(unknown, TASK, "helena", h)
    assert plain.prior == 0.5 < given.prior
    assert given.occurrence_count == 20 and given.historical_success_rate == 1.0


def test_rank_strategies_returns_strategy_signal_pairs(engine) -> None:
    ranked = engine.rank_strategies(["sleep longer", "retry once"], TASK, "helena")
    assert [s for s, _ in ranked] == ["retry once", "sleep longer"]
    assert all(signal.strategy == s for s, signal in ranked)


def test_detect_risks_and_opportunities_in_prd_order_with_prd_kinds(engine) -> None:
    risks = engine.detect_risks("sleep longer", TASK, "helena")
    kinds = {r.signal_type for r in risks}
    assert {"similar_to_failure", "anti_pattern"} <= kinds
    assert all(r.description and r.source and 0 <= r.severity <= 1 for r in risks)
    assert {r.kind for r in risks} == kinds  # our older name
    untested = engine.detect_risks("rewrite the auth service", TASK, "helena")
    assert "untested_context" in {r.signal_type for r in untested}
    long_task = " ".join(["migrate the legacy distributed production database"] * 6)
    assert "high_complexity" in {
        r.signal_type for r in engine.detect_risks("retry once", long_task, "helena")
    }
    ops = engine.detect_opportunities("retry once", TASK, "helena")
    assert {"proven_pattern", "high_similarity", "recent_success"} <= {o.signal_type for o in ops}
    assert all(o.description and o.source and 0 <= o.strength <= 1 for o in ops)
    assert engine.detect_opportunities("sleep longer", TASK, "helena") == []


# -- sessions --------------------------------------------------------------------------


def test_create_handoff_and_previous_sessions_in_prd_form(make_alma, clock) -> None:
    alma, project = make_alma(), _project()
    sessions = SessionManager(alma.store, project_id=project, clock=clock)
    opened = sessions.start_session(project, "helena")
    clock.advance(minutes=30)
    handoff = sessions.create_handoff(
        project,
        "helena",
        opened.session_id,
        "ran the login tests",
        "failure",
        current_goal="make the login test stable",
        key_decisions=[f"d{i}" for i in range(12)],
        active_files=["tests/test_login.py"],
        blockers=["the staging server is down"],
        next_steps=["retry on a fresh server"],
        test_status={"test_login": False, "test_logout": True},
        confidence_level=0.4,
        risk_flags=["staging is shared"],
    )
    assert handoff.session_id == opened.session_id  # the open session, now closed
    assert handoff.last_action == "ran the login tests" and handoff.last_outcome == "failure"
    assert handoff.key_decisions == [f"d{i}" for i in range(2, 12)]  # max 10
    assert handoff.session_start == opened.started_at
    assert handoff.session_end == opened.started_at + timedelta(minutes=30)
    assert handoff.duration_ms == 30 * 60 * 1000
    previous = sessions.get_previous_sessions(project, "helena", 5)
    assert [p.session_id for p in previous] == [opened.session_id]
    assert previous[0].test_status == {"test_login": False, "test_logout": True}
    reload = sessions.get_quick_reload(project, "helena")
    assert "Last action: ran the login tests (failure)" in reload
    assert "Goal: make the login test stable" in reload
    assert "Active files: tests/test_login.py" in reload
    assert "Tests: 1/2 passing; failing: test_login" in reload
    assert "Risks: staging is shared" in reload
    with pytest.raises(ValueError, match="last_outcome"):
        sessions.create_handoff(project, "helena", None, "x", "exploded")
    clock.advance(minutes=1)
    fresh = sessions.create_handoff(project, "helena", None, "wrote docs", "interrupted")
    assert sessions.get_previous_sessions(project, "helena", 1) == [fresh]


# -- progress --------------------------------------------------------------------------


def test_progress_tracker_in_prd_form(make_alma, clock) -> None:
    alma, project = make_alma(), _project()
    tracker = ProgressTracker(alma.store, project_id=project, clock=clock)
    item_id = tracker.create_work_item(WorkItem(title="login form", agent="helena", priority=80))
    assert isinstance(item_id, str)
    other = tracker.create_work_item("signup form", agent="victor")  # ours: a title
    assert tracker.get_item(item_id).project_id == project
    assert tracker.update_status(item_id, "in_progress", "started on the form") is True
    assert tracker.update_status(item_id, "in_progress") is False  # already there
    item = tracker.get_item(item_id)
    assert item.attempt_count == item.attempts == 1
    assert item.notes == ["started on the form"]
    mine = tracker.get_progress_summary(project, "helena")
    assert mine.total == 1 and mine.by_status["in_progress"] == 1
    assert tracker.get_progress_summary(project).total == 2
    log = tracker.log_session_progress(project, "helena", "s-1")
    assert (log.items_total, log.items_done, log.items_in_progress, log.items_blocked) == (
        2,
        0,
        1,
        0,
    )
    assert log.current_item_id == item_id and log.session_id == "s-1"
    assert (log.actions_taken, log.outcomes_recorded, log.current_action) == (0, 0, "")
    log = tracker.log_session_progress(
        project, "helena", "s-1", current_action="testing", actions_taken=3, outcomes_recorded=2
    )
    assert (log.current_action, log.actions_taken, log.outcomes_recorded) == ("testing", 3, 2)
    assert WorkItem(title="t", attempt_count=2).attempts == 2
    assert other.agent == "victor"


# -- session initializer ---------------------------------------------------------------


def test_session_initializer_methods_and_result(make_alma, clock, tmp_path) -> None:
    alma, project = make_alma(domain=DomainMemoryFactory.get_preset("coding")), _project()
    init = SessionInitializer(alma, codebase_path=tmp_path)
    items = init.expand_prompt(
        "1. fix the crash on login\n2. add a signup page\n3. test it", "coding"
    )
    assert [(w.title, w.item_type) for w in items] == [
        ("fix the crash on login", "bug"),
        ("add a signup page", "feature"),
        ("test it", "test"),
    ]
    assert init.orient_to_codebase(project).error  # not a repository: said, not raised
    scope = MemoryScope(agent_name="helena", can_learn=["testing"], cannot_learn=["secrets"])
    rules = init.get_rules_of_engagement("helena", scope)
    assert "Learn only about: testing" in rules.scope_rules
    assert "Never learn about: secrets" in rules.scope_rules
    result = init.initialize(project, "helena", "1. fix the crash on login\n2. test it")
    assert result.session_id and isinstance(result.relevant_memories, MemorySlice)
    assert result.recommended_start.title == "fix the crash on login"
    assert result.scope_rules and result.quality_gates
    assert result.constraints == []
    ended = SessionManager(alma.store, project_id=project).end_session(
        result.session_id, agent="helena", summary="crash fixed"
    )
    assert ended.summary == "crash fixed"


# -- domains ---------------------------------------------------------------------------


def test_domain_schema_prd_fields_and_presets() -> None:
    schema = DomainSchema(name="support", metadata={"owner": "ops"})
    assert schema.id and schema.created_at.tzinfo is not None and schema.metadata["owner"]
    coding = DomainMemoryFactory.get_preset("coding")
    assert {"feature", "bug", "test"} <= {t.name for t in coding.entity_types}
    assert {"testing_strategies", "error_handling"} <= set(coding.learning_categories)
    research = DomainMemoryFactory.get_preset("research")
    assert {"paper", "hypothesis", "experiment"} <= {t.name for t in research.entity_types}
    sales = DomainMemoryFactory.get_preset("sales")
    assert {"lead", "objection", "conversation"} <= {t.name for t in sales.entity_types}
    assert coding.id == DomainMemoryFactory.get_preset("coding").id == "preset:coding"


@pytest.mark.parametrize("preset", ["coding", "research", "sales", "general"])
def test_learn_from_workflow_default_task_type_under_every_preset(make_alma, preset) -> None:
    alma = make_alma(domain=DomainMemoryFactory.get_preset(preset))
    ctx = WorkflowContext(workflow_id="wf", run_id=f"run-{uuid.uuid4().hex[:8]}")
    outcome = alma.learn_from_workflow(
        ctx, {"result": "success", "successful_patterns": ["small steps"]}, agent="helena"
    )
    assert outcome.agent == "helena"


# -- workflow summary ------------------------------------------------------------------


def test_resume_point_without_a_branch_finds_named_branches(make_alma, clock) -> None:
    alma = make_alma()
    run = f"run-{uuid.uuid4().hex[:8]}"
    ctx = WorkflowContext(workflow_id="wf", run_id=run)
    alma.checkpoint(ctx, "left", {"x": 1}, branch_id="left")
    clock.advance(seconds=1)
    last = alma.checkpoint(ctx, "right", {"x": 2}, branch_id="right")
    resume = alma.get_resume_point(run)
    assert resume is not None and resume.checkpoint_id == last.checkpoint_id
    assert (resume.branch_id, resume.state, resume.sequence_number) == ("right", {"x": 2}, 1)


def test_retrieve_with_only_a_run_in_the_context(make_alma) -> None:
    alma = make_alma()
    run = f"run-{uuid.uuid4().hex[:8]}"
    full = WorkflowContext(workflow_id="checkout", run_id=run)
    alma.checkpoint(full, "plan", {"n": 1})
    alma.learn_from_workflow(
        full, {"result": "success", "summary": "checkout tests pass"}, agent="helena"
    )
    found = alma.retrieve(
        "checkout tests",
        agent="helena",
        context=WorkflowContext(run_id=run),
        scope=RetrievalScope.WORKFLOW,
        include_workflow_outcomes=True,
    )
    assert [w.summary for w in found.workflow_outcomes] == ["checkout tests pass"]


def test_agentless_workflow_outcomes_teach_every_agent(make_alma) -> None:
    alma = make_alma()
    ctx = WorkflowContext(workflow_id="nightly", run_id=f"run-{uuid.uuid4().hex[:8]}")
    alma.learn_from_workflow(ctx, {"result": "failure", "summary": "nightly export timed out"})
    for agent in ("helena", "victor"):
        found = alma.retrieve("nightly export", agent, include_workflow_outcomes=True)
        assert [w.summary for w in found.workflow_outcomes] == ["nightly export timed out"]
        assert "Past workflow runs" in found.to_prompt()
    assert alma.retrieve("nightly export", "helena").workflow_outcomes == []  # not asked


def test_last_and_first_value_take_non_none() -> None:
    merger = StateMerger(
        ReducerConfig(field_reducers={"first": "first_value"}, default_reducer="last_value")
    )
    merged = merger.merge(
        [{"status": "running", "first": None}, {"status": None, "first": "a"}, {"first": "b"}]
    )
    assert merged == {"status": "running", "first": "a"}
