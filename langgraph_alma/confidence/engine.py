"""Confidence engines over an `AsyncAlma` or an `Alma`: one `retrieve` per call gathers the
evidence, the pure core in `forecast` does the scoring. `ConfidenceEngine` is GENERATED from
`AsyncConfidenceEngine` by `scripts/unasync.py`: edit the async class only."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langgraph_alma.confidence import forecast
from langgraph_alma.confidence.evidence import (
    anti_patterns_from,
    evidence_from,
    prior_from,
    prior_of,
    strategies_in,
)
from langgraph_alma.confidence.forecast import (
    ConfidenceSignal,
    ModelConfig,
    OpportunitySignal,
    RiskSignal,
)
from langgraph_alma.confidence.ranking import rank_heuristics
from langgraph_alma.memory.scoring import MemorySlice, ScoringWeights
from langgraph_alma.memory.types import utcnow

if TYPE_CHECKING:
    from langgraph_alma.alma.protocols import AsyncRetriever, Retriever

DEFAULT_TOP_K = 40
R = TypeVar("R", bound="Retriever | AsyncRetriever")

EVIDENCE_WEIGHTS = ScoringWeights(similarity=0.7, recency=0.3, success=0.0, confidence=0.0)
"""How the engine's retrieval ranks memories: by similarity and recency alone. The
default weights also favour successes and confident memories, which is right for a
prompt but would hand the engine a sample of past outcomes biased towards success."""


def evidence_facade(alma: R) -> R:
    """A view of `alma` (same store, saver, project, scopes, clock and domain) whose
    retrieval ranks by `EVIDENCE_WEIGHTS`; `alma` itself when it is not a facade."""
    core = getattr(alma, "core", None)
    if core is None or not hasattr(alma, "store") or not hasattr(alma, "saver"):
        return alma
    facade: Any = alma  # an `Alma` or `AsyncAlma` (has a core, a store, a saver)
    return type(facade)(
        facade.store,
        facade.saver,
        project_id=core.project_id,
        scopes=core.scopes,
        weights=EVIDENCE_WEIGHTS,
        clock=core.clock,
        domain=getattr(facade, "domain", None),
        graph=getattr(facade, "graph", None),
    )


def task_of(context: Any) -> str:
    """The task text of the PRD's `context` argument: a string, or a mapping naming it
    under "task", "task_description", "description" or "query"."""
    if isinstance(context, Mapping):
        for key in ("task", "task_description", "description", "query"):
            if context.get(key):
                return str(context[key])
        raise ValueError(f"context names no task (one of task, description, query): {context}")
    if not isinstance(context, str) or not context.strip():
        raise ValueError(f"context must be the task as non-empty text, got {context!r}")
    return context


class _Core(Generic[R]):
    def __init__(self, alma: R, top_k: int, config: ModelConfig | None) -> None:
        self.alma, self.top_k, self.config = alma, top_k, config or forecast.DEFAULT
        self.evidence = evidence_facade(alma)  # what the engine reads its evidence from
        # A facade ranks heuristics itself by default; the engine asks for its plain order
        # (any object with a `retrieve` of the facade's older shape works too).
        takes = "rank_by_confidence" in inspect.signature(alma.retrieve).parameters
        self.unranked: dict[str, Any] = {"rank_by_confidence": False} if takes else {}

    def _now(self) -> datetime:
        core = getattr(self.alma, "core", None)
        return core.clock() if core is not None else utcnow()

    def _assess(
        self,
        found: MemorySlice,
        task: str,
        strategy: str,
        agent: str | None = None,
        heuristic: Any = None,
    ) -> ConfidenceSignal:
        if not isinstance(strategy, str) or not strategy.strip():
            raise ValueError(f"strategy must be non-empty text, got {strategy!r}")
        signal = forecast.assess(
            task,
            strategy,
            evidence_from(found, self._now(), task),
            prior_of(heuristic) if heuristic is not None else prior_from(found, strategy),
            anti_patterns_from(found),
            self.config,
        )
        signal.agent = agent
        return signal

    def _rank(
        self, found: MemorySlice, task: str, strategies: Sequence[str], agent: str | None
    ) -> list[tuple[str, ConfidenceSignal]]:
        signals = [self._assess(found, task, s, agent) for s in strategies]
        signals.sort(key=lambda s: (-s.score, -s.predicted_success, s.uncertainty))
        return [(s.strategy, s) for s in signals]

    def _rerank(self, found: MemorySlice, task: str, top_k: int) -> MemorySlice:
        """The `top_k` heuristics by `confidence.ranking` (the ranking `Alma.retrieve`
        applies by default), with this engine's model config."""
        found = rank_heuristics(found, task, self._now(), self.config)
        found.heuristics = found.heuristics[:top_k]
        return found

    def _opportunities(self, found: MemorySlice, task: str) -> list[OpportunitySignal]:
        ev = evidence_from(found, self._now(), task)
        out = [
            o
            for s in strategies_in(found)
            for o in forecast.opportunities(s, ev, prior_from(found, s), self.config)
        ]
        return sorted(out, key=lambda o: -o.strength)


class AsyncConfidenceEngine(_Core["AsyncRetriever"]):
    """`AsyncConfidenceEngine`: forward-looking confidence for strategies, over an
    `AsyncAlma`, with the PRD's calls: `assess_strategy(strategy, context, agent,
    heuristic=None)`, `rank_strategies(strategies, context, agent)`,
    `detect_risks(strategy, context, agent)`, `detect_opportunities(strategy, context,
    agent)`. `context` is the task at hand (text).

    >>> engine = AsyncConfidenceEngine(alma)                             # doctest: +SKIP
    >>> await engine.assess_strategy("retry once", "fix the flaky login test", "helena")
    """

    def __init__(
        self, alma: AsyncRetriever, top_k: int = DEFAULT_TOP_K, config: ModelConfig | None = None
    ) -> None:
        super().__init__(alma, top_k, config)

    async def _retrieve(self, task: str, agent: str, workflow: Any = None) -> MemorySlice:
        # Reading evidence is not using a memory: nothing is reinforced.
        return await self.evidence.retrieve(
            task,
            agent,
            top_k=self.top_k,
            context=workflow,
            record_use=False,
            **self.unranked,
        )

    async def assess_strategy(
        self,
        strategy: str,
        context: Any,
        agent: str,
        heuristic: Any = None,
        *,
        workflow: Any = None,
    ) -> ConfidenceSignal:
        """How likely `strategy` is to work on the task `context` describes: a prediction
        with its risks, opportunities and a recommendation, from `agent`'s relevant
        memories (`heuristic`, when given, is the prior; `workflow` a `WorkflowContext`
        for retrieval).

        >>> await engine.assess_strategy("retry once", "fix the flaky test", "helena")
        ... # doctest: +SKIP
        """
        task = task_of(context)
        found = await self._retrieve(task, agent, workflow)
        return self._assess(found, task, strategy, agent, heuristic)

    async def rank_strategies(
        self, strategies: Sequence[str], context: Any, agent: str, *, workflow: Any = None
    ) -> list[tuple[str, ConfidenceSignal]]:
        """`(strategy, signal)` pairs, best first (one retrieval for all of them).

        >>> best, signal = (await engine.rank_strategies(["a", "b"], "the task", "helena"))[0]
        ... # doctest: +SKIP
        """
        task = task_of(context)
        return self._rank(await self._retrieve(task, agent, workflow), task, strategies, agent)

    async def detect_risks(self, strategy: str, context: Any, agent: str) -> list[RiskSignal]:
        """The risks of `assess_strategy(strategy, context, agent)`."""
        return (await self.assess_strategy(strategy, context, agent)).risk_signals

    async def detect_opportunities(
        self, strategy: str, context: Any, agent: str
    ) -> list[OpportunitySignal]:
        """The opportunities of `assess_strategy(strategy, context, agent)`."""
        return (await self.assess_strategy(strategy, context, agent)).opportunity_signals

    async def opportunities_for(self, context: Any, agent: str) -> list[OpportunitySignal]:
        """What `agent`'s memories suggest could work well for the task, any strategy."""
        task = task_of(context)
        return self._opportunities(await self._retrieve(task, agent), task)

    async def retrieve(self, task: str, agent: str, top_k: int = 5, **kwargs: Any) -> MemorySlice:
        """`AsyncAlma.retrieve` with heuristics ranked by the engine too (see `_rerank`).

        >>> await AsyncConfidenceEngine(alma).retrieve("fix the flaky test", "helena")
        ... # doctest: +SKIP
        """
        kwargs = {**self.unranked, **kwargs}  # ranked once, here
        found = await self.alma.retrieve(task, agent, top_k=max(top_k, self.top_k), **kwargs)
        return self._rerank(found, task, top_k)


# ---- GENERATED below by scripts/unasync.py from the Async* classes above: edit those ----


class ConfidenceEngine(_Core["Retriever"]):
    """`ConfidenceEngine`: forward-looking confidence for strategies, over an
    `Alma`, with the PRD's calls: `assess_strategy(strategy, context, agent,
    heuristic=None)`, `rank_strategies(strategies, context, agent)`,
    `detect_risks(strategy, context, agent)`, `detect_opportunities(strategy, context,
    agent)`. `context` is the task at hand (text).

    >>> engine = ConfidenceEngine(alma)                             # doctest: +SKIP
    >>> engine.assess_strategy("retry once", "fix the flaky login test", "helena")
    """

    def __init__(
        self, alma: Retriever, top_k: int = DEFAULT_TOP_K, config: ModelConfig | None = None
    ) -> None:
        super().__init__(alma, top_k, config)

    def _retrieve(self, task: str, agent: str, workflow: Any = None) -> MemorySlice:
        # Reading evidence is not using a memory: nothing is reinforced.
        return self.evidence.retrieve(
            task,
            agent,
            top_k=self.top_k,
            context=workflow,
            record_use=False,
            **self.unranked,
        )

    def assess_strategy(
        self,
        strategy: str,
        context: Any,
        agent: str,
        heuristic: Any = None,
        *,
        workflow: Any = None,
    ) -> ConfidenceSignal:
        """How likely `strategy` is to work on the task `context` describes: a prediction
        with its risks, opportunities and a recommendation, from `agent`'s relevant
        memories (`heuristic`, when given, is the prior; `workflow` a `WorkflowContext`
        for retrieval).

        >>> engine.assess_strategy("retry once", "fix the flaky test", "helena")
        ... # doctest: +SKIP
        """
        task = task_of(context)
        found = self._retrieve(task, agent, workflow)
        return self._assess(found, task, strategy, agent, heuristic)

    def rank_strategies(
        self, strategies: Sequence[str], context: Any, agent: str, *, workflow: Any = None
    ) -> list[tuple[str, ConfidenceSignal]]:
        """`(strategy, signal)` pairs, best first (one retrieval for all of them).

        >>> best, signal = (engine.rank_strategies(["a", "b"], "the task", "helena"))[0]
        ... # doctest: +SKIP
        """
        task = task_of(context)
        return self._rank(self._retrieve(task, agent, workflow), task, strategies, agent)

    def detect_risks(self, strategy: str, context: Any, agent: str) -> list[RiskSignal]:
        """The risks of `assess_strategy(strategy, context, agent)`."""
        return (self.assess_strategy(strategy, context, agent)).risk_signals

    def detect_opportunities(
        self, strategy: str, context: Any, agent: str
    ) -> list[OpportunitySignal]:
        """The opportunities of `assess_strategy(strategy, context, agent)`."""
        return (self.assess_strategy(strategy, context, agent)).opportunity_signals

    def opportunities_for(self, context: Any, agent: str) -> list[OpportunitySignal]:
        """What `agent`'s memories suggest could work well for the task, any strategy."""
        task = task_of(context)
        return self._opportunities(self._retrieve(task, agent), task)

    def retrieve(self, task: str, agent: str, top_k: int = 5, **kwargs: Any) -> MemorySlice:
        """`Alma.retrieve` with heuristics ranked by the engine too (see `_rerank`).

        >>> ConfidenceEngine(alma).retrieve("fix the flaky test", "helena")
        ... # doctest: +SKIP
        """
        kwargs = {**self.unranked, **kwargs}  # ranked once, here
        found = self.alma.retrieve(task, agent, top_k=max(top_k, self.top_k), **kwargs)
        return self._rerank(found, task, top_k)
