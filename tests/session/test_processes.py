"""Work items and handoffs written by one process are what the next process reads."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_progress_and_handoff_persist_across_processes(database, tenant) -> None:
    project = f"proj-{tenant}"
    writer = textwrap.dedent(f"""
        from langgraph_alma.store import AlmaStore
        from langgraph_alma.progress import ProgressTracker
        from langgraph_alma.session import SessionManager
        with AlmaStore.from_conn_string({database.url!r}, tenant_id={tenant!r}) as store:
            tracker = ProgressTracker(store, project_id={project!r})
            a = tracker.create_work_item("write the parser", priority=90)
            tracker.create_work_item("test the parser", blocked_by=[a.id])
            tracker.set_status(a.id, "in_progress")
            SessionManager(store, project_id={project!r}).create_handoff(
                agent="ana", summary="parser half done", blockers=["grammar unclear"],
                key_decisions=["use a PEG"])
    """)
    done = subprocess.run(
        [sys.executable, "-c", writer], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr

    from langgraph_alma.progress import ProgressTracker
    from langgraph_alma.session import SessionManager
    from langgraph_alma.store import AlmaStore

    with AlmaStore.from_conn_string(database.url, tenant_id=tenant) as store:
        summary = ProgressTracker(store, project_id=project).get_progress_summary()
        assert summary.total == 2 and summary.by_status.get("in_progress") == 1
        sessions = SessionManager(store, project_id=project)
        (last,) = sessions.get_previous_sessions(agent="ana")
        assert last.key_decisions == ["use a PEG"] and last.blockers == ["grammar unclear"]
        context = sessions.start_session(agent="ana")
        assert "grammar unclear" in context.blockers
