"""The exact-or-HNSW gate of a query search: a candidate set counted above the exact bound
is remembered for a while, so the next searches of it skip the count (issue 11, no-prefix
search latency), and a remembered set that shrank is still searched right."""

from __future__ import annotations

import time
import uuid

import numpy as np
import pytest
from langgraph.store.base import PutOp, SearchOp

from langgraph_alma import AlmaStore
from langgraph_alma.store import _sql
from langgraph_alma.store._core import ns_path

from .conftest import DIMS, fake_embed


def _gate_n(pool, store: AlmaStore, ns: tuple[str, ...], query: str) -> int | None:
    """The `gate_n` column of the search statement as the store would send it now."""
    core = store._core
    tenant = core.tenant()
    sql = core._search(tenant, SearchOp(ns, None, 10, 0, query), {query: fake_embed([query])[0]})
    with pool.connection() as conn, conn.transaction():
        conn.execute(_sql.batch_settings(generic=False, hnsw=True), {"tenant": tenant, "ef": "40"})
        rows = conn.execute(sql.query, sql.params).fetchall()
    return rows[0][8] if rows else None  # gate_n (lex_n follows)


def test_a_large_set_is_counted_once_then_remembered(pool, tenant, indexed_setup) -> None:
    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]},
        exact_search_max=3,
    )  # fmt: skip
    ns = ("gate", uuid.uuid4().hex[:8])
    for i in range(6):
        store.put(ns, f"k{i}", {"text": f"alpha beta {i}"})
    key = (tenant, ns_path(ns))
    assert key not in store._core.large_sets
    assert _gate_n(pool, store, ns, "alpha") == 4  # counted up to the bound + 1

    found = store.search(ns, query="alpha")
    assert len(found) == 6
    assert key in store._core.large_sets  # learnt from the search's own count
    assert _gate_n(pool, store, ns, "alpha") is None  # the next search does not count

    # the set shrinks below the bound: still found (through HNSW) while remembered...
    store.batch([PutOp(ns, f"k{i}", None) for i in range(1, 6)])
    assert [i.key for i in store.search(ns, query="alpha")] == ["k0"]
    # ...and once forgotten, counted again and ranked exactly
    store._core.large_sets.ttl = 0
    assert [i.key for i in store.search(ns, query="alpha")] == ["k0"]
    store._core.large_sets.ttl = 60
    assert key not in store._core.large_sets


def test_a_filtered_search_always_counts(pool, tenant, indexed_setup) -> None:
    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]},
        exact_search_max=2,
    )  # fmt: skip
    ns = ("gate", uuid.uuid4().hex[:8])
    for i in range(5):
        store.put(ns, f"k{i}", {"text": f"alpha {i}", "kind": "a" if i else "b"})
    assert [i.key for i in store.search(ns, query="alpha", filter={"kind": "b"})] == ["k0"]
    assert (tenant, ns_path(ns)) not in store._core.large_sets


def test_exact_ranking_passes_over_expired_neighbours(istore: AlmaStore, ns) -> None:
    """An unfiltered exact ranking reads the prefix's vectors and checks the items in rank
    order: the nearest 45 have expired, and the live ones still come ranked by similarity
    (not by recency, the order of items the ranking did not reach)."""
    for i in range(45):
        istore.put(ns, f"gone{i}", {"text": "cobalt nickel"}, ttl=1 / 60)
    words = ["alpha", "bravo", "delta", "echo", "golf", "hotel", "india", "kilo"]
    live = [" ".join(["cobalt", *words[:n]]) for n in range(8)]  # less and less similar
    for n, text in reversed(list(enumerate(live))):  # the least similar is the newest
        istore.put(ns, f"live{n}", {"text": text})
    time.sleep(1.2)
    found = istore.search(ns, query="cobalt nickel", limit=5)
    assert [i.key for i in found] == [f"live{n}" for n in range(5)]
    scores = [i.score for i in found]
    assert all(s is not None for s in scores) and scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("exact_max", [2000, 0])  # exact over the candidates, then HNSW
def test_selective_filter_keeps_full_recall(pool, tenant, indexed_setup, exact_max) -> None:
    """A filter admitting a tenth of a namespace: the ten nearest admitted items, exactly
    as a brute-force ranking finds them, on either plan the gate picks."""
    store = AlmaStore(
        pool, tenant_id=tenant, index={"dims": DIMS, "embed": fake_embed, "fields": ["text"]},
        exact_search_max=exact_max,
    )  # fmt: skip
    ns = ("gate", uuid.uuid4().hex[:8])
    words = ["".join(chr(97 + (i * 5 + n * 3) % 26) for n in range(5)) for i in range(40)]
    texts = {
        f"k{i}": " ".join(words[(i * 3 + j * 7) % 40] for j in range(1 + i // 10 % 5))
        for i in range(200)
    }
    store.batch([PutOp(ns, k, {"text": t, "kind": "rare" if i % 10 == 0 else "common"})
                 for i, (k, t) in enumerate(texts.items())])  # fmt: skip
    query = f"{words[0]} {words[7]} {words[14]}"
    q = np.array(fake_embed([query])[0])
    admitted = [k for i, k in enumerate(texts) if i % 10 == 0]
    sims = {k: float(np.array(fake_embed([texts[k]])[0]) @ q) for k in admitted}
    found = store.search(ns, query=query, filter={"kind": "rare"}, limit=10)
    tenth = sorted(sims.values(), reverse=True)[9]
    assert tenth < max(sims.values())  # the ranking is not a tie
    assert len(found) == 10 and all(i.value["kind"] == "rare" for i in found)
    assert all(sims[i.key] >= tenth - 1e-6 for i in found)  # recall@10 = 1.0


def test_what_one_tenant_taught_is_not_used_for_another(pool, indexed_setup) -> None:
    """The remembered sets are keyed by tenant: one store serving two tenants (from the
    run's config, as inside a graph) counts each tenant's set on its own."""
    from langchain_core.runnables.config import var_child_runnable_config

    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    store = AlmaStore(pool, index=index, exact_search_max=3)
    big, small = f"big-{uuid.uuid4().hex[:6]}", f"small-{uuid.uuid4().hex[:6]}"
    ns = ("gate", "shared")

    def as_tenant(tenant: str, ops: list) -> list:
        token = var_child_runnable_config.set({"configurable": {"tenant_id": tenant}})
        try:
            return store.batch(ops)
        finally:
            var_child_runnable_config.reset(token)

    as_tenant(big, [PutOp(ns, f"k{i}", {"text": f"alpha {i}"}) for i in range(6)])
    as_tenant(small, [PutOp(ns, "only", {"text": "alpha"})])
    as_tenant(big, [SearchOp(ns, None, 10, 0, "alpha")])
    assert (big, "gate.shared") in store._core.large_sets
    assert (small, "gate.shared") not in store._core.large_sets
    [found] = as_tenant(small, [SearchOp(ns, None, 10, 0, "alpha")])
    assert [i.key for i in found] == ["only"]
    assert (small, "gate.shared") not in store._core.large_sets
