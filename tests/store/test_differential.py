"""AlmaStore against LangGraph's InMemoryStore on random operation sequences.

Documented differences, asserted rather than skipped:
- timestamps: Alma keeps `created_at` across updates (InMemoryStore resets it on every
  put); both are timezone-aware with `created_at <= updated_at`.
- InMemoryStore lists namespaces whose items were all deleted (or that a `get` touched);
  the oracle is normalised by dropping empty namespaces after every call.
- values come back equal but with jsonb's key order (compared as dicts).
- search order without a query: Alma returns newest first (then namespace, key);
  InMemoryStore returns insertion order. Full result sets must be equal, and an Alma page
  must be the matching slice of Alma's full order with the oracle page's length.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.store.base import GetOp, Item, ListNamespacesOp, MatchCondition, PutOp, SearchOp
from langgraph.store.memory import InMemoryStore

from langgraph_alma import AlmaStore

LABELS = st.sampled_from(["a", "b", "c"])
SUFFIX = st.lists(LABELS, min_size=1, max_size=3).map(tuple)
KEYS = st.sampled_from(["k1", "k2", "k3"])
STRINGS = st.sampled_from(["x", "y", "Ab", ""])
VALUES = st.fixed_dictionaries(
    {
        "n": st.integers(0, 5),
        "s": STRINGS,
        "t": st.fixed_dictionaries({"u": st.one_of(st.integers(0, 2), STRINGS)}),
    },
    optional={"opt": st.sampled_from([None, 1, "z"]), "f": st.sampled_from([1.5, 2.0, -1.0])},
)
FILTERS = st.one_of(
    st.just(None),
    st.builds(lambda v: {"n": v}, st.integers(0, 5)),
    st.builds(
        lambda op, v: {"n": {op: v}},
        st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]),
        st.integers(0, 5),
    ),
    st.builds(lambda lo, hi: {"n": {"$gte": lo, "$lt": hi}}, st.integers(0, 5), st.integers(0, 5)),
    st.builds(lambda v: {"s": v}, STRINGS),
    st.builds(lambda v: {"s": {"$ne": v}}, STRINGS),
    st.builds(lambda v: {"t": {"u": v}}, st.one_of(st.integers(0, 2), STRINGS)),
    st.builds(lambda v: {"opt": v}, st.sampled_from([None, 1, "z"])),
    # "dotted": Alma gets {"t.u": v}, the oracle the nested form it understands
    st.builds(lambda v: ("dotted", v), st.one_of(st.integers(0, 2), STRINGS)),
    st.builds(lambda v, w: {"n": v, "s": w}, st.integers(0, 5), STRINGS),
)
PUT = st.builds(lambda s, k, v: ("put", s, k, v), SUFFIX, KEYS, st.one_of(st.none(), VALUES))
GET = st.builds(lambda s, k: ("get", s, k), SUFFIX, KEYS)
SEARCH = st.builds(
    lambda s, f, lim, off: ("search", s, f, lim, off),
    st.lists(LABELS, max_size=2).map(tuple),
    FILTERS,
    st.sampled_from([1, 2, 5, 100]),
    st.sampled_from([0, 0, 1, 3]),
)
LIST = st.builds(
    lambda p, sfx, depth, lim, off: ("list", p, sfx, depth, lim, off),
    st.lists(st.one_of(LABELS, st.just("*")), max_size=2).map(tuple),
    st.one_of(st.none(), st.lists(st.one_of(LABELS, st.just("*")), min_size=1, max_size=2)),
    st.sampled_from([None, 1, 2, 3]),
    st.sampled_from([2, 100]),
    st.sampled_from([0, 1]),
)
SINGLE = st.one_of(PUT, PUT, GET, SEARCH, LIST)
STEP = st.one_of(SINGLE, st.lists(SINGLE, min_size=2, max_size=4).map(lambda b: ("batch", b)))


def _op(step: tuple, root: str, alma: bool = False) -> Any:
    kind = step[0]
    if kind == "put":
        return PutOp((root, *step[1]), step[2], step[3])
    if kind == "get":
        return GetOp((root, *step[1]), step[2])
    if kind == "search":
        filter = step[2]
        if isinstance(filter, tuple):
            filter = {"t.u": filter[1]} if alma else {"t": {"u": filter[1]}}
        return SearchOp((root, *step[1]), filter, step[3], step[4])
    conditions = [MatchCondition("prefix", (root, *step[1]))]
    if step[2]:
        conditions.append(MatchCondition("suffix", tuple(step[2])))
    return ListNamespacesOp(tuple(conditions), step[3], step[4], step[5])


def _drop_empty_namespaces(mem: InMemoryStore) -> None:
    for namespace in [n for n, items in mem._data.items() if not items]:
        del mem._data[namespace]


class Oracle(InMemoryStore):
    """InMemoryStore that does not list namespaces without items (a get inside the same
    batch would otherwise create one)."""

    def _handle_list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        _drop_empty_namespaces(self)
        return super()._handle_list_namespaces(op)


def _check_item(mine: Item | None, theirs: Item | None) -> None:
    if theirs is None:
        assert mine is None
        return
    assert mine is not None
    assert (mine.namespace, mine.key, mine.value) == (theirs.namespace, theirs.key, theirs.value)
    assert isinstance(mine.created_at, datetime) and mine.created_at.tzinfo is not None
    assert mine.created_at <= mine.updated_at


def _rows(items: list) -> list[tuple]:
    return sorted(
        (i.namespace, i.key, json.dumps(i.value, sort_keys=True), getattr(i, "score", None))
        for i in items
    )


def _check(op: Any, mine: Any, theirs: Any, before: list | None) -> None:
    if isinstance(op, GetOp):
        _check_item(mine, theirs)
    elif isinstance(op, SearchOp):
        assert len(mine) == len(theirs)
        for item in mine:
            _check_item(item, item)
        assert before is not None
        page = before[op.offset : op.offset + op.limit]
        assert [(i.namespace, i.key, i.value) for i in mine] == [
            (i.namespace, i.key, i.value) for i in page
        ]
    elif isinstance(op, ListNamespacesOp):
        assert mine == theirs
    else:
        assert mine is None and theirs is None


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=25))
def test_matches_in_memory_store(pool, steps: list) -> None:
    store = AlmaStore(pool, tenant_id=f"diff-{uuid.uuid4().hex[:10]}")
    mem = Oracle()
    root = uuid.uuid4().hex[:8]
    for step in steps:
        steps_ = step[1] if step[0] == "batch" else [step]
        batch = [_op(s, root) for s in steps_]
        alma_batch = [_op(s, root, alma=True) for s in steps_]
        # Reads see the state before the batch: take both full result sets now.
        before: dict[int, list] = {}
        for i, (op, alma_op) in enumerate(zip(batch, alma_batch, strict=True)):
            if isinstance(op, SearchOp):
                want = mem.batch([op._replace(limit=1000, offset=0)])[0]
                _drop_empty_namespaces(mem)
                before[i] = store.batch([alma_op._replace(limit=1000, offset=0)])[0]
                assert _rows(before[i]) == _rows(want)
        theirs = mem.batch(batch)
        _drop_empty_namespaces(mem)
        mine = store.batch(alma_batch)
        assert len(mine) == len(theirs)
        for i, (op, m, t) in enumerate(zip(batch, mine, theirs, strict=True)):
            _check(op, m, t, before.get(i))
