"""Search means what LangGraph means: a query orders results and never removes items the
namespace and filter admit, and `score` is the similarity of the index's `distance_type`
(`vector` or `halfvec` storage), raised by lexical evidence within the similarity range."""

from __future__ import annotations

import hashlib
import json
import math
import uuid

import numpy as np
import psycopg
import pytest
from langgraph.store.memory import InMemoryStore

from langgraph_alma import AlmaStore, AsyncAlmaStore, ConfigError
from langgraph_alma.store import AlmaSearchItem

# -- a query orders, it never filters (issue 11, item 5) ------------------------------


def test_query_without_index_returns_unmatched_items(store: AlmaStore, ns) -> None:
    """LangGraph's stores return the item for a query it does not match; so do we."""
    store.put(ns, "a", {"foo": "bar"})
    found = store.search(ns, query="foo")
    assert [i.key for i in found] == ["a"]
    assert found[0].score is None  # the query found nothing of it


def test_query_ranks_matches_first_then_the_rest_newest_first(store: AlmaStore, ns) -> None:
    store.put(ns, "old", {"text": "nothing relevant"})
    store.put(ns, "hit", {"text": "the deploy failed"})
    store.put(ns, "new", {"text": "also nothing"})
    found = store.search(ns, query="deploy")
    assert [i.key for i in found] == ["hit", "new", "old"]
    assert found[0].score == 1.0 and found[0].text_score == 1.0
    assert [i.score for i in found[1:]] == [None, None]
    # pages of a query search are a stable order with no gap nor repeat
    pages = [store.search(ns, query="deploy", limit=1, offset=i) for i in range(4)]
    assert [p[0].key for p in pages[:3]] == ["hit", "new", "old"] and pages[3] == []
    assert [p[0].rank for p in pages[:3]] == [1, 2, 3]


def test_filter_still_removes_and_query_does_not(store: AlmaStore, ns) -> None:
    for i in range(6):
        store.put(ns, f"k{i}", {"text": "alpha" if i % 2 else "beta", "even": i % 2 == 0})
    found = store.search(ns, query="alpha", filter={"even": True})
    assert {i.key for i in found} == {"k0", "k2", "k4"}


def test_same_items_as_in_memory_store(store: AlmaStore, ns) -> None:
    """Differential: with no index, LangGraph's InMemoryStore ignores the query; we rank
    by it, but both return the same items."""
    memory = InMemoryStore()
    rows = {f"k{i}": {"text": t} for i, t in enumerate(["red fox", "blue sky", "red sun", "x"])}
    for key, value in rows.items():
        store.put(ns, key, value)
        memory.put(ns, key, value)
    for query in ["red", "green", "sky fox"]:
        ours = store.search(ns, query=query, limit=10)
        theirs = memory.search(ns, query=query, limit=10)
        assert {i.key for i in ours} == {i.key for i in theirs}


def test_indexed_store_returns_items_without_vectors(istore: AlmaStore, ns) -> None:
    istore.put(ns, "vec", {"text": "my car broke down"})
    istore.put(ns, "novec", {"text": "a note"}, index=False)
    found = istore.search(ns, query="automobile")
    assert [i.key for i in found] == ["vec", "novec"]
    assert found[0].score is not None and found[1].score is None


async def test_async_query_without_match(astore: AsyncAlmaStore, ns) -> None:
    await astore.aput(ns, "a", {"foo": "bar"}, index=False)
    assert [i.key for i in await astore.asearch(ns, query="foo")] == ["a"]


def test_langmem_search_memory_on_an_index_less_store(store: AlmaStore, ns) -> None:
    """langmem's search tool (as an agent calls it) finds memories on a store without
    an embedder, as it does on LangGraph's own stores."""
    # In the dev extra; the oldest-versions run (scripts/oldest_deps.sh) has no langmem.
    langmem = pytest.importorskip("langmem")
    create_manage_memory_tool = langmem.create_manage_memory_tool
    create_search_memory_tool = langmem.create_search_memory_tool

    namespace = ("memories", ns[1])
    manage = create_manage_memory_tool(namespace=namespace, store=store)
    search = create_search_memory_tool(namespace=namespace, store=store)
    manage.invoke({"content": "The user prefers dark mode", "action": "create"})
    manage.invoke({"content": "Deploys happen on Fridays", "action": "create"})
    found = json.loads(search.invoke({"query": "what theme does the user like?"}))
    assert len(found) == 2
    found = json.loads(search.invoke({"query": "when do deploys happen"}))
    assert [f["value"]["content"] for f in found][0] == "Deploys happen on Fridays"


# -- score is the index's similarity (issue 11, item 4) -------------------------------

DIMS = 8


def _vec(text: str) -> list[float]:
    """A deterministic vector per text, not of unit length (so the distances differ)."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big")
    rng = np.random.default_rng(seed)
    return (rng.normal(size=DIMS) * rng.uniform(0.5, 2.0)).tolist()


def _embed(texts: list[str]) -> list[list[float]]:
    return [_vec(t) for t in texts]


def _similarity(distance: str, a: list[float], b: list[float], half: bool) -> float:
    x, y = np.array(a, dtype=np.float64), np.array(b, dtype=np.float64)
    if half:  # what halfvec stores
        x, y = x.astype(np.float16).astype(np.float64), y.astype(np.float16).astype(np.float64)
    if distance == "cosine":
        return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))
    if distance == "l2":
        return -float(np.linalg.norm(x - y))
    return float(x @ y)


WORDS = ["amber", "basil", "cedar", "delta", "ember", "fjord", "gale", "heron", "iris", "jade"]


@pytest.fixture(params=[
    ("cosine", "vector"), ("l2", "vector"), ("inner_product", "vector"),
    ("cosine", "halfvec"), ("l2", "halfvec"), ("inner_product", "halfvec"),
])  # fmt: skip
def vstore(request, database, tenant):
    distance, vector_type = request.param
    index = {
        "dims": DIMS,
        "embed": _embed,
        "fields": ["text"],
        "distance_type": distance,
        "ann_index_config": {"kind": "hnsw", "vector_type": vector_type},
    }
    with AlmaStore.from_conn_string(
        database.url, index=index, tenant_id=tenant, admin_url=database.admin_url
    ) as store:
        store.setup()
        yield store, distance, vector_type == "halfvec"


@pytest.mark.parametrize("exact_max", [2000, 0])  # exact ranking, then through HNSW
def test_vector_only_hit_scores_its_exact_similarity(vstore, exact_max) -> None:
    store, distance, half = vstore
    store._core.exact_search_max = exact_max
    ns = ("v", uuid.uuid4().hex[:8])
    for word in WORDS:
        store.put(ns, word, {"text": word})
    query = "quartz"  # no document has the word: every hit is vector-only
    found = store.search(ns, query=query, limit=len(WORDS))
    assert len(found) == len(WORDS)
    tol = 2e-2 if half else 1e-5
    for item in found:
        want = _similarity(distance, _vec(query), _vec(item.value["text"]), half)
        assert item.score == pytest.approx(want, abs=tol, rel=tol)
        assert item.similarity == item.score and item.text_score is None
    scores = [i.score for i in found]
    assert scores == sorted(scores, reverse=True)


def test_hybrid_hit_is_raised_within_the_similarity_range(vstore) -> None:
    store, distance, _ = vstore
    ns = ("v", uuid.uuid4().hex[:8])
    for word in WORDS:
        store.put(ns, word, {"text": word})
    found = store.search(ns, query="cedar quartz", limit=len(WORDS))
    [hit] = [i for i in found if i.key == "cedar"]
    assert 0 < hit.text_score <= 1.0
    assert hit.score > hit.similarity  # lexical evidence raises it...
    ceiling = {"cosine": 1.0, "l2": 0.0, "inner_product": max(1.0, *(i.similarity for i in found))}
    assert hit.score <= ceiling[distance] + 1e-9  # ...within the range
    # The one lexical hit leads full text outright (lead 1); the vectors' lead is the best
    # similarity's over the runner-up, as a share of the runner-up's gap to the ceiling.
    core, c = store._core, ceiling[distance]
    s1, s2 = sorted((i.similarity for i in found), reverse=True)[:2]
    vector_sure = min(1.0, (s1 - s2) / max(c - s2, 1e-9) / core.vector_lead)
    lead = core.text_lead_weight * (1 - vector_sure)
    share = 1 - (1 - core.text_weight * hit.text_score) * (1 - lead)
    expected = hit.similarity + share * (c - hit.similarity)
    assert hit.score == pytest.approx(expected, rel=1e-6)
    for item in found:
        if item is not hit:
            assert item.text_score is None and item.score == item.similarity
    scores = [i.score for i in found]
    assert scores == sorted(scores, reverse=True)


def test_halfvec_stores_half_precision(vstore, database) -> None:
    import psycopg

    store, _, half = vstore
    ns = ("v", uuid.uuid4().hex[:8])
    store.put(ns, "a", {"text": "amber"})
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT embedding IS NULL, half IS NULL FROM alma_store_vectors "
            "WHERE ns_path = %s AND key = 'a'",
            (".".join(ns),),
        ).fetchone()
    assert row == ((True, False) if half else (False, True))


def test_setup_builds_the_index_of_the_config(fresh_database, monkeypatch) -> None:
    """`setup()` builds the HNSW index the index config describes (its distance, vector
    type and HNSW parameters), at once with `store_ann_build_min` 0; none for `flat`."""
    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "0")
    db = fresh_database

    def built(index: dict) -> list[str]:
        with AlmaStore.from_conn_string(db.url, index=index, admin_url=db.admin_url) as store:
            store.setup()
        with psycopg.connect(db.admin_url) as conn:
            rows = conn.execute(
                "SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'alma_store_vectors_hnsw%'"
                " ORDER BY indexname"
            ).fetchall()
            conn.execute("DO $$ DECLARE i text; BEGIN FOR i IN SELECT indexname FROM pg_indexes"
                         " WHERE indexname LIKE 'alma_store_vectors_hnsw%' LOOP"
                         " EXECUTE format('DROP INDEX %I', i); END LOOP; END $$")  # fmt: skip
        return [r[0] for r in rows]

    base = {"dims": 16, "embed": _embed}
    [cosine] = built(base)
    assert "alma_store_vectors_hnsw_16 ON" in cosine and "vector_cosine_ops" in cosine
    assert cosine.endswith("WHERE ((dims = 16) AND indexed)")
    [l2] = built({**base, "distance_type": "l2", "ann_index_config": {"vector_type": "halfvec"}})
    assert "alma_store_vectors_hnsw_16_halfvec_l2 ON" in l2
    assert "((half)::halfvec(16)) halfvec_l2_ops" in l2 and "WHERE ((dims = 16) AND" in l2
    [ip] = built({**base, "distance_type": "inner_product",
                  "ann_index_config": {"m": 8, "ef_construction": 32}})  # fmt: skip
    assert "vector_ip_ops" in ip and "WITH (m='8', ef_construction='32')" in ip
    assert built({**base, "ann_index_config": {"kind": "flat"}}) == []


@pytest.mark.parametrize(
    "bad",
    [
        {"distance_type": "dot"},
        {"ann_index_config": {"vector_type": "bit"}},
        {"ann_index_config": {"kind": "ivfflat"}},
        {"ann_index_config": {"m": 0}},
    ],
)
def test_bad_vector_settings_are_config_errors(pool, bad) -> None:
    with pytest.raises(ConfigError):
        AlmaStore(pool, index={"dims": 4, "embed": _embed, **bad})


def test_search_items_are_alma_search_items(istore: AlmaStore, ns) -> None:
    istore.put(ns, "a", {"text": "kitten"})
    [item] = istore.search(ns, query="feline")
    assert isinstance(item, AlmaSearchItem) and item.rank == 1
    assert math.isclose(item.score, item.similarity)


def test_a_search_skips_vectors_of_other_dims(pool, tenant) -> None:
    """Items embedded by a store of another `dims` (an index changed, or a privileged
    search over tenants indexed differently) are ranked without their vectors, never cast
    to the wrong size (which PostgreSQL refuses)."""
    from langgraph_alma import AlmaStore
    from langgraph_alma.embeddings import HashingEmbeddings

    small = AlmaStore(pool, tenant_id=tenant, index={"dims": 64, "embed": HashingEmbeddings(64)})
    for i in range(30):
        small.put(("mixed",), f"k{i}", {"text": f"zebra runbook step {i}"})
        small.put(("mixed",), f"o{i}", {"text": f"unrelated note {i}"})  # the rest, unmatched
    big = AlmaStore(pool, tenant_id=tenant, index={"dims": 256, "embed": HashingEmbeddings(256)})
    big.put(("mixed",), "new", {"text": "zebra runbook, the new one"})
    hits = big.search(("mixed",), query="zebra runbook", limit=100)
    assert len(hits) == 61
    by_key = {h.key: h for h in hits}
    assert by_key["new"].similarity is not None  # the one item with a vector of these dims
    assert by_key["k0"].similarity is None
