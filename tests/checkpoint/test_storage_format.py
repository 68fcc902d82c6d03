"""What a checkpoint row and a pending write do not store twice (migration 0011's
format): a checkpoint's metadata leaves out the `step` and `source` its columns hold, a
pull task's write leaves out the task path its node_id names. Reads (get_tuple, list,
a metadata filter, the history of a graph) see them as written, in this saver and a new
one, and read rows stored in full before alike."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from psycopg_pool import ConnectionPool

from langgraph_alma import AlmaSaver
from langgraph_alma.db.connect import connection_kwargs


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
