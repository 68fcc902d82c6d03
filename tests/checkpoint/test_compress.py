"""Channel values are stored zstd-compressed with a dictionary of the serializer's
framing (issue 13: storage); rows stored uncompressed by earlier versions still read,
and size limits count serialized bytes, not stored ones."""

from __future__ import annotations

import hashlib
import os
import uuid
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.checkpoint import _compress
from langgraph_alma.checkpoint._compress import (
    PACKED_WRITES,
    TAG,
    pack,
    raw_size,
    unpack,
    unpack_writes,
)
from langgraph_alma.config import Settings
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import StateTooLarge


def test_the_dictionary_never_changes() -> None:
    """Stored blobs tagged z1: were compressed with these exact bytes."""
    assert TAG == "z1:"
    digest = hashlib.sha256(_compress._DICTIONARY).hexdigest()
    assert digest == "5aa9f25c8b676ed14c0cbd9cd497b2d5084e51dcdc9d64909b9647edb69ae339"
    # Packed checkpoints (format bit CHECKPOINT_ZSTD) with these (migration 0012).
    digest = hashlib.sha256(_compress._CHECKPOINT_DICTIONARY).hexdigest()
    assert digest == "672b390e7e50e7c6b00f4f0a57ac24ffe0f76cdda4225cb45992762bc9509921"


def test_pack_round_trips_and_keeps_what_does_not_shrink() -> None:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    type_, blob = JsonPlusSerializer().dumps_typed(
        [HumanMessage("the same words again and again " * 3, id="h1")]
    )
    stored = pack(type_, blob)
    assert stored[0] == TAG + type_
    assert len(stored[1]) < len(blob) * 0.7
    assert unpack(*stored) == (type_, blob)
    assert raw_size(*stored) == len(blob)
    noise = os.urandom(500)
    assert pack("msgpack", noise) == ("msgpack", noise)  # encrypted-like: stored as it is
    assert pack("msgpack", b"tiny") == ("msgpack", b"tiny")
    assert pack("null", None) == ("null", None)


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _chat() -> Any:
    def respond(state: Chat) -> dict[str, Any]:
        return {"messages": [AIMessage(f"echo {len(state['messages'])}")]}

    builder = StateGraph(Chat)
    builder.add_node("respond", respond)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", END)
    return builder


@pytest.fixture
def pool(database):
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield p


def test_a_chat_is_stored_compressed_and_reads_back(database, pool, tenant) -> None:
    thread = f"z-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    graph = _chat().compile(checkpointer=AlmaSaver(pool))
    for i in range(6):
        graph.invoke({"messages": [HumanMessage(f"question number {i} about the weather")]}, cfg)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        types = conn.execute(
            "SELECT type FROM alma_checkpoint_blobs WHERE tenant_id = %s AND thread_id = %s"
            " AND channel = 'messages'",
            (tenant, thread),
        ).fetchall()
    assert types and all(t.startswith(TAG) for (t,) in types)
    expected = graph.get_state(cfg).values["messages"]
    fresh = _chat().compile(checkpointer=AlmaSaver(pool))
    assert fresh.get_state(cfg).values["messages"] == expected
    assert len(expected) == 12


def test_rows_stored_uncompressed_still_read(database, pool, tenant) -> None:
    """A thread written before compression (whole value and deltas uncompressed), then
    continued: its chain mixes both, and every reader rebuilds it."""
    thread = f"z-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    graph = _chat().compile(checkpointer=AlmaSaver(pool))
    for i in range(3):
        graph.invoke({"messages": [HumanMessage(f"before the upgrade {i} " * 4)]}, cfg)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT channel, version, type, blob FROM alma_checkpoint_blobs"
            " WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        ).fetchall()
        for channel, version, type_, blob in rows:  # as an earlier version stored them
            plain_type, plain = unpack(type_, blob)
            conn.execute(
                "UPDATE alma_checkpoint_blobs SET type = %s, blob = %s WHERE tenant_id = %s"
                " AND thread_id = %s AND channel = %s AND version = %s",
                (plain_type, plain, tenant, thread, channel, version),
            )
    assert any(t.startswith(TAG) for _, _, t, _ in rows)
    upgraded = _chat().compile(checkpointer=AlmaSaver(pool))
    assert len(upgraded.get_state(cfg).values["messages"]) == 6
    for i in range(2):
        upgraded.invoke({"messages": [HumanMessage(f"after the upgrade {i} " * 4)]}, cfg)
    messages = _chat().compile(checkpointer=AlmaSaver(pool)).get_state(cfg).values["messages"]
    assert [m.content for m in messages] == [
        m.content for m in graph.get_state(cfg).values["messages"]
    ]
    assert len(messages) == 10
    history = list(AlmaSaver(pool).list(cfg))
    assert [len(t.checkpoint["channel_values"].get("messages", [])) for t in history][:3] == [
        10,
        9,
        8,
    ]


def test_the_state_limit_counts_serialized_bytes(pool, tenant) -> None:
    """A value that compresses far below the limit is still refused when its serialized
    bytes exceed it (the limit means what it meant before compression)."""
    saver = AlmaSaver(pool, settings=Settings(max_state_bytes=20_000))
    cfg = {"configurable": {"thread_id": f"z-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    cp = empty_checkpoint()
    cp["channel_values"] = {"messages": [HumanMessage("a" * 30_000, id="big")]}
    cp["channel_versions"] = {"messages": saver.get_next_version(None, None)}
    assert len(pack(*saver.serde.dumps_typed(cp["channel_values"]["messages"]))[1]) < 20_000
    with pytest.raises(StateTooLarge):
        saver.put(cfg, cp, {"step": 1}, dict(cp["channel_versions"]))
    assert saver.get_tuple(cfg) is None


def test_pending_writes_are_stored_compressed_and_read_back(database, pool, tenant) -> None:
    """A task's writes (a message) are compressed as blobs are; readers in this saver, a
    new one, and a write stored uncompressed by an earlier version all read them."""
    saver = AlmaSaver(pool)
    cfg = {"configurable": {"thread_id": f"w-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    cfg["configurable"]["checkpoint_ns"] = ""
    cp = empty_checkpoint()
    saved = saver.put(cfg, cp, {"step": 0}, {})
    saved["configurable"]["tenant_id"] = tenant
    message = AIMessage("the answer is a sentence of some length " * 4, id="m1")
    saver.put_writes(saved, [("messages", [message]), ("small", 1)], "task-1")
    saver.put_writes(saved, [("messages", [message])], "task-2")
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT task_id, channel, type, blob FROM alma_checkpoint_writes"
            " WHERE tenant_id = %s AND thread_id = %s ORDER BY task_id, idx",
            (tenant, saved["configurable"]["thread_id"]),
        ).fetchall()
        # task-1's two writes are one row (`_sql.WRITES_PACKED`), each compressed or not.
        assert [(t, ty) for t, _, ty, _ in rows] == [
            ("task-1", PACKED_WRITES),
            ("task-2", TAG + "msgpack"),
        ]
        writes = [(rows[0][0], c, ty, b) for _, c, ty, b in unpack_writes(rows[0][3])] + rows[1:]
        assert [(t, c, ty.startswith(TAG)) for t, c, ty, _ in writes] == [
            ("task-1", "messages", True),
            ("task-1", "small", False),  # too small to gain anything
            ("task-2", "messages", True),
        ]
        raw = saver.serde.dumps_typed([message])
        assert len(writes[0][3]) < len(raw[1]) * 3 // 4
        # task-2's write as an earlier version stored it: uncompressed
        conn.execute(
            "UPDATE alma_checkpoint_writes SET type = %s, blob = %s WHERE tenant_id = %s"
            " AND thread_id = %s AND task_id = 'task-2'",
            (*raw, tenant, saved["configurable"]["thread_id"]),
        )
    for reader in (saver, AlmaSaver(pool)):
        writes = reader.get_tuple(saved).pending_writes
        assert writes == [
            ("task-1", "messages", [message]),
            ("task-1", "small", 1),
            ("task-2", "messages", [message]),
        ]


def test_checkpoint_id_is_stored_once_and_read_back(database, pool, tenant) -> None:
    """The id lives in its column, not again in the checkpoint's JSON; rows written with
    it in the JSON (earlier versions) read the same."""
    saver = AlmaSaver(pool)
    cfg = {"configurable": {"thread_id": f"i-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    graph = _chat().compile(checkpointer=saver)
    graph.invoke({"messages": [HumanMessage("hello")]}, cfg)
    thread = cfg["configurable"]["thread_id"]
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT checkpoint_id, checkpoint ? 'id' FROM alma_checkpoints"
            " WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        ).fetchall()
        assert rows and not any(has_id for _, has_id in rows)
        history = [t.checkpoint["id"] for t in AlmaSaver(pool).list(cfg)]
        assert sorted(history) == sorted(cid for cid, _ in rows)
        conn.execute(  # as earlier versions stored them
            "UPDATE alma_checkpoints SET checkpoint = checkpoint || jsonb_build_object('id',"
            " checkpoint_id) WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        )
    latest = AlmaSaver(pool).get_tuple(cfg)
    assert latest.checkpoint["id"] == latest.config["configurable"]["checkpoint_id"]
    assert [t.checkpoint["id"] for t in AlmaSaver(pool).list(cfg)] == history


def test_the_scope_index_holds_only_scoped_checkpoints(database) -> None:
    """Checkpoints without an agent or a workflow_id (most graphs') add no entry to it."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        (definition,) = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'alma_checkpoints_scope_idx'"
        ).fetchone()
    assert "WHERE ((workflow_id IS NOT NULL) OR (agent IS NOT NULL))" in definition


def test_codecs_are_reused_across_threads_and_never_shared(monkeypatch) -> None:
    """LangGraph starts new threads for each run: they reuse idle zstd contexts instead
    of making a pair each (a dictionary load costs more than what a step compresses),
    and threads at work at once never share one (zstd contexts are not thread-safe)."""
    import threading

    made: list[int] = []
    real = _compress._Codecs.__init__

    def counting(self: Any) -> None:
        made.append(1)
        real(self)

    monkeypatch.setattr(_compress._Codecs, "__init__", counting)
    monkeypatch.setattr(_compress, "_idle", [])
    blob = b"a message of prose that compresses well " * 20
    for _ in range(10):  # one new thread after another, as successive runs
        worker = threading.Thread(target=lambda: unpack(*pack("msgpack", blob)))
        worker.start()
        worker.join()
    assert len(made) == 1
    errors: list[BaseException] = []

    def hammer(seed: int) -> None:
        data = os.urandom(16) * 8 + bytes([seed]) * 200
        try:
            for _ in range(300):
                assert unpack(*pack("msgpack", data)) == ("msgpack", data)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    assert len(made) <= 8
