"""`ProgressCore`: progress tracking written once as store plans (see
`langgraph_alma.memory.plan`); `ProgressTracker` and `AsyncProgressTracker` drive them.

Layout: each work item is an item in `("alma", project, "work_item")` keyed by its id;
progress logs live in `("alma", project, "progress_log")`. Dependencies are stored on
both sides (`blocks` on the blocker, `blocked_by` on the dependant). The pure rules (errors,
strategies, cycles, summaries) are in `rules`; their names stay importable from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from langgraph.store.base import GetOp, Item, PutOp, Result, SearchOp

from langgraph_alma.memory import items as it
from langgraph_alma.memory.plan import StorePlan
from langgraph_alma.memory.types import utcnow
from langgraph_alma.progress.models import (
    TRANSITIONS,
    ProgressLog,
    ProgressSummary,
    S,
    WorkItem,
    WorkStatus,
)
from langgraph_alma.progress.rules import (
    DependencyCycle,
    InvalidTransition,
    ProgressError,
    Strategy,
    WorkItemNotFound,
    pick_next,
    reaches,
    summarise,
)

PAGE = 1_000  # items per search while scanning a namespace (more pages as needed)
WORK_ITEM = "work_item"
PROGRESS_LOG = "progress_log"


def work_namespace(project_id: str) -> tuple[str, ...]:
    return (it.ROOT, it.label(project_id), WORK_ITEM)


def log_namespace(project_id: str) -> tuple[str, ...]:
    return (it.ROOT, it.label(project_id), PROGRESS_LOG)


def put_item(item: WorkItem) -> PutOp:
    return PutOp(work_namespace(item.project_id), item.id, item.model_dump(mode="json"), False)


def page_op(namespace: tuple[str, ...], offset: int = 0) -> SearchOp:
    return SearchOp(namespace, limit=PAGE, offset=offset, refresh_ttl=False)


def scan_op(project_id: str) -> SearchOp:
    """The first page of a project's work items."""
    return page_op(work_namespace(project_id))


def scan_rest(first_op: SearchOp, first: Result) -> StorePlan[list[Item]]:
    """Every item under `first_op`'s namespace, given its first page (the result of
    `first_op`): one more round trip per further page, none when the first page was not
    full."""
    page = cast(list[Item], first)
    found = list(page)
    while len(page) == first_op.limit:
        (result,) = yield [page_op(first_op.namespace_prefix, len(found))]
        page = cast(list[Item], result)
        found += page
    return found


def items_of(results: Iterable[Item]) -> dict[str, WorkItem]:
    return {i.key: WorkItem.model_validate(i.value) for i in results}


class ProgressCore:
    """Progress logic, free of I/O: every public method returns a store plan."""

    def __init__(self, *, project_id: str = "default", clock: Callable[[], datetime] | None = None):
        self.project_id = project_id
        self.clock = clock or utcnow

    def _project(self, project_id: str | None) -> str:
        return project_id if project_id is not None else self.project_id

    def all_items(self, project_id: str | None = None) -> StorePlan[dict[str, WorkItem]]:
        """Every work item of the project, by id (page after page)."""
        op = scan_op(self._project(project_id))
        (first,) = yield [op]
        found = yield from scan_rest(op, first)
        return items_of(found)

    def get_item(self, item_id: str, project_id: str | None = None) -> StorePlan[WorkItem | None]:
        """The work item with this id, or None."""
        (result,) = yield [GetOp(work_namespace(self._project(project_id)), item_id)]
        found = cast(Item | None, result)
        return WorkItem.model_validate(found.value) if found is not None else None

    def create_work_item(
        self,
        title: str,
        *,
        description: str = "",
        item_type: str = "task",
        priority: int = 50,
        agent: str | None = None,
        project_id: str | None = None,
        parent_id: str | None = None,
        blocks: Sequence[str] = (),
        blocked_by: Sequence[str] = (),
        tests: Sequence[str] = (),
        estimate_ms: int | None = None,
        item_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> StorePlan[WorkItem]:
        """A new work item, wired to the items it blocks and is blocked by (both must
        exist; a cycle raises `DependencyCycle`); BLOCKED while a blocker is not done."""
        project = self._project(project_id)
        fields: dict[str, Any] = {"id": item_id} if item_id else {}
        item = WorkItem(
            **fields,
            project_id=project,
            agent=agent,
            title=title,
            description=description,
            item_type=item_type,
            priority=priority,
            parent_id=parent_id,
            blocks=list(dict.fromkeys(blocks)),
            blocked_by=list(dict.fromkeys(blocked_by)),
            tests=list(tests),
            estimate_ms=estimate_ms,
            created_at=self.clock(),
            metadata=dict(metadata or {}),
        )
        items = yield from self.all_items(project)
        if item.id in items:
            raise ProgressError(f"work item {item.id!r} already exists in project {project!r}")
        known = set(items)
        unknown = [d for d in [*item.blocks, *item.blocked_by] if d not in known]
        if parent_id is not None and parent_id not in known:
            unknown.append(parent_id)
        if unknown:
            raise WorkItemNotFound(
                f"unknown work item id(s) {', '.join(map(repr, unknown))} in project {project!r}"
            )
        both = set(item.blocks) & set(item.blocked_by)
        if both:
            raise DependencyCycle(
                f"{item.title!r} cannot both block and be blocked by {sorted(both)}"
            )
        for blocked in item.blocks:  # new edges: blocker -> item -> blocked
            for blocker in item.blocked_by:
                if path := reaches(blocked, blocker, items):
                    cycle = " -> ".join([item.id, *path, item.id])
                    raise DependencyCycle(f"dependency cycle refused: {cycle}")
        if any(items[b].status is not WorkStatus.DONE for b in item.blocked_by):
            item.status = WorkStatus.BLOCKED
        puts = [put_item(item)]
        for b in item.blocked_by:
            blocking = items[b]
            blocking.blocks = [*blocking.blocks, item.id]
            puts.append(put_item(blocking))
        for d in item.blocks:
            dependant = items[d]
            dependant.blocked_by = [*dependant.blocked_by, item.id]
            if dependant.status is WorkStatus.PENDING:
                dependant.status = WorkStatus.BLOCKED
            puts.append(put_item(dependant))
        yield puts
        return item

    def add_dependency(
        self, item_id: str, blocked_by: str, project_id: str | None = None
    ) -> StorePlan[WorkItem]:
        """Make `item_id` wait on `blocked_by`; refuses a cycle."""
        project = self._project(project_id)
        items = yield from self.all_items(project)
        for i in (item_id, blocked_by):
            if i not in items:
                raise WorkItemNotFound(f"unknown work item {i!r} in project {project!r}")
        # the new edge blocked_by -> item_id closes a cycle if item_id already reaches it
        path = [item_id] if item_id == blocked_by else reaches(item_id, blocked_by, items)
        if path:
            cycle = " -> ".join([*path, item_id])
            raise DependencyCycle(f"dependency cycle refused: {cycle}")
        item, blocker = items[item_id], items[blocked_by]
        if blocked_by in item.blocked_by:
            return item
        item.blocked_by = [*item.blocked_by, blocked_by]
        blocker.blocks = [*blocker.blocks, item_id]
        if blocker.status is not WorkStatus.DONE and item.status is WorkStatus.PENDING:
            item.status = WorkStatus.BLOCKED
        yield [put_item(item), put_item(blocker)]
        return item

    def update_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        *,
        tests_passing: bool | None = None,
        project_id: str | None = None,
        notes: str | None = None,
    ) -> StorePlan[WorkItem]:
        """Move an item to `status` if `TRANSITIONS` allows it (`InvalidTransition`
        otherwise; starting an item that still waits raises `ProgressError`), track its
        time and attempts, keep `notes`, and unblock the items that waited only on it."""
        item, _ = yield from self.change_status(item_id, status, tests_passing, project_id, notes)
        return item

    def change_status(
        self,
        item_id: str,
        status: WorkStatus | str,
        tests_passing: bool | None = None,
        project_id: str | None = None,
        notes: str | None = None,
    ) -> StorePlan[tuple[WorkItem, bool]]:
        """`update_status`, also saying whether the status moved."""
        project = self._project(project_id)
        new = WorkStatus(status)
        items = yield from self.all_items(project)
        item = items.get(item_id)
        if item is None:
            raise WorkItemNotFound(f"unknown work item {item_id!r} in project {project!r}")
        old = item.status
        if new is not old and new not in TRANSITIONS[old]:
            raise InvalidTransition(item_id, old, new)
        waiting = [b for b in item.blocked_by if b in items and items[b].status is not S.DONE]
        if new is WorkStatus.IN_PROGRESS and old is not new and waiting:
            names = ", ".join(f"{items[b].title!r} ({items[b].status.value})" for b in waiting)
            raise ProgressError(
                f"work item {item_id!r} cannot go from {old.value!r} to 'in_progress': "
                f"it waits on {names}"
            )
        now = self.clock()
        if old is WorkStatus.IN_PROGRESS and new is not old and item.last_started_at:
            spent = int((now - item.last_started_at).total_seconds() * 1000)
            item.time_spent_ms += max(spent, 0)
            item.last_started_at = None
        if new is WorkStatus.IN_PROGRESS and old is not new:
            item.attempts += 1
            item.started_at = item.started_at or now
            item.last_started_at = now
        if new in (WorkStatus.DONE, WorkStatus.FAILED):
            item.completed_at = now
        elif new is not old:
            item.completed_at = None
        if tests_passing is not None:
            item.tests_passing = tests_passing
        if notes:
            item.notes = [*item.notes, notes]
        item.status = new
        puts = [put_item(item)]
        if new is WorkStatus.DONE:
            for d in item.blocks:
                dependant = items.get(d)
                if dependant is None or dependant.status is not WorkStatus.BLOCKED:
                    continue
                if all(
                    items[b].status is WorkStatus.DONE for b in dependant.blocked_by if b in items
                ):
                    dependant.status = WorkStatus.PENDING
                    puts.append(put_item(dependant))
        yield puts
        return item, new is not old

    def get_next_item(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        strategy: Strategy | str = "priority",
    ) -> StorePlan[WorkItem | None]:
        """See `pick_next`."""
        items = yield from self.all_items(project_id)
        return pick_next(items, agent, strategy)

    def get_progress_summary(
        self, project_id: str | None = None, agent: str | None = None
    ) -> StorePlan[ProgressSummary]:
        """Counts by status, percent done, and the blocked and in-progress items (of
        `agent` alone, when given)."""
        project = self._project(project_id)
        items = yield from self.all_items(project)
        return summarise(project, [i for i in items.values() if agent is None or i.agent == agent])

    def log_session_progress(
        self,
        project_id: str | None = None,
        agent: str | None = None,
        session_id: str | None = None,
        *,
        notes: str = "",
        items_touched: Sequence[str] = (),
        current_action: str = "",
        actions_taken: int = 0,
        outcomes_recorded: int = 0,
    ) -> StorePlan[ProgressLog]:
        """Store a session's progress: the project's counters, the agent's current item,
        and what the session reports (notes, touched items, action, counts)."""
        project = self._project(project_id)
        items = yield from self.all_items(project)
        summary = summarise(project, items.values())
        working = [
            i
            for i in items.values()
            if i.status is WorkStatus.IN_PROGRESS and (agent is None or i.agent == agent)
        ]
        current = max(working, key=lambda i: i.last_started_at or i.created_at, default=None)
        log = ProgressLog(
            project_id=project,
            agent=agent,
            session_id=session_id,
            created_at=self.clock(),
            notes=notes,
            summary=summary,
            items_touched=list(items_touched),
            items_total=summary.total,
            items_done=summary.by_status["done"],
            items_in_progress=summary.by_status["in_progress"],
            items_blocked=summary.by_status["blocked"],
            current_item_id=current.id if current else None,
            current_action=current_action,
            actions_taken=actions_taken,
            outcomes_recorded=outcomes_recorded,
        )
        yield [PutOp(log_namespace(project), log.id, log.model_dump(mode="json"), False)]
        return log

    def get_progress_logs(
        self, limit: int = 10, project_id: str | None = None
    ) -> StorePlan[list[ProgressLog]]:
        """The latest `limit` progress logs, newest first."""
        op = page_op(log_namespace(self._project(project_id)))
        (first,) = yield [op]
        found = yield from scan_rest(op, first)
        logs = [ProgressLog.model_validate(i.value) for i in found]
        logs.sort(key=lambda log: log.created_at, reverse=True)
        return logs[:limit]
