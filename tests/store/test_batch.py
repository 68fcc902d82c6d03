"""Batch semantics (as InMemoryStore and PostgresStore) and bad input."""

from __future__ import annotations

import pytest
from langgraph.store.base import GetOp, InvalidNamespaceError, ListNamespacesOp, PutOp, SearchOp

from langgraph_alma import AlmaStore, ConfigError, InvalidValue, ValueTooLarge


def test_reads_see_the_state_before_the_batch_and_last_put_wins(store: AlmaStore, ns) -> None:
    store.put(ns, "old", {"v": 0})
    results = store.batch(
        [
            PutOp(ns, "a", {"v": 1}),
            GetOp(ns, "a"),
            PutOp(ns, "a", {"v": 2}),
            SearchOp(ns),
            ListNamespacesOp(),
            PutOp(ns, "old", None),
            GetOp(ns, "old"),
        ]
    )
    assert results[0] is None and results[2] is None and results[5] is None
    assert results[1] is None  # "a" did not exist before the batch
    assert [i.key for i in results[3]] == ["old"]
    assert results[4] == [ns]
    assert results[6].value == {"v": 0}
    assert store.get(ns, "a").value == {"v": 2}
    assert store.get(ns, "old") is None


def test_results_in_op_order(store: AlmaStore, ns) -> None:
    store.put(ns, "x", {"v": "x"})
    store.put(ns, "y", {"v": "y"})
    got = store.batch([GetOp(ns, "y"), GetOp(ns, "missing"), GetOp(ns, "x"), GetOp(ns, "y")])
    assert [g and g.key for g in got] == ["y", None, "x", "y"]


def test_mixed_reads_keep_op_order(store: AlmaStore, ns) -> None:
    """Plain searches and listings run before gets and query searches (each group on
    the plans that suit it); results still come back in op order, before the writes."""
    store.put(ns, "tea", {"text": "green tea", "kind": "drink"})
    store.put(ns, "car", {"text": "red car", "kind": "thing"})
    got = store.batch(
        [
            SearchOp(ns, query="tea"),
            GetOp(ns, "car"),
            SearchOp(ns, filter={"kind": "thing"}),
            PutOp(ns, "car", None),
            ListNamespacesOp(),
            SearchOp(ns, query="car"),
            GetOp(ns, "tea"),
        ]
    )
    assert got[0][0].key == "tea"
    assert got[1].key == "car"
    assert [i.key for i in got[2]] == ["car"]
    assert got[3] is None and got[4] == [ns]
    assert got[5][0].key == "car"
    assert got[6].key == "tea"
    assert store.get(ns, "car") is None


def test_update_keeps_created_at(store: AlmaStore, ns) -> None:
    store.put(ns, "k", {"v": 1})
    first = store.get(ns, "k")
    store.put(ns, "k", {"v": 2})
    second = store.get(ns, "k")
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert second.value == {"v": 2}


class NotJson:
    pass


@pytest.mark.parametrize(
    ("op", "error"),
    [
        (PutOp(("a.b",), "k", {"v": 1}), InvalidNamespaceError),
        (PutOp(("a", ""), "k", {"v": 1}), InvalidNamespaceError),
        (PutOp((), "k", {"v": 1}), InvalidNamespaceError),
        (GetOp(("x.y",), "k"), InvalidNamespaceError),
        (SearchOp(("x.y",)), InvalidNamespaceError),
        (PutOp(("a",), "k", {"v": {1, 2}}), InvalidValue),
        (PutOp(("a",), "k", {"v": NotJson()}), InvalidValue),
        (PutOp(("a",), "k", {"v": float("nan")}), InvalidValue),
        (PutOp(("a",), "k", {"v": "nul\x00byte"}), InvalidValue),
        (PutOp(("a",), "k", ["not", "a", "dict"]), InvalidValue),  # type: ignore[arg-type]
        (PutOp(("a",), "k", {"v": 1}, ttl=-1), InvalidValue),
        (PutOp(("a",), "k", {"v": "x" * 200}), ValueTooLarge),
        (SearchOp(("a",), limit=-1), ConfigError),
        (ListNamespacesOp(offset=-2), ConfigError),
    ],
)
def test_bad_op_writes_nothing(pool, tenant, ns, op, error) -> None:
    store = AlmaStore(pool, tenant_id=tenant, max_value_bytes=100)
    good = PutOp(ns, "good", {"v": 1})
    with pytest.raises(error):
        store.batch([good, op])
    assert store.get(ns, "good") is None


def test_a_hidden_bad_put_still_fails_the_batch(store: AlmaStore, ns) -> None:
    with pytest.raises(InvalidValue):
        store.batch([PutOp(ns, "k", {"v": {1}}), PutOp(ns, "k", {"v": 1})])
    assert store.get(ns, "k") is None


def test_public_api_rejects_bad_namespaces(store: AlmaStore) -> None:
    with pytest.raises(InvalidNamespaceError):
        store.put(("langgraph", "x"), "k", {"v": 1})
    with pytest.raises(InvalidNamespaceError):
        store.list_namespaces(prefix=("a.b",))


def test_escaped_nul_text_is_fine(store: AlmaStore, ns) -> None:
    value = {"v": "a literal \\u0000 is just text"}
    store.put(ns, "k", value)
    assert store.get(ns, "k").value == value


def test_list_namespaces_conditions(store: AlmaStore, ns) -> None:
    for suffix in [("a", "x"), ("a", "y", "z"), ("b", "x"), ("b",)]:
        store.put((*ns, *suffix), "k", {"v": 1})
    assert store.list_namespaces(prefix=ns) == [
        (*ns, "a", "x"), (*ns, "a", "y", "z"), (*ns, "b"), (*ns, "b", "x"),
    ]  # fmt: skip
    assert store.list_namespaces(prefix=(*ns, "*", "x")) == [(*ns, "a", "x"), (*ns, "b", "x")]
    assert store.list_namespaces(prefix=ns, suffix=("x",)) == [(*ns, "a", "x"), (*ns, "b", "x")]
    assert store.list_namespaces(prefix=ns, suffix=("*", "z")) == [(*ns, "a", "y", "z")]
    assert store.list_namespaces(prefix=ns, max_depth=3) == [(*ns, "a"), (*ns, "b")]
    assert store.list_namespaces(prefix=ns, limit=2, offset=1) == [
        (*ns, "a", "y", "z"), (*ns, "b"),
    ]  # fmt: skip
