"""Retrieval scoring, pure: similarity (from the store's hybrid search), recency,
success and confidence, weighted; and `MemorySlice`, what a retrieval returns."""

from __future__ import annotations

import math
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from langgraph_alma.memory.decay import DAY, Usage
from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)


class ScoringWeights(BaseModel):
    """Weights of the retrieval score (normalised to sum to 1)."""

    model_config = ConfigDict(extra="forbid")

    similarity: float = Field(default=0.4, ge=0)
    recency: float = Field(default=0.3, ge=0)
    success: float = Field(default=0.2, ge=0)
    confidence: float = Field(default=0.1, ge=0)
    recency_half_life_days: float = Field(default=14.0, gt=0)


def success_of(memory: Memory) -> float:
    if isinstance(memory, Heuristic):
        return memory.success_rate
    if isinstance(memory, Outcome):
        return 1.0 if memory.success else 0.0
    if isinstance(memory, WorkflowOutcome):
        return {"success": 1.0, "partial": 0.5}.get(memory.result, 0.0)
    return 1.0  # facts, preferences and warnings are not graded by success


def confidence_of(memory: Memory) -> float:
    value = getattr(memory, "confidence", None)
    if value is not None:
        return float(value)
    if isinstance(memory, AntiPattern):
        return min(1.0, memory.occurrence_count / 5)
    return 1.0


def score(
    memory: Memory, similarity: float, usage: Usage, now: datetime, weights: ScoringWeights
) -> float:
    """The retrieval score of one memory whose (normalised) search similarity is given."""
    last = max(filter(None, (memory.created_at, memory.last_used_at, usage.last_used_at)))
    age_days = max(0.0, (now - last).total_seconds() / DAY)
    recency = math.pow(0.5, age_days / weights.recency_half_life_days)
    total = weights.similarity + weights.recency + weights.success + weights.confidence
    return (
        weights.similarity * similarity
        + weights.recency * recency
        + weights.success * success_of(memory)
        + weights.confidence * confidence_of(memory)
    ) / (total or 1.0)


SLICE_FIELDS: dict[MemoryKind, str] = {
    MemoryKind.HEURISTIC: "heuristics",
    MemoryKind.OUTCOME: "outcomes",
    MemoryKind.USER_PREFERENCE: "preferences",
    MemoryKind.DOMAIN_KNOWLEDGE: "domain_knowledge",
    MemoryKind.ANTI_PATTERN: "anti_patterns",
    MemoryKind.WORKFLOW_OUTCOME: "workflow_outcomes",
}
"""The `MemorySlice` list that holds each retrievable memory kind."""


class MemorySlice(BaseModel):
    """The memories relevant to one task, best first, each with `score` in its metadata
    (`scores` maps id to score), ready for a prompt."""

    heuristics: list[Heuristic] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    preferences: list[UserPreference] = Field(default_factory=list)
    domain_knowledge: list[DomainKnowledge] = Field(default_factory=list)
    anti_patterns: list[AntiPattern] = Field(default_factory=list)
    workflow_outcomes: list[WorkflowOutcome] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    related: list[str] = Field(default_factory=list)  # graph facts around matched entities
    query: str | None = None
    agent: str | None = None
    retrieval_time_ms: float | None = None

    @property
    def total_items(self) -> int:
        """How many memories (and related-graph lines) the slice holds."""
        return sum(len(x) for x in self._lists()) + len(self.related)

    def _lists(self) -> list[list[Memory]]:
        return [getattr(self, name) for name in SLICE_FIELDS.values()]

    def to_prompt(self, max_tokens: int = 2000) -> str:
        """All memories as prompt text, best first within each section, cut to about
        `max_tokens` tokens (4 characters a token) at a line boundary."""
        sections: list[tuple[str, list[str]]] = [
            (
                "Relevant strategies",
                [
                    f"- When {h.condition}: {h.strategy} (confidence {h.confidence:.0%}, "
                    f"{h.success_count}/{h.occurrence_count} succeeded)"
                    for h in self.heuristics
                ],
            ),
            (
                "Avoid",
                [
                    f"- Don't: {a.pattern}. Why: {a.why_bad}"
                    + (f". Instead: {a.better_alternative}" if a.better_alternative else "")
                    for a in self.anti_patterns
                ],
            ),
            ("User preferences", [f"- [{p.category}] {p.preference}" for p in self.preferences]),
            ("Domain knowledge", [f"- [{k.domain}] {k.fact}" for k in self.domain_knowledge]),
            (
                "Past outcomes",
                [
                    f"- {'succeeded' if o.success else 'failed'}: {o.task_description} "
                    f"(strategy: {o.strategy_used})"
                    + (f" error: {o.error_message}" if o.error_message else "")
                    for o in self.outcomes
                ],
            ),
            ("Past workflow runs", [f"- {w.result}: {w.summary}" for w in self.workflow_outcomes]),
            ("Related entities", [f"- {line}" for line in self.related]),
        ]
        budget = max_tokens * 4
        lines: list[str] = []
        for title, items in sections:
            if not items:
                continue
            for line in (f"## {title}", *items):
                if sum(len(x) + 1 for x in lines) + len(line) > budget:
                    return "\n".join(lines)
                lines.append(line)
        return "\n".join(lines)
