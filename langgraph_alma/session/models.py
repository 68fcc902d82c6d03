"""Session handoff models: what one session leaves for the next (`SessionHandoff`) and
what a new session starts from (`SessionContext`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from langgraph_alma.memory.types import AntiPattern, Heuristic, Outcome, WorkflowOutcome, new_id
from langgraph_alma.progress.models import ProgressSummary, WorkItem

MAX_DECISIONS = 10
"""A handoff keeps the latest this many key decisions."""

RULES_OF_ENGAGEMENT = (
    "Work on one item at a time; finish it or hand it off before starting another.",
    "Do not mark an item done until its tests pass.",
    "Resolve or escalate carried-over blockers before new work.",
    "Record key decisions, blockers and next steps before ending the session.",
)
"""The default rules of engagement a `SessionContext` gives the agent."""


LastOutcome = Literal["success", "failure", "interrupted"]


class SessionHandoff(BaseModel):
    """One session's record: open while it runs (`ended_at` None), a handoff once ended.

    The PRD's fields: `last_action`, `last_outcome` (success, failure or interrupted),
    `current_goal`, `key_decisions` (the latest 10), `active_files`, `blockers`,
    `next_steps`, `test_status`, `confidence_level`, `risk_flags`, `session_start` and
    `session_end` (our `started_at` and `ended_at`), `duration_ms`.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, populate_by_name=True)

    session_id: str = Field(default_factory=new_id)
    project_id: str = "default"
    agent: str | None = None
    started_at: datetime = Field(validation_alias=AliasChoices("started_at", "session_start"))
    ended_at: datetime | None = Field(
        default=None, validation_alias=AliasChoices("ended_at", "session_end")
    )
    summary: str = ""
    last_action: str = ""
    last_outcome: LastOutcome | None = None
    current_goal: str = ""
    key_decisions: list[str] = Field(default_factory=list)
    active_files: list[str] = Field(default_factory=list)
    blockers: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    test_status: dict[str, bool] = Field(default_factory=dict)
    confidence_level: float = Field(default=0.5, ge=0.0, le=1.0)
    risk_flags: list[str] = Field(default_factory=list)
    work_items: list[str] = Field(default_factory=list)  # ids of work items touched
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("key_decisions")
    @classmethod
    def _latest_decisions(cls, value: list[str]) -> list[str]:
        return list(value)[-MAX_DECISIONS:]

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    @property
    def id(self) -> str:
        return self.session_id

    @property
    def session_start(self) -> datetime:
        return self.started_at

    @property
    def session_end(self) -> datetime | None:
        return self.ended_at

    @property
    def duration_ms(self) -> int | None:
        """How long the session ran (None while it is open)."""
        if self.ended_at is None:
            return None
        return max(0, int((self.ended_at - self.started_at).total_seconds() * 1000))


HANDOFF_FIELDS = frozenset(SessionHandoff.model_fields) - {
    "session_id",
    "project_id",
    "agent",
    "started_at",
    "ended_at",
}
"""What a caller may set when ending a session or recording a handoff."""


class SessionContext(BaseModel):
    """Everything a new session needs to pick up where the last one left off."""

    session_id: str
    project_id: str
    agent: str | None = None
    started_at: datetime
    previous_handoff: SessionHandoff | None = None
    progress: ProgressSummary
    suggested_focus: WorkItem | None = None
    blockers: list[str] = Field(default_factory=list)  # carried from the previous handoff
    next_steps: list[str] = Field(default_factory=list)  # from the previous handoff
    recent_outcomes: list[Outcome] = Field(default_factory=list)
    heuristics: list[Heuristic] = Field(default_factory=list)
    anti_patterns: list[AntiPattern] = Field(default_factory=list)
    workflow_outcomes: list[WorkflowOutcome] = Field(default_factory=list)  # past runs
    rules_of_engagement: list[str] = Field(default_factory=lambda: list(RULES_OF_ENGAGEMENT))
