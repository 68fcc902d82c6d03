"""Delta storage of list channels, end to end with `add_messages`.

A conversation is appended to, edited by id, trimmed with `RemoveMessage` and replaced
wholesale; after each step the value a memoryless saver on another pool reads back must
serialize byte for byte like the graph's own value and like `InMemorySaver`'s, and the
rows in `alma_checkpoint_blobs` must show that appends were stored as deltas.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, RemoveMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import REMOVE_ALL_MESSAGES, add_messages
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver, Settings
from langgraph_alma.checkpoint._delta import ANCHOR_STRIDE
from langgraph_alma.db.connect import connection_kwargs


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _bot(state: Chat) -> dict:
    """Replies to a human message with a reply of a deterministic id; else writes nothing."""
    last = state["messages"][-1] if state["messages"] else None
    if isinstance(last, HumanMessage):
        return {"messages": [AIMessage(content=f"re: {last.content}", id=f"{last.id}-r")]}
    return {}


def _chat_graph() -> StateGraph:
    b = StateGraph(Chat)
    b.add_node("bot", _bot)
    b.add_edge(START, "bot")
    b.add_edge("bot", END)
    return b


@pytest.fixture
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=4, kwargs=connection_kwargs()) as p:
        yield p


@pytest.fixture
def fresh(database) -> Iterator[AlmaSaver]:
    """A saver with no memory of list values, on a pool of its own: every read rebuilds
    values from the rows."""
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield AlmaSaver(p, settings=Settings(cache_size=0))


def _blob_rows(database, tenant: str, thread: str) -> list[tuple]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT version, base_version, keep_len, depth, octet_length(blob) "
            "FROM alma_checkpoint_blobs WHERE tenant_id = %s AND thread_id = %s "
            "AND channel = 'messages' ORDER BY version",
            (tenant, thread),
        ).fetchall()


def _dumps(saver: Any, value: Any) -> tuple[str, bytes]:
    return saver.serde.dumps_typed(value)


# (label, input messages, kind of change the checkpoint's `messages` row must show)
STEPS: list[tuple[str, list[Any], str]] = [
    ("first", [HumanMessage("hello", id="h1")], "whole"),
    ("append", [HumanMessage("how are you?", id="h2")], "delta"),
    ("append more", [HumanMessage("tell me a joke", id="h3")], "delta"),
    ("edit first by id", [HumanMessage("hello (edited)", id="h1")], "whole"),
    ("edit last by id", [AIMessage("re: a better joke", id="h3-r")], "delta"),
    ("remove last", [RemoveMessage(id="h3-r")], "delta"),
    ("remove middle", [RemoveMessage(id="h1-r")], "delta"),
    ("append after removes", [HumanMessage("still there?", id="h4")], "delta"),
    (
        "replace wholesale",
        [RemoveMessage(id=REMOVE_ALL_MESSAGES), HumanMessage("fresh start", id="f1")],
        "whole",
    ),
    ("append after replace", [HumanMessage("go on", id="f2")], "delta"),
]


@pytest.mark.parametrize("max_chain", [64, 2])
def test_messages_round_trip_through_deltas(database, pool, fresh, tenant, max_chain: int) -> None:
    saver = AlmaSaver(pool, settings=Settings(delta_max_chain=max_chain))
    alma = _chat_graph().compile(checkpointer=saver)
    mem_saver = InMemorySaver()
    mem = _chat_graph().compile(checkpointer=mem_saver)
    thread = f"chat-{uuid.uuid4().hex[:8]}"
    ac = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    mc = {"configurable": {"thread_id": thread}}

    previous_len = 0
    seen: set[str] = set()
    for label, inputs, kind in STEPS:
        held = alma.invoke({"messages": inputs}, ac)["messages"]
        expected = mem.invoke({"messages": inputs}, mc)["messages"]
        assert _dumps(saver, held) == _dumps(saver, expected), label

        read = fresh.get_tuple(ac).checkpoint["channel_values"]["messages"]
        assert _dumps(saver, read) == _dumps(saver, held), label
        same_saver = saver.get_tuple(ac).checkpoint["channel_values"]["messages"]
        assert _dumps(saver, same_saver) == _dumps(saver, held), label

        # The rows this step added: the first shows how the input changed the list (a
        # delta over the previous version, or a whole value), the bot's reply a delta.
        rows = _blob_rows(database, tenant, thread)
        new_rows = [r for r in rows if r[0] not in seen]
        seen.update(r[0] for r in new_rows)
        assert new_rows, label
        for i, (_, base, keep, depth, _) in enumerate(new_rows):
            assert depth % ANCHOR_STRIDE <= max_chain, label  # deltas since an anchor
            if i == 0 and kind == "whole":
                assert base is None and keep is None and depth == 0, label
            elif depth > 0:
                assert base is not None and 0 < keep <= len(held), label
            else:
                assert base is None and max_chain < 64, label  # a chain restarted
        version = str(fresh.get_tuple(ac).checkpoint["channel_versions"]["messages"])
        assert new_rows[-1][0] == version, label
        if label.startswith("append"):
            assert len(held) == previous_len + 2, label
        previous_len = len(held)

    rows = _blob_rows(database, tenant, thread)
    assert sum(1 for r in rows if r[1] is not None) >= 8
    assert max(r[3] % ANCHOR_STRIDE for r in rows) <= max_chain
    assert [m.id for m in held] == ["f1", "f1-r", "f2", "f2-r"]


def test_history_matches_in_memory_saver(database, pool, fresh, tenant) -> None:
    alma = _chat_graph().compile(checkpointer=AlmaSaver(pool))
    mem_saver = InMemorySaver()
    mem = _chat_graph().compile(checkpointer=mem_saver)
    thread = f"chat-{uuid.uuid4().hex[:8]}"
    ac = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    mc = {"configurable": {"thread_id": thread}}
    for _, inputs, _ in STEPS:
        alma.invoke({"messages": inputs}, ac)
        mem.invoke({"messages": inputs}, mc)

    _assert_same_checkpoints(fresh, ac, mem_saver, mc, 3 * len(STEPS))

    # Fork from the middle of the history (an older, shorter list), then go on from the
    # fork: deltas must be taken over the forked-from version, not the latest one.
    i = len(STEPS) * 3 // 2
    alma_at = list(fresh.list(ac))[i].config
    mem_at = list(mem_saver.list(mc))[i].config
    forked = [AIMessage("a forked answer", id="fork-1")]
    alma_fork = alma.update_state(alma_at, {"messages": forked}, as_node="bot")
    mem_fork = mem.update_state(mem_at, {"messages": forked}, as_node="bot")
    after = {"messages": [HumanMessage("after the fork", id="af")]}
    held = alma.invoke(after, alma_fork)["messages"]
    assert _dumps(fresh, held) == _dumps(fresh, mem.invoke(after, mem_fork)["messages"])
    assert [m.id for m in held][-3:] == ["fork-1", "af", "af-r"]
    _assert_same_checkpoints(fresh, ac, mem_saver, mc, 3 * len(STEPS) + 4)


def _assert_same_checkpoints(fresh: AlmaSaver, ac: dict, mem_saver: Any, mc: dict, n: int):
    """Every checkpoint of the thread, listed and read one by one by a memoryless saver,
    equals InMemorySaver's: values (byte for byte), versions, metadata, pending writes."""
    alma_list = list(fresh.list(ac))
    mem_list = list(mem_saver.list(mc))
    assert len(alma_list) == len(mem_list) == n
    dumps = fresh.serde.dumps_typed
    for got_listed, want in zip(alma_list, mem_list, strict=True):
        got = fresh.get_tuple(got_listed.config)  # each checkpoint on its own, by id
        assert got is not None
        for tup in (got, got_listed):
            values = tup.checkpoint["channel_values"]
            want_values = want.checkpoint["channel_values"]
            assert sorted(values) == sorted(want_values)
            for channel, value in want_values.items():
                assert dumps(values[channel]) == dumps(value), channel
            assert sorted(tup.checkpoint["channel_versions"]) == sorted(
                want.checkpoint["channel_versions"]
            )
            assert {k: tup.metadata.get(k) for k in ("step", "source", "parents")} == {
                k: want.metadata.get(k) for k in ("step", "source", "parents")
            }
            assert [(w[1], dumps(w[2])) for w in tup.pending_writes] == [
                (w[1], dumps(w[2])) for w in want.pending_writes
            ]
            assert (tup.parent_config is None) == (want.parent_config is None)
            if tup.parent_config is not None:
                # The parent is the same checkpoint, by position in the history.
                ids = [t.config["configurable"]["checkpoint_id"] for t in alma_list]
                mem_ids = [t.config["configurable"]["checkpoint_id"] for t in mem_list]
                assert ids.index(tup.parent_config["configurable"]["checkpoint_id"]) == (
                    mem_ids.index(want.parent_config["configurable"]["checkpoint_id"])
                )


def test_long_conversation_storage_grows_linearly(database, pool, fresh, tenant) -> None:
    saver = AlmaSaver(pool)
    graph = _chat_graph().compile(checkpointer=saver)
    thread = f"long-{uuid.uuid4().hex[:8]}"
    config = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    turns = 100
    for i in range(turns):
        text = f"turn {i}: " + "lorem ipsum dolor sit amet " * 8
        graph.invoke({"messages": [HumanMessage(text, id=f"u{i}")]}, config)

    final = fresh.get_tuple(config).checkpoint["channel_values"]["messages"]
    assert len(final) == 2 * turns
    assert [m.id for m in final[:4]] == ["u0", "u0-r", "u1", "u1-r"]
    assert final[-1].content.startswith("re: turn 99: ")

    # What storing each version whole would cost: every distinct version's full list.
    full_sizes: dict[str, int] = {}
    for tup in fresh.list(config):
        version = str(tup.checkpoint["channel_versions"].get("messages"))
        if "messages" in tup.checkpoint["channel_values"] and version not in full_sizes:
            full_sizes[version] = len(
                saver.serde.dumps_typed(tup.checkpoint["channel_values"]["messages"])[1]
            )
    rows = _blob_rows(database, tenant, thread)
    assert len(rows) == len(full_sizes) == 2 * turns
    stored = sum(r[4] for r in rows)
    whole = sum(full_sizes.values())
    assert stored < whole / 20, (stored, whole)
    deltas = [r for r in rows if r[1] is not None]
    assert len(deltas) >= 2 * turns - 5  # a whole value only every delta_max_chain versions
    assert stored < 3 * len(saver.serde.dumps_typed(final)[1])


def test_a_listed_chain_is_remembered_in_few_pieces() -> None:
    """`list` remembers every version on a chain in about log2(n) pickled pieces (a
    binary counter), each version thawing to its own elements, equal to the stored ones."""
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from langgraph_alma.checkpoint._delta import BlobRow, rebuild

    serde = JsonPlusSerializer()
    msgs = [HumanMessage(f"m{i}", id=f"m{i}") for i in range(100)]
    rows = {("t", "", "messages", "v0"): BlobRow("messages", "v0", *serde.dumps_typed(msgs[:1]))}
    for i in range(1, 100):
        type_, blob = serde.dumps_typed(msgs[i : i + 1])
        rows[("t", "", "messages", f"v{i}")] = BlobRow(
            "messages", f"v{i}", type_, blob, f"v{i - 1}", i, i
        )
    memo: dict = {}
    value, _ = rebuild(("t", "", "messages", "v99"), rows, memo, serde.loads_typed)
    assert value == msgs
    for i in (0, 1, 2, 6, 63, 64, 99):
        remembered = memo[("t", "", "messages", f"v{i}")]
        assert len(remembered.pieces) <= (i + 1).bit_length()
        again, _ = rebuild(("t", "", "messages", f"v{i}"), {}, dict(memo), serde.loads_typed)
        assert again == msgs[: i + 1]
        assert all(a is not b for a, b in zip(again, value, strict=False))


def _versions_and_lengths(fresh: AlmaSaver, config: dict) -> dict[str, int]:
    """Length of the `messages` list at each of its versions, as a memoryless saver reads it."""
    out: dict[str, int] = {}
    for tup in fresh.list(config):
        if "messages" in tup.checkpoint["channel_values"]:
            version = str(tup.checkpoint["channel_versions"]["messages"])
            out[version] = len(tup.checkpoint["channel_values"]["messages"])
    return out


def test_long_chains_store_anchors_not_whole_copies(
    database, pool, fresh, tenant, monkeypatch
) -> None:
    """Every `delta_max_chain` deltas, an anchor (the elements since the last anchor, over
    it) is stored, not the whole list: each message is stored at most twice, and a chain
    is whole once per MAX_ANCHORS anchors. A saver that remembers nothing (a restart)
    goes on anchoring from what it reads; chains stored before anchors existed (a whole
    value every `delta_max_chain` deltas) are read and extended alike."""
    from langgraph_alma.checkpoint import _delta

    max_chain = 3
    settings = Settings(delta_max_chain=max_chain)
    mem_saver = InMemorySaver()
    mem = _chat_graph().compile(checkpointer=mem_saver)
    thread = f"chat-{uuid.uuid4().hex[:8]}"
    ac = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    mc = {"configurable": {"thread_id": thread}}

    def turns(saver: AlmaSaver, start: int, stop: int) -> list[Any]:
        graph = _chat_graph().compile(checkpointer=saver)
        for i in range(start, stop):
            step = {"messages": [HumanMessage(f"message {i}", id=f"m{i}")]}
            held = graph.invoke(step, ac)["messages"]
            assert _dumps(fresh, held) == _dumps(fresh, mem.invoke(step, mc)["messages"])
        return held

    # The previous format first: a whole value every max_chain deltas (no anchors).
    monkeypatch.setattr(_delta, "MAX_ANCHORS", 0)
    turns(AlmaSaver(pool, settings=settings), 0, 6)
    old_rows = _blob_rows(database, tenant, thread)
    assert sum(1 for r in old_rows if r[1] is None) == 3  # 12 versions: whole at 0, 4, 8
    monkeypatch.undo()

    turns(AlmaSaver(pool, settings=settings), 6, 20)  # a new saver: remembers nothing
    held = turns(AlmaSaver(pool, settings=settings), 20, 36)  # and again
    rows = _blob_rows(database, tenant, thread)
    new_rows = [r for r in rows if r not in old_rows]
    assert len(new_rows) == 2 * 30
    assert all(r[1] is not None for r in new_rows)  # no whole copy since: anchors
    anchors = [r for r in new_rows if r[3] % ANCHOR_STRIDE == 0]
    assert len(anchors) == 60 // (max_chain + 1)
    assert max(r[3] // ANCHOR_STRIDE for r in rows) == len(anchors)  # one chain of anchors
    assert all(r[3] % ANCHOR_STRIDE <= max_chain for r in rows)

    # Each message is stored in its delta and in one anchor at most.
    lengths = _versions_and_lengths(fresh, ac)
    stored = sum(lengths[r[0]] - (r[2] or 0) for r in new_rows)
    assert stored <= 2 * (len(held) - lengths[old_rows[-1][0]]) + 2 * max_chain
    _assert_same_checkpoints(fresh, ac, mem_saver, mc, len(list(mem_saver.list(mc))))

    # MAX_ANCHORS anchors over one whole value, then a whole value again.
    monkeypatch.setattr(_delta, "MAX_ANCHORS", len(anchors) + 1)
    turns(AlmaSaver(pool, settings=settings), 36, 40)
    rows = _blob_rows(database, tenant, thread)
    assert sum(1 for r in rows if r[1] is None) == 4
    _assert_same_checkpoints(fresh, ac, mem_saver, mc, len(list(mem_saver.list(mc))))


def test_a_warm_get_reads_its_held_lists_and_what_another_saver_wrote(
    database, pool, fresh, tenant, monkeypatch
) -> None:
    """get_tuple of a saver that holds the thread's list versions reads the checkpoint
    and its writes without blob rows (`WARM_SELECT`), from a packed row or one stored as
    jsonb before migration 0012; one it cannot complete from what it holds (a version
    another saver wrote since) it reads again whole. Each read equals a memoryless
    saver's."""
    from langgraph_alma.checkpoint import _reads

    verdicts: list[bool] = []
    held = _reads._held

    def spy(row: tuple, memo: dict) -> bool:
        verdicts.append(held(row, memo))
        return verdicts[-1]

    monkeypatch.setattr(_reads, "_held", spy)
    warm = AlmaSaver(pool)
    cfg = {"configurable": {"thread_id": f"w-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    graph = _chat_graph().compile(checkpointer=warm)

    def same() -> list:
        ours, theirs = warm.get_tuple(cfg), fresh.get_tuple(cfg)
        assert ours.checkpoint == theirs.checkpoint
        assert ours.pending_writes == theirs.pending_writes
        return ours.checkpoint["channel_values"]["messages"]

    for i in range(3):
        graph.invoke({"messages": [HumanMessage(f"hi {i}", id=f"h{i}")]}, cfg)
    verdicts.clear()
    assert [m.content for m in same()][-2:] == ["hi 2", "re: hi 2"]
    assert verdicts == [True]  # read warm

    # Another saver writes a turn: a version this one does not hold, read again whole.
    _chat_graph().compile(checkpointer=AlmaSaver(pool)).invoke(
        {"messages": [HumanMessage("from b", id="b1")]}, cfg
    )
    verdicts.clear()
    assert [m.content for m in same()][-2:] == ["from b", "re: from b"]
    assert verdicts == [False]
    verdicts.clear()
    same()
    assert verdicts == [True]  # held since that read

    # The latest row stored as before migration 0012: read warm, the same.
    latest = fresh.get_tuple(cfg)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alma_checkpoints SET checkpoint = %s, packed = NULL, blob_versions = NULL"
            " WHERE tenant_id = %s AND checkpoint_id = %s",
            (
                Jsonb(
                    {
                        k: v
                        for k, v in latest.checkpoint.items()
                        if k not in ("id", "channel_values")
                    }
                ),
                tenant,
                latest.checkpoint["id"],
            ),
        )
    verdicts.clear()
    same()
    assert verdicts == [True]


class _WithContext(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    context: dict


def test_a_thread_with_values_that_are_no_lists_is_read_in_one_statement(
    pool, fresh, tenant, monkeypatch
) -> None:
    """A dict channel is read from its blob row on every read: after the first warm read
    of such a thread finds one, its reads go straight to `SELECT` (one round trip)."""
    from langgraph_alma.checkpoint import _reads

    verdicts: list[bool | None] = []
    held = _reads._held

    def spy(row: tuple, memo: dict) -> bool | None:
        verdicts.append(held(row, memo))
        return verdicts[-1]

    monkeypatch.setattr(_reads, "_held", spy)
    builder = StateGraph(_WithContext)
    builder.add_node(
        "bot",
        lambda s: {"messages": [AIMessage("ok")], "context": {"n": len(s["messages"])}},
    )
    builder.add_edge(START, "bot")
    builder.add_edge("bot", END)
    saver = AlmaSaver(pool)
    graph = builder.compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": f"d-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    for i in range(3):
        graph.invoke({"messages": [HumanMessage(f"hi {i}")]}, cfg)
        tup = saver.get_tuple(cfg)
        assert tup.checkpoint == fresh.get_tuple(cfg).checkpoint
        assert tup.checkpoint["channel_values"]["context"] == {"n": 2 * i + 1}
    assert verdicts == [None]  # tried warm once, then straight to SELECT
