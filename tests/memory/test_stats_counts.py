"""`get_stats` counts in the database: one count statement per kind, no memory read, so
a stats call on an agent with thousands of memories decodes none of them (issue 22: it
paged through and decoded every item, 10,000 per call under the MCP bench, the main
source of garbage-collection pauses on the server's loop). `AlmaStore.count_items`
counts what the search of the same prefix and filter would page through."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langgraph.store.base import PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from langgraph_alma.errors import InvalidFilter, InvalidStoreKey
from langgraph_alma.memory import Outcome
from langgraph_alma.memory import items as it
from langgraph_alma.memory.core import AntiPatternWarning
from langgraph_alma.memory.plan import (
    COUNT_PAGE,
    CountOp,
    StorePlan,
    arun_store_plan,
    run_store_plan,
)
from langgraph_alma.memory.scoring import SLICE_FIELDS
from langgraph_alma.memory.types import MemoryKind
from langgraph_alma.store import AlmaStore, AsyncAlmaStore

N = 1_200  # more than a page (500) of the scan it replaces


def _outcomes(agent: str, tenant: str, n: int) -> list[PutOp]:
    ops = []
    for i in range(n):
        m = Outcome(
            task_type="deploys", task_description=f"deploy {i}", success=i % 3 != 0,
            strategy_used="retry",
        )  # fmt: skip
        m.agent, m.tenant_id = agent, tenant
        ops.append(PutOp(it.namespace(m), m.id, it.to_value(m), index=False))
    return ops


def test_count_items_counts_what_search_pages_through(pool, tenant) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    other = AlmaStore(pool, tenant_id=f"{tenant}-other")
    store.batch(
        [PutOp(("a", "b"), f"k{i}", {"lang": "en" if i % 2 else "fr"}) for i in range(7)]
        + [PutOp(("a", "b", "c"), "deep", {"lang": "en"}), PutOp(("a", "bc"), "near", {})]
    )
    other.batch([PutOp(("a", "b"), "theirs", {"lang": "en"})])
    for prefix, filt in [
        (("a", "b"), None),  # the namespace and below, not ("a", "bc")
        (("a",), None),
        (("a", "b"), {"lang": "en"}),
        (("a", "b", "c"), None),
        ((), None),
        (("zz",), None),
    ]:
        searched = store.search(prefix, filter=filt, limit=1_000)
        assert store.count_items(prefix, filt) == len(searched), (prefix, filt)
    assert store.count_items(("a", "b")) == 8 and store.count_items(("a", "b"), {"lang": "en"}) == 4
    assert other.count_items() == 1  # each tenant counts its own
    store.delete(("a", "b"), "k0")
    assert store.count_items(("a", "b")) == 7


def test_count_items_refuses_bad_input_as_search_does(pool, tenant) -> None:
    store = AlmaStore(pool, tenant_id=tenant)
    with pytest.raises(InvalidStoreKey):
        store.count_items(("a\x00",))
    with pytest.raises(InvalidFilter):
        store.count_items(("a",), {"n": {"$nope": 1}})


def _spy(store: Any, name: str) -> list[Any]:
    """Record every call of `store.<name>` (the real method still runs)."""
    calls: list[Any] = []
    real = getattr(store, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return real(*args, **kwargs)

    setattr(store, name, spy)
    return calls


def test_stats_send_counts_and_read_no_memory(make_alma) -> None:
    alma = make_alma()
    alma.store.batch(_outcomes("heavy", alma.core.tenant_id, N))
    alma.add_domain_knowledge("heavy", "ops", "port 8000")
    alma.add_domain_knowledge("light", "ops", "port 9000")
    alma.add_user_preference("ana", "style", "short answers")
    batches, counts = _spy(alma.store, "batch"), _spy(alma.store, "count_items")

    heavy = alma.get_stats("heavy")
    everyone = alma.get_stats()

    assert batches == []  # nothing searched, so no item decoded
    kinds = len(SLICE_FIELDS)
    assert len(counts) == (kinds - 1) + kinds  # one per kind (no preferences for an agent)
    assert heavy["counts"]["outcome"] == N and heavy["counts"]["domain_knowledge"] == 1
    assert heavy["counts"]["user_preference"] == 0 and heavy["total"] == N + 1
    assert everyone["counts"]["domain_knowledge"] == 2
    assert everyone["counts"]["user_preference"] == 1 and everyone["total"] == N + 3
    # A store that cannot count (LangGraph's own) is paged through, to the same figures.
    plain = InMemoryStore()
    plain.batch([PutOp(i.namespace, i.key, i.value) for i in _every_item(alma.store)])
    assert run_store_plan(plain, alma.core.get_stats("heavy")) == heavy
    assert run_store_plan(plain, alma.core.get_stats()) == everyone


def _every_item(store: AlmaStore) -> list[Any]:
    return store.search(("alma",), limit=100_000)


def test_a_learn_that_recounts_reads_no_outcome(make_alma) -> None:
    """Outcomes written without running counts (older data): the first learn recounts
    them with two counts in the database and reads one outcome (the newest failure with
    an error), not the thousands it counts."""
    alma = make_alma()
    ops = _outcomes("heavy", alma.core.tenant_id, N)
    for n, op in enumerate(ops):  # mostly failures: an anti-pattern, with its last error
        op.value["success"] = n % 3 == 0
        if not op.value["success"]:
            op.value["error_message"] = f"error {n}" if n % 5 else None
    ops[-1].value.update(success=False, error_message="the newest error")
    for start in range(0, N - 1, 400):
        alma.store.batch(ops[start : min(start + 400, N - 1)])
    alma.store.batch(ops[-1:])  # written last: the newest failure
    newest_error = "the newest error"
    read: list[int] = []
    real = alma.store.batch

    def batch(ops: Any) -> Any:
        results = real(ops)
        read.append(sum(len(r) for r in results if isinstance(r, list)))
        return results

    alma.store.batch = batch  # type: ignore[method-assign]
    with pytest.warns(AntiPatternWarning):
        alma.learn("heavy", "deploy again", "failure", "retry", task_type="deploys")
    assert sum(read) < 10
    (anti,) = alma.retrieve("retry", agent="heavy", record_use=False).anti_patterns
    failures = sum(1 for o in ops if not o.value["success"]) + 1
    assert anti.occurrence_count == failures
    assert anti.why_bad == (
        f"failed {failures} of {N + 1} times on deploys tasks; last error: {newest_error}"
    )


async def test_async_stats_send_counts(database, tenant) -> None:
    project = uuid.uuid4().hex[:8]
    async with AsyncAlmaStore.from_conn_string(database.url, tenant_id=tenant) as store:
        from langgraph_alma.alma import AsyncAlma

        alma = AsyncAlma(store, project_id=project)
        ops = _outcomes("heavy", tenant, 600)
        for op in ops:  # of this test's project
            op.value["project_id"] = project
        await store.abatch(
            [PutOp((it.ROOT, project, *op.namespace[2:]), op.key, op.value) for op in ops]
        )
        batches, counts = _spy(store, "abatch"), _spy(store, "acount_items")
        found = await alma.get_stats("heavy")
        assert batches == [] and len(counts) == len(SLICE_FIELDS) - 1
        assert found["counts"]["outcome"] == 600 and found["total"] == 600


async def test_counts_on_a_store_that_cannot_count_page_through_its_search() -> None:
    """LangGraph's own store has no `count_items`: a `CountOp` pages through the search
    (both drivers), to the exact figure past a page."""
    store = InMemoryStore()
    store.batch(_outcomes("heavy", "t", COUNT_PAGE + 7))
    prefix = (*it.kind_prefix("default", MemoryKind.OUTCOME), "heavy")

    def plan() -> StorePlan[list[int]]:
        return (yield [CountOp(prefix), CountOp(prefix, {"success": False})])

    wanted = [COUNT_PAGE + 7, sum(1 for i in range(COUNT_PAGE + 7) if i % 3 == 0)]
    assert run_store_plan(store, plan()) == wanted
    assert await arun_store_plan(store, plan()) == wanted

    def mixed() -> StorePlan[None]:
        yield [CountOp(prefix), SearchOp(prefix)]

    with pytest.raises(TypeError):
        run_store_plan(store, mixed())
