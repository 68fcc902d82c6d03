"""The confidence engine's ranking of heuristics, pure: what `Alma.retrieve` (by default),
`ConfidenceEngine.retrieve` and the prebuilt nodes order a slice's heuristics by.

Each heuristic's strategy is assessed on the task from the slice itself (its outcomes as
evidence, its heuristics as priors, its anti-patterns as risks: no further retrieval), and
the heuristic is ranked by its retrieval score blended half and half with that
forward-looking score. Turn it off with `Alma.retrieve(..., rank_by_confidence=False)` or
`ALMA_RANK_HEURISTICS_BY_CONFIDENCE=false`.

>>> rank_heuristics(found, "fix the flaky login test", now)       # doctest: +SKIP
"""

from __future__ import annotations

from datetime import datetime

from langgraph_alma.confidence import forecast
from langgraph_alma.confidence.evidence import anti_patterns_from, evidence_from, prior_of
from langgraph_alma.confidence.forecast import ModelConfig
from langgraph_alma.memory.items import normalise
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import Heuristic

RETRIEVAL_SHARE = 0.5
"""How much of a heuristic's rank is its retrieval score (the rest is the engine's)."""


def rank_heuristics(
    found: MemorySlice, task: str, now: datetime, config: ModelConfig | None = None
) -> MemorySlice:
    """`found` with its heuristics re-ordered, best first, by retrieval score blended
    with the engine's score for their strategy on `task`; each heuristic's metadata gets
    `confidence_score`, `recommendation` and the blended `score` (also in `found.scores`).
    Changes `found` in place and returns it."""
    if not found.heuristics:
        return found
    config = config or forecast.DEFAULT
    evidence = evidence_from(found, now, task)
    risks = anti_patterns_from(found)
    # a strategy's prior: its best-supported heuristic (as `engine.prior_from`, grouped once)
    best: dict[str, Heuristic] = {}
    for h in found.heuristics:
        key = normalise(h.strategy)
        if key not in best or h.occurrence_count > best[key].occurrence_count:
            best[key] = h
    for h in found.heuristics:
        prior = prior_of(best[normalise(h.strategy)])
        signal = forecast.assess(task, h.strategy, evidence, prior, risks, config)
        blended = (
            RETRIEVAL_SHARE * found.scores.get(h.id, 0.0) + (1 - RETRIEVAL_SHARE) * signal.score
        )
        h.metadata = {
            **h.metadata,
            "confidence_score": signal.score,
            "recommendation": signal.recommendation,
            "score": blended,
        }
        found.scores[h.id] = blended
    found.heuristics = sorted(found.heuristics, key=lambda h: -found.scores[h.id])
    return found
