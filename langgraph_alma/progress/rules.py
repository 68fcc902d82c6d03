"""The rules of progress tracking, pure: the errors it raises, the strategies that pick
the next item, dependency paths (a cycle is refused), and a project's summary."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from langgraph_alma.errors import AlmaError
from langgraph_alma.progress.models import TRANSITIONS, ProgressSummary, WorkItem, WorkStatus

Strategy = Literal["priority", "blocked_unblock", "quick_win"]
STRATEGIES = ("priority", "blocked_unblock", "quick_win")


class ProgressError(AlmaError, ValueError):
    """A progress operation that cannot be done as asked."""


class InvalidTransition(ProgressError):
    """A status change `TRANSITIONS` does not allow; carries the item and both statuses."""

    def __init__(self, item_id: str, old: WorkStatus, new: WorkStatus) -> None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[old])) or "none (terminal)"
        super().__init__(
            f"work item {item_id!r}: cannot go from {old.value!r} to {new.value!r} "
            f"(allowed from {old.value!r}: {allowed})"
        )
        self.item_id, self.from_status, self.to_status = item_id, old, new


class DependencyCycle(ProgressError):
    """A dependency that would make a work item depend on itself, directly or not."""


class WorkItemNotFound(ProgressError, LookupError):
    """No work item with that id in this project."""


def reaches(start: str, target: str, items: dict[str, WorkItem]) -> list[str] | None:
    """A path start -> ... -> target following `blocks` edges, or None."""
    stack: list[list[str]] = [[start]]
    seen: set[str] = set()
    while stack:
        path = stack.pop()
        node = path[-1]
        if node == target:
            return path
        if node in seen:
            continue
        seen.add(node)
        item = items.get(node)
        if item is not None:
            stack.extend([*path, nxt] for nxt in item.blocks)
    return None


def summarise(project_id: str, items: Iterable[WorkItem]) -> ProgressSummary:
    summary = ProgressSummary(project_id=project_id)
    for item in sorted(items, key=lambda i: (-i.priority, i.created_at)):
        summary.total += 1
        summary.by_status[item.status.value] += 1
        if item.status is WorkStatus.BLOCKED:
            summary.blocked.append(
                {"id": item.id, "title": item.title, "blocked_by": list(item.blocked_by)}
            )
        elif item.status is WorkStatus.IN_PROGRESS:
            summary.in_progress.append({"id": item.id, "title": item.title, "agent": item.agent})
    if summary.total:
        summary.percent_done = round(100.0 * summary.by_status["done"] / summary.total, 1)
    return summary


def pick_next(items: dict[str, WorkItem], agent: str | None, strategy: str) -> WorkItem | None:
    """The next pending item for `agent` (its own or unassigned ones) by `strategy`."""
    if strategy not in STRATEGIES:
        raise ProgressError(f"unknown strategy {strategy!r}; use one of {', '.join(STRATEGIES)}")
    ready = [
        i
        for i in items.values()
        if i.status is WorkStatus.PENDING
        and (agent is None or i.agent in (None, agent))
        and all(items[b].status is WorkStatus.DONE for b in i.blocked_by if b in items)
    ]
    if not ready:
        return None

    def waiting(item: WorkItem) -> int:  # dependants not done yet
        return sum(1 for d in item.blocks if d in items and items[d].status is not WorkStatus.DONE)

    def key(item: WorkItem) -> tuple[Any, ...]:
        base = (-item.priority, item.created_at, item.id)
        if strategy == "blocked_unblock":
            return (-waiting(item), *base)
        if strategy == "quick_win":
            estimate = item.estimate_ms if item.estimate_ms is not None else float("inf")
            return (estimate, len(item.tests), *base)
        return base

    return min(ready, key=key)
