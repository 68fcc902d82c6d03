"""Confidence engines over an `Alma` (sync) or `AsyncAlma`: one `retrieve` per call
gathers the evidence, the pure core in `model` does the scoring."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from langgraph_alma.confidence import model
from langgraph_alma.confidence.model import (
    AntiPatternHit,
    ConfidenceSignal,
    Evidence,
    ModelConfig,
    OpportunitySignal,
    Prior,
    RiskSignal,
)
from langgraph_alma.memory.items import normalise
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import utcnow

DEFAULT_TOP_K = 20


# The store's search score is a similarity (cosine by default): at most 1.
SEARCH_SCORE_MAX = 1.0
SEARCH_SHARE = 0.5  # the rest of an outcome's similarity is word overlap with the task


def search_similarity(raw: Sequence[float]) -> list[float]:
    """Search scores (`metadata["similarity"]`) in [0, 1]: a similarity as it is, scaled
    by the best score when a store scores on a larger scale."""
    top = max([SEARCH_SCORE_MAX, *raw])
    return [max(0.0, r / top) for r in raw]


def evidence_from(found: MemorySlice, now: datetime, task: str | None = None) -> list[Evidence]:
    """The slice's outcomes as evidence. Rank fusion keeps little of how similar a hit
    is, so with the task given, similarity blends the scaled search score with the word
    overlap (`model.word_similarity`) of the task and the outcome's task."""
    sims = search_similarity([float(o.metadata.get("similarity", 0.0)) for o in found.outcomes])
    if task is not None:
        sims = [
            SEARCH_SHARE * s + (1 - SEARCH_SHARE) * model.word_similarity(task, o.task_description)
            for s, o in zip(sims, found.outcomes, strict=True)
        ]
    return [
        Evidence(
            strategy=o.strategy_used,
            success=o.success,
            similarity=s,
            age_days=max(0.0, (now - o.timestamp).total_seconds() / 86400),
            task=o.task_description,
        )
        for o, s in zip(found.outcomes, sims, strict=True)
    ]


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


class _Core:
    def __init__(self, alma: Any, top_k: int, config: ModelConfig | None) -> None:
        self.alma, self.top_k, self.config = alma, top_k, config or model.DEFAULT

    def _now(self) -> datetime:
        core = getattr(self.alma, "core", None)
        return core.clock() if core is not None else utcnow()

    def _assess(self, found: MemorySlice, task: str, strategy: str) -> ConfidenceSignal:
        return model.assess(
            task,
            strategy,
            evidence_from(found, self._now(), task),
            prior_from(found, strategy),
            anti_patterns_from(found),
            self.config,
        )

    def _rank(
        self, found: MemorySlice, task: str, strategies: Sequence[str]
    ) -> list[ConfidenceSignal]:
        signals = [self._assess(found, task, s) for s in strategies]
        return sorted(signals, key=lambda s: (-s.score, -s.predicted_success, s.uncertainty))

    def _rerank(self, found: MemorySlice, task: str, top_k: int) -> MemorySlice:
        """Heuristics re-ordered by retrieval score blended (half and half) with the
        engine's score for their strategy in this context; each gets its signal's score
        and recommendation in its metadata."""
        for h in found.heuristics:
            signal = self._assess(found, task, h.strategy)
            blended = 0.5 * found.scores.get(h.id, 0.0) + 0.5 * signal.score
            h.metadata = {
                **h.metadata,
                "confidence_score": signal.score,
                "recommendation": signal.recommendation,
                "score": blended,
            }
            found.scores[h.id] = blended
        found.heuristics = sorted(found.heuristics, key=lambda h: -found.scores[h.id])[:top_k]
        return found

    def _opportunities(self, found: MemorySlice, task: str) -> list[OpportunitySignal]:
        ev = evidence_from(found, self._now(), task)
        out = [
            o
            for s in strategies_in(found)
            for o in model.opportunities(s, ev, prior_from(found, s), self.config)
        ]
        return sorted(out, key=lambda o: -o.strength)


class ConfidenceEngine(_Core):
    """Forward-looking confidence for strategies, over a sync `Alma`."""

    def __init__(
        self, alma: Any, top_k: int = DEFAULT_TOP_K, config: ModelConfig | None = None
    ) -> None:
        super().__init__(alma, top_k, config)

    def _retrieve(self, task: str, agent: str, context: Any = None) -> MemorySlice:
        return self.alma.retrieve(task, agent, top_k=self.top_k, context=context)

    def assess_strategy(
        self, task: str, strategy: str, agent: str, context: Any = None
    ) -> ConfidenceSignal:
        """How likely `strategy` is to work for `task` here: a prediction with its risks,
        opportunities and a recommendation, from `agent`'s relevant memories.

        >>> engine.assess_strategy("fix the flaky test", "retry once", "helena")  # doctest: +SKIP
        """
        return self._assess(self._retrieve(task, agent, context), task, strategy)

    def rank_strategies(
        self, task: str, strategies: Sequence[str], agent: str, context: Any = None
    ) -> list[ConfidenceSignal]:
        """Signals for each strategy, best first (one retrieval for all of them)."""
        return self._rank(self._retrieve(task, agent, context), task, strategies)

    def detect_risks(self, task: str, strategy: str, agent: str) -> list[RiskSignal]:
        """The risks of `assess_strategy`."""
        return self.assess_strategy(task, strategy, agent).risks

    def retrieve(self, task: str, agent: str, top_k: int = 5, **kwargs: Any) -> MemorySlice:
        """`Alma.retrieve` with heuristics ranked by the engine too (see `_rerank`).

        >>> ConfidenceEngine(alma).retrieve("fix the flaky test", "helena")  # doctest: +SKIP
        """
        found = self.alma.retrieve(task, agent, top_k=max(top_k, self.top_k), **kwargs)
        return self._rerank(found, task, top_k)

    def detect_opportunities(self, task: str, agent: str) -> list[OpportunitySignal]:
        """What `agent`'s memories suggest could work well for `task`."""
        return self._opportunities(self._retrieve(task, agent), task)


class AsyncConfidenceEngine(_Core):
    """The same engine over an `AsyncAlma`."""

    def __init__(
        self, alma: Any, top_k: int = DEFAULT_TOP_K, config: ModelConfig | None = None
    ) -> None:
        super().__init__(alma, top_k, config)

    async def _retrieve(self, task: str, agent: str, context: Any = None) -> MemorySlice:
        return await self.alma.retrieve(task, agent, top_k=self.top_k, context=context)

    async def assess_strategy(
        self, task: str, strategy: str, agent: str, context: Any = None
    ) -> ConfidenceSignal:
        """Async `ConfidenceEngine.assess_strategy`."""
        return self._assess(await self._retrieve(task, agent, context), task, strategy)

    async def rank_strategies(
        self, task: str, strategies: Sequence[str], agent: str, context: Any = None
    ) -> list[ConfidenceSignal]:
        """Async `ConfidenceEngine.rank_strategies`."""
        return self._rank(await self._retrieve(task, agent, context), task, strategies)

    async def retrieve(self, task: str, agent: str, top_k: int = 5, **kwargs: Any) -> MemorySlice:
        """Async `ConfidenceEngine.retrieve`."""
        found = await self.alma.retrieve(task, agent, top_k=max(top_k, self.top_k), **kwargs)
        return self._rerank(found, task, top_k)

    async def detect_risks(self, task: str, strategy: str, agent: str) -> list[RiskSignal]:
        """Async `ConfidenceEngine.detect_risks`."""
        return (await self.assess_strategy(task, strategy, agent)).risks

    async def detect_opportunities(self, task: str, agent: str) -> list[OpportunitySignal]:
        """Async `ConfidenceEngine.detect_opportunities`."""
        return self._opportunities(await self._retrieve(task, agent), task)
