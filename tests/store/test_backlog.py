"""The HNSW backlog (migration 0013, `store/_backlog.py`): puts leave HNSW upkeep to an
indexer; every item is searchable as its put returns (the backlog is ranked exactly), the
same before and after the drain; the indexer loses and doubles nothing beside concurrent
puts, acts per tenant, stops on close; backpressure and small tenants.

Stores here use `exact_search_max=5`, so searches past 5 candidates take the HNSW path
(the one the backlog changes) rather than the exact one.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time

import numpy as np
import psycopg
import pytest
from langgraph.store.base import PutOp

from langgraph_alma import AlmaStore, AsyncAlmaStore
from tests.store.conftest import DIMS, afake_embed, fake_embed, fake_embed_one
from tests.store.conftest import vector_counts as _backlog


def _word(i: int) -> str:
    # the toy embedder ignores words with digits: letters only
    return "".join("abcdefghij"[int(c)] for c in str(i)) + "q"


VOCAB = [_word(i) for i in range(400)]


def _text(rng: random.Random, n: int = 6) -> str:
    return " ".join(rng.choices(VOCAB, k=n))


def _index(embed=fake_embed) -> dict:
    return {"dims": DIMS, "embed": embed, "fields": ["text"]}


@pytest.fixture(autouse=True)
def _no_background(monkeypatch) -> None:
    """Tests drive the indexer themselves unless they turn it on."""
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "false")


def _answers(store, ns) -> list[list[tuple[str, float]]]:
    """Vector-only, hybrid, filtered and prefix searches: (key, score) of each hit."""
    searches = [
        store.search(ns, query="ahq bfq zzzq", limit=8),  # words no item holds: vectors only
        store.search(ns, query="ahq cdq", limit=8),  # hybrid
        store.search(ns, query="ahq cdq", filter={"kind": "b"}, limit=5),
        store.search((*ns, "x1"), query="ahq", limit=5),
        store.search((), query="ahq bfq", limit=8),
    ]
    return [[(i.key, round(i.score or 0.0, 6)) for i in hits] for hits in searches]


def _put_items(store, ns, n: int, seed: int = 1) -> dict[str, str]:
    rng = random.Random(seed)
    texts = {}
    for i in range(n):
        texts[f"k{i}"] = text = _text(rng) + (" ahq" if i % 3 == 0 else "")
        store.put((*ns, f"x{i % 4}"), f"k{i}", {"text": text, "kind": "ab"[i % 2]})
    return texts


def test_puts_defer_and_items_are_searchable_the_same_before_and_after_drain(
    pool, database, tenant, ns, indexed_setup
) -> None:
    store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
    _put_items(store, ns, 40)
    assert _backlog(database, tenant) == (0, 40)  # no HNSW work on the puts
    before = _answers(store, ns)
    assert all(before) and all(len(hits) >= 4 for hits in before)
    assert store.index_backlog() == 40
    assert _backlog(database, tenant) == (40, 0)
    assert _answers(store, ns) == before
    assert store.index_backlog() == 0


async def test_async_gathered_puts_are_searchable_at_once(
    database, tenant, ns, indexed_setup
) -> None:
    from psycopg_pool import AsyncConnectionPool

    from langgraph_alma.db.connect import connection_kwargs

    async with AsyncConnectionPool(
        database.url, min_size=1, max_size=2, kwargs=connection_kwargs(), open=False
    ) as p:
        store = AsyncAlmaStore(p, tenant_id=tenant, index=_index(afake_embed), exact_search_max=5)
        rng = random.Random(5)
        texts = [_text(rng) for _ in range(30)]
        await asyncio.gather(*(store.aput(ns, f"k{i}", {"text": t}) for i, t in enumerate(texts)))
        assert _backlog(database, tenant) == (0, 30)
        for i in (0, 7, 29):  # each item is the best hit of its own text, through the backlog
            assert (await store.asearch(ns, query=texts[i], limit=1))[0].key == f"k{i}"
        before = [(i.key, i.score) for i in await store.asearch(ns, query=texts[3], limit=10)]
        assert await store.aindex_backlog() == 30
        after = [(i.key, i.score) for i in await store.asearch(ns, query=texts[3], limit=10)]
        assert [k for k, _ in after] == [k for k, _ in before]
        assert [s for _, s in after] == pytest.approx([s for _, s in before])


def test_indexer_and_concurrent_puts_lose_and_double_nothing(
    pool, database, tenant, ns, indexed_setup
) -> None:
    """Writer threads overwrite keys while indexer threads drain: at the end every key
    has one vector row, of its last value, in the index, found by its own text."""
    store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
    last: dict[str, str] = {}
    stop = time.monotonic() + 4.0
    errors: list[BaseException] = []

    def writer(seed: int) -> None:  # each writer owns its keys: `last` is their last value
        rng = random.Random(seed)
        keys = [f"k{seed}-{i}" for i in range(10)]
        try:
            while time.monotonic() < stop:
                batch = {k: _text(rng) for k in rng.sample(keys, 4)}
                store.batch([PutOp(ns, k, {"text": t}) for k, t in batch.items()])
                last.update(batch)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    moved: list[int] = []

    def indexer() -> None:
        try:
            while time.monotonic() < stop:
                moved.append(store.index_backlog())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    threads += [threading.Thread(target=indexer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(moved) > 0
    store.index_backlog()
    assert _backlog(database, tenant) == (len(last), 0)
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT key, count(*), min(embedding::text) FROM alma_store_vectors"
            " WHERE tenant_id = %s GROUP BY key",
            (tenant,),
        ).fetchall()
    assert {r[0] for r in rows} == set(last)
    for key, n, vec in rows:
        assert n == 1
        want = np.array(fake_embed_one(last[key]), dtype=np.float32)
        assert np.allclose(np.array(eval(vec), dtype=np.float32), want, atol=1e-6)
    for key, text in last.items():  # through HNSW (exact_search_max=5): in the index
        assert store.search(ns, query=text, limit=1)[0].key == key


def test_backpressure_indexes_inline_past_the_bound(
    pool, database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKLOG_MAX", "10")
    store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
    rng = random.Random(2)
    for i in range(8):
        store.put(ns, f"a{i}", {"text": _text(rng)})
    assert _backlog(database, tenant) == (0, 8)
    store.batch([PutOp(ns, f"b{i}", {"text": _text(rng)}) for i in range(5)])  # 8 + 5 > 10
    assert _backlog(database, tenant) == (5, 8)
    # another store (another process's view: nothing remembered) counts and agrees
    other = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
    other.put(ns, "c0", {"text": _text(rng)})  # 8 + 1 <= 10: deferred
    other.batch([PutOp(ns, f"d{i}", {"text": _text(rng)}) for i in range(2)])  # 9 + 2 > 10
    assert _backlog(database, tenant) == (7, 9)
    store.put(ns, "e0", {"text": _text(rng)})  # its estimate (8) is stale by 1: 8 + 1 <= 10
    assert _backlog(database, tenant) == (7, 10)
    # its estimate (9) misses the other store's row until it counts again (`Backlogs.ttl`):
    # the bound holds within what other processes defer meanwhile
    store.put(ns, "e1", {"text": _text(rng)})
    assert _backlog(database, tenant) == (7, 11)
    store.put(ns, "e2", {"text": _text(rng)})  # at the bound on its estimate: inline
    assert _backlog(database, tenant) == (8, 11)
    assert store.index_backlog() == 11
    store.put(ns, "f0", {"text": _text(rng)})  # drained: deferred again
    assert _backlog(database, tenant) == (19, 1)


def test_small_tenant_stays_exact_until_it_grows(pool, database, tenant, ns, indexed_setup) -> None:
    store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=20)
    texts = _put_items(store, ns, 15)
    assert store.index_backlog() == 0  # 15 vectors <= 20: searched exactly, never indexed
    assert _backlog(database, tenant) == (0, 15)
    assert store.search(ns, query=texts["k4"], limit=1)[0].key == "k4"
    rng = random.Random(9)
    for i in range(10):
        store.put(ns, f"more{i}", {"text": _text(rng)})
    assert store.index_backlog() == 25  # 25 > 20: the whole tenant goes in
    assert _backlog(database, tenant) == (25, 0)


def test_indexer_acts_per_tenant(pool, database, ns, indexed_setup) -> None:
    a, b = f"ta-{ns[1]}", f"tb-{ns[1]}"
    server = AlmaStore(pool, index=_index(), exact_search_max=5)  # many tenants, as a server
    store_a, store_b = server.for_tenant(a), server.for_tenant(b)
    _put_items(store_a, ns, 12)
    _put_items(store_b, ns, 9)
    assert store_a.index_backlog() == 12  # the call's tenant only
    assert _backlog(database, a) == (12, 0)
    assert _backlog(database, b) == (0, 9)
    # tenant a's store sees none of b's items, indexed or not
    assert all(i.key.startswith("k") for i in store_a.search(ns, query="ahq", limit=50))
    assert len(store_a.search(ns, query="ahq", limit=50)) == 12
    assert store_b.index_backlog() == 9
    assert _backlog(database, b) == (9, 0)


def test_background_indexer_drains_every_tenant_and_stops_on_close(
    database, ns, indexed_setup, monkeypatch
) -> None:
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "true")
    monkeypatch.setenv("ALMA_STORE_INDEX_INTERVAL_SECONDS", "0.05")
    a, b = f"ta-{ns[1]}", f"tb-{ns[1]}"
    with AlmaStore.from_conn_string(database.url, index=_index(), exact_search_max=5) as server:
        _put_items(server.for_tenant(a), ns, 12)
        _put_items(server.for_tenant(b), ns, 9)
        deadline = time.monotonic() + 20
        while (_backlog(database, a), _backlog(database, b)) != ((12, 0), (9, 0)):
            assert time.monotonic() < deadline, (_backlog(database, a), _backlog(database, b))
            time.sleep(0.05)
        thread = server._indexing.sweeper.thread
        assert thread is not None and thread.is_alive() and thread.name == "alma-store-indexer"
        server.for_tenant(a).put(ns, "late", {"text": "ahq late"})  # keeps it busy at close
    assert not thread.is_alive()  # stopped (and joined) by the store's exit


async def test_async_background_indexer_stops_on_close(
    database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "true")
    monkeypatch.setenv("ALMA_STORE_INDEX_INTERVAL_SECONDS", "0.05")
    async with AsyncAlmaStore.from_conn_string(
        database.url, index=_index(afake_embed), tenant_id=tenant, exact_search_max=5
    ) as store:
        rng = random.Random(3)
        for i in range(10):
            await store.aput(ns, f"k{i}", {"text": _text(rng)})
        deadline = time.monotonic() + 20
        while _backlog(database, tenant) != (10, 0):
            assert time.monotonic() < deadline, _backlog(database, tenant)
            await asyncio.sleep(0.05)
        task = store._indexing.sweeper.task
        assert task is not None and not task.done()
    assert task.done() and not task.cancelled()


def _recall(store, ns, texts: dict[str, str], queries: list[str]) -> float:
    """Recall@10 of the store's search against exact cosine search (a hit tied with the
    exact 10th best counts)."""
    keys = list(texts)
    vecs = np.array(fake_embed([texts[k] for k in keys]), dtype=np.float32)
    hits = 0
    for q in queries:
        sims = vecs @ np.array(fake_embed_one(q), dtype=np.float32)
        kth = float(np.sort(sims)[::-1][9])
        found = [i.key for i in store.search(ns, query=q, limit=10)]
        hits += sum(1 for k in found if float(sims[keys.index(k)]) >= kth - 1e-6)
    return hits / (10 * len(queries))


def test_recall_with_a_half_drained_backlog_is_no_worse(
    pool, database, ns, indexed_setup, monkeypatch
) -> None:
    """The same 400 items in two tenants: one fully indexed (as every put did before),
    one half drained; recall@10 of the vector ranking against exact search."""
    monkeypatch.setenv("ALMA_STORE_INDEX_CHUNK", "50")
    rng = random.Random(4)
    texts = {f"k{i}": _text(rng, 4) for i in range(400)}
    queries = [" ".join(rng.sample(VOCAB, 3)) for _ in range(40)]
    recalls = {}
    for name, share in (("full", None), ("half", 200)):
        tenant = f"{name}-{ns[1]}"
        store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
        store.batch([PutOp(ns, k, {"text": t}) for k, t in texts.items()])
        store.index_backlog(max_rows=share)
        assert _backlog(database, tenant) == ((400, 0) if share is None else (200, 200))
        recalls[name] = _recall(store, ns, texts, queries)
    assert recalls["half"] >= recalls["full"], recalls


def test_migration_0013_keeps_indexed_rows_and_drops_the_unbounded_index(
    fresh_database, tenant, ns, monkeypatch
) -> None:
    """A database as it was before 0013 (vectors in an HNSW index `WHERE dims = N`, which
    every new row would enter): the migration marks the rows indexed, drops that index,
    and `setup()` builds it again with the `indexed` predicate (at once: build bound 0);
    new rows join the backlog."""
    from langgraph_alma.migrations import migrate

    monkeypatch.setenv("ALMA_STORE_ANN_BUILD_MIN", "0")

    db, dims = fresh_database, 8
    with psycopg.connect(db.admin_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE alma_store_vectors DROP COLUMN indexed")
        conn.execute("DELETE FROM alma_migrations WHERE version = 13")
        conn.execute(
            "CREATE INDEX alma_store_vectors_hnsw_8 ON alma_store_vectors USING hnsw"
            " ((embedding::vector(8)) vector_cosine_ops) WHERE dims = 8"
        )
        conn.execute(
            "INSERT INTO alma_store (tenant_id, ns_path, key, value, search_text)"
            " VALUES (%s, %s, 'old', '{\"text\": \"old\"}', 'old')",
            (tenant, ".".join(ns)),
        )
        conn.execute(
            "INSERT INTO alma_store_vectors (tenant_id, ns_path, key, field, dims, embedding)"
            " VALUES (%s, %s, 'old', 'text', 8, '[1,0,0,0,0,0,0,0]')",
            (tenant, ".".join(ns)),
        )
        assert migrate(conn) == [13]
        assert conn.execute(
            "SELECT indexed FROM alma_store_vectors WHERE tenant_id = %s", (tenant,)
        ).fetchall() == [(True,)]
        hnsw = "SELECT indexdef FROM pg_indexes WHERE indexname = 'alma_store_vectors_hnsw_8'"
        assert conn.execute(hnsw).fetchall() == []

    def embed(texts: list[str]) -> list[list[float]]:
        return [[1.0, 0.5, 0, 0, 0, 0, 0, 0] for _ in texts]

    index = {"dims": dims, "embed": embed, "fields": ["text"]}
    with AlmaStore.from_conn_string(
        db.url, index=index, tenant_id=tenant, admin_url=db.admin_url, exact_search_max=0
    ) as store:
        store.setup()
        store.put(ns, "new", {"text": "new"})
        with psycopg.connect(db.admin_url) as conn:
            (definition,) = conn.execute(hnsw).fetchone() or ("",)
        assert definition.endswith("WHERE ((dims = 8) AND indexed)")
        assert _backlog(db, tenant) == (1, 1)
        # past the exact bound (0): the old row through HNSW, the new one from the backlog
        assert {i.key for i in store.search(ns, query="x zzz")} == {"old", "new"}


async def test_a_graph_finds_what_it_just_wrote_and_the_indexer_catches_up(
    database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    """As a LangGraph app uses it: one node writes memories through the injected store,
    the next searches them at once (from the backlog); the background indexer then moves
    them into HNSW while the store is open."""
    from typing import TypedDict

    from langgraph.config import get_store
    from langgraph.graph import END, START, StateGraph

    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "true")
    monkeypatch.setenv("ALMA_STORE_INDEX_INTERVAL_SECONDS", "0.05")
    rng = random.Random(8)
    texts = [_text(rng) for _ in range(25)]

    class State(TypedDict, total=False):
        found: list[str]

    async def remember(state: State) -> State:
        store = get_store()
        await asyncio.gather(*(store.aput(ns, f"m{i}", {"text": t}) for i, t in enumerate(texts)))
        return {}

    async def recall(state: State) -> State:
        hits = await get_store().asearch(ns, query=texts[17], limit=3)
        return {"found": [h.key for h in hits]}

    builder = StateGraph(State)
    builder.add_node("remember", remember)
    builder.add_node("recall", recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    async with AsyncAlmaStore.from_conn_string(
        database.url, index=_index(afake_embed), tenant_id=tenant, exact_search_max=5
    ) as store:
        graph = builder.compile(store=store)
        out = await graph.ainvoke({})
        assert out["found"][0] == "m17"
        deadline = time.monotonic() + 20
        while _backlog(database, tenant) != (25, 0):
            assert time.monotonic() < deadline, _backlog(database, tenant)
            await asyncio.sleep(0.05)
        assert (await store.asearch(ns, query=texts[17], limit=1))[0].key == "m17"


def test_a_privileged_store_drains_every_tenant(database, ns, indexed_setup) -> None:
    a, b = f"ta-{ns[1]}", f"tb-{ns[1]}"
    with psycopg.connect(database.url, autocommit=True) as conn:
        app = AlmaStore(conn, index=_index(), exact_search_max=5)
        _put_items(app.for_tenant(a), ns, 7)
        _put_items(app.for_tenant(b), ns, 6)
    with AlmaStore.from_conn_string(
        database.url,
        privileged=True,
        admin_url=database.admin_url,
        index=_index(),
        exact_search_max=5,
    ) as admin:
        assert admin.index_backlog() >= 13  # other tests' tenants may have backlogs too
    assert _backlog(database, a) == (7, 0)
    assert _backlog(database, b) == (6, 0)


def test_idle_indexer_ends_and_the_next_deferred_put_starts_it_again(
    pool, database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    """An idle store holds no thread: the indexer ends after its idle rounds, and a put
    that defers rows starts a new one, which indexes them."""
    monkeypatch.setenv("ALMA_STORE_INDEX_BACKGROUND", "true")
    monkeypatch.setenv("ALMA_STORE_INDEX_INTERVAL_SECONDS", "0.02")
    store = AlmaStore(pool, tenant_id=tenant, index=_index(), exact_search_max=5)
    _put_items(store, ns, 8)
    first = store._indexing.sweeper.thread
    assert first is not None
    first.join(timeout=20)  # drains, then ends after its idle rounds
    assert not first.is_alive()
    assert _backlog(database, tenant) == (8, 0)
    store.put(ns, "again", {"text": "ahq again"})
    second = store._indexing.sweeper.thread
    assert second is not None and second is not first
    second.join(timeout=20)
    assert _backlog(database, tenant) == (9, 0)


def test_chunk_sizer_fits_its_time_and_starts_small() -> None:
    from langgraph_alma.store._backlog import ChunkSizer

    sizer = ChunkSizer(seconds=0.05, most=200)
    assert sizer.rows() == ChunkSizer.PROBE_ROWS  # nothing measured yet: a small probe
    sizer.note(8, 0.04)  # 5 ms a row: 10 rows fit 50 ms
    assert sizer.rows() == 10
    assert sizer.rows(limit=3) == 3
    sizer.note(10, 0.001)  # faster now: the estimate moves halfway
    assert 10 < sizer.rows() <= 200
    sizer.note(0, 5.0)  # an empty chunk says nothing about a row
    assert 10 < sizer.rows() <= 200
    for _ in range(20):
        sizer.note(100, 0.0001)
    assert sizer.rows() == 200  # never past `most`
    for _ in range(20):
        sizer.note(1, 1.0)
    assert sizer.rows() == 1  # never below one row


def _rows_per_transaction(database, tenant: str) -> list[int]:
    """How many indexed rows each transaction moved (a chunk is one transaction: the rows
    it updated carry its xid as `xmin`), largest first."""
    with psycopg.connect(database.admin_url) as conn:
        rows = conn.execute(
            "SELECT count(*) FROM alma_store_vectors WHERE tenant_id = %s AND indexed"
            " GROUP BY xmin::text ORDER BY count(*) DESC",
            (tenant,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def test_background_chunks_on_one_connection_leave_it_to_callers_between_them(
    database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    """On a store's only connection, the background indexer moves chunks that fit
    `store_index_chunk_seconds` (here: one row each, after a probe) and leaves the
    connection to callers between them, so a caller waits for one chunk, never for the
    whole backlog (with 200-row chunks and no pause, a put on one connection waited up to
    0.9 s at 384 dims). `index_backlog()` still moves full chunks."""
    monkeypatch.setenv("ALMA_STORE_INDEX_CHUNK_SECONDS", "0.000001")
    with psycopg.connect(database.url, autocommit=True) as conn:
        store = AlmaStore(conn, index=_index(), tenant_id=tenant, exact_search_max=5)
        _put_items(store, ns, 150)
        assert _backlog(database, tenant) == (0, 150)
        store.start_indexer(interval_seconds=0.01)
        try:
            deadline = time.monotonic() + 20
            while _backlog(database, tenant)[0] == 0:
                assert time.monotonic() < deadline
                time.sleep(0.002)
            assert store.get((*ns, "x1"), "k1") is not None  # goes between two chunks
            assert _backlog(database, tenant)[1] > 0  # ...long before the drain ends
            while _backlog(database, tenant) != (150, 0):
                assert time.monotonic() < deadline, _backlog(database, tenant)
                time.sleep(0.01)
        finally:
            assert store.stop_indexer(timeout=10)
    chunks = _rows_per_transaction(database, tenant)
    assert sum(chunks) == 150
    assert chunks[0] <= 8 and chunks.count(1) >= 140, chunks  # the probe, then single rows

    other = f"{tenant}-x"
    with psycopg.connect(database.url, autocommit=True) as conn:
        store = AlmaStore(conn, index=_index(), tenant_id=other, exact_search_max=5)
        _put_items(store, ns, 150)
        assert store.index_backlog() == 150
    assert _rows_per_transaction(database, other) == [150]  # one chunk (up to 200 rows)


def test_on_one_connection_the_indexer_waits_for_callers_to_pause(
    database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    """A caller who keeps the store's only connection busy is never made to wait for a
    chunk: the background indexer starts one only when the connection has been free for
    `store_index_chunk_seconds`, and drains the backlog once the caller pauses."""
    monkeypatch.setenv("ALMA_STORE_INDEX_CHUNK_SECONDS", "0.2")
    with psycopg.connect(database.url, autocommit=True) as conn:
        store = AlmaStore(conn, index=_index(), tenant_id=tenant, exact_search_max=5)
        _put_items(store, ns, 30)
        store.start_indexer(interval_seconds=0.01)
        try:
            busy_until = time.monotonic() + 1.0
            while time.monotonic() < busy_until:  # back to back: never 0.2 s free
                assert store.get((*ns, "x1"), "k1") is not None
            assert _backlog(database, tenant) == (0, 30)
            deadline = time.monotonic() + 20
            while _backlog(database, tenant) != (30, 0):  # the caller paused
                assert time.monotonic() < deadline, _backlog(database, tenant)
                time.sleep(0.05)
        finally:
            assert store.stop_indexer(timeout=10)


async def test_async_on_one_connection_the_indexer_waits_for_callers_to_pause(
    database, tenant, ns, indexed_setup, monkeypatch
) -> None:
    """The async store on one connection: the same (its indexer is a task on the loop)."""
    monkeypatch.setenv("ALMA_STORE_INDEX_CHUNK_SECONDS", "0.2")
    async with await psycopg.AsyncConnection.connect(database.url, autocommit=True) as conn:
        store = AsyncAlmaStore(
            conn, index=_index(afake_embed), tenant_id=tenant, exact_search_max=5
        )
        rng = random.Random(5)
        for i in range(30):
            await store.aput((*ns, f"x{i % 4}"), f"k{i}", {"text": _text(rng)})
        await store.start_indexer(interval_seconds=0.01)
        try:
            busy_until = time.monotonic() + 1.0
            while time.monotonic() < busy_until:
                assert await store.aget((*ns, "x1"), "k1") is not None
            assert _backlog(database, tenant) == (0, 30)
            deadline = time.monotonic() + 20
            while _backlog(database, tenant) != (30, 0):
                assert time.monotonic() < deadline, _backlog(database, tenant)
                await asyncio.sleep(0.05)
        finally:
            assert await store.stop_indexer(timeout=10)


def test_a_drain_counts_a_tenant_once_not_per_chunk(pool, database, tenant, ns, indexed_setup):
    """A chunk counts the tenant's vectors (up to the exact bound) unless the drain's
    last chunk found it large: told so (`large`), it moves rows without counting, which
    a small tenant shows (counted, it keeps its rows out of the index)."""
    store = AlmaStore(pool, index=_index(), tenant_id=tenant, exact_search_max=50)
    _put_items(store, ns, 12)
    assert store.run(store._core.index_chunk(tenant, 5), "indexing") == (0, False)
    assert _backlog(database, tenant) == (0, 12)
    moved, _ = store.run(store._core.index_chunk(tenant, 5, large=True), "indexing")
    assert moved == 5 and _backlog(database, tenant) == (5, 7)


def test_chunk_sizer_takes_a_slower_row_at_once_and_forgets_on_reset() -> None:
    """Moving a row costs a flag flip before the HNSW index is built and an HNSW insert
    after: a chunk sized on the first must not hold the connection for long (measured:
    a put waited 0.3 s behind a 200-row chunk so sized, on one connection)."""
    from langgraph_alma.store._backlog import ChunkSizer

    sizer = ChunkSizer(seconds=0.02, most=200)
    for _ in range(5):
        sizer.note(200, 0.004)  # 20 µs a row: chunks as large as allowed
    assert sizer.rows() == 200
    sizer.note(200, 0.3)  # 1.5 ms a row now: the next chunk fits 20 ms at once
    assert sizer.rows() == 13
    sizer.reset()
    assert sizer.rows() == ChunkSizer.PROBE_ROWS
