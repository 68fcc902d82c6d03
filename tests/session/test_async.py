"""AsyncSessionManager: the same plans driven by `abatch`, retrieval via AsyncAlma."""

from __future__ import annotations

import pytest

from langgraph_alma.progress import AsyncProgressTracker
from langgraph_alma.session import AsyncSessionManager, SessionNotFound


async def test_async_session_cycle(asessions, sessions, clock) -> None:
    empty = await asessions.start_session(agent="helena")
    assert empty.previous_handoff is None and empty.progress.total == 0
    assert "none recorded" in await asessions.get_quick_reload(agent="helena")
    with pytest.raises(SessionNotFound):
        await asessions.end_session("nope", agent="helena")
    clock.advance(minutes=5)
    handoff = await asessions.end_session(
        empty.session_id,
        agent="helena",
        summary="async work",
        key_decisions=[str(n) for n in range(12)],
        blockers=["flaky CI"],
    )
    assert len(handoff.key_decisions) == 10 and handoff.key_decisions[-1] == "11"
    nxt = await asessions.start_session(agent="helena")
    assert nxt.previous_handoff == handoff and nxt.blockers == ["flaky CI"]
    assert await asessions.get_previous_sessions() == [handoff]
    made = await asessions.create_handoff(agent="victor", summary="v")
    assert (await asessions.get_previous_sessions(agent="victor")) == [made]
    # the sync manager reads what the async one wrote
    assert sessions.get_previous_sessions(agent="helena") == [handoff]


async def test_async_start_session_with_async_alma(astore, aalma, project, clock) -> None:
    for n in range(3):
        clock.advance(minutes=1)
        await aalma.learn("helena", f"fill the signup form {n}", "success", "tab order first",
                          task_type="forms")  # fmt: skip
    tracker = AsyncProgressTracker(astore, project_id=project, clock=clock)
    await tracker.create_work_item("fill the signup form", agent="helena")
    sessions = AsyncSessionManager(astore, project_id=project, clock=clock, alma=aalma)
    ctx = await sessions.start_session(agent="helena")
    assert ctx.suggested_focus.title == "fill the signup form"
    assert ctx.recent_outcomes and ctx.heuristics
    assert "Focus: fill the signup form" in await sessions.get_quick_reload(agent="helena")
