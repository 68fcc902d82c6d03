"""`import_langgraph_postgres` and `alma import --from langgraph-postgres`, against data
written by LangGraph's own PostgresSaver and PostgresStore (langgraph-checkpoint-postgres):
a graph with messages, a subgraph, an interrupt with pending writes, a resume and a fork;
store items with an index. After the import AlmaSaver and AlmaStore read back what
LangGraph's classes read; a second import changes nothing; a failure or a kill midway
leaves nothing."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import pytest
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import create_checkpoint, empty_checkpoint
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.checkpoint.serde.types import TASKS
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.store.base import BaseStore
from langgraph.store.postgres import PostgresStore
from langgraph.types import Command, Send, interrupt
from psycopg_pool import ConnectionPool
from typer.testing import CliRunner

from langgraph_alma import AlmaSaver, AlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.embeddings import HashingEmbeddings
from langgraph_alma.errors import TransferError
from langgraph_alma.transfer.langgraph_postgres import import_langgraph_postgres
from tests.conftest import _create_database, _drop_database

ROOT = Path(__file__).parents[2]
DIMS = 64
EMBED = HashingEmbeddings(dims=DIMS)
INDEX: dict[str, Any] = {"dims": DIMS, "embed": EMBED, "fields": ["text"]}
THREADS = ("chat", "asked", "resumed", "forked")


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    notes: Annotated[list[str], operator.add]


def _think(state: State) -> dict[str, Any]:
    said = state["messages"][-1].content
    if "ask" in said:
        answer = interrupt(f"may I answer {said!r}?")
        return {"notes": [f"asked: {answer}"]}
    return {"notes": [f"thought about {said}"]}


def _remember(state: State, *, store: BaseStore) -> dict[str, Any]:
    said = state["messages"][-1].content
    store.put(("memories", "ana"), f"m-{len(state['messages'])}", {"text": said})
    return {"notes": [f"remembered {said}"]}


def _reply(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(f"echo {state['messages'][-1].content}")]}


def build_graph() -> StateGraph:
    sub = StateGraph(State)
    sub.add_node("think", _think)
    sub.add_edge(START, "think")
    sub.add_edge("think", END)
    builder = StateGraph(State)
    builder.add_node("remember", _remember)
    builder.add_node("sub", sub.compile())
    builder.add_node("reply", _reply)
    builder.add_edge(START, "remember")  # fan-out: remember and the subgraph in parallel
    builder.add_edge(START, "sub")
    builder.add_edge(["remember", "sub"], "reply")
    builder.add_edge("reply", END)
    return builder


def _config(prefix: str, thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"{prefix}-{thread}"}}


def _say(text: str) -> dict[str, Any]:
    return {"messages": [HumanMessage(text, id=str(uuid.uuid5(uuid.NAMESPACE_OID, text)))]}


def seed_langgraph(url: str, prefix: str) -> None:
    """Run the graph on LangGraph's own PostgresSaver and PostgresStore at `url`."""
    with (
        PostgresSaver.from_conn_string(url) as saver,
        PostgresStore.from_conn_string(url, index=INDEX) as store,
    ):
        saver.setup()
        store.setup()
        graph = build_graph().compile(checkpointer=saver, store=store)
        for text in ("hello", "how are you", "bye"):
            graph.invoke(_say(text), _config(prefix, "chat"))
        graph.invoke(_say("hi"), _config(prefix, "asked"))
        graph.invoke(_say("please ask me"), _config(prefix, "asked"))  # pending: interrupted
        graph.invoke(_say("ask again"), _config(prefix, "resumed"))
        graph.invoke(Command(resume="yes"), _config(prefix, "resumed"))
        graph.invoke(_say("first"), _config(prefix, "forked"))
        graph.invoke(_say("second"), _config(prefix, "forked"))
        history = list(graph.get_state_history(_config(prefix, "forked")))
        earlier = next(s for s in history if s.metadata["step"] == 1)
        graph.update_state(earlier.config, _say("a fork"), as_node="reply")  # a branch
        graph.invoke(None, _config(prefix, "forked"))
        ns = ("docs", prefix)
        store.put(ns, "car", {"text": "the red car is fast", "n": 1})
        store.put(ns, "garden", {"text": "a quiet green garden", "n": 2})
        store.put(ns, "raw", {"text": "not embedded at all"}, index=False)
        store.put(ns, "list", {"items": [{"t": "blue boat"}, {"t": "sea"}]}, index=["items[*].t"])
        store.put(ns, "whole", {"about": "tea and biscuits"}, index=["$"])
        store.put(ns, "ttl", {"text": "lasts an hour"}, ttl=60)
        store.put(ns, "moved", {"text": "old words"})
        store.put(ns, "moved", {"other": "violin concerto"}, index=["other"])  # "text": stale
        store.put(ns, "gone", {"text": "already expired"}, ttl=60)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE store SET expires_at = now() - interval '1 minute' "
            "WHERE prefix = %s AND key = 'gone'",
            (".".join(ns),),
        )


@pytest.fixture(scope="module")
def source(server) -> Iterator[tuple[Any, str]]:
    """A database where LangGraph's classes wrote a prefix's threads and items (and ours
    are migrated, as when a user switches in place); (database, prefix)."""
    db = _create_database(server)
    prefix = uuid.uuid4().hex[:8]
    seed_langgraph(db.admin_url, prefix)
    yield db, prefix
    _drop_database(server, db)


@pytest.fixture
def target(source, tenant) -> Iterator[tuple[AlmaStore, AlmaSaver]]:
    db, _ = source
    with ConnectionPool(db.url, min_size=1, max_size=3, kwargs=connection_kwargs()) as pool:
        yield AlmaStore(pool, tenant_id=tenant, index=INDEX), AlmaSaver(pool, tenant_id=tenant)


def _strip_tenant(obj: Any) -> Any:
    """Configs AlmaSaver hands out for a non-default tenant name it; LangGraph's don't."""
    if isinstance(obj, dict):
        return {k: _strip_tenant(v) for k, v in obj.items() if k != "tenant_id"}
    if isinstance(obj, list):
        return [_strip_tenant(v) for v in obj]
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):  # StateSnapshot, PregelTask
        return {k: _strip_tenant(v) for k, v in obj._asdict().items()}
    if isinstance(obj, tuple):
        return tuple(_strip_tenant(v) for v in obj)
    return obj


def _tuples(saver: Any, thread: str) -> list[Any]:
    return [
        _strip_tenant((t.config, t.checkpoint, t.metadata, t.parent_config, t.pending_writes))
        for t in saver.list({"configurable": {"thread_id": thread}})
    ]


def _counts(admin_url: str, tenant: str) -> tuple[int, ...]:
    with psycopg.connect(admin_url) as conn:
        return conn.execute(
            """SELECT (SELECT count(*) FROM alma_checkpoints WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM alma_checkpoint_blobs WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM alma_checkpoint_writes WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM alma_store WHERE tenant_id = %(t)s),
                      (SELECT count(*) FROM alma_store_vectors WHERE tenant_id = %(t)s),
                      (SELECT max(updated_at)::text FROM alma_store WHERE tenant_id = %(t)s)""",
            {"t": tenant},
        ).fetchone()


def test_imported_threads_read_back_as_postgres_saver_reads_them(source, target) -> None:
    db, prefix = source
    store, saver = target
    report = import_langgraph_postgres(store, saver, db.admin_url)
    mine = [t for t in report.threads if t.startswith(prefix)]
    assert sorted(mine) == sorted(f"{prefix}-{t}" for t in THREADS)
    assert report.checkpoints > 0 and report.writes > 0
    assert report.skipped["expired items"] == 1
    assert report.skipped["stale vectors (their field left the item)"] == 1
    with (
        PostgresSaver.from_conn_string(db.admin_url) as pg_saver,
        PostgresStore.from_conn_string(db.admin_url, index=INDEX) as pg_store,
    ):
        pg_graph = build_graph().compile(checkpointer=pg_saver, store=pg_store)
        alma_graph = build_graph().compile(checkpointer=saver, store=store)
        subgraph_namespaces = 0
        for thread in THREADS:
            config = _config(prefix, thread)
            theirs = _tuples(pg_saver, config["configurable"]["thread_id"])
            assert _tuples(saver, config["configurable"]["thread_id"]) == theirs
            subgraph_namespaces += sum(1 for t in theirs if t[0]["configurable"]["checkpoint_ns"])
            assert _strip_tenant(alma_graph.get_state(config, subgraphs=True)) == _strip_tenant(
                pg_graph.get_state(config, subgraphs=True)
            )
            assert _strip_tenant(list(alma_graph.get_state_history(config))) == _strip_tenant(
                list(pg_graph.get_state_history(config))
            )
        assert subgraph_namespaces > 0  # the subgraph's checkpoints came along
        asked = alma_graph.get_state(_config(prefix, "asked"))
        assert asked.next and asked.interrupts  # still waiting, as it was

        # The thread carries on where it stopped, on AlmaSaver.
        alma_graph.invoke(Command(resume="sure"), _config(prefix, "asked"))
        notes = alma_graph.get_state(_config(prefix, "asked")).values["notes"]
        assert "asked: sure" in notes

        # Store: the same items, times and search results; the stored vectors are found.
        ns = ("docs", prefix)
        for item in pg_store.search(ns, limit=100, refresh_ttl=False):
            if item.key == "gone":
                continue  # expired (PostgresStore still lists it until swept)
            got = store.get(item.namespace, item.key)
            assert got is not None and got.value == item.value, item.key
            assert (got.created_at, got.updated_at) == (item.created_at, item.updated_at)
        assert store.get(ns, "gone") is None
        for query in ("fast red car", "boat on the blue sea", "tea biscuits", "violin"):
            theirs = [i.key for i in pg_store.search(ns, query=query, limit=3, refresh_ttl=False)]
            mine = [i.key for i in store.search(ns, query=query, limit=3)]
            assert mine[0] == theirs[0], query
        memories = pg_store.search(("memories", "ana"), query="how are you", limit=1)
        assert store.search(("memories", "ana"), query="how are you", limit=1)[0].key == (
            memories[0].key
        )


def test_checkpoints_older_than_v4_keep_their_pending_sends(source, target) -> None:
    """PostgresSaver moves a v<4 checkpoint's parent's pending sends into its
    `__pregel_tasks` channel on read; the import keeps what PostgresSaver reads."""
    db, prefix = source
    store, saver = target
    thread = f"{prefix}-v3-{uuid.uuid4().hex[:6]}"
    with PostgresSaver.from_conn_string(db.admin_url) as pg_saver:
        parent = {**empty_checkpoint(), "v": 3}
        saved = pg_saver.put(
            {"configurable": {"thread_id": thread, "checkpoint_ns": ""}},
            parent,
            {"source": "loop", "step": 0},
            {},
        )
        sends = [Send("work", {"n": 1}), Send("work", {"n": 2})]
        pg_saver.put_writes(saved, [(TASKS, send) for send in sends], "t1")
        child = {**create_checkpoint(parent, None, 1), "v": 3}
        pg_saver.put(saved, child, {"source": "loop", "step": 1}, {})
        theirs = _tuples(pg_saver, thread)
    assert theirs[0][1]["channel_values"][TASKS] == sends
    import_langgraph_postgres(store, saver, db.admin_url)
    mine = _tuples(saver, thread)
    for tuples in (theirs, mine):  # a version PostgresSaver draws at random on each read
        tuples[0][1]["channel_versions"].pop(TASKS)
    assert mine == theirs


def test_lists_are_stored_as_deltas(source, target, tenant) -> None:
    db, prefix = source
    store, saver = target
    import_langgraph_postgres(store, saver, db.admin_url)
    with psycopg.connect(db.admin_url) as conn:
        deltas = conn.execute(
            """SELECT count(*) FILTER (WHERE base_version IS NOT NULL), count(*)
               FROM alma_checkpoint_blobs WHERE tenant_id = %s AND thread_id = %s
                 AND checkpoint_ns = '' AND channel = 'messages'""",
            (tenant, f"{prefix}-chat"),
        ).fetchone()
    assert deltas[1] > 3 and deltas[0] == deltas[1] - 1  # only the first version whole


def test_second_import_changes_nothing(source, target, tenant) -> None:
    db, _ = source
    store, saver = target
    first = import_langgraph_postgres(store, saver, db.admin_url)
    before = _counts(db.admin_url, tenant)
    second = import_langgraph_postgres(store, saver, db.admin_url)
    assert _counts(db.admin_url, tenant) == before
    assert (second.checkpoints, second.writes, second.items, second.vectors) == (0, 0, 0, 0)
    assert second.skipped["checkpoints already imported"] == first.checkpoints
    assert second.skipped["pending writes already imported"] == first.writes
    assert second.skipped["items already imported (same value)"] == first.items


def test_a_failure_midway_imports_nothing(source, target, tenant) -> None:
    db, prefix = source
    store, saver = target
    huge = {"text": "x" * (2 * 1024 * 1024)}  # over AlmaStore's 1 MiB value limit
    with PostgresStore.from_conn_string(db.admin_url) as pg_store:
        pg_store.put(("zzz", prefix), "huge", huge)  # sorts last: after the checkpoints
    try:
        with pytest.raises(TransferError, match="huge"):
            import_langgraph_postgres(store, saver, db.admin_url)
    finally:
        with PostgresStore.from_conn_string(db.admin_url) as pg_store:
            pg_store.delete(("zzz", prefix), "huge")
    assert _counts(db.admin_url, tenant)[:5] == (0, 0, 0, 0, 0)


KILLED = """
import sys, time
from psycopg_pool import ConnectionPool
from langgraph_alma import AlmaSaver, AlmaStore
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.transfer.langgraph_postgres import import_langgraph_postgres

url, source, tenant = sys.argv[1:4]

def progress(done, total):
    if done:
        print("started", flush=True)
        time.sleep(60)

with ConnectionPool(url, min_size=1, max_size=2, kwargs=connection_kwargs()) as pool:
    import_langgraph_postgres(
        AlmaStore(pool, tenant_id=tenant), AlmaSaver(pool, tenant_id=tenant), source,
        progress=progress,
    )
"""


def test_a_killed_import_leaves_nothing_and_can_run_again(source, target, tenant) -> None:
    db, _ = source
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, db.url, db.admin_url, tenant],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "started", proc.stderr.read()
        assert _counts(db.admin_url, tenant)[0] == 0  # not committed yet
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(30)
    assert _counts(db.admin_url, tenant)[:5] == (0, 0, 0, 0, 0)
    store, saver = target
    report = import_langgraph_postgres(store, saver, db.admin_url)
    assert report.checkpoints > 0 and _counts(db.admin_url, tenant)[0] == report.checkpoints


def test_cli_import_from_langgraph_postgres(source, tenant) -> None:
    from langgraph_alma.cli import app

    db, prefix = source
    args = ["--url", db.url, "--tenant", tenant, "import", "--from", "langgraph-postgres"]
    result = CliRunner().invoke(app, [*args, db.admin_url])
    assert result.exit_code == 0, result.output
    assert "checkpoints" in result.output and "items" in result.output
    assert "1 expired items" in result.output
    again = CliRunner().invoke(app, [*args, db.admin_url])
    assert again.exit_code == 0, again.output
    assert "imported 0 checkpoints" in again.output and "already imported" in again.output
    with AlmaSaver.from_conn_string(db.url, tenant_id=tenant) as saver:
        assert saver.get_tuple(_config(prefix, "chat")) is not None


def test_a_url_without_langgraph_tables_is_refused(server, target) -> None:
    db = _create_database(server)
    try:
        store, saver = target
        with pytest.raises(TransferError, match="no LangGraph tables"):
            import_langgraph_postgres(store, saver, db.admin_url)
    finally:
        _drop_database(server, db)
