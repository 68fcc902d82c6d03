"""What a small graph's checkpoints cost PostgreSQL (issue 21): a run with durability
"async" (LangGraph's default) commits its checkpoints without waiting for the WAL flush
while another step follows, and its last one (which flushes them all) synchronously;
writes that may end a run (an error, an interrupt) commit synchronously; the nodes that
produced a checkpoint are computed by the saver when it put the parent itself, the same
as PostgreSQL computes them otherwise."""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import psycopg
import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from psycopg_pool import ConnectionPool
from typing_extensions import TypedDict

from langgraph_alma import AlmaSaver, AsyncAlmaSaver
from langgraph_alma.checkpoint import _base, _coalesce
from langgraph_alma.config import Settings
from langgraph_alma.db.connect import connection_kwargs
from langgraph_alma.db.plan import Plan


class State(TypedDict, total=False):
    n: int
    fail: bool


def _graph(saver: Any) -> Any:
    def boom(st: State) -> State:
        if st.get("fail"):
            raise ValueError("boom")
        return {"n": st["n"] + 1}

    builder = StateGraph(State)
    builder.add_node("a", lambda st: {"n": st["n"] + 1})
    builder.add_node("b", lambda st: {"n": st["n"] + 1})
    builder.add_node("c", boom)
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


def _spy_outbox(monkeypatch: pytest.MonkeyPatch, see: Callable[[Any], None]) -> None:
    """Call `see(sql)` for every statement the outbox's plans send (sync and async)."""

    def spying(plan: Plan[Any]) -> Plan[Any]:
        results = None
        try:
            while True:
                batch = plan.send(results) if results is not None else next(plan)
                for sql in batch:
                    see(sql)
                results = yield batch
        except StopIteration as done:
            return done.value

    real_run, real_arun = _coalesce.run_plan, _coalesce.arun_plan
    monkeypatch.setattr(_coalesce, "run_plan", lambda conn, plan: real_run(conn, spying(plan)))

    async def arun(conn: Any, plan: Plan[Any]) -> Any:
        return await real_arun(conn, spying(plan))

    monkeypatch.setattr(_coalesce, "arun_plan", arun)


def _carried(sql: Any) -> list[tuple[str, str]]:
    """(kind, synchronous_commit) of each checkpoint put and write one statement of the
    outbox carries (several when merged into one statement), or of its WAL flush."""
    query, params = str(sql.query), sql.params
    if "%(commit)s" in query and "__0)s" in query:  # writes merged into one statement
        parts = sorted({int(k.rsplit("__", 1)[1]) for k in params if "__" in k})
        kinds = ["put" if f"checkpoint__{i}" in params else "writes" for i in parts]
        return [(kind, params["commit"]) for kind in kinds]
    if "INSERT INTO alma_checkpoints" in query:
        return [("put", params["commit"])]
    if "INSERT INTO alma_checkpoint_writes" in query:
        return [("writes", params["commit"])]
    if "pg_current_xact_id" in query:
        return [("flush", "on")]
    return []


@pytest.fixture
def sent(monkeypatch) -> Iterator[list[tuple[str, str]]]:
    """(kind, synchronous_commit) of every checkpoint put and write the outbox sends."""
    seen: list[tuple[str, str]] = []
    _spy_outbox(monkeypatch, lambda sql: seen.extend(_carried(sql)))
    yield seen


@pytest.fixture
def pool(database) -> Iterator[ConnectionPool]:
    with ConnectionPool(database.url, min_size=1, max_size=2, kwargs=connection_kwargs()) as p:
        yield p


def _cfg(tenant: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"c-{uuid.uuid4().hex[:8]}", "tenant_id": tenant}}


def test_async_run_flushes_only_its_last_checkpoint(pool, tenant, sent) -> None:
    cfg = _cfg(tenant)
    assert _graph(AlmaSaver(pool)).invoke({"n": 0}, cfg)["n"] == 3
    puts = [commit for kind, commit in sent if kind == "put"]
    assert len(puts) == 5  # input, after START, a, b, c
    assert puts == ["off", "off", "off", "off", "on"]
    writes = [commit for kind, commit in sent if kind == "writes"]
    # The last step's writes ride with the last checkpoint (`_coalesce.Hold`): its commit.
    assert len(writes) == 4 and set(writes[:-1]) == {"off"}


async def test_async_saver_flushes_only_its_last_checkpoint(database, tenant, sent) -> None:
    async with AsyncAlmaSaver.from_conn_string(database.url) as saver:
        assert (await _graph(saver).ainvoke({"n": 0}, _cfg(tenant)))["n"] == 3
    assert [commit for kind, commit in sent if kind == "put"] == ["off"] * 4 + ["on"]


@pytest.fixture
def statements(monkeypatch) -> list[list[tuple[str, str]]]:
    """Per statement the outbox sends with checkpoint puts or writes: (kind,
    synchronous_commit) of each it carries (`_carried`)."""
    seen: list[list[tuple[str, str]]] = []

    def see(sql: Any) -> None:
        if (carried := _carried(sql)) and carried[0][0] != "flush":
            seen.append(carried)

    _spy_outbox(monkeypatch, see)
    return seen


def _sync_durability_rides(statements: list[list[tuple[str, str]]]) -> None:
    """Each task write of a durability="sync" run went in one statement with the
    checkpoint put after its superstep, and every statement committed synchronously."""
    kinds = [[kind for kind, _ in statement] for statement in statements]
    assert kinds == [["put"]] + [["writes", "put"]] * 4  # the input; START, a, b, c
    assert {commit for statement in statements for _, commit in statement} == {"on"}


def test_sync_durability_writes_ride_with_the_checkpoint(
    pool, tenant, statements, monkeypatch
) -> None:
    """With durability "sync" LangGraph waits for each checkpoint put, never for the task
    writes before it: they are held for that put (a hold long enough never to run out
    here) and commit with it, synchronously; what a new saver reads is the whole run."""
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0)
    cfg = _cfg(tenant)
    assert _graph(AlmaSaver(pool)).invoke({"n": 0}, cfg, durability="sync")["n"] == 3
    _sync_durability_rides(statements)
    fresh = AlmaSaver(pool)
    assert [t.metadata["step"] for t in fresh.list(cfg)] == [3, 2, 1, 0, -1]
    assert fresh.get_tuple(cfg).checkpoint["channel_values"]["n"] == 3


async def test_async_saver_sync_durability_writes_ride_with_the_checkpoint(
    database, tenant, statements, monkeypatch
) -> None:
    monkeypatch.setattr(_base, "HOLD_SECONDS", 30.0)
    async with AsyncAlmaSaver.from_conn_string(database.url) as saver:
        graph = _graph(saver)
        assert (await graph.ainvoke({"n": 0}, _cfg(tenant), durability="sync"))["n"] == 3
    _sync_durability_rides(statements)


@pytest.mark.parametrize("durability", ["sync", "exit"])
def test_sync_and_exit_runs_flush_every_checkpoint(pool, tenant, sent, durability) -> None:
    _graph(AlmaSaver(pool)).invoke({"n": 0}, _cfg(tenant), durability=durability)
    puts = [commit for kind, commit in sent if kind == "put"]
    assert puts and set(puts) == {"on"}


def test_setting_off_flushes_every_checkpoint(pool, tenant, sent, monkeypatch) -> None:
    monkeypatch.setenv("ALMA_CHECKPOINTS_ASYNC_COMMIT", "false")
    saver = AlmaSaver(pool)
    assert saver.core.checkpoints_async_commit is False
    _graph(saver).invoke({"n": 0}, _cfg(tenant))
    assert {commit for kind, commit in sent if kind == "put"} == {"on"}


def test_direct_put_flushes(pool, tenant, sent) -> None:
    cfg = _cfg(tenant)
    cfg["configurable"]["checkpoint_ns"] = ""
    cp = empty_checkpoint()
    cp["updated_channels"] = ["branch:to:a"]  # even naming a next node: no run, no wait
    AlmaSaver(pool).put(cfg, cp, {"step": 0}, {})
    assert sent == [("put", "on")]


def test_a_failing_run_flushes_its_error_and_what_follows(pool, tenant, sent) -> None:
    """The error may end the run: it commits synchronously (flushing what came before),
    and so does any checkpoint of the run still on its way after it."""
    cfg = _cfg(tenant)
    saver = AlmaSaver(pool)
    with pytest.raises(ValueError, match="boom"):
        _graph(saver).invoke({"n": 0, "fail": True}, cfg)
    error = sent.index(("writes", "on"))
    after = sent[error + 1 :]
    # Each checkpoint put after the error commits synchronously, or is flushed right after.
    for i, (kind, commit) in enumerate(after):
        if kind == "put" and commit == "off":
            assert after[i + 1] == ("flush", "on"), sent
    assert not after or after[-1][1] == "on", sent
    state = _graph(saver).get_state(cfg)
    assert state.next == ("c",) and state.tasks[0].error is not None


def test_a_run_that_wrote_an_error_flushes_its_next_checkpoints(pool, tenant) -> None:
    saver = AlmaSaver(pool)
    run = object()
    cfg = {"configurable": {"thread_id": "t", "checkpoint_id": "c", "__pregel_runtime": run}}
    cp = empty_checkpoint()
    cp["updated_channels"] = ["branch:to:b"]
    assert saver.core.put_waits_for_commit(cfg, cp) is False
    assert saver.core.waits_for_commit(cfg, [("__error__", "boom")]) is True
    assert saver.core.put_waits_for_commit(cfg, cp) is True
    other = {"configurable": {**cfg["configurable"], "__pregel_runtime": object()}}
    assert saver.core.put_waits_for_commit(other, cp) is False


def _stored(database, tenant: str, thread: str) -> list[tuple[Any, ...]]:
    """The nodes and scope of a thread's checkpoints, oldest first."""
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT node_id, project_id, agent, workflow_id FROM alma_checkpoints"
            " WHERE tenant_id = %s AND thread_id = %s ORDER BY checkpoint_id",
            (tenant, thread),
        ).fetchall()


def _fan_out(saver: Any) -> Any:
    """Two nodes in one step whose names sort differently by collation and code point."""
    builder = StateGraph(State)
    builder.add_node("Zeta", lambda st: {})
    builder.add_node("alpha", lambda st: {"n": 1})
    builder.add_node("omega", lambda st: {"n": 2})
    builder.add_edge(START, "Zeta")
    builder.add_edge(START, "alpha")
    builder.add_edge(["Zeta", "alpha"], "omega")
    builder.add_edge("omega", END)
    return builder.compile(checkpointer=saver)


@pytest.fixture
def put_lookups(monkeypatch) -> list[bool]:
    """For each checkpoint put sent, whether its statement reads the parent's row."""
    seen: list[bool] = []

    def see(sql: Any) -> None:
        if "INSERT INTO alma_checkpoints" in str(sql.query):
            seen.append("FROM alma_checkpoints p" in str(sql.query))

    _spy_outbox(monkeypatch, see)
    return seen


def test_nodes_and_scope_the_saver_computes_are_those_postgres_computes(
    database, pool, tenant, put_lookups
) -> None:
    """The saver that put a checkpoint gives the next one its nodes and its scope (the
    config's, else the parent's) itself: no lookup of the parent's row in PostgreSQL; a
    saver that remembers nothing lets PostgreSQL read them from the parent: same rows.
    A fork from an older checkpoint reads the parent's row, and remembers the scope
    PostgreSQL stored for the next puts."""
    remembering, forgetting = AlmaSaver(pool), AlmaSaver(pool, settings=Settings(cache_size=0))
    stored, lookups = [], []
    for saver in (remembering, forgetting):
        del put_lookups[:]
        graph = _fan_out(saver)
        cfg = _cfg(tenant)
        scoped = {**cfg["configurable"], "project_id": "p1", "agent": "ag", "workflow_id": "wf"}
        graph.invoke({"n": 0}, {"configurable": scoped})
        graph.invoke({"n": 1}, cfg)  # no scope in the config: the parent's
        graph.invoke({"n": 2}, {"configurable": {**cfg["configurable"], "agent": "ag2"}})
        older = list(graph.get_state_history(cfg))[6].config
        fork = graph.update_state(
            {"configurable": {k: v for k, v in older["configurable"].items() if k != "agent"}},
            {"n": 5},
        )
        graph.invoke({"n": 3}, fork)
        stored.append(_stored(database, tenant, cfg["configurable"]["thread_id"]))
        lookups.append(list(put_lookups))
    assert stored[0] == stored[1]
    nodes = [row[0] for row in stored[0]]
    assert "Zeta,alpha" in nodes and "omega" in nodes
    scopes = {row[1:] for row in stored[0]}
    assert scopes == {("p1", "ag", "wf"), ("p1", "ag2", "wf")}
    # Remembering: at most the fork (its parent is not the last put) reads the parent's
    # row; none with LangGraph 1.0, whose update_state leaves the saver remembering it.
    assert lookups[0].count(True) <= 1 and len(lookups[0]) == len(lookups[1]) > 10
    # Forgetting: every put with a parent does (all but the thread's first).
    assert lookups[1].count(True) == len(lookups[1]) - 1


def test_list_pauses_the_garbage_collector_once(pool, tenant, monkeypatch) -> None:
    """Re-enabled after each checkpoint, the collector ran once per checkpoint a list
    decodes (half its CPU); it is paused once over all of them, and enabled after."""
    import gc

    from langgraph_alma.checkpoint import _delta

    class Listed(TypedDict):
        items: Annotated[list[str], operator.add]

    builder = StateGraph(Listed)
    builder.add_node("a", lambda st: {"items": ["a"]})
    builder.add_edge(START, "a")
    builder.add_edge("a", END)
    graph = builder.compile(checkpointer=AlmaSaver(pool))
    cfg = _cfg(tenant)
    for n in range(5):
        graph.invoke({"items": [str(n)]}, cfg)
    enables: list[int] = []
    real = _delta.gc.enable

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(gc, name)

        def enable(self) -> None:
            enables.append(1)
            real()

    monkeypatch.setattr(_delta, "gc", Counting())
    history = list(AlmaSaver(pool).list(cfg))
    assert len(history) == 15 and len(history[0].checkpoint["channel_values"]["items"]) == 10
    assert len(enables) == 1 and gc.isenabled()


def test_hot_statements_fit_psycopg_query_cache() -> None:
    """psycopg converts a statement's text on every call unless it is at most 4 KB
    (`MAX_CACHED_STATEMENT_LENGTH`); the hot statements are sent without their comments."""
    from psycopg._queries import MAX_CACHED_STATEMENT_LENGTH

    from langgraph_alma.checkpoint import _sql

    where = "AND c.thread_id = %(thread)s AND c.checkpoint_ns = %(ns)s AND c.checkpoint_id = %(id)s"
    select = _sql.SELECT.format(where=where, limit="LIMIT %(limit)s")
    for query in (select, *_sql.PUT.values(), *_sql.WRITES.values()):
        assert len(query.encode()) <= MAX_CACHED_STATEMENT_LENGTH
        assert "--" not in query and "\n" not in query
    with pytest.raises(ValueError, match="do not compact"):
        _sql.compact("SELECT 'a -- b'")
    assert _sql.compact("SELECT 1 -- one\n  , 'x'") == "SELECT 1 , 'x'"
