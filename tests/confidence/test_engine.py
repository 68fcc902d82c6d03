"""The engines: on a real Alma (make_alma), and on a stub for the async variant."""

from __future__ import annotations

import asyncio

import pytest

from langgraph_alma.confidence import AsyncConfidenceEngine, ConfidenceEngine
from langgraph_alma.confidence.engine import evidence_from
from langgraph_alma.memory.scoring import MemorySlice
from langgraph_alma.memory.types import AntiPattern, Heuristic, Outcome

GOOD = "stream rows in batches"
BAD = "load the whole table into memory"


@pytest.mark.filterwarnings("ignore::UserWarning")  # the anti-pattern warning
def test_strategy_that_worked_on_similar_tasks_ranks_first(make_alma, clock) -> None:
    alma = make_alma()
    for i, table in enumerate(["invoice", "ledger", "invoice ledger"]):
        task = f"export the {table} table to csv file number {i}"
        alma.learn("ana", task, "success", GOOD, task_type="export")
        clock.advance(hours=1)
        alma.learn("ana", task, "failure", BAD, task_type="export", error_message="OOM")
        clock.advance(hours=1)
    alma.learn("ana", "write release notes", "success", "draft from the changelog")
    engine = ConfidenceEngine(alma)
    task = "export the invoice table to a csv file"
    pairs = engine.rank_strategies([BAD, GOOD], task, agent="ana")
    assert [s for s, _ in pairs] == [GOOD, BAD]
    (_, good), (_, bad) = pairs
    assert good.predicted_success > 0.6 > 0.4 > bad.predicted_success
    assert good.evidence_count == 3 and bad.evidence_count == 3
    assert good.recommendation in ("strong_yes", "yes")
    assert bad.recommendation in ("caution", "avoid")
    risks = {r.kind for r in engine.detect_risks(BAD, task, agent="ana")}
    assert {"similar_to_failure", "anti_pattern"} <= risks
    single = engine.assess_strategy(GOOD, task, agent="ana")
    assert single.predicted_success == good.predicted_success
    ops = engine.opportunities_for(task, agent="ana")
    assert ops and {o.strategy for o in ops} == {GOOD}
    assert {o.kind for o in ops} >= {"proven_pattern", "recent_success"}


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_same_strategy_is_predicted_by_context(make_alma) -> None:
    alma = make_alma()
    for i in range(3):
        alma.learn("ana", f"export the invoice ledger to csv {i}", "success", "retry", "ops")
        alma.learn("ana", f"restart the kafka consumer group {i}", "failure", "retry", "ops")
    engine = ConfidenceEngine(alma)
    invoice = engine.assess_strategy("retry", "export the invoice ledger to csv", "ana")
    kafka = engine.assess_strategy("retry", "restart the kafka consumer group", "ana")
    assert invoice.prior == kafka.prior  # same heuristic (3 of 6) either way
    assert invoice.predicted_success > 0.6 > 0.4 > kafka.predicted_success


def test_unknown_strategy_is_neutral_and_untested(make_alma) -> None:
    alma = make_alma()
    alma.learn("ana", "export the invoice table", "success", GOOD, task_type="export")
    signal = ConfidenceEngine(alma).assess_strategy("ask a human", "export invoices", "ana")
    assert signal.evidence_count == 0 and signal.prior == 0.5
    assert any(r.kind == "untested_context" and r.severity == 1.0 for r in signal.risks)


def _slice() -> MemorySlice:
    def outcome(strategy: str, success: bool, sim: float) -> Outcome:
        return Outcome(
            task_description="t",
            success=success,
            strategy_used=strategy,
            metadata={"similarity": sim},
        )

    return MemorySlice(
        outcomes=[outcome("a", True, 0.9), outcome("a", True, 0.8), outcome("B", False, 0.9)],
        heuristics=[Heuristic(condition="c", strategy="A", occurrence_count=4, success_count=4)],
        anti_patterns=[AntiPattern(pattern="b", why_bad="fails", occurrence_count=2)],
    )


class _AsyncStub:
    def __init__(self) -> None:
        self.calls = 0

    async def retrieve(self, task, agent, top_k=5, context=None, record_use=True) -> MemorySlice:
        self.calls += 1
        return _slice()


def test_async_engine_shares_the_core_with_one_retrieve_per_call() -> None:
    stub = _AsyncStub()
    engine = AsyncConfidenceEngine(stub)
    ranked = asyncio.run(engine.rank_strategies(["b", "a"], "t", agent="x"))
    assert stub.calls == 1
    assert [s for s, _ in ranked] == ["a", "b"]
    assert ranked[1][1].recommendation in ("caution", "avoid")
    risks = asyncio.run(engine.detect_risks("b", "t", "x"))
    assert any(r.kind == "anti_pattern" for r in risks)
    ops = asyncio.run(engine.opportunities_for("t", "x"))
    assert {o.strategy for o in ops} == {"A"} or {o.strategy for o in ops} == {"a"}


def test_raw_similarities_above_one_are_scaled() -> None:
    found = MemorySlice(
        outcomes=[
            Outcome(task_description="t", success=True, strategy_used="a", metadata=m)
            for m in ({"similarity": 4.0}, {"similarity": 2.0}, {})
        ]
    )
    sims = [e.similarity for e in evidence_from(found, found.outcomes[0].timestamp)]
    assert sims == [1.0, 0.5, 0.0]


@pytest.mark.filterwarnings("ignore::UserWarning")
async def test_async_engine_on_a_real_async_alma(pool, tenant, clock, _indexed) -> None:
    from psycopg_pool import AsyncConnectionPool

    from langgraph_alma.alma import AsyncAlma
    from langgraph_alma.db.connect import connection_kwargs
    from langgraph_alma.store import AsyncAlmaStore
    from tests.memory.conftest import INDEX

    async with AsyncConnectionPool(
        pool.conninfo, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as apool:
        alma = AsyncAlma(AsyncAlmaStore(apool, index=INDEX, tenant_id=tenant), clock=clock)
        for i in range(3):
            await alma.learn("ada", f"parse the csv export {i}", "success", "stream rows", "etl")
            await alma.learn("ada", f"parse the csv export {i}", "failure", "read it all", "etl")
        engine = AsyncConfidenceEngine(alma)
        ranked = await engine.rank_strategies(
            ["read it all", "stream rows"], "parse the csv export", agent="ada"
        )
        assert [s for s, _ in ranked] == ["stream rows", "read it all"]
        assert ranked[0][1].predicted_success > 0.6 > 0.4 > ranked[1][1].predicted_success


def test_engine_feeds_retrieval_ranking(make_alma) -> None:
    import warnings

    from langgraph_alma.confidence import ConfidenceEngine

    alma = make_alma()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i in range(4):
            alma.learn(
                "ops",
                f"deploy the api service {i}",
                "success",
                "canary release",
                task_type="deploys",
            )
            alma.learn(
                "ops",
                f"deploy the api service {i}",
                "failure",
                "deploy all at once",
                task_type="deploys",
                error_message="outage",
            )
        for i in range(3):
            alma.learn(
                "ops",
                f"deploy the api service {i}",
                "success",
                "deploy all at once",
                task_type="deploys",
            )
    plain = alma.retrieve(
        "deploy the api service", "ops", top_k=40, rank_by_confidence=False, record_use=False
    )
    engine = ConfidenceEngine(alma)
    found = engine.retrieve("deploy the api service", "ops", top_k=5)
    ranked = [h.strategy for h in found.heuristics]
    assert ranked[0] == "canary release"
    for h in found.heuristics:  # blended once: half retrieval score, half the engine's
        expected = 0.5 * plain.scores[h.id] + 0.5 * h.metadata["confidence_score"]
        assert h.metadata["score"] == pytest.approx(expected)
    risky = next(h for h in found.heuristics if h.strategy == "deploy all at once")
    assert risky.metadata["recommendation"] in ("caution", "avoid")
    assert found.scores[found.heuristics[0].id] > found.scores[risky.id]
    for h in found.heuristics:
        assert h.metadata["score"] == found.scores[h.id] and "confidence_score" in h.metadata


def test_engine_evidence_is_not_biased_towards_successes(make_alma, clock) -> None:
    """The prompt's ranking favours successful outcomes; the engine's evidence must not:
    with room for 4 outcomes, it reads the 4 most similar (failures), not 4 successes
    on less similar tasks."""
    import warnings

    alma = make_alma()
    task = "sync the invoice ledger"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):
            alma.learn("ana", task, "failure", "retry", task_type="ops")
            alma.learn("ana", f"{task} of the archived billing system", "success", "retry", "ops")
            clock.advance(hours=1)
    signal = ConfidenceEngine(alma, top_k=4).assess_strategy("retry", task, "ana")
    assert signal.evidence_count == 4 and signal.predicted_success < 0.5
    prompt_slice = alma.retrieve(task, "ana", top_k=4)
    assert all(o.success for o in prompt_slice.outcomes)  # what a prompt gets
