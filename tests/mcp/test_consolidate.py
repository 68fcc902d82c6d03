"""Consolidation (`langgraph_alma.memory.consolidate`): the pure merge algorithm, the
plan's single write batch, and `Alma.consolidate` / `AsyncAlma.consolidate` on a real
store (counts folded, artifacts moved, usage kept, duplicates gone)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langgraph.store.base import PutOp, SearchOp

from langgraph_alma.alma import Alma, AsyncAlma
from langgraph_alma.errors import ConfigError
from langgraph_alma.memory import consolidate as c
from langgraph_alma.memory import items as it
from langgraph_alma.memory import learning
from langgraph_alma.memory.core import MemoryCore
from langgraph_alma.memory.decay import Usage
from langgraph_alma.memory.types import (
    AntiPattern,
    DomainKnowledge,
    Heuristic,
    MemoryKind,
    Outcome,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def unit(degrees: float) -> list[float]:
    """A 2-d unit vector at an angle: cosine of two is the cosine of their angle."""
    r = math.radians(degrees)
    return [math.cos(r), math.sin(r)]


def fact(text: str, agent: str = "helena", domain: str = "testing", **kw: Any) -> DomainKnowledge:
    kw.setdefault("last_verified", kw.get("created_at", T0))
    return DomainKnowledge(agent=agent, domain=domain, fact=text, **kw)


def heuristic(n: int, wins: int, **kw: Any) -> Heuristic:
    return Heuristic(
        agent="helena", condition="testing tasks", strategy="happy path first",
        task_type="testing", occurrence_count=n, success_count=wins, **kw,
    )  # fmt: skip


# -- pure ------------------------------------------------------------------------------
def test_cosine() -> None:
    assert c.cosine([1, 0], [1, 0]) == pytest.approx(1.0)
    assert c.cosine([1, 0], [0, 1]) == pytest.approx(0.0)
    assert c.cosine(unit(0), unit(60)) == pytest.approx(0.5)
    assert c.cosine([0, 0], [1, 0]) == 0.0


def test_the_strongest_is_kept_and_only_similar_enough_merge() -> None:
    weak, strong, far = heuristic(2, 1), heuristic(9, 8), heuristic(5, 5)
    merges = c.find_merges([weak, strong, far], [unit(0), unit(10), unit(60)], 0.95)
    assert len(merges) == 1
    keep, absorbed = merges[0]
    assert keep is strong  # most evidence
    assert [m for m, _ in absorbed] == [weak]
    assert absorbed[0][1] == pytest.approx(math.cos(math.radians(10)))


def test_newest_wins_a_tie_of_evidence() -> None:
    old, new = fact("a", created_at=T0), fact("a", created_at=T0 + timedelta(days=1))
    [(keep, absorbed)] = c.find_merges([old, new], [unit(0), unit(0)], 0.9)
    assert keep is new and [m for m, _ in absorbed] == [old]


def test_groups_link_to_the_keeper_not_along_chains() -> None:
    # a~b and b~c pass 0.9 (20 degrees apart) but a~c (40 degrees) does not
    a, b, cc = heuristic(9, 9), heuristic(5, 5), heuristic(1, 1)
    merges = c.find_merges([a, b, cc], [unit(0), unit(20), unit(40)], 0.9)
    assert [(k.id, [m.id for m, _ in ms]) for k, ms in merges] == [(a.id, [b.id])]


def test_different_owners_kinds_of_result_and_domains_never_merge() -> None:
    same_vec = [unit(0)] * 2
    assert c.find_merges([fact("x", agent="a"), fact("x", agent="b")], same_vec, 0.5) == []
    assert c.find_merges([fact("x", domain="a"), fact("x", domain="b")], same_vec, 0.5) == []
    won = Outcome(agent="h", task_description="t", success=True, strategy_used="s")
    lost = Outcome(agent="h", task_description="t", success=False, strategy_used="s")
    assert c.find_merges([won, lost], same_vec, 0.5) == []


@pytest.mark.parametrize("threshold", [0, -0.1, 1.01])
def test_threshold_must_be_in_0_1(threshold: float) -> None:
    with pytest.raises(ConfigError, match="threshold"):
        c.find_merges([], [], threshold)


def test_fold_adds_up_evidence() -> None:
    keep, other = heuristic(9, 8), heuristic(3, 1)
    merged = c.fold(keep, [other])
    assert (merged.occurrence_count, merged.success_count) == (12, 9)
    assert merged.confidence == pytest.approx(learning.heuristic_confidence(9, 12))
    assert merged.metadata["merged_from"] == [other.id]
    assert keep.occurrence_count == 9  # inputs untouched

    anti = c.fold(AntiPattern(pattern="p", why_bad="w", occurrence_count=3),
                  [AntiPattern(pattern="p", why_bad="w", occurrence_count=2)])  # fmt: skip
    assert anti.occurrence_count == 5

    k = c.fold(fact("a", metadata={"merged_count": 2, "merged_from": ["x"]}), [fact("b")])
    assert k.metadata["merged_count"] == 3 and k.metadata["merged_from"][0] == "x"


def test_fold_usage() -> None:
    folded = c.fold_usage([Usage(2, T0, 0.5), Usage(3, T0 + timedelta(days=2), -1.0), Usage()])
    assert folded == Usage(5, T0 + timedelta(days=2), 0.5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(0, 360), st.sampled_from(["a", "b"])),
        max_size=12,
    ),
    st.floats(0.5, 1.0),
)
def test_merges_are_disjoint_and_above_threshold(spec: list, threshold: float) -> None:
    memories = [heuristic(n, 0) for n, _, _ in spec]
    for m, (_, _, agent) in zip(memories, spec, strict=True):
        m.agent = agent
    vectors = [unit(angle) for _, angle, _ in spec]
    merges = c.find_merges(memories, vectors, threshold)
    seen = [k.id for k, ms in merges] + [m.id for _, ms in merges for m, _ in ms]
    assert len(seen) == len(set(seen))
    index = {m.id: i for i, m in enumerate(memories)}
    for keep, absorbed in merges:
        for m, similarity in absorbed:
            assert similarity >= threshold
            assert c.cosine(vectors[index[keep.id]], vectors[index[m.id]]) == similarity
            assert m.agent == keep.agent
            assert c.strength_key(keep) <= c.strength_key(m)


def test_apply_writes_everything_in_one_batch() -> None:
    core = MemoryCore(tenant_id="t", project_id="p")
    a = fact("a", created_at=T0 + timedelta(days=1))  # newest of two equals: kept
    b, d = fact("a again", created_at=T0), fact("other", created_at=T0)
    scanned = c.Scanned(MemoryKind.DOMAIN_KNOWLEDGE, "helena", [a, b, d], [Usage()] * 3)
    plan = c.apply(core, scanned, [unit(0), unit(1), unit(90)], 0.99)
    assert list(next(plan)) == []  # OFF_LOOP: the comparison comes next, off the loop
    reads = plan.send([])
    assert [type(op) for op in reads] == [SearchOp]  # artifact links of the merged
    with pytest.raises(StopIteration) as done:
        writes = plan.send([[]])  # no artifact links
        assert all(isinstance(op, PutOp) for op in writes)
        deleted = {op.key for op in writes if op.value is None}
        kept = {op.key for op in writes if op.value is not None}
        assert deleted == {b.id}  # the memory and its usage
        assert kept == {a.id}  # the folded keeper and its usage
        plan.send([None] * len(writes))
    assert done.value.value.removed == 1


# -- on a real store -------------------------------------------------------------------
@pytest.fixture
def alma(database: Any, tenant: str) -> Any:
    with Alma.connect(tenant_id=tenant, project_id="consolidate") as alma:  # env URLs
        yield alma


def test_alma_consolidate_merges_duplicates(alma: Alma) -> None:
    keep = alma.add_domain_knowledge("helena", "testing", "The login form validates email")
    dup = alma.add_domain_knowledge("helena", "testing", "the LOGIN form validates the email.")
    other = alma.add_domain_knowledge("helena", "testing", "Checkout needs a card on file")
    victor = alma.add_domain_knowledge("victor", "testing", "The login form validates email")
    alma.link_artifact(dup.id, "log", "s3://b/dup.log")
    alma.record_feedback(keep.id, "helpful")
    alma.retrieve("login form email", agent="helena")  # uses both duplicates

    dry = alma.consolidate("domain_knowledge", agent="helena", dry_run=True)
    assert dry.removed == 0 and dry.scanned == 3 and len(dry.groups) == 1
    assert alma.get_stats("helena")["counts"]["domain_knowledge"] == 3

    done = alma.consolidate("domain_knowledge")  # every agent; victor's stays apart
    assert done.removed == 1 and len(done.groups) == 1
    group = done.groups[0]
    assert {group.keep, *group.merged} == {keep.id, dup.id}
    assert alma.get_stats("helena")["counts"]["domain_knowledge"] == 2
    assert alma.get_stats("victor")["counts"]["domain_knowledge"] == 1
    kept = [k for k in alma.retrieve("login form email", agent="helena").domain_knowledge]
    assert [k.id for k in kept if "login" in k.fact.lower()] == [group.keep]
    assert kept[0].metadata["merged_count"] == 2
    assert kept[0].metadata["merged_from"] == group.merged
    assert [a.storage_url for a in alma.get_artifacts(group.keep)] == ["s3://b/dup.log"]
    usage = alma.store.get(it.usage_namespace("consolidate"), group.keep)
    assert usage.value["use_count"] >= 3 and usage.value["reinforcement"] == 1.0
    assert alma.store.get(it.usage_namespace("consolidate"), group.merged[0]) is None
    assert other.id not in {group.keep, *group.merged} and victor.id not in group.merged
    assert alma.consolidate("domain_knowledge").removed == 0  # nothing left to merge


def test_alma_consolidate_folds_heuristic_counts(alma: Alma) -> None:
    for strategy in ["happy path first"] * 3 + ["Happy path first!"] * 4:
        alma.learn("helena", "test the form", "success", strategy, task_type="testing")
    assert alma.get_stats("helena")["counts"]["heuristic"] == 2
    done = alma.consolidate("heuristic", agent="helena")
    assert done.removed == 1
    [item] = alma.store.search(it.kind_prefix("consolidate", MemoryKind.HEURISTIC))
    h = it.from_item(item)
    assert isinstance(h, Heuristic)
    assert (h.occurrence_count, h.success_count) == (7, 7)
    assert h.strategy == "Happy path first!"  # the one with more evidence


def test_alma_consolidate_refuses_bad_input(alma: Alma) -> None:
    with pytest.raises(ConfigError, match="artifact_ref"):
        alma.consolidate("artifact_ref")
    with pytest.raises(ConfigError, match="threshold"):
        alma.consolidate("heuristic", threshold=1.5)


async def test_async_alma_consolidate(database: Any) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    async with await AsyncAlma.connect(tenant_id=tenant) as alma:
        a = await alma.add_user_preference("ana", "style", "No emojis in test names")
        b = await alma.add_user_preference("ana", "style", "no emojis in the test names")
        report = await alma.consolidate("user_preference", agent="ana")
        assert report.removed == 1 and {report.groups[0].keep, *report.groups[0].merged} == {
            a.id,
            b.id,
        }
        assert (await alma.get_stats())["counts"]["user_preference"] == 1


def test_consolidation_waits_for_the_agents_learning(alma: Alma) -> None:
    """Scan and merge are one transaction under the agent's learning lock: a learn in
    progress (here, a block holding that lock) finishes before consolidation reads."""
    import threading

    alma.add_domain_knowledge("helena", "testing", "The login form validates email")
    done: list[Any] = []
    with alma.store.atomic("alma.learn:consolidate:helena"):  # as a learn holds it
        worker = threading.Thread(
            target=lambda: done.append(alma.consolidate("domain_knowledge", agent="helena"))
        )
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not done  # waiting for the lock
        # written inside the "learn": consolidation must see it once the lock is released
        alma.add_domain_knowledge("helena", "testing", "the LOGIN form validates the email.")
    worker.join(timeout=30)
    assert done and done[0].scanned == 2 and done[0].removed == 1
