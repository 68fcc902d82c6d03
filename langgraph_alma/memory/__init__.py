"""The ALMA memory layer: typed memories, learning from outcomes, decay and forgetting,
scoped retrieval. May import the persistence layer (`store`, `checkpoint`) and below."""

from langgraph_alma.memory.scope import MemoryScope, RetrievalScope, ScopeViolation
from langgraph_alma.memory.types import (
    AntiPattern,
    ArtifactRef,
    DomainKnowledge,
    Heuristic,
    Memory,
    MemoryKind,
    Outcome,
    UserPreference,
    WorkflowOutcome,
)

__all__ = [
    "AntiPattern",
    "ArtifactRef",
    "DomainKnowledge",
    "Heuristic",
    "Memory",
    "MemoryKind",
    "MemoryScope",
    "Outcome",
    "RetrievalScope",
    "ScopeViolation",
    "UserPreference",
    "WorkflowOutcome",
]
