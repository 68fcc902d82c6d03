"""`ProgressTracker` (sync) and `AsyncProgressTracker`: shells driving `ProgressCore`'s
store plans on any LangGraph `BaseStore` (an `AlmaStore` in production).

Changes read the project's items and write some back; on an `AlmaStore` they run inside
`store.atomic(...)` (one transaction, serialised per tenant and project), so two agents
updating one project at once cannot lose each other's writes. Other stores get no lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from langgraph.store.base import BaseStore

from langgraph_alma.memory._plan import (
    arun_store_plan,
    astore_atomic,
    run_store_plan,
    store_atomic,
)
from langgraph_alma.progress.core import ProgressCore, Strategy
from langgraph_alma.progress.models import ProgressLog, ProgressSummary, WorkItem, WorkStatus


def change_key(core: ProgressCore, project_id: str | None) -> str:
    """The `atomic` key serialising changes to one project's work items."""
    return f"alma.progress:{core._project(project_id)}"


class ProgressTracker:
    """Work items, their dependencies and status, persisted in `store`.

    >>> tracker = ProgressTracker(store, project_id="checkout")     # doctest: +SKIP
    >>> a = tracker.create_work_item("login form", priority=80)
    >>> b = tracker.create_work_item("login tests", blocked_by=[a.id])   # b is blocked
    >>> tracker.update_status(a.id, "in_progress"); tracker.update_status(a.id, "done")
    >>> tracker.get_next_item().title                                   # 'login tests'
    """

    def __init__(
        self,
        store: BaseStore,
        project_id: str = "default",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.core = ProgressCore(project_id=project_id, clock=clock)

    @property
    def project_id(self) -> str:
        """The project used when a call names none."""
        return self.core.project_id

    def _run(self, plan: Any) -> Any:
        return run_store_plan(self.store, plan)

    def _change(self, plan: Any, project_id: str | None) -> Any:
        with store_atomic(self.store, change_key(self.core, project_id)):
            return run_store_plan(self.store, plan)

    def create_work_item(self, title: str, **kwargs: Any) -> WorkItem:
        """See `ProgressCore.create_work_item`: description, item_type, priority, agent,
        project_id, parent_id, blocks, blocked_by, tests, estimate_ms, item_id, metadata."""
        plan = self.core.create_work_item(title, **kwargs)
        return self._change(plan, kwargs.get("project_id"))

    def add_dependency(
        self, item_id: str, blocked_by: str, project_id: str | None = None
    ) -> WorkItem:
        """Make `item_id` wait on `blocked_by`; a cycle raises `DependencyCycle`."""
        return self._change(self.core.add_dependency(item_id, blocked_by, project_id), project_id)

    def get_item(self, item_id: str, project_id: str | None = None) -> WorkItem | None:
        """The work item with this id, or None."""
        return self._run(self.core.get_item(item_id, project_id))

    def list_items(self, project_id: str | None = None) -> list[WorkItem]:
        """Every work item of the project, oldest first."""
        items = self._run(self.core.all_items(project_id))
        return sorted(items.values(), key=lambda i: (i.created_at, i.id))

    def update_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
    ) -> WorkItem:
        """Move an item to `status` (`TRANSITIONS` says which moves are allowed, else
        `InvalidTransition`); finishing one unblocks the items waiting only on it.

        >>> tracker.update_status(item.id, "done", tests_passing=True)   # doctest: +SKIP
        """
        plan = self.core.update_status(
            item_id, status, tests_passing=tests_passing, project_id=project_id
        )
        return self._change(plan, project_id)

    def get_next_item(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        strategy: Strategy | str = "priority",
    ) -> WorkItem | None:
        """The next pending, unblocked item for `agent` (its own or unassigned ones) by
        `strategy`: "priority", "blocked_unblock" (unblocks the most) or "quick_win"."""
        return self._run(self.core.get_next_item(project_id, agent, strategy))

    def get_progress_summary(self, project_id: str | None = None) -> ProgressSummary:
        """Counts by status, percent done, and the blocked and in-progress items."""
        return self._run(self.core.get_progress_summary(project_id))

    def log_session_progress(
        self,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        notes: str = "",
        items_touched: Sequence[str] = (),
        project_id: str | None = None,
    ) -> ProgressLog:
        """Record a session's notes and touched items with a summary of the project."""
        plan = self.core.log_session_progress(
            agent=agent,
            session_id=session_id,
            notes=notes,
            items_touched=items_touched,
            project_id=project_id,
        )
        return self._change(plan, project_id)

    def get_progress_logs(
        self, limit: int = 10, project_id: str | None = None
    ) -> list[ProgressLog]:
        """The latest `limit` progress logs, newest first."""
        return self._run(self.core.get_progress_logs(limit, project_id))


class AsyncProgressTracker:
    """`ProgressTracker`, async: the same plans driven by `store.abatch`."""

    def __init__(
        self,
        store: BaseStore,
        project_id: str = "default",
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.core = ProgressCore(project_id=project_id, clock=clock)

    @property
    def project_id(self) -> str:
        """The project used when a call names none."""
        return self.core.project_id

    async def _run(self, plan: Any) -> Any:
        return await arun_store_plan(self.store, plan)

    async def _change(self, plan: Any, project_id: str | None) -> Any:
        async with astore_atomic(self.store, change_key(self.core, project_id)):
            return await arun_store_plan(self.store, plan)

    async def create_work_item(self, title: str, **kwargs: Any) -> WorkItem:
        """Async `ProgressTracker.create_work_item`."""
        plan = self.core.create_work_item(title, **kwargs)
        return await self._change(plan, kwargs.get("project_id"))

    async def add_dependency(
        self, item_id: str, blocked_by: str, project_id: str | None = None
    ) -> WorkItem:
        """Async `ProgressTracker.add_dependency`."""
        plan = self.core.add_dependency(item_id, blocked_by, project_id)
        return await self._change(plan, project_id)

    async def get_item(self, item_id: str, project_id: str | None = None) -> WorkItem | None:
        """Async `ProgressTracker.get_item`."""
        return await self._run(self.core.get_item(item_id, project_id))

    async def list_items(self, project_id: str | None = None) -> list[WorkItem]:
        """Async `ProgressTracker.list_items`."""
        items = await self._run(self.core.all_items(project_id))
        return sorted(items.values(), key=lambda i: (i.created_at, i.id))

    async def update_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
    ) -> WorkItem:
        """Async `ProgressTracker.update_status`."""
        plan = self.core.update_status(
            item_id, status, tests_passing=tests_passing, project_id=project_id
        )
        return await self._change(plan, project_id)

    async def get_next_item(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        strategy: Strategy | str = "priority",
    ) -> WorkItem | None:
        """Async `ProgressTracker.get_next_item`."""
        return await self._run(self.core.get_next_item(project_id, agent, strategy))

    async def get_progress_summary(self, project_id: str | None = None) -> ProgressSummary:
        """Async `ProgressTracker.get_progress_summary`."""
        return await self._run(self.core.get_progress_summary(project_id))

    async def log_session_progress(
        self,
        *,
        agent: str | None = None,
        session_id: str | None = None,
        notes: str = "",
        items_touched: Sequence[str] = (),
        project_id: str | None = None,
    ) -> ProgressLog:
        """Async `ProgressTracker.log_session_progress`."""
        plan = self.core.log_session_progress(
            agent=agent,
            session_id=session_id,
            notes=notes,
            items_touched=items_touched,
            project_id=project_id,
        )
        return await self._change(plan, project_id)

    async def get_progress_logs(
        self, limit: int = 10, project_id: str | None = None
    ) -> list[ProgressLog]:
        """Async `ProgressTracker.get_progress_logs`."""
        return await self._run(self.core.get_progress_logs(limit, project_id))
