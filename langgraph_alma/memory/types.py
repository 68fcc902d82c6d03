"""ALMA's memory types as pydantic models, with ALMA's field names.

Every memory carries its scope (tenant, project, agent, workflow, run, node) and the
bookkeeping decay needs (created, last used, use count, reinforcement, importance).
`langgraph_alma.memory.items` is the one place they become store items and back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class MemoryKind(StrEnum):
    """The kinds of memory ALMA keeps; each is a namespace segment in the store."""

    HEURISTIC = "heuristic"
    OUTCOME = "outcome"
    USER_PREFERENCE = "user_preference"
    DOMAIN_KNOWLEDGE = "domain_knowledge"
    ANTI_PATTERN = "anti_pattern"
    WORKFLOW_OUTCOME = "workflow_outcome"
    ARTIFACT_REF = "artifact_ref"


class Memory(BaseModel):
    """Fields every memory has: identity, scope and decay bookkeeping."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    kind: ClassVar[MemoryKind]
    text_fields: ClassVar[tuple[str, ...]] = ()  # what search embeds and full-text indexes

    id: str = Field(default_factory=new_id)
    tenant_id: str = "default"
    project_id: str = "default"
    agent: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None
    node_id: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime = Field(default_factory=utcnow)
    use_count: int = Field(default=0, ge=0)
    reinforcement: float = Field(default=0.0, ge=0.0)
    importance: float = Field(default=0.5, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)

    def search_text(self) -> str:
        """The text a search matches this memory against."""
        return " ".join(str(getattr(self, f) or "") for f in self.text_fields).strip()


class Heuristic(Memory):
    """A learned rule: when `condition`, `strategy` works `confidence` of the time."""

    kind: ClassVar[MemoryKind] = MemoryKind.HEURISTIC
    text_fields: ClassVar[tuple[str, ...]] = ("condition", "strategy")

    condition: str
    strategy: str
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    occurrence_count: int = Field(default=0, ge=0)
    success_count: int = Field(default=0, ge=0)
    task_type: str | None = None
    last_validated: datetime = Field(default_factory=utcnow)

    @property
    def success_rate(self) -> float:
        """Successes over occurrences (0 with none); `confidence` is its Wilson bound."""
        return self.success_count / self.occurrence_count if self.occurrence_count else 0.0


class Outcome(Memory):
    """One task execution: what was tried and whether it worked."""

    kind: ClassVar[MemoryKind] = MemoryKind.OUTCOME
    text_fields: ClassVar[tuple[str, ...]] = ("task_description", "strategy_used", "error_message")

    task_type: str = "general"
    task_description: str
    success: bool
    strategy_used: str
    duration_ms: int | None = Field(default=None, ge=0)
    error_message: str | None = None
    user_feedback: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utcnow)


class UserPreference(Memory):
    """A remembered user constraint or communication preference."""

    kind: ClassVar[MemoryKind] = MemoryKind.USER_PREFERENCE
    text_fields: ClassVar[tuple[str, ...]] = ("category", "preference")

    user_id: str
    category: str
    preference: str
    source: str = "explicit_instruction"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    timestamp: datetime = Field(default_factory=utcnow)


class DomainKnowledge(Memory):
    """A fact within an agent's domain (not a strategy)."""

    kind: ClassVar[MemoryKind] = MemoryKind.DOMAIN_KNOWLEDGE
    text_fields: ClassVar[tuple[str, ...]] = ("domain", "fact")

    domain: str
    fact: str
    source: str = "user_stated"
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)
    last_verified: datetime = Field(default_factory=utcnow)


class AntiPattern(Memory):
    """What not to do, learned from repeated similar failures."""

    kind: ClassVar[MemoryKind] = MemoryKind.ANTI_PATTERN
    text_fields: ClassVar[tuple[str, ...]] = ("pattern", "why_bad", "better_alternative")

    pattern: str
    why_bad: str
    better_alternative: str = ""
    occurrence_count: int = Field(default=0, ge=0)
    task_type: str | None = None
    last_seen: datetime = Field(default_factory=utcnow)


WorkflowResult = Literal["success", "failure", "partial", "cancelled", "timeout"]


class WorkflowOutcome(Memory):
    """How a whole workflow run ended, and what it teaches."""

    kind: ClassVar[MemoryKind] = MemoryKind.WORKFLOW_OUTCOME
    text_fields: ClassVar[tuple[str, ...]] = (
        "summary",
        "strategies_used",
        "successful_patterns",
        "failed_patterns",
        "error_message",
    )

    result: WorkflowResult
    summary: str = ""
    strategies_used: list[str] = Field(default_factory=list)
    successful_patterns: list[str] = Field(default_factory=list)
    failed_patterns: list[str] = Field(default_factory=list)
    duration_ms: int | None = Field(default=None, ge=0)
    node_count: int | None = Field(default=None, ge=0)
    error_message: str | None = None

    def search_text(self) -> str:
        parts = [
            self.summary,
            *self.strategies_used,
            *self.successful_patterns,
            *self.failed_patterns,
            self.error_message or "",
        ]
        return " ".join(p for p in parts if p)


ArtifactType = Literal[
    "file", "screenshot", "log", "trace", "diff", "test_result", "report", "dataset", "other"
]


class ArtifactRef(Memory):
    """A link from a memory to an artifact kept elsewhere."""

    kind: ClassVar[MemoryKind] = MemoryKind.ARTIFACT_REF
    text_fields: ClassVar[tuple[str, ...]] = ("artifact_type", "storage_url")

    memory_id: str
    artifact_type: ArtifactType
    storage_url: str
    checksum: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    mime_type: str | None = None


MODELS: dict[MemoryKind, type[Memory]] = {
    m.kind: m
    for m in (
        Heuristic,
        Outcome,
        UserPreference,
        DomainKnowledge,
        AntiPattern,
        WorkflowOutcome,
        ArtifactRef,
    )
}
