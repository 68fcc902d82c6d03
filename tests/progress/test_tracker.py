"""ProgressTracker: transitions, dependencies, next-item strategies, summaries and logs on
LangGraph's InMemoryStore (the logic is store plans); persistence and tenants on a real
AlmaStore."""

from __future__ import annotations

import pytest
from psycopg_pool import ConnectionPool

from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.progress import (
    DependencyCycle,
    InvalidTransition,
    ProgressError,
    ProgressTracker,
    WorkItemNotFound,
    WorkStatus,
)
from langgraph_alma.progress.core import work_namespace
from langgraph_alma.store import AlmaStore


def test_create_and_read_back(tracker, store, project, clock) -> None:
    item = tracker.create_work_item(
        "login form", description="build it", item_type="feature", priority=80, agent="helena",
        tests=["test_login"],
    )  # fmt: skip
    assert item.status is WorkStatus.PENDING and item.created_at == clock.now
    assert tracker.get_item(item.id) == item
    # stored where the issue says, under an escaped project label
    assert store.get(work_namespace(project), item.id) is not None
    assert work_namespace(project)[:1] == ("alma",) and "." not in work_namespace(project)[1]
    assert tracker.get_item("nope") is None


def test_valid_transitions_record_timestamps_and_time(tracker, clock) -> None:
    item = tracker.create_work_item("task")
    clock.advance(minutes=1)
    started = tracker.set_status(item.id, "in_progress")
    assert started.started_at == clock.now and started.attempts == 1
    clock.advance(seconds=30)
    paused = tracker.set_status(item.id, WorkStatus.BLOCKED)
    assert paused.time_spent_ms == 30_000 and paused.completed_at is None
    tracker.set_status(item.id, "pending")
    clock.advance(seconds=10)
    again = tracker.set_status(item.id, "in_progress")
    assert again.attempts == 2 and again.started_at == started.started_at  # first start kept
    clock.advance(seconds=5)
    tracker.set_status(item.id, "review")
    clock.advance(seconds=100)  # review time is not work time
    done = tracker.set_status(item.id, "done", tests_passing=True)
    assert done.status is WorkStatus.DONE and done.completed_at == clock.now
    assert done.time_spent_ms == 35_000 and done.tests_passing
    assert tracker.get_item(item.id) == done


def test_failed_then_retry(tracker, clock) -> None:
    item = tracker.create_work_item("flaky")
    tracker.set_status(item.id, "in_progress")
    failed = tracker.set_status(item.id, "failed")
    assert failed.completed_at == clock.now
    retried = tracker.set_status(item.id, "in_progress")
    assert retried.completed_at is None and retried.attempts == 2


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        ([], "done"),  # pending -> done skips the work
        ([], "review"),
        (["in_progress", "done"], "in_progress"),  # done is terminal
        (["blocked"], "review"),
    ],
)
def test_invalid_transition_is_refused_with_from_and_to(tracker, path, bad) -> None:
    item = tracker.create_work_item("task")
    for status in path:
        item = tracker.set_status(item.id, status)
    with pytest.raises(InvalidTransition) as err:
        tracker.set_status(item.id, bad)
    message = str(err.value)
    assert repr(item.status.value) in message and repr(bad) in message
    assert err.value.from_status is item.status and err.value.to_status == bad
    assert tracker.get_item(item.id).status is item.status  # nothing written


def test_unknown_item_and_status(tracker) -> None:
    with pytest.raises(WorkItemNotFound):
        tracker.set_status("missing", "in_progress")
    item = tracker.create_work_item("task")
    with pytest.raises(ValueError):
        tracker.set_status(item.id, "finished")


def test_unknown_dependency_ids_are_refused(tracker) -> None:
    with pytest.raises(WorkItemNotFound, match="ghost"):
        tracker.create_work_item("b", blocked_by=["ghost"])
    with pytest.raises(WorkItemNotFound, match="ghost"):
        tracker.create_work_item("b", blocks=["ghost"])
    with pytest.raises(WorkItemNotFound, match="ghost"):
        tracker.create_work_item("b", parent_id="ghost")
    assert tracker.list_items() == []


def test_dependencies_are_recorded_on_both_sides(tracker) -> None:
    a = tracker.create_work_item("a")
    b = tracker.create_work_item("b", blocked_by=[a.id])
    assert b.status is WorkStatus.BLOCKED and b.blocked_by == [a.id]
    assert tracker.get_item(a.id).blocks == [b.id]
    c = tracker.create_work_item("c", blocks=[a.id])  # a (pending) now waits on c
    a = tracker.get_item(a.id)
    assert a.blocked_by == [c.id] and a.status is WorkStatus.BLOCKED
    assert c.blocks == [a.id] and c.status is WorkStatus.PENDING


def test_cycles_are_refused(tracker) -> None:
    a = tracker.create_work_item("a")
    b = tracker.create_work_item("b", blocked_by=[a.id])
    c = tracker.create_work_item("c", blocked_by=[b.id])
    # a -> b -> c exists; c blocking a closes a cycle
    with pytest.raises(DependencyCycle, match="cycle") as err:
        tracker.add_dependency(a.id, blocked_by=c.id)
    assert a.id in str(err.value) and c.id in str(err.value)
    with pytest.raises(DependencyCycle):
        tracker.add_dependency(a.id, blocked_by=a.id)
    # a new item blocked by c and blocking a would be c -> x -> a -> b -> c
    with pytest.raises(DependencyCycle):
        tracker.create_work_item("x", blocked_by=[c.id], blocks=[a.id])
    with pytest.raises(DependencyCycle):
        tracker.create_work_item("y", blocked_by=[a.id], blocks=[a.id])
    assert len(tracker.list_items()) == 3
    assert tracker.get_item(a.id).blocked_by == []
    # a non-cyclic extra edge is fine
    d = tracker.create_work_item("d")
    assert tracker.add_dependency(c.id, blocked_by=d.id).blocked_by == [b.id, d.id]


def test_done_blocker_unblocks_dependants_when_all_blockers_done(tracker) -> None:
    a = tracker.create_work_item("a")
    b = tracker.create_work_item("b")
    c = tracker.create_work_item("c", blocked_by=[a.id, b.id])
    d = tracker.create_work_item("d", blocked_by=[a.id])
    for status in ("in_progress", "done"):
        tracker.set_status(a.id, status)
    assert tracker.get_item(d.id).status is WorkStatus.PENDING  # its only blocker is done
    assert tracker.get_item(c.id).status is WorkStatus.BLOCKED  # still waits on b
    for status in ("in_progress", "review", "done"):
        tracker.set_status(b.id, status)
    assert tracker.get_item(c.id).status is WorkStatus.PENDING
    # a blocker failing does not unblock
    e = tracker.create_work_item("e")
    f = tracker.create_work_item("f", blocked_by=[e.id])
    tracker.set_status(e.id, "failed")
    assert tracker.get_item(f.id).status is WorkStatus.BLOCKED


def test_next_item_priority(tracker, clock) -> None:
    assert tracker.get_next_item() is None
    low = tracker.create_work_item("low", priority=10)
    clock.advance(seconds=1)
    high = tracker.create_work_item("high", priority=90)
    clock.advance(seconds=1)
    tracker.create_work_item("high later", priority=90)
    tracker.create_work_item("blocked top", priority=100, blocked_by=[low.id])
    assert tracker.get_next_item().id == high.id  # blocked skipped; ties: oldest first
    tracker.set_status(high.id, "in_progress")
    assert tracker.get_next_item().title == "high later"  # only pending items


def test_next_item_for_agent(tracker) -> None:
    tracker.create_work_item("victor's", priority=90, agent="victor")
    mine = tracker.create_work_item("helena's", priority=50, agent="helena")
    shared = tracker.create_work_item("anyone's", priority=60)
    assert tracker.get_next_item(agent="helena").id == shared.id
    tracker.set_status(shared.id, "in_progress")
    assert tracker.get_next_item(agent="helena").id == mine.id
    assert tracker.get_next_item().title == "victor's"


def test_next_item_blocked_unblock(tracker) -> None:
    tracker.create_work_item("important leaf", priority=90)
    key = tracker.create_work_item("unblocks two", priority=20)
    tracker.create_work_item("x", blocked_by=[key.id])
    tracker.create_work_item("y", blocked_by=[key.id])
    one = tracker.create_work_item("unblocks one", priority=50)
    tracker.create_work_item("z", blocked_by=[one.id])
    assert tracker.get_next_item(strategy="blocked_unblock").id == key.id
    assert tracker.get_next_item(strategy="priority").title == "important leaf"


def test_next_item_quick_win(tracker) -> None:
    tracker.create_work_item("big", priority=90, estimate_ms=3_600_000)
    tracker.create_work_item("no estimate", priority=100)
    small = tracker.create_work_item("small", priority=10, estimate_ms=60_000)
    assert tracker.get_next_item(strategy="quick_win").id == small.id


def test_next_item_quick_win_without_estimates_prefers_fewer_tests(tracker) -> None:
    tracker.create_work_item("many tests", priority=90, tests=["a", "b", "c"])
    few = tracker.create_work_item("one test", priority=40, tests=["a"])
    assert tracker.get_next_item(strategy="quick_win").id == few.id


def test_unknown_strategy(tracker) -> None:
    with pytest.raises(ProgressError, match="strategy"):
        tracker.get_next_item(strategy="random")


def test_summary(tracker) -> None:
    empty = tracker.get_progress_summary()
    assert empty.total == 0 and empty.percent_done == 0.0 and empty.blocked == []
    assert set(empty.by_status) == {s.value for s in WorkStatus}
    a = tracker.create_work_item("a")
    b = tracker.create_work_item("b", blocked_by=[a.id])
    c = tracker.create_work_item("c")
    tracker.create_work_item("d")
    tracker.set_status(c.id, "in_progress")
    tracker.set_status(c.id, "done")
    tracker.set_status(a.id, "in_progress")
    s = tracker.get_progress_summary()
    assert s.total == 4 and s.percent_done == 25.0
    assert s.by_status == {
        "pending": 1, "in_progress": 1, "blocked": 1, "review": 0, "done": 1, "failed": 0
    }  # fmt: skip
    assert s.blocked == [{"id": b.id, "title": "b", "blocked_by": [a.id]}]
    assert [i["id"] for i in s.in_progress] == [a.id]
    assert "1/4 done (25%)" in s.line()


def test_log_session_progress(tracker, clock) -> None:
    a = tracker.create_work_item("a")
    tracker.set_status(a.id, "in_progress")
    log = tracker.log_session_progress(
        agent="helena", session_id="s1", notes="halfway", items_touched=[a.id]
    )
    assert log.created_at == clock.now and log.summary.by_status["in_progress"] == 1
    clock.advance(minutes=5)
    tracker.set_status(a.id, "done")
    later = tracker.log_session_progress(agent="helena", session_id="s1")
    assert later.summary.percent_done == 100.0
    logs = tracker.get_progress_logs()
    assert [x.id for x in logs] == [later.id, log.id] and logs[1] == log


def test_projects_are_separate(tracker, store, clock) -> None:
    tracker.create_work_item("mine")
    other = ProgressTracker(store, project_id="other-project", clock=clock)
    assert other.list_items() == [] and other.get_next_item() is None
    assert tracker.get_next_item(project_id="other-project") is None
    assert tracker.get_next_item().title == "mine"


def test_persists_across_a_fresh_pool_and_store(pg_tracker, database, tenant, project) -> None:
    tracker = pg_tracker
    a = tracker.create_work_item("a", priority=70)
    b = tracker.create_work_item("b", blocked_by=[a.id])
    tracker.set_status(a.id, "in_progress")
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        fresh = ProgressTracker(AlmaStore(p, tenant_id=tenant), project_id=project)
        assert {i.id for i in fresh.list_items()} == {a.id, b.id}
        assert fresh.get_item(a.id) == tracker.get_item(a.id)
        fresh.update_status(a.id, "done")
        assert fresh.get_progress_summary().by_status["pending"] == 1  # b unblocked
    assert tracker.get_item(b.id).status is WorkStatus.PENDING


def test_other_tenant_sees_nothing(pg_tracker, pool, project) -> None:
    tracker = pg_tracker
    tracker.create_work_item("secret")
    stranger = ProgressTracker(AlmaStore(pool, tenant_id="t-stranger"), project_id=project)
    assert stranger.list_items() == []


def test_cannot_start_an_item_whose_blockers_are_not_done(tracker) -> None:
    a = tracker.create_work_item("schema")
    b = tracker.create_work_item("api", blocked_by=[a.id])
    with pytest.raises(ProgressError, match="waits on 'schema' \\(pending\\)"):
        tracker.set_status(b.id, "in_progress")
    # blocked for an outside reason (no blocker items): may be resumed directly
    c = tracker.create_work_item("deploy")
    tracker.set_status(c.id, "blocked")
    assert tracker.set_status(c.id, "in_progress").status is WorkStatus.IN_PROGRESS


def test_scans_read_every_page(tracker, monkeypatch) -> None:
    monkeypatch.setattr("langgraph_alma.progress.core.PAGE", 2)
    made = [tracker.create_work_item(f"i{n}", priority=n) for n in range(5)]
    assert {i.id for i in tracker.list_items()} == {i.id for i in made}
    assert tracker.get_next_item().id == made[-1].id
    assert tracker.get_progress_summary().total == 5
    # dependency checks see items beyond the first page
    late = tracker.create_work_item("late", blocked_by=[made[0].id])
    assert late.status is WorkStatus.BLOCKED
