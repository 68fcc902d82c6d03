"""Session handoff models: what one session leaves for the next (`SessionHandoff`) and
what a new session starts from (`SessionContext`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from langgraph_alma.memory.types import AntiPattern, Heuristic, Outcome, new_id
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


class SessionHandoff(BaseModel):
    """One session's record: open while it runs (`ended_at` None), a handoff once ended."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    session_id: str = Field(default_factory=new_id)
    project_id: str = "default"
    agent: str | None = None
    started_at: datetime
    ended_at: datetime | None = None
    summary: str = ""
    key_decisions: list[str] = Field(default_factory=list)
    blockers: list[str] = Field(default_factory=list)
    next_steps: list[str] = Field(default_factory=list)
    work_items: list[str] = Field(default_factory=list)  # ids of work items touched

    @field_validator("key_decisions")
    @classmethod
    def _latest_decisions(cls, value: list[str]) -> list[str]:
        return list(value)[-MAX_DECISIONS:]

    @property
    def ended(self) -> bool:
        return self.ended_at is not None


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
    rules_of_engagement: list[str] = Field(default_factory=lambda: list(RULES_OF_ENGAGEMENT))
