"""What the confidence engine reads from a retrieved slice, pure: its outcomes as evidence,
its heuristics as priors, its anti-patterns as risks. Shared by the engines
(`confidence.engine`) and the ranking `Alma.retrieve` applies (`confidence.ranking`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from langgraph_alma.confidence import forecast
from langgraph_alma.confidence.forecast import AntiPatternHit, Evidence, Prior
from langgraph_alma.memory.items import normalise
from langgraph_alma.memory.scoring import MemorySlice

# The store's search score is a similarity (cosine by default): at most 1.
SEARCH_SCORE_MAX = 1.0


def search_similarity(raw: Sequence[float]) -> list[float]:
    """Search scores (`metadata["similarity"]`) in [0, 1]: a similarity as it is, scaled
    by the best score when a store scores on a larger scale."""
    top = max([SEARCH_SCORE_MAX, *raw])
    return [max(0.0, r / top) for r in raw]


def evidence_from(found: MemorySlice, now: datetime, task: str | None = None) -> list[Evidence]:
    """The slice's outcomes as evidence, aged by when they were stored (`created_at`,
    stamped by the facade's clock like `now`). How similar an outcome's task is to this one:
    the cosine of their embeddings (`metadata["vector_similarity"]`) blended with the
    word overlap of the two tasks (`forecast.word_similarity`) when the task is given; the
    search score (`metadata["similarity"]`, scaled) when neither is known. Rank fusion's
    score is a similarity too, but fused with full text, so it is the last resort."""
    sims = search_similarity([float(o.metadata.get("similarity", 0.0)) for o in found.outcomes])
    out = []
    for o, ranked in zip(found.outcomes, sims, strict=True):
        vector = o.metadata.get("vector_similarity")
        parts = [max(0.0, min(1.0, float(vector)))] if vector is not None else []
        if task is not None:
            parts.append(forecast.word_similarity(task, o.task_description))
        similarity = sum(parts) / len(parts) if parts else ranked
        out.append(
            Evidence(
                strategy=o.strategy_used,
                success=o.success,
                similarity=similarity,
                age_days=max(0.0, (now - (o.created_at or o.timestamp)).total_seconds() / 86400),
                task=o.task_description,
            )
        )
    return out


def prior_from(found: MemorySlice, strategy: str) -> Prior | None:
    """The best-supported heuristic for this strategy, as a prior."""
    key = normalise(strategy)
    hs = [h for h in found.heuristics if normalise(h.strategy) == key]
    if not hs:
        return None
    h = max(hs, key=lambda h: h.occurrence_count)
    return Prior(h.success_count, h.occurrence_count, h.confidence)


def anti_patterns_from(found: MemorySlice) -> list[AntiPatternHit]:
    return [
        AntiPatternHit(a.pattern, a.why_bad, a.better_alternative, a.occurrence_count)
        for a in found.anti_patterns
    ]


def strategies_in(found: MemorySlice) -> list[str]:
    """Every distinct strategy the slice mentions (heuristics, then outcomes)."""
    seen: dict[str, str] = {}
    for s in [h.strategy for h in found.heuristics] + [o.strategy_used for o in found.outcomes]:
        seen.setdefault(normalise(s), s)
    return list(seen.values())


def prior_of(heuristic: Any) -> Prior:
    """A heuristic the caller hands in (the PRD's `heuristic=`), as the prior."""
    return Prior(heuristic.success_count, heuristic.occurrence_count, heuristic.confidence)
