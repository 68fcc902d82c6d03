"""Decay and forgetting with a controlled clock; scoring order; feedback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from langgraph_alma.memory.decay import ForgetPolicy, Usage, strength
from langgraph_alma.memory.scoring import ScoringWeights, score
from langgraph_alma.memory.types import DomainKnowledge, Heuristic, Outcome

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _fact(**kw) -> DomainKnowledge:
    return DomainKnowledge(domain="d", fact="f", created_at=T0, last_used_at=T0, **kw)


def test_strength_halves_per_half_life_and_grows_with_use_and_importance() -> None:
    fact = _fact()
    s0 = strength(fact, Usage(), T0)
    assert strength(fact, Usage(), T0 + timedelta(days=180)) == pytest.approx(s0 / 2)
    assert strength(fact, Usage(use_count=5), T0) > s0
    assert strength(fact, Usage(reinforcement=1.0), T0) > s0
    assert strength(fact, Usage(reinforcement=-1.0), T0) < s0
    assert strength(_fact(importance=1.0), Usage(), T0) > s0
    # use resets idleness: last use, not creation, is what decays
    later = T0 + timedelta(days=400)
    assert strength(fact, Usage(last_used_at=later), later) == pytest.approx(s0)
    # outcomes decay faster than facts
    outcome = Outcome(
        task_description="t", success=True, strategy_used="s", created_at=T0, last_used_at=T0
    )
    assert strength(outcome, Usage(), T0 + timedelta(days=60)) < strength(
        fact, Usage(), T0 + timedelta(days=60)
    )


def test_forget_policy_reasons() -> None:
    policy = ForgetPolicy(older_than_days=90, below_confidence=0.3)
    old = Outcome(task_description="t", success=True, strategy_used="s", created_at=T0)
    assert "older than 90" in policy.reason(old, Usage(), T0 + timedelta(days=91))
    weak = Heuristic(condition="c", strategy="s", confidence=0.2, created_at=T0)
    assert "confidence 0.20" in policy.reason(weak, Usage(), T0)
    assert policy.reason(_fact(), Usage(), T0 + timedelta(days=30)) is None
    assert "strength" in policy.reason(_fact(), Usage(), T0 + timedelta(days=5 * 365))


def test_scoring_orders_by_similarity_recency_success_and_confidence() -> None:
    w = ScoringWeights()
    good = Heuristic(
        condition="c",
        strategy="s",
        confidence=0.9,
        occurrence_count=10,
        success_count=9,
        created_at=T0,
        last_used_at=T0,
    )
    bad = good.model_copy(update={"confidence": 0.2, "success_count": 2})
    assert score(good, 0.5, Usage(), T0, w) > score(bad, 0.5, Usage(), T0, w)
    assert score(good, 1.0, Usage(), T0, w) > score(good, 0.2, Usage(), T0, w)
    stale = T0 + timedelta(days=60)
    assert score(good, 0.5, Usage(last_used_at=stale), stale, w) > score(
        good, 0.5, Usage(), stale, w
    )
    only_sim = ScoringWeights(similarity=1, recency=0, success=0, confidence=0)
    assert score(bad, 0.7, Usage(), T0, only_sim) == pytest.approx(0.7)


def test_forget_removes_decayed_and_old_memories_and_keeps_an_audit(alma, clock) -> None:
    alma.add_domain_knowledge("helena", "api", "Tokens expire after 24 hours")
    for i in range(3):
        alma.learn(
            "helena", f"form {i}", "success", "fill required fields first", task_type="forms"
        )
    kept = alma.add_domain_knowledge("helena", "api", "The API is versioned in the path")
    assert alma.forget() == 0  # nothing has decayed yet
    clock.advance(days=100)
    alma.retrieve("API path versioning", agent="helena")  # using memories refreshes them
    removed = alma.forget(older_than_days=90)
    stats = alma.get_stats()["counts"]
    assert removed == 3 and stats["outcome"] == 0  # the three outcomes aged out
    assert stats["domain_knowledge"] == 2 and stats["heuristic"] == 1
    audit = alma.forget_audit()
    assert len(audit) == 1 and audit[0]["policy"]["older_than_days"] == 90
    assert {r["kind"] for r in audit[0]["removed"]} == {"outcome"}
    assert all("older than 90" in r["reason"] for r in audit[0]["removed"])
    clock.advance(days=4 * 365)
    alma.forget()
    left = alma.retrieve("API", agent="helena", top_k=10).domain_knowledge
    assert left == []  # strength fell below the floor after years unused
    assert kept.id in {r["id"] for a in alma.forget_audit() for r in a["removed"]}


def test_retrieval_ranks_relevant_first_and_feedback_reinforces(alma) -> None:
    a = alma.add_domain_knowledge("helena", "api", "Orders API paginates results with cursors")
    alma.add_domain_knowledge("helena", "api", "Deployments happen on Tuesdays")
    got = alma.retrieve("how does the orders API paginate", agent="helena")
    assert got.domain_knowledge[0].id == a.id
    assert got.scores[a.id] == got.domain_knowledge[0].metadata["score"]
    usage = alma.record_feedback(a.id, "helpful")
    assert usage.reinforcement == 1.0 and usage.use_count == 1  # the retrieval counted
    assert alma.record_feedback(a.id, "unhelpful").reinforcement == 0.0
