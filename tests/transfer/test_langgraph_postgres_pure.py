"""The pure parts of the import from LangGraph's tables: ordering checkpoints parents
first, sharing a parent's list elements (so the saver stores deltas), and matching the
stored vectors of an item to the texts a put embeds."""

from __future__ import annotations

from datetime import UTC, datetime

from langgraph.checkpoint.base import CheckpointTuple

from langgraph_alma.transfer.langgraph_postgres import (
    parent_first,
    share_parent_values,
    vector_plan,
)
from langgraph_alma.transfer.langgraph_postgres.checkpoints import new_versions
from langgraph_alma.transfer.langgraph_postgres.source import SourceItem


def _tup(
    cid: str, parent: str | None, values: dict, versions: dict, ns: str = ""
) -> CheckpointTuple:
    conf = {"thread_id": "t", "checkpoint_ns": ns}
    return CheckpointTuple(
        {"configurable": {**conf, "checkpoint_id": cid}},
        {"id": cid, "channel_values": values, "channel_versions": versions},  # type: ignore[typeddict-item]
        {},
        {"configurable": {**conf, "checkpoint_id": parent}} if parent else None,
        [],
    )


def test_parents_come_first_even_when_ids_say_otherwise() -> None:
    # "b" is the parent of "a" (ids out of order, as after an update_state fork).
    tuples = [_tup("c", "a", {}, {}), _tup("a", "b", {}, {}), _tup("b", None, {}, {}),
              _tup("x", "missing", {}, {}), _tup("a", None, {}, {}, ns="sub")]  # fmt: skip
    order = [(t.config["configurable"]["checkpoint_ns"], t.checkpoint["id"])
             for t in parent_first(tuples)]  # fmt: skip
    assert order.index(("", "b")) < order.index(("", "a")) < order.index(("", "c"))
    assert sorted(order) == sorted([("", "a"), ("", "b"), ("", "c"), ("", "x"), ("sub", "a")])


def test_shared_elements_are_the_parents_own_objects() -> None:
    hello, bye = {"m": "hello"}, {"m": "bye"}
    versions = {"msgs": "1", "n": "1", "same": "1"}
    parent = _tup("1", None, {"msgs": [hello], "n": 1, "same": [1]}, versions)
    child = _tup(
        "2", "1",
        {"msgs": [{"m": "hello"}, {"m": "bye"}], "n": 2, "same": [1]},
        {"msgs": "2", "n": "2", "same": "1"},
    )  # fmt: skip
    values = share_parent_values(child, parent)
    assert values["msgs"] == [hello, bye] and values["msgs"][0] is hello
    assert values["same"] is parent.checkpoint["channel_values"]["same"]
    assert values["n"] == 2
    assert child.checkpoint["channel_values"]["msgs"][0] is not hello  # the input is left alone
    assert new_versions(child, parent) == {"msgs": "2", "n": "2"}
    assert new_versions(parent, None) == {"msgs": "1", "n": "1", "same": "1"}


def _item(value: dict, vectors: dict) -> SourceItem:
    now = datetime.now(UTC)
    return SourceItem(("ns",), "k", value, now, now, None, False, vectors)


def test_vectors_are_matched_to_the_texts_a_put_embeds() -> None:
    value = {"text": "hi", "items": [{"t": "a"}, {"t": "b"}], "gone": None}
    vectors = {"text": [1.0], "items[*].t.0": [2.0], "items[*].t.1": [3.0], "old": [4.0]}
    paths, documents, stale = vector_plan(_item(value, vectors))
    assert paths == ["text", "items[*].t"]
    assert documents == [("hi", [1.0]), ("a", [2.0]), ("b", [3.0])]
    assert stale == 1  # "old" is no field of the value any more
    whole = vector_plan(_item({"a": 1}, {"$": [5.0]}))
    assert whole == (["$"], [('{"a": 1}', [5.0])], 0)
    # A path whose texts are not all embedded is left out (a put would embed a new text).
    assert vector_plan(_item({"items": [{"t": "a"}, {"t": "b"}]}, {"items[*].t.0": [2.0]})) == (
        [], [], 1,
    )  # fmt: skip
