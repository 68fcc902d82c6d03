"""AsyncProgressTracker: the same plans, driven by `abatch`."""

from __future__ import annotations

import pytest

from langgraph_alma.progress import DependencyCycle, InvalidTransition, WorkStatus


async def test_async_tracker_round_trip(atracker, tracker, clock) -> None:
    a = await atracker.create_work_item("a", priority=80)
    b = await atracker.create_work_item("b", blocked_by=[a.id])
    assert b.status is WorkStatus.BLOCKED
    with pytest.raises(DependencyCycle):
        await atracker.add_dependency(a.id, blocked_by=b.id)
    with pytest.raises(InvalidTransition):
        await atracker.set_status(a.id, "done")
    assert (await atracker.get_next_item()).id == a.id
    await atracker.set_status(a.id, "in_progress")
    clock.advance(seconds=2)
    done = await atracker.set_status(a.id, "done")
    assert done.time_spent_ms == 2000
    assert (await atracker.get_item(b.id)).status is WorkStatus.PENDING
    assert (await atracker.get_next_item(strategy="quick_win")).id == b.id
    summary = await atracker.get_progress_summary()
    assert summary.percent_done == 50.0
    log = await atracker.log_session_progress(agent="helena", notes="n")
    assert (await atracker.get_progress_logs())[0].id == log.id
    # the sync tracker on the same tenant and project sees the same items
    assert [i.id for i in tracker.list_items()] == [i.id for i in await atracker.list_items()]
