"""The pure scoring core."""

from __future__ import annotations

import pytest

from langgraph_alma.confidence import forecast
from langgraph_alma.confidence.forecast import AntiPatternHit, Evidence, Prior


def ev(success: bool, similarity: float = 0.9, strategy: str = "s", age: float = 0.0):
    return Evidence(strategy, success, similarity, age)


def test_more_evidence_means_less_uncertainty() -> None:
    few = forecast.posterior("s", [ev(True), ev(False)])
    many = forecast.posterior("s", [ev(True), ev(False)] * 10)
    none = forecast.posterior("s", [])
    assert none.uncertainty == pytest.approx(1.0)
    assert many.uncertainty < few.uncertainty < none.uncertainty
    assert forecast.assess("t", "s", [ev(True)] * 20).uncertainty < 0.4


def test_similar_failures_lower_the_prediction_more_than_distant_ones() -> None:
    wins = [ev(True, 0.9) for _ in range(3)]
    near = forecast.posterior("s", [*wins, *[ev(False, 0.9) for _ in range(3)]]).mean
    far = forecast.posterior("s", [*wins, *[ev(False, 0.1) for _ in range(3)]]).mean
    alone = forecast.posterior("s", wins).mean
    assert near < far <= alone
    signal = forecast.assess("t", "s", [*wins, *[ev(False, 0.9) for _ in range(3)]])
    assert any(r.kind == "similar_to_failure" for r in signal.risks)


def test_only_the_strategy_own_outcomes_count_up_to_case_and_spacing() -> None:
    evidence = [ev(True, strategy="Retry  With Backoff"), ev(False, strategy="other")] * 5
    post = forecast.posterior("retry with backoff", evidence)
    assert post.count == 5 and post.mean > 0.8


def test_recency_discounts_old_outcomes() -> None:
    recent = forecast.posterior("s", [ev(True, age=0)] * 3 + [ev(False, age=300)] * 3).mean
    old = forecast.posterior("s", [ev(True, age=300)] * 3 + [ev(False, age=0)] * 3).mean
    assert recent > 0.7 > 0.3 > old


def test_heuristic_prior_is_discounted() -> None:
    strong = Prior(successes=30, occurrences=30, confidence=0.95)
    assert forecast.posterior("s", [], strong).mean > 0.5
    # a few similar failures outweigh a long overall record
    assert forecast.posterior("s", [ev(False)] * 3, strong).mean < 0.5
    ops = forecast.opportunities("s", [], strong)
    assert [o.kind for o in ops] == ["proven_pattern"]


def test_anti_pattern_gives_a_risk_and_at_most_caution() -> None:
    evidence = [ev(True)] * 10
    clean = forecast.assess("t", "s", evidence)
    flagged = forecast.assess(
        "t", "s", evidence, anti_patterns=[AntiPatternHit("S", "breaks things", "other", 3)]
    )
    assert clean.recommendation in ("strong_yes", "yes")
    risk = next(r for r in flagged.risks if r.kind == "anti_pattern")
    assert risk.severity >= 0.6 and "other" in risk.detail
    assert flagged.recommendation in ("caution", "avoid")
    assert flagged.score < clean.score


def test_untested_context_and_complexity_risks() -> None:
    signal = forecast.assess(
        "migrate the legacy distributed production database with concurrent writers",
        "s",
        [ev(True, similarity=0.1)],
    )
    kinds = {r.kind for r in signal.risks}
    assert {"untested_context", "high_complexity"} <= kinds
    assert forecast.complexity("fix a typo") < 0.3


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0.9, "strong_yes"),
        (0.75, "strong_yes"),
        (0.7, "yes"),
        (0.5, "neutral"),
        (0.35, "caution"),
        (0.1, "avoid"),
    ],
)
def test_recommendation_thresholds(score: float, expected: str) -> None:
    assert forecast.recommend(score) == expected


def test_recent_success_opportunity_and_explanation() -> None:
    signal = forecast.assess("t", "s", [ev(True, 0.9, age=1)] * 4)
    assert any(o.kind == "recent_success" for o in signal.opportunities)
    assert "predicted success" in signal.explanation
    assert signal.evidence_count == 4


def test_baseline_ignores_context() -> None:
    evidence = [ev(True, 0.0)] * 8 + [ev(False, 1.0)] * 2
    assert forecast.baseline("s", evidence) == pytest.approx(9 / 12)
    assert forecast.posterior("s", evidence).mean < 0.5
