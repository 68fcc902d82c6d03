"""What a checkpoint row and a pending write do not store twice (migration 0011's
format): a checkpoint's metadata leaves out the `step` and `source` its columns hold, a
pull task's write leaves out the task path its node_id names. Reads (get_tuple, list,
a metadata filter, the history of a graph) see them as written, in this saver and a new
one, and read rows stored in full before alike. Migration 0012's: the checkpoint itself
is stored packed (compressed JSON, its ts as an offset from the time in its id) with
its blob channels' versions in a column; rows stored as jsonb before read the same."""

from __future__ import annotations

import copy
import json
import math
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.checkpoint._compress import pack_checkpoint, ts_offset, unpack_checkpoint
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.errors import InvalidChannelValue


@pytest.fixture
def pool(database):
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield p


def _stored(database, tenant: str, thread: str) -> tuple[list[tuple], list[tuple]]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        cps = conn.execute(
            "SELECT checkpoint_id, metadata, step, source FROM alma_checkpoints"
            " WHERE tenant_id = %s AND thread_id = %s ORDER BY checkpoint_id",
            (tenant, thread),
        ).fetchall()
        writes = conn.execute(
            "SELECT task_id, task_path, node_id FROM alma_checkpoint_writes"
            " WHERE tenant_id = %s AND thread_id = %s ORDER BY task_id, idx",
            (tenant, thread),
        ).fetchall()
    return cps, writes


# (metadata put, what the row's metadata column holds)
METADATA: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"step": 3, "source": "loop", "parents": {}}, {"parents": {}}),
    (
        {"step": -1, "source": "input", "parents": {"": "x"}, "k": [1]},
        {"parents": {"": "x"}, "k": [1]},
    ),
    ({"step": 4, "source": None, "parents": {}}, {"source": None, "parents": {}}),
    ({"source": "update"}, {}),
    ({"step": 2.5, "source": 7}, {"step": 2.5, "source": 7}),  # not an int, not a str: kept
    ({}, {}),
]

# (task path, what the write row's task_path column holds)
TASK_PATHS = [
    ("~__pregel_pull, respond", ""),
    ("~__pregel_pull,respond", "~__pregel_pull,respond"),  # not as LangGraph writes it
    ("~__pregel_pull, respond, 1", "~__pregel_pull, respond, 1"),
    ("~__pregel_push, 0, False", "~__pregel_push, 0, False"),
    ("", ""),
]


def _bare(meta: dict[str, Any]) -> dict[str, Any]:
    """Metadata without the config's keys the saver adds to it (the tenant's)."""
    return {k: v for k, v in meta.items() if k != "tenant_id"}


def _history(saver: AlmaSaver, cfg: dict) -> list[tuple]:
    return [
        (t.checkpoint["id"], t.metadata, sorted((w[0], w[1]) for w in t.pending_writes))
        for t in saver.list(cfg)
    ]


def test_rows_leave_out_what_columns_hold(database, pool, tenant) -> None:
    saver = AlmaSaver(pool)
    thread = f"f-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    ids = []
    for meta, _ in METADATA:
        cp = empty_checkpoint()
        saved = saver.put(cfg, cp, meta, {})
        saved["configurable"]["tenant_id"] = tenant
        ids.append(cp["id"])
        cfg = saved
    for i, (path, _) in enumerate(TASK_PATHS):
        saver.put_writes(cfg, [("ch", i)], f"task-{i}", path)

    cps, writes = _stored(database, tenant, thread)
    assert [_bare(r[1]) for r in cps] == [stored for _, stored in METADATA]
    assert [r[1] for r in writes] == [stored for _, stored in TASK_PATHS]

    def check(reader: AlmaSaver) -> None:
        base = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
        listed = list(reader.list(base))
        assert [_bare(t.metadata) for t in reversed(listed)] == [meta for meta, _ in METADATA]
        latest = reader.get_tuple(base)
        assert latest is not None and _bare(latest.metadata) == {}
        assert sorted((w[0], w[2]) for w in latest.pending_writes) == [
            (f"task-{i}", i) for i in range(len(TASK_PATHS))
        ]
        # Filters see the metadata as written, step and source included.
        assert [t.checkpoint["id"] for t in reader.list(base, filter={"source": "loop"})] == [
            ids[0]
        ]
        assert [t.checkpoint["id"] for t in reader.list(base, filter={"step": -1})] == [ids[1]]
        assert [t.checkpoint["id"] for t in reader.list(base, filter={"source": None})] == [ids[2]]
        assert list(reader.list(base, filter={"step": 2})) == []
        assert [t.checkpoint["id"] for t in reader.list(base, filter={"step": 2.5})] == [ids[4]]

    check(saver)
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        check(AlmaSaver(p))
        fresh_history = _history(
            AlmaSaver(p), {"configurable": {"thread_id": thread, "tenant_id": tenant}}
        )

    # Rows stored in full by an earlier version read the same.
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alma_checkpoints SET metadata = jsonb_strip_nulls("
            " jsonb_build_object('step', step, 'source', source)) || metadata"
            " WHERE tenant_id = %s AND thread_id = %s",
            (tenant, thread),
        )
        conn.execute(
            "UPDATE alma_checkpoint_writes SET task_path = '~__pregel_pull, ' || node_id"
            " WHERE tenant_id = %s AND thread_id = %s AND task_path = '' AND node_id IS NOT NULL",
            (tenant, thread),
        )
    cps, writes = _stored(database, tenant, thread)
    assert _bare(cps[0][1]) == {"step": 3, "source": "loop", "parents": {}}
    assert writes[0][1] == "~__pregel_pull, respond"
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        check(AlmaSaver(p))
        assert (
            _history(AlmaSaver(p), {"configurable": {"thread_id": thread, "tenant_id": tenant}})
            == fresh_history
        )


def test_a_checkpoint_put_again_reads_its_new_step_and_source(pool, tenant) -> None:
    saver = AlmaSaver(pool)
    cfg = {"configurable": {"thread_id": f"f-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}
    cfg["configurable"]["checkpoint_ns"] = ""
    cp = empty_checkpoint()
    saver.put(cfg, cp, {"step": 1, "source": "loop"}, {})
    saved = saver.put(cfg, cp, {"step": 2, "source": "update", "x": 1}, {})
    saved["configurable"]["tenant_id"] = tenant
    assert _bare(saver.get_tuple(saved).metadata) == {"step": 2, "source": "update", "x": 1}
    saver.put(cfg, cp, {"x": 2}, {})
    assert _bare(saver.get_tuple(saved).metadata) == {"x": 2}


def _write_rows(database, tenant: str, thread: str) -> list[tuple]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT task_id, idx, type FROM alma_checkpoint_writes"
            " WHERE tenant_id = %s AND thread_id = %s ORDER BY task_id, idx",
            (tenant, thread),
        ).fetchall()


def test_a_tasks_writes_are_one_row_and_read_as_the_in_memory_saver(database, pool, tenant) -> None:
    """Several regular writes of one call: one row. Calls again for the same task keep
    the first write at each index and add the others, as InMemorySaver (and
    PostgresSaver) do; special writes and sends stay rows of their own."""
    from langgraph.checkpoint.base import ERROR
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.checkpoint.serde.types import TASKS

    from langgraph_alma.checkpoint._compress import PACKED_WRITES

    saver, mem = AlmaSaver(pool), InMemorySaver()
    thread = f"p-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    cp = empty_checkpoint()
    ours = saver.put(cfg, cp, {"step": 0}, {})
    ours["configurable"]["tenant_id"] = tenant
    theirs = mem.put({"configurable": {"thread_id": thread, "checkpoint_ns": ""}}, cp, {}, {})

    calls = [
        ("t1", [("a", 1), ("b", {"n": [2]})]),
        ("t1", [("a", 1), ("b", {"n": [2]})]),  # again: nothing new
        ("t1", [("a", 10), ("b", 20), ("c", 3), ("d", None)]),  # indexes 2, 3 are new
        ("t1", [("x", 9)]),  # index 0 is taken
        ("t1", [(ERROR, "boom")]),
        ("t2", [("a", 5)]),
        ("t2", [("a", 50), ("b", 6)]),  # index 1 is new
        ("t3", [(TASKS, "send-1"), ("a", 7)]),  # a send: rows of their own
    ]
    for task, writes in calls:
        saver.put_writes(ours, writes, task, "~__pregel_pull, n")
        mem.put_writes(theirs, writes, task, "~__pregel_pull, n")
        expected = mem.get_tuple(theirs).pending_writes
        assert saver.get_tuple(ours).pending_writes == expected, (task, writes)

    assert _write_rows(database, tenant, thread) == [
        ("t1", -1, "msgpack"),  # ERROR
        ("t1", 0, PACKED_WRITES),  # a, b
        ("t1", 2, "msgpack"),
        ("t1", 3, "null"),
        ("t2", 0, "msgpack"),
        ("t2", 1, "msgpack"),
        ("t3", 0, "msgpack"),
        ("t3", 1, "msgpack"),
    ]
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        fresh = AlmaSaver(p)
        assert fresh.get_tuple(ours).pending_writes == expected
        listed = list(fresh.list({"configurable": {"thread_id": thread, "tenant_id": tenant}}))
        assert [t.pending_writes for t in listed] == [expected]


def test_concurrent_calls_for_one_task_store_each_index_once(database, tenant) -> None:
    """Threads calling put_writes for one task at once (2, 3 or 4 writes each, on a
    pool): every index is read back once, from one of the calls, never twice."""
    import threading

    with ConnectionPool(database.url, min_size=4, max_size=8, kwargs=connection_kwargs()) as p:
        saver = AlmaSaver(p)
        thread = f"c-{uuid.uuid4().hex[:8]}"
        cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
        saved = saver.put(cfg, empty_checkpoint(), {"step": 0}, {})
        saved["configurable"]["tenant_id"] = tenant
        for task in range(10):
            barrier = threading.Barrier(6)
            errors: list[BaseException] = []

            def call(
                n: int,
                task: int = task,
                barrier: threading.Barrier = barrier,
                errors: list[BaseException] = errors,
            ) -> None:
                try:
                    barrier.wait()
                    writes = [(f"ch{i}", f"call{n}-{i}") for i in range(2 + n % 3)]
                    saver.put_writes(saved, writes, f"task-{task}", "~__pregel_pull, n")
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            threads = [threading.Thread(target=call, args=(n,)) for n in range(6)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors
        pending = AlmaSaver(p).get_tuple(saved).pending_writes
        for task in range(10):
            mine = [(ch, v) for t, ch, v in pending if t == f"task-{task}"]
            assert [ch for ch, _ in mine] == ["ch0", "ch1", "ch2", "ch3"]
            assert all(v.endswith(ch[2:]) for ch, v in mine)


def test_the_database_unpacks_what_pack_writes_packed(database) -> None:
    """`alma_unpack_writes` (the fallback of a packed call when the task has writes
    already) reads back each write of `pack_writes` exactly: indexes (negative ones of
    special channels too), non-ASCII channels, empty and NULL blobs, large blobs."""
    from langgraph_alma.checkpoint._compress import pack_writes

    writes = [
        (0, "messages", "msgpack", b"\x00\x01"),
        (1, "branch:to:b", "null", None),
        (2, "ch\u00e9\U0001f600", "bytes", b""),
        (3, "big", "zstd:msgpack", bytes(range(256)) * 300),
        (-1, "__error__", "json", b"{}"),
    ]
    with psycopg.connect(database.url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT * FROM alma_unpack_writes(%s)", (pack_writes(writes),)
        ).fetchall()
    assert [tuple(r) for r in rows] == writes


# -- migration 0012: the checkpoint packed ---------------------------------------------
class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def _chat() -> Any:
    def listen(state: Chat) -> dict[str, Any]:
        return {"turns": state.get("turns", 0) + 1}

    def respond(state: Chat) -> dict[str, Any]:
        return {"messages": [AIMessage(f"echo {len(state['messages'])}")]}

    builder = StateGraph(Chat)
    builder.add_node("listen", listen)
    builder.add_node("respond", respond)
    builder.add_edge(START, "listen")
    builder.add_edge("listen", "respond")
    builder.add_edge("respond", END)
    return builder


def _recording(saver: AlmaSaver) -> dict[str, dict[str, Any]]:
    """What LangGraph puts through `saver`, by checkpoint id (a deep copy, values aside)."""
    put_seen: dict[str, dict[str, Any]] = {}
    put = saver.put

    def recorded(config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        put_seen[checkpoint["id"]] = copy.deepcopy(
            {k: v for k, v in checkpoint.items() if k != "channel_values"}
        )
        return put(config, checkpoint, metadata, new_versions)

    saver.put = recorded  # type: ignore[method-assign]
    return put_seen


def _rows(database, tenant: str, thread: str) -> list[tuple]:
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT checkpoint_id, checkpoint, packed, blob_channels, blob_versions, node_id"
            " FROM alma_checkpoints WHERE tenant_id = %s AND thread_id = %s"
            " ORDER BY checkpoint_id",
            (tenant, thread),
        ).fetchall()


def _as_before_0012(database, saver: AlmaSaver, tenant: str, thread: str) -> None:
    """Rewrite a thread's checkpoint rows as stored before migration 0012: the whole
    checkpoint (but its id and values) as jsonb, no packed bytes, no blob_versions."""
    rows = [
        (
            Jsonb({k: v for k, v in t.checkpoint.items() if k not in ("id", "channel_values")}),
            tenant,
            thread,
            t.config["configurable"]["checkpoint_ns"],
            t.checkpoint["id"],
        )
        for t in saver.list({"configurable": {"thread_id": thread, "tenant_id": tenant}})
    ]
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.cursor().executemany(
            "UPDATE alma_checkpoints SET checkpoint = %s, packed = NULL, blob_versions = NULL"
            " WHERE tenant_id = %s AND thread_id = %s AND checkpoint_ns = %s"
            " AND checkpoint_id = %s",
            rows,
        )


def _read_all(pool_url: str, tenant: str, thread: str) -> list[tuple]:
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    with ConnectionPool(pool_url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        fresh = AlmaSaver(p)
        latest = fresh.get_tuple(cfg)
        return [latest] + [
            (t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes)
            for t in fresh.list(cfg)
        ]


def test_checkpoints_are_stored_packed_and_read_exactly(database, pool, tenant) -> None:
    """Each checkpoint LangGraph puts reads back equal to what it put (ts, versions,
    versions_seen, updated_channels), from the packed column, in this saver and a new
    one; rows rewritten as stored before migration 0012 read the same, and a graph goes
    on from them."""
    saver = AlmaSaver(pool)
    put_seen = _recording(saver)
    thread = f"k-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant}}
    graph = _chat().compile(checkpointer=saver)
    for i in range(3):
        graph.invoke({"messages": [HumanMessage(f"hello {i}")]}, cfg)

    rows = _rows(database, tenant, thread)
    assert len(rows) == len(put_seen) == 12
    for cid, jsonb, packed, blob_channels, blob_versions, _ in rows:
        assert jsonb is None and packed is not None
        versions = put_seen[cid]["channel_versions"]
        assert blob_versions == ",".join(versions[ch] for ch in blob_channels)
        # Well under the JSON it replaces (the jsonb was larger still).
        assert len(packed) * 2 < len(json.dumps(put_seen[cid]))
    assert any("messages" in r[3] for r in rows)

    def check(reader: AlmaSaver) -> list[tuple]:
        listed = list(reader.list(cfg))
        assert len(listed) == 12
        for t in listed:
            got = {k: v for k, v in t.checkpoint.items() if k != "channel_values"}
            assert got == put_seen[t.checkpoint["id"]]
            assert type(got["ts"]) is str
        return [(t.checkpoint, t.metadata, t.pending_writes) for t in listed]

    stored = check(saver)
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        assert check(AlmaSaver(p)) == stored
    before = _read_all(database.url, tenant, thread)

    _as_before_0012(database, saver, tenant, thread)
    assert all(
        r[1] is not None and r[2] is None and r[4] is None for r in _rows(database, tenant, thread)
    )
    assert _read_all(database.url, tenant, thread) == before
    with ConnectionPool(database.url, min_size=1, max_size=1, kwargs=connection_kwargs()) as p:
        fresh = AlmaSaver(p)
        assert check(fresh) == stored
        # A new saver goes on from the old rows: its first put reads its parent's.
        new_seen = _recording(fresh)
        put_seen.update(new_seen)
        out = _chat().compile(checkpointer=fresh).invoke({"messages": [HumanMessage("again")]}, cfg)
        assert [m.content for m in out["messages"]][-2:] == ["again", "echo 7"]
        assert out["turns"] == 4
    rows = _rows(database, tenant, thread)
    assert [r[5] for r in rows[-4:]] == [None, "__start__", "listen", "respond"]
    assert [r[5] for r in rows[:4]] == [None, "__start__", "listen", "respond"]


def _put_seen(saver: AlmaSaver, cfg: dict, seen: dict, scope: dict | None = None) -> dict:
    cp = empty_checkpoint()
    cp["v"] = 4  # (empty_checkpoint's is 2: stored as jsonb, for SQL to read its sends)
    cp["versions_seen"] = seen
    cp["channel_versions"] = {"x": "1000001aaaaaaa"}
    conf = {**cfg["configurable"], **(scope or {})}
    saved = saver.put({"configurable": conf}, cp, {"step": 1}, {})
    saved["configurable"]["tenant_id"] = conf["tenant_id"]
    return saved


@pytest.mark.parametrize("parent_format", ["packed", "jsonb"])
def test_a_put_of_a_parent_not_remembered_reads_its_versions_seen(
    database, pool, tenant, parent_format: str
) -> None:
    """A saver that did not put the parent reads the parent's row, in either format:
    the checkpoint's node_id names the nodes whose versions_seen changed since, and it
    takes the parent's scope when its config gives none."""
    thread = f"n-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    parent_seen = {"a": {"x": "1"}, "b": {"y": "1"}, "__input__": {}}
    parent = _put_seen(AlmaSaver(pool), cfg, parent_seen, {"agent": "helena"})
    if parent_format == "jsonb":
        _as_before_0012(database, AlmaSaver(pool), tenant, thread)
    assert [r[2] is not None for r in _rows(database, tenant, thread)] == [
        parent_format == "packed"
    ]
    child_seen = {"a": {"x": "2"}, "b": {"y": "1"}, "c": {"z": "1"}, "__input__": {"q": "1"}}
    child = _put_seen(AlmaSaver(pool), parent, child_seen)
    # A parent not stored: every node but __input__.
    orphan_cfg = {"configurable": {**cfg["configurable"], "checkpoint_id": "no-such-parent"}}
    orphan = _put_seen(AlmaSaver(pool), orphan_cfg, child_seen)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        found = dict(
            conn.execute(
                "SELECT checkpoint_id, (node_id, agent) FROM alma_checkpoints"
                " WHERE tenant_id = %s AND thread_id = %s",
                (tenant, thread),
            ).fetchall()
        )
    assert found[child["configurable"]["checkpoint_id"]] == ("a,c", "helena")
    assert found[orphan["configurable"]["checkpoint_id"]] == ("a,b,c", None)


def test_a_put_after_get_tuple_of_its_parent_reads_no_parent_row(
    database, pool, tenant, monkeypatch
) -> None:
    """A saver that read the parent (as LangGraph does before each run) remembers its
    versions_seen and scope: the child's put reads no parent row, and stores the same
    node_id and scope as a put that reads it."""
    from langgraph_alma.checkpoint import _writes

    thread = f"g-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    parent = _put_seen(AlmaSaver(pool), cfg, {"a": {"x": "1"}}, {"workflow_id": "wf"})
    reads: list[str] = []
    seen_of = _writes._seen_of
    monkeypatch.setattr(
        _writes, "_seen_of", lambda row, cid: reads.append(cid) or seen_of(row, cid)
    )
    child_seen = {"a": {"x": "1"}, "b": {"y": "1"}}
    looked_up = _put_seen(AlmaSaver(pool), parent, child_seen)
    assert reads == [parent["configurable"]["checkpoint_id"]]
    reader = AlmaSaver(pool)
    assert reader.get_tuple(parent) is not None
    remembered = _put_seen(reader, parent, child_seen)
    assert reads == [parent["configurable"]["checkpoint_id"]]  # no second read
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        found = dict(
            conn.execute(
                "SELECT checkpoint_id, (node_id, workflow_id) FROM alma_checkpoints"
                " WHERE tenant_id = %s AND thread_id = %s",
                (tenant, thread),
            ).fetchall()
        )
    assert found[looked_up["configurable"]["checkpoint_id"]] == ("b", "wf")
    assert found[remembered["configurable"]["checkpoint_id"]] == ("b", "wf")


def test_ts_is_stored_as_an_offset_only_when_rebuilt_exactly() -> None:
    cid = str(uuid6(clock_seq=1))
    now = datetime.now(UTC)
    for ts in (now.isoformat(), (now - timedelta(seconds=5)).isoformat()):
        assert ts_offset(ts, cid) is not None
    whole_second = now.replace(microsecond=0).isoformat()  # isoformat leaves out .000000
    assert ts_offset(whole_second, cid) is not None
    for ts in (
        now.isoformat().replace("+00:00", "Z"),
        now.astimezone(timezone(timedelta(hours=2))).isoformat(),
        now.replace(tzinfo=None).isoformat(),
        now.isoformat(sep=" "),
        "not a time",
        12,
    ):
        assert ts_offset(ts, cid) is None, ts
    assert ts_offset(now.isoformat(), str(uuid.uuid4())) is None  # no time in a uuid4
    assert ts_offset(now.isoformat(), "not-a-uuid") is None


@pytest.mark.parametrize(
    "checkpoint",
    [
        {"v": 4, "ts": "2024-07-31T20:14:19.804150+00:00", "channel_versions": {"a": 1}},
        {"v": 4, "ts": "yesterday", "channel_versions": {"a": "1", "b": 2.5, "c": None}},
        {"v": 4, "ts": 7, "channel_versions": {}, "versions_seen": {"n": {"a": "1"}}},
        {"v": 5, "extra": [1, {"k": "\u00e9\U0001f600"}], "channel_versions": {"b": "2"}},
        {"v": 4, "ts": datetime.now(UTC).isoformat(), "channel_versions": {"a": "3"}},
        # What orjson would not read back the same: the standard library's JSON.
        {"v": 4, "channel_versions": {"a": 2**70, "b": -(2**64)}, "x": 1.5},
        {"v": 4, "channel_versions": {"a": "1"}, "versions_seen": {"\ud800": {"a": "1"}}},
        {"v": 4, "channel_versions": {"a": None}, "updated_channels": None},
    ],
)
def test_pack_checkpoint_round_trips(checkpoint: dict[str, Any]) -> None:
    cid = str(uuid6(clock_seq=2))
    blob_channels = ["a", "b", "c", "d"]
    packed, blob_versions = pack_checkpoint(checkpoint, cid, blob_channels)
    versions = checkpoint["channel_versions"]
    assert blob_versions == ",".join(
        "" if versions.get(ch) is None else str(versions[ch]) for ch in blob_channels
    )
    assert unpack_checkpoint(packed, cid, blob_channels, blob_versions) == checkpoint
    packed, blob_versions = pack_checkpoint(checkpoint, cid, [])  # no blob channel
    assert blob_versions is None
    assert unpack_checkpoint(packed, cid, [], None) == checkpoint


def test_pack_checkpoint_leaves_to_jsonb_what_its_columns_cannot_hold() -> None:
    """Older formats (SQL reads their sends), blob versions with a comma or empty."""
    assert pack_checkpoint({"v": 3, "channel_versions": {}}, "x", []) is None
    assert pack_checkpoint({"channel_versions": {}}, "x", []) is None
    assert pack_checkpoint({"v": 4, "channel_versions": {"a": "1,2"}}, "x", ["a"]) is None
    assert pack_checkpoint({"v": 4, "channel_versions": {"a": ""}}, "x", ["a"]) is None
    assert pack_checkpoint({"v": 4, "channel_versions": {"a": ""}}, "x", ["b"]) is not None
    with pytest.raises(ValueError):
        pack_checkpoint({"v": 4, "channel_versions": {"a": math.nan}}, "x", [])


def test_blob_versions_the_column_cannot_hold_are_stored_as_jsonb(database, pool, tenant) -> None:
    """A version with a comma: the row keeps the jsonb format, and reads the same."""
    saver = AlmaSaver(pool)
    thread = f"j-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    for version in ("1,2", "3"):
        cp = empty_checkpoint()
        cp["v"] = 4
        cp["channel_values"] = {"a": [{"k": version}], "b": 1}
        cp["channel_versions"] = {"a": version, "b": version}
        saver.put(cfg, cp, {}, {"a": version})
        fresh = AlmaSaver(pool).get_tuple(cfg)
        assert fresh.checkpoint["channel_values"] == cp["channel_values"]
        assert fresh.checkpoint["channel_versions"] == cp["channel_versions"]
    rows = _rows(database, tenant, thread)
    assert [(r[1] is None, r[3], r[4]) for r in rows] == [(False, ["a"], None), (True, ["a"], "3")]


def test_a_nan_version_is_refused_before_anything_is_written(database, pool, tenant) -> None:
    saver = AlmaSaver(pool)
    thread = f"v-{uuid.uuid4().hex[:8]}"
    cfg = {"configurable": {"thread_id": thread, "tenant_id": tenant, "checkpoint_ns": ""}}
    cp = empty_checkpoint()
    cp["v"] = 4
    cp["channel_versions"] = {"a": math.inf}
    with pytest.raises(InvalidChannelValue):
        saver.put(cfg, cp, {}, {})
    assert _rows(database, tenant, thread) == []
