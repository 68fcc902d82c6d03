"""`SessionCore`: session handoff written once as store plans; `SessionManager` and
`AsyncSessionManager` drive them.

Layout: a session is an item in `("alma", project, "session", agent)` keyed by its id
(agent `_` when there is none). `start_session` writes the open record and reads the
previous handoff and the project's work items in one batch (one round trip). An open
record expires after `open_ttl_minutes` (a week by default) unless the session is ended,
so sessions that are started and abandoned do not pile up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, cast

from langgraph.store.base import GetOp, Item, PutOp

from langgraph_alma.memory import items as it
from langgraph_alma.memory.plan import StorePlan
from langgraph_alma.memory.types import utcnow
from langgraph_alma.progress.core import (
    ProgressError,
    items_of,
    page_op,
    pick_next,
    scan_op,
    scan_rest,
    summarise,
)
from langgraph_alma.progress.models import ProgressSummary, WorkItem, WorkStatus
from langgraph_alma.session.models import HANDOFF_FIELDS, SessionContext, SessionHandoff

SESSION = "session"
OPEN_SESSION_TTL_MINUTES = 7 * 24 * 60.0


class SessionNotFound(ProgressError, LookupError):
    """No session with that id for this project (and agent)."""


def session_namespace(project_id: str, agent: str | None = None) -> tuple[str, ...]:
    base = (it.ROOT, it.label(project_id), SESSION)
    return (*base, it.label(agent or it.NO_OWNER))


def session_prefix(project_id: str) -> tuple[str, ...]:
    return (it.ROOT, it.label(project_id), SESSION)


def put_session(handoff: SessionHandoff, open_ttl_minutes: float | None = None) -> PutOp:
    """The op writing `handoff`; an open one expires after `open_ttl_minutes` (None: never),
    an ended one never does."""
    return PutOp(
        session_namespace(handoff.project_id, handoff.agent),
        handoff.session_id,
        handoff.model_dump(mode="json"),
        False,
        ttl=open_ttl_minutes if handoff.ended_at is None else None,
    )


def handoff_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """`fields`, checked to be handoff fields a caller may set (`ProgressError` names
    the unknown ones)."""
    unknown = sorted(set(fields) - HANDOFF_FIELDS)
    if unknown:
        raise ProgressError(
            f"unknown handoff fields {unknown}; expected some of {sorted(HANDOFF_FIELDS)}"
        )
    return {k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}


def closed(handoff: SessionHandoff, now: datetime, fields: dict[str, Any]) -> SessionHandoff:
    """`handoff` ended at `now` with `fields` (work items merged with those it had)."""
    merged = {**handoff.model_dump(), **fields, "ended_at": now}
    merged["work_items"] = list(dict.fromkeys([*handoff.work_items, *fields.get("work_items", [])]))
    return SessionHandoff.model_validate(merged)


def ended_sessions(found: Iterable[Item]) -> list[SessionHandoff]:
    """Ended sessions, latest first."""
    sessions = [SessionHandoff.model_validate(i.value) for i in found]
    ended = [s for s in sessions if s.ended_at is not None]
    ended.sort(key=lambda s: (s.ended_at, s.started_at), reverse=True)
    return ended


class Snapshot:
    """What a session start or reload reads: the previous handoff, items, summary, focus."""

    def __init__(
        self,
        previous: SessionHandoff | None,
        items: dict[str, WorkItem],
        project_id: str,
        agent: str | None,
    ) -> None:
        self.previous = previous
        self.items = items
        self.summary: ProgressSummary = summarise(project_id, items.values())
        self.focus: WorkItem | None = self._focus(agent)

    def _focus(self, agent: str | None) -> WorkItem | None:
        # Carry on with what this agent had in progress, else the next item by priority.
        mine = [
            i
            for i in self.items.values()
            if i.status is WorkStatus.IN_PROGRESS and (agent is None or i.agent in (None, agent))
        ]
        if mine:
            return max(mine, key=lambda i: (i.priority, i.last_started_at or i.created_at))
        return pick_next(self.items, agent, "priority")


class SessionCore:
    """Session logic, free of I/O: every method returns a store plan or is pure."""

    def __init__(
        self,
        *,
        project_id: str = "default",
        clock: Callable[[], datetime] | None = None,
        open_ttl_minutes: float | None = OPEN_SESSION_TTL_MINUTES,
    ) -> None:
        if open_ttl_minutes is not None and not open_ttl_minutes > 0:
            raise ProgressError(
                f"open_ttl_minutes must be positive or None, got {open_ttl_minutes!r}"
            )
        self.project_id = project_id
        self.clock = clock or utcnow
        self.open_ttl_minutes = open_ttl_minutes

    def _project(self, project_id: str | None) -> str:
        return project_id if project_id is not None else self.project_id

    def snapshot(
        self, project_id: str | None, agent: str | None, open_session: SessionHandoff | None = None
    ) -> StorePlan[Snapshot]:
        project = self._project(project_id)
        ops: list[Any] = [put_session(open_session, self.open_ttl_minutes)] if open_session else []
        session_op, item_op = page_op(session_namespace(project, agent)), scan_op(project)
        results = yield [*ops, session_op, item_op]
        sessions = yield from scan_rest(session_op, results[-2])
        items = yield from scan_rest(item_op, results[-1])
        previous = next(iter(ended_sessions(sessions)), None)
        return Snapshot(previous, items_of(items), project, agent)

    def start_session(
        self, project_id: str | None, agent: str | None
    ) -> StorePlan[tuple[SessionHandoff, Snapshot]]:
        """Open a session record and read what the new session starts from."""
        project = self._project(project_id)
        opened = SessionHandoff(project_id=project, agent=agent, started_at=self.clock())
        snap = yield from self.snapshot(project, agent, opened)
        return opened, snap

    @staticmethod
    def retrieval_task(snap: Snapshot) -> str:
        """What to ask memory about: the focus item, else the last summary."""
        if snap.focus is not None:
            return f"{snap.focus.title} {snap.focus.description}".strip()
        if snap.previous is not None and (snap.previous.summary or snap.previous.next_steps):
            return " ".join([snap.previous.summary, *snap.previous.next_steps]).strip()
        return ""

    @staticmethod
    def context(opened: SessionHandoff, snap: Snapshot, found: Any = None) -> SessionContext:
        previous = snap.previous
        outcomes = list(getattr(found, "outcomes", []) or [])
        outcomes.sort(key=lambda o: o.timestamp, reverse=True)
        return SessionContext(
            session_id=opened.session_id,
            project_id=opened.project_id,
            agent=opened.agent,
            started_at=opened.started_at,
            previous_handoff=previous,
            progress=snap.summary,
            suggested_focus=snap.focus,
            blockers=list(previous.blockers) if previous else [],
            next_steps=list(previous.next_steps) if previous else [],
            recent_outcomes=outcomes,
            heuristics=list(getattr(found, "heuristics", []) or []),
            workflow_outcomes=list(getattr(found, "workflow_outcomes", []) or []),
            anti_patterns=list(getattr(found, "anti_patterns", []) or []),
        )

    def end_session(
        self,
        session_id: str,
        *,
        agent: str | None = None,
        project_id: str | None = None,
        **fields: Any,
    ) -> StorePlan[SessionHandoff]:
        """Close a session `start_session` opened, recording its handoff (`fields`: any
        of `HANDOFF_FIELDS`, e.g. summary, last_action, last_outcome, key_decisions,
        blockers, next_steps, active_files, test_status, work_items)."""
        fields = handoff_fields(fields)
        project = self._project(project_id)
        (result,) = yield [GetOp(session_namespace(project, agent), session_id)]
        found = cast(Item | None, result)
        if found is None:
            raise SessionNotFound(
                f"no session {session_id!r} for agent {agent!r} in project {project!r}"
            )
        handoff = SessionHandoff.model_validate(found.value)
        if handoff.ended_at is not None:
            raise ProgressError(f"session {session_id!r} already ended at {handoff.ended_at}")
        handoff = closed(handoff, self.clock(), fields)
        yield [put_session(handoff)]
        return handoff

    def create_handoff(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        last_action: str = "",
        last_outcome: str | None = None,
        *,
        started_at: datetime | None = None,
        **context: Any,
    ) -> StorePlan[SessionHandoff]:
        """The PRD's `create_handoff(project_id, agent, session_id, last_action,
        last_outcome, **context)`: close the open session `session_id` with its handoff,
        or record a complete one (a new session when `session_id` names none)."""
        fields = handoff_fields(context)
        if last_action:
            fields["last_action"] = last_action
        if last_outcome is not None:
            fields["last_outcome"] = last_outcome
        project = self._project(project_id)
        now = self.clock()
        if session_id:
            (result,) = yield [GetOp(session_namespace(project, agent), session_id)]
            found = cast(Item | None, result)
            if found is not None:
                handoff = SessionHandoff.model_validate(found.value)
                if handoff.ended_at is not None:
                    raise ProgressError(
                        f"session {session_id!r} already ended at {handoff.ended_at}"
                    )
                handoff = closed(handoff, now, fields)
                yield [put_session(handoff)]
                return handoff
        ids: dict[str, Any] = {"session_id": session_id} if session_id else {}
        opened = SessionHandoff(
            **ids, project_id=project, agent=agent, started_at=started_at or now
        )
        handoff = closed(opened, now, fields)
        yield [put_session(handoff)]
        return handoff

    def previous_sessions(
        self, project_id: str | None = None, agent: str | None = None, limit: int = 5
    ) -> StorePlan[list[SessionHandoff]]:
        """Ended sessions, latest first: of `agent`, or of every agent when None."""
        project = self._project(project_id)
        ns = session_namespace(project, agent) if agent is not None else session_prefix(project)
        op = page_op(ns)
        (first,) = yield [op]
        found = yield from scan_rest(op, first)
        return ended_sessions(found)[:limit]

    @staticmethod
    def reload_text(project_id: str, agent: str | None, snap: Snapshot) -> str:
        """A compact briefing an agent can read at once."""
        lines = [f"# Resume: project {project_id}" + (f", agent {agent}" if agent else "")]
        lines.append(f"Progress: {snap.summary.line()}")
        prev = snap.previous
        if prev is None:
            lines.append("Last session: none recorded")
        else:
            when = prev.ended_at.strftime("%Y-%m-%d %H:%M UTC") if prev.ended_at else "?"
            lines.append(f"Last session ({when}): {prev.summary or '(no summary)'}")
            if prev.current_goal:
                lines.append(f"Goal: {prev.current_goal}")
            if prev.last_action:
                outcome = f" ({prev.last_outcome})" if prev.last_outcome else ""
                lines.append(f"Last action: {prev.last_action}{outcome}")
            if prev.active_files:
                lines.append("Active files: " + ", ".join(prev.active_files[:10]))
            if prev.test_status:
                failing = [t for t, ok in prev.test_status.items() if not ok]
                lines.append(
                    f"Tests: {len(prev.test_status) - len(failing)}/{len(prev.test_status)} "
                    "passing" + (f"; failing: {', '.join(failing[:5])}" if failing else "")
                )
            if prev.risk_flags:
                lines.append("Risks: " + "; ".join(prev.risk_flags))
            if prev.key_decisions:
                lines.append("Decisions: " + "; ".join(prev.key_decisions[-3:]))
            if prev.blockers:
                lines.append("Blockers: " + "; ".join(prev.blockers))
            if prev.next_steps:
                lines.append("Next steps: " + "; ".join(prev.next_steps))
        if snap.focus is not None:
            f = snap.focus
            lines.append(f"Focus: {f.title} [{f.id}] (priority {f.priority}, {f.status.value})")
        else:
            lines.append("Focus: nothing ready")
        for b in snap.summary.blocked[:3]:
            waits = ", ".join(
                snap.items[d].title if d in snap.items else d for d in b["blocked_by"]
            )
            lines.append(f"Blocked: {b['title']} (waits on {waits or '?'})")
        return "\n".join(lines)
