"""Reads agree with PostgresSaver's on the same calls (issue 20): a checkpoint older than
format 4 gets its parent's pending sends as `__pregel_tasks`; a channel stored inline as
JSON null is no DeltaChannel seed (the history walk goes on past it). Each scenario runs
on LangGraph's PostgresSaver and on AlmaSaver side by side, in one database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.types import TASKS
from langgraph.types import Send
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs


@pytest.fixture
def savers(fresh_database) -> Iterator[tuple[PostgresSaver, AlmaSaver]]:
    with (
        PostgresSaver.from_conn_string(fresh_database.admin_url) as theirs,
        ConnectionPool(
            fresh_database.url, min_size=1, max_size=2, kwargs=connection_kwargs()
        ) as pool,
    ):
        theirs.setup()
        yield theirs, AlmaSaver(pool)


def _put(saver: Any, cfg: dict, values: dict, v: int, versions: dict | None = None) -> dict:
    cp = empty_checkpoint()
    cp["v"] = v
    cp["channel_values"] = values
    cp["channel_versions"] = versions or {k: f"{len(cfg['configurable'])}.0" for k in values}
    return saver.put(cfg, cp, {"step": 0}, dict(cp["channel_versions"]))


def _sends_scenario(saver: Any, v: int) -> list[Any]:
    cfg = {"configurable": {"thread_id": f"s-{uuid.uuid4().hex[:8]}", "checkpoint_ns": ""}}
    parent = _put(saver, cfg, {"a": [1]}, v, {"a": "00000000000000000000000000000001.0.1"})
    saver.put_writes(parent, [(TASKS, Send("n", {"x": 2})), ("a", [9])], "task-b", "p2")
    saver.put_writes(parent, [(TASKS, Send("n", {"x": 1}))], "task-a", "p1")
    child = _put(saver, parent, {"a": [2]}, v, {"a": "00000000000000000000000000000002.0.2"})
    got = saver.get_tuple(child)
    listed = next(iter(saver.list(child, limit=1)))
    return [
        (t.checkpoint["channel_values"], t.checkpoint["channel_versions"].get(TASKS) is not None)
        for t in (got, listed)
    ]


@pytest.mark.parametrize("v", [1, 2, 3, 4])
def test_old_checkpoints_get_their_parents_sends(savers, v: int) -> None:
    theirs, ours = savers
    expected = _sends_scenario(theirs, v)
    assert _sends_scenario(ours, v) == expected
    if v < 4:
        assert expected[0][0][TASKS] == [Send("n", {"x": 1}), Send("n", {"x": 2})]
        assert expected[0][1]  # a version for the migrated channel
    else:
        assert TASKS not in expected[0][0]


def _null_seed_scenario(saver: Any) -> dict[str, Any]:
    cfg: dict = {"configurable": {"thread_id": f"n-{uuid.uuid4().hex[:8]}", "checkpoint_ns": ""}}
    versions = iter(f"{i:032}.0.{i}" for i in range(1, 10))
    first = _put(saver, cfg, {"log": ["seed"]}, 4, {"log": next(versions)})
    saver.put_writes(first, [("log", "w1")], "t1", "")
    second = _put(saver, first, {"log": None}, 4, {"log": next(versions)})  # inline null
    saver.put_writes(second, [("log", "w2")], "t2", "")
    third = _put(saver, second, {}, 4, {"log": next(versions)})
    history = saver.get_delta_channel_history(config=third, channels=["log"])
    return {ch: dict(h) for ch, h in history.items()}


def test_an_inline_null_is_no_delta_seed(savers) -> None:
    theirs, ours = savers
    expected = _null_seed_scenario(theirs)
    assert expected["log"]["seed"] == ["seed"]  # found past the null, at the first one
    assert [w[2] for w in expected["log"]["writes"]] == ["w1", "w2"]
    assert _null_seed_scenario(ours) == expected
