"""Filters, pagination and hybrid (vector + full-text) search on PostgreSQL."""

from __future__ import annotations

import pytest

from langgraph_alma import AlmaStore, InvalidFilter


@pytest.fixture
def people(store: AlmaStore, ns: tuple[str, ...]) -> tuple[str, ...]:
    rows = {
        "p1": {"age": 9, "name": "bob", "tags": ["a"], "addr": {"city": "Oslo", "zip": 100}},
        "p2": {"age": 10, "name": "Alice", "addr": {"city": "Rome"}},
        "p3": {"age": 100, "name": "carl", "nick": None},
        "p4": {"age": "10", "name": "dora"},  # a string, never compared as a number
    }
    for key, value in rows.items():
        store.put(ns, key, value)
    return ns


def keys(items) -> set[str]:
    return {i.key for i in items}


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"age": 10}, {"p2"}),
        ({"age": {"$gt": 9}}, {"p2", "p3"}),  # 100 > 9 as numbers, not as text
        ({"age": {"$gte": 10, "$lt": 100}}, {"p2"}),
        ({"age": {"$lte": 9}}, {"p1"}),
        ({"age": {"$ne": 10}}, {"p1", "p3", "p4"}),
        ({"age": {"$in": [9, 100, "10"]}}, {"p1", "p3", "p4"}),
        ({"age": {"$nin": [9, 100]}}, {"p2", "p4"}),
        ({"name": {"$gt": "bob"}}, {"p3", "p4"}),  # code point order: "Alice" < "bob"
        ({"name": {"$lt": "b"}}, {"p2"}),
        ({"addr.city": "Oslo"}, {"p1"}),
        ({"addr": {"city": "Rome"}}, {"p2"}),
        ({"addr.zip": {"$gte": 50}}, {"p1"}),
        ({"addr": {"$exists": True}}, {"p1", "p2"}),
        ({"nick": {"$exists": True}}, {"p3"}),  # an explicit null exists
        ({"nick": None}, {"p1", "p2", "p3", "p4"}),  # missing equals None, as in InMemoryStore
        ({"tags": ["a"]}, {"p1"}),
        ({"age": {"$eq": 10}, "name": "Alice"}, {"p2"}),
    ],
)
def test_filters(store: AlmaStore, people, filter: dict, expected: set[str]) -> None:
    assert keys(store.search(people, filter=filter)) == expected


def test_unknown_operator_raises(store: AlmaStore, people) -> None:
    with pytest.raises(InvalidFilter, match=r"\$regex"):
        store.search(people, filter={"name": {"$regex": "b.*"}})


def test_pagination_is_a_stable_order(store: AlmaStore, people) -> None:
    everything = store.search(people, limit=10)
    pages = [store.search(people, limit=1, offset=i) for i in range(4)]
    assert [p[0].key for p in pages] == [i.key for i in everything]
    assert store.search(people, limit=2, offset=3) == everything[3:]


def test_prefix_is_label_wise(store: AlmaStore, ns) -> None:
    store.put((*ns, "ab"), "x", {"v": 1})
    store.put((*ns, "a"), "y", {"v": 2})
    store.put((*ns, "a", "b"), "z", {"v": 3})
    assert keys(store.search((*ns, "a"))) == {"y", "z"}
    assert keys(store.search(ns)) == {"x", "y", "z"}


CORPUS = {
    "car": "my car broke down on the highway",
    "ticket": "ticket ZX4471 refund approved by support",
    "cat": "the cat sleeps all day",
    "budget": "quarterly budget review meeting",
}


def test_hybrid_vector_only_match_ranks_first(istore: AlmaStore, ns) -> None:
    for key, text in CORPUS.items():
        istore.put(ns, key, {"text": text})
    results = istore.search(ns, query="automobile")  # no document has the word
    assert results[0].key == "car"
    assert all(r.score is not None for r in results)
    assert results[0].score > results[1].score


def test_hits_carry_their_vector_similarity(istore: AlmaStore, store: AlmaStore, ns) -> None:
    """`score` orders by rank fusion; `similarity` is the raw cosine of the item's vector
    to the query's, None for a hit full text alone found (and without an embedder)."""
    import math

    from tests.store.conftest import fake_embed

    for key, text in CORPUS.items():
        istore.put(ns, key, {"text": text})
    results = istore.search(ns, query="automobile")
    query = fake_embed(["automobile"])[0]
    for r in results:
        doc = fake_embed([CORPUS[r.key]])[0]
        cosine = sum(a * b for a, b in zip(query, doc, strict=True)) / (
            math.hypot(*query) * math.hypot(*doc)
        )
        assert r.similarity == pytest.approx(cosine, abs=1e-5)
    assert results[0].similarity == max(r.similarity for r in results)
    text_only = istore.search(ns, query="zx4471")  # full text finds it; vectors rank all
    assert text_only[0].key == "ticket" and text_only[0].score > 0
    store.put(ns, "plain", {"text": "no vectors here"})
    plain = store.search(ns, query="vectors")  # a query orders, it never removes items
    assert plain[0].key == "plain" and len(plain) == 5
    assert [r.similarity for r in plain] == [None] * 5


def test_hybrid_full_text_only_match_ranks_first(istore: AlmaStore, ns) -> None:
    for key, text in CORPUS.items():
        istore.put(ns, key, {"text": text})
    results = istore.search(ns, query="zx4471")  # meaningless to the embedder
    assert results[0].key == "ticket"
    assert results[0].score > results[1].score


def test_hybrid_respects_filter_and_prefix(istore: AlmaStore, ns) -> None:
    istore.put((*ns, "u1"), "car", {"text": "my car", "lang": "en"})
    istore.put((*ns, "u2"), "car", {"text": "my car", "lang": "en"})
    istore.put((*ns, "u1"), "auto", {"text": "vehicle repair", "lang": "fr"})
    found = istore.search((*ns, "u1"), query="car", filter={"lang": "en"})
    assert [(r.namespace[-1], r.key) for r in found] == [("u1", "car")]


def test_exact_and_ann_paths_agree(pool, tenant, ns, indexed_setup) -> None:
    from tests.store.conftest import DIMS, fake_embed

    index = {"dims": DIMS, "embed": fake_embed, "fields": ["text"]}
    exact = AlmaStore(pool, tenant_id=tenant, index=index)
    ann = AlmaStore(pool, tenant_id=tenant, index=index, exact_search_max=0)
    words = ["car", "cat", "tea", "sun", "sea", "rain", "snow", "wind"]
    for i in range(60):
        exact.put(ns, f"k{i}", {"text": f"{words[i % 8]} {words[(i * 3) % 8]} item"})
    a = exact.search(ns, query="car sun", limit=5)
    b = ann.search(ns, query="car sun", limit=5)
    assert {r.key for r in a[:3]} & {r.key for r in b[:3]}


def test_full_text_alone_without_embedder(store: AlmaStore, ns) -> None:
    store.put(ns, "a", {"title": "PostgreSQL row level security", "n": 1})
    store.put(ns, "b", {"title": "cooking pasta", "n": 2})
    store.put(ns, "c", {"title": "security of pasta"}, index=False)
    results = store.search(ns, query="security howto")
    assert [r.key for r in results][:1] == ["a"]  # "c" is not indexed: ranked as a non-match
    assert results[0].score is not None and all(r.score is None for r in results[1:])
    assert {r.key for r in store.search(ns, query="nothing matches")} == {"a", "b", "c"}


def test_index_fields_select_the_text(pool, tenant, ns, indexed_setup) -> None:
    from tests.store.conftest import DIMS, fake_embed

    store = AlmaStore(
        pool, tenant_id=tenant,
        index={"dims": DIMS, "embed": fake_embed, "fields": ["doc.title", "notes[*].body"]},
    )  # fmt: skip
    store.put(ns, "x", {"doc": {"title": "kitten"}, "notes": [{"body": "zebra"}, {"body": "yak"}]})
    store.put(ns, "y", {"doc": {"title": "other"}, "notes": [], "body": "zebra"})
    assert store.search(ns, query="yak")[0].key == "x"
    assert store.search(ns, query="feline")[0].key == "x"  # through the vector of "kitten"
    store.put(ns, "z", {"doc": {"title": "zzz"}, "extra": "walrus"}, index=["extra"])
    assert store.search(ns, query="walrus")[0].key == "z"


def test_exact_ann_choice(pool, tenant, ns) -> None:
    from tests.store.conftest import DIMS, fake_embed

    store = AlmaStore(
        pool, tenant_id=tenant,
        index={"dims": DIMS, "embed": fake_embed, "fields": ["text"], "ann": "exact"},
    )  # fmt: skip
    assert list(store._core.setup_plan()) == []  # no index to build
    for key, text in CORPUS.items():
        store.put(ns, key, {"text": text})
    assert store.search(ns, query="automobile")[0].key == "car"
    assert store.search((), query="kitten")[0].key == "cat"


def test_bad_index_config(pool) -> None:
    from langgraph_alma import ConfigError
    from tests.store.conftest import fake_embed

    for index in [
        {"dims": 0, "embed": fake_embed},
        {"dims": 8},
        {"dims": 8, "embed": fake_embed, "ann": "ivf"},
    ]:
        with pytest.raises(ConfigError):
            AlmaStore(pool, index=index)
