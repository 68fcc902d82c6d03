"""Past 10,000 outcomes: learning counts, stats and forgetting stay exact, a learn reads
its running counts instead of the outcomes, and a forget makes the next learn recount."""

from __future__ import annotations

from datetime import timedelta

from langgraph.store.base import PutOp

from langgraph_alma.memory import items as it
from langgraph_alma.memory.types import Outcome

N = 20_000
OLD = 5  # outcomes old enough to forget, written first (the last a capped scan would reach)


def _write_outcomes(alma, clock, n: int, *, agent: str, strategy: str) -> None:
    """`n` outcomes (3 in 4 successes) written straight into the store, in batches."""
    ops = []
    for i in range(n):
        outcome = Outcome(
            task_type="forms",
            task_description=f"form {i}",
            success=i % 4 != 0,
            strategy_used=strategy,
            error_message=None if i % 4 else f"error {i}",
        )
        outcome.tenant_id, outcome.agent = alma.core.tenant_id, agent
        outcome.created_at = outcome.timestamp = clock.now - timedelta(days=200 if i < OLD else 0)
        op = it.put_op(outcome)
        ops.append(PutOp(op.namespace, op.key, op.value, index=False))  # no embedding: fast
    for start in range(0, n, 2_000):
        alma.store.batch(ops[start : start + 2_000])


def test_counts_stay_exact_past_ten_thousand_outcomes(alma, clock) -> None:
    strategy = "fill the fields in order"
    _write_outcomes(alma, clock, N, agent="helena", strategy=strategy)
    wins = sum(1 for i in range(N) if i % 4)

    alma.learn("helena", "form a", "success", strategy, task_type="forms")  # repairs: recounts
    (heuristic,) = alma.retrieve("fill a form", agent="helena").heuristics
    assert (heuristic.occurrence_count, heuristic.success_count) == (N + 1, wins + 1)

    alma.learn("helena", "form b", "failure", strategy, task_type="forms")  # counted: +1
    (heuristic,) = alma.retrieve("fill a form", agent="helena").heuristics
    assert (heuristic.occurrence_count, heuristic.success_count) == (N + 2, wins + 1)

    stats = alma.get_stats("helena")
    assert stats["counts"]["outcome"] == N + 2

    assert alma.forget("helena", older_than_days=90, below_confidence=0.0) == OLD
    assert alma.get_stats("helena")["counts"]["outcome"] == N + 2 - OLD
    alma.learn("helena", "form c", "success", strategy, task_type="forms")  # recounts again
    (heuristic,) = alma.retrieve("fill a form", agent="helena").heuristics
    old_wins = sum(1 for i in range(OLD) if i % 4)
    assert heuristic.occurrence_count == N + 3 - OLD
    assert heuristic.success_count == wins + 2 - old_wins
