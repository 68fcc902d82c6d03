"""Forward-looking confidence: how likely a strategy is to succeed on *this* task, from
similar past outcomes, heuristics and anti-patterns."""

from langgraph_alma.confidence.engine import AsyncConfidenceEngine, ConfidenceEngine
from langgraph_alma.confidence.signals import (
    ConfidenceSignal,
    Evidence,
    ModelConfig,
    OpportunitySignal,
    Prior,
    RiskSignal,
)

__all__ = [
    "AsyncConfidenceEngine",
    "ConfidenceEngine",
    "ConfidenceSignal",
    "Evidence",
    "ModelConfig",
    "OpportunitySignal",
    "Prior",
    "RiskSignal",
]
