"""SessionManager: start, handoff, carried blockers, quick reload and previous sessions on
LangGraph's InMemoryStore (the logic is store plans); memory retrieval through an Alma,
persistence and open sessions' TTL on a real AlmaStore."""

from __future__ import annotations

import time

import pytest
from psycopg_pool import ConnectionPool

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.progress import ProgressError, ProgressTracker
from langgraph_alma.session import (
    MAX_DECISIONS,
    RULES_OF_ENGAGEMENT,
    SessionHandoff,
    SessionManager,
    SessionNotFound,
)
from langgraph_alma.store import AlmaStore


def test_empty_store(sessions, project) -> None:
    ctx = sessions.start_session(agent="helena")
    assert ctx.project_id == project and ctx.agent == "helena"
    assert ctx.previous_handoff is None and ctx.suggested_focus is None
    assert ctx.blockers == [] and ctx.next_steps == [] and ctx.recent_outcomes == []
    assert ctx.progress.total == 0
    assert ctx.rules_of_engagement == list(RULES_OF_ENGAGEMENT)
    assert 0 < len(ctx.rules_of_engagement) <= 6
    assert sessions.get_previous_sessions() == []  # an open session is not a handoff
    text = sessions.get_quick_reload(agent="helena")
    assert "Last session: none recorded" in text and "Focus: nothing ready" in text
    assert "0/0 done" in text


def test_end_session_keeps_latest_ten_decisions_and_carries_blockers(sessions, clock) -> None:
    first = sessions.start_session(agent="helena")
    clock.advance(minutes=30)
    decisions = [f"decision {n}" for n in range(1, 13)]
    handoff = sessions.end_session(
        first.session_id,
        agent="helena",
        summary="login form half done",
        key_decisions=decisions,
        blockers=["waiting on API keys"],
        next_steps=["finish validation"],
        work_items=["w1"],
    )
    assert handoff.key_decisions == decisions[-MAX_DECISIONS:]
    assert len(handoff.key_decisions) == 10 and handoff.key_decisions[0] == "decision 3"
    assert handoff.started_at == first.started_at and handoff.ended_at == clock.now

    clock.advance(hours=1)
    second = sessions.start_session(agent="helena")
    assert second.session_id != first.session_id
    assert second.previous_handoff == handoff
    assert second.blockers == ["waiting on API keys"]
    assert second.next_steps == ["finish validation"]
    assert sessions.get_previous_sessions() == [handoff]


def test_end_unknown_or_ended_session(sessions) -> None:
    with pytest.raises(SessionNotFound):
        sessions.end_session("nope", agent="helena")
    ctx = sessions.start_session(agent="helena")
    with pytest.raises(SessionNotFound):
        sessions.end_session(ctx.session_id, agent="victor")  # not victor's session
    sessions.end_session(ctx.session_id, agent="helena", summary="done")
    with pytest.raises(ProgressError, match="already ended"):
        sessions.end_session(ctx.session_id, agent="helena")


def test_create_handoff_caps_decisions(sessions, clock) -> None:
    handoff = sessions.create_handoff(
        agent="victor", summary="s", key_decisions=[str(n) for n in range(15)]
    )
    assert handoff.key_decisions == [str(n) for n in range(5, 15)]
    assert handoff.ended_at == clock.now
    stored = sessions.get_previous_sessions(agent="victor")
    assert stored == [handoff]
    # the model itself enforces the cap, on assignment too
    handoff.key_decisions = [str(n) for n in range(11)]
    assert handoff.key_decisions[0] == "1" and len(handoff.key_decisions) == 10
    assert len(SessionHandoff(started_at=clock.now, key_decisions=["x"] * 20).key_decisions) == 10


def test_previous_sessions_latest_first_with_limit_and_agent(sessions, clock) -> None:
    made = []
    for n in range(7):
        clock.advance(minutes=10)
        made.append(sessions.create_handoff(agent="helena", summary=f"h{n}"))
    clock.advance(minutes=10)
    victor = sessions.create_handoff(agent="victor", summary="v")
    assert [s.summary for s in sessions.get_previous_sessions()] == [
        "v", "h6", "h5", "h4", "h3"
    ]  # fmt: skip
    assert sessions.get_previous_sessions(limit=2, agent="helena") == made[::-1][:2]
    assert sessions.get_previous_sessions(agent="victor") == [victor]
    # each agent resumes from its own last handoff
    assert sessions.start_session(agent="helena").previous_handoff == made[-1]
    assert sessions.start_session(agent="victor").previous_handoff == victor


def test_focus_and_progress_from_the_tracker(sessions, tracker) -> None:
    a = tracker.create_work_item("login form", priority=60, agent="helena")
    b = tracker.create_work_item("signup form", priority=90, blocked_by=[a.id])
    tracker.create_work_item("victor's deploy", priority=99, agent="victor")
    ctx = sessions.start_session(agent="helena")
    assert ctx.suggested_focus.id == a.id  # b is higher but blocked; victor's is not hers
    assert ctx.progress.total == 3 and ctx.progress.blocked[0]["id"] == b.id
    low = tracker.create_work_item("docs", priority=10)
    tracker.set_status(low.id, "in_progress")
    # carry on with what is in progress before starting anything new
    assert sessions.start_session(agent="helena").suggested_focus.id == low.id


def test_quick_reload_content(sessions, tracker, clock, project) -> None:
    a = tracker.create_work_item("login form", priority=80)
    tracker.create_work_item("signup form", blocked_by=[a.id])
    done = tracker.create_work_item("setup")
    tracker.set_status(done.id, "in_progress")
    tracker.set_status(done.id, "done")
    ctx = sessions.start_session(agent="helena")
    sessions.end_session(
        ctx.session_id,
        agent="helena",
        summary="set up the project",
        key_decisions=["d1", "d2", "d3", "d4"],
        blockers=["no staging DB"],
        next_steps=["build login form"],
    )
    text = sessions.get_quick_reload(agent="helena")
    print("\n" + text)
    assert text.startswith(f"# Resume: project {project}, agent helena")
    assert "Progress: 1/3 done (33%)" in text
    assert "Last session (2026-01-01 00:00 UTC): set up the project" in text
    assert "Decisions: d2; d3; d4" in text  # the latest three
    assert "Blockers: no staging DB" in text and "Next steps: build login form" in text
    assert f"Focus: login form [{a.id}] (priority 80, pending)" in text
    assert "Blocked: signup form (waits on login form)" in text
    assert len(text) < 1000
    # another agent has no previous session but sees the same project
    other = sessions.get_quick_reload(agent="victor")
    assert "none recorded" in other and "Focus: login form" in other


def test_start_session_retrieves_memories_with_alma(store, project, clock, alma, tracker):
    for n in range(3):
        clock.advance(minutes=1)
        alma.learn("helena", f"test the login form {n}", "success", "happy path first",
                   task_type="testing")  # fmt: skip
    tracker.create_work_item("test the login form", priority=80, agent="helena")
    sessions = SessionManager(store, project_id=project, clock=clock, alma=alma)
    ctx = sessions.start_session(agent="helena")
    assert ctx.suggested_focus.title == "test the login form"
    assert ctx.recent_outcomes, "outcomes relevant to the focus"
    assert all(o.strategy_used == "happy path first" for o in ctx.recent_outcomes)
    stamps = [o.timestamp for o in ctx.recent_outcomes]
    assert stamps == sorted(stamps, reverse=True)  # most recent first
    assert [h.strategy for h in ctx.heuristics] == ["happy path first"]
    # no agent, nothing to retrieve for: no memories, no error
    assert sessions.start_session().recent_outcomes == []


def test_persists_across_a_fresh_pool(pg_sessions, pg_tracker, database, tenant, project) -> None:
    sessions, tracker = pg_sessions, pg_tracker
    item = tracker.create_work_item("login form")
    ctx = sessions.start_session(agent="helena")
    handoff = sessions.end_session(
        ctx.session_id, agent="helena", summary="s", blockers=["b"], work_items=[item.id]
    )
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        fresh = SessionManager(AlmaStore(p, tenant_id=tenant), project_id=project)
        assert fresh.get_previous_sessions() == [handoff]
        again = fresh.start_session(agent="helena")
        assert again.previous_handoff == handoff and again.blockers == ["b"]
        assert again.suggested_focus.id == item.id
        assert ProgressTracker(fresh.store, project_id=project).get_item(item.id) == item


def test_a_busy_project_starts_from_its_latest_handoff_and_top_item(
    store, project, clock, alma, tracker
) -> None:
    """With 20 work items, learned outcomes and 10 handoffs, a session starts from the
    newest handoff (its decisions capped at the PRD's 10) and the top-priority item, with
    or without memory, and the quick reload says so. (Latency: bench/, not here.)"""
    for n in range(20):
        tracker.create_work_item(f"item {n}", priority=n * 5)
    for n in range(5):
        alma.learn("helena", f"test form {n}", "success", "happy path first", task_type="testing")
    sessions = SessionManager(store, project_id=project, clock=clock, alma=alma)
    for n in range(10):
        clock.advance(minutes=1)
        sessions.create_handoff(agent="helena", summary=f"s{n}", key_decisions=["d"] * 12)
    plain = SessionManager(store, project_id=project, clock=clock)
    for manager in (plain, sessions):
        ctx = manager.start_session(agent="helena")
        assert ctx.previous_handoff is not None and ctx.previous_handoff.summary == "s9"
        assert len(ctx.previous_handoff.key_decisions) == 10
        assert ctx.suggested_focus is not None and ctx.suggested_focus.title == "item 19"
        assert ctx.progress.total == 20
    assert "s9" in sessions.get_quick_reload(agent="helena")


def test_sessions_read_every_page(sessions, tracker, clock, monkeypatch) -> None:
    monkeypatch.setattr("langgraph_alma.progress.core.PAGE", 2)
    for n in range(5):
        clock.advance(minutes=1)
        sessions.create_handoff(agent="helena", summary=f"s{n}")
        tracker.create_work_item(f"w{n}", priority=n)
    ctx = sessions.start_session(agent="helena")
    assert ctx.previous_handoff.summary == "s4" and ctx.progress.total == 5
    assert ctx.suggested_focus.title == "w4"
    assert len(sessions.get_previous_sessions(limit=10)) == 5


def test_open_sessions_expire_and_ended_ones_do_not(pg_store, project, clock, database) -> None:
    store = pg_store  # the TTL is AlmaStore's: expires_at in its table

    import psycopg

    from langgraph_alma.errors import AlmaError
    from langgraph_alma.session import SessionManager

    def expires_at(session_id: str):
        with psycopg.connect(database.admin_url) as conn:
            return conn.execute(
                "SELECT expires_at FROM alma_store WHERE key = %s", (session_id,)
            ).fetchone()[0]

    sessions = SessionManager(store, project_id=project, clock=clock)
    ended = sessions.start_session(agent="helena")
    assert expires_at(ended.session_id) is not None  # open: will expire
    sessions.end_session(ended.session_id, agent="helena", summary="done")
    assert expires_at(ended.session_id) is None  # ended: kept

    brief = SessionManager(store, project_id=project, clock=clock, open_ttl_minutes=0.005)
    abandoned = brief.start_session(agent="helena")
    time.sleep(0.5)  # past the 0.3 s lifetime: the record is gone from every read
    with pytest.raises(AlmaError, match="no session"):
        brief.end_session(abandoned.session_id, agent="helena")
    assert [s.session_id for s in sessions.get_previous_sessions(agent="helena")] == [
        ended.session_id
    ]
    with pytest.raises(AlmaError, match="open_ttl_minutes must be positive"):
        SessionManager(store, project_id=project, open_ttl_minutes=0)
