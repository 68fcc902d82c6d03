"""The confidence engine's types: what it reads (`Evidence`, `Prior`, `AntiPatternHit`),
how it is tuned (`ModelConfig`) and what it answers (`ConfidenceSignal` with its
`RiskSignal`s and `OpportunitySignal`s). The math over them is in `forecast`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

Recommendation = Literal["strong_yes", "yes", "neutral", "caution", "avoid"]
# The PRD's signal kinds, plus ours (`anti_pattern`).
RiskKind = Literal["similar_to_failure", "anti_pattern", "untested_context", "high_complexity"]
OpportunityKind = Literal["proven_pattern", "high_similarity", "recent_success"]
_SIGNAL_CONFIG = ConfigDict(populate_by_name=True)


class RiskSignal(BaseModel):
    """A reason a strategy may fail here: the PRD's `signal_type`, `description`,
    `severity` (0..1) and `source` (what it was read from); `kind` and `detail` are our
    older names for the first two."""

    model_config = _SIGNAL_CONFIG

    signal_type: RiskKind = Field(validation_alias=AliasChoices("signal_type", "kind"))
    severity: float = Field(ge=0.0, le=1.0)
    description: str = Field(validation_alias=AliasChoices("description", "detail"))
    source: str = ""
    strategy: str | None = None

    @property
    def kind(self) -> RiskKind:
        return self.signal_type

    @property
    def detail(self) -> str:
        return self.description


class OpportunitySignal(BaseModel):
    """A reason a strategy may do well here: the PRD's `signal_type`, `description`,
    `strength` (0..1) and `source`; `kind` and `detail` are our older names."""

    model_config = _SIGNAL_CONFIG

    signal_type: OpportunityKind = Field(validation_alias=AliasChoices("signal_type", "kind"))
    strength: float = Field(ge=0.0, le=1.0)
    description: str = Field(validation_alias=AliasChoices("description", "detail"))
    source: str = ""
    strategy: str | None = None

    @property
    def kind(self) -> OpportunityKind:
        return self.signal_type

    @property
    def detail(self) -> str:
        return self.description


class ConfidenceSignal(BaseModel):
    """How likely `strategy` is to succeed on this task, and why, with the PRD's fields:
    `historical_success_rate` (the strategy's record, context ignored), `occurrence_count`,
    `predicted_success` (forward-looking, in this context), `uncertainty`,
    `context_similarity`, `risk_signals`, `opportunity_signals`, `confidence_score`,
    `recommendation`, `reasoning`. `score`, `risks`, `opportunities` and `explanation`
    are our older names."""

    model_config = _SIGNAL_CONFIG

    strategy: str
    agent: str | None = None
    predicted_success: float = Field(ge=0.0, le=1.0)
    uncertainty: float = Field(ge=0.0, le=1.0)
    prior: float = Field(ge=0.0, le=1.0)
    historical_success_rate: float = Field(default=0.5, ge=0.0, le=1.0)
    occurrence_count: int = Field(default=0, ge=0)
    context_similarity: float = Field(default=0.0, ge=0.0, le=1.0)
    evidence_count: int = Field(ge=0)
    similar_outcomes: float = Field(ge=0.0)  # effective (weighted) number of outcomes
    confidence_score: float = Field(
        ge=0.0, le=1.0, validation_alias=AliasChoices("confidence_score", "score")
    )
    recommendation: Recommendation
    risk_signals: list[RiskSignal] = Field(
        default_factory=list, validation_alias=AliasChoices("risk_signals", "risks")
    )
    opportunity_signals: list[OpportunitySignal] = Field(
        default_factory=list,
        validation_alias=AliasChoices("opportunity_signals", "opportunities"),
    )
    total_risk_score: float = Field(default=0.0, ge=0.0)
    total_opportunity_score: float = Field(default=0.0, ge=0.0)
    reasoning: str = Field(default="", validation_alias=AliasChoices("reasoning", "explanation"))

    @property
    def score(self) -> float:
        return self.confidence_score

    @property
    def risks(self) -> list[RiskSignal]:
        return self.risk_signals

    @property
    def opportunities(self) -> list[OpportunitySignal]:
        return self.opportunity_signals

    @property
    def explanation(self) -> str:
        return self.reasoning


@dataclass(frozen=True)
class Evidence:
    """One past outcome of some strategy, as the model sees it."""

    strategy: str
    success: bool
    similarity: float  # 0..1, how similar its task is to the current one
    age_days: float = 0.0
    task: str = ""


@dataclass(frozen=True)
class Prior:
    """What a heuristic says about a strategy overall (not in this context)."""

    successes: int
    occurrences: int
    confidence: float = 0.0  # the heuristic's Wilson bound, for opportunities


@dataclass(frozen=True)
class AntiPatternHit:
    pattern: str
    why_bad: str = ""
    better_alternative: str = ""
    occurrences: int = 0


@dataclass(frozen=True)
class ModelConfig:
    """Tuning of the confidence model (priors, similarity, recency, thresholds).

    >>> ModelConfig(half_life_days=14)                   # doctest: +SKIP
    """

    prior_discount: float = 0.5  # pseudo-counts per heuristic occurrence
    prior_cap: float = 1.0  # most pseudo-counts a heuristic contributes
    prior_with_evidence: float = 0.0  # ... times this once outcomes of the strategy are known
    similarity_power: float = 3.0  # sharpen similarity: weight = similarity ** power
    half_life_days: float = 30.0  # recency half-life of an outcome's weight
    untested_below: float = 2.0  # effective similar outcomes under which context is untested
    similar_at: float = 0.5  # similarity from which an outcome counts as "similar"
    high_similar_at: float = 0.8  # ... and as "very similar" (a high_similarity opportunity)
    recent_days: float = 7.0
    proven_confidence: float = 0.6
    proven_occurrences: int = 3
    complexity_words: int = 40  # task length (words) at which complexity is maximal
    thresholds: tuple[float, float, float, float] = (0.75, 0.6, 0.45, 0.3)
    risk_weights: dict[str, float] = field(
        default_factory=lambda: {
            "anti_pattern": 0.5,
            "similar_to_failure": 0.15,
            "untested_context": 0.1,
            "high_complexity": 0.1,
        }
    )
    opportunity_weight: float = 0.1


DEFAULT = ModelConfig()
