"""Values the saver cannot store faithfully are refused with a named error and nothing
written (a str with a lone surrogate); floats JSON would change (-0.0, 1e20) read back
exactly, in the saver that wrote them and in a new one (issue 13)."""

from __future__ import annotations

import math
import uuid
from typing import Any

import psycopg
import pytest
from langchain_core.messages import AIMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool
from typing_extensions import TypedDict

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.checkpoint._values import lone_surrogate
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import InvalidChannelValue

BAD = "caf\udce9"  # what os.fsdecode makes of a Latin-1 file name: a lone surrogate


def _rows(database, tenant: str, thread: str) -> int:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return sum(
            conn.execute(
                f"SELECT count(*) FROM {t} WHERE tenant_id = %s AND thread_id = %s",  # noqa: S608
                (tenant, thread),
            ).fetchone()[0]
            for t in ("alma_checkpoints", "alma_checkpoint_blobs", "alma_checkpoint_writes")
        )


@pytest.fixture
def saver(database):
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield AlmaSaver(p)


def test_lone_surrogate_paths() -> None:
    assert lone_surrogate({"a": ["ok", BAD]}) == "['a'][1]"
    assert lone_surrogate(AIMessage("x", additional_kwargs={"k": BAD})) == ".additional_kwargs['k']"
    assert lone_surrogate({BAD: 1}) == f"[{BAD!r}] (the key)"
    assert lone_surrogate(["é", "ok", {"n": 1.5}]) is None


@pytest.mark.parametrize(
    "values",
    [{"text": BAD}, {"items": ["ok", {"k": BAD}]}, {"messages": [AIMessage(BAD)]}],
    ids=["inline", "nested", "message"],
)
def test_put_refuses_a_lone_surrogate(database, saver, tenant, values) -> None:
    thread = f"s-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "tenant_id": tenant}}
    cp = empty_checkpoint()
    cp["channel_values"] = values
    cp["channel_versions"] = {k: saver.get_next_version(None, None) for k in values}
    with pytest.raises(InvalidChannelValue, match="lone surrogate") as err:
        saver.put(cfg, cp, {"step": 0}, dict(cp["channel_versions"]))
    assert err.value.where.startswith("channel ")
    assert _rows(database, tenant, thread) == 0
    cp["channel_values"] = {k: "fine" for k in values}  # the thread goes on
    saved = saver.put(cfg, cp, {"step": 0}, dict(cp["channel_versions"]))
    saver.put_writes(saved, [("x", 1)], "task")
    assert _rows(database, tenant, thread) == 2


def test_put_writes_refuses_a_lone_surrogate(database, saver, tenant) -> None:
    thread = f"w-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "tenant_id": tenant}}
    cfg = saver.put(cfg, empty_checkpoint(), {"step": 0}, {})
    cfg["configurable"]["tenant_id"] = tenant
    with pytest.raises(InvalidChannelValue, match="write to channel 'x'"):
        saver.put_writes(cfg, [("ok", 1), ("x", {"deep": [BAD]})], "task")
    assert _rows(database, tenant, thread) == 1  # the checkpoint alone, no write


class _S(TypedDict):
    text: str
    n: int


def _graph(saver: Any) -> Any:
    builder = StateGraph(_S)
    builder.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    return builder.compile(checkpointer=saver)


def test_graph_input_with_a_lone_surrogate_writes_nothing(database, saver, tenant) -> None:
    thread = f"g-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    with pytest.raises(InvalidChannelValue, match="lone surrogate"):
        _graph(saver).invoke({"text": BAD, "n": 0}, cfg)
    assert _rows(database, tenant, thread) == 0
    assert _graph(saver).invoke({"text": "fine", "n": 0}, cfg) == {"text": "fine", "n": 1}


async def test_async_graph_input_with_a_lone_surrogate_writes_nothing(database, tenant) -> None:
    thread = f"ga-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    async with AsyncAlmaSaver.from_conn_string(database.url) as saver:
        with pytest.raises(InvalidChannelValue):
            await _graph(saver).ainvoke({"text": BAD, "n": 0}, cfg)
    assert _rows(database, tenant, thread) == 0


EXACT = {
    "neg_zero": -0.0,
    "big": 1e20,
    "huge": 1e300,
    "tiny": 5e-324,
    "edge": 1e15,
    "plain": 0.1,
    "bigint": 2**70,
    "nested": [-0.0, 1e20, {"x": 1e16}],
}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float):
        return type(b) is float and (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return type(b) is list and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_floats_read_back_exactly(database, saver, tenant) -> None:
    cfg = {"configurable": {"thread_id": f"f-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    cfg["configurable"]["checkpoint_ns"] = ""
    cp = empty_checkpoint()
    cp["channel_values"] = dict(EXACT)
    cp["channel_versions"] = {k: saver.get_next_version(None, None) for k in EXACT}
    saved = saver.put(cfg, cp, {"step": 0}, dict(cp["channel_versions"]))
    saved["configurable"]["tenant_id"] = tenant
    got = saver.get_tuple(saved).checkpoint["channel_values"]
    assert _same(EXACT, got), got
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        fresh = AlmaSaver(conn).get_tuple(saved).checkpoint["channel_values"]
    assert _same(EXACT, fresh), fresh


def test_writes_commit_asynchronously_only_for_runs_that_do_not_wait(database) -> None:
    """A LangGraph run's writes (durability async or exit) skip the WAL flush wait; its
    next checkpoint flushes them. Direct calls and durability="sync" wait for it."""
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        core = AlmaSaver(conn)._core

        def commit(**conf: Any) -> str:
            cfg = {"configurable": {"thread_id": "t", "checkpoint_id": "c", **conf}}
            return next(core.put_writes(cfg, [("x", 1)], "task"))[0].params["commit"]

        run = object()
        assert commit() == "on"
        assert commit(__pregel_runtime=run) == "off"
        assert commit(__pregel_runtime=run, __pregel_durability="exit") == "off"
        assert commit(__pregel_runtime=run, __pregel_durability="sync") == "on"
        core.writes_async_commit = False  # ALMA_WRITES_ASYNC_COMMIT=false
        assert commit(__pregel_runtime=run) == "on"


def test_writes_async_commit_setting_from_environment(database, monkeypatch) -> None:
    monkeypatch.setenv("ALMA_WRITES_ASYNC_COMMIT", "false")
    with psycopg.connect(database.url, **connection_kwargs()) as conn:
        assert AlmaSaver(conn)._core.writes_async_commit is False


class _Walks:
    """Counts the walks of `_inputs.lone_surrogate` while it is installed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from langgraph_alma.checkpoint import _inputs

        self.count = 0
        real = _inputs.lone_surrogate

        def counting(value: Any, path: str = "") -> str | None:
            self.count += 1
            return real(value, path)

        monkeypatch.setattr(_inputs, "lone_surrogate", counting)


@pytest.mark.parametrize(
    "value",
    [
        [AIMessage("no question here", additional_kwargs={"k": [1, 2]})],
        {"deep": [BAD]},
        [AIMessage("is it?", additional_kwargs={"k": BAD})],
        {BAD: 1},
        ["a question?"],
    ],
    ids=["clean", "nested", "message-with-?", "key", "question"],
)
def test_checked_dumps_refuses_what_the_walk_refuses(monkeypatch, value) -> None:
    """`checked_dumps` skips the walk over a value whose msgpack holds no "?" (where
    LangGraph's serializer puts a lone surrogate), and still refuses every value the
    walk refuses, with the walk's error, on LangGraph's serializer and another one."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from langgraph_alma.checkpoint._inputs import checked_dumps

    class Other(JsonPlusSerializer):  # another serializer: its bytes tell nothing
        pass

    bad = lone_surrogate(value) is not None
    for serde in (JsonPlusSerializer(), Other()):
        walks = _Walks(monkeypatch)
        if bad:
            with pytest.raises(InvalidChannelValue, match="lone surrogate"):
                checked_dumps(serde, "channel 'x'", value)
        else:
            assert checked_dumps(serde, "channel 'x'", value) == serde.dumps_typed(value)
        clean = not bad and b"?" not in serde.dumps_typed(value)[1]
        if type(serde) is JsonPlusSerializer and clean:
            assert walks.count == 0  # the fast path: no walk at all
        else:
            assert walks.count >= 1
        monkeypatch.undo()
