"""Progress tracking models: `WorkItem`, `ProgressSummary`, `ProgressLog`."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from langgraph_alma.memory.types import new_id, utcnow


class WorkStatus(StrEnum):
    """Where a work item stands; `TRANSITIONS` lists the allowed changes."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    BLOCKED = "blocked"
    REVIEW = "review"
    DONE = "done"
    FAILED = "failed"


S = WorkStatus

# Allowed status changes; anything else raises `InvalidTransition`. DONE is terminal.
TRANSITIONS: dict[WorkStatus, frozenset[WorkStatus]] = {
    S.PENDING: frozenset({S.IN_PROGRESS, S.BLOCKED, S.FAILED}),
    S.IN_PROGRESS: frozenset({S.PENDING, S.BLOCKED, S.REVIEW, S.DONE, S.FAILED}),
    S.BLOCKED: frozenset({S.PENDING, S.IN_PROGRESS, S.FAILED}),
    S.REVIEW: frozenset({S.IN_PROGRESS, S.DONE, S.FAILED}),
    S.DONE: frozenset(),
    S.FAILED: frozenset({S.PENDING, S.IN_PROGRESS}),
}
"""The statuses each status may change to; anything else raises `InvalidTransition`."""


class WorkItem(BaseModel):
    """One unit of work: a feature, bug, task or test, with its dependencies."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    id: str = Field(default_factory=new_id)
    project_id: str = "default"
    agent: str | None = None
    title: str
    description: str = ""
    item_type: str = "task"
    status: WorkStatus = WorkStatus.PENDING
    priority: int = Field(default=50, ge=0, le=100)
    parent_id: str | None = None
    blocks: list[str] = Field(default_factory=list)  # items waiting on this one
    blocked_by: list[str] = Field(default_factory=list)  # items this one waits on
    tests: list[str] = Field(default_factory=list)
    tests_passing: bool = False
    attempts: int = Field(
        default=0, ge=0, validation_alias=AliasChoices("attempts", "attempt_count")
    )
    time_spent_ms: int = Field(default=0, ge=0)
    estimate_ms: int | None = Field(default=None, ge=0)  # optional; used by "quick_win"
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None  # first time in progress
    last_started_at: datetime | None = None  # current stretch in progress
    completed_at: datetime | None = None
    notes: list[str] = Field(default_factory=list)  # given with status changes
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def attempt_count(self) -> int:
        """The PRD's name for `attempts`: how many times the item was started."""
        return self.attempts


class ProgressSummary(BaseModel):
    """Counts by status, percent done and what is blocked, for one project."""

    project_id: str
    total: int = 0
    by_status: dict[str, int] = Field(default_factory=lambda: {s.value: 0 for s in WorkStatus})
    percent_done: float = 0.0
    blocked: list[dict[str, Any]] = Field(default_factory=list)  # id, title, blocked_by
    in_progress: list[dict[str, Any]] = Field(default_factory=list)  # id, title, agent

    def line(self) -> str:
        """The summary as one line: "3/5 done (60%), 1 in progress, ..."."""
        c = self.by_status
        return (
            f"{c['done']}/{self.total} done ({self.percent_done:.0f}%), "
            f"{c['in_progress']} in progress, {c['review']} in review, "
            f"{c['blocked']} blocked, {c['pending']} pending, {c['failed']} failed"
        )


class ProgressLog(BaseModel):
    """A snapshot of a project's progress, logged at a point of a session, with the
    PRD's counters (`items_total`, `items_done`, `items_in_progress`, `items_blocked`),
    the agent's `current_item_id`, and what the session reports (`current_action`,
    `actions_taken`, `outcomes_recorded`)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=new_id)
    project_id: str
    agent: str | None = None
    session_id: str | None = None
    created_at: datetime
    notes: str = ""
    summary: ProgressSummary
    items_touched: list[str] = Field(default_factory=list)
    items_total: int = 0
    items_done: int = 0
    items_in_progress: int = 0
    items_blocked: int = 0
    current_item_id: str | None = None
    current_action: str = ""
    actions_taken: int = Field(default=0, ge=0)
    outcomes_recorded: int = Field(default=0, ge=0)
