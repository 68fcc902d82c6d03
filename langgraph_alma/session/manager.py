"""`AsyncSessionManager` and `SessionManager`: shells driving `SessionCore`'s store plans,
with memory retrieval through an optional `AsyncAlma` / `Alma`. `SessionManager` is
GENERATED from `AsyncSessionManager` by `scripts/unasync.py`: edit the async class only."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from langgraph.store.base import BaseStore

from langgraph_alma.memory.plan import StorePlan, arun_store_plan, run_store_plan
from langgraph_alma.progress.tracker import AsyncProgressTracker, ProgressTracker
from langgraph_alma.session.core import OPEN_SESSION_TTL_MINUTES, SessionCore
from langgraph_alma.session.models import SessionContext, SessionHandoff

if TYPE_CHECKING:
    from langgraph_alma.alma.protocols import AsyncRetriever, Retriever

RETRIEVE_TOP_K = 5
T = TypeVar("T")


class AsyncSessionManager:
    """`AsyncSessionManager`: session start, handoff and quick reload, persisted in `store`
    (its plans driven by `store.abatch`), retrieval through an `AsyncAlma`.

    >>> sessions = AsyncSessionManager(store, project_id="checkout", alma=alma)  # doctest: +SKIP
    >>> ctx = await sessions.start_session(agent="helena")  # previous handoff, focus, memories
    >>> ...
    >>> await sessions.end_session(ctx.session_id, agent="helena", summary="login form done",
    ...                            key_decisions=["use the form's own validator"],
    ...                            next_steps=["signup form"])
    >>> print(await sessions.get_quick_reload(agent="helena"))

    A started session that is never ended expires after `open_ttl_minutes` (a week).
    """

    def __init__(
        self,
        store: BaseStore,
        project_id: str = "default",
        clock: Callable[[], datetime] | None = None,
        alma: AsyncRetriever | None = None,
        open_ttl_minutes: float | None = OPEN_SESSION_TTL_MINUTES,
    ) -> None:
        self.store, self.alma = store, alma
        self.core = SessionCore(
            project_id=project_id, clock=clock, open_ttl_minutes=open_ttl_minutes
        )
        self.tracker = AsyncProgressTracker(store, project_id=project_id, clock=clock)

    @property
    def project_id(self) -> str:
        """The project used when a call names none."""
        return self.core.project_id

    async def _run(self, plan: StorePlan[T]) -> T:
        return await arun_store_plan(self.store, plan)

    async def start_session(
        self, project_id: str | None = None, agent: str | None = None
    ) -> SessionContext:
        """Open a session: previous handoff, progress, suggested focus, carried blockers
        and, with an Alma and an agent, the memories relevant to the focus."""
        opened, snap = await self._run(self.core.start_session(project_id, agent))
        found = None
        task = self.core.retrieval_task(snap)
        if self.alma is not None and agent is not None and task:
            found = await self.alma.retrieve(
                task,
                agent=agent,
                project_id=opened.project_id,
                top_k=RETRIEVE_TOP_K,
                include_workflow_outcomes=True,
            )
        return self.core.context(opened, snap, found)

    async def end_session(self, session_id: str, **handoff: Any) -> SessionHandoff:
        """Close a started session: agent, project_id and handoff fields (summary,
        last_action, last_outcome, key_decisions, blockers, next_steps, active_files,
        test_status, risk_flags, work_items...)."""
        return await self._run(self.core.end_session(session_id, **handoff))

    async def create_handoff(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        last_action: str = "",
        last_outcome: str | None = None,
        **context: Any,
    ) -> SessionHandoff:
        """The PRD's call: close the open session `session_id` with its handoff, or
        record a complete one; `context` holds the other handoff fields.

        >>> await sessions.create_handoff("shop", "helena", sid, "ran the tests", "success",
        ...                               next_steps=["signup form"])    # doctest: +SKIP
        """
        return await self._run(
            self.core.create_handoff(
                project_id, agent, session_id, last_action, last_outcome, **context
            )
        )

    async def get_previous_sessions(
        self, project_id: str | None = None, agent: str | None = None, limit: int = 5
    ) -> list[SessionHandoff]:
        """Ended sessions, latest first: of `agent`, or of every agent when None."""
        return await self._run(self.core.previous_sessions(project_id, agent, limit))

    async def get_quick_reload(
        self, project_id: str | None = None, agent: str | None = None
    ) -> str:
        """The last handoff, progress and focus as short text for a prompt."""
        project = project_id if project_id is not None else self.project_id
        snap = await self._run(self.core.snapshot(project, agent))
        return self.core.reload_text(project, agent, snap)


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class SessionManager:
    """`SessionManager`: session start, handoff and quick reload, persisted in `store`
    (its plans driven by `store.batch`), retrieval through an `Alma`.

    >>> sessions = SessionManager(store, project_id="checkout", alma=alma)  # doctest: +SKIP
    >>> ctx = sessions.start_session(agent="helena")  # previous handoff, focus, memories
    >>> ...
    >>> sessions.end_session(ctx.session_id, agent="helena", summary="login form done",
    ...                            key_decisions=["use the form's own validator"],
    ...                            next_steps=["signup form"])
    >>> print(sessions.get_quick_reload(agent="helena"))

    A started session that is never ended expires after `open_ttl_minutes` (a week).
    """

    def __init__(
        self,
        store: BaseStore,
        project_id: str = "default",
        clock: Callable[[], datetime] | None = None,
        alma: Retriever | None = None,
        open_ttl_minutes: float | None = OPEN_SESSION_TTL_MINUTES,
    ) -> None:
        self.store, self.alma = store, alma
        self.core = SessionCore(
            project_id=project_id, clock=clock, open_ttl_minutes=open_ttl_minutes
        )
        self.tracker = ProgressTracker(store, project_id=project_id, clock=clock)

    @property
    def project_id(self) -> str:
        """The project used when a call names none."""
        return self.core.project_id

    def _run(self, plan: StorePlan[T]) -> T:
        return run_store_plan(self.store, plan)

    def start_session(
        self, project_id: str | None = None, agent: str | None = None
    ) -> SessionContext:
        """Open a session: previous handoff, progress, suggested focus, carried blockers
        and, with an Alma and an agent, the memories relevant to the focus."""
        opened, snap = self._run(self.core.start_session(project_id, agent))
        found = None
        task = self.core.retrieval_task(snap)
        if self.alma is not None and agent is not None and task:
            found = self.alma.retrieve(
                task,
                agent=agent,
                project_id=opened.project_id,
                top_k=RETRIEVE_TOP_K,
                include_workflow_outcomes=True,
            )
        return self.core.context(opened, snap, found)

    def end_session(self, session_id: str, **handoff: Any) -> SessionHandoff:
        """Close a started session: agent, project_id and handoff fields (summary,
        last_action, last_outcome, key_decisions, blockers, next_steps, active_files,
        test_status, risk_flags, work_items...)."""
        return self._run(self.core.end_session(session_id, **handoff))

    def create_handoff(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        last_action: str = "",
        last_outcome: str | None = None,
        **context: Any,
    ) -> SessionHandoff:
        """The PRD's call: close the open session `session_id` with its handoff, or
        record a complete one; `context` holds the other handoff fields.

        >>> sessions.create_handoff("shop", "helena", sid, "ran the tests", "success",
        ...                               next_steps=["signup form"])    # doctest: +SKIP
        """
        return self._run(
            self.core.create_handoff(
                project_id, agent, session_id, last_action, last_outcome, **context
            )
        )

    def get_previous_sessions(
        self, project_id: str | None = None, agent: str | None = None, limit: int = 5
    ) -> list[SessionHandoff]:
        """Ended sessions, latest first: of `agent`, or of every agent when None."""
        return self._run(self.core.previous_sessions(project_id, agent, limit))

    def get_quick_reload(self, project_id: str | None = None, agent: str | None = None) -> str:
        """The last handoff, progress and focus as short text for a prompt."""
        project = project_id if project_id is not None else self.project_id
        snap = self._run(self.core.snapshot(project, agent))
        return self.core.reload_text(project, agent, snap)
