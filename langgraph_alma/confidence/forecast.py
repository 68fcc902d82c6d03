"""The confidence engine's scoring core, pure (no I/O).

Predicted success of a strategy *in this context* is the mean of a Beta posterior:

* the evidence is every past outcome of the strategy, each weighted by how similar its
  task is to this one (embedding and word similarity, sharpened by a power) and by its
  recency (exponential half-life), so an outcome in another context barely counts;
* the matching heuristic (its success and occurrence counts, discounted and capped) is
  the prior only while no outcome of the strategy is at hand: it is blind to the
  context, and beside outcomes of this kind of task it only misleads (see
  `bench/confidence_e2e.py`). It also gives the signal's `historical_success_rate`.

Uncertainty is the posterior's standard deviation relative to a flat Beta(1, 1), so it
shrinks as (similar) evidence accumulates. Risks and opportunities are read off the same
evidence; the combined score maps to a recommendation through fixed thresholds.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from langgraph_alma.confidence.signals import (  # the types, importable from here as before
    DEFAULT,
    AntiPatternHit,
    ConfidenceSignal,
    Evidence,
    ModelConfig,
    OpportunitySignal,
    Prior,
    Recommendation,
    RiskSignal,
)
from langgraph_alma.memory.items import normalise

_FLAT_STD = math.sqrt(1 / 12)  # std of Beta(1, 1)
COMPLEXITY_WORDS = frozenset(
    {
        "migrate",
        "migration",
        "refactor",
        "distributed",
        "concurrent",
        "concurrency",
        "legacy",
        "production",
        "security",
        "rewrite",
        "integrate",
        "integration",
        "multi",
        "async",
        "database",
        "performance",
    }
)


@dataclass(frozen=True)
class Posterior:
    alpha: float
    beta: float
    prior_mean: float
    weight: float  # effective number of (similar, recent) outcomes
    count: int  # raw number of outcomes of the strategy

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def uncertainty(self) -> float:
        a, b = self.alpha, self.beta
        std = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        return min(1.0, std / _FLAT_STD)


def weight(e: Evidence, config: ModelConfig = DEFAULT) -> float:
    """How much one outcome counts here: similarity^power x recency half-life."""
    sim = min(1.0, max(0.0, e.similarity)) ** config.similarity_power
    return sim * 0.5 ** (max(0.0, e.age_days) / config.half_life_days)


_key = functools.lru_cache(maxsize=4096)(normalise)


def matches(strategy: str, other: str) -> bool:
    """Same strategy, up to case and spacing (`items.normalise`)."""
    return strategy == other or _key(strategy) == _key(other)


def posterior(
    strategy: str,
    evidence: Iterable[Evidence],
    prior: Prior | None = None,
    config: ModelConfig = DEFAULT,
) -> Posterior:
    """Beta posterior of the strategy's success here: similarity- and recency-weighted
    outcomes on a flat Beta(1, 1). The heuristic's record (blind to the context) is the
    prior only while none of the strategy's outcomes is at hand; beside them it counts
    `prior_with_evidence` times as much (none by default: measured end to end, in
    `bench/confidence_e2e.py`, any weight on it there lowers accuracy after a shift)."""
    wins = losses = total = 0.0
    count = 0
    for e in evidence:
        if not matches(strategy, e.strategy):
            continue
        w = weight(e, config)
        count += 1
        total += w
        if e.success:
            wins += w
        else:
            losses += w
    alpha = beta = 1.0
    if prior is not None and prior.occurrences > 0:
        m = min(config.prior_cap, config.prior_discount * prior.occurrences)
        if count:
            m *= config.prior_with_evidence
        rate = prior.successes / prior.occurrences
        alpha, beta = alpha + m * rate, beta + m * (1 - rate)
    prior_mean = alpha / (alpha + beta)
    return Posterior(alpha + wins, beta + losses, prior_mean, total, count)


STOPWORDS = frozenset("a an and are as at be by for from in is it of on or the to with".split())


def words(text: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS)


def word_similarity(a: str, b: str) -> float:
    """Cosine of the two texts' word sets (stopwords dropped), 0..1."""
    wa, wb = words(a), words(b)
    return len(wa & wb) / math.sqrt(len(wa) * len(wb)) if wa and wb else 0.0


def complexity(task: str, config: ModelConfig = DEFAULT) -> float:
    words = re.findall(r"[a-z0-9]+", task.lower())
    hard = sum(1 for w in set(words) if w in COMPLEXITY_WORDS)
    return min(1.0, len(words) / config.complexity_words * 0.6 + 0.2 * hard)


def risks(
    task: str,
    strategy: str,
    evidence: Sequence[Evidence],
    post: Posterior,
    anti_patterns: Sequence[AntiPatternHit] = (),
    config: ModelConfig = DEFAULT,
) -> list[RiskSignal]:
    out: list[RiskSignal] = []
    mine = [e for e in evidence if matches(strategy, e.strategy)]
    failed = [e for e in mine if not e.success and e.similarity >= config.similar_at]
    if failed:
        fail_w = sum(weight(e, config) for e in failed)
        sev = fail_w / (post.weight + 1.0)
        out.append(
            RiskSignal(
                signal_type="similar_to_failure",
                severity=min(1.0, sev),
                description=f"{len(failed)} similar task(s) failed with this strategy",
                source="outcomes",
                strategy=strategy,
            )
        )
    key = normalise(strategy)
    for ap in anti_patterns:
        pat = normalise(ap.pattern)
        if pat and (pat == key or pat in key or key in pat):
            out.append(
                RiskSignal(
                    signal_type="anti_pattern",
                    severity=min(1.0, 0.6 + 0.1 * ap.occurrences),
                    description=f"known anti-pattern: {ap.pattern}"
                    + (f" ({ap.why_bad})" if ap.why_bad else "")
                    + (f"; try {ap.better_alternative}" if ap.better_alternative else ""),
                    source="anti_pattern",
                    strategy=strategy,
                )
            )
    if post.weight < config.untested_below:
        out.append(
            RiskSignal(
                signal_type="untested_context",
                severity=1.0 - post.weight / config.untested_below,
                description=f"only {post.weight:.2f} effective similar outcomes of this strategy",
                source="outcomes",
                strategy=strategy,
            )
        )
    c = complexity(task, config)
    if c >= 0.3:
        out.append(
            RiskSignal(
                signal_type="high_complexity",
                severity=c,
                description="long or complex task",
                source="task",
                strategy=strategy,
            )
        )
    return sorted(out, key=lambda r: -r.severity)


def opportunities(
    strategy: str,
    evidence: Sequence[Evidence],
    prior: Prior | None = None,
    config: ModelConfig = DEFAULT,
) -> list[OpportunitySignal]:
    out: list[OpportunitySignal] = []
    if (
        prior is not None
        and prior.occurrences >= config.proven_occurrences
        and prior.confidence >= config.proven_confidence
    ):
        out.append(
            OpportunitySignal(
                signal_type="proven_pattern",
                strength=prior.confidence,
                description=f"succeeded {prior.successes} of {prior.occurrences} times",
                source="heuristic",
                strategy=strategy,
            )
        )
    close = [
        e
        for e in evidence
        if matches(strategy, e.strategy) and e.similarity >= config.high_similar_at
    ]
    wins = [e for e in close if e.success]
    if close and 2 * len(wins) > len(close):
        out.append(
            OpportunitySignal(
                signal_type="high_similarity",
                strength=min(1.0, max(e.similarity for e in wins)) * len(wins) / len(close),
                description=f"{len(wins)} of {len(close)} very similar tasks succeeded with it",
                source="outcomes",
                strategy=strategy,
            )
        )
    recent = [
        e
        for e in evidence
        if matches(strategy, e.strategy)
        and e.success
        and e.similarity >= config.similar_at
        and e.age_days <= config.recent_days
    ]
    if recent:
        out.append(
            OpportunitySignal(
                signal_type="recent_success",
                strength=max(min(1.0, e.similarity) for e in recent),
                description=f"{len(recent)} recent success(es) on similar tasks",
                source="outcomes",
                strategy=strategy,
            )
        )
    return out


def recommend(score: float, config: ModelConfig = DEFAULT) -> Recommendation:
    strong, yes, neutral, caution = config.thresholds
    if score >= strong:
        return "strong_yes"
    if score >= yes:
        return "yes"
    if score >= neutral:
        return "neutral"
    if score >= caution:
        return "caution"
    return "avoid"


def assess(
    task: str,
    strategy: str,
    evidence: Sequence[Evidence],
    prior: Prior | None = None,
    anti_patterns: Sequence[AntiPatternHit] = (),
    config: ModelConfig = DEFAULT,
) -> ConfidenceSignal:
    """The full signal for one strategy on one task, from evidence alone."""
    post = posterior(strategy, evidence, prior, config)
    rs = risks(task, strategy, evidence, post, anti_patterns, config)
    ops = opportunities(strategy, evidence, prior, config)
    penalty = sum(config.risk_weights.get(r.kind, 0.0) * r.severity for r in rs)
    bonus = config.opportunity_weight * max((o.strength for o in ops), default=0.0)
    score = min(1.0, max(0.0, post.mean - penalty + bonus))
    rec = recommend(score, config)
    if any(r.kind == "anti_pattern" for r in rs) and rec in ("strong_yes", "yes", "neutral"):
        rec = "caution"
    parts = [
        f"predicted success {post.mean:.2f} (prior {post.prior_mean:.2f}, "
        f"{post.weight:.2f} effective similar outcomes of {post.count})",
        f"uncertainty {post.uncertainty:.2f}",
    ]
    if rs:
        parts.append("risks: " + ", ".join(f"{r.kind} {r.severity:.2f}" for r in rs))
    if ops:
        parts.append("opportunities: " + ", ".join(f"{o.kind} {o.strength:.2f}" for o in ops))
    mine = [e for e in evidence if matches(strategy, e.strategy)]
    if prior is not None and prior.occurrences > 0:
        history, occurrences = prior.successes / prior.occurrences, prior.occurrences
    else:
        wins = sum(1 for e in mine if e.success)
        history, occurrences = (wins / len(mine) if mine else 0.5), len(mine)
    return ConfidenceSignal(
        strategy=strategy,
        predicted_success=post.mean,
        uncertainty=post.uncertainty,
        prior=post.prior_mean,
        historical_success_rate=history,
        occurrence_count=occurrences,
        context_similarity=min(1.0, max((max(0.0, e.similarity) for e in mine), default=0.0)),
        evidence_count=post.count,
        similar_outcomes=post.weight,
        confidence_score=score,
        recommendation=rec,
        risk_signals=rs,
        opportunity_signals=ops,
        total_risk_score=penalty,
        total_opportunity_score=bonus,
        reasoning="; ".join(parts) + f" -> {rec}",
    )


def baseline(strategy: str, evidence: Iterable[Evidence]) -> float:
    """Backward-looking estimate: the strategy's historical (Laplace) success rate,
    ignoring context and time."""
    wins = n = 0
    for e in evidence:
        if matches(strategy, e.strategy):
            n += 1
            wins += e.success
    return (wins + 1) / (n + 2)
