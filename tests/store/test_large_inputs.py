"""Large and odd read inputs (issue 11 item 7, issue 14's store items): each works or
raises a named `AlmaError` before any I/O."""

from __future__ import annotations

import math
import random

import pytest
from langgraph.store.base import ListNamespacesOp, PutOp, SearchOp

from langgraph_alma import AlmaStore
from langgraph_alma.errors import AlmaError, ConfigError, InvalidFilter, InvalidValue


def _words(n: int, seed: int = 5) -> str:
    rng = random.Random(seed)
    return " ".join(
        "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(n)
    )


def test_a_20000_word_query_works(istore: AlmaStore, ns) -> None:
    istore.put(ns, "tea", {"text": "green tea with lemon"})
    istore.put(ns, "car", {"text": "my car broke down"})
    query = _words(10_000) + " green tea" * 20 + _words(10_000, seed=6)  # a pasted text
    hits = istore.search(ns, query=query)
    # Full text found "tea" and not "car": the lexical side has a clear best hit and the
    # vectors of a pasted text none, so fusion puts it first; "car" still comes back.
    assert [h.key for h in hits] == ["tea", "car"]
    assert hits[0].text_score and hits[0].text_score > 0
    assert hits[1].text_score is None
    assert hits[0].score > hits[1].score


def test_a_20000_word_query_works_without_an_index(store: AlmaStore, ns) -> None:
    store.put(ns, "tea", {"text": "green tea with lemon"})
    hits = store.search(ns, query=_words(10_000) + " green tea" * 20 + _words(10_000, seed=6))
    assert [h.key for h in hits] == ["tea"]


def test_trim_query_keeps_distinct_informative_words() -> None:
    from langgraph_alma.store._core import trim_query

    assert trim_query("the tea, the TEA and the lemon", 5) == "the tea and lemon"
    long = trim_query(_words(20_000) + " zebra", 64)
    assert len(long.split()) == 64
    assert trim_query("short query", 64) == "short query"
    # stop words go first when there are too many words, then words said once
    assert trim_query("the a of lemon tea cake", 3) == "lemon tea cake"
    assert trim_query("the tea of the lemon tea zebra cake", 2) == "tea lemon"


def test_in_with_70000_values(store: AlmaStore, ns) -> None:
    store.put(ns, "a", {"n": 69_999})
    store.put(ns, "b", {"n": -1})
    values = list(range(70_000))
    assert [i.key for i in store.search(ns, filter={"n": {"$in": values}})] == ["a"]
    assert [i.key for i in store.search(ns, filter={"n": {"$nin": values}})] == ["b"]


def _nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"x": value}
    return value


def test_a_value_nested_5000_deep_is_a_named_error(store: AlmaStore, ns) -> None:
    with pytest.raises(InvalidValue, match="deep"):
        store.put(ns, "deep", _nested(5000))
    deep_list: list = []
    for _ in range(5000):
        deep_list = [deep_list]
    with pytest.raises(InvalidValue, match="deep"):
        store.put(ns, "deep", {"v": deep_list})
    assert store.get(ns, "deep") is None
    store.put(ns, "ok", _nested(50))  # a reasonable depth is fine
    assert store.get(ns, "ok").value == _nested(50)


def test_a_filter_nested_5000_deep_is_a_named_error(store: AlmaStore, ns) -> None:
    with pytest.raises(InvalidFilter, match="deep"):
        store.search(ns, filter=_nested(5000))
    with pytest.raises(InvalidFilter, match="deep"):
        store.search(ns, filter={"v": {"$eq": _nested(5000)}})


@pytest.mark.parametrize("ttl", [math.nan, math.inf, 1e300, -0.0])
def test_bad_ttls_are_named_errors(store: AlmaStore, ns, ttl) -> None:
    with pytest.raises(InvalidValue):
        store.put(ns, "k", {"v": 1}, ttl=ttl)
    assert store.get(ns, "k") is None


@pytest.mark.parametrize("default_ttl", [math.nan, 1e300, -5, "10"])
def test_bad_default_ttl_is_a_config_error(pool, tenant, default_ttl) -> None:
    with pytest.raises(ConfigError):
        AlmaStore(pool, tenant_id=tenant, ttl={"default_ttl": default_ttl})


@pytest.mark.parametrize("limit", [2**63, "5", 1.5, True, None, -1])
def test_bad_limits_are_named_errors(store: AlmaStore, ns, limit) -> None:
    with pytest.raises(ConfigError):
        store.batch([PutOp(ns, "k", {"v": 1}), SearchOp(ns, limit=limit)])
    with pytest.raises(ConfigError):
        store.batch([ListNamespacesOp(limit=limit)])
    with pytest.raises(ConfigError):
        store.search(ns, offset=limit if limit is not None else 2**63)
    assert store.get(ns, "k") is None


@pytest.mark.parametrize("depth", [-1, 1.5, "2", True])
def test_bad_max_depth_is_a_named_error(store: AlmaStore, depth) -> None:
    with pytest.raises(AlmaError):
        store.list_namespaces(max_depth=depth)


def test_a_large_limit_works(store: AlmaStore, ns) -> None:
    store.put(ns, "k", {"text": "tea"})
    assert [i.key for i in store.search(ns, limit=2**31 - 1)] == ["k"]
    assert [i.key for i in store.search(ns, query="tea", limit=2**31 - 1)] == ["k"]


def test_a_20000_word_task_works_through_alma_retrieve(pool, tenant, indexed_setup) -> None:
    from langgraph_alma.alma import Alma
    from langgraph_alma.embeddings import HashingEmbeddings

    store = AlmaStore(
        pool,
        tenant_id=tenant,
        index={"dims": 64, "embed": HashingEmbeddings(64), "fields": ["text"]},
    )
    alma = Alma(store)
    alma.learn("ana", "deploy the api", "success", "blue green deploy", task_type="deploys")
    got = alma.retrieve("deploy the api " * 20 + _words(20_000), agent="ana")
    assert [o.strategy_used for o in got.outcomes] == ["blue green deploy"]
