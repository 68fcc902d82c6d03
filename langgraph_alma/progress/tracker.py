"""`AsyncProgressTracker` and `ProgressTracker`: shells driving `ProgressCore`'s store
plans on any LangGraph `BaseStore` (an `AlmaStore` in production). `ProgressTracker` is
GENERATED from `AsyncProgressTracker` by `scripts/unasync.py`: edit the async class only.

Changes read the project's items and write some back; on an `AlmaStore` they run inside
`store.atomic(...)` (one transaction, serialised per tenant and project), so two agents
updating one project at once cannot lose each other's writes. Other stores get no lock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, overload

from langgraph.store.base import BaseStore

from langgraph_alma.memory.plan import (
    StorePlan,
    arun_store_plan,
    astore_atomic,
    run_store_plan,
    store_atomic,
)
from langgraph_alma.progress.core import ProgressCore, Strategy
from langgraph_alma.progress.models import ProgressLog, ProgressSummary, WorkItem, WorkStatus

T = TypeVar("T")

_ITEM_FIELDS = (
    "description",
    "item_type",
    "priority",
    "agent",
    "project_id",
    "parent_id",
    "blocks",
    "blocked_by",
    "tests",
    "estimate_ms",
    "metadata",
)


def item_arguments(
    title: str | WorkItem, kwargs: dict[str, Any]
) -> tuple[str, dict[str, Any], bool]:
    """(title, keywords, given as a `WorkItem`) for `create_work_item`: a `WorkItem`
    becomes its title and fields (its id kept)."""
    if not isinstance(title, WorkItem):
        return title, kwargs, False
    if kwargs:
        raise TypeError(f"create_work_item(item) takes no other arguments, got {sorted(kwargs)}")
    item = title
    fields = {f: getattr(item, f) for f in _ITEM_FIELDS}
    if "project_id" not in item.model_fields_set:  # the tracker's project, not "default"
        del fields["project_id"]
    return item.title, {**fields, "item_id": item.id}, True


def change_key(core: ProgressCore, project_id: str | None) -> str:
    """The `atomic` key serialising changes to one project's work items."""
    return f"alma.progress:{core._project(project_id)}"


class AsyncProgressTracker:
    """`AsyncProgressTracker`: work items, their dependencies and status, persisted in
    `store` (its plans driven by `store.abatch`).

    >>> tracker = AsyncProgressTracker(store, project_id="checkout")     # doctest: +SKIP
    >>> a = await tracker.create_work_item("login form", priority=80)
    >>> b = await tracker.create_work_item("login tests", blocked_by=[a.id])   # b is blocked
    >>> await tracker.update_status(a.id, "in_progress")
    >>> await tracker.update_status(a.id, "done")
    >>> await tracker.create_work_item(WorkItem(title="signup form"))    # the PRD's: an id
    >>> (await tracker.get_next_item()).title                           # 'login tests'
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

    async def _run(self, plan: StorePlan[T]) -> T:
        return await arun_store_plan(self.store, plan)

    async def _change(self, plan: StorePlan[T], project_id: str | None) -> T:
        async with astore_atomic(self.store, change_key(self.core, project_id)):
            return await arun_store_plan(self.store, plan)

    @overload
    async def create_work_item(self, title: WorkItem) -> str: ...
    @overload
    async def create_work_item(self, title: str, **kwargs: Any) -> WorkItem: ...
    async def create_work_item(self, title: str | WorkItem, **kwargs: Any) -> WorkItem | str:
        """The PRD's `create_work_item(item: WorkItem) -> str` (saves the item, returns
        its id), or ours: a title and `ProgressCore.create_work_item`'s keywords
        (description, item_type, priority, agent, project_id, parent_id, blocks,
        blocked_by, tests, estimate_ms, item_id, metadata), returning the item."""
        title, kwargs, prd = item_arguments(title, kwargs)
        plan = self.core.create_work_item(title, **kwargs)
        made = await self._change(plan, kwargs.get("project_id"))
        return made.id if prd else made

    async def add_dependency(
        self, item_id: str, blocked_by: str, project_id: str | None = None
    ) -> WorkItem:
        """Make `item_id` wait on `blocked_by`; a cycle raises `DependencyCycle`."""
        plan = self.core.add_dependency(item_id, blocked_by, project_id)
        return await self._change(plan, project_id)

    async def get_item(self, item_id: str, project_id: str | None = None) -> WorkItem | None:
        """The work item with this id, or None."""
        return await self._run(self.core.get_item(item_id, project_id))

    async def list_items(self, project_id: str | None = None) -> list[WorkItem]:
        """Every work item of the project, oldest first."""
        items = await self._run(self.core.all_items(project_id))
        return sorted(items.values(), key=lambda i: (i.created_at, i.id))

    async def update_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        notes: str | None = None,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
    ) -> bool:
        """The PRD's call: move an item to `status` (see `set_status`), keeping `notes`;
        True when its status changed, False when it already had it.

        >>> await tracker.update_status(item.id, "done", "all tests pass")  # doctest: +SKIP
        True
        """
        plan = self.core.change_status(item_id, status, tests_passing, project_id, notes)
        return (await self._change(plan, project_id))[1]

    async def set_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
        notes: str | None = None,
    ) -> WorkItem:
        """Move an item to `status` (`TRANSITIONS` says which moves are allowed, else
        `InvalidTransition`); finishing one unblocks the items waiting only on it.
        Returns the item.

        >>> await tracker.set_status(item.id, "done", tests_passing=True)  # doctest: +SKIP
        """
        plan = self.core.update_status(
            item_id, status, tests_passing=tests_passing, project_id=project_id, notes=notes
        )
        return await self._change(plan, project_id)

    async def get_next_item(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        strategy: Strategy | str = "priority",
    ) -> WorkItem | None:
        """The next pending, unblocked item for `agent` (its own or unassigned ones) by
        `strategy`: "priority", "blocked_unblock" (unblocks the most) or "quick_win"."""
        return await self._run(self.core.get_next_item(project_id, agent, strategy))

    async def get_progress_summary(
        self, project_id: str | None = None, agent: str | None = None
    ) -> ProgressSummary:
        """Counts by status, percent done, and the blocked and in-progress items."""
        return await self._run(self.core.get_progress_summary(project_id, agent))

    async def log_session_progress(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        **report: Any,
    ) -> ProgressLog:
        """The PRD's call: log a session's progress (counters, current item); `report`:
        notes, items_touched, current_action, actions_taken, outcomes_recorded."""
        plan = self.core.log_session_progress(project_id, agent, session_id, **report)
        return await self._change(plan, project_id)

    async def get_progress_logs(
        self, limit: int = 10, project_id: str | None = None
    ) -> list[ProgressLog]:
        """The latest `limit` progress logs, newest first."""
        return await self._run(self.core.get_progress_logs(limit, project_id))


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class ProgressTracker:
    """`ProgressTracker`: work items, their dependencies and status, persisted in
    `store` (its plans driven by `store.batch`).

    >>> tracker = ProgressTracker(store, project_id="checkout")     # doctest: +SKIP
    >>> a = tracker.create_work_item("login form", priority=80)
    >>> b = tracker.create_work_item("login tests", blocked_by=[a.id])   # b is blocked
    >>> tracker.update_status(a.id, "in_progress")
    >>> tracker.update_status(a.id, "done")
    >>> tracker.create_work_item(WorkItem(title="signup form"))    # the PRD's: an id
    >>> (tracker.get_next_item()).title                           # 'login tests'
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

    def _run(self, plan: StorePlan[T]) -> T:
        return run_store_plan(self.store, plan)

    def _change(self, plan: StorePlan[T], project_id: str | None) -> T:
        with store_atomic(self.store, change_key(self.core, project_id)):
            return run_store_plan(self.store, plan)

    @overload
    def create_work_item(self, title: WorkItem) -> str: ...
    @overload
    def create_work_item(self, title: str, **kwargs: Any) -> WorkItem: ...
    def create_work_item(self, title: str | WorkItem, **kwargs: Any) -> WorkItem | str:
        """The PRD's `create_work_item(item: WorkItem) -> str` (saves the item, returns
        its id), or ours: a title and `ProgressCore.create_work_item`'s keywords
        (description, item_type, priority, agent, project_id, parent_id, blocks,
        blocked_by, tests, estimate_ms, item_id, metadata), returning the item."""
        title, kwargs, prd = item_arguments(title, kwargs)
        plan = self.core.create_work_item(title, **kwargs)
        made = self._change(plan, kwargs.get("project_id"))
        return made.id if prd else made

    def add_dependency(
        self, item_id: str, blocked_by: str, project_id: str | None = None
    ) -> WorkItem:
        """Make `item_id` wait on `blocked_by`; a cycle raises `DependencyCycle`."""
        plan = self.core.add_dependency(item_id, blocked_by, project_id)
        return self._change(plan, project_id)

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
        notes: str | None = None,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
    ) -> bool:
        """The PRD's call: move an item to `status` (see `set_status`), keeping `notes`;
        True when its status changed, False when it already had it.

        >>> tracker.update_status(item.id, "done", "all tests pass")  # doctest: +SKIP
        True
        """
        plan = self.core.change_status(item_id, status, tests_passing, project_id, notes)
        return (self._change(plan, project_id))[1]

    def set_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
        notes: str | None = None,
    ) -> WorkItem:
        """Move an item to `status` (`TRANSITIONS` says which moves are allowed, else
        `InvalidTransition`); finishing one unblocks the items waiting only on it.
        Returns the item.

        >>> tracker.set_status(item.id, "done", tests_passing=True)  # doctest: +SKIP
        """
        plan = self.core.update_status(
            item_id, status, tests_passing=tests_passing, project_id=project_id, notes=notes
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

    def get_progress_summary(
        self, project_id: str | None = None, agent: str | None = None
    ) -> ProgressSummary:
        """Counts by status, percent done, and the blocked and in-progress items."""
        return self._run(self.core.get_progress_summary(project_id, agent))

    def log_session_progress(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        **report: Any,
    ) -> ProgressLog:
        """The PRD's call: log a session's progress (counters, current item); `report`:
        notes, items_touched, current_action, actions_taken, outcomes_recorded."""
        plan = self.core.log_session_progress(project_id, agent, session_id, **report)
        return self._change(plan, project_id)

    def get_progress_logs(
        self, limit: int = 10, project_id: str | None = None
    ) -> list[ProgressLog]:
        """The latest `limit` progress logs, newest first."""
        return self._run(self.core.get_progress_logs(limit, project_id))
