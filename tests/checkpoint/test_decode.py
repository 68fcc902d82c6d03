"""Reads build LangChain messages from their stored fields without validating them again
(issue 13: cold reads): what comes back equals what was put, field for field, is new on
every read, and anything the fast path does not know is read by LangGraph's serializer."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import ormsgpack
import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.jsonplus import EXT_PYDANTIC_V2, JsonPlusSerializer
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

from langgraph_alma import AlmaSaver
from langgraph_alma.checkpoint._decode import fast_loads
from langgraph_alma.db.connect import connection_kwargs

SERDE = JsonPlusSerializer()

# An OpenAI-style tool call kept in additional_kwargs: validating an AIMessage whose
# tool_calls are empty derives them from it, so a validating read changes the value.
RAW_CALLS = {
    "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "look", "arguments": '{"q": 1}'}}
    ]
}


class Note(BaseModel):
    text: str
    when: dt.datetime


def _variety() -> list[Any]:
    untouched = AIMessage("", additional_kwargs=RAW_CALLS, id="raw")
    untouched.tool_calls = []  # as stored: validation would put the raw call back
    return [
        HumanMessage("plain", id="h1"),
        HumanMessage([{"type": "text", "text": "blocks"}], id="h2", name="ann"),
        AIMessage(
            "calls",
            id="a1",
            tool_calls=[{"name": "look", "args": {"q": {"deep": [1]}}, "id": "c1"}],
            invalid_tool_calls=[
                {"name": "bad", "args": "{", "id": "c2", "error": "e", "type": "invalid_tool_call"}
            ],
            usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            response_metadata={"model": "m", "stop": None},
            additional_kwargs={"nested": {"list": [1, 2.5, None]}, "when": dt.date(2026, 1, 2)},
        ),
        untouched,
        SystemMessage("sys", id="s1"),
        ToolMessage("out", tool_call_id="c1", id="t1", artifact={"rows": [1]}, status="error"),
        ChatMessage("chat", role="critic", id="ch1"),
        FunctionMessage("fn", name="f", id="f1"),
        RemoveMessage(id="h1"),
        AIMessageChunk("chunk", id="k1"),
        Note(text="note", when=dt.datetime(2026, 1, 2, tzinfo=dt.UTC)),
        {"date": dt.date(2026, 1, 2), "set": {1, 2}},
    ]


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b)
    assert a == b
    if isinstance(a, BaseModel):
        assert a.__dict__ == b.__dict__
        assert a.__pydantic_extra__ == b.__pydantic_extra__


def test_fast_reads_equal_what_was_dumped() -> None:
    values = _variety()
    dumped = SERDE.dumps_typed(values)
    read = fast_loads(SERDE)(dumped)
    assert len(read) == len(values)
    for got, put, slow in zip(read, values, SERDE.loads_typed(dumped), strict=True):
        _same(got, put)
        if isinstance(got, BaseModel):  # every stored field counts as set, as it does there
            assert got.model_fields_set == slow.model_fields_set
    # The message LangGraph's serializer changes by validating it comes back as it was put.
    assert SERDE.loads_typed(dumped)[3].tool_calls != []
    assert read[3].tool_calls == []


def test_every_read_builds_objects_of_its_own() -> None:
    dumped = SERDE.dumps_typed(_variety())
    loads = fast_loads(SERDE)
    first, second = loads(dumped), loads(dumped)
    first[2].additional_kwargs["nested"]["list"].append("changed")
    first[2].tool_calls[0]["args"]["q"] = "changed"
    first[0].content = "changed"
    assert second[2].additional_kwargs["nested"]["list"] == [1, 2.5, None]
    assert second[2].tool_calls[0]["args"]["q"] == {"deep": [1]}
    assert second[0].content == "plain"
    assert loads(dumped)[0].content == "plain"


def test_fields_of_another_release_are_validated() -> None:
    """A message stored by an older langchain-core (other fields) is read by the
    serializer, which validates it: here, tool_calls derived from additional_kwargs."""
    fields = {"content": "", "additional_kwargs": RAW_CALLS, "type": "ai", "example": False}
    ext = ormsgpack.Ext(
        EXT_PYDANTIC_V2,
        ormsgpack.packb(["langchain_core.messages.ai", "AIMessage", fields, "model_validate_json"]),
    )
    blob = ormsgpack.packb([ext])
    (msg,) = fast_loads(SERDE)(("msgpack", blob))
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls == [{"name": "look", "args": {"q": 1}, "id": "c1", "type": "tool_call"}]


def test_other_serializers_read_as_they_do() -> None:
    class Mine(JsonPlusSerializer):
        def loads_typed(self, data: tuple[str, bytes]) -> Any:
            return ("mine", super().loads_typed(data))

    mine = Mine()
    assert fast_loads(mine)(mine.dumps_typed([HumanMessage("x")]))[0] == "mine"


@pytest.fixture
def pool(database):
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield p


def test_a_new_saver_reads_back_what_was_put(pool, tenant) -> None:
    """Through the database: channel values (a delta over a whole value) and pending
    writes, read by a saver with no memory of the thread."""
    thread = f"dec-{uuid.uuid4().hex[:8]}"
    cfg: dict[str, Any] = {
        "configurable": {"thread_id": thread, "checkpoint_ns": "", "tenant_id": tenant}
    }
    writer = AlmaSaver(pool)
    values = _variety()
    version: Any = None
    for upto in (4, len(values)):  # a whole value, then a delta that appends to it
        version = writer.get_next_version(version, None)
        cp = empty_checkpoint()
        cp["channel_values"] = {"messages": values[:upto]}
        cp["channel_versions"] = {"messages": version}
        cfg = writer.put(cfg, cp, {"step": upto}, {"messages": version})
    writer.put_writes(cfg, [("messages", values[:3])], "task-1")
    tup = AlmaSaver(pool).get_tuple(cfg)
    assert tup is not None
    for got, put in zip(tup.checkpoint["channel_values"]["messages"], values, strict=True):
        _same(got, put)
    for got, put in zip(tup.pending_writes[0][2], values[:3], strict=True):
        _same(got, put)
