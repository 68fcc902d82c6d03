"""Decay, pure: how strong a memory still is, and which memories `forget()` removes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from langgraph_alma.memory.types import Heuristic, Memory, MemoryKind, Outcome

DAY = 86400.0

# Days for an unused memory's strength to halve.
HALF_LIVES: dict[MemoryKind, float] = {
    MemoryKind.OUTCOME: 30,
    MemoryKind.WORKFLOW_OUTCOME: 60,
    MemoryKind.HEURISTIC: 90,
    MemoryKind.ANTI_PATTERN: 120,
    MemoryKind.DOMAIN_KNOWLEDGE: 180,
    MemoryKind.USER_PREFERENCE: 365,
    MemoryKind.ARTIFACT_REF: 365,
}


@dataclass(frozen=True)
class Usage:
    """How a memory has been used since it was stored."""

    use_count: int = 0
    last_used_at: datetime | None = None
    reinforcement: float = 0.0


def strength(
    memory: Memory,
    usage: Usage,
    now: datetime,
    half_lives: Mapping[MemoryKind, float] | None = None,
) -> float:
    """Strength in [0, 1]: halves every half-life of idleness, and grows with use,
    reinforcement (feedback) and importance.

    >>> from langgraph_alma.memory.types import Outcome
    >>> o = Outcome(task_description="t", success=True, strategy_used="s")
    >>> round(strength(o, Usage(), o.created_at), 2)
    0.75
    """
    half_life = (half_lives or HALF_LIVES)[memory.kind]
    last = max(filter(None, (memory.created_at, memory.last_used_at, usage.last_used_at)))
    idle_days = max(0.0, (now - last).total_seconds() / DAY)
    base = 0.5 + 0.5 * memory.importance
    boost = 1 + 0.25 * math.log1p(usage.use_count) + 0.5 * max(usage.reinforcement, -1.0)
    return max(0.0, min(1.0, base * boost * math.pow(0.5, idle_days / half_life)))


@dataclass
class ForgetPolicy:
    """What `forget()` removes: decayed memories, outcomes older than `older_than_days`,
    heuristics whose confidence fell below `below_confidence`."""

    older_than_days: float = 90
    below_confidence: float = 0.3
    min_strength: float = 0.05
    half_lives: dict[MemoryKind, float] = field(default_factory=lambda: dict(HALF_LIVES))

    def reason(self, memory: Memory, usage: Usage, now: datetime) -> str | None:
        """Why `memory` should go, or None to keep it."""
        age_days = (now - memory.created_at).total_seconds() / DAY
        if isinstance(memory, Outcome) and age_days > self.older_than_days:
            return f"outcome older than {self.older_than_days:g} days"
        if isinstance(memory, Heuristic) and memory.confidence < self.below_confidence:
            return f"confidence {memory.confidence:.2f} below {self.below_confidence:g}"
        s = strength(memory, usage, now, self.half_lives)
        if s < self.min_strength:
            return f"strength {s:.3f} below {self.min_strength:g}"
        return None
